/* app-replay: a recording, scriptable FastCGI application for
 * tests/test-apache-replay.c, the counterpart of the application that
 * recorded Apache's behaviour. Hand-written (no libfcgi): it logs every
 * record it receives as it came, and answers with the bytes a script asks
 * for.
 *
 * Usage: app-replay --script FILE --log FILE
 *
 * It accepts on fd 0 (see tests/harness.h) and forks a child per connection;
 * connections are numbered from 1 in accept order. Requests on a connection
 * are served one after the other: read up to the empty STDIN record, logged,
 * answered. Without FCGI_KEEP_CONN the application closes the connection
 * after END_REQUEST.
 *
 * The log gets one block per request, appended in one write (O_APPEND):
 *   fcgi CONN INDEX FLAGS ID ROLE     INDEX counts requests on the connection
 *   rec TYPE ID CONTENT PADDING       every record, in order
 *   param NAME VALUE                  the decoded params, in order
 *   params-straddling N               pairs whose bytes span two PARAMS records
 *   params-nonminimal N               lengths < 128 sent in 4 bytes
 *   stdin LEN FNV1A64 REC,REC,...|-   as in the vectors (tests/apps/replay-vec.h
 *   end                               escapes NAME and VALUE)
 * A connection that ends in the middle of a request logs `incomplete`
 * before `end`.
 *
 * The script FILE is read when a request has been read, so the test may
 * rewrite it between requests. Lines (the vector's `script-*` lines):
 *   script-delay MS          wait before answering
 *   script-stdout TEXT       STDOUT records of at most 65535 bytes
 *   script-chunk TEXT        one STDOUT record
 *   script-no-end            close the connection instead of ending the request
 *   script-no-terminator     no empty STDOUT record
 * An empty or missing script answers "Content-Type: text/plain", "ok".
 * After the answer: the empty STDOUT record (unless no-terminator), then
 * END_REQUEST 0,0 (unless no-end, which closes the connection). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "replay-vec.h"

#define T_BEGIN 1
#define T_END 3
#define T_PARAMS 4
#define T_STDIN 5
#define T_STDOUT 6

static const char *script_path, *log_path;

static const char *type_name(unsigned t)
{
    static const char *const names[] = {"?",      "BEGIN_REQUEST", "ABORT_REQUEST",    "END_REQUEST",
                                        "PARAMS", "STDIN",         "STDOUT",           "STDERR",
                                        "DATA",   "GET_VALUES",    "GET_VALUES_RESULT"};
    return t < sizeof names / sizeof names[0] ? names[t] : "UNKNOWN";
}

static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static void write_all(int fd, const void *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, (const char *)buf + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(0); /* the gateway went away */
        off += (size_t)w;
    }
}

static void emit(int fd, unsigned type, unsigned id, const void *data, size_t len)
{
    unsigned char h[8] = {1,
                          (unsigned char)type,
                          (unsigned char)(id >> 8),
                          (unsigned char)id,
                          (unsigned char)(len >> 8),
                          (unsigned char)len,
                          0,
                          0};
    write_all(fd, h, 8);
    if (len)
        write_all(fd, data, len);
}

/* ---- one request, as received ---- */

struct req {
    unsigned id, flags, role;
    struct rv_buf log;
    struct rv_buf params;        /* PARAMS content, concatenated */
    size_t bounds[512], nbounds; /* record ends inside params */
    size_t stdin_len;
    uint64_t stdin_fnv;
    struct rv_buf stdin_recs;
};

static void log_param_len(const unsigned char *p, size_t n, size_t *i, size_t *len, int *nonminimal)
{
    if (*i >= n) {
        *len = (size_t)-1;
        return;
    }
    if (p[*i] < 128) {
        *len = p[(*i)++];
        return;
    }
    if (*i + 4 > n) {
        *len = (size_t)-1;
        return;
    }
    *len = ((size_t)(p[*i] & 0x7f) << 24) | ((size_t)p[*i + 1] << 16) | ((size_t)p[*i + 2] << 8) | p[*i + 3];
    if (*len < 128)
        (*nonminimal)++;
    *i += 4;
}

/* Does a record end strictly inside [from, to)? */
static int straddles(const struct req *r, size_t from, size_t to)
{
    for (size_t k = 0; k < r->nbounds; k++)
        if (r->bounds[k] > from && r->bounds[k] < to)
            return 1;
    return 0;
}

static void log_params(struct req *r)
{
    const unsigned char *p = (const unsigned char *)r->params.p;
    size_t n = r->params.len, i = 0;
    int nonminimal = 0, straddling = 0;
    while (i < n) {
        size_t start = i, nl, vl;
        log_param_len(p, n, &i, &nl, &nonminimal);
        log_param_len(p, n, &i, &vl, &nonminimal);
        if (nl == (size_t)-1 || vl == (size_t)-1 || nl > n - i || vl > n - i - nl) {
            rv_adds(&r->log, "params-malformed\n");
            return;
        }
        rv_adds(&r->log, "param ");
        rv_escape(&r->log, p + i, nl, 0);
        rv_adds(&r->log, " ");
        rv_escape(&r->log, p + i + nl, vl, 1);
        rv_adds(&r->log, "\n");
        i += nl + vl;
        straddling += straddles(r, start, i);
    }
    char line[80];
    snprintf(line, sizeof line, "params-straddling %d\nparams-nonminimal %d\n", straddling, nonminimal);
    rv_adds(&r->log, line);
}

static void log_flush(struct req *r, int incomplete)
{
    char line[128];
    snprintf(line, sizeof line, "stdin %zu %016llx %s\n%send\n", r->stdin_len, (unsigned long long)r->stdin_fnv,
             r->stdin_recs.len ? r->stdin_recs.p : "-", incomplete ? "incomplete\n" : "");
    rv_adds(&r->log, line);
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        write_all(fd, r->log.p, r->log.len);
        close(fd);
    }
}

/* Read one request through its empty STDIN record. Returns 0, -1 on EOF
 * before a BEGIN_REQUEST, -2 on EOF in the middle (logged). */
static int read_request(int fd, struct req *r, unsigned conn, unsigned index)
{
    int begun = 0, params_done = 0;
    for (;;) {
        unsigned char h[8], body[65535 + 255];
        if (read_full(fd, h, 8) != 0)
            break;
        unsigned type = h[1], id = (unsigned)h[2] << 8 | h[3];
        size_t clen = (size_t)h[4] << 8 | h[5], pad = h[6];
        if (read_full(fd, body, clen + pad) != 0)
            break;
        char line[160];
        if (type == T_BEGIN && clen >= 8 && !begun) {
            begun = 1;
            r->id = id;
            r->role = (unsigned)body[0] << 8 | body[1];
            r->flags = body[2];
            r->stdin_fnv = APP_FNV1A64_INIT;
            snprintf(line, sizeof line, "fcgi %u %u %u %u %u\n", conn, index, r->flags, r->id, r->role);
            rv_adds(&r->log, line);
        }
        snprintf(line, sizeof line, "rec %s %u %zu %zu\n", type_name(type), id, clen, pad);
        rv_adds(&r->log, line);
        if (type == T_PARAMS && !params_done) {
            if (clen == 0) {
                params_done = 1;
                log_params(r);
            } else {
                rv_add(&r->params, body, clen);
                if (r->nbounds < sizeof r->bounds / sizeof r->bounds[0])
                    r->bounds[r->nbounds++] = r->params.len;
            }
        } else if (type == T_STDIN) {
            if (clen == 0)
                return 0;
            snprintf(line, sizeof line, "%s%zu", r->stdin_recs.len ? "," : "", clen);
            rv_adds(&r->stdin_recs, line);
            r->stdin_len += clen;
            r->stdin_fnv = app_fnv1a64(r->stdin_fnv, body, clen);
        }
    }
    if (!begun)
        return -1;
    log_flush(r, 1);
    return -2;
}

/* ---- the answer ---- */

struct script {
    unsigned delay_ms;
    int no_end, no_terminator;
    struct rv_buf out; /* STDOUT record contents, each behind a size_t length */
};

static void script_record(struct script *s, const char *text, size_t n, size_t max)
{
    struct rv_buf data = {0};
    if (rv_unescape(text, n, &data) != 0)
        fprintf(stderr, "app-replay: bad escape in the script\n");
    size_t step = max ? max : data.len; /* max 0: one record, whatever its size */
    for (size_t off = 0; off < data.len; off += step) {
        size_t len = data.len - off < step ? data.len - off : step;
        rv_add(&s->out, &len, sizeof len);
        rv_add(&s->out, data.p + off, len);
    }
    rv_free(&data);
}

static void script_load(struct script *s)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(script_path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int any = 0;
    while (f && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        any = 1;
        if (strncmp(line, "script-delay ", 13) == 0)
            s->delay_ms = (unsigned)atoi(line + 13);
        else if (strncmp(line, "script-stdout ", 14) == 0)
            script_record(s, line + 14, (size_t)n - 14, 65535);
        else if (strncmp(line, "script-chunk ", 13) == 0)
            script_record(s, line + 13, (size_t)n - 13, 0);
        else if (strcmp(line, "script-no-end") == 0)
            s->no_end = 1;
        else if (strcmp(line, "script-no-terminator") == 0)
            s->no_terminator = 1;
    }
    free(line);
    if (f)
        fclose(f);
    if (!any) {
        static const char ok[] = "Content-Type: text/plain\\r\\n\\r\\nok";
        script_record(s, ok, sizeof ok - 1, 65535);
    }
}

static void answer(int fd, const struct req *r)
{
    struct script s;
    script_load(&s);
    if (s.delay_ms) {
        struct timespec ts = {s.delay_ms / 1000, (long)(s.delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    for (size_t off = 0; off < s.out.len;) {
        size_t len;
        memcpy(&len, s.out.p + off, sizeof len);
        off += sizeof len;
        if (len)
            emit(fd, T_STDOUT, r->id, s.out.p + off, len);
        off += len;
    }
    rv_free(&s.out);
    if (s.no_end)
        _exit(0);
    if (!s.no_terminator)
        emit(fd, T_STDOUT, r->id, NULL, 0);
    unsigned char end[8] = {0};
    emit(fd, T_END, r->id, end, 8);
}

static void serve(int fd, unsigned conn)
{
    for (unsigned index = 1;; index++) {
        struct req r;
        memset(&r, 0, sizeof r);
        int rc = read_request(fd, &r, conn, index);
        if (rc == 0) {
            log_flush(&r, 0);
            answer(fd, &r);
        }
        rv_free(&r.log);
        rv_free(&r.params);
        rv_free(&r.stdin_recs);
        if (rc != 0 || !(r.flags & 1))
            break;
    }
    close(fd);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--script") == 0)
            script_path = argv[i + 1];
        else if (strcmp(argv[i], "--log") == 0)
            log_path = argv[i + 1];
    }
    if (script_path == NULL || log_path == NULL) {
        fprintf(stderr, "usage: app-replay --script FILE --log FILE\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
    for (unsigned conn = 1;; conn++) {
        int fd = accept(0, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return 1;
        }
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            close(0);
            serve(fd, conn);
            _exit(0);
        }
        close(fd);
    }
}

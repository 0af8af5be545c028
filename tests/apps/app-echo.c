/* app-echo: a FastCGI test application built on libfcgi (fcgiapp.h), the
 * reference peer the integration tests talk to. It accepts on fd 0
 * (FCGI_LISTENSOCK_FILENO), the way spawn-fcgi and tests/harness.c start it.
 *
 * Usage: app-echo [-t THREADS]   (default 1 thread; each thread runs its own
 *                                 FCGX_Accept_r loop on the shared listener)
 *
 * Roles
 *   RESPONDER   the response described below.
 *   AUTHORIZER  200 with "Variable-AUTH_USER: alice" when HTTP_AUTHORIZATION is
 *               present, else 401 with WWW-Authenticate; body as RESPONDER.
 *   FILTER      reads stdin, then the FCGI_DATA stream (FCGX_StartFilterData);
 *               body = the DATA bytes; headers X-Data-Length and X-Data-Last-Mod
 *               echo the FCGI_DATA_LENGTH / FCGI_DATA_LAST_MOD params, and
 *               X-Data-Bytes / X-Stdin-Bytes give the byte counts received.
 *
 * Default response (all roles, unless changed by the keys below):
 *   Status: 200 OK\r\n
 *   Content-Type: text/plain\r\n
 *   X-Conn-Count: <connections accepted by this process so far>\r\n
 *   X-Conn-Id: <ordinal of the connection this request came on, from 1>\r\n
 *   X-Req-On-Conn: <ordinal of this request on its connection, from 1>\r\n
 *   X-Pid: <process id>\r\n
 *   X-Fcgi-Role: RESPONDER | AUTHORIZER | FILTER\r\n
 *   \r\n
 *   NAME=VALUE\n           one line per param, in the order received
 *   STDIN-BYTES=<n>\n
 *   STDIN-FNV1A64=<16 hex digits>\n
 * libfcgi inserts FCGI_ROLE=<role> as the first entry of envp itself; that
 * entry is not listed (the client did not send it), so the body equals
 * app-mpx's for the same request.
 *
 * QUERY_STRING keys (percent-decoded; '+' is a space):
 *   echo=1          body is exactly the stdin bytes
 *   size=N          body is N bytes of app_pattern_byte(0..N-1)
 *   stderr=TEXT     write "TEXT\n" and "second stderr line\n" to FCGI_STDERR
 *   stderrsize=N    write N pattern bytes to FCGI_STDERR
 *   app_status=N    appStatus of END_REQUEST (FCGX_SetExitStatus)
 *   early=1         write and flush the whole response before reading stdin,
 *                   then drain stdin; END_REQUEST follows the drain. The body
 *                   lists the params and "STDIN-BYTES=unread\n".
 *   early=end       as early=1 but also close STDOUT/STDERR (END_REQUEST sent)
 *                   before stdin is read; libfcgi then skips the unread stdin.
 *   stall_ms=N      sleep N ms before reading stdin
 *   sleep_ms=N      sleep N ms after reading stdin, before answering
 *   pause_ms=N      flush the header block, sleep N ms, then send the body
 *   status=NNN      "Status: NNN <reason>"
 *   header=Name:Value  extra response header line (repeatable, in order)
 *   location=URL    "Location: URL"; without status= the Status line is left
 *                   out (a CGI local/client redirect)
 *   close=1         send the headers and the first half of the body, flush,
 *                   then shutdown(SHUT_RDWR) the connection: the client sees
 *                   EOF and no END_REQUEST; the process goes on serving.
 *   close=exit      the same, but the process exits (_exit(0)).
 *   noheaders=1     body without the CGI header block
 *   lf=1            header lines end in "\n" instead of "\r\n"
 *   chunk=N         write the body N bytes at a time with FCGX_FFlush after
 *                   each (many small STDOUT records)
 *
 * Counting connections: libfcgi hides accept(). After FCGX_Accept_r returns,
 * the request's connection is identified by (ipcFd, st_dev, st_ino of
 * fstat(ipcFd)): every accepted socket gets a new sockfs inode, so a changed
 * identity means libfcgi accepted a new connection even when the kernel reused
 * the fd number. Connections that carried no request are not counted.
 *
 * GET_VALUES: libfcgi handles management records inside its own input code,
 * and a GET_VALUES sent alone on a new connection gets no answer (observed:
 * none within 2 s). Tests that need GET_VALUES use app-mpx or PHP-FPM.
 *
 * SIGTERM ends the process at once (libfcgi's graceful SIGTERM handler is
 * replaced by the default action), also in the middle of a request.
 *
 * libfcgi behaviour worth knowing: on a connection without FCGI_KEEP_CONN the
 * app half-closes and then reads until the client closes or 2 s pass, so a
 * client must close after END_REQUEST; on a unix socket libfcgi drops an
 * accepted connection that sends nothing for 2 s. */
#include <errno.h>
#include <fastcgi.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app-common.h"

struct dbuf {
    char *p;
    size_t len, cap;
};

struct worker {
    FCGX_Request req;
    pthread_t thread;
    int last_fd;
    dev_t last_dev;
    ino_t last_ino;
    unsigned long conn_id;
    unsigned long req_on_conn;
};

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long conn_count;

static void die_oom(void)
{
    fputs("app-echo: out of memory\n", stderr);
    _exit(3);
}

static void dbuf_add(struct dbuf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL)
            die_oom();
        b->p = np;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void dbuf_str(struct dbuf *b, const char *s)
{
    dbuf_add(b, s, strlen(s));
}

static void dbuf_fmt(struct dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dbuf_fmt(struct dbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        dbuf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void sleep_ms(long long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Read a stream to EOF, counting and hashing; keep the bytes when keep != NULL. */
static void read_stream(FCGX_Stream *in, struct dbuf *keep, uint64_t *count, uint64_t *hash)
{
    char buf[16384];
    int n;
    *count = 0;
    *hash = APP_FNV1A64_INIT;
    while ((n = FCGX_GetStr(buf, (int)sizeof(buf), in)) > 0) {
        *count += (uint64_t)n;
        *hash = app_fnv1a64(*hash, buf, (size_t)n);
        if (keep != NULL)
            dbuf_add(keep, buf, (size_t)n);
    }
}

static void list_params(struct dbuf *body, char **envp)
{
    for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
        if (i == 0 && strncmp(envp[i], "FCGI_ROLE=", 10) == 0)
            continue; /* added by libfcgi, not sent by the client */
        dbuf_str(body, envp[i]);
        dbuf_add(body, "\n", 1);
    }
}

static void note_connection(struct worker *w)
{
    struct stat st;
    int fd = w->req.ipcFd;
    if (fstat(fd, &st) != 0)
        memset(&st, 0, sizeof(st));
    if (w->conn_id == 0 || fd != w->last_fd || st.st_dev != w->last_dev ||
        st.st_ino != w->last_ino) {
        pthread_mutex_lock(&count_lock);
        w->conn_id = ++conn_count;
        pthread_mutex_unlock(&count_lock);
        w->last_fd = fd;
        w->last_dev = st.st_dev;
        w->last_ino = st.st_ino;
        w->req_on_conn = 0;
    }
    w->req_on_conn++;
}

static void put_all(FCGX_Stream *out, const char *p, size_t n, size_t chunk)
{
    while (n > 0) {
        size_t k = n;
        if (chunk > 0 && k > chunk)
            k = chunk;
        if (k > 1u << 30)
            k = 1u << 30;
        if (FCGX_PutStr(p, (int)k, out) < 0)
            return;
        if (chunk > 0)
            FCGX_FFlush(out);
        p += k;
        n -= k;
    }
}

static void serve(struct worker *w)
{
    FCGX_Request *r = &w->req;
    const char *qs = FCGX_GetParam("QUERY_STRING", r->envp);
    const char *eol = app_query_num(qs, "lf", 0) ? "\n" : "\r\n";
    char val[4096];
    struct dbuf head = {0}, body = {0}, keep = {0};
    uint64_t in_count = 0, in_hash = APP_FNV1A64_INIT, data_count = 0, data_hash = 0;
    const char *role_name = r->role == FCGI_AUTHORIZER ? "AUTHORIZER"
                            : r->role == FCGI_FILTER   ? "FILTER"
                                                       : "RESPONDER";
    char early[16] = "";
    int stdin_read = 0;

    note_connection(w);
    app_query_get(qs, "early", 0, early, sizeof(early));
    sleep_ms(app_query_num(qs, "stall_ms", 0));

    int echo = app_query_num(qs, "echo", 0) != 0;
    if (early[0] == '\0') {
        read_stream(r->in, echo ? &keep : NULL, &in_count, &in_hash);
        stdin_read = 1;
    }

    /* Body. */
    long long size = app_query_num(qs, "size", -1);
    if (r->role == FCGI_FILTER && stdin_read) {
        if (FCGX_StartFilterData(r->in) == 0)
            read_stream(r->in, &body, &data_count, &data_hash);
    } else if (echo) {
        body = keep;
        memset(&keep, 0, sizeof(keep));
    } else if (size >= 0) {
        for (long long i = 0; i < size; i++) {
            unsigned char c = app_pattern_byte((uint64_t)i);
            dbuf_add(&body, &c, 1);
        }
    } else {
        list_params(&body, r->envp);
        if (stdin_read) {
            dbuf_fmt(&body, "STDIN-BYTES=%llu\n", (unsigned long long)in_count);
            dbuf_fmt(&body, "STDIN-FNV1A64=%016llx\n", (unsigned long long)in_hash);
        } else {
            dbuf_str(&body, "STDIN-BYTES=unread\n");
        }
    }

    if (stdin_read)
        sleep_ms(app_query_num(qs, "sleep_ms", 0));

    /* STDERR. */
    if (app_query_get(qs, "stderr", 0, val, sizeof(val))) {
        FCGX_FPrintF(r->err, "%s\n", val);
        FCGX_PutS("second stderr line\n", r->err);
        FCGX_FFlush(r->err);
    }
    long long errsize = app_query_num(qs, "stderrsize", 0);
    for (long long i = 0; i < errsize; i++)
        FCGX_PutChar(app_pattern_byte((uint64_t)i), r->err);
    if (errsize > 0)
        FCGX_FFlush(r->err);

    /* Header block. */
    long long status = app_query_num(qs, "status", 0);
    int have_location = app_query_get(qs, "location", 0, val, sizeof(val));
    if (r->role == FCGI_AUTHORIZER && status == 0 &&
        FCGX_GetParam("HTTP_AUTHORIZATION", r->envp) == NULL)
        status = 401;
    if (status == 0 && !have_location)
        status = 200;
    if (status != 0)
        dbuf_fmt(&head, "Status: %lld %s%s", status, app_reason((int)status), eol);
    if (have_location)
        dbuf_fmt(&head, "Location: %s%s", val, eol);
    dbuf_fmt(&head, "Content-Type: text/plain%s", eol);
    pthread_mutex_lock(&count_lock);
    unsigned long total = conn_count;
    pthread_mutex_unlock(&count_lock);
    dbuf_fmt(&head, "X-Conn-Count: %lu%s", total, eol);
    dbuf_fmt(&head, "X-Conn-Id: %lu%s", w->conn_id, eol);
    dbuf_fmt(&head, "X-Req-On-Conn: %lu%s", w->req_on_conn, eol);
    dbuf_fmt(&head, "X-Pid: %ld%s", (long)getpid(), eol);
    dbuf_fmt(&head, "X-Fcgi-Role: %s%s", role_name, eol);
    if (r->role == FCGI_FILTER) {
        const char *dl = FCGX_GetParam("FCGI_DATA_LENGTH", r->envp);
        const char *lm = FCGX_GetParam("FCGI_DATA_LAST_MOD", r->envp);
        dbuf_fmt(&head, "X-Data-Length: %s%s", dl ? dl : "", eol);
        dbuf_fmt(&head, "X-Data-Last-Mod: %s%s", lm ? lm : "", eol);
        dbuf_fmt(&head, "X-Data-Bytes: %llu%s", (unsigned long long)data_count, eol);
        dbuf_fmt(&head, "X-Stdin-Bytes: %llu%s", (unsigned long long)in_count, eol);
    }
    if (r->role == FCGI_AUTHORIZER) {
        if (FCGX_GetParam("HTTP_AUTHORIZATION", r->envp) != NULL)
            dbuf_fmt(&head, "Variable-AUTH_USER: alice%s", eol);
        else
            dbuf_fmt(&head, "WWW-Authenticate: Basic realm=\"fcgic-test\"%s", eol);
    }
    for (size_t i = 0; app_query_get(qs, "header", i, val, sizeof(val)); i++)
        dbuf_fmt(&head, "%s%s", val, eol);
    dbuf_str(&head, eol);

    /* Send. */
    size_t chunk = (size_t)(app_query_num(qs, "chunk", 0) > 0 ? app_query_num(qs, "chunk", 0) : 0);
    if (!app_query_num(qs, "noheaders", 0)) {
        put_all(r->out, head.p, head.len, 0);
        long long pause = app_query_num(qs, "pause_ms", 0);
        if (pause > 0) {
            FCGX_FFlush(r->out);
            sleep_ms(pause);
        }
    }
    char closemode[16] = "";
    app_query_get(qs, "close", 0, closemode, sizeof(closemode));
    if (closemode[0] != '\0' && strcmp(closemode, "0") != 0) {
        put_all(r->out, body.p, body.len / 2, chunk);
        FCGX_FFlush(r->out);
        FCGX_FFlush(r->err);
        if (strcmp(closemode, "exit") == 0)
            _exit(0);
        shutdown(r->ipcFd, SHUT_RDWR);
        goto out;
    }
    put_all(r->out, body.p, body.len, chunk);

    /* libfcgi keeps the exit status across the requests of a process:
     * set it on every request. */
    long long app_status = app_query_num(qs, "app_status", 0);
    FCGX_SetExitStatus((int)app_status, r->out);

    if (!stdin_read) {
        FCGX_FFlush(r->out);
        if (strcmp(early, "end") == 0) {
            FCGX_FClose(r->err);
            FCGX_FClose(r->out); /* sends END_REQUEST */
        } else {
            read_stream(r->in, NULL, &in_count, &in_hash);
        }
    }
out:
    free(head.p);
    free(body.p);
    free(keep.p);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    while (FCGX_Accept_r(&w->req) >= 0)
        serve(w);
    FCGX_Finish_r(&w->req);
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = 1;
    int opt;
    while ((opt = getopt(argc, argv, "t:")) != -1) {
        if (opt == 't') {
            threads = strtol(optarg, NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [-t THREADS]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "app-echo: bad thread count\n");
        return 2;
    }
    if (FCGX_Init() != 0) {
        fprintf(stderr, "app-echo: FCGX_Init failed\n");
        return 1;
    }
    /* libfcgi catches SIGTERM to finish the current request; the tests want
     * SIGTERM to end the process at once, mid-request too. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    struct worker *ws = calloc((size_t)threads, sizeof(*ws));
    if (ws == NULL)
        return 1;
    for (long i = 0; i < threads; i++) {
        ws[i].last_fd = -1;
        FCGX_InitRequest(&ws[i].req, 0, 0);
    }
    for (long i = 1; i < threads; i++) {
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "app-echo: pthread_create failed\n");
            return 1;
        }
    }
    worker_main(&ws[0]);
    for (long i = 1; i < threads; i++)
        pthread_join(ws[i].thread, NULL);
    free(ws);
    return 0;
}

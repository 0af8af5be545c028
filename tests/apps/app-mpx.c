/* app-mpx: a hand-written FastCGI application (no libfcgi, no libfcgiclient) that
 * multiplexes requests and checks every byte a client sends. It is an
 * independent implementation of the application side, so it checks the
 * library's bytes rather than trusting them. One thread, poll(), any number of
 * connections and of concurrent requests per connection. Accepts on fd 0
 * (FCGI_LISTENSOCK_FILENO), as started by tests/harness.c or spawn-fcgi.
 *
 * Usage: app-mpx [options]
 *   --max-conns N    FCGI_MAX_CONNS answered to GET_VALUES (default 100; advisory)
 *   --max-reqs N     FCGI_MAX_REQS answered to GET_VALUES (default 100); a
 *                    BEGIN_REQUEST beyond N concurrent requests on one connection
 *                    is answered with protocolStatus FCGI_OVERLOADED
 *   --cant-mpx       FCGI_MPXS_CONNS=0; a BEGIN_REQUEST while another request is
 *                    in progress on the connection gets FCGI_CANT_MPX_CONN
 *   --overloaded     every BEGIN_REQUEST gets FCGI_OVERLOADED
 *   --unknown-role   every BEGIN_REQUEST gets FCGI_UNKNOWN_ROLE (roles other
 *                    than 1..3 always do)
 *   --padding        pad every record it sends; padding lengths cycle 0..255
 *                    and the padding bytes are not zero
 *   --lax-padding    do not require the client's padding bytes to be zero
 *   --chunk N        STDOUT/STDERR record content size (default 4096)
 *
 * QUERY_STRING keys:
 *   tiny=1           1-byte STDOUT and STDERR records
 *   chunk=N          record content size for this request
 *   order=reverse    hold the finished request; when `batch` (default 2) held
 *                    requests exist on the connection, start them newest first
 *                    (a held request is released anyway after hold_ms, default
 *                    2000)
 *   delay_ms=N       start answering N ms after the request's input is complete
 *   stderr=TEXT      send "TEXT\n" on FCGI_STDERR before the STDOUT
 *   app_status=N     appStatus of END_REQUEST
 *   status=NNN       "Status: NNN <reason>"
 *   size=N           body is N bytes of app_pattern_byte(i)
 *   echo=1           body is exactly the stdin bytes
 *
 * Answering starts when STDIN (and for FILTER also DATA) has ended. Responses
 * of the started requests of a connection are sent round-robin, one record per
 * request in turn, so their STDOUT records interleave. Default response:
 *   Status: 200 OK\r\n
 *   Content-Type: text/plain\r\n
 *   X-Conn-Count: <connections that carried a request so far>\r\n
 *   X-Conn-Id: <ordinal of this connection>\r\n
 *   X-Req-On-Conn: <ordinal of this request on its connection>\r\n
 *   X-Request-Id: <FastCGI request id>\r\n
 *   X-Pid: <process id>\r\n
 *   X-Fcgi-Role: RESPONDER | AUTHORIZER | FILTER\r\n
 *   \r\n
 *   NAME=VALUE\n ... (params in the order received)
 *   STDIN-BYTES=<n>\n
 *   STDIN-FNV1A64=<16 hex>\n
 *   (FILTER only) DATA-BYTES=<n>\n DATA-FNV1A64=<16 hex>\n
 * then an empty STDERR (only if STDERR was sent), an empty STDOUT and
 * END_REQUEST(appStatus, FCGI_REQUEST_COMPLETE). Without FCGI_KEEP_CONN the
 * connection is closed after that END_REQUEST.
 *
 * ABORT_REQUEST for a request in progress: no further STDOUT/STDERR,
 * END_REQUEST(appStatus 1, FCGI_REQUEST_COMPLETE). ABORT for an id not in
 * progress is ignored (it may cross our END_REQUEST). Management records
 * (request id 0): GET_VALUES is answered with the known variables only; types
 * 0 and >= 12 get UNKNOWN_TYPE.
 *
 * Protocol violations (each detected as soon as the bytes that show it arrive):
 * version != 1, header reserved byte != 0, padding bytes != 0, BEGIN_REQUEST
 * length != 8 or reserved bytes != 0 or flags other than KEEP_CONN, a second
 * BEGIN_REQUEST for an id in progress, PARAMS/STDIN/DATA for an id never begun,
 * PARAMS after the end of PARAMS, STDIN or DATA before it, STDIN/DATA after their
 * end, DATA for a non-FILTER request, a bad name-value pair (truncated, empty
 * name, longer than the stream), params over 1 MiB, ABORT with content, record
 * types a web server never sends (END_REQUEST, STDOUT, STDERR,
 * GET_VALUES_RESULT, UNKNOWN_TYPE), application types with id 0, GET_VALUES
 * with id != 0, unknown types with id != 0. Answer: FCGI_STDERR "protocol
 * violation: <what>\n" and END_REQUEST(appStatus 99, REQUEST_COMPLETE) for the
 * record's request id, then the connection is closed; later input is ignored.
 * Records for a request the app already rejected (OVERLOADED, CANT_MPX_CONN,
 * UNKNOWN_ROLE) or aborted are skipped until that id is begun again. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app-common.h"

enum {
    T_BEGIN = 1, T_ABORT, T_END, T_PARAMS, T_STDIN, T_STDOUT, T_STDERR, T_DATA,
    T_GET_VALUES, T_GET_VALUES_RESULT, T_UNKNOWN_TYPE
};
enum { ROLE_RESPONDER = 1, ROLE_AUTHORIZER, ROLE_FILTER };
enum { PS_COMPLETE = 0, PS_CANT_MPX = 1, PS_OVERLOADED = 2, PS_UNKNOWN_ROLE = 3 };

#define PARAMS_MAX (1u << 20)
#define OUT_HIGH (64u * 1024u)

struct buf {
    unsigned char *p;
    size_t len, cap;
};

enum rstate { R_PARAMS, R_STDIN, R_WAIT, R_HELD, R_ACTIVE };

struct req {
    struct req *next;
    unsigned id;
    unsigned role;
    int keep;
    enum rstate st;
    int stdin_done, data_done;
    unsigned long seq, req_on_conn;
    struct buf params;     /* raw PARAMS stream */
    struct buf listing;    /* NAME=VALUE\n lines */
    char *qs;              /* QUERY_STRING, NUL-terminated */
    struct buf in_keep;    /* stdin bytes when echo=1 */
    uint64_t in_count, in_hash, data_count, data_hash;
    int64_t deadline;      /* R_WAIT: start time; R_HELD: release time */
    struct buf err, out;   /* response streams */
    size_t err_off, out_off, chunk;
    unsigned app_status;
};

struct conn {
    struct conn *next;
    int fd;
    struct buf in;
    struct buf out;
    size_t out_off;
    struct req *reqs;      /* all requests, arrival order */
    struct req **act;      /* started requests, round-robin order */
    size_t nact, actcap;
    unsigned char *skip;   /* [65536]: ids whose stream records are skipped */
    int closing, eof, dead;
    unsigned long conn_id, nreq;
};

static struct {
    long max_conns, max_reqs;
    int cant_mpx, overloaded, unknown_role, padding, lax_padding;
    size_t chunk;
    unsigned padcount;
    unsigned long conn_count, seq;
} g = {100, 100, 0, 0, 0, 0, 0, 4096, 0, 0, 0};

static void die_oom(void)
{
    fputs("app-mpx: out of memory\n", stderr);
    _exit(3);
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (np == NULL)
            die_oom();
        b->p = np;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_fmt(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_fmt(struct buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- output records ---- */

static void emit(struct conn *c, unsigned type, unsigned id, const void *data, size_t len)
{
    const unsigned char *p = data;
    do {
        size_t n = len > 65535 ? 65535 : len;
        unsigned pad = g.padding ? g.padcount++ % 256 : 0;
        unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
                              (unsigned char)(n >> 8), (unsigned char)n, (unsigned char)pad, 0};
        buf_add(&c->out, h, 8);
        buf_add(&c->out, p, n);
        for (unsigned i = 0; i < pad; i++) {
            unsigned char junk = (unsigned char)(0xA5 ^ i);
            buf_add(&c->out, &junk, 1);
        }
        p += n;
        len -= n;
    } while (len > 0);
}

static void emit_end(struct conn *c, unsigned id, unsigned app_status, unsigned proto)
{
    unsigned char b[8] = {(unsigned char)(app_status >> 24), (unsigned char)(app_status >> 16),
                          (unsigned char)(app_status >> 8), (unsigned char)app_status,
                          (unsigned char)proto, 0, 0, 0};
    emit(c, T_END, id, b, 8);
}

static void req_free(struct req *r)
{
    buf_free(&r->params);
    buf_free(&r->listing);
    buf_free(&r->in_keep);
    buf_free(&r->err);
    buf_free(&r->out);
    free(r->qs);
    free(r);
}

static struct req *find_req(struct conn *c, unsigned id)
{
    for (struct req *r = c->reqs; r != NULL; r = r->next)
        if (r->id == id)
            return r;
    return NULL;
}

static size_t count_reqs(struct conn *c)
{
    size_t n = 0;
    for (struct req *r = c->reqs; r != NULL; r = r->next)
        n++;
    return n;
}

static void remove_req(struct conn *c, struct req *r)
{
    for (struct req **pp = &c->reqs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    for (size_t i = 0; i < c->nact; i++) {
        if (c->act[i] == r) {
            memmove(&c->act[i], &c->act[i + 1], (c->nact - i - 1) * sizeof(c->act[0]));
            c->nact--;
            break;
        }
    }
    req_free(r);
}

static void drop_all(struct conn *c)
{
    while (c->reqs != NULL)
        remove_req(c, c->reqs);
}

static void violation(struct conn *c, unsigned id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void violation(struct conn *c, unsigned id, const char *fmt, ...)
{
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "protocol violation: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strcat(msg, "\n");
    drop_all(c);
    emit(c, T_STDERR, id, msg, strlen(msg));
    emit(c, T_STDERR, id, NULL, 0);
    emit_end(c, id, 99, PS_COMPLETE);
    c->closing = 1;
    c->in.len = 0;
}

/* ---- name-value pairs ---- */

/* Parse one pair at *pos. Returns 1 with the pair, 0 at the end, -1 on error
 * (message in *why). */
static int next_pair(const unsigned char *p, size_t len, size_t *pos, const unsigned char **name,
                     size_t *nlen, const unsigned char **val, size_t *vlen, const char **why)
{
    size_t lens[2];
    size_t i = *pos;
    if (i == len)
        return 0;
    for (int k = 0; k < 2; k++) {
        if (i >= len) {
            *why = "truncated name-value pair length";
            return -1;
        }
        if (p[i] & 0x80) {
            if (len - i < 4) {
                *why = "truncated 4-byte name-value pair length";
                return -1;
            }
            lens[k] = ((size_t)(p[i] & 0x7f) << 24) | ((size_t)p[i + 1] << 16) |
                      ((size_t)p[i + 2] << 8) | p[i + 3];
            i += 4;
        } else {
            lens[k] = p[i];
            i += 1;
        }
    }
    if (lens[0] == 0) {
        *why = "empty parameter name";
        return -1;
    }
    if (lens[0] > len - i || lens[1] > len - i - lens[0]) {
        *why = "name-value pair longer than its stream";
        return -1;
    }
    *name = p + i;
    *nlen = lens[0];
    *val = p + i + lens[0];
    *vlen = lens[1];
    *pos = i + lens[0] + lens[1];
    return 1;
}

static void put_pair(struct buf *b, const char *name, const char *val)
{
    unsigned char l[2] = {(unsigned char)strlen(name), (unsigned char)strlen(val)};
    buf_add(b, l, 2);
    buf_add(b, name, strlen(name));
    buf_add(b, val, strlen(val));
}

static void get_values(struct conn *c, const unsigned char *p, size_t len)
{
    struct buf res = {0};
    size_t pos = 0;
    const unsigned char *name, *val;
    size_t nlen, vlen;
    const char *why = NULL;
    char num[32];
    int rc;
    while ((rc = next_pair(p, len, &pos, &name, &nlen, &val, &vlen, &why)) == 1) {
        if (nlen == 14 && memcmp(name, "FCGI_MAX_CONNS", 14) == 0) {
            snprintf(num, sizeof(num), "%ld", g.max_conns);
            put_pair(&res, "FCGI_MAX_CONNS", num);
        } else if (nlen == 13 && memcmp(name, "FCGI_MAX_REQS", 13) == 0) {
            snprintf(num, sizeof(num), "%ld", g.max_reqs);
            put_pair(&res, "FCGI_MAX_REQS", num);
        } else if (nlen == 15 && memcmp(name, "FCGI_MPXS_CONNS", 15) == 0) {
            put_pair(&res, "FCGI_MPXS_CONNS", g.cant_mpx ? "0" : "1");
        }
    }
    if (rc < 0)
        violation(c, 0, "GET_VALUES: %s", why);
    else
        emit(c, T_GET_VALUES_RESULT, 0, res.p, res.len);
    buf_free(&res);
}

/* ---- requests ---- */

static const char *role_name(unsigned role)
{
    return role == ROLE_AUTHORIZER ? "AUTHORIZER" : role == ROLE_FILTER ? "FILTER" : "RESPONDER";
}

static void build_response(struct conn *c, struct req *r)
{
    const char *qs = r->qs;
    char val[4096];
    long long status = app_query_num(qs, "status", 200);
    if (app_query_get(qs, "stderr", 0, val, sizeof(val))) {
        buf_add(&r->err, val, strlen(val));
        buf_add(&r->err, "\n", 1);
    }
    r->app_status = (unsigned)app_query_num(qs, "app_status", 0);
    long long chunk = app_query_num(qs, "chunk", 0);
    r->chunk = app_query_num(qs, "tiny", 0) ? 1 : chunk > 0 ? (size_t)chunk : g.chunk;

    buf_fmt(&r->out, "Status: %lld %s\r\n", status, app_reason((int)status));
    buf_fmt(&r->out, "Content-Type: text/plain\r\n");
    buf_fmt(&r->out, "X-Conn-Count: %lu\r\n", g.conn_count);
    buf_fmt(&r->out, "X-Conn-Id: %lu\r\n", c->conn_id);
    buf_fmt(&r->out, "X-Req-On-Conn: %lu\r\n", r->req_on_conn);
    buf_fmt(&r->out, "X-Request-Id: %u\r\n", r->id);
    buf_fmt(&r->out, "X-Pid: %ld\r\n", (long)getpid());
    buf_fmt(&r->out, "X-Fcgi-Role: %s\r\n\r\n", role_name(r->role));
    long long size = app_query_num(qs, "size", -1);
    if (app_query_num(qs, "echo", 0)) {
        buf_add(&r->out, r->in_keep.p, r->in_keep.len);
    } else if (size >= 0) {
        for (long long i = 0; i < size; i++) {
            unsigned char ch = app_pattern_byte((uint64_t)i);
            buf_add(&r->out, &ch, 1);
        }
    } else {
        buf_add(&r->out, r->listing.p, r->listing.len);
        buf_fmt(&r->out, "STDIN-BYTES=%llu\n", (unsigned long long)r->in_count);
        buf_fmt(&r->out, "STDIN-FNV1A64=%016llx\n", (unsigned long long)r->in_hash);
        if (r->role == ROLE_FILTER) {
            buf_fmt(&r->out, "DATA-BYTES=%llu\n", (unsigned long long)r->data_count);
            buf_fmt(&r->out, "DATA-FNV1A64=%016llx\n", (unsigned long long)r->data_hash);
        }
    }
}

static void activate(struct conn *c, struct req *r)
{
    if (c->nact == c->actcap) {
        size_t cap = c->actcap ? c->actcap * 2 : 8;
        struct req **na = realloc(c->act, cap * sizeof(*na));
        if (na == NULL)
            die_oom();
        c->act = na;
        c->actcap = cap;
    }
    c->act[c->nact++] = r;
    r->st = R_ACTIVE;
}

/* Start held requests newest first once `batch` of them are held, or when the
 * oldest one's hold time is over (force). */
static void release_held(struct conn *c, int force)
{
    size_t held = 0;
    long long batch = 2;
    for (struct req *r = c->reqs; r != NULL; r = r->next) {
        if (r->st == R_HELD) {
            held++;
            batch = app_query_num(r->qs, "batch", 2);
        }
    }
    if (held == 0 || (!force && (long long)held < batch))
        return;
    for (;;) {
        struct req *newest = NULL;
        for (struct req *r = c->reqs; r != NULL; r = r->next)
            if (r->st == R_HELD && (newest == NULL || r->seq > newest->seq))
                newest = r;
        if (newest == NULL)
            break;
        activate(c, newest);
    }
}

static void make_ready(struct conn *c, struct req *r, int64_t now)
{
    build_response(c, r);
    char order[16];
    if (app_query_get(r->qs, "order", 0, order, sizeof(order)) && strcmp(order, "reverse") == 0) {
        r->st = R_HELD;
        r->deadline = now + app_query_num(r->qs, "hold_ms", 2000);
        release_held(c, 0);
    } else {
        activate(c, r);
    }
}

static void input_complete(struct conn *c, struct req *r)
{
    if (!r->stdin_done || (r->role == ROLE_FILTER && !r->data_done))
        return;
    long long delay = app_query_num(r->qs, "delay_ms", 0);
    if (delay > 0) {
        r->st = R_WAIT;
        r->deadline = now_ms() + delay;
    } else {
        make_ready(c, r, now_ms());
    }
}

static int params_done(struct conn *c, struct req *r)
{
    size_t pos = 0;
    const unsigned char *name, *val;
    size_t nlen, vlen;
    const char *why = NULL;
    int rc;
    while ((rc = next_pair(r->params.p, r->params.len, &pos, &name, &nlen, &val, &vlen, &why)) ==
           1) {
        buf_add(&r->listing, name, nlen);
        buf_add(&r->listing, "=", 1);
        buf_add(&r->listing, val, vlen);
        buf_add(&r->listing, "\n", 1);
        if (nlen == 12 && memcmp(name, "QUERY_STRING", 12) == 0 && r->qs == NULL) {
            r->qs = malloc(vlen + 1);
            if (r->qs == NULL)
                die_oom();
            memcpy(r->qs, val, vlen);
            r->qs[vlen] = '\0';
        }
    }
    if (rc < 0) {
        violation(c, r->id, "PARAMS: %s", why);
        return -1;
    }
    r->st = R_STDIN;
    return 0;
}

static void begin_request(struct conn *c, unsigned id, const unsigned char *b)
{
    unsigned role = (unsigned)b[0] << 8 | b[1];
    int keep = b[2] & 1;
    unsigned proto = PS_COMPLETE;
    size_t n = count_reqs(c);

    c->skip[id] = 0;
    if (c->conn_id == 0)
        c->conn_id = ++g.conn_count;
    if (g.overloaded || (long)n >= g.max_reqs)
        proto = PS_OVERLOADED;
    else if (g.unknown_role || role < ROLE_RESPONDER || role > ROLE_FILTER)
        proto = PS_UNKNOWN_ROLE;
    else if (g.cant_mpx && n > 0)
        proto = PS_CANT_MPX;
    if (proto != PS_COMPLETE) {
        emit_end(c, id, 0, proto);
        c->skip[id] = 1;
        if (!keep)
            c->closing = 1;
        return;
    }
    struct req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        die_oom();
    r->id = id;
    r->role = role;
    r->keep = keep;
    r->st = R_PARAMS;
    r->seq = ++g.seq;
    r->req_on_conn = ++c->nreq;
    r->in_hash = APP_FNV1A64_INIT;
    r->data_hash = APP_FNV1A64_INIT;
    struct req **pp = &c->reqs;
    while (*pp != NULL)
        pp = &(*pp)->next;
    *pp = r;
}

static void abort_request(struct conn *c, unsigned id)
{
    struct req *r = find_req(c, id);
    if (r == NULL)
        return; /* not in progress: may have crossed our END_REQUEST */
    int keep = r->keep;
    remove_req(c, r);
    emit_end(c, id, 1, PS_COMPLETE);
    c->skip[id] = 1;
    if (!keep)
        c->closing = 1;
}

static const char *type_name(unsigned t)
{
    static const char *const names[] = {"0", "BEGIN_REQUEST", "ABORT_REQUEST", "END_REQUEST",
                                        "PARAMS", "STDIN", "STDOUT", "STDERR", "DATA",
                                        "GET_VALUES", "GET_VALUES_RESULT", "UNKNOWN_TYPE"};
    return t < 12 ? names[t] : "unknown";
}

/* One complete, already header-checked record. */
static void dispatch(struct conn *c, unsigned type, unsigned id, const unsigned char *p, size_t len)
{
    if (id == 0) {
        if (type == T_GET_VALUES) {
            get_values(c, p, len);
        } else if (type >= 1 && type <= 11) {
            violation(c, 0, "%s record with request id 0", type_name(type));
        } else {
            unsigned char b[8] = {(unsigned char)type, 0, 0, 0, 0, 0, 0, 0};
            emit(c, T_UNKNOWN_TYPE, 0, b, 8);
        }
        return;
    }
    struct req *r = NULL;
    switch (type) {
    case T_BEGIN:
        if (len != 8) {
            violation(c, id, "BEGIN_REQUEST content length %zu, expected 8", len);
        } else if (p[3] | p[4] | p[5] | p[6] | p[7]) {
            violation(c, id, "BEGIN_REQUEST reserved bytes not zero");
        } else if (p[2] & ~1u) {
            violation(c, id, "BEGIN_REQUEST flags 0x%02x has unknown bits", p[2]);
        } else if (find_req(c, id) != NULL) {
            violation(c, id, "BEGIN_REQUEST for request %u already in progress", id);
        } else {
            begin_request(c, id, p);
        }
        return;
    case T_ABORT:
        if (len != 0)
            violation(c, id, "ABORT_REQUEST with %zu content bytes", len);
        else
            abort_request(c, id);
        return;
    case T_PARAMS:
    case T_STDIN:
    case T_DATA:
        r = find_req(c, id);
        if (r == NULL) {
            if (!c->skip[id])
                violation(c, id, "%s for request %u which was never begun", type_name(type), id);
            return;
        }
        break;
    case T_END:
    case T_STDOUT:
    case T_STDERR:
    case T_GET_VALUES_RESULT:
    case T_UNKNOWN_TYPE:
        violation(c, id, "%s record is never sent by a web server", type_name(type));
        return;
    case T_GET_VALUES:
        violation(c, id, "GET_VALUES with request id %u", id);
        return;
    default:
        violation(c, id, "unknown record type %u", type);
        return;
    }

    if (type == T_PARAMS) {
        if (r->st != R_PARAMS) {
            violation(c, id, "PARAMS after the end of PARAMS");
        } else if (len == 0) {
            params_done(c, r);
        } else if (r->params.len + len > PARAMS_MAX) {
            violation(c, id, "PARAMS longer than %u bytes", PARAMS_MAX);
        } else {
            buf_add(&r->params, p, len);
        }
        return;
    }
    if (r->st == R_PARAMS) {
        violation(c, id, "%s before the end of PARAMS", type_name(type));
        return;
    }
    if (type == T_STDIN) {
        if (r->stdin_done) {
            violation(c, id, "STDIN after the end of STDIN");
        } else if (len == 0) {
            r->stdin_done = 1;
            input_complete(c, r);
        } else {
            r->in_count += len;
            r->in_hash = app_fnv1a64(r->in_hash, p, len);
            if (app_query_num(r->qs, "echo", 0))
                buf_add(&r->in_keep, p, len);
        }
        return;
    }
    /* T_DATA */
    if (r->role != ROLE_FILTER) {
        violation(c, id, "DATA for a %s request", role_name(r->role));
    } else if (r->data_done) {
        violation(c, id, "DATA after the end of DATA");
    } else if (len == 0) {
        r->data_done = 1;
        input_complete(c, r);
    } else {
        r->data_count += len;
        r->data_hash = app_fnv1a64(r->data_hash, p, len);
    }
}

static void handle_input(struct conn *c)
{
    size_t pos = 0;
    while (!c->closing && c->in.len - pos >= 8) {
        const unsigned char *h = c->in.p + pos;
        unsigned id = (unsigned)h[2] << 8 | h[3];
        size_t clen = (size_t)h[4] << 8 | h[5];
        size_t plen = h[6];
        if (h[0] != 1) {
            violation(c, id, "version %u, expected 1", h[0]);
            return;
        }
        if (h[7] != 0) {
            violation(c, id, "record header reserved byte is 0x%02x", h[7]);
            return;
        }
        if (c->in.len - pos < 8 + clen + plen)
            break;
        if (!g.lax_padding) {
            for (size_t i = 0; i < plen; i++) {
                if (h[8 + clen + i] != 0) {
                    violation(c, id, "padding byte %zu of %zu is 0x%02x", i, plen,
                              h[8 + clen + i]);
                    return;
                }
            }
        }
        dispatch(c, h[1], id, h + 8, clen);
        if (c->closing)
            return; /* violation() reset the input buffer */
        pos += 8 + clen + plen;
    }
    memmove(c->in.p, c->in.p + pos, c->in.len - pos);
    c->in.len -= pos;
}

/* Emit records for started requests, one per request per round, while the
 * output queue is below its high-water mark. */
static void produce(struct conn *c)
{
    while (c->nact > 0 && c->out.len - c->out_off < OUT_HIGH) {
        for (size_t i = 0; i < c->nact;) {
            struct req *r = c->act[i];
            if (r->err_off < r->err.len) {
                size_t n = r->err.len - r->err_off;
                if (n > r->chunk)
                    n = r->chunk;
                emit(c, T_STDERR, r->id, r->err.p + r->err_off, n);
                r->err_off += n;
            } else if (r->out_off < r->out.len) {
                size_t n = r->out.len - r->out_off;
                if (n > r->chunk)
                    n = r->chunk;
                emit(c, T_STDOUT, r->id, r->out.p + r->out_off, n);
                r->out_off += n;
            } else {
                if (r->err.len > 0)
                    emit(c, T_STDERR, r->id, NULL, 0);
                emit(c, T_STDOUT, r->id, NULL, 0);
                emit_end(c, r->id, r->app_status, PS_COMPLETE);
                if (!r->keep)
                    c->closing = 1;
                remove_req(c, r);
                if (c->closing) {
                    drop_all(c);
                    return;
                }
                continue; /* act[i] is now the next request */
            }
            i++;
        }
    }
}

static void timers(struct conn *c, int64_t now, int64_t *next)
{
    for (struct req *r = c->reqs; r != NULL; r = r->next) {
        if (r->st == R_WAIT && r->deadline <= now)
            make_ready(c, r, now);
    }
    for (struct req *r = c->reqs; r != NULL; r = r->next) {
        if (r->st == R_HELD && r->deadline <= now) {
            release_held(c, 1);
            break;
        }
    }
    for (struct req *r = c->reqs; r != NULL; r = r->next)
        if ((r->st == R_WAIT || r->st == R_HELD) && (*next < 0 || r->deadline < *next))
            *next = r->deadline;
}

static void conn_read(struct conn *c)
{
    for (;;) {
        if (c->in.cap - c->in.len < 16384) {
            size_t cap = c->in.cap ? c->in.cap * 2 : 65536;
            unsigned char *np = realloc(c->in.p, cap);
            if (np == NULL)
                die_oom();
            c->in.p = np;
            c->in.cap = cap;
        }
        ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            handle_input(c);
            if (c->closing)
                return;
            /* bound buffering: a record is at most 8 + 65535 + 255 bytes */
            if (c->in.len > 70000)
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        /* EOF or error: requests whose input is incomplete can never finish */
        c->eof = 1;
        for (struct req *r = c->reqs, *nx; r != NULL; r = nx) {
            nx = r->next;
            if (r->st == R_PARAMS || r->st == R_STDIN)
                remove_req(c, r);
        }
        if (n < 0)
            c->dead = 1;
        return;
    }
}

static void conn_write(struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        c->dead = 1;
        return;
    }
    if (c->out_off == c->out.len) {
        c->out.len = 0;
        c->out_off = 0;
    } else if (c->out_off > c->out.len / 2) {
        memmove(c->out.p, c->out.p + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out_off = 0;
    }
}

static void conn_free(struct conn *c)
{
    drop_all(c);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c->act);
    free(c->skip);
    free(c);
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--max-conns") == 0 && v) {
            g.max_conns = strtol(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--max-reqs") == 0 && v) {
            g.max_reqs = strtol(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--chunk") == 0 && v && strtol(v, NULL, 10) > 0) {
            g.chunk = (size_t)strtol(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--cant-mpx") == 0) {
            g.cant_mpx = 1;
        } else if (strcmp(a, "--overloaded") == 0) {
            g.overloaded = 1;
        } else if (strcmp(a, "--unknown-role") == 0) {
            g.unknown_role = 1;
        } else if (strcmp(a, "--padding") == 0) {
            g.padding = 1;
        } else if (strcmp(a, "--lax-padding") == 0) {
            g.lax_padding = 1;
        } else {
            fprintf(stderr, "app-mpx: unknown argument '%s'\n", a);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    int lfd = 0; /* FCGI_LISTENSOCK_FILENO */
    int fl = fcntl(lfd, F_GETFL);
    if (fl < 0 || fcntl(lfd, F_SETFL, fl | O_NONBLOCK) < 0) {
        perror("app-mpx: fd 0");
        return 1;
    }
    struct conn *conns = NULL;
    struct pollfd *pfd = NULL;
    struct conn **pconn = NULL;
    size_t pcap = 0;

    for (;;) {
        int64_t now = now_ms(), next = -1;
        size_t n = 0;
        for (struct conn *c = conns; c != NULL; c = c->next) {
            if (!c->closing)
                timers(c, now, &next);
            produce(c);
            n++;
        }
        if (n + 1 > pcap) {
            pcap = (n + 1) * 2;
            pfd = realloc(pfd, pcap * sizeof(*pfd));
            pconn = realloc(pconn, pcap * sizeof(*pconn));
            if (pfd == NULL || pconn == NULL)
                die_oom();
        }
        pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        size_t k = 1;
        for (struct conn *c = conns; c != NULL; c = c->next) {
            short ev = 0;
            if (!c->closing && !c->eof && c->in.len <= 70000)
                ev |= POLLIN;
            if (c->out_off < c->out.len)
                ev |= POLLOUT;
            pfd[k] = (struct pollfd){.fd = c->fd, .events = ev};
            pconn[k++] = c;
        }
        int timeout = next < 0 ? -1 : next <= now ? 0 : (int)(next - now);
        if (poll(pfd, k, timeout) < 0) {
            if (errno == EINTR)
                continue;
            perror("app-mpx: poll");
            return 1;
        }
        for (size_t i = 1; i < k; i++) {
            struct conn *c = pconn[i];
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                if (!c->closing && !c->eof)
                    conn_read(c);
            if (!c->dead)
                produce(c);
            if (!c->dead && c->out_off < c->out.len)
                conn_write(c);
        }
        /* Close finished connections. */
        for (struct conn **pp = &conns; *pp != NULL;) {
            struct conn *c = *pp;
            int idle = c->out_off == c->out.len;
            if (c->dead || (idle && c->closing) || (idle && c->eof && c->reqs == NULL)) {
                *pp = c->next;
                conn_free(c);
            } else {
                pp = &c->next;
            }
        }
        if (pfd[0].revents & POLLIN) {
            for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                    if (errno == EINTR || errno == ECONNABORTED)
                        continue;
                    break;
                }
                struct conn *c = calloc(1, sizeof(*c));
                if (c == NULL || (c->skip = calloc(65536, 1)) == NULL)
                    die_oom();
                c->fd = fd;
                c->next = conns;
                conns = c;
            }
        }
    }
}

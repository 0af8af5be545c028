/* app-hostile: a scriptable FastCGI application that answers with whatever
 * bytes and records a test asks for, to check how the client copes with
 * applications that lie, stall, close or send bytes late. Hand-written (no
 * libfcgi), so nothing filters what goes on the wire.
 *
 * It accepts on fd 0 (as app-echo and app-mpx do, see tests/harness.h) and
 * forks a child per connection, so a hanging script blocks only its own
 * connection. Requests on a connection are served one after the other; each
 * is read up to its empty PARAMS record and, unless the script starts with
 * `early`, up to its empty STDIN record before its script runs.
 *
 * Usage: app-hostile [--close-after-end PCT] [--seed N] [--log FILE]
 *   --close-after-end PCT  after an END_REQUEST on a kept connection, close
 *                          the connection with probability PCT % (random,
 *                          seeded by --seed and the connection ordinal)
 *   --log FILE             append "METHOD QUERY_STRING STDIN_BYTES\n" for
 *                          every request read, before its script runs
 *                          (O_APPEND; one write per line)
 *
 * The script is the QUERY_STRING key `do` (percent-decoded): tokens separated
 * by ';', run in order. TEXT takes the escapes \r \n \t \\ \xHH (so a ';'
 * is \x3b). ID is a number, `cur` (the request's id) or `cur+N` / `cur-N`.
 *   out=TEXT            STDOUT record with TEXT (empty TEXT: end of stream)
 *   err=TEXT            STDERR record
 *   outeof / erreof     empty STDOUT / STDERR record
 *   end[=APP,PROTO]     END_REQUEST (default 0,0)
 *   rec=TYPE,ID,TEXT    a record of any type and id
 *   recpad=TYPE,ID,PAD,TEXT  the same with PAD bytes of padding (0..255)
 *   hdr=TYPE,ID,CLEN,PAD     only a record header with these fields
 *   big=TYPE,ID,N       records of TYPE with N bytes of 'x' in all (65535 a record)
 *   fill=TYPE,ID,CLEN,PAD[,C]  one record of CLEN bytes of C (default 'x') and
 *                       PAD bytes of padding (CLEN up to 65535, PAD up to 255)
 *   vhdr=VER,TYPE,ID,CLEN,PAD  a record header with any version byte
 *   outsplit=N,TEXT     TEXT as STDOUT records of at most N bytes each
 *   hdrfill=N,LINE      header lines ("X-Fill-<k>: vvv...\r\n", LINE bytes
 *                       each, the last one shorter) of N bytes in all, in
 *                       STDOUT records; no blank line after them
 *   cork / uncork       TCP_CORK on / off: what is written in between leaves
 *                       in one segment (a reader gets it in one read)
 *   pad=N               N zero bytes (padding sent apart from its record)
 *   trickle=N,MS        from now on every socket write is cut into writes of
 *                       N bytes with MS milliseconds between them
 *   raw=TEXT            raw bytes
 *   sleep=MS            wait
 *   close               close the connection now (end of this connection)
 *   rst                 reset it (SO_LINGER 0) now
 *   shutwr              half-close: shutdown(SHUT_WR), then keep reading until EOF
 *   hang                stop answering (sleep until killed or the client closes)
 *   stall=MS            neither read nor write for MS ms (less if the app is
 *                       stopped meanwhile), then close
 *   early               (first token) run the script before reading STDIN;
 *                       the unread STDIN is skipped afterwards
 *   keep                do not close after the script even without FCGI_KEEP_CONN
 *   mpx                 (first token) before the script, wait up to 300 ms
 *                       for a second request on the connection and read it;
 *                       its id is `oth` in ID (`oth+N`, `oth-N`); without
 *                       one, `oth` is cur+1 (an id never handed out). The
 *                       script answers for both.
 * Without `do` the answer is "Status: 200 OK", "Content-Type: text/plain",
 * body "req=<n> id=<id>\n" (n: the request's ordinal on its connection) and
 * END_REQUEST 0,0. After the script the connection is closed when the
 * request had no FCGI_KEEP_CONN flag (unless `keep`), else the next request
 * is read.
 *
 * GET_VALUES on a connection is answered with FCGI_MAX_CONNS=10,
 * FCGI_MAX_REQS=10, FCGI_MPXS_CONNS=0 for the names asked. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app-common.h"

#define T_BEGIN 1
#define T_ABORT 2
#define T_END 3
#define T_PARAMS 4
#define T_STDIN 5
#define T_STDOUT 6
#define T_STDERR 7
#define T_GET_VALUES 9
#define T_GET_VALUES_RESULT 10

static int close_pct;
static size_t trickle_n;  /* trickle=: bytes per write, 0 = whole writes */
static long trickle_ms;
static unsigned other_id; /* mpx: the second request's id */
static unsigned seed = 1;
static const char *log_path;

struct req {
    unsigned id;
    unsigned flags;
    char method[32];
    char *qs;
    size_t stdin_bytes;
    int params_done, stdin_done;
    unsigned char *params;
    size_t plen;
};

/* ---- socket I/O (blocking) ---- */

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

static void sleep_ms(long ms);

static void write_all(int fd, const void *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t k = n - off;
        if (trickle_n && k > trickle_n)
            k = trickle_n;
        if (trickle_n && off > 0 && trickle_ms > 0)
            sleep_ms(trickle_ms);
        ssize_t w = write(fd, (const char *)buf + off, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(0); /* the client went away */
        off += (size_t)w;
    }
}

static void emit_pad(int fd, unsigned type, unsigned id, const void *data, size_t len, unsigned pad)
{
    unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
                          (unsigned char)(len >> 8), (unsigned char)len, (unsigned char)pad, 0};
    static const unsigned char zeros[255];
    write_all(fd, h, 8);
    if (len)
        write_all(fd, data, len);
    if (pad)
        write_all(fd, zeros, pad);
}

static void emit(int fd, unsigned type, unsigned id, const void *data, size_t len)
{
    emit_pad(fd, type, id, data, len, 0);
}

static void emit_end(int fd, unsigned id, unsigned app, unsigned proto)
{
    unsigned char b[8] = {(unsigned char)(app >> 24), (unsigned char)(app >> 16), (unsigned char)(app >> 8),
                          (unsigned char)app, (unsigned char)proto, 0, 0, 0};
    emit(fd, T_END, id, b, 8);
}

/* ---- reading a request ---- */

/* Read one record. Returns 0, or -1 at EOF/error. *content is malloc'd. */
static int read_record(int fd, unsigned *type, unsigned *id, unsigned char **content, size_t *len)
{
    unsigned char h[8];
    if (read_full(fd, h, 8) != 0)
        return -1;
    *type = h[1];
    *id = (unsigned)h[2] << 8 | h[3];
    *len = (size_t)h[4] << 8 | h[5];
    size_t pad = h[6];
    *content = malloc(*len + pad + 1);
    if (*content == NULL || read_full(fd, *content, *len + pad) != 0) {
        free(*content);
        *content = NULL;
        return -1;
    }
    return 0;
}

static size_t nv_len(const unsigned char *p, size_t len, size_t *pos, int *ok)
{
    if (*pos >= len) {
        *ok = 0;
        return 0;
    }
    if (p[*pos] < 128)
        return p[(*pos)++];
    if (*pos + 4 > len) {
        *ok = 0;
        return 0;
    }
    size_t v = ((size_t)(p[*pos] & 0x7f) << 24) | ((size_t)p[*pos + 1] << 16) | ((size_t)p[*pos + 2] << 8) |
               p[*pos + 3];
    *pos += 4;
    return v;
}

static void parse_params(struct req *r)
{
    size_t pos = 0;
    int ok = 1;
    while (pos < r->plen && ok) {
        size_t nl = nv_len(r->params, r->plen, &pos, &ok);
        size_t vl = nv_len(r->params, r->plen, &pos, &ok);
        if (!ok || nl > r->plen - pos || vl > r->plen - pos - nl)
            return;
        const char *n = (const char *)r->params + pos;
        const char *v = n + nl;
        if (nl == 14 && memcmp(n, "REQUEST_METHOD", 14) == 0 && vl < sizeof r->method) {
            memcpy(r->method, v, vl);
            r->method[vl] = '\0';
        } else if (nl == 12 && memcmp(n, "QUERY_STRING", 12) == 0) {
            free(r->qs);
            r->qs = malloc(vl + 1);
            if (r->qs) {
                memcpy(r->qs, v, vl);
                r->qs[vl] = '\0';
            }
        }
        pos += nl + vl;
    }
}

static void answer_values(int fd, const unsigned char *p, size_t len)
{
    unsigned char out[512];
    size_t o = 0, pos = 0;
    int ok = 1;
    while (pos < len && ok) {
        size_t nl = nv_len(p, len, &pos, &ok);
        size_t vl = nv_len(p, len, &pos, &ok);
        if (!ok || nl > 64 || nl + vl > len - pos)
            break;
        const char *n = (const char *)p + pos;
        const char *v = NULL;
        if (nl == 14 && memcmp(n, "FCGI_MAX_CONNS", 14) == 0)
            v = "10";
        else if (nl == 13 && memcmp(n, "FCGI_MAX_REQS", 13) == 0)
            v = "10";
        else if (nl == 15 && memcmp(n, "FCGI_MPXS_CONNS", 15) == 0)
            v = "0";
        if (v && o + 2 + nl + strlen(v) < sizeof out) {
            out[o++] = (unsigned char)nl;
            out[o++] = (unsigned char)strlen(v);
            memcpy(out + o, n, nl);
            o += nl;
            memcpy(out + o, v, strlen(v));
            o += strlen(v);
        }
        pos += nl + vl;
    }
    emit(fd, T_GET_VALUES_RESULT, 0, out, o);
}

/* Read records until request r is complete (params, and stdin unless
 * want_stdin is 0). Records for other ids are ignored. Returns 0 or -1 at EOF. */
static int read_request(int fd, struct req *r, int want_stdin)
{
    while (!r->params_done || (want_stdin && !r->stdin_done)) {
        unsigned type, id;
        unsigned char *c;
        size_t len;
        if (read_record(fd, &type, &id, &c, &len) != 0)
            return -1;
        if (type == T_GET_VALUES) {
            answer_values(fd, c, len);
        } else if (type == T_BEGIN && r->id == 0 && len >= 8) {
            r->id = id;
            r->flags = c[2];
        } else if (id == r->id && type == T_PARAMS && !r->params_done) {
            if (len == 0) {
                r->params_done = 1;
                parse_params(r);
            } else {
                unsigned char *np = realloc(r->params, r->plen + len);
                if (np == NULL)
                    _exit(1);
                memcpy(np + r->plen, c, len);
                r->params = np;
                r->plen += len;
            }
        } else if (id == r->id && type == T_STDIN) {
            r->stdin_bytes += len;
            if (len == 0)
                r->stdin_done = 1;
        }
        free(c);
    }
    return 0;
}

/* ---- scripts ---- */

static size_t unescape(const char *s, char *out)
{
    size_t o = 0;
    while (*s) {
        if (*s == '\\' && s[1]) {
            s++;
            switch (*s) {
            case 'r': out[o++] = '\r'; break;
            case 'n': out[o++] = '\n'; break;
            case 't': out[o++] = '\t'; break;
            case 'x':
                if (app_hexval(s[1]) >= 0 && app_hexval(s[2]) >= 0) {
                    out[o++] = (char)(app_hexval(s[1]) * 16 + app_hexval(s[2]));
                    s += 2;
                    break;
                }
                out[o++] = 'x';
                break;
            default: out[o++] = *s; break;
            }
            s++;
        } else {
            out[o++] = *s++;
        }
    }
    return o;
}

static unsigned parse_id(const char *s, unsigned cur, const char **end)
{
    long v;
    char *e;
    if (strncmp(s, "cur", 3) == 0 || strncmp(s, "oth", 3) == 0) {
        v = (long)(s[0] == 'c' ? cur : other_id);
        s += 3;
        if (*s == '+' || *s == '-')
            v += strtol(s, &e, 10), s = e;
    } else {
        v = strtol(s, &e, 10);
        s = e;
    }
    *end = s;
    return (unsigned)v & 0xffff;
}

static void close_now(int fd, int reset)
{
    if (reset) {
        struct linger l = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(fd);
    _exit(0);
}

static void hang(int fd)
{
    char b[4096];
    while (read(fd, b, sizeof b) > 0)
        ;
    _exit(0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* hdrfill: header lines of `line` bytes ("X-Fill-<k>: vvv\r\n"), total
 * bytes in all, sent in STDOUT records of up to 65535 bytes. */
static void hdr_fill(int fd, unsigned id, size_t total, size_t line)
{
    static char rec[65535];
    size_t used = 0, k = 0;
    while (total > 0) {
        size_t len = total < line ? total : line;
        if (len < 16) /* too short for a line of its own: widen the previous one */
            len = 16;
        char l[65536];
        int hl = snprintf(l, sizeof l, "X-Fill-%zu: ", k++);
        if (len > sizeof l)
            len = sizeof l;
        memset(l + hl, 'v', len - (size_t)hl - 2);
        memcpy(l + len - 2, "\r\n", 2);
        for (size_t off = 0; off < len;) {
            size_t take = len - off < sizeof rec - used ? len - off : sizeof rec - used;
            memcpy(rec + used, l + off, take);
            used += take;
            off += take;
            if (used == sizeof rec) {
                emit(fd, T_STDOUT, id, rec, used);
                used = 0;
            }
        }
        total -= total < len ? total : len;
    }
    if (used)
        emit(fd, T_STDOUT, id, rec, used);
}

/* Run one token. Returns 1 when the token was `keep`. */
static int run_token(int fd, const struct req *r, char *tok)
{
    char *arg = strchr(tok, '=');
    if (arg)
        *arg++ = '\0';
    size_t alen = arg ? strlen(arg) : 0;
    char *buf = malloc(alen + 1);
    if (buf == NULL)
        _exit(1);
    size_t n = arg ? unescape(arg, buf) : 0;
    const char *e;
    int keep = 0;
    if (strcmp(tok, "out") == 0) {
        emit(fd, T_STDOUT, r->id, buf, n);
    } else if (strcmp(tok, "err") == 0) {
        emit(fd, T_STDERR, r->id, buf, n);
    } else if (strcmp(tok, "outeof") == 0) {
        emit(fd, T_STDOUT, r->id, NULL, 0);
    } else if (strcmp(tok, "erreof") == 0) {
        emit(fd, T_STDERR, r->id, NULL, 0);
    } else if (strcmp(tok, "end") == 0) {
        unsigned app = 0, proto = 0;
        if (arg)
            sscanf(arg, "%u,%u", &app, &proto);
        emit_end(fd, r->id, app, proto);
    } else if ((strcmp(tok, "rec") == 0 || strcmp(tok, "recpad") == 0) && arg) {
        unsigned type = (unsigned)strtoul(arg, (char **)&e, 10);
        unsigned id = parse_id(e + (*e == ','), r->id, &e);
        unsigned pad = 0;
        if (tok[3] == 'p') {
            pad = (unsigned)strtoul(e + (*e == ','), (char **)&e, 10) & 0xff;
        }
        const char *text = *e == ',' ? e + 1 : e;
        n = unescape(text, buf);
        emit_pad(fd, type, id, buf, n, pad);
    } else if (strcmp(tok, "hdr") == 0 && arg) {
        unsigned type = (unsigned)strtoul(arg, (char **)&e, 10);
        unsigned id = parse_id(e + (*e == ','), r->id, &e);
        unsigned clen = (unsigned)strtoul(e + (*e == ','), (char **)&e, 10);
        unsigned pad = (unsigned)strtoul(e + (*e == ','), (char **)&e, 10);
        unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
                              (unsigned char)(clen >> 8), (unsigned char)clen, (unsigned char)pad, 0};
        write_all(fd, h, 8);
    } else if (strcmp(tok, "big") == 0 && arg) {
        unsigned type = (unsigned)strtoul(arg, (char **)&e, 10);
        unsigned id = parse_id(e + (*e == ','), r->id, &e);
        size_t total = (size_t)strtoull(e + (*e == ','), NULL, 10);
        static char xs[65535];
        memset(xs, 'x', sizeof xs);
        while (total) {
            size_t k = total < sizeof xs ? total : sizeof xs;
            emit(fd, type, id, xs, k);
            total -= k;
        }
    } else if (strcmp(tok, "fill") == 0 && arg) {
        unsigned type = (unsigned)strtoul(arg, (char **)&e, 10);
        unsigned id = parse_id(e + (*e == ','), r->id, &e);
        size_t clen = (size_t)strtoul(e + (*e == ','), (char **)&e, 10) & 0xffff;
        unsigned pad = (unsigned)strtoul(e + (*e == ','), (char **)&e, 10) & 0xff;
        char ch = *e == ',' && e[1] ? e[1] : 'x';
        static char cs[65535];
        memset(cs, ch, clen);
        emit_pad(fd, type, id, cs, clen, pad);
    } else if (strcmp(tok, "vhdr") == 0 && arg) {
        unsigned ver = (unsigned)strtoul(arg, (char **)&e, 10);
        unsigned type = (unsigned)strtoul(e + (*e == ','), (char **)&e, 10);
        unsigned id = parse_id(e + (*e == ','), r->id, &e);
        unsigned clen = (unsigned)strtoul(e + (*e == ','), (char **)&e, 10);
        unsigned pad = (unsigned)strtoul(e + (*e == ','), (char **)&e, 10);
        unsigned char h[8] = {(unsigned char)ver, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
                              (unsigned char)(clen >> 8), (unsigned char)clen, (unsigned char)pad, 0};
        write_all(fd, h, 8);
    } else if (strcmp(tok, "outsplit") == 0 && arg) {
        size_t each = (size_t)strtoul(arg, (char **)&e, 10);
        n = unescape(*e == ',' ? e + 1 : e, buf);
        if (each == 0)
            each = 1;
        for (size_t off = 0; off < n; off += each)
            emit(fd, T_STDOUT, r->id, buf + off, n - off < each ? n - off : each);
    } else if (strcmp(tok, "hdrfill") == 0 && arg) {
        size_t total = (size_t)strtoul(arg, (char **)&e, 10);
        size_t line = *e == ',' ? (size_t)strtoul(e + 1, NULL, 10) : 100;
        hdr_fill(fd, r->id, total, line < 16 ? 16 : line);
    } else if (strcmp(tok, "cork") == 0 || strcmp(tok, "uncork") == 0) {
        int on = tok[0] == 'c';
        setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
    } else if (strcmp(tok, "pad") == 0 && arg) {
        static const char zeros[4096];
        for (size_t left = (size_t)atol(arg); left;) {
            size_t k = left < sizeof zeros ? left : sizeof zeros;
            write_all(fd, zeros, k);
            left -= k;
        }
    } else if (strcmp(tok, "trickle") == 0 && arg) {
        trickle_n = (size_t)strtoul(arg, (char **)&e, 10);
        trickle_ms = *e == ',' ? atol(e + 1) : 0;
    } else if (strcmp(tok, "raw") == 0) {
        write_all(fd, buf, n);
    } else if (strcmp(tok, "sleep") == 0 && arg) {
        sleep_ms(atol(arg));
    } else if (strcmp(tok, "close") == 0) {
        close_now(fd, 0);
    } else if (strcmp(tok, "rst") == 0) {
        close_now(fd, 1);
    } else if (strcmp(tok, "shutwr") == 0) {
        shutdown(fd, SHUT_WR);
        hang(fd);
    } else if (strcmp(tok, "stall") == 0 && arg) {
        pid_t parent = getppid();
        for (long left = atol(arg); left > 0 && getppid() == parent; left -= 50)
            sleep_ms(left < 50 ? left : 50);
        close_now(fd, 0);
    } else if (strcmp(tok, "hang") == 0) {
        hang(fd);
    } else if (strcmp(tok, "keep") == 0) {
        keep = 1;
    }
    free(buf);
    return keep;
}

static void log_request(const struct req *r)
{
    if (log_path == NULL)
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s %s %zu\n", r->method[0] ? r->method : "-",
                     r->qs && r->qs[0] ? r->qs : "-", r->stdin_bytes);
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
        write_all(fd, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        close(fd);
    }
}

/* A well-spread hash of (seed, connection, request): splitmix64's finaliser. */
static unsigned mix(unsigned a, unsigned b, unsigned c)
{
    uint64_t z = ((uint64_t)a << 40) ^ ((uint64_t)b << 20) ^ c;
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (unsigned)(z ^ (z >> 31));
}

/* Serve one request. Returns 1 to keep the connection for the next one. */
static int serve(int fd, unsigned nth, unsigned conn_no)
{
    struct req r = {0};
    trickle_n = 0; /* trickle= lasts for one request */
    if (read_request(fd, &r, 0) != 0)
        _exit(0);
    size_t slen = r.qs ? strlen(r.qs) + 1 : 1;
    char *script = malloc(slen);
    if (script == NULL)
        _exit(1);
    int has_script = app_query_get(r.qs, "do", 0, script, slen);
    int early = has_script && strncmp(script, "early", 5) == 0 && (script[5] == ';' || script[5] == '\0');
    int mpx = has_script && strncmp(script, "mpx", 3) == 0 && (script[3] == ';' || script[3] == '\0');
    if (!early && read_request(fd, &r, 1) != 0)
        _exit(0);
    log_request(&r);
    struct req r2 = {0};
    other_id = (r.id + 1) & 0xffff;
    if (mpx) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 300) == 1 && read_request(fd, &r2, 1) == 0) {
            other_id = r2.id;
            log_request(&r2);
        }
    }
    int keep = 0;
    if (has_script) {
        for (char *save = NULL, *tok = strtok_r(script, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
            keep |= run_token(fd, &r, tok);
    } else {
        char body[160];
        int n = snprintf(body, sizeof body,
                         "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nreq=%u id=%u\n", nth, r.id);
        emit(fd, T_STDOUT, r.id, body, (size_t)n);
        emit(fd, T_STDOUT, r.id, NULL, 0);
        emit_end(fd, r.id, 0, 0);
    }
    if (early && !r.stdin_done)
        read_request(fd, &r, 1); /* skip what is left of it */
    free(script);
    free(r.qs);
    free(r.params);
    free(r2.qs);
    free(r2.params);
    if (!(r.flags & 1) && !keep)
        return 0;
    return close_pct <= 0 || mix(seed, conn_no, nth) % 100 >= (unsigned)close_pct;
}

static void serve_conn(int fd, unsigned conn_no)
{
    for (unsigned nth = 1; serve(fd, nth, conn_no); nth++)
        ;
    close(fd);
    _exit(0);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--close-after-end") == 0 && i + 1 < argc)
            close_pct = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
            log_path = argv[++i];
        else {
            fprintf(stderr, "app-hostile: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    signal(SIGCHLD, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    for (unsigned conn_no = 1;; conn_no++) {
        int fd = accept(0, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return 1;
        }
        int one = 1; /* records go out as scripted, without Nagle's delay (fails on unix sockets: fine) */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pid_t pid = fork();
        if (pid == 0) {
            close(0);
            serve_conn(fd, conn_no);
        }
        close(fd);
    }
}

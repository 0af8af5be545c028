/* ErrorLog and CustomLog (log.h). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 8192

struct gw_logfile {
    char *path; /* NULL: standard error */
    int fd;
};

struct gw_log {
    const struct gw_server *srv;
    int level;
    int syslog_facility; /* ErrorLog syslog: its LOG_* facility, else -1 */
    struct gw_logfile error;
    struct gw_logfile *access;        /* one per CustomLog */
    const struct gw_custom_log *custom;
    size_t n_access;
};

static char *resolve(const struct gw_server *srv, const char *path)
{
    size_t n = strlen(srv->base_dir) + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s%s", path[0] == '/' ? "" : srv->base_dir, path[0] == '/' ? "" : "/", path);
    return out;
}

static int open_file(struct gw_logfile *f)
{
    if (f->path == NULL) {
        f->fd = 2;
        return 0;
    }
    int fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (f->fd > 2) { /* reopen: take the old descriptor's place */
        if (dup2(fd, f->fd) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        close(fd);
    } else {
        f->fd = fd;
    }
    return 0;
}

int gw_log_open(struct gw_log **out, const struct gw_server *srv, char *err, size_t errsz)
{
    struct gw_log *l = calloc(1, sizeof *l);
    if (l == NULL)
        return -ENOMEM;
    l->srv = srv;
    l->level = srv->logs.level;
    l->error.fd = -1;
    const struct gw_logs *lg = &srv->logs;
    l->syslog_facility = -1;
    if (lg->error_log_kind == GW_LOG_SYSLOG) {
        /* Process-wide, and never closed: a reload's new logs open it again
         * while the old ones may still write; each line names its facility. */
        openlog("minimal_gateway", LOG_PID | LOG_NDELAY, lg->syslog_facility);
        l->syslog_facility = lg->syslog_facility;
    }
    int rc = 0;
    if (lg->error_log_kind == GW_LOG_FILE && lg->error_log && (l->error.path = resolve(srv, lg->error_log)) == NULL)
        rc = -ENOMEM;
    if (rc == 0 && (rc = open_file(&l->error)) != 0)
        snprintf(err, errsz, "ErrorLog %s: %s", l->error.path, strerror(-rc));
    l->custom = lg->custom;
    if (rc == 0 && lg->n_custom && (l->access = calloc(lg->n_custom, sizeof *l->access)) == NULL)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < lg->n_custom; i++) {
        l->access[i].fd = -1;
        if ((l->access[i].path = resolve(srv, lg->custom[i].path)) == NULL) {
            rc = -ENOMEM;
            break;
        }
        l->n_access = i + 1;
        if ((rc = open_file(&l->access[i])) != 0)
            snprintf(err, errsz, "CustomLog %s (%s:%u): %s", l->access[i].path, lg->custom[i].at.file,
                     lg->custom[i].at.line, strerror(-rc));
    }
    if (rc != 0) {
        if (rc == -ENOMEM)
            snprintf(err, errsz, "logs: out of memory");
        gw_log_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

static void close_file(struct gw_logfile *f)
{
    if (f->fd > 2)
        close(f->fd);
    free(f->path);
}

void gw_log_close(struct gw_log *l)
{
    if (l == NULL)
        return;
    close_file(&l->error);
    for (size_t i = 0; i < l->n_access; i++)
        close_file(&l->access[i]);
    free(l->access);
    free(l);
}

int gw_log_reopen(struct gw_log *l)
{
    int first = 0;
    int rc = l->error.path ? open_file(&l->error) : 0;
    if (rc && !first)
        first = rc;
    for (size_t i = 0; i < l->n_access; i++)
        if ((rc = open_file(&l->access[i])) != 0 && !first)
            first = rc;
    return first;
}

static void put(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a full disk must not stop the server */
        buf += w;
        n -= (size_t)w;
    }
}

/* A line for ErrorLog syslog: syslogd adds the time and the pid, so the
 * message starts at the "[module:level]" part. Levels above debug (trace)
 * are sent as LOG_DEBUG. */
static void to_syslog(const struct gw_log *l, int level, const char *line)
{
    const char *msg = strstr(line, "] [");
    msg = msg ? msg + 2 : line;
    const char *pid = strstr(msg, "[pid ");
    const char *after = pid ? strstr(pid, "] ") : NULL;
    int prio = level > LOG_DEBUG ? LOG_DEBUG : level;
    if (pid && after) /* "[proxy_fcgi:error] [pid 7] [client ...] m" -> without the pid */
        syslog(l->syslog_facility | prio, "%.*s%s", (int)(pid - msg), msg, after + 2);
    else
        syslog(l->syslog_facility | prio, "%s", msg);
}

static const char *const level_names[] = {"emerg",  "alert",  "crit",   "error",  "warn",   "notice",
                                          "info",   "debug",  "trace1", "trace2", "trace3", "trace4",
                                          "trace5", "trace6", "trace7", "trace8"};

void gw_log_error(struct gw_log *l, int level, const char *module, const char *client, const char *fmt, ...)
{
    if (l == NULL || level > l->level)
        return;
    char line[LINE_MAX_BYTES];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "[%a %b %d %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%06ld %d] [%s:%s] [pid %ld]", (long)tv.tv_usec,
                          tm.tm_year + 1900, module, level_names[level & 15], (long)getpid());
    if (client && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, " [client %s]", client);
    if (n < sizeof line - 1)
        line[n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    n = k < 0 ? n : n + (size_t)k < sizeof line - 1 ? n + (size_t)k : sizeof line - 2;
    if (l->syslog_facility >= 0) {
        line[n] = '\0';
        to_syslog(l, level, line);
        return;
    }
    line[n++] = '\n';
    put(l->error.fd, line, n);
}

/* ---- access log ---- */

struct out {
    char *p;
    size_t n, cap;
};

static void emit(struct out *o, const char *s, size_t len)
{
    if (o->n + len >= o->cap)
        len = o->cap - 1 - o->n;
    memcpy(o->p + o->n, s, len);
    o->n += len;
}

static void emits(struct out *o, const char *s)
{
    emit(o, s ? s : "-", s ? strlen(s) : 1);
}

/* Bytes from the client are written with '"', '\\' and controls escaped, as
 * Apache does. */
static void emit_escaped(struct out *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char b[5];
        if (c == '"' || c == '\\') {
            b[0] = '\\';
            b[1] = (char)c;
            emit(o, b, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            snprintf(b, sizeof b, "\\x%02x", c);
            emit(o, b, 4);
        } else {
            emit(o, (const char *)&s[i], 1);
        }
    }
}

static void emit_num(struct out *o, unsigned long long v)
{
    char b[24];
    emit(o, b, (size_t)snprintf(b, sizeof b, "%llu", v));
}

static const struct gw_http_header *header(const struct gw_http_request *r, const char *name, size_t len)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name_len == len && strncasecmp(r->headers[i].name, name, len) == 0)
            return &r->headers[i];
    return NULL;
}

static void directive(struct out *o, const struct gw_log *l, const struct gw_access *a, char c, const char *arg,
                      size_t arglen)
{
    const struct gw_http_request *r = a->req;
    switch (c) {
    case 'h': emits(o, r->client_ip); break;
    case 'a': emits(o, r->client_ip); break;
    case 'A': emits(o, r->server_ip); break;
    case 'l':
    case 'u': emits(o, NULL); break;
    case 't': {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char b[64];
        emit(o, b, strftime(b, sizeof b, "[%d/%b/%Y:%H:%M:%S %z]", &tm));
        break;
    }
    case 'r':
        emit_escaped(o, r->method, r->method_len);
        emit(o, " ", 1);
        emit_escaped(o, r->target, r->target_len);
        emits(o, r->version == 10 ? " HTTP/1.0" : " HTTP/1.1");
        break;
    case 's': a->status ? emit_num(o, (unsigned)a->status) : emits(o, NULL); break;
    case 'b': a->body_bytes ? emit_num(o, a->body_bytes) : emits(o, NULL); break;
    case 'B': emit_num(o, a->body_bytes); break;
    case 'D': emit_num(o, (a->end_ns - a->start_ns) / 1000); break;
    case 'T': emit_num(o, (a->end_ns - a->start_ns) / 1000000000ull); break;
    case 'm': emit_escaped(o, r->method, r->method_len); break;
    case 'U': emit_escaped(o, r->path, r->path_len); break;
    case 'q':
        if (r->query) {
            emit(o, "?", 1);
            emit_escaped(o, r->query, r->query_len);
        }
        break;
    case 'H': emits(o, r->version == 10 ? "HTTP/1.0" : "HTTP/1.1"); break;
    case 'v': emits(o, l->srv->server_name ? l->srv->server_name : "localhost"); break;
    case 'p': emit_num(o, r->server_port); break;
    case 'i': {
        const struct gw_http_header *h = arg ? header(r, arg, arglen) : NULL;
        if (h)
            emit_escaped(o, h->value, h->value_len);
        else
            emits(o, NULL);
        break;
    }
    case '%': emit(o, "%", 1); break;
    default: emits(o, NULL); break;
    }
}

static void format_line(struct out *o, const struct gw_log *l, const char *fmt, const struct gw_access *a)
{
    for (const char *p = fmt; *p; p++) {
        if (*p != '%' || p[1] == '\0') {
            emit(o, p, 1);
            continue;
        }
        p++;
        const char *arg = NULL;
        size_t arglen = 0;
        while (*p == '>' || *p == '<' || *p == '!' || *p == ',' || (*p >= '0' && *p <= '9'))
            p++; /* modifiers: the final value is what we have */
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (end == NULL)
                break;
            arg = p + 1;
            arglen = (size_t)(end - arg);
            p = end + 1;
            if (*p == '\0')
                break;
        }
        directive(o, l, a, *p, arg, arglen);
    }
}

void gw_log_access(struct gw_log *l, const struct gw_access *a)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n_access; i++) {
        char buf[LINE_MAX_BYTES];
        struct out o = {buf, 0, sizeof buf};
        format_line(&o, l, l->custom[i].format, a);
        buf[o.n++] = '\n';
        put(l->access[i].fd, buf, o.n);
    }
}

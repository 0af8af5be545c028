/* fcgic: from the command line to the FastCGI params — the URL, the request
 * headers and body length, the mapping (fcgic_env_map), the build
 * (fcgic_env_build), the ProxyFCGISetEnvIf rules (fcgic_setenvif_apply) and
 * the raw --param overrides. */
#include "fcgic.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_SNAP 12

struct req_env {
    struct fcgic_env *env;
    struct fcgic_env_map *map;
    struct fcgic_setenvif *rules;
    struct fcgic_expr_ctx *ctx;

    char *host;        /* Host header value from the URL, NULL if none */
    char *map_target;  /* BACKEND as the mapping's target */
    int https;
    char *target;      /* origin-form request target */
    char *path_dec;    /* decoded path (ap_expr REQUEST_URI) */
    const char *query; /* into target, "" if none */
    char *the_request;
    const char *method;
    const char *protocol; /* SERVER_PROTOCOL: HTTP/1.1, or HTTP/1.0 with -0 */

    struct fcgic_param *headers;
    size_t n_headers;
    struct fcgic_param *vars;
    size_t n_vars;
    char clen[32];
    enum fcgic_env_pathinfo pathinfo;

    long long body_len; /* -1 = no body */
    int body_fd;        /* -1 unless streamed from a file */
    long long body_off; /* where the body starts in body_fd (--repeat rewinds there) */
    int body_fd_owned;
    int data_fd;        /* FILTER: --data-file */

    /* values the ap_expr variables read, copied before the rules run */
    struct { const char *name; char *value; } snap[N_SNAP];
    char *time_buf;
};

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Split the URL; returns EXIT_OK or EXIT_USAGE with a message. */
static int parse_url(struct req_env *re, const struct cli *cli, const char *url)
{
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) {
            msg_error(cli, "backend %s: invalid URL \"%s\": space or control character (percent-encode it)", cli->backend, url);
            return EXIT_USAGE;
        }
    const char *rest;
    re->https = 0;
    if (strncasecmp(url, "http://", 7) == 0)
        rest = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0) {
        rest = url + 8;
        re->https = 1;
    } else if (url[0] == '/') {
        rest = NULL;
    } else {
        msg_error(cli, "backend %s: invalid URL \"%s\": expected http://host[:port]/path or https://...", cli->backend, url);
        return EXIT_USAGE;
    }
    const char *path = url;
    if (rest) {
        size_t al = strcspn(rest, "/?#");
        const char *auth = rest, *aend = rest + al;
        if (al == 0) {
            msg_error(cli, "backend %s: invalid URL \"%s\": empty host", cli->backend, url);
            return EXIT_USAGE;
        }
        if (memchr(auth, '@', al)) {
            msg_error(cli, "backend %s: invalid URL \"%s\": user info is not supported (send -H 'Authorization: ...')", cli->backend, url);
            return EXIT_USAGE;
        }
        const char *hend = aend;
        if (auth[0] == '[') {
            const char *rb = memchr(auth, ']', al);
            if (rb == NULL || rb == auth + 1) {
                msg_error(cli, "backend %s: invalid URL \"%s\": bad IPv6 literal", cli->backend, url);
                return EXIT_USAGE;
            }
            for (const char *c = auth + 1; c < rb; c++)
                if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.') {
                    msg_error(cli, "backend %s: invalid URL \"%s\": bad IPv6 literal", cli->backend, url);
                    return EXIT_USAGE;
                }
            hend = rb + 1;
            if (hend != aend && *hend != ':') {
                msg_error(cli, "backend %s: invalid URL \"%s\": junk after the IPv6 literal", cli->backend, url);
                return EXIT_USAGE;
            }
        } else {
            const char *colon = memchr(auth, ':', al);
            if (colon)
                hend = colon;
            for (const char *c = auth; c < hend; c++)
                if (!isalnum((unsigned char)*c) && !strchr("-._~!$&'()*+,;=%", *c)) {
                    msg_error(cli, "backend %s: invalid URL \"%s\": bad character in the host", cli->backend, url);
                    return EXIT_USAGE;
                }
            if (hend == auth) {
                msg_error(cli, "backend %s: invalid URL \"%s\": empty host", cli->backend, url);
                return EXIT_USAGE;
            }
        }
        if (hend != aend) { /* :port */
            const char *d = hend + 1;
            unsigned long port = 0;
            if (d == aend) {
                msg_error(cli, "backend %s: invalid URL \"%s\": empty port", cli->backend, url);
                return EXIT_USAGE;
            }
            for (; d < aend; d++) {
                if (!isdigit((unsigned char)*d) || (port = port * 10 + (unsigned)(*d - '0')) > 65535) {
                    msg_error(cli, "backend %s: invalid URL \"%s\": bad port", cli->backend, url);
                    return EXIT_USAGE;
                }
            }
            if (port == 0) {
                msg_error(cli, "backend %s: invalid URL \"%s\": bad port", cli->backend, url);
                return EXIT_USAGE;
            }
        }
        re->host = dupn(auth, al);
        if (re->host == NULL)
            return EXIT_LOCAL;
        path = aend;
    }
    size_t tl = strcspn(path, "#");
    if (tl == 0 || path[0] == '?') { /* "http://h" or "http://h?q" */
        re->target = malloc(tl + 2);
        if (re->target == NULL)
            return EXIT_LOCAL;
        re->target[0] = '/';
        memcpy(re->target + 1, path, tl);
        re->target[tl + 1] = '\0';
    } else if ((re->target = dupn(path, tl)) == NULL)
        return EXIT_LOCAL;
    char *q = strchr(re->target, '?');
    re->query = q ? q + 1 : "";
    size_t pl = q ? (size_t)(q - re->target) : strlen(re->target);
    re->path_dec = malloc(pl + 1);
    if (re->path_dec == NULL)
        return EXIT_LOCAL;
    size_t o = 0;
    for (size_t i = 0; i < pl; i++) {
        int h1, h2;
        if (re->target[i] == '%' && i + 2 < pl + 1 && (h1 = hexv(re->target[i + 1])) >= 0 &&
            (h2 = hexv(re->target[i + 2])) >= 0) {
            re->path_dec[o++] = (char)(h1 * 16 + h2);
            i += 2;
        } else
            re->path_dec[o++] = re->target[i];
    }
    re->path_dec[o] = '\0';
    return EXIT_OK;
}

static const struct cli_pair *user_header(const struct cli *cli, const char *name)
{
    const struct cli_pair *found = NULL;
    for (size_t i = 0; i < cli->n_headers; i++)
        if (cli->headers[i].name_len == strlen(name) &&
            strncasecmp(cli->headers[i].name, name, cli->headers[i].name_len) == 0)
            found = &cli->headers[i];
    return found;
}

static int push_header(struct req_env *re, const char *n, size_t nl, const char *v, size_t vl)
{
    struct fcgic_param *p = realloc(re->headers, (re->n_headers + 1) * sizeof *p);
    if (p == NULL)
        return -1;
    re->headers = p;
    p[re->n_headers].name = n;
    p[re->n_headers].name_len = nl;
    p[re->n_headers].value = v;
    p[re->n_headers].value_len = vl;
    re->n_headers++;
    return 0;
}

static int push_var(struct req_env *re, const char *n, size_t nl, const char *v, size_t vl)
{
    struct fcgic_param *p = realloc(re->vars, (re->n_vars + 1) * sizeof *p);
    if (p == NULL)
        return -1;
    re->vars = p;
    p[re->n_vars].name = n;
    p[re->n_vars].name_len = nl;
    p[re->n_vars].value = v;
    p[re->n_vars].value_len = vl;
    re->n_vars++;
    return 0;
}

/* Open the body and learn its length without loading it. A pipe of unknown
 * length is copied to an unlinked temporary file first (bounded memory), since
 * CGI needs CONTENT_LENGTH. */
static int open_body(struct req_env *re, const struct cli *cli)
{
    re->body_len = -1;
    re->body_fd = -1;
    if (cli->body == CLI_BODY_NONE)
        return EXIT_OK;
    if (cli->body == CLI_BODY_LITERAL) {
        re->body_len = (long long)strlen(cli->body_arg);
        return EXIT_OK;
    }
    int fd = 0;
    if (cli->body == CLI_BODY_FILE) {
        fd = open(cli->body_arg, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            msg_error(cli, "backend %s: cannot open request body file \"%s\": %s", cli->backend, cli->body_arg, strerror(errno));
            return EXIT_LOCAL;
        }
        re->body_fd_owned = 1;
    }
    re->body_fd = fd;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        off_t pos = lseek(fd, 0, SEEK_CUR);
        re->body_off = pos > 0 ? (long long)pos : 0;
        re->body_len = st.st_size > re->body_off ? (long long)st.st_size - re->body_off : 0;
        return EXIT_OK;
    }
    /* The user says how long it is: stream as it comes (once: --repeat
     * needs the bytes again, so it spools). */
    if (user_header(cli, "Content-Length") != NULL && cli->repeat <= 1)
        return EXIT_OK;
    FILE *tmp = tmpfile();
    if (tmp == NULL) {
        msg_error(cli, "backend %s: cannot create a temporary file for the request body: %s", cli->backend, strerror(errno));
        return EXIT_LOCAL;
    }
    char buf[65536];
    long long total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            msg_error(cli, "backend %s: cannot read the request body: %s", cli->backend, strerror(errno));
            fclose(tmp);
            return EXIT_LOCAL;
        }
        if (n == 0)
            break;
        if (fwrite(buf, 1, (size_t)n, tmp) != (size_t)n) {
            msg_error(cli, "backend %s: cannot spool the request body: %s", cli->backend, strerror(errno));
            fclose(tmp);
            return EXIT_LOCAL;
        }
        total += n;
    }
    if (fflush(tmp) != 0) {
        msg_error(cli, "backend %s: cannot spool the request body: %s", cli->backend, strerror(errno));
        fclose(tmp);
        return EXIT_LOCAL;
    }
    int nfd = dup(fileno(tmp));
    fclose(tmp);
    if (nfd < 0 || lseek(nfd, 0, SEEK_SET) != 0) {
        msg_error(cli, "backend %s: cannot spool the request body: %s", cli->backend, strerror(errno));
        if (nfd >= 0)
            close(nfd);
        return EXIT_LOCAL;
    }
    if (re->body_fd_owned)
        close(re->body_fd);
    re->body_fd = nfd;
    re->body_fd_owned = 1;
    re->body_len = total;
    return EXIT_OK;
}

/* ---- ap_expr data for ProxyFCGISetEnvIf ---- */

static const char *snap_get(const struct req_env *re, const char *name)
{
    for (size_t i = 0; i < N_SNAP; i++)
        if (re->snap[i].name && strcmp(re->snap[i].name, name) == 0)
            return re->snap[i].value ? re->snap[i].value : "";
    return "";
}

static int span_str(struct fcgic_span *v, const char *s)
{
    v->ptr = s;
    v->len = strlen(s);
    return v->len ? 0 : FCGIC_E_NOT_FOUND;
}

static int header_lookup(struct req_env *re, const char *name, size_t nl, struct fcgic_span *value)
{
    for (size_t i = 0; i < re->n_headers; i++)
        if (re->headers[i].name_len == nl && strncasecmp(re->headers[i].name, name, nl) == 0) {
            value->ptr = re->headers[i].value;
            value->len = re->headers[i].value_len;
            return 0;
        }
    return FCGIC_E_NOT_FOUND;
}

static int x_lookup(void *ud, int src, int var, const char *name, size_t name_len, struct fcgic_span *value)
{
    struct req_env *re = ud;
    if (src == FCGIC_EXPR_SRC_HEADER)
        return header_lookup(re, name, name_len, value);
    if (src == FCGIC_EXPR_SRC_OSENV)
        return FCGIC_E_NOTSUP;
    if (src != FCGIC_EXPR_SRC_VAR)
        return FCGIC_E_NOT_FOUND;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    switch (var) {
    case FCGIC_EXPR_V_REQUEST_METHOD: return span_str(value, re->method);
    case FCGIC_EXPR_V_REQUEST_SCHEME: return span_str(value, re->https ? "https" : "http");
    case FCGIC_EXPR_V_REQUEST_URI:
    case FCGIC_EXPR_V_DOCUMENT_URI: return span_str(value, re->path_dec);
    case FCGIC_EXPR_V_QUERY_STRING: return span_str(value, re->query);
    case FCGIC_EXPR_V_THE_REQUEST: return span_str(value, re->the_request);
    case FCGIC_EXPR_V_REQUEST_FILENAME:
    case FCGIC_EXPR_V_SCRIPT_FILENAME: return span_str(value, snap_get(re, "SCRIPT_FILENAME"));
    case FCGIC_EXPR_V_REMOTE_HOST:
    case FCGIC_EXPR_V_REMOTE_ADDR:
    case FCGIC_EXPR_V_CONN_REMOTE_ADDR: return span_str(value, snap_get(re, "REMOTE_ADDR"));
    case FCGIC_EXPR_V_REMOTE_PORT: return span_str(value, snap_get(re, "REMOTE_PORT"));
    case FCGIC_EXPR_V_REMOTE_USER: return span_str(value, snap_get(re, "REMOTE_USER"));
    case FCGIC_EXPR_V_AUTH_TYPE: return span_str(value, snap_get(re, "AUTH_TYPE"));
    case FCGIC_EXPR_V_SERVER_ADMIN: return span_str(value, snap_get(re, "SERVER_ADMIN"));
    case FCGIC_EXPR_V_SERVER_NAME: return span_str(value, snap_get(re, "SERVER_NAME"));
    case FCGIC_EXPR_V_SERVER_PORT: return span_str(value, snap_get(re, "SERVER_PORT"));
    case FCGIC_EXPR_V_SERVER_PROTOCOL: return span_str(value, re->protocol);
    case FCGIC_EXPR_V_SERVER_SOFTWARE: return span_str(value, snap_get(re, "SERVER_SOFTWARE"));
    case FCGIC_EXPR_V_PATH_INFO: return span_str(value, snap_get(re, "PATH_INFO"));
    case FCGIC_EXPR_V_DOCUMENT_ROOT: return span_str(value, snap_get(re, "DOCUMENT_ROOT"));
    case FCGIC_EXPR_V_CONTEXT_PREFIX: return span_str(value, snap_get(re, "CONTEXT_PREFIX"));
    case FCGIC_EXPR_V_CONTEXT_DOCUMENT_ROOT: return span_str(value, snap_get(re, "CONTEXT_DOCUMENT_ROOT"));
    case FCGIC_EXPR_V_IS_SUBREQ: return span_str(value, "false");
    case FCGIC_EXPR_V_HTTPS: return span_str(value, re->https ? "on" : "off");
    case FCGIC_EXPR_V_IPV6: return span_str(value, strchr(snap_get(re, "REMOTE_ADDR"), ':') ? "on" : "off");
    case FCGIC_EXPR_V_HTTP2: return span_str(value, "off");
    case FCGIC_EXPR_V_HANDLER: return span_str(value, "proxy-server");
    case FCGIC_EXPR_V_CONTENT_TYPE: return header_lookup(re, "Content-Type", 12, value);
    case FCGIC_EXPR_V_HTTP_USER_AGENT: return header_lookup(re, "User-Agent", 10, value);
    case FCGIC_EXPR_V_HTTP_PROXY_CONNECTION: return header_lookup(re, "Proxy-Connection", 16, value);
    case FCGIC_EXPR_V_HTTP_REFERER: return header_lookup(re, "Referer", 7, value);
    case FCGIC_EXPR_V_HTTP_COOKIE: return header_lookup(re, "Cookie", 6, value);
    case FCGIC_EXPR_V_HTTP_FORWARDED: return header_lookup(re, "Forwarded", 9, value);
    case FCGIC_EXPR_V_HTTP_HOST: return header_lookup(re, "Host", 4, value);
    case FCGIC_EXPR_V_HTTP_ACCEPT: return header_lookup(re, "Accept", 6, value);
    case FCGIC_EXPR_V_API_VERSION: return span_str(value, "20120211");
    default: break;
    }
    int n = -1;
    switch (var) {
    case FCGIC_EXPR_V_TIME_YEAR: n = tm.tm_year + 1900; break;
    case FCGIC_EXPR_V_TIME_MON: n = tm.tm_mon + 1; break;
    case FCGIC_EXPR_V_TIME_DAY: n = tm.tm_mday; break;
    case FCGIC_EXPR_V_TIME_HOUR: n = tm.tm_hour; break;
    case FCGIC_EXPR_V_TIME_MIN: n = tm.tm_min; break;
    case FCGIC_EXPR_V_TIME_SEC: n = tm.tm_sec; break;
    case FCGIC_EXPR_V_TIME_WDAY: n = tm.tm_wday; break;
    case FCGIC_EXPR_V_TIME:
        snprintf(re->time_buf, 32, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        return span_str(value, re->time_buf);
    default: return FCGIC_E_NOT_FOUND;
    }
    snprintf(re->time_buf, 32, var == FCGIC_EXPR_V_TIME_YEAR ? "%d" : "%02d", n);
    return span_str(value, re->time_buf);
}

static int x_file_test(void *ud, char op, const char *path, size_t path_len)
{
    (void)ud;
    char buf[4096];
    if (path_len >= sizeof buf || memchr(path, '\0', path_len))
        return 0;
    memcpy(buf, path, path_len);
    buf[path_len] = '\0';
    struct stat st;
    if (op == 'L' || op == 'h')
        return lstat(buf, &st) == 0 && S_ISLNK(st.st_mode);
    if (stat(buf, &st) != 0)
        return 0;
    switch (op) {
    case 'd': return S_ISDIR(st.st_mode);
    case 'e': return 1;
    case 'f':
    case 'F': return S_ISREG(st.st_mode);
    case 's': return S_ISREG(st.st_mode) && st.st_size > 0;
    case 'x': return access(buf, X_OK) == 0;
    default: return 0;
    }
}

/* ---- public ---- */

int req_env_new(struct req_env **out, const struct cli *cli, const char **unused)
{
    (void)unused;
    struct req_env *re = calloc(1, sizeof *re);
    if (re == NULL)
        return EXIT_LOCAL;
    *out = re;
    re->body_fd = -1;
    re->body_len = -1;
    re->data_fd = -1;
    re->time_buf = calloc(1, 32);
    if (re->time_buf == NULL)
        return EXIT_LOCAL;
    int rc;
    re->protocol = cli->http10 ? "HTTP/1.0" : "HTTP/1.1";
    if (cli->url == NULL) { /* --get-values alone */
        re->method = "GET";
        return EXIT_OK;
    }
    if ((rc = parse_url(re, cli, cli->url)) != EXIT_OK)
        return rc;
    if (cli->https >= 0)
        re->https = cli->https;
    re->method = cli->method ? cli->method : cli->body != CLI_BODY_NONE ? "POST" : "GET";
    if (cli->absolute_form && re->host) {
        size_t al = strlen(re->host) + strlen(re->target) + 9;
        char *abs = malloc(al);
        if (abs == NULL)
            return EXIT_LOCAL;
        snprintf(abs, al, "%s://%s%s", re->https ? "https" : "http", re->host, re->target);
        free(re->target);
        re->target = abs;
        re->query = strchr(abs, '?') ? strchr(abs, '?') + 1 : "";
    }
    size_t trl = strlen(re->method) + strlen(re->target) + 12;
    if ((re->the_request = malloc(trl)) == NULL)
        return EXIT_LOCAL;
    snprintf(re->the_request, trl, "%s %s %s", re->method, re->target, re->protocol);

    /* The target as the mapping sees it. */
    /* Default mapping "ProxyPass / BACKEND": a BACKEND without a path gets
     * "/" (Apache would glue the URL path to the port); a bare unix: socket
     * gets Apache's "|fcgi://localhost/". */
    const char *bar = strchr(cli->backend, '|');
    if (strncasecmp(cli->backend, "unix:", 5) == 0 && bar == NULL) {
        size_t l = strlen(cli->backend) + 20;
        if ((re->map_target = malloc(l)) == NULL)
            return EXIT_LOCAL;
        snprintf(re->map_target, l, "%s|fcgi://localhost%s", cli->backend, cli->map_given ? "" : "/");
    } else {
        const char *fu = bar ? bar + 1 : cli->backend;
        const char *auth = strstr(fu, "://");
        int has_path = auth && strchr(auth + 3, '/') != NULL;
        size_t l = strlen(cli->backend) + 2;
        if ((re->map_target = malloc(l)) == NULL)
            return EXIT_LOCAL;
        snprintf(re->map_target, l, "%s%s", cli->backend, !cli->map_given && auth && !has_path ? "/" : "");
    }
    struct fcgic_env_target t;
    if (fcgic_env_parse_target(re->map_target, strlen(re->map_target), &t) != 0) {
        msg_error(cli, "invalid BACKEND \"%s\": expected fcgi://host:port[/path] or "
                       "unix:/path.sock|fcgi://host[/path]",
                  cli->backend);
        return EXIT_USAGE;
    }
    struct fcgic_posix_addr pa;
    const char *detail = NULL;
    if (fcgic_posix_addr_parse(cli->backend, &pa, &detail) != 0) {
        msg_error(cli, "invalid BACKEND \"%s\": %s", cli->backend, detail ? detail : "malformed address");
        return EXIT_USAGE;
    }

    if ((rc = open_body(re, cli)) != EXIT_OK)
        return rc;

    /* Headers: Host, the user's in order, then Content-Type / Content-Length. */
    const struct cli_pair *uh = user_header(cli, "Host");
    if (uh == NULL && re->host && push_header(re, "Host", 4, re->host, strlen(re->host)) != 0)
        return EXIT_LOCAL;
    if (uh && uh->value && push_header(re, uh->name, uh->name_len, uh->value, uh->value_len) != 0)
        return EXIT_LOCAL;
    for (size_t i = 0; i < cli->n_headers; i++) {
        const struct cli_pair *h = &cli->headers[i];
        if (h->value == NULL || (h->name_len == 4 && strncasecmp(h->name, "Host", 4) == 0))
            continue;
        if (push_header(re, h->name, h->name_len, h->value, h->value_len) != 0)
            return EXIT_LOCAL;
    }
    if (cli->body != CLI_BODY_NONE) {
        if (user_header(cli, "Content-Type") == NULL &&
            push_header(re, "Content-Type", 12, "application/x-www-form-urlencoded", 33) != 0)
            return EXIT_LOCAL;
        if (user_header(cli, "Content-Length") == NULL && re->body_len >= 0) {
            snprintf(re->clen, sizeof re->clen, "%lld", re->body_len);
            if (push_header(re, "Content-Length", 14, re->clen, strlen(re->clen)) != 0)
                return EXIT_LOCAL;
        }
    }

    /* proxy-fcgi-pathinfo as SetEnvIf sets it (post-read-request, so it is
     * sent first and picks the strategy), then SetEnv (mod_env runs in the
     * fixups: too late for mod_proxy_fcgi to read the strategy from it). */
    re->pathinfo = FCGIC_ENV_PATHINFO_DEFAULT;
    if (cli->pathinfo) {
        re->pathinfo = fcgic_env_pathinfo_parse(cli->pathinfo, strlen(cli->pathinfo));
        if (re->pathinfo == FCGIC_ENV_PATHINFO_DEFAULT)
            re->pathinfo = FCGIC_ENV_PATHINFO_NONE;
        if (*cli->pathinfo && push_var(re, "proxy-fcgi-pathinfo", 19, cli->pathinfo, strlen(cli->pathinfo)) != 0)
            return EXIT_LOCAL;
    }
    for (size_t i = 0; i < cli->n_setenv; i++) {
        const struct cli_pair *v = &cli->setenv[i];
        if (push_var(re, v->name, v->name_len, v->value, v->value_len) != 0)
            return EXIT_LOCAL;
    }

    /* The mapping. */
    struct fcgic_env_map_config mc;
    memset(&mc, 0, sizeof mc);
    mc.kind = cli->map_kind;
    mc.match = cli->match;
    mc.target = re->map_target;
    mc.backend = cli->backend_type;
    mc.pathinfo = FCGIC_ENV_PATHINFO_NONE;
    mc.encoded_slashes = cli->encoded_slashes;
    mc.flags = cli->map_flags;
    mc.server_name = cli->server_name;
    mc.server_port = cli->server_port;
    mc.server_admin = cli->server_admin;
    mc.document_root = cli->document_root;
    mc.context_prefix = cli->context_prefix;
    mc.context_document_root = cli->context_document_root;
    mc.server_software = cli->server_software ? cli->server_software : "fcgic";
    mc.server_signature = cli->server_signature;
    mc.path_env = cli->path_env;
    mc.directory_index = cli->dir_index;
    mc.n_directory_index = cli->n_dir_index;
    mc.stat = fcgic_env_stat_posix;
    if (getenv("FCGIC_NO_JIT"))
        mc.flags |= FCGIC_ENV_NO_JIT; /* valgrind cannot follow JIT code */
    rc = fcgic_env_map_new(&re->map, &mc, NULL);
    if (rc != 0) {
        msg_error(cli, "backend %s: cannot use the mapping %s \"%s\": %s", cli->backend,
                  cli->map_kind == FCGIC_ENV_MAP_PREFIX  ? "--proxy-pass"
                  : cli->map_kind == FCGIC_ENV_MAP_REGEX ? "--proxy-pass-match"
                                                         : "--set-handler",
                  cli->match ? cli->match : "", fcgic_strerror(rc));
        return rc == FCGIC_E_NOMEM ? EXIT_LOCAL : EXIT_USAGE;
    }
    if ((rc = fcgic_env_new(&re->env, NULL)) != 0)
        return EXIT_LOCAL;

    /* ProxyFCGISetEnvIf rules. */
    if (cli->n_rules) {
        /* FCGIC_NO_JIT=1: no PCRE2 JIT (valgrind cannot follow JIT code) */
        struct fcgic_expr_limits lim;
        memset(&lim, 0, sizeof lim);
        lim.no_jit = getenv("FCGIC_NO_JIT") != NULL;
        if (fcgic_setenvif_new(&re->rules, &lim, NULL) != 0 || fcgic_expr_ctx_new(&re->ctx, &lim, NULL) != 0)
            return EXIT_LOCAL;
        for (size_t i = 0; i < cli->n_rules; i++) {
            const char *a = cli->rules[i].assign;
            const char *eq = strchr(a, '=');
            char *name = dupn(a, eq ? (size_t)(eq - a) : strlen(a));
            if (name == NULL)
                return EXIT_LOCAL;
            const char *argv[3] = {cli->rules[i].cond, name, eq ? eq + 1 : NULL};
            char label[48];
            snprintf(label, sizeof label, "--setenvif #%zu", i + 1);
            struct fcgic_expr_error err;
            memset(&err, 0, sizeof err);
            rc = fcgic_setenvif_add(re->rules, eq ? 3 : 2, argv, label, &err);
            free(name);
            if (rc != 0) {
                msg_error(cli, "backend %s: --setenvif #%zu \"%s\" \"%s\": %s", cli->backend, i + 1,
                          cli->rules[i].cond, a, err.message[0] ? err.message : fcgic_strerror(rc));
                return rc == FCGIC_E_NOMEM ? EXIT_LOCAL : EXIT_USAGE;
            }
        }
    }
    return EXIT_OK;
}

int req_env_build(struct req_env *re, const struct cli *cli)
{
    int rc;
    if (re->env == NULL && (rc = fcgic_env_new(&re->env, NULL)) != 0)
        return EXIT_LOCAL;
    fcgic_env_clear(re->env);
    if (!cli->raw_params && cli->url) {
        struct fcgic_env_request r;
        memset(&r, 0, sizeof r);
        r.method.ptr = re->method;
        r.method.len = strlen(re->method);
        r.target.ptr = re->target;
        r.target.len = strlen(re->target);
        r.protocol.ptr = re->protocol;
        r.protocol.len = strlen(re->protocol);
        r.headers = re->headers;
        r.n_headers = re->n_headers;
        r.vars = re->vars;
        r.n_vars = re->n_vars;
        const char *ra = cli->remote_addr ? cli->remote_addr : "127.0.0.1";
        const char *sa = cli->server_addr ? cli->server_addr : "127.0.0.1";
        r.remote_addr.ptr = ra;
        r.remote_addr.len = strlen(ra);
        r.remote_port = cli->remote_port;
        r.server_addr.ptr = sa;
        r.server_addr.len = strlen(sa);
        r.https = re->https;
        r.pathinfo = re->pathinfo;
        if (re->body_len >= 0) {
            r.has_body_length = 1;
            r.body_length = (unsigned long long)re->body_len;
        }
        if (cli->remote_user) {
            r.remote_user.ptr = cli->remote_user;
            r.remote_user.len = strlen(cli->remote_user);
        }
        if (cli->auth_type) {
            r.auth_type.ptr = cli->auth_type;
            r.auth_type.len = strlen(cli->auth_type);
        }
        rc = fcgic_env_build(re->env, re->map, &r);
        if (rc != 0) {
            const char *why = rc == FCGIC_E_NOT_FOUND ? "the mapping does not apply to this URL (Apache: not proxied)"
                                                      : fcgic_strerror(rc);
            msg_error(cli, "backend %s: cannot build the environment for %s: %s (%s)", cli->backend, cli->url,
                      why, fcgic_strerror_name(rc));
            return rc == FCGIC_E_NOMEM ? EXIT_LOCAL : EXIT_ENV;
        }
        if (re->rules) {
            static const char *const names[N_SNAP] = {
                "SCRIPT_FILENAME", "REMOTE_ADDR", "REMOTE_PORT", "REMOTE_USER", "AUTH_TYPE", "SERVER_ADMIN",
                "SERVER_NAME", "SERVER_PORT", "SERVER_SOFTWARE", "PATH_INFO", "DOCUMENT_ROOT", "CONTEXT_PREFIX"};
            for (size_t i = 0; i < N_SNAP; i++) {
                struct fcgic_span v;
                free(re->snap[i].value);
                re->snap[i].name = names[i];
                re->snap[i].value = NULL;
                if (fcgic_env_get(re->env, names[i], strlen(names[i]), &v) == 0 &&
                    (re->snap[i].value = dupn(v.ptr ? v.ptr : "", v.len)) == NULL)
                    return EXIT_LOCAL;
            }
            struct fcgic_expr_vars xv = {.version = FCGIC_EXPR_VARS_VERSION, .ud = re, .lookup = x_lookup, .file_test = x_file_test};
            struct fcgic_expr_env xe;
            fcgic_env_expr_env(re->env, &xe);
            fcgic_expr_ctx_reset(re->ctx, &xv, &xe);
            const struct fcgic_setenvif *lists[1] = {re->rules};
            size_t failed = 0;
            rc = fcgic_setenvif_apply(lists, 1, re->ctx, &failed);
            if (rc != 0) {
                msg_error(cli, "backend %s: --setenvif #%zu failed: %s (%s)", cli->backend, failed + 1,
                          fcgic_strerror(rc), fcgic_strerror_name(rc));
                return rc == FCGIC_E_NOMEM ? EXIT_LOCAL : EXIT_ENV;
            }
        }
    }
    if (cli->data_file) {
        struct stat st;
        if (re->data_fd < 0 && (re->data_fd = open(cli->data_file, O_RDONLY | O_CLOEXEC)) < 0) {
            msg_error(cli, "backend %s: cannot open the FILTER data file \"%s\": %s", cli->backend, cli->data_file, strerror(errno));
            return EXIT_LOCAL;
        }
        if (fstat(re->data_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            msg_error(cli, "backend %s: the FILTER data file \"%s\" must be a regular file", cli->backend, cli->data_file);
            return EXIT_USAGE;
        }
        char len[32], mod[32];
        snprintf(len, sizeof len, "%lld", (long long)st.st_size);
        snprintf(mod, sizeof mod, "%lld", (long long)st.st_mtime);
        struct fcgic_span v;
        if ((fcgic_env_get(re->env, "FCGI_DATA_LENGTH", 16, &v) != 0 &&
             fcgic_env_set(re->env, "FCGI_DATA_LENGTH", 16, len, strlen(len), FCGIC_ENV_ORIGIN_RAW,
                           "--data-file: size of the FILTER data") != 0) ||
            (fcgic_env_get(re->env, "FCGI_DATA_LAST_MOD", 18, &v) != 0 &&
             fcgic_env_set(re->env, "FCGI_DATA_LAST_MOD", 18, mod, strlen(mod), FCGIC_ENV_ORIGIN_RAW,
                           "--data-file: modification time of the FILTER data") != 0))
            return EXIT_LOCAL;
    }
    for (size_t i = 0; i < cli->n_params; i++) {
        const struct cli_pair *p = &cli->params[i];
        if (p->value == NULL)
            rc = fcgic_env_unset(re->env, p->name, p->name_len);
        else
            rc = fcgic_env_set(re->env, p->name, p->name_len, p->value, p->value_len, FCGIC_ENV_ORIGIN_RAW,
                               "--param");
        if (rc != 0) {
            msg_error(cli, "backend %s: --param %.*s: %s", cli->backend, (int)p->name_len, p->name,
                      fcgic_strerror(rc));
            return rc == FCGIC_E_NOMEM ? EXIT_LOCAL : EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

void req_env_free(struct req_env *re)
{
    if (re == NULL)
        return;
    fcgic_env_free(re->env);
    fcgic_env_map_free(re->map);
    fcgic_setenvif_free(re->rules);
    fcgic_expr_ctx_free(re->ctx);
    free(re->host);
    free(re->map_target);
    free(re->target);
    free(re->path_dec);
    free(re->the_request);
    free(re->headers);
    free(re->vars);
    free(re->time_buf);
    for (size_t i = 0; i < N_SNAP; i++)
        free(re->snap[i].value);
    if (re->body_fd_owned && re->body_fd >= 0)
        close(re->body_fd);
    if (re->data_fd >= 0)
        close(re->data_fd);
    free(re);
}

const struct fcgic_env *req_env_env(const struct req_env *re) { return re->env; }
const char *req_env_method(const struct req_env *re) { return re->method; }
long long req_env_body_length(const struct req_env *re) { return re->body_len; }
int req_env_body_fd(const struct req_env *re) { return re->body_fd; }
int req_env_body_rewind(const struct req_env *re)
{
    return re->body_fd >= 0 && lseek(re->body_fd, (off_t)re->body_off, SEEK_SET) < 0 ? -1 : 0;
}
int req_env_data_fd(const struct req_env *re) { return re->data_fd; }

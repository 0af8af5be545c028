/* Conditions on a request: map-to-storage, ap_expr variables, Require
 * (access.h). */
#include "access.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- map to storage ---- */

/* Append the decoded path to out without "." / ".." segments or empty
 * ones ("//"); ".." above the root stays at the root. */
static size_t append_normalized(char *out, size_t o, size_t cap, const char *p, size_t n)
{
    size_t root = o;
    for (size_t i = 0; i < n;) {
        while (i < n && p[i] == '/')
            i++;
        size_t s = i;
        while (i < n && p[i] != '/')
            i++;
        size_t len = i - s;
        if (len == 0 || (len == 1 && p[s] == '.'))
            continue;
        if (len == 2 && p[s] == '.' && p[s + 1] == '.') {
            while (o > root && out[o - 1] != '/')
                o--;
            if (o > root)
                o--;
            continue;
        }
        if (o + 1 + len >= cap)
            break;
        out[o++] = '/';
        memcpy(out + o, p + s, len);
        o += len;
    }
    out[o] = '\0';
    return o;
}

static enum fcgic_env_file_type file_type(const char *path, size_t len)
{
    enum fcgic_env_file_type t = FCGIC_ENV_FILE_NONE;
    fcgic_env_stat_posix(NULL, path, len, &t);
    return t;
}

/* Walk from DocumentRoot: stop at the first component that is not a
 * directory. */
static void walk(struct gw_storage *s, size_t root_len, size_t full_len)
{
    size_t end = root_len;
    s->type = FCGIC_ENV_FILE_DIRECTORY;
    while (end < full_len) {
        size_t next = end + 1;
        while (next < full_len && s->filename[next] != '/')
            next++;
        char saved = s->filename[next];
        s->filename[next] = '\0';
        s->type = file_type(s->filename, next);
        s->filename[next] = saved;
        end = next;
        if (s->type != FCGIC_ENV_FILE_DIRECTORY)
            break;
    }
    s->len = end;
    s->filename[end] = '\0';
    s->root = root_len;
    s->walked = end;
}

static void try_index(struct gw_storage *s, const char *const *index, size_t n_index)
{
    for (size_t i = 0; i < n_index; i++) {
        size_t n = strlen(index[i]);
        if (s->len + 1 + n >= sizeof s->filename)
            continue;
        s->filename[s->len] = '/';
        memcpy(s->filename + s->len + 1, index[i], n + 1);
        if (file_type(s->filename, s->len + 1 + n) == FCGIC_ENV_FILE_REGULAR) {
            s->len += 1 + n;
            s->type = FCGIC_ENV_FILE_REGULAR;
            return;
        }
    }
    s->filename[s->len] = '\0';
}

void gw_storage_resolve(const struct gw_server *srv, const char *const *index, size_t n_index, const char *dpath,
                        size_t dlen, struct gw_storage *out)
{
    memset(out, 0, sizeof *out);
    if (srv->document_root == NULL)
        return;
    size_t root = strlen(srv->document_root);
    if (root + 2 >= sizeof out->filename)
        return;
    memcpy(out->filename, srv->document_root, root);
    size_t full = append_normalized(out->filename, root, sizeof out->filename, dpath, dlen);
    walk(out, root, full);
    if (out->type == FCGIC_ENV_FILE_DIRECTORY && out->len == full)
        try_index(out, index, n_index);
    if (out->type == FCGIC_ENV_FILE_DIRECTORY) {
        out->dir_len = out->len;
        out->base = out->len;
        return;
    }
    const char *slash = strrchr(out->filename, '/');
    out->dir_len = slash ? (size_t)(slash - out->filename) : 0;
    out->base = slash ? out->dir_len + 1 : 0;
}

/* ---- ap_expr variables of a request ---- */

static int header(const struct gw_http_request *r, const char *name, size_t len, struct fcgic_span *v)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (r->headers[i].name_len == len && strncasecmp(r->headers[i].name, name, len) == 0) {
            *v = (struct fcgic_span){r->headers[i].value, r->headers[i].value_len};
            return 0;
        }
    return FCGIC_E_NOT_FOUND;
}

static int span(struct fcgic_span *v, const char *s, size_t len)
{
    if (s == NULL)
        return FCGIC_E_NOT_FOUND;
    *v = (struct fcgic_span){s, len};
    return 0;
}

static int str(struct fcgic_span *v, const char *s)
{
    return s ? span(v, s, strlen(s)) : FCGIC_E_NOT_FOUND;
}

/* SERVER_NAME and SERVER_PORT as Apache (UseCanonicalName Off) has them:
 * from Host, else ServerName and 80. */
static int host_part(const struct gw_reqexpr *q, bool port, struct fcgic_span *v)
{
    const char *h = q->req->host;
    size_t n = q->req->host_len;
    if (h == NULL || n == 0)
        return port ? str(v, "80") : str(v, q->srv->server_name);
    size_t colon = n;
    for (size_t i = n; i-- > 0 && h[i] != ']';)
        if (h[i] == ':') {
            colon = i;
            break;
        }
    if (port)
        return colon < n ? span(v, h + colon + 1, n - colon - 1) : str(v, "80");
    if (colon > 1 && h[0] == '[' && h[colon - 1] == ']') {
        h++;
        colon -= 2;
    }
    static __thread char lower[256]; /* Apache lower-cases the host name */
    if (colon >= sizeof lower)
        return span(v, h, colon);
    for (size_t i = 0; i < colon; i++)
        lower[i] = h[i] >= 'A' && h[i] <= 'Z' ? (char)(h[i] + 32) : h[i];
    return span(v, lower, colon);
}

static int var(const struct gw_reqexpr *q, int var, struct fcgic_span *v)
{
    const struct gw_http_request *r = q->req;
    switch (var) {
    case FCGIC_EXPR_V_REQUEST_METHOD:
        return span(v, r->method, r->method_len);
    case FCGIC_EXPR_V_REQUEST_URI:
        return span(v, q->uri, q->uri_len);
    case FCGIC_EXPR_V_DOCUMENT_URI:
        return span(v, q->uri, q->uri_len);
    case FCGIC_EXPR_V_REQUEST_FILENAME:
    case FCGIC_EXPR_V_SCRIPT_FILENAME:
        return span(v, q->filename, q->filename_len);
    case FCGIC_EXPR_V_QUERY_STRING:
        return span(v, r->query, r->query_len);
    case FCGIC_EXPR_V_REMOTE_ADDR:
    case FCGIC_EXPR_V_CONN_REMOTE_ADDR:
        return str(v, r->client_ip);
    case FCGIC_EXPR_V_SERVER_PROTOCOL:
        return str(v, r->version == 10 ? "HTTP/1.0" : "HTTP/1.1");
    case FCGIC_EXPR_V_REQUEST_SCHEME:
        return str(v, "http");
    case FCGIC_EXPR_V_HTTPS:
        return str(v, "off");
    case FCGIC_EXPR_V_IS_SUBREQ:
        return str(v, "false");
    case FCGIC_EXPR_V_DOCUMENT_ROOT:
    case FCGIC_EXPR_V_CONTEXT_DOCUMENT_ROOT:
        return str(v, q->srv->document_root);
    case FCGIC_EXPR_V_CONTEXT_PREFIX:
        return str(v, "");
    case FCGIC_EXPR_V_SERVER_ADMIN:
        return str(v, q->srv->server_admin);
    case FCGIC_EXPR_V_SERVER_SOFTWARE:
        return str(v, "minimal_gateway");
    case FCGIC_EXPR_V_SERVER_NAME:
        return host_part(q, false, v);
    case FCGIC_EXPR_V_SERVER_PORT:
        return host_part(q, true, v);
    case FCGIC_EXPR_V_HTTP_HOST:
        return span(v, r->host, r->host_len);
    case FCGIC_EXPR_V_HTTP_USER_AGENT:
        return header(r, "User-Agent", 10, v);
    case FCGIC_EXPR_V_HTTP_REFERER:
        return header(r, "Referer", 7, v);
    case FCGIC_EXPR_V_HTTP_COOKIE:
        return header(r, "Cookie", 6, v);
    case FCGIC_EXPR_V_HTTP_ACCEPT:
        return header(r, "Accept", 6, v);
    case FCGIC_EXPR_V_HTTP_FORWARDED:
        return header(r, "Forwarded", 9, v);
    case FCGIC_EXPR_V_HTTP_PROXY_CONNECTION:
        return header(r, "Proxy-Connection", 16, v);
    case FCGIC_EXPR_V_IPV6:
        return str(v, r->client_ip && strchr(r->client_ip, ':') ? "on" : "off");
    default:
        return FCGIC_E_NOT_FOUND;
    }
}

static int lookup(void *ud, int src, int v, const char *name, size_t name_len, struct fcgic_span *value)
{
    const struct gw_reqexpr *q = ud;
    if (src == FCGIC_EXPR_SRC_VAR)
        return var(q, v, value);
    if (src == FCGIC_EXPR_SRC_HEADER)
        return header(q->req, name, name_len, value);
    return src == FCGIC_EXPR_SRC_OSENV ? FCGIC_E_NOTSUP : FCGIC_E_NOT_FOUND;
}

void gw_reqexpr_bind(struct gw_reqexpr *q, struct fcgic_expr_ctx *ctx)
{
    struct fcgic_expr_vars xv = {.version = FCGIC_EXPR_VARS_VERSION, .ud = q, .lookup = lookup, .file_test = fcgic_expr_file_test_posix};
    fcgic_expr_ctx_reset(ctx, &xv, NULL);
}

/* ---- Require ---- */

enum { DENIED = 0, GRANTED = 1, NEUTRAL = 2 };

static int eval(const struct gw_require *r, struct fcgic_expr_ctx *ctx);

/* A container: AND for RequireAll, OR for RequireAny and RequireNone
 * (negated), as mod_authz_core combines them. */
static int eval_container(const struct gw_require *r, struct fcgic_expr_ctx *ctx)
{
    bool and = r->kind == GW_AUTHZ_ALL;
    int res = NEUTRAL;
    for (size_t i = 0; i < r->n_children; i++) {
        int c = eval(r->children[i], ctx);
        if (c < 0)
            return c;
        if (c == NEUTRAL)
            continue;
        if (and&&c == DENIED)
            return DENIED;
        if (!and&&c == GRANTED) {
            res = GRANTED;
            break;
        }
        res = c;
    }
    if (r->kind == GW_AUTHZ_NONE) /* never grants by itself */
        res = res == GRANTED ? DENIED : NEUTRAL;
    return res;
}

static int eval(const struct gw_require *r, struct fcgic_expr_ctx *ctx)
{
    int res;
    switch (r->kind) {
    case GW_AUTHZ_ALL_GRANTED:
        res = GRANTED;
        break;
    case GW_AUTHZ_ALL_DENIED:
        res = DENIED;
        break;
    case GW_AUTHZ_EXPR: {
        int m = 0;
        int rc = fcgic_expr_eval_bool(r->expr, ctx, &m);
        if (rc != 0)
            return rc;
        res = m ? GRANTED : DENIED;
        break;
    }
    default:
        return eval_container(r, ctx);
    }
    if (r->negate)
        res = res == GRANTED ? DENIED : NEUTRAL;
    return res;
}

int gw_access_check(const struct gw_require *r, struct fcgic_expr_ctx *ctx)
{
    if (r == NULL)
        return 1;
    int res = eval(r, ctx);
    return res < 0 ? res : res == GRANTED;
}

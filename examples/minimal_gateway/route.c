/* Which mapping serves a request, and its CGI environment (route.h). */
#include "route.h"

#include <string.h>

#include "access.h"
#include "route_int.h"

void gw_merge(struct gw_merged *m, const struct gw_dir_conf *dc)
{
    if (dc->set & GW_DC_BACKEND)
        m->backend = dc->backend;
    if (dc->set & GW_DC_PASS_AUTH)
        m->pass_auth = dc->pass_auth;
    if (dc->set & GW_DC_PATHINFO)
        m->pathinfo = dc->pathinfo;
    if (dc->handler != GW_HANDLER_UNSET) {
        m->handler = dc->handler;
        m->handler_mapping = dc->handler_mapping;
    }
    for (size_t i = 0; i < dc->n_setenv && m->n_vars < GW_ROUTE_MAX_VARS; i++)
        m->vars[m->n_vars++] = dc->setenv[i];
    if (dc->fcgi_setenvif && m->n_rules < sizeof m->rules / sizeof m->rules[0])
        m->rules[m->n_rules++] = dc->fcgi_setenvif;
    if (dc->setenvif && m->n_sei < sizeof m->sei / sizeof m->sei[0])
        m->sei[m->n_sei++] = dc->setenvif;
    if (dc->set & GW_DC_REQUIRE)
        m->require = dc->require; /* AuthMerging Off: the later one replaces */
    if (m->n_scopes < GW_ROUTE_MAX_SCOPES)
        m->scopes[m->n_scopes++] = dc;
}

/* Apache's <Location path> test: a prefix that ends at a segment boundary
 * (or ends in '/'). */
bool gw_location_matches(const char *arg, const char *path, size_t len)
{
    size_t n = strlen(arg);
    if (n > len || memcmp(arg, path, n) != 0)
        return false;
    return n == len || arg[n - 1] == '/' || path[n] == '/';
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The URL-path Locations are matched against: percent-decoded, as Apache's
 * r->uri (a malformed escape is kept as it is: the environment builder
 * refuses the request later). */
static size_t decode_path(const char *p, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o < cap; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < len && (hi = hexval(p[i + 1])) >= 0 && (lo = hexval(p[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = p[i];
        }
    }
    return o;
}

static void merge_locations(const struct gw_server *srv, const char *path, size_t len, struct gw_merged *m)
{
    for (size_t i = 0; i < srv->n_locations; i++) {
        const struct gw_section *s = srv->locations[i];
        bool hit = s->regex ? gw_regex_match(s->regex, path, len) == 1 : gw_location_matches(s->arg, path, len);
        if (hit)
            gw_merge(m, &s->conf);
    }
}

/* ---- ProxyFCGISetEnvIf: expression variables read from the CGI environment ---- */

static int lookup(void *ud, int src, int var, const char *name, size_t name_len, struct fcgic_span *value)
{
    struct fcgic_env *env = ud;
    char key[128];
    if (src == FCGIC_EXPR_SRC_VAR) {
        const char *n = fcgic_expr_var_name(var);
        return n ? fcgic_env_get(env, n, strlen(n), value) : FCGIC_E_NOT_FOUND;
    }
    if (src == FCGIC_EXPR_SRC_HEADER && name_len + 5 < sizeof key) {
        memcpy(key, "HTTP_", 5);
        for (size_t i = 0; i < name_len; i++) {
            char c = name[i];
            key[5 + i] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
        }
        return fcgic_env_get(env, key, name_len + 5, value);
    }
    return src == FCGIC_EXPR_SRC_OSENV ? FCGIC_E_NOTSUP : FCGIC_E_NOT_FOUND;
}

/* ---- SetEnvIf: request attributes, before the environment is built ---- */

struct sei_src {
    const struct gw_http_request *req;
    char uri[8192]; /* the decoded path (Apache's r->uri) */
    size_t uri_len;
};

static int sei_lookup(void *ud, int src, int var, const char *name, size_t name_len, struct fcgic_span *value)
{
    const struct sei_src *q = ud;
    const struct gw_http_request *r = q->req;
    if (src == FCGIC_EXPR_SRC_VAR) {
        switch (var) {
        case FCGIC_EXPR_V_REQUEST_URI: *value = (struct fcgic_span){q->uri, q->uri_len}; return 0;
        case FCGIC_EXPR_V_REQUEST_METHOD: *value = (struct fcgic_span){r->method, r->method_len}; return 0;
        case FCGIC_EXPR_V_SERVER_PROTOCOL:
            *value = (struct fcgic_span){r->version == 10 ? "HTTP/1.0" : "HTTP/1.1", 8};
            return 0;
        case FCGIC_EXPR_V_REMOTE_ADDR: *value = (struct fcgic_span){r->client_ip, strlen(r->client_ip)}; return 0;
        default: return FCGIC_E_NOT_FOUND;
        }
    }
    if (src == FCGIC_EXPR_SRC_NOTE && name_len == 11 && memcmp(name, "SERVER_ADDR", 11) == 0) {
        *value = (struct fcgic_span){r->server_ip, strlen(r->server_ip)};
        return 0;
    }
    if (src == FCGIC_EXPR_SRC_HEADER) {
        for (size_t i = 0; i < r->nheaders; i++)
            if (r->headers[i].name_len == name_len && strncasecmp(r->headers[i].name, name, name_len) == 0) {
                *value = (struct fcgic_span){r->headers[i].value, r->headers[i].value_len};
                return 0;
            }
    }
    return src == FCGIC_EXPR_SRC_OSENV ? FCGIC_E_NOTSUP : FCGIC_E_NOT_FOUND;
}

/* Run SetEnvIf over the SetEnv values: the request's variables then live in
 * t->vars, and proxy-fcgi-pathinfo among them chooses the strategy. */
static int apply_setenvif(struct gw_worker_thread *t, const struct gw_http_request *req, const char *dpath,
                          size_t dlen, struct gw_merged *m)
{
    if (m->n_sei == 0)
        return 0;
    fcgic_env_clear(t->vars);
    for (size_t i = 0; i < m->n_vars; i++) {
        int rc = fcgic_env_set(t->vars, m->vars[i].name, m->vars[i].name_len, m->vars[i].value,
                               m->vars[i].value_len, FCGIC_ENV_ORIGIN_SETENV, "SetEnv");
        if (rc)
            return rc;
    }
    static __thread struct sei_src q;
    q.req = req;
    q.uri_len = dlen < sizeof q.uri ? dlen : sizeof q.uri;
    memcpy(q.uri, dpath, q.uri_len);
    struct fcgic_expr_vars xv = {.version = FCGIC_EXPR_VARS_VERSION, .ud = &q, .lookup = sei_lookup, .file_test = NULL};
    struct fcgic_expr_env xe;
    fcgic_env_expr_env(t->vars, &xe);
    fcgic_expr_ctx_reset(t->expr_ctx, &xv, &xe);
    int rc = fcgic_setenvif_apply(m->sei, m->n_sei, t->expr_ctx, NULL);
    if (rc)
        return rc;
    size_t n = fcgic_env_count(t->vars);
    const struct fcgic_param *p = fcgic_env_params(t->vars);
    m->n_vars = n < GW_ROUTE_MAX_VARS ? n : GW_ROUTE_MAX_VARS;
    if (m->n_vars) /* p is NULL when SetEnvIf set nothing */
        memcpy(m->vars, p, m->n_vars * sizeof *p);
    struct fcgic_span v;
    if (fcgic_env_get(t->vars, "proxy-fcgi-pathinfo", 19, &v) == 0)
        m->pathinfo = fcgic_env_pathinfo_parse(v.ptr, v.len);
    return 0;
}

static int apply_rules(struct gw_worker_thread *t, const struct gw_merged *m)
{
    if (m->n_rules == 0)
        return 0;
    struct fcgic_expr_vars xv = {.version = FCGIC_EXPR_VARS_VERSION, .ud = t->env, .lookup = lookup, .file_test = NULL};
    struct fcgic_expr_env xe;
    fcgic_env_expr_env(t->env, &xe);
    fcgic_expr_ctx_reset(t->expr_ctx, &xv, &xe);
    return fcgic_setenvif_apply(m->rules, m->n_rules, t->expr_ctx, NULL);
}

/* ---- building ---- */

static int build(struct gw_worker_thread *t, const struct gw_mapping *map, const struct gw_merged *m,
                 const struct gw_http_request *req, long long body_length)
{
    static __thread struct fcgic_param headers[GW_ROUTE_MAX_HEADERS];
    size_t nh = 0;
    int hrc = gw_walk_request_headers(m, req, headers, &nh);
    if (hrc != 0)
        return hrc;
    struct fcgic_env_request r;
    memset(&r, 0, sizeof r);
    r.method = (struct fcgic_span){req->method, req->method_len};
    r.target = (struct fcgic_span){req->target, req->target_len};
    r.protocol = req->version == 10 ? (struct fcgic_span){"HTTP/1.0", 8} : (struct fcgic_span){"HTTP/1.1", 8};
    r.headers = headers;
    r.n_headers = nh;
    r.vars = m->vars;
    r.n_vars = m->n_vars;
    r.remote_addr = (struct fcgic_span){req->client_ip, strlen(req->client_ip)};
    r.remote_port = req->client_port;
    r.server_addr = (struct fcgic_span){req->server_ip, strlen(req->server_ip)};
    r.pathinfo = m->pathinfo;
    if (body_length >= 0) {
        r.has_body_length = 1;
        r.body_length = (unsigned long long)body_length;
    }
    const struct fcgic_env_map *em = map->maps[m->backend ? 1 : 0][m->pass_auth ? 1 : 0];
    int rc = fcgic_env_build(t->env, em ? em : map->map, &r);
    if (rc == 0)
        rc = apply_rules(t, m);
    return rc;
}

/* The ProxyPass / ProxyPassMatch list, in file order. Returns 0 (built),
 * FCGIC_E_NOT_FOUND (none applies, or an exclusion stopped the walk) or a
 * builder error. */
static int try_proxy_mappings(struct gw_worker_thread *t, const struct gw_http_request *req, long long body_length,
                              const char *dpath, size_t dlen, struct gw_merged *m, const struct gw_mapping **out)
{
    const struct gw_server *srv = t->srv;
    for (size_t i = 0; i < srv->n_proxy_mappings; i++) {
        const struct gw_mapping *map = srv->proxy_mappings[i];
        if (map->exclude) {
            if (map->kind == GW_MAP_PROXY_PASS && gw_location_matches(map->match, dpath, dlen))
                return FCGIC_E_NOT_FOUND;
            continue;
        }
        int rc = build(t, map, m, req, body_length);
        if (rc == FCGIC_E_NOT_FOUND)
            continue;
        if (rc == 0)
            *out = map;
        return rc;
    }
    return FCGIC_E_NOT_FOUND;
}

/* SetHandler "proxy:..." chosen by the merge: a <Location> one applies to
 * everything under it; <Files>/<FilesMatch> ones (their mappings check the
 * file's base name) are tried latest first, as later sections win. */
static int try_handler(struct gw_worker_thread *t, const struct gw_http_request *req, long long body_length,
                       struct gw_merged *m, const struct gw_mapping **out)
{
    const struct gw_server *srv = t->srv;
    if (m->handler == GW_HANDLER_PROXY && m->handler_mapping) {
        int rc = build(t, m->handler_mapping, m, req, body_length);
        if (rc == 0)
            *out = m->handler_mapping;
        return rc;
    }
    if (m->handler == GW_HANDLER_NONE)
        return FCGIC_E_NOT_FOUND;
    for (size_t i = srv->n_files; i-- > 0;) {
        const struct gw_section *s = srv->files[i];
        if (s->conf.handler != GW_HANDLER_PROXY || s->conf.handler_mapping == NULL || s->parent != NULL)
            continue; /* one inside a <Directory> applies through the walk only */
        int rc = build(t, s->conf.handler_mapping, m, req, body_length);
        if (rc == FCGIC_E_NOT_FOUND)
            continue;
        if (rc == 0)
            *out = s->conf.handler_mapping;
        return rc;
    }
    return FCGIC_E_NOT_FOUND;
}

static int status_of(int rc)
{
    if (rc == FCGIC_E_NOT_FOUND)
        return 404;
    return rc < 0 ? fcgic_http_status_for_error(rc) : rc;
}

/* A ProxyPass / ProxyPassMatch request: <If>s see REQUEST_FILENAME as the
 * built SCRIPT_FILENAME ("proxy:fcgi://..."); a branch that applies
 * changes the merge, and the environment is built again. */
static int proxied(struct gw_worker_thread *t, const struct gw_http_request *req, long long body_length,
                   struct gw_reqexpr *q, struct gw_merged *m, const struct gw_mapping *map)
{
    static __thread char fname[4096];
    struct fcgic_span sf = {"", 0};
    fcgic_env_get(t->env, "SCRIPT_FILENAME", 15, &sf);
    q->filename_len = sf.len < sizeof fname ? sf.len : sizeof fname;
    memcpy(fname, sf.ptr, q->filename_len);
    q->filename = fname;
    /* merged again from the tree: m's variables may point into t->vars,
     * which apply_setenvif() rewrites */
    memset(m, 0, sizeof *m);
    gw_merge(m, &t->srv->conf);
    merge_locations(t->srv, q->uri, q->uri_len, m);
    size_t before = m->n_scopes;
    int rc = gw_walk_ifs_and_access(t, q, m);
    if (rc != 0 || m->n_scopes == before)
        return rc;
    rc = apply_setenvif(t, req, q->uri, q->uri_len, m);
    return rc ? rc : build(t, map, m, req, body_length);
}

/* Everything else: the file under DocumentRoot decides <Directory> and
 * <Files>, then Location, <If>, Require and the handler. */
static int by_handler(struct gw_worker_thread *t, const struct gw_http_request *req, long long body_length,
                      struct gw_reqexpr *q, struct gw_merged *m, const struct gw_mapping **out)
{
    const struct gw_server *srv = t->srv;
    static __thread struct gw_storage st;
    bool di = srv->conf.set & GW_DC_DIRECTORY_INDEX;
    gw_storage_resolve(srv, di ? srv->conf.directory_index : NULL, di ? srv->conf.n_directory_index : 0, q->uri,
                       q->uri_len, &st);
    memset(m, 0, sizeof *m);
    gw_merge(m, &srv->conf);
    gw_walk_directories(srv, &st, m);
    gw_walk_files(srv, &st, m);
    merge_locations(srv, q->uri, q->uri_len, m);
    q->filename = st.filename;
    q->filename_len = st.len;
    int rc = gw_walk_ifs_and_access(t, q, m);
    if (rc == 0)
        rc = apply_setenvif(t, req, q->uri, q->uri_len, m);
    if (rc == 0 && (m->handler == GW_HANDLER_STATUS || m->handler == GW_HANDLER_METRICS))
        return m->handler == GW_HANDLER_STATUS ? GW_ROUTE_STATUS : GW_ROUTE_METRICS;
    if (rc != 0)
        return rc;
    gw_storage_in_use(&st); /* the builder's walk of the same file is answered from this one */
    rc = try_handler(t, req, body_length, m, out);
    gw_storage_in_use(NULL);
    return rc;
}

int gw_route(struct gw_worker_thread *t, const struct gw_http_request *req, long long body_length,
             struct gw_route_out *out)
{
    static __thread char dpath[8192];
    req = gw_walk_early_headers(t->srv, req);
    size_t dlen = decode_path(req->path, req->path_len, dpath, sizeof dpath);
    static __thread struct gw_merged m;
    static __thread struct gw_reqexpr q;
    q = (struct gw_reqexpr){req, t->srv, dpath, dlen, "", 0};
    memset(&m, 0, sizeof m);
    out->mapping = NULL;
    gw_merge(&m, &t->srv->conf);
    merge_locations(t->srv, dpath, dlen, &m);
    int rc = apply_setenvif(t, req, dpath, dlen, &m);
    if (rc == 0)
        rc = try_proxy_mappings(t, req, body_length, dpath, dlen, &m, &out->mapping);
    if (rc == 0 && (gw_walk_any_ifs(&m) || m.require != NULL))
        rc = proxied(t, req, body_length, &q, &m, out->mapping);
    if (rc == FCGIC_E_NOT_FOUND) {
        out->mapping = NULL;
        rc = by_handler(t, req, body_length, &q, &m, &out->mapping);
    }
    memcpy(out->scopes, m.scopes, m.n_scopes * sizeof m.scopes[0]);
    out->n_scopes = m.n_scopes;
    out->limit_body_set = 0;
    for (size_t i = 0; i < m.n_scopes; i++)
        if (m.scopes[i]->set & GW_DC_LIMIT_BODY) {
            out->limit_body = m.scopes[i]->limit_request_body;
            out->limit_body_set = 1;
        }
    return rc ? status_of(rc) : 0;
}

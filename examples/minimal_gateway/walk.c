/* The parts of the walk beyond ProxyPass and <Location> (route.c):
 * <Directory>, <Files>, <If>, Require and RequestHeader (route_int.h). */
#include <string.h>

#include "headers.h"
#include "route_int.h"

/* <Directory> (a path, or a wildcard as a regex) on the directory the file
 * is in, or the directory itself; <DirectoryMatch> on the whole file name,
 * as Apache 2.4 matches it against r->filename (a directory with a
 * trailing '/'). */
void gw_walk_directories(const struct gw_server *srv, const struct gw_storage *st, struct gw_merged *m)
{
    static __thread char dir[sizeof st->filename + 1];
    if (st->len == 0)
        return;
    memcpy(dir, st->filename, st->len);
    dir[st->dir_len] = '/';
    bool is_dir = st->type == FCGIC_ENV_FILE_DIRECTORY;
    for (size_t i = 0; i < srv->n_directories; i++) {
        const struct gw_section *s = srv->directories[i];
        bool hit;
        if (s->kind == GW_SEC_DIRECTORY_MATCH)
            hit = gw_regex_match(s->regex, is_dir ? dir : st->filename, st->len + is_dir) == 1;
        else if (s->regex != NULL)
            hit = gw_regex_match(s->regex, dir, st->dir_len + 1) == 1;
        else
            hit = gw_location_matches(s->arg, dir, st->dir_len);
        if (hit)
            gw_merge(m, &s->conf);
    }
}

static bool file_matches(const struct gw_section *s, const struct gw_storage *st)
{
    size_t len = st->len - st->base;
    return len > 0 && gw_regex_match(s->regex, st->filename + st->base, len) == 1;
}

/* <Files> and <FilesMatch> on the base name: those at server level in file
 * order, then those inside each <Directory> merged so far, in that order
 * (Apache concatenates them with the directory configurations). */
void gw_walk_files(const struct gw_server *srv, const struct gw_storage *st, struct gw_merged *m)
{
    size_t n0 = m->n_scopes;
    for (size_t i = 0; i < srv->n_files; i++)
        if (srv->files[i]->parent == NULL && file_matches(srv->files[i], st))
            gw_merge(m, &srv->files[i]->conf);
    for (size_t k = 0; k < n0; k++)
        for (size_t i = 0; i < srv->n_files; i++) {
            const struct gw_section *s = srv->files[i];
            if (s->parent != NULL && &s->parent->conf == m->scopes[k] && file_matches(s, st))
                gw_merge(m, &s->conf);
        }
}

/* The <If> chains of a scope: the first branch whose condition holds is
 * merged, then the chains inside it. */
static int merge_ifs(struct gw_worker_thread *t, const struct gw_dir_conf *dc, struct gw_merged *m, unsigned depth)
{
    for (size_t i = 0; i < dc->n_ifs && depth < 8; i++)
        for (const struct gw_section *b = dc->ifs[i]; b != NULL; b = b->next) {
            int yes = 1;
            int rc = b->cond ? fcgic_expr_eval_bool(b->cond, t->expr_ctx, &yes) : 0;
            if (rc != 0)
                return rc;
            if (!yes)
                continue;
            gw_merge(m, &b->conf);
            rc = merge_ifs(t, &b->conf, m, depth + 1);
            if (rc != 0)
                return rc;
            break;
        }
    return 0;
}

/* <If> sections of every scope merged so far, after them, in that order;
 * then Require. Returns 0, 403 or a negative error. */
int gw_walk_ifs_and_access(struct gw_worker_thread *t, struct gw_reqexpr *q, struct gw_merged *m)
{
    gw_reqexpr_bind(q, t->expr_ctx);
    size_t n0 = m->n_scopes;
    for (size_t i = 0; i < n0; i++) {
        int rc = merge_ifs(t, m->scopes[i], m, 0);
        if (rc != 0)
            return rc;
    }
    int ok = gw_access_check(m->require, t->expr_ctx);
    return ok < 0 ? ok : ok ? 0 : 403;
}

/* The request headers after the RequestHeader lines of the merged scopes. */
int gw_walk_request_headers(const struct gw_merged *m, const struct gw_http_request *req, struct fcgic_param *out,
                            size_t *n)
{
    static __thread struct gw_http_header h[GW_ROUTE_MAX_HEADERS];
    static __thread char store[16384];
    if (req->nheaders > GW_ROUTE_MAX_HEADERS)
        return FCGIC_E_ENV_HEADERS_TOO_BIG;
    struct gw_hdr_list l = {h, req->nheaders, GW_ROUTE_MAX_HEADERS, store, 0, sizeof store};
    if (req->nheaders)
        memcpy(h, req->headers, req->nheaders * sizeof *h);
    for (size_t s = 0; s < m->n_scopes; s++) {
        int rc = gw_headers_apply(&l, m->scopes[s]->req_headers, m->scopes[s]->n_req_headers, false);
        if (rc != 0)
            return rc == FCGIC_E_RANGE ? FCGIC_E_ENV_HEADERS_TOO_BIG : rc;
    }
    for (size_t i = 0; i < l.n; i++)
        out[i] = (struct fcgic_param){h[i].name, h[i].name_len, h[i].value, h[i].value_len};
    *n = l.n;
    return 0;
}

bool gw_walk_any_ifs(const struct gw_merged *m)
{
    for (size_t i = 0; i < m->n_scopes; i++)
        if (m->scopes[i]->n_ifs)
            return true;
    return false;
}

const struct gw_http_request *gw_walk_early_headers(const struct gw_server *srv, const struct gw_http_request *req)
{
    static __thread struct gw_http_request copy;
    static __thread struct gw_http_header h[GW_ROUTE_MAX_HEADERS];
    static __thread char store[8192];
    if (srv->conf.n_early_headers == 0 || req->nheaders > GW_ROUTE_MAX_HEADERS)
        return req; /* too many headers: the build refuses the request */
    struct gw_hdr_list l = {h, req->nheaders, GW_ROUTE_MAX_HEADERS, store, 0, sizeof store};
    if (req->nheaders)
        memcpy(h, req->headers, req->nheaders * sizeof *h);
    gw_headers_apply(&l, srv->conf.early_headers, srv->conf.n_early_headers, false);
    copy = *req;
    copy.headers = h;
    copy.nheaders = l.n;
    return &copy;
}

/* Private to route.c and walk.c: the per-directory merge of one request. */
#ifndef GW_ROUTE_INT_H
#define GW_ROUTE_INT_H

#include <stdbool.h>

#include "access.h"
#include "route.h"

/* Per-directory values after the merge, and the handler it chose. */
struct gw_merged {
    enum fcgic_env_backend backend;
    int pass_auth;
    enum fcgic_env_pathinfo pathinfo;
    enum gw_handler_kind handler;
    const struct gw_mapping *handler_mapping;
    /* SetEnv values of every scope, in merge order */
    struct fcgic_param vars[GW_ROUTE_MAX_VARS];
    size_t n_vars;
    /* ProxyFCGISetEnvIf lists, in merge order */
    const struct fcgic_setenvif *rules[16];
    size_t n_rules;
    /* SetEnvIf lists, in merge order */
    const struct fcgic_setenvif *sei[16];
    size_t n_sei;
    /* every scope merged, in order, and the Require that applies */
    const struct gw_dir_conf *scopes[GW_ROUTE_MAX_SCOPES];
    size_t n_scopes;
    const struct gw_require *require;
};

/* Merge one scope into m (later scopes win; lists add up). */
void gw_merge(struct gw_merged *m, const struct gw_dir_conf *dc);

/* Apache's <Location path> test: a prefix that ends at a segment boundary
 * (or ends in '/'). */
bool gw_location_matches(const char *arg, const char *path, size_t len);

/* walk.c: <Directory>/<DirectoryMatch> on the file's directory, <Files> on
 * its base name, the <If> chains of every scope merged so far (then
 * Require: 0, 403 or a negative error), and RequestHeader. */
void gw_walk_directories(const struct gw_server *srv, const struct gw_storage *st, struct gw_merged *m);
void gw_walk_files(const struct gw_server *srv, const struct gw_storage *st, struct gw_merged *m);
int gw_walk_ifs_and_access(struct gw_worker_thread *t, struct gw_reqexpr *q, struct gw_merged *m);
bool gw_walk_any_ifs(const struct gw_merged *m);
int gw_walk_request_headers(const struct gw_merged *m, const struct gw_http_request *req, struct fcgic_param *out,
                            size_t *n);

/* The request after RequestHeader ... early: req itself when there are
 * none, else a copy (thread storage, valid until the next call) whose
 * header list was edited. */
const struct gw_http_request *gw_walk_early_headers(const struct gw_server *srv, const struct gw_http_request *req);

#endif /* GW_ROUTE_INT_H */

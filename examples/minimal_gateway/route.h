/**
 * @file route.h
 * @brief Which mapping serves a request, and its CGI environment.
 *
 * The walk, in Apache's order: ProxyPass / ProxyPassMatch in file order
 * (first match wins; `!` excludes; such a request sees the server, its
 * `<Location>`s and `<If>`s only, as Apache's "proxy:" filename matches no
 * `<Directory>` or `<Files>`), else the handler chosen by the per-directory
 * merge (server, `<Directory>` shortest first then `<DirectoryMatch>`, on
 * the file DocumentRoot + path maps to, then `<Files>`/`<FilesMatch>` on its
 * base name, then `<Location>`/`<LocationMatch>`, each in file order with
 * the later ones winning, then the `<If>` chains of all of these). The
 * environment is built by the library (fcgic_env_build()) with the
 * mapping's compiled map for the merged ProxyFCGIBackendType and
 * CGIPassAuth, SetEnv values first, then ProxyFCGISetEnvIf rules.
 */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include "config.h"
#include "http.h"
#include "worker.h"

/** Limits of one request's routing (bounded per-thread storage). */
#define GW_ROUTE_MAX_HEADERS 256
#define GW_ROUTE_MAX_VARS 128

/** Scopes merged for one request, at most (later ones are ignored). */
#define GW_ROUTE_MAX_SCOPES 32

/** What routing decided. */
struct gw_route_out {
    const struct gw_mapping *mapping; /**< the mapping that serves the request */
    /** The per-directory scopes that apply, in merge order (server,
     *  Directory, Files, Location, If branches): the response side reads
     *  Header, ErrorDocument and ProxyErrorOverride from them. Pointers
     *  into the tree; they live as long as the request's reference. */
    const struct gw_dir_conf *scopes[GW_ROUTE_MAX_SCOPES];
    size_t n_scopes;
    /** LimitRequestBody of the last scope that sets one (0 = no limit);
     *  `limit_body_set` 0 when only the server's applies (the HTTP layer
     *  enforces that one). */
    uint64_t limit_body;
    int limit_body_set;
};

/** gw_route() results below 100: a built-in handler answers (status.h). */
#define GW_ROUTE_STATUS 1  /**< SetHandler server-status */
#define GW_ROUTE_METRICS 2 /**< SetHandler metrics */

/**
 * Route `req` and build its environment into t->env: the walk (Directory
 * and Files for what is not proxied, then Location, then <If>), Require,
 * RequestHeader, SetEnv/SetEnvIf, the build and ProxyFCGISetEnvIf.
 * @param body_length the whole body's length when known for a chunked body
 *        (spooled), or -1.
 * @param out receives the mapping and the scopes (the scopes also when an
 *        error status is returned, so the error page can use them).
 * @return 0; GW_ROUTE_STATUS or GW_ROUTE_METRICS when no ProxyPass maps
 *         the request and SetHandler chose server-status or metrics; or the
 *         HTTP status to answer (404 nothing maps the request, 403 Require
 *         denies it, 400 malformed target or header, 431, 500, ... as
 *         fcgic_http_status_for_error() says for the builder's error).
 */
int gw_route(struct gw_worker_thread *t, const struct gw_http_request *req, long long body_length,
             struct gw_route_out *out);

#endif /* GW_ROUTE_H */

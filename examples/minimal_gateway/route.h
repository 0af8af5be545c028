/**
 * @file route.h
 * @brief Which mapping serves a request, and its CGI environment.
 *
 * The walk, in Apache's order: ProxyPass / ProxyPassMatch in file order
 * (first match wins; `!` excludes), then the handler chosen by the
 * per-directory merge (server, then `<Files>`/`<FilesMatch>` in file order
 * with the later ones winning, then `<Location>`/`<LocationMatch>` in file
 * order with the later ones winning, as Apache merges them). The
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

/** gw_route() results below 100: a built-in handler answers (status.h). */
#define GW_ROUTE_STATUS 1  /**< SetHandler server-status */
#define GW_ROUTE_METRICS 2 /**< SetHandler metrics */

/**
 * Route `req` and build its environment into t->env.
 * @param body_length the whole body's length when known for a chunked body
 *        (spooled), or -1.
 * @param out receives the mapping that serves the request.
 * @return 0; GW_ROUTE_STATUS or GW_ROUTE_METRICS when no ProxyPass maps
 *         the request and SetHandler chose server-status or metrics; or
 *         the HTTP status to answer (404 nothing maps the request,
 *         400 malformed target or header, 431, 500, ... as
 *         fcgic_http_status_for_error() says for the builder's error).
 */
int gw_route(struct gw_worker_thread *t, const struct gw_http_request *req, long long body_length,
             const struct gw_mapping **out);

#endif /* GW_ROUTE_H */

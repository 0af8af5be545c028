/**
 * @file errdoc.h
 * @brief Errors the gateway answers itself after routing: ErrorDocument
 *        (text, a file under DocumentRoot, or a redirect), Apache's own
 *        error page when ProxyErrorOverride replaces a backend's, and the
 *        `Header always` lines.
 */
#ifndef GW_ERRDOC_H
#define GW_ERRDOC_H

#include <stdbool.h>

#include "config.h"
#include "http.h"
#include "route.h"

/**
 * Answer `status` and end the request. The ErrorDocument of the merged
 * scopes for the status decides the body; without one, `apache_page`
 * gives Apache's default HTML page, else the HTTP layer's short text.
 * @param body_len receives the length of the body sent (for the access
 *        log's %b; the HTTP layer leaves it out for HEAD).
 * @return the status sent (302 for an ErrorDocument URL).
 */
int gw_errdoc_respond(struct gw_http_conn *c, int status, const struct gw_route_out *ro, bool apache_page,
                      size_t *body_len);

/** Whether ProxyErrorOverride of the merged scopes replaces a backend
 *  response with this status. */
bool gw_errdoc_override(const struct gw_route_out *ro, int status);

#endif /* GW_ERRDOC_H */

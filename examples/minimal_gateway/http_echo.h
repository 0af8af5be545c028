/**
 * @file http_echo.h
 * @brief A handler for the HTTP layer that needs no application.
 *
 * Requests with a body get it back as a 200 (streamed: the body is paused
 * while the write queue is above its high-water mark); other requests get
 * "<method> <path> <host>\n" as text/plain, with the status taken from a
 * path "/status/NNN" (e.g. 204, 304, 404) or 200.
 */
#ifndef GW_HTTP_ECHO_H
#define GW_HTTP_ECHO_H

#include "http.h"

/** Fill `h` with the echo handler (ud unused, NULL). */
void gw_http_echo_handler(struct gw_http_handler *h);

#endif /* GW_HTTP_ECHO_H */

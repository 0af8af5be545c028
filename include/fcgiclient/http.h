/**
 * @file http.h
 * @brief What a gateway in front of FastCGI applications answers its HTTP
 *        client: the status for a request that did not produce a response
 *        head, and reason phrases. Plain functions of their arguments: no
 *        state, no allocation, callable from any thread.
 */
#ifndef FCGICLIENT_HTTP_H
#define FCGICLIENT_HTTP_H

#include "common.h"
#include "conn.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The HTTP status to answer when a request ends with error `err` before its
 * response head was sent to the client (once bytes were sent, close the
 * client connection instead, so the truncation is visible):
 *  - 504: timeouts (connect, first byte, idle, total, waiting for a pooled
 *    connection);
 *  - 503: no application to ask (connect refused or failed, name not
 *    resolved, no socket, every balancer member down, pool queue full or
 *    closing);
 *  - 502: the application answered wrongly or went away (protocol errors,
 *    a malformed or missing CGI header block, a Status outside 200..599,
 *    output over a cap, the connection closed or failed mid-request);
 *  - 400: the request itself is unusable (malformed target, control bytes
 *    in the decoded path, a forbidden header value, the client's body
 *    failed); 404: an encoded slash refused, no file for a handler mapping;
 *    431: request headers too big for the environment;
 *  - 499: FCGIC_E_ABORTED, the embedder cancelled the request (nginx's
 *    "client closed request": log it, there is nobody to answer);
 *  - 500: everything else (memory, configuration, a callback's error).
 * @return the status; 0 when err is 0.
 */
FCGIC_API int fcgic_http_status_for_error(int err);

/**
 * The HTTP status for a request's outcome when no response head was sent:
 * fcgic_http_status_for_error(result->error) when there is an error, else by
 * the END_REQUEST protocolStatus (OVERLOADED: 503; CANT_MPX_CONN or
 * UNKNOWN_ROLE: 502); 0 when the request completed normally (the status is
 * then the one of its response head).
 * @param result as given to on_end; borrowed for the call.
 */
FCGIC_API int fcgic_http_status_for_result(const struct fcgic_result *result);

/**
 * The reason phrase of an HTTP status code (RFC 9110 section 15, plus 429 and
 * 431 of RFC 6585), e.g. "Bad Gateway" for 502; "" for a code without one.
 * @return a static NUL-terminated string, never NULL.
 */
FCGIC_API const char *fcgic_http_reason(int status);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_HTTP_H */

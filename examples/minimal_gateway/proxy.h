/**
 * @file proxy.h
 * @brief The proxy handler (layer 5 of the gateway's design): an HTTP
 *        request in, its environment built, submitted to a pool or balancer
 *        (library), the CGI response head turned into an HTTP head, both
 *        bodies pumped with backpressure, cancel when the client leaves, and
 *        errors mapped to statuses. It knows no socket and no record byte.
 */
#ifndef GW_PROXY_H
#define GW_PROXY_H

#include <fcgiclient/fcgiclient.h>

#include "http.h"
#include "worker.h"

/** Chunked request bodies are held in memory up to this many bytes (so
 *  CONTENT_LENGTH can be sent: PHP-FPM drops bodies without it); beyond it
 *  the request gets 413. */
#define GW_PROXY_SPOOL_MAX (8u << 20)

/** Fill the HTTP handler of thread t. */
void gw_proxy_http_handler(struct gw_http_handler *h, struct gw_worker_thread *t);

/** Fill the request members of the pool callbacks (on_head, on_body,
 *  on_stderr, on_end, body_read); the caller sets on_event and on_timer. */
void gw_proxy_pool_callbacks(struct fcgic_pool_callbacks *cb);

/** The timer of the STDERR rate limit (struct gw_worker_thread
 *  stderr_timer): logs how many lines the past second dropped. */
void gw_proxy_stderr_timer(struct gw_loop *loop, struct gw_timer *tm);

#endif /* GW_PROXY_H */

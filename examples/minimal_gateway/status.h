/**
 * @file status.h
 * @brief server-status and Prometheus metrics of minimal_gateway (layer 7):
 *        gateway counters and the library's pool, balancer and member
 *        statistics, summed over every thread of the running configuration.
 *
 * Each thread owns its counters and its pools and balancers, and nothing on
 * the request path takes a lock: a thread counts into its own struct
 * gw_counters. A status request asks every other thread of its generation,
 * through the thread's loop (gw_async_send()), to publish a snapshot into a
 * shared board (one mutex, taken only by status requests and by the threads
 * answering them), waits for their answers without blocking its loop (at
 * most GW_STATUS_WAIT_NS: a thread that does not answer in time is shown
 * with its last snapshot), then sums the snapshots and answers in the
 * requested format:
 *  - `SetHandler server-status`: a text page like Apache's mod_status;
 *    `?auto`: Apache's machine-readable "Key: value" lines; `?json`: JSON.
 *  - `SetHandler metrics`: Prometheus text exposition format 0.0.4.
 */
#ifndef GW_STATUS_H
#define GW_STATUS_H

#include <stdint.h>

#include "config.h"
#include "http.h"

struct gw_worker_thread;
struct gw_status_board;
struct gw_status_req;

/** Longest wait for the other threads' snapshots. */
#define GW_STATUS_WAIT_NS (1000ull * 1000000ull)

/** Gateway counters of one thread, written by that thread only. */
struct gw_counters {
    uint64_t accepted;    /**< client connections accepted */
    uint64_t requests;    /**< requests answered by the handlers (proxy, status) */
    uint64_t by_class[6]; /**< [1]..[5]: 1xx..5xx; [0]: ended before a status was sent */
    uint64_t body_bytes;  /**< response body bytes, error pages included (the access log's %B) */
};

/** What the handler answers. */
enum gw_status_kind {
    GW_STATUS_PAGE = 1, /**< server-status (text, ?auto or ?json by the query) */
    GW_STATUS_METRICS   /**< metrics (Prometheus) */
};

/**
 * The board of one configuration generation, for `nthreads` threads.
 * @return 0 or -ENOMEM.
 */
int gw_status_board_new(struct gw_status_board **out, const struct gw_server *srv, unsigned nthreads);

/** Free the board once no thread of it runs. NULL is a no-op. */
void gw_status_board_free(struct gw_status_board *b);

/** Thread t (t->board, t->index set) joins its board; before its loop
 *  runs. No-op without a board. */
void gw_status_attach(struct gw_worker_thread *t);

/** Thread t's loop stopped: it is no longer asked for snapshots. From t's
 *  thread after its loop returned (or, for a thread that never ran, by
 *  whoever frees its loop), before the loop is freed. */
void gw_status_detach(struct gw_worker_thread *t);

/** Count one request of thread t that ended with `status` (0: none sent)
 *  and `body_bytes` response body bytes. */
void gw_status_count(struct gw_worker_thread *t, int status, uint64_t body_bytes);

/** Called once when the status module answered a request (the HTTP
 *  request has ended); status and body bytes are for the access log. */
typedef void (*gw_status_done_cb)(void *ud, int status, uint64_t body_bytes);

/**
 * Answer `req` on c (a request routed to server-status or metrics) once the
 * snapshots are in; `done` is called when the answer is out (perhaps
 * before this returns).
 * @return the pending request (NULL when already answered), to be
 *         cancelled with gw_status_cancel() if the client goes away first.
 */
struct gw_status_req *gw_status_serve(struct gw_worker_thread *t, struct gw_http_conn *c,
                                      const struct gw_http_request *req, enum gw_status_kind kind,
                                      gw_status_done_cb done, void *ud);

/** The client of a pending request left: forget it (done is not called).
 *  NULL is a no-op. */
void gw_status_cancel(struct gw_status_req *r);

#endif /* GW_STATUS_H */

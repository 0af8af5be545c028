/**
 * @file pool.h
 * @brief Request-level connection pool for one backend (Apache's "worker").
 *
 * The embedder submits requests; the pool picks a kept connection (most
 * recently used first), opens a new one through a struct fcgic_transport, or
 * queues the request when `max` connections are open. It forwards the
 * connection engine's callbacks to the embedder's, and when a kept
 * connection turns out to be stale (the request failed before any response
 * byte arrived) it runs the request once more on a fresh connection, without
 * the embedder noticing, provided the body can be replayed.
 *
 * Apache's defaults: connection reuse is off unless `enable_reuse` is set
 * (then FCGI_KEEP_CONN is sent and idle connections are kept).
 *
 * No I/O and no clock: time comes in as `now` (nanoseconds, the clock the
 * transport uses); fcgic_pool_deadline() says when fcgic_pool_tick() is
 * due. Some work (closing connections, handing a queued request to a
 * connection that became idle) is deferred out of the engine's callbacks;
 * the deadline is then "now" (0). Either call fcgic_pool_deadline() after
 * every transport event and fcgic_pool_tick() when it has passed, or set
 * the on_timer callback (version 2 callbacks), which is called whenever
 * the deadline changes (libcurl's CURLMOPT_TIMERFUNCTION): re-arm one timer
 * there and call fcgic_pool_tick() when it fires.
 *
 * Keep-alive and PHP-FPM. A kept connection binds one PHP-FPM worker for as
 * long as it stays open: the worker waits on it for the next request and
 * accepts no other connection. Connections opened beyond pm.max_children
 * wait in FPM's listen queue. So, with enable_reuse:
 *  - a request submitted from inside on_end takes the connection whose
 *    request just ended, as if it were idle (it starts at the next tick,
 *    deadline 0), rather than opening another one;
 *  - while a request has waited more than 1 s on a connection that has
 *    never answered (it may sit in the listen queue), idle connections are
 *    closed instead of kept (checked at ticks: the deadline says when), so
 *    that their workers can take the waiting connections;
 *  - requests get a first-byte and idle timeout of 60 s unless the request
 *    or `timeout_ns` says otherwise, so nothing waits forever.
 * Sizing advice: with enable_reuse, keep `max` (over all pools and
 * processes using one FPM pool) at or below that pool's pm.max_children.
 *
 * Threads: one pool, one thread at a time. A pool and its transport (a
 * struct fcgic_posix, say) call each other, so both belong to the same
 * thread; so do a balancer and every pool it owns.
 */
#ifndef FCGICLIENT_POOL_H
#define FCGICLIENT_POOL_H

#include "common.h"
#include "conn.h"
#include "stats.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fcgic_pool;
/** A submitted request, valid from submit until its on_end returns. */
struct fcgic_pool_req;

/** Kinds of struct fcgic_event. */
enum fcgic_event_kind {
    FCGIC_EVENT_CONNECT = 1,  /**< a new connection was opened */
    FCGIC_EVENT_REUSE,        /**< a request was sent on a kept connection */
    FCGIC_EVENT_STALE_RETRY,  /**< a kept connection failed before any response
                                   byte; the request runs again on a new one */
    FCGIC_EVENT_CLOSE,        /**< the pool closed a connection */
    FCGIC_EVENT_VALUES,       /**< a GET_VALUES answer changed max / mpx */
    FCGIC_EVENT_QUEUE_TIMEOUT,/**< a queued request waited longer than acquire */
    FCGIC_EVENT_MEMBER_STATE, /**< a balancer member's status flags changed */
    FCGIC_EVENT_FAILOVER,     /**< a request moved to another balancer member */
    FCGIC_EVENT_HEALTH        /**< a balancer member's health probe ended */
};

/** An event for statistics and logs. Lives until the callback returns. */
struct fcgic_event {
    enum fcgic_event_kind kind;
    /** The backend target of the pool concerned (NUL-terminated). */
    const char *target;
    /** Balancer member id, or 0 for a pool used on its own. */
    unsigned member;
    /** STALE_RETRY, FAILOVER, MEMBER_STATE (to error or health-check
     *  failure): the error that caused it (FCGIC_E_BUSY for an OVERLOADED
     *  or CANT_MPX_CONN answer); CLOSE: the connection's error or
     *  0; HEALTH: 0 when the probe passed, else why it failed (a connect or
     *  engine error, FCGIC_E_TIMEOUT, FCGIC_E_BAL_HC_STATUS). */
    int error;
    /** MEMBER_STATE: the member's FCGIC_MEMBER_* flags before and after.
     *  VALUES: the new max (old_status) and requests per connection
     *  (new_status). HEALTH: the HTTP status a request probe got, or 0
     *  (old_status), and the member's flags after the probe (new_status). */
    unsigned old_status, new_status;
    /** When it happened: the `now` of the call, or of the connection event
     *  (fcgic_conn_last_now()), that caused it. */
    uint64_t now;
    /** The system error (errno) behind `error` when the transport gave
     *  one (fcgic_conn_sys_errno(), or the errno of a connect refused at
     *  once): ENOENT for a missing unix socket, ECONNREFUSED, EACCES ...;
     *  else 0. */
    int sys_errno;
};

/**
 * Callbacks of a pool (and of a balancer). The library copies the struct.
 * Set version to FCGIC_POOL_CALLBACKS_VERSION; 1 is still accepted (the
 * members after on_event are then taken as NULL). Any member may be NULL.
 * Request callbacks get the req_ud given to fcgic_pool_submit() and have
 * the meaning and return values of the struct fcgic_conn_callbacks ones.
 * A request callback may call fcgic_pool_abort(), fcgic_pool_unpause(),
 * fcgic_pool_resume() and fcgic_pool_submit(); it must not free the pool.
 *
 * Reaching the request handle from a callback: fcgic_pool_submit() (and
 * fcgic_balancer_submit()) store the handle in *handle before any callback
 * of the request can run, so pass the address of a field of the structure
 * req_ud points to (`fcgic_pool_submit(p, &req, st, &st->h, now)`) and use
 * st->h in the callbacks.
 *
 * Backpressure: on_head, on_body and on_stderr may return FCGIC_PAUSE to
 * stop reading the response (the whole connection, so other requests
 * multiplexed on it wait too; the rest of the input is held by the
 * transport). Nothing more arrives for the request until
 * fcgic_pool_unpause() (fcgic_balancer_unpause()); timeouts keep running.
 */
struct fcgic_pool_callbacks {
    unsigned version;
    int (*on_head)(void *req_ud, const struct fcgic_response_head *head);
    int (*on_body)(void *req_ud, const char *data, size_t len);
    int (*on_stderr)(void *req_ud, const char *line, size_t len);
    /** The request is over (exactly once per successful submit); result
     *  lives until the callback returns. */
    void (*on_end)(void *req_ud, const struct fcgic_result *result);
    /** Body pull for FCGIC_BODY_STREAM, see struct fcgic_conn_callbacks.
     *  Called at most once per byte: on a retry the pool replays what it
     *  kept. */
    int (*body_read)(void *req_ud, enum fcgic_type stream, struct fcgic_span *chunk);
    /** Statistics and log events; ev lives until the callback returns.
     *  Like the request callbacks, it may submit and abort (the work is
     *  deferred) but fcgic_pool_tick() from it returns FCGIC_E_REENTRANT. */
    void (*on_event)(void *ud, const struct fcgic_event *ev);
    /* ---- version 2 ---- */
    /** The object's deadline (fcgic_pool_deadline(),
     *  fcgic_balancer_deadline()) changed to `deadline`: arm one timer for
     *  it, replacing the previous one; 0 means at once (deferred work
     *  waits, e.g. after a request was queued or a connection finished),
     *  FCGIC_NO_DEADLINE cancels it. When it fires, call fcgic_pool_tick()
     *  (fcgic_balancer_tick()). Called from any call into the object and
     *  from the engine callbacks its connections run when the value
     *  differs from the one reported last, and at the end of every tick
     *  (the timer that fired is spent, so it is re-armed even when the
     *  deadline did not move: a timer of coarser resolution may fire just
     *  before it); it must not call into the pool
     *  or balancer (such calls are refused with FCGIC_E_REENTRANT or
     *  ignored). Not called while the object is being freed. */
    void (*on_timer)(void *ud, uint64_t deadline);
    /* ---- version 3 ---- */
    /** Optional: the end of a batch of on_body calls, as on_flush of struct
     *  fcgic_conn_callbacks: the data of the on_body calls since the
     *  request's previous on_flush stay valid until it returns; a request
     *  that ends gets on_end instead, and the data stay valid until on_end
     *  returns. */
    void (*on_flush)(void *req_ud);
};

#define FCGIC_POOL_CALLBACKS_VERSION 3

/** Pool options, Apache's worker parameters. Zero-initialise, then set
 *  (see "Structs that grow" in common.h). */
struct fcgic_pool_options {
    /** 0 or FCGIC_POOL_OPTIONS_VERSION. */
    unsigned version;
    /** Backend address, e.g. "fcgi://127.0.0.1:9000" or
     *  "unix:/run/php.sock|fcgi://localhost"; copied. Required. */
    const char *target;
    /** Apache `enablereuse=on`: set FCGI_KEEP_CONN and keep idle
     *  connections. Default 0: one connection per request. */
    int enable_reuse;
    /** `max`: hard cap on open connections; 0 means 64. */
    unsigned max;
    /** `min`: idle connections never closed by ttl. */
    unsigned min;
    /** `smax`: idle connections above this many are closed once idle for
     *  ttl; 0 means max. */
    unsigned smax;
    /** `ttl`: idle time after which surplus idle connections (above smax,
     *  never below min) are closed; 0 means never. */
    uint64_t ttl_ns;
    /** Requests allowed to wait for a connection; 0 means 1024. Beyond it
     *  fcgic_pool_submit() returns FCGIC_E_POOL_QUEUE_FULL. */
    unsigned queue_max;
    /** `acquire`: longest wait in the queue, after which the request ends
     *  with FCGIC_E_POOL_TIMEOUT; 0 means no limit. */
    uint64_t acquire_ns;
    /** `connectiontimeout`; 0 means none. */
    uint64_t connect_timeout_ns;
    /** `timeout`: used as the request's first_byte and idle timeouts when
     *  the request sets none; 0 means FCGIC_POOL_DEFAULT_TIMEOUT_NS (60 s,
     *  Apache's Timeout default), FCGIC_NO_DEADLINE means none. */
    uint64_t timeout_ns;
    /** Largest streamed body kept so a request can be replayed on another
     *  connection; 0 means 64 KiB. Buffered bodies are always replayable.
     *  In a balancer member's pool it is also the cap for failover to
     *  another member (the cap of the member the request runs on). */
    size_t replay_max;
    /** Send GET_VALUES on the first connection and use FCGI_MAX_CONNS to
     *  cap max (idle connections beyond the new max are closed, busy ones
     *  as they turn idle) and, with enable_reuse, FCGI_MPXS_CONNS=1 (with
     *  FCGI_MAX_REQS, else 65535, as the per-connection limit, never above
     *  a nonzero `mpx`) to run several requests per connection;
     *  FCGI_MPXS_CONNS=0 turns multiplexing off. Default 0: no probe. */
    int probe_values;
    /** Caps handed to every engine (keep_conn and connect_timeout_ns are
     *  set by the pool; max_requests is used when `mpx` is 0). NULL for
     *  defaults. Its polite_abort changes fcgic_pool_abort(): see there. */
    const struct fcgic_conn_options *conn;
    /** Requests run at once on one connection, for an application known
     *  to multiplex (FCGI_MPXS_CONNS=1); new requests go to a running
     *  connection with a free slot before a new connection is opened.
     *  0 means conn->max_requests, else 1. Only with enable_reuse (without
     *  FCGI_KEEP_CONN the application closes the connection after the
     *  first END_REQUEST); capped at 65535. A CANT_MPX_CONN result or a
     *  GET_VALUES answer of FCGI_MPXS_CONNS=0 brings it down to 1. */
    unsigned mpx;
};

#define FCGIC_POOL_OPTIONS_VERSION 1
/** The request timeout of a pool whose timeout_ns is 0. */
#define FCGIC_POOL_DEFAULT_TIMEOUT_NS (60ull * 1000000000ull)

/* Retries. A request whose kept connection fails before any response byte
 * arrived (the application closed it, reset it, or left stray bytes of an
 * earlier response on it) runs once more on a fresh connection when its
 * `retry` policy allows it (enum fcgic_retry: by default when none of it
 * was written, or when REQUEST_METHOD is idempotent) and its body can be
 * replayed; FCGIC_EVENT_STALE_RETRY tells, and result.retries counts it.
 * With a transport that has `check`, an idle connection is checked for EOF
 * and stray bytes before it is reused, so most such connections are closed
 * before a request is written to them. */

/** Statistics of a pool, filled by fcgic_pool_get_stats(). Zero-initialise
 *  and set `version` (see "Structs that grow" in common.h): the library
 *  fills the members that version has and leaves the rest alone. Counters
 *  count from the pool's creation and never go down. */
struct fcgic_pool_stats {
    /** Set by the caller: 0 or FCGIC_POOL_STATS_VERSION. */
    unsigned version;
    unsigned conns_open;   /**< connections open (connecting, busy, idle) */
    unsigned conns_idle;   /**< of which idle */
    unsigned busy;         /**< requests submitted and not yet ended */
    unsigned queued;       /**< of which waiting for a connection (queue length) */
    unsigned max;          /**< effective max (after GET_VALUES) */
    unsigned mpx;          /**< requests allowed per connection */
    uint64_t conns_created;
    uint64_t conns_reused; /**< requests sent on a kept connection */
    uint64_t requests;     /**< requests ended (on_end delivered) */
    uint64_t failures;     /**< of which ended with result.error set */
    uint64_t stale_retries;
    uint64_t queue_timeouts;
    uint64_t queue_full;   /**< submits refused with FCGIC_E_POOL_QUEUE_FULL */
    uint64_t bytes_out;    /**< STDIN + DATA bytes sent */
    uint64_t bytes_in;     /**< STDOUT + STDERR bytes received */
    /** Requests ended, by enum fcgic_end_kind (fcgic_end_kind() of their
     *  result); they add up to `requests`. */
    uint64_t ends[FCGIC_END_KINDS];
    /** Requests that waited in the queue for a connection (counted when
     *  they leave it: started, timed out, cancelled), and the time they
     *  waited there, in nanoseconds, all together. */
    uint64_t queue_waits;
    uint64_t queue_wait_ns;
    /** Latency histogram, cumulative: latency_le[i] requests ended at most
     *  fcgic_latency_bucket_le(i) ns after their submit; `requests` is the
     *  "+Inf" bucket. Queue waits and stale retries are included. */
    uint64_t latency_le[FCGIC_LATENCY_BUCKETS];
    /** The latencies of all `requests` added up, in nanoseconds. */
    uint64_t latency_sum_ns;
};

#define FCGIC_POOL_STATS_VERSION 1

/**
 * Create a pool.
 * @param opts options; opts->target is copied.
 * @param transport opens, kicks and closes connections (copied); its ud
 *        must outlive the pool.
 * @param cb callbacks (copied).
 * @param ud passed to on_event.
 * @param mem allocator hooks (copied) or NULL; used for the pool, and
 *        handed to the transport's open for the connections' engines.
 * @return 0, FCGIC_E_INVAL (NULL out/opts/target/transport/cb, cb->version
 *         not in 1..FCGIC_POOL_CALLBACKS_VERSION, opts->version or
 *         transport->version newer than this library knows, min > max) or
 *         FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_pool_new(struct fcgic_pool **out, const struct fcgic_pool_options *opts,
                             const struct fcgic_transport *transport, const struct fcgic_pool_callbacks *cb,
                             void *ud, const struct fcgic_mem *mem);

/**
 * Close every connection (through the transport), end every request still
 * running or queued, and free the pool. Each such request gets its on_end,
 * in no particular order, with result.error FCGIC_E_POOL_CLOSED (and the
 * other result fields 0); a buffered body may be released from there. While
 * those on_end callbacks run, fcgic_pool_submit(), fcgic_pool_abort(),
 * fcgic_pool_resume() and fcgic_pool_tick() on this pool return
 * FCGIC_E_POOL_CLOSED. NULL is a no-op. Must not be called from inside one
 * of the pool's callbacks.
 */
FCGIC_API void fcgic_pool_free(struct fcgic_pool *p);

/**
 * Run a request: on an idle kept connection (most recently used first), on
 * a connection with a free multiplexing slot, on a new connection, or after
 * waiting in the queue. on_end follows exactly once when 0 is returned.
 * @param req the request; its params are copied, buffered bodies are
 *        referenced and must stay valid until on_end.
 * @param req_ud passed to the request callbacks.
 * @param handle if not NULL, receives the request handle (valid until
 *        on_end returns). It is stored before any callback of the request
 *        runs (a callback may run inside this call, e.g. on_end when the
 *        transport fails the connection at once), and set to NULL again
 *        when the request is refused.
 * @return 0; FCGIC_E_INVAL (also an unknown req->retry); FCGIC_E_POOL_QUEUE_FULL; FCGIC_E_POOL_CLOSED
 *         (pool draining or being freed); FCGIC_E_NOMEM; an error of the transport's open
 *         (FCGIC_E_BAD_ADDRESS, FCGIC_E_RESOLVE, FCGIC_E_CONNECT) or of
 *         fcgic_conn_submit() (FCGIC_E_PARAMS_TOO_BIG, FCGIC_E_BAD_ROLE, ...)
 *         when the request could not start. No callback runs for a request
 *         that was refused.
 */
FCGIC_API int fcgic_pool_submit(struct fcgic_pool *p, const struct fcgic_request *req, void *req_ud,
                                struct fcgic_pool_req **handle, uint64_t now);

/**
 * Cancel a request. It ends now: its on_end runs with FCGIC_E_ABORTED and
 * result.aborted set before this function returns (called from inside a
 * callback of the connection the request runs on: as soon as that callback
 * returns), and nothing else is delivered for it. A running request's
 * connection is retired: ABORT_REQUEST is sent and the connection is closed
 * at the next fcgic_pool_tick() (deadline 0), or once the other requests
 * multiplexed on it have ended; it is never reused.
 * With polite_abort set in the options' conn: a running request only gets
 * ABORT_REQUEST and ends when the application answers END_REQUEST (PHP-FPM
 * does so only when the script ends; bound it with the request timeouts).
 * @return 0, FCGIC_E_INVAL, FCGIC_E_POOL_CLOSED (from on_end while the
 *         pool is being freed) or an error of fcgic_conn_abort().
 */
FCGIC_API int fcgic_pool_abort(struct fcgic_pool *p, struct fcgic_pool_req *r, uint64_t now);

/**
 * The embedder is ready for more of the response after a callback of r
 * returned FCGIC_PAUSE: the engine of r's connection is unpaused and the
 * transport kicked, so held-back input is fed and reading goes on (a
 * transport must feed what it held back before anything newly read: the
 * engine's pause flag is already cleared when kick runs). Does
 * nothing harmful when nothing was paused (the transport is kicked).
 * @return 0 (also while r is still queued), FCGIC_E_INVAL (NULL or ended
 *         request, or one of another pool) or FCGIC_E_POOL_CLOSED (pool
 *         being freed).
 */
FCGIC_API int fcgic_pool_unpause(struct fcgic_pool *p, struct fcgic_pool_req *r, uint64_t now);

/**
 * A body_read that returned FCGIC_BODY_AGAIN may be called again.
 * @return 0 (also while still queued), FCGIC_E_INVAL, FCGIC_E_POOL_CLOSED
 *         (pool being freed) or an error of fcgic_conn_resume().
 */
FCGIC_API int fcgic_pool_resume(struct fcgic_pool *p, struct fcgic_pool_req *r, uint64_t now);

/**
 * Do the deferred and timed work due at now: close finished and expired
 * connections, hand queued requests to free connections, end queued
 * requests whose acquire time passed (FCGIC_E_POOL_TIMEOUT).
 * @return 0, FCGIC_E_INVAL, FCGIC_E_REENTRANT (from inside a callback) or
 *         FCGIC_E_POOL_CLOSED (pool being freed).
 */
FCGIC_API int fcgic_pool_tick(struct fcgic_pool *p, uint64_t now);

/** When fcgic_pool_tick() is due: 0 when deferred work waits, else the
 *  earliest timer, or FCGIC_NO_DEADLINE. */
FCGIC_API uint64_t fcgic_pool_deadline(const struct fcgic_pool *p);

/**
 * Stop taking requests (submit gives FCGIC_E_POOL_CLOSED) and close idle
 * connections; running and queued requests go on.
 */
FCGIC_API void fcgic_pool_drain(struct fcgic_pool *p, uint64_t now);

/** Close every idle connection now (e.g. after a backend restart). */
FCGIC_API void fcgic_pool_close_idle(struct fcgic_pool *p);

/**
 * Copy the statistics into *out, as far as out->version has members (the
 * other bytes of *out are not touched).
 * @return 0, or FCGIC_E_INVAL (NULL p or out, out->version newer than this
 *         library knows).
 */
FCGIC_API int fcgic_pool_get_stats(const struct fcgic_pool *p, struct fcgic_pool_stats *out);

/**
 * The errno behind the last error fcgic_pool_submit() returned because the
 * transport's open failed at once (ENOENT for a missing unix socket,
 * EACCES, ECONNREFUSED ...), or 0. Requests that fail later carry it in
 * result.sys_errno, events in sys_errno.
 */
FCGIC_API int fcgic_pool_last_errno(const struct fcgic_pool *p);

/** The target given at creation; lives as long as the pool. */
FCGIC_API const char *fcgic_pool_target(const struct fcgic_pool *p);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_POOL_H */

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
 * the deadline is then "now" (0), so call fcgic_pool_deadline() after every
 * transport event and fcgic_pool_tick() when it has passed.
 *
 * One object, one thread at a time.
 */
#ifndef FCGICLIENT_POOL_H
#define FCGICLIENT_POOL_H

#include "common.h"
#include "conn.h"
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
};

/**
 * Callbacks of a pool (and of a balancer). The library copies the struct.
 * Set version to FCGIC_POOL_CALLBACKS_VERSION; any member may be NULL.
 * Request callbacks get the req_ud given to fcgic_pool_submit() and have
 * the meaning and return values of the struct fcgic_conn_callbacks ones.
 * A request callback may call fcgic_pool_abort() and fcgic_pool_submit();
 * it must not free the pool.
 */
struct fcgic_pool_callbacks {
    unsigned version;
    int (*on_head)(void *req_ud, const struct fcgic_response_head *head);
    int (*on_body)(void *req_ud, const char *data, size_t len);
    int (*on_stderr)(void *req_ud, const char *line, size_t len);
    /** The request is over (exactly once per successful submit). */
    void (*on_end)(void *req_ud, const struct fcgic_result *result);
    /** Body pull for FCGIC_BODY_STREAM, see struct fcgic_conn_callbacks.
     *  Called at most once per byte: on a retry the pool replays what it
     *  kept. */
    int (*body_read)(void *req_ud, enum fcgic_type stream, struct fcgic_span *chunk);
    /** Statistics and log events; ev lives until the callback returns.
     *  Like the request callbacks, it may submit and abort (the work is
     *  deferred) but fcgic_pool_tick() from it returns FCGIC_E_REENTRANT. */
    void (*on_event)(void *ud, const struct fcgic_event *ev);
};

#define FCGIC_POOL_CALLBACKS_VERSION 1

/** Pool options, Apache's worker parameters. Zero-initialise, then set. */
struct fcgic_pool_options {
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
     *  the request sets none; 0 means none. */
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
     *  defaults. */
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

/* Retries. A request whose kept connection fails before any response byte
 * arrived (the application closed it, reset it, or left stray bytes of an
 * earlier response on it) runs once more on a fresh connection when its
 * `retry` policy allows it (enum fcgic_retry: by default when none of it
 * was written, or when REQUEST_METHOD is idempotent) and its body can be
 * replayed; FCGIC_EVENT_STALE_RETRY tells, and result.retries counts it.
 * With a transport that has `check`, an idle connection is checked for EOF
 * and stray bytes before it is reused, so most such connections are closed
 * before a request is written to them. */

/** Statistics of a pool. */
struct fcgic_pool_stats {
    unsigned conns_open;   /**< connections open (connecting, busy, idle) */
    unsigned conns_idle;   /**< of which idle */
    unsigned busy;         /**< requests submitted and not yet ended */
    unsigned queued;       /**< of which waiting for a connection */
    unsigned max;          /**< effective max (after GET_VALUES) */
    unsigned mpx;          /**< requests allowed per connection */
    uint64_t conns_created;
    uint64_t conns_reused; /**< requests sent on a kept connection */
    uint64_t requests;     /**< requests ended */
    uint64_t failures;     /**< requests ended with an error */
    uint64_t stale_retries;
    uint64_t queue_timeouts;
    uint64_t queue_full;
    uint64_t bytes_out;    /**< STDIN + DATA bytes sent */
    uint64_t bytes_in;     /**< STDOUT + STDERR bytes received */
};

/**
 * Create a pool.
 * @param opts options; opts->target is copied.
 * @param transport opens, kicks and closes connections (copied); its ud
 *        must outlive the pool.
 * @param cb callbacks (copied).
 * @param ud passed to on_event.
 * @param mem allocator hooks (copied) or NULL.
 * @return 0, FCGIC_E_INVAL (NULL out/opts/target/transport/cb, wrong
 *         cb->version, min > max) or FCGIC_E_NOMEM.
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
 *        on_end returns).
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
 * Abort a request: a queued one ends at once with FCGIC_E_ABORTED (result
 * .aborted set); a running one is aborted on its connection (on_end follows).
 * @return 0, FCGIC_E_INVAL, FCGIC_E_POOL_CLOSED (from on_end while the
 *         pool is being freed) or an error of fcgic_conn_abort().
 */
FCGIC_API int fcgic_pool_abort(struct fcgic_pool *p, struct fcgic_pool_req *r, uint64_t now);

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

/** Copy the statistics into *out. */
FCGIC_API void fcgic_pool_get_stats(const struct fcgic_pool *p, struct fcgic_pool_stats *out);

/** The target given at creation; lives as long as the pool. */
FCGIC_API const char *fcgic_pool_target(const struct fcgic_pool *p);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_POOL_H */

/**
 * @file balancer.h
 * @brief Balancer over several backends (Apache's `balancer://name`): each
 *        member owns a struct fcgic_pool; requests go to the member chosen
 *        by the load-balancing method and fail over to another member when
 *        a connection to the chosen one cannot be made.
 *
 * Methods follow Apache's mod_lbmethod_* exactly (same choices in the same
 * order for the same history):
 *  - byrequests: every usable member's lbstatus grows by its lbfactor; the
 *    member with the largest lbstatus (the first one in member order on a
 *    tie) is chosen and its lbstatus falls by the sum of the lbfactors.
 *    Two equal members alternate m1, m2, m1, ...
 *  - bybusyness: fewest requests in flight, ties broken as byrequests.
 *  - bytraffic: least (bytes out / lbfactor + bytes in / lbfactor), first
 *    in member order on a tie.
 * Members are tried by lbset (0 first); within an lbset the regular members,
 * and only when none of them is usable the hot standbys. Draining and
 * disabled members are never chosen, nor members that failed their health
 * checks. Members in error return after `retry` (default 60 s); when every
 * member is in error they are all tried again (Apache's forcerecovery, on
 * by default; a member that failed its health checks is not in error, so
 * it is neither forced back nor counted as in error). Unlike Apache, which
 * forces recovery for every request, it happens at most once per
 * recovery_interval_ns (default 1 s): requests in between cost no
 * connection attempt and no member event.
 *
 * Cost of one choice: O(G + log n), where n is the number of usable members
 * and G the number of distinct lbfactor values among them (at most 100),
 * plus one comparison per lbset/standby tier passed over; it does not grow
 * with the number of members beyond the logarithm.
 *
 * Failover: a request moves to another member, at most max_attempts times
 * (the embedder sees one on_end, with result.retries counting the moves and
 * the member pools' stale retries), when
 *  - its connection failed to open (FCGIC_E_CONNECT, FCGIC_E_TIMEOUT_CONNECT,
 *    FCGIC_E_RESOLVE, FCGIC_E_BAD_ADDRESS) before any response byte: the
 *    member is put in error for `retry`; subject to the request's `retry`
 *    policy (enum fcgic_retry; nothing was written, so only
 *    FCGIC_RETRY_NEVER keeps it);
 *  - the application answered END_REQUEST with protocolStatus OVERLOADED or
 *    CANT_MPX_CONN and no output: it did nothing, so the request moves
 *    whatever its method (not with FCGIC_RETRY_NEVER). OVERLOADED also puts
 *    the member in error for busy_retry_ns (default 1 s). When no other
 *    member can take it, the application's answer is delivered.
 * FCGIC_EVENT_FAILOVER is emitted for each move (error: the connect error,
 * or FCGIC_E_BUSY for OVERLOADED / CANT_MPX_CONN). A streamed body is kept
 * for that up to the replay_max of the member's pool options (a request
 * whose body outgrew it is not moved).
 *
 * All down: when no member can take a request (every member in error,
 * failing its health checks, disabled or draining, or max_attempts used
 * up), fcgic_balancer_submit() still returns 0 and the request ends through
 * on_end with result.error FCGIC_E_BAL_ALL_DOWN, delivered by the next
 * fcgic_balancer_tick() (the deadline is then 0), never from inside
 * fcgic_balancer_submit(). A gateway answers 503 there.
 *
 * Active health checks (hc_* member options): every hc_interval_ns the
 * balancer opens a connection of its own to the member (through the
 * transport, not counted in the member's pool) and sends either GET_VALUES
 * (passes when GET_VALUES_RESULT arrives) or one FastCGI request with the
 * configured params (passes when it ends with END_REQUEST, protocolStatus
 * REQUEST_COMPLETE, appStatus 0 and an HTTP status below 400, or equal to
 * hc_expect_status when set), then closes it. hc_fails consecutive failed
 * probes set FCGIC_MEMBER_HCFAIL (Apache's status C): the member is not
 * chosen; hc_passes consecutive passed probes clear HCFAIL and ERROR again.
 * The probes run from fcgic_balancer_tick() on the caller's clock; their
 * results are applied there too (FCGIC_EVENT_HEALTH for each probe,
 * FCGIC_EVENT_MEMBER_STATE when the flags change). Call
 * fcgic_balancer_deadline() after every transport event, as for a pool: it
 * is 0 when a probe's answer waits to be applied. Or set on_timer in the
 * callbacks (version 2): it is called whenever the balancer's deadline
 * changes, members' pools and probes included. (A GET_VALUES probe whose
 * connection fails without any callback is then judged at hc_timeout_ns,
 * as FCGIC_E_TIMEOUT, unless something else ticks the balancer earlier.)
 *
 * Response backpressure works as in a pool: a callback returns FCGIC_PAUSE,
 * fcgic_balancer_unpause() goes on; fcgic_balancer_submit() stores the
 * handle before any callback runs (see struct fcgic_pool_callbacks).
 *
 * Threads: one balancer, one thread at a time, together with its members'
 * pools and the transport they share.
 */
#ifndef FCGICLIENT_BALANCER_H
#define FCGICLIENT_BALANCER_H

#include "common.h"
#include "pool.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fcgic_balancer;
/** A request submitted to a balancer; valid until its on_end returns. */
struct fcgic_balancer_req;

/** Load-balancing methods. */
enum fcgic_lb_method {
    FCGIC_LB_BYREQUESTS = 0,
    FCGIC_LB_BYBUSYNESS = 1,
    FCGIC_LB_BYTRAFFIC = 2
};

/** Member status flags (Apache's status letters D, H, N, E). */
#define FCGIC_MEMBER_DISABLED 1u /**< set by the embedder: never chosen */
#define FCGIC_MEMBER_STANDBY 2u  /**< hot standby: chosen only when no regular member of its lbset is usable */
#define FCGIC_MEMBER_DRAIN 4u    /**< draining: no new requests, running ones finish */
#define FCGIC_MEMBER_ERROR 8u    /**< in error until retry passes (set by the balancer) */
#define FCGIC_MEMBER_HCFAIL 16u  /**< failed its health checks (Apache's C): not chosen until they pass */

/** Health-check probes (member option hc_method). */
enum fcgic_hc_method {
    /** FCGI_GET_VALUES on a new connection; passes when the answer
     *  (GET_VALUES_RESULT, whatever it holds) arrives in time. PHP-FPM
     *  answers it; applications built on libfcgi do not before a request
     *  has begun on the connection: probe those with FCGIC_HC_REQUEST. */
    FCGIC_HC_VALUES = 0,
    /** One FastCGI RESPONDER request with hc_params and an empty body on a
     *  new connection; passes when it ends with END_REQUEST,
     *  REQUEST_COMPLETE, appStatus 0 and the expected HTTP status. */
    FCGIC_HC_REQUEST = 1
};

/** retry_ns value meaning "retry at once" (0 means Apache's 60 s). */
#define FCGIC_RETRY_IMMEDIATE UINT64_MAX

/** Balancer options. Zero-initialise, then set (see "Structs that grow"
 *  in common.h). */
struct fcgic_balancer_options {
    /** 0 or FCGIC_BALANCER_OPTIONS_VERSION. */
    unsigned version;
    enum fcgic_lb_method method;
    /** Attempts after the first on other members; 0 means members - 1 at
     *  the time of the request (Apache's maxattempts default). */
    unsigned max_attempts;
    /** Nonzero turns Apache's forcerecovery off. */
    int no_force_recovery;
    /** Shortest time between two forced recoveries (every member in
     *  error: all are tried again); 0 means 1 s, FCGIC_RETRY_IMMEDIATE
     *  means every request (Apache's behaviour). */
    uint64_t recovery_interval_ns;
};

#define FCGIC_BALANCER_OPTIONS_VERSION 1

/** When a member with a health check takes its first request (member
 *  option hc_init; HAProxy's init-state). */
enum fcgic_hc_init {
    /** At once, before any probe (default). */
    FCGIC_HC_INIT_UP = 0,
    /** After its first probe passed: it starts with FCGIC_MEMBER_HCFAIL. */
    FCGIC_HC_INIT_DOWN = 1,
    /** After hc_passes probes passed in a row. */
    FCGIC_HC_INIT_FULLY_DOWN = 2
};

/** Member options. Zero-initialise, then set (see "Structs that grow" in
 *  common.h). */
struct fcgic_member_options {
    /** 0 or FCGIC_MEMBER_OPTIONS_VERSION. A release that grows struct
     *  fcgic_pool_options raises this version too: `pool` is read with the
     *  layout it had in the member options version given here. */
    unsigned version;
    /** The member's pool (target and worker parameters); copied. */
    struct fcgic_pool_options pool;
    /** Weight 1..100; 0 means 1. */
    unsigned lbfactor;
    /** Group: lower lbsets are used first, 0..99. */
    unsigned lbset;
    /** Initial FCGIC_MEMBER_DISABLED / _STANDBY / _DRAIN. */
    unsigned status;
    /** Time in error before the member is tried again; 0 means 60 s. */
    uint64_t retry_ns;
    /** Active health check: one probe every hc_interval_ns (0: no health
     *  check), the first at once. hc_fails consecutive failed probes set
     *  FCGIC_MEMBER_HCFAIL; hc_passes consecutive passed probes (counted
     *  from the last failure, or from the member's last failover error)
     *  clear HCFAIL and ERROR. 0 means 1 for both. Disabled, draining and
     *  standby members are probed too. */
    uint64_t hc_interval_ns;
    unsigned hc_fails, hc_passes;
    /** The probe: FCGIC_HC_VALUES (default) or FCGIC_HC_REQUEST. */
    enum fcgic_hc_method hc_method;
    /** Longest time a probe may take, connect included, before it counts
     *  as failed (FCGIC_E_TIMEOUT); 0 means hc_interval_ns. The pool
     *  options' connect_timeout_ns and conn caps apply to the probe's
     *  connection as well. */
    uint64_t hc_timeout_ns;
    /** FCGIC_HC_REQUEST: the request's params (e.g. SCRIPT_FILENAME,
     *  SCRIPT_NAME=/ping, REQUEST_METHOD=GET for PHP-FPM's ping.path);
     *  copied by fcgic_balancer_add(). */
    const struct fcgic_param *hc_params;
    size_t hc_nparams;
    /** FCGIC_HC_REQUEST: the HTTP status that passes (100..999); 0 means
     *  any status below 400. */
    unsigned hc_expect_status;
    /** Time in error after the application answered OVERLOADED (see
     *  Failover); 0 means 1 s; FCGIC_RETRY_IMMEDIATE means none. */
    uint64_t busy_retry_ns;
    /** FCGIC_HC_INIT_UP (default), _DOWN or _FULLY_DOWN: whether a new
     *  member waits for its health check before taking requests. Needs
     *  hc_interval_ns. */
    enum fcgic_hc_init hc_init;
};

#define FCGIC_MEMBER_OPTIONS_VERSION 1

/** Statistics of a member, filled by fcgic_balancer_member_stats().
 *  Zero-initialise and set `version` (see "Structs that grow" in
 *  common.h); the library fills what that version has. A release that
 *  grows struct fcgic_pool_stats raises this version too: `pool` is filled
 *  with the layout it had in the member stats version given here (its own
 *  `version` is set by the library). */
struct fcgic_member_stats {
    /** Set by the caller: 0 or FCGIC_MEMBER_STATS_VERSION. */
    unsigned version;
    /** The member's pool: every attempt that ran on this member, so a
     *  request that failed over counts here with the outcome it had here. */
    struct fcgic_pool_stats pool;
    unsigned status;      /**< FCGIC_MEMBER_* flags */
    unsigned lbfactor, lbset;
    long long lbstatus;   /**< Apache's lbstatus */
    unsigned busy;        /**< requests in flight through the balancer */
    uint64_t elected;     /**< times chosen */
    uint64_t errors;      /**< times put in error or in health-check failure */
    uint64_t recoveries;  /**< times taken out of error or health-check failure
                               (retry passed, forced, health checks passed) */
    uint64_t transferred; /**< bytes sent (Apache's transferred) */
    uint64_t read;        /**< bytes received (Apache's read) */
    uint64_t error_until; /**< while in error: when it may be tried again */
    /* Health checks (all 0 when the member has none). */
    uint64_t hc_checks;   /**< probes that ended */
    uint64_t hc_failures; /**< of which failed */
    unsigned hc_fail_run; /**< consecutive failed probes up to now */
    unsigned hc_pass_run; /**< consecutive passed probes up to now */
    int hc_last_error;    /**< the last probe's outcome: 0 passed, else why not */
    unsigned hc_last_status; /**< HTTP status of the last request probe, or 0 */
    uint64_t hc_next;     /**< when the next probe starts, or the running one
                               times out (0: its answer waits for a tick) */
    uint64_t failovers;   /**< requests that left this member for another one
                               (its connection failed, or it refused them) */
};

#define FCGIC_MEMBER_STATS_VERSION 1

/** Statistics of a balancer as a whole, filled by fcgic_balancer_get_stats():
 *  the requests submitted to it, as the embedder saw them (one end per
 *  request, whatever the failovers). Zero-initialise and set `version`. */
struct fcgic_balancer_stats {
    /** Set by the caller: 0 or FCGIC_BALANCER_STATS_VERSION. */
    unsigned version;
    unsigned members;     /**< fcgic_balancer_count() */
    unsigned busy;        /**< requests submitted and not yet ended */
    uint64_t requests;    /**< requests ended (on_end delivered) */
    uint64_t ends[FCGIC_END_KINDS]; /**< by enum fcgic_end_kind; they add up to requests */
    uint64_t failovers;   /**< moves of a request to another member */
    uint64_t all_down;    /**< requests no member could take (FCGIC_E_BAL_ALL_DOWN) */
    /** Latency histogram from submit to on_end, cumulative, as in struct
     *  fcgic_pool_stats; `requests` is the "+Inf" bucket. */
    uint64_t latency_le[FCGIC_LATENCY_BUCKETS];
    uint64_t latency_sum_ns;
};

#define FCGIC_BALANCER_STATS_VERSION 1

/**
 * Create a balancer.
 * @param transport opens, kicks and closes connections (copied); its ud
 *        must outlive the balancer.
 * @param cb callbacks (copied); on_event gets member events as well as the
 *        members' pool events (with `member` set).
 * @param ud passed to on_event and on_timer.
 * @param opts options (copied) or NULL for defaults.
 * @return 0, FCGIC_E_INVAL (also cb->version not in
 *         1..FCGIC_POOL_CALLBACKS_VERSION, opts->version or
 *         transport->version newer than this library knows) or
 *         FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_balancer_new(struct fcgic_balancer **out, const struct fcgic_balancer_options *opts,
                                 const struct fcgic_transport *transport, const struct fcgic_pool_callbacks *cb,
                                 void *ud, const struct fcgic_mem *mem);

/**
 * Close every connection and health probe, end every request still running
 * or queued, and free the balancer and every member's pool. Each such
 * request gets its on_end, in no particular order, with result.error
 * FCGIC_E_POOL_CLOSED; no failover. While those on_end callbacks run, every
 * other fcgic_balancer_* call that acts on the balancer (submit, pick,
 * abort, resume, tick, add, remove, set_status, set_lbfactor) returns
 * FCGIC_E_POOL_CLOSED. No event is emitted. NULL is a no-op. Must not be
 * called from inside one of the balancer's callbacks.
 */
FCGIC_API void fcgic_balancer_free(struct fcgic_balancer *b);

/**
 * Add a member at the end of the member order. With a health check, its
 * first probe is due at `now`.
 * @param opts options; opts->pool.target and opts->hc_params are copied.
 * @param id receives the member's id (never 0, never reused).
 * @return 0; FCGIC_E_INVAL (NULL b or opts, a version newer than this
 *         library knows (opts->version, opts->pool.version), unknown status flags,
 *         hc_method or hc_init, hc_init without hc_interval_ns, hc_nparams
 *         without hc_params, or an error of
 *         fcgic_pool_new()); FCGIC_E_RANGE (lbfactor > 100, lbset > 99,
 *         hc_expect_status > 999, a param too long); FCGIC_E_NOMEM;
 *         FCGIC_E_POOL_CLOSED.
 */
FCGIC_API int fcgic_balancer_add(struct fcgic_balancer *b, const struct fcgic_member_options *opts, unsigned *id,
                                 uint64_t now);

/**
 * Remove a member: it is no longer chosen and no longer probed (a running
 * probe is closed); it is freed once its running requests end (at once
 * when there are none).
 * @return 0, FCGIC_E_BAL_NO_MEMBER or FCGIC_E_POOL_CLOSED.
 */
FCGIC_API int fcgic_balancer_remove(struct fcgic_balancer *b, unsigned id, uint64_t now);

/**
 * Change a member's FCGIC_MEMBER_DISABLED, _STANDBY, _DRAIN, _ERROR and
 * _HCFAIL flags: set those in `set`, then clear those in `clear` (clearing
 * ERROR takes the member out of error now; setting it puts it in error for
 * retry; setting or clearing HCFAIL by hand restarts the count of
 * consecutive probes toward the next change). Emits
 * FCGIC_EVENT_MEMBER_STATE when the flags change.
 * @return 0, FCGIC_E_BAL_NO_MEMBER, FCGIC_E_INVAL (unknown flags),
 *         FCGIC_E_NOMEM (a new standby tier) or FCGIC_E_POOL_CLOSED.
 */
FCGIC_API int fcgic_balancer_set_status(struct fcgic_balancer *b, unsigned id, unsigned set, unsigned clear,
                                        uint64_t now);

/** Change a member's weight. @return 0, FCGIC_E_BAL_NO_MEMBER, FCGIC_E_RANGE,
 *  FCGIC_E_NOMEM or FCGIC_E_POOL_CLOSED. */
FCGIC_API int fcgic_balancer_set_lbfactor(struct fcgic_balancer *b, unsigned id, unsigned lbfactor);

/**
 * Choose a member as a request would (the method's state advances), without
 * submitting anything. Used by embedders that route themselves and by
 * tests and benchmarks.
 * @param id receives the member id.
 * @return 0, FCGIC_E_INVAL, FCGIC_E_BAL_ALL_DOWN or FCGIC_E_POOL_CLOSED.
 */
FCGIC_API int fcgic_balancer_pick(struct fcgic_balancer *b, unsigned *id, uint64_t now);

/**
 * Run a request on a member chosen by the method, with failover.
 * @param req as for fcgic_pool_submit().
 * @param handle if not NULL, receives the handle (valid until on_end
 *        returns), stored before any callback of the request runs.
 * @return 0 (on_end follows exactly once; with FCGIC_E_BAL_ALL_DOWN, from
 *         the next fcgic_balancer_tick(), when no member can take it);
 *         FCGIC_E_INVAL (also an unknown req->retry); FCGIC_E_NOMEM;
 *         FCGIC_E_POOL_CLOSED (from on_end while the balancer is being
 *         freed); an error of fcgic_pool_submit() other than a connect
 *         failure.
 */
FCGIC_API int fcgic_balancer_submit(struct fcgic_balancer *b, const struct fcgic_request *req, void *req_ud,
                                    struct fcgic_balancer_req **handle, uint64_t now);

/** Cancel a request, as fcgic_pool_abort(): on_end runs with
 *  FCGIC_E_ABORTED before this returns (from inside a callback of the
 *  request's connection: when that callback returns), also for a request
 *  whose FCGIC_E_BAL_ALL_DOWN end waits for a tick; no failover follows.
 *  With polite_abort in the member's pool options, on_end waits for the
 *  application's END_REQUEST.
 *  @return 0, FCGIC_E_INVAL, FCGIC_E_POOL_CLOSED or an error of
 *  fcgic_pool_abort(). */
FCGIC_API int fcgic_balancer_abort(struct fcgic_balancer *b, struct fcgic_balancer_req *r, uint64_t now);

/** Go on reading a response after FCGIC_PAUSE, as fcgic_pool_unpause().
 *  @return 0, FCGIC_E_INVAL or FCGIC_E_POOL_CLOSED. */
FCGIC_API int fcgic_balancer_unpause(struct fcgic_balancer *b, struct fcgic_balancer_req *r, uint64_t now);

/** Resume a request's body. @return 0, FCGIC_E_INVAL, FCGIC_E_POOL_CLOSED
 *  or an error of fcgic_pool_resume(). */
FCGIC_API int fcgic_balancer_resume(struct fcgic_balancer *b, struct fcgic_balancer_req *r, uint64_t now);

/**
 * Do the work due at now: members' pools, retries, health checks (start
 * due probes, time out late ones, apply answers), on_end of requests no
 * member could take (FCGIC_E_BAL_ALL_DOWN), freeing removed members.
 * @return 0, FCGIC_E_INVAL, FCGIC_E_REENTRANT (from inside a callback) or
 *         FCGIC_E_POOL_CLOSED.
 */
FCGIC_API int fcgic_balancer_tick(struct fcgic_balancer *b, uint64_t now);

/** When fcgic_balancer_tick() is due (0: at once), or FCGIC_NO_DEADLINE.
 *  Cost: O(1) plus one look per health probe running at the moment. */
FCGIC_API uint64_t fcgic_balancer_deadline(const struct fcgic_balancer *b);

/** Copy a member's statistics, as far as out->version has members.
 *  @return 0, FCGIC_E_BAL_NO_MEMBER (also NULL b or out) or FCGIC_E_INVAL
 *  (out->version newer than this library knows). */
FCGIC_API int fcgic_balancer_member_stats(const struct fcgic_balancer *b, unsigned id,
                                          struct fcgic_member_stats *out);

/**
 * Copy the balancer's own statistics, as far as out->version has members.
 * @return 0, or FCGIC_E_INVAL (NULL b or out, out->version newer than this
 *         library knows).
 */
FCGIC_API int fcgic_balancer_get_stats(const struct fcgic_balancer *b, struct fcgic_balancer_stats *out);

/** Members (removed ones that are still finishing are not counted). */
FCGIC_API size_t fcgic_balancer_count(const struct fcgic_balancer *b);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_BALANCER_H */

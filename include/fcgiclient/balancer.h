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
 * disabled members are never chosen. Members in error return after `retry`
 * (default 60 s); when every member is in error they are all tried again
 * (Apache's forcerecovery, on by default).
 *
 * Cost of one choice: O(G + log n), where n is the number of usable members
 * and G the number of distinct lbfactor values among them (at most 100),
 * plus one comparison per lbset/standby tier passed over; it does not grow
 * with the number of members beyond the logarithm.
 *
 * Failover: a request whose connection failed to open (FCGIC_E_CONNECT,
 * FCGIC_E_TIMEOUT_CONNECT, FCGIC_E_RESOLVE, FCGIC_E_BAD_ADDRESS) before
 * any response byte puts that member in error for `retry` and moves to
 * another member, at most max_attempts times; the embedder sees one on_end.
 * When no member is left the request ends with FCGIC_E_BAL_ALL_DOWN.
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

/** retry_ns value meaning "retry at once" (0 means Apache's 60 s). */
#define FCGIC_RETRY_IMMEDIATE UINT64_MAX

/** Balancer options. Zero-initialise, then set. */
struct fcgic_balancer_options {
    enum fcgic_lb_method method;
    /** Attempts after the first on other members; 0 means members - 1 at
     *  the time of the request (Apache's maxattempts default). */
    unsigned max_attempts;
    /** Nonzero turns Apache's forcerecovery off. */
    int no_force_recovery;
};

/** Member options. Zero-initialise, then set. */
struct fcgic_member_options {
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
    /** Active health check: a GET_VALUES probe every hc_interval_ns (0: no
     *  health check). hc_fails consecutive failures put the member in
     *  error; hc_passes consecutive successes take it out (0 means 1). */
    uint64_t hc_interval_ns;
    unsigned hc_fails, hc_passes;
};

/** Statistics of a member. */
struct fcgic_member_stats {
    struct fcgic_pool_stats pool;
    unsigned status;      /**< FCGIC_MEMBER_* flags */
    unsigned lbfactor, lbset;
    long long lbstatus;   /**< Apache's lbstatus */
    unsigned busy;        /**< requests in flight through the balancer */
    uint64_t elected;     /**< times chosen */
    uint64_t errors;      /**< times put in error */
    uint64_t recoveries;  /**< times taken out of error (retry passed, forced, health check) */
    uint64_t transferred; /**< bytes sent (Apache's transferred) */
    uint64_t read;        /**< bytes received (Apache's read) */
    uint64_t error_until; /**< while in error: when it may be tried again */
};

/**
 * Create a balancer.
 * @param transport opens, kicks and closes connections (copied); its ud
 *        must outlive the balancer.
 * @param cb callbacks (copied); on_event gets member events as well as the
 *        members' pool events (with `member` set).
 * @param ud passed to on_event.
 * @return 0, FCGIC_E_INVAL or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_balancer_new(struct fcgic_balancer **out, const struct fcgic_balancer_options *opts,
                                 const struct fcgic_transport *transport, const struct fcgic_pool_callbacks *cb,
                                 void *ud, const struct fcgic_mem *mem);

/** Free the balancer and every member's pool (no callbacks). NULL: no-op. */
FCGIC_API void fcgic_balancer_free(struct fcgic_balancer *b);

/**
 * Add a member at the end of the member order.
 * @param id receives the member's id (never 0, never reused).
 * @return 0, FCGIC_E_INVAL, FCGIC_E_RANGE (lbfactor > 100, lbset > 99) or
 *         FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_balancer_add(struct fcgic_balancer *b, const struct fcgic_member_options *opts, unsigned *id,
                                 uint64_t now);

/**
 * Remove a member: it is no longer chosen; it is freed once its running
 * requests end (at once when there are none).
 * @return 0 or FCGIC_E_BAL_NO_MEMBER.
 */
FCGIC_API int fcgic_balancer_remove(struct fcgic_balancer *b, unsigned id, uint64_t now);

/**
 * Change a member's FCGIC_MEMBER_DISABLED, _STANDBY, _DRAIN and _ERROR
 * flags: set those in `set`, then clear those in `clear` (clearing ERROR
 * takes the member out of error now; setting it puts it in error for
 * retry). Emits FCGIC_EVENT_MEMBER_STATE when the flags change.
 * @return 0, FCGIC_E_BAL_NO_MEMBER or FCGIC_E_INVAL (unknown flags).
 */
FCGIC_API int fcgic_balancer_set_status(struct fcgic_balancer *b, unsigned id, unsigned set, unsigned clear,
                                        uint64_t now);

/** Change a member's weight. @return 0, FCGIC_E_BAL_NO_MEMBER, FCGIC_E_RANGE. */
FCGIC_API int fcgic_balancer_set_lbfactor(struct fcgic_balancer *b, unsigned id, unsigned lbfactor);

/**
 * Choose a member as a request would (the method's state advances), without
 * submitting anything. Used by embedders that route themselves and by
 * tests and benchmarks.
 * @param id receives the member id.
 * @return 0 or FCGIC_E_BAL_ALL_DOWN.
 */
FCGIC_API int fcgic_balancer_pick(struct fcgic_balancer *b, unsigned *id, uint64_t now);

/**
 * Run a request on a member chosen by the method, with failover.
 * @param req as for fcgic_pool_submit().
 * @param handle if not NULL, receives the handle (valid until on_end
 *        returns).
 * @return 0 (on_end follows exactly once); FCGIC_E_INVAL; FCGIC_E_NOMEM;
 *         FCGIC_E_BAL_ALL_DOWN (no usable member); an error of
 *         fcgic_pool_submit() other than a connect failure.
 */
FCGIC_API int fcgic_balancer_submit(struct fcgic_balancer *b, const struct fcgic_request *req, void *req_ud,
                                    struct fcgic_balancer_req **handle, uint64_t now);

/** Abort a request. @return 0 or an error of fcgic_pool_abort(). */
FCGIC_API int fcgic_balancer_abort(struct fcgic_balancer *b, struct fcgic_balancer_req *r, uint64_t now);

/** Resume a request's body. @return 0 or an error of fcgic_pool_resume(). */
FCGIC_API int fcgic_balancer_resume(struct fcgic_balancer *b, struct fcgic_balancer_req *r, uint64_t now);

/**
 * Do the work due at now: members' pools, retries, health checks, freeing
 * removed members. @return 0 or FCGIC_E_REENTRANT.
 */
FCGIC_API int fcgic_balancer_tick(struct fcgic_balancer *b, uint64_t now);

/** When fcgic_balancer_tick() is due (0: at once), or FCGIC_NO_DEADLINE. */
FCGIC_API uint64_t fcgic_balancer_deadline(const struct fcgic_balancer *b);

/** Copy a member's statistics. @return 0 or FCGIC_E_BAL_NO_MEMBER. */
FCGIC_API int fcgic_balancer_member_stats(const struct fcgic_balancer *b, unsigned id,
                                          struct fcgic_member_stats *out);

/** Members (removed ones that are still finishing are not counted). */
FCGIC_API size_t fcgic_balancer_count(const struct fcgic_balancer *b);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_BALANCER_H */

/**
 * @file stats.h
 * @brief What pool and balancer statistics count: how requests end (a
 *        small, closed set of outcomes) and the latency histogram's
 *        buckets.
 *
 * Every pool (struct fcgic_pool_stats), balancer member (struct
 * fcgic_member_stats) and balancer (struct fcgic_balancer_stats) counts the
 * requests it ended by outcome and by latency. Latency is the time from the
 * `now` given to the submit call to the `now` of the call or connection
 * event that ended the request (fcgic_conn_last_now()): the library reads
 * no clock, so it is measured on the embedder's clock.
 *
 * The histogram has FCGIC_LATENCY_BUCKETS fixed buckets on a log scale
 * (1, 2.5, 5 per decade, from 100 microseconds to 50 seconds); the counts
 * handed out are cumulative, as Prometheus wants them: bucket i counts the
 * requests that took at most fcgic_latency_bucket_le(i) nanoseconds, and
 * the request count is the "+Inf" bucket.
 */
#ifndef FCGICLIENT_STATS_H
#define FCGICLIENT_STATS_H

#include "common.h"
#include "conn.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * How a request ended. The set is closed: a later release maps new errors
 * onto these kinds and never adds one, so arrays indexed by it keep their
 * size (FCGIC_END_KINDS).
 */
enum fcgic_end_kind {
    /** END_REQUEST with REQUEST_COMPLETE (whatever the appStatus or the
     *  HTTP status the application chose). */
    FCGIC_END_OK = 0,
    /** The application could not be reached: connect refused or timed
     *  out, name not resolved, bad address, no socket, or no balancer
     *  member usable (FCGIC_E_BAL_ALL_DOWN). */
    FCGIC_END_CONNECT = 1,
    /** A timeout: first byte, idle, total, or the wait for a pooled
     *  connection (FCGIC_E_POOL_TIMEOUT). */
    FCGIC_END_TIMEOUT = 2,
    /** The application broke the protocol or the connection: bad records,
     *  malformed CGI head, connection closed or reset before END_REQUEST. */
    FCGIC_END_PROTOCOL = 3,
    /** The application refused the request: END_REQUEST with OVERLOADED,
     *  CANT_MPX_CONN or UNKNOWN_ROLE. */
    FCGIC_END_REFUSED = 4,
    /** Cancelled by the embedder (fcgic_pool_abort(), e.g. the client left). */
    FCGIC_END_CANCEL = 5,
    /** Anything else: pool closed, out of memory, a callback's error, caps
     *  on our side (PARAMS_TOO_BIG), a failing request body source. */
    FCGIC_END_OTHER = 6
};

/** Number of enum fcgic_end_kind values (array size). */
#define FCGIC_END_KINDS 7

/** Number of finite latency buckets (array size); see fcgic_latency_bucket_le(). */
#define FCGIC_LATENCY_BUCKETS 18

/**
 * Classify a request's result.
 * @param res the result given to on_end; NULL gives FCGIC_END_OTHER.
 * @return its enum fcgic_end_kind.
 */
FCGIC_API enum fcgic_end_kind fcgic_end_kind(const struct fcgic_result *res);

/**
 * A short lowercase name for an outcome, fit for a metric label: "ok",
 * "connect", "timeout", "protocol", "refused", "cancel", "other".
 * @return a static string (never NULL; "other" for an unknown value).
 */
FCGIC_API const char *fcgic_end_kind_name(enum fcgic_end_kind kind);

/**
 * The upper bound, inclusive, of latency bucket i in nanoseconds:
 * 100 us, 250 us, 500 us, 1 ms, 2.5 ms, ... 25 s, 50 s for i = 0 ..
 * FCGIC_LATENCY_BUCKETS - 1.
 * @return the bound, or FCGIC_NO_DEADLINE (the "+Inf" bucket) for
 *         i >= FCGIC_LATENCY_BUCKETS.
 */
FCGIC_API uint64_t fcgic_latency_bucket_le(unsigned i);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_STATS_H */

/* Private interface between the pool and the balancer (and the pool's
 * benchmark). Not installed. */
#ifndef FCGIC_POOL_INT_H
#define FCGIC_POOL_INT_H

#include "fcgiclient/pool.h"
#include "util.h"

/* Streamed request bodies kept so a request can run again on another
 * connection (stale kept connection, balancer failover). Index 0: STDIN,
 * 1: DATA. */
struct fcgic__keep {
    struct fcgic__buf buf[2];
    size_t pos[2]; /* replay position of the current attempt */
    int eof[2];    /* the embedder's body_read said EOF */
    int lost;      /* bytes were pulled but not kept: not replayable */
    int want;      /* keep bytes at all */
    size_t max;    /* cap on kept bytes, both streams together */
};

void fcgic__keep_init(struct fcgic__keep *k, int want, size_t max);
void fcgic__keep_free(struct fcgic__keep *k, const struct fcgic__alloc *a);
/* Can req run again from the start with what k holds? */
int fcgic__keep_replayable(const struct fcgic__keep *k, const struct fcgic_request *req);

/* Who owns a pool (a balancer): woken whenever the pool's deadline may have
 * changed; `member` is reported in events. */
struct fcgic__pool_owner {
    void (*wake)(void *owner, struct fcgic_pool *p);
    void *owner;
    unsigned member;
};

void fcgic__pool_set_owner(struct fcgic_pool *p, const struct fcgic__pool_owner *o);

/* Submit with an external keep and borrowed params: keep and req->params
 * belong to the caller, which keeps them valid until on_end returns and
 * frees them afterwards (the pool copies neither). */
int fcgic__pool_submit_keep(struct fcgic_pool *p, const struct fcgic_request *req, void *req_ud,
                            struct fcgic__keep *keep, struct fcgic_pool_req **handle, uint64_t now);

/* The time of the event running now: inside an engine callback the
 * connection's fcgic_conn_last_now(), else the `now` of the pool call that
 * runs (the latest one seen). */
uint64_t fcgic__pool_now(const struct fcgic_pool *p);

/* The pool's effective replay_max (the option, or its default). */
size_t fcgic__pool_replay_max(const struct fcgic_pool *p);

/* Requests submitted and not ended (queued included). */
unsigned fcgic__pool_busy(const struct fcgic_pool *p);

/* Copy the n params at params (array and bytes) into one block from a;
 * *out is NULL when there is nothing to copy. Returns 0, FCGIC_E_INVAL,
 * FCGIC_E_RANGE or FCGIC_E_NOMEM. */
int fcgic__copy_params(const struct fcgic__alloc *a, const struct fcgic_param *params, size_t n,
                       const struct fcgic_param **out);

/* Allocate from a one block of total bytes that starts with an array of
 * count params (count * sizeof(struct fcgic_param) <= total, checked by the
 * caller); *dst is that array and *bytes the first byte after it. When total
 * is 0 nothing is allocated and *dst is NULL. Returns 0 or FCGIC_E_NOMEM. */
int fcgic__param_block(const struct fcgic__alloc *a, size_t total, size_t count, struct fcgic_param **dst,
                       char **bytes);

/* Is REQUEST_METHOD among params one of GET, HEAD, OPTIONS, TRACE, PUT,
 * DELETE? */
int fcgic__is_idempotent(const struct fcgic_param *params, size_t n);

/* May a request that ended with res run again under policy? idempotent:
 * fcgic__is_idempotent() of its params. */
int fcgic__may_retry(enum fcgic_retry policy, int idempotent, const struct fcgic_result *res);

/* Does the error mean the connection could not be made (nothing was sent)? */
int fcgic__is_connect_error(int err);

/* Bytes of struct fcgic_pool_stats the library fills for `version` (0
 * means 1), or 0 for a version newer than it knows. */
size_t fcgic__pool_stats_size(unsigned version);

/* Bytes of cb the library reads for its version (the version-1 prefix for
 * 1), or 0 for NULL or an unknown version. */
size_t fcgic__pool_callbacks_size(const struct fcgic_pool_callbacks *cb);

/* Bench hooks: take the most recently used idle connection (NULL if none)
 * and give it back, as a request would. */
struct fcgic_conn *fcgic__pool_acquire_idle(struct fcgic_pool *p, uint64_t now);
void fcgic__pool_release_idle(struct fcgic_pool *p, struct fcgic_conn *c, uint64_t now);
/* Open a connection and keep it idle (prewarming; used by the benchmark). */
int fcgic__pool_open_idle(struct fcgic_pool *p, uint64_t now);

#endif

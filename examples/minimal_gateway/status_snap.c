/* Snapshots of a thread's counters and backends, and their sum over
 * threads (status_int.h). */
#include <stdlib.h>
#include <string.h>

#include "status_int.h"
#include "worker.h"

static size_t total_members(const struct gw_server *srv)
{
    size_t n = 0;
    for (size_t i = 0; i < srv->n_balancers; i++)
        n += srv->balancers[i]->n_members;
    return n;
}

int gw_snap_init(struct gw_snap *s, const struct gw_server *srv)
{
    memset(s, 0, sizeof *s);
    size_t nbe = srv->n_workers + srv->n_balancers, nm = total_members(srv);
    s->be = calloc(nbe ? nbe : 1, sizeof *s->be);
    s->members = calloc(nm ? nm : 1, sizeof *s->members);
    if (s->be == NULL || s->members == NULL)
        return -1;
    struct gw_member_snap *m = s->members;
    for (size_t i = 0; i < srv->n_balancers; i++) {
        s->be[srv->n_workers + i].m = m;
        m += srv->balancers[i]->n_members;
    }
    return 0;
}

void gw_snap_fini(struct gw_snap *s)
{
    free(s->be);
    free(s->members);
}

/* Zero the numbers, keep the storage. */
void gw_snap_clear(struct gw_snap *s, const struct gw_server *srv)
{
    size_t nbe = srv->n_workers + srv->n_balancers, nm = total_members(srv);
    struct gw_be_snap *be = s->be;
    struct gw_member_snap *m = s->members;
    memset(be, 0, nbe * sizeof *be);
    memset(m, 0, nm * sizeof *m);
    memset(s, 0, sizeof *s);
    s->be = be;
    s->members = m;
    for (size_t i = 0; i < srv->n_balancers; i++) {
        s->be[srv->n_workers + i].m = m;
        m += srv->balancers[i]->n_members;
    }
}

static void fill_balancer(struct gw_be_snap *be, struct fcgic_balancer *bal, size_t n_members)
{
    be->bal.version = FCGIC_BALANCER_STATS_VERSION;
    (void)fcgic_balancer_get_stats(bal, &be->bal);
    for (size_t k = 0; k < n_members; k++) {
        struct gw_member_snap *m = &be->m[k];
        m->s.version = FCGIC_MEMBER_STATS_VERSION;
        /* members are added in configuration order: ids 1, 2, ... */
        if (fcgic_balancer_member_stats(bal, (unsigned)k + 1, &m->s) != 0)
            continue;
        for (unsigned f = 0; f < GW_MEMBER_FLAGS; f++)
            m->flag_threads[f] = (m->s.status & gw_member_flag(f)) ? 1 : 0;
    }
}

/* Fill s from thread t (on t's thread). */
void gw_snap_fill(struct gw_snap *s, struct gw_worker_thread *t)
{
    const struct gw_server *srv = t->srv;
    s->ctr = t->counters;
    struct gw_http_stats hs;
    gw_http_server_stats(t->http, &hs);
    s->conns_open = hs.conns;
    s->conns_active = hs.active;
    s->layer_errors = hs.errors;
    s->proxied_active = t->active;
    for (size_t i = 0; i < t->n_backends; i++) {
        struct gw_backend *b = &t->backends[i];
        if (b->pool) {
            s->be[i].pool.version = FCGIC_POOL_STATS_VERSION;
            (void)fcgic_pool_get_stats(b->pool, &s->be[i].pool);
        } else if (b->bal) {
            fill_balancer(&s->be[i], b->bal, srv->balancers[i - srv->n_workers]->n_members);
        }
    }
}

static void counters_add(struct gw_counters *a, const struct gw_counters *x)
{
    a->accepted += x->accepted;
    a->requests += x->requests;
    for (size_t i = 0; i < 6; i++)
        a->by_class[i] += x->by_class[i];
    a->body_bytes += x->body_bytes;
}

static void pool_add(struct fcgic_pool_stats *a, const struct fcgic_pool_stats *x)
{
    a->conns_open += x->conns_open;
    a->conns_idle += x->conns_idle;
    a->busy += x->busy;
    a->queued += x->queued;
    a->max += x->max;
    a->mpx = x->mpx > a->mpx ? x->mpx : a->mpx;
    a->conns_created += x->conns_created;
    a->conns_reused += x->conns_reused;
    a->requests += x->requests;
    a->failures += x->failures;
    a->stale_retries += x->stale_retries;
    a->queue_timeouts += x->queue_timeouts;
    a->queue_full += x->queue_full;
    a->bytes_out += x->bytes_out;
    a->bytes_in += x->bytes_in;
    for (size_t k = 0; k < FCGIC_END_KINDS; k++)
        a->ends[k] += x->ends[k];
    a->queue_waits += x->queue_waits;
    a->queue_wait_ns += x->queue_wait_ns;
    for (size_t k = 0; k < FCGIC_LATENCY_BUCKETS; k++)
        a->latency_le[k] += x->latency_le[k];
    a->latency_sum_ns += x->latency_sum_ns;
}

static void balancer_add(struct fcgic_balancer_stats *a, const struct fcgic_balancer_stats *x)
{
    a->members = x->members > a->members ? x->members : a->members;
    a->busy += x->busy;
    a->requests += x->requests;
    for (size_t k = 0; k < FCGIC_END_KINDS; k++)
        a->ends[k] += x->ends[k];
    a->failovers += x->failovers;
    a->all_down += x->all_down;
    for (size_t k = 0; k < FCGIC_LATENCY_BUCKETS; k++)
        a->latency_le[k] += x->latency_le[k];
    a->latency_sum_ns += x->latency_sum_ns;
}

static void member_add(struct gw_member_snap *a, const struct gw_member_snap *x)
{
    pool_add(&a->s.pool, &x->s.pool);
    a->s.status |= x->s.status;
    a->s.lbfactor = x->s.lbfactor;
    a->s.lbset = x->s.lbset;
    a->s.busy += x->s.busy;
    a->s.elected += x->s.elected;
    a->s.errors += x->s.errors;
    a->s.recoveries += x->s.recoveries;
    a->s.transferred += x->s.transferred;
    a->s.read += x->s.read;
    a->s.failovers += x->s.failovers;
    for (unsigned f = 0; f < GW_MEMBER_FLAGS; f++)
        a->flag_threads[f] += x->flag_threads[f];
}

/* a += x. */
void gw_snap_add(struct gw_snap *a, const struct gw_snap *x, const struct gw_server *srv)
{
    counters_add(&a->ctr, &x->ctr);
    a->conns_open += x->conns_open;
    a->conns_active += x->conns_active;
    a->layer_errors += x->layer_errors;
    a->proxied_active += x->proxied_active;
    for (size_t i = 0; i < srv->n_workers; i++)
        pool_add(&a->be[i].pool, &x->be[i].pool);
    for (size_t i = 0; i < srv->n_balancers; i++) {
        struct gw_be_snap *ab = &a->be[srv->n_workers + i];
        const struct gw_be_snap *xb = &x->be[srv->n_workers + i];
        balancer_add(&ab->bal, &xb->bal);
        for (size_t k = 0; k < srv->balancers[i]->n_members; k++)
            member_add(&ab->m[k], &xb->m[k]);
    }
}

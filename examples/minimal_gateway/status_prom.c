/* SetHandler metrics: Prometheus text exposition format 0.0.4. Every
 * family is written whole (# HELP, # TYPE, then its samples); counters end
 * in _total; latencies are histograms in seconds with cumulative buckets. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "status_int.h"

#define NS "minimal_gateway_"

static void family(struct gw_sbuf *b, const char *name, const char *type, const char *help)
{
    gw_sbuf_printf(b, "# HELP " NS "%s %s\n# TYPE " NS "%s %s\n", name, help, name, type);
}

static void sample(struct gw_sbuf *b, const char *name, const char *labels, uint64_t v)
{
    gw_sbuf_printf(b, NS "%s%s%s%s %llu\n", name, labels ? "{" : "", labels ? labels : "", labels ? "}" : "",
                   (unsigned long long)v);
}

/* ---- gateway-wide ---- */

static void gateway(struct gw_sbuf *b, const struct gw_status_view *v)
{
    const struct gw_snap *s = v->sum;
    family(b, "connections_accepted_total", "counter", "Client connections accepted.");
    sample(b, "connections_accepted_total", NULL, s->ctr.accepted);
    family(b, "connections_open", "gauge", "Client connections open.");
    sample(b, "connections_open", NULL, s->conns_open);
    family(b, "requests_total", "counter",
           "Requests answered by the handlers, by status class (none: the client left first).");
    static const char *const classes[6] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; i++) {
        char l[32];
        snprintf(l, sizeof l, "class=\"%s\"", classes[i]);
        sample(b, "requests_total", l, s->ctr.by_class[i]);
    }
    family(b, "http_layer_errors_total", "counter",
           "Malformed requests answered by the HTTP layer itself (400, 408, 413, 414, 431, 501, 505).");
    sample(b, "http_layer_errors_total", NULL, s->layer_errors);
    family(b, "response_body_bytes_total", "counter", "Response body bytes, error pages included.");
    sample(b, "response_body_bytes_total", NULL, s->ctr.body_bytes);
    family(b, "proxy_requests_in_flight", "gauge", "Requests being proxied to FastCGI applications.");
    sample(b, "proxy_requests_in_flight", NULL, s->proxied_active);
    family(b, "threads", "gauge", "Threads serving the configuration.");
    sample(b, "threads", NULL, v->threads);
    family(b, "status_threads_answered", "gauge", "Threads whose numbers are fresh in this answer.");
    sample(b, "status_threads_answered", NULL, v->answered);
    family(b, "uptime_seconds", "gauge", "Seconds since the configuration was loaded.");
    sample(b, "uptime_seconds", NULL, v->uptime_s);
}

/* ---- labels ---- */

/* The labels of backend i (worker or balancer), or of member k of
 * balancer i when k >= 0, into b (no braces). */
static void labels(struct gw_sbuf *b, const struct gw_server *srv, size_t i, long k)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
    if (k < 0) {
        gw_sbuf_add(b, "backend=\"", 9);
        gw_sbuf_label(b, i < srv->n_workers ? srv->workers[i]->address : srv->balancers[i - srv->n_workers]->name);
    } else {
        const struct gw_balancer *bal = srv->balancers[i - srv->n_workers];
        gw_sbuf_add(b, "balancer=\"", 10);
        gw_sbuf_label(b, bal->name);
        gw_sbuf_add(b, "\",member=\"", 10);
        gw_sbuf_label(b, bal->members[k].address);
    }
    gw_sbuf_add(b, "\"", 1);
}

/* ---- pool numbers: workers (label backend) and members (balancer, member) ---- */

struct pool_metric {
    const char *name, *type, *help;
    size_t off;
    bool narrow; /* an unsigned member, else uint64_t */
};

#define U64(f) offsetof(struct fcgic_pool_stats, f), false
#define U32(f) offsetof(struct fcgic_pool_stats, f), true

static const struct pool_metric pool_metrics[] = {
    {"connections_open", "gauge", "Connections to the application open.", U32(conns_open)},
    {"connections_idle", "gauge", "Of which idle.", U32(conns_idle)},
    {"connections_created_total", "counter", "Connections opened.", U64(conns_created)},
    {"connections_reused_total", "counter", "Requests sent on a kept connection.", U64(conns_reused)},
    {"busy", "gauge", "Requests submitted and not ended.", U32(busy)},
    {"queue_length", "gauge", "Requests waiting for a connection.", U32(queued)},
    {"queue_waits_total", "counter", "Requests that waited for a connection.", U64(queue_waits)},
    {"queue_timeouts_total", "counter", "Requests that waited longer than acquire.", U64(queue_timeouts)},
    {"queue_full_total", "counter", "Requests refused with a full queue.", U64(queue_full)},
    {"stale_retries_total", "counter", "Requests run again after a kept connection was found closed.",
     U64(stale_retries)},
    {"bytes_sent_total", "counter", "Request body bytes sent to the application.", U64(bytes_out)},
    {"bytes_received_total", "counter", "Response bytes received from the application.", U64(bytes_in)},
};

static uint64_t pool_value(const struct fcgic_pool_stats *p, const struct pool_metric *m)
{
    const char *base = (const char *)p + m->off;
    return m->narrow ? *(const unsigned *)(const void *)base : *(const uint64_t *)(const void *)base;
}

static const struct fcgic_pool_stats *member_pool(const struct gw_status_view *v, size_t i, size_t k)
{
    return &v->sum->be[i].m[k].s.pool;
}

/* The samples of one pool family: every worker, then every member. */
static void pool_family(struct gw_sbuf *b, struct gw_sbuf *l, const struct gw_status_view *v,
                        const struct pool_metric *m)
{
    const struct gw_server *srv = v->srv;
    char name[96];
    snprintf(name, sizeof name, "backend_%s", m->name);
    family(b, name, m->type, m->help);
    for (size_t i = 0; i < srv->n_workers; i++) {
        labels(l, srv, i, -1);
        sample(b, name, l->p, pool_value(&v->sum->be[i].pool, m));
    }
    snprintf(name, sizeof name, "member_%s", m->name);
    family(b, name, m->type, m->help);
    for (size_t i = srv->n_workers; i < srv->n_workers + srv->n_balancers; i++)
        for (size_t k = 0; k < srv->balancers[i - srv->n_workers]->n_members; k++) {
            labels(l, srv, i, (long)k);
            sample(b, name, l->p, pool_value(member_pool(v, i, k), m));
        }
}

/* ---- outcomes and latency: workers and balancers, and members ---- */

struct ends_view {
    const uint64_t *ends, *le;
    uint64_t count, sum_ns;
};

static struct ends_view backend_ends(const struct gw_status_view *v, size_t i)
{
    const struct gw_be_snap *be = &v->sum->be[i];
    if (i < v->srv->n_workers)
        return (struct ends_view){be->pool.ends, be->pool.latency_le, be->pool.requests, be->pool.latency_sum_ns};
    return (struct ends_view){be->bal.ends, be->bal.latency_le, be->bal.requests, be->bal.latency_sum_ns};
}

static struct ends_view member_ends(const struct gw_status_view *v, size_t i, size_t k)
{
    const struct fcgic_pool_stats *p = member_pool(v, i, k);
    return (struct ends_view){p->ends, p->latency_le, p->requests, p->latency_sum_ns};
}

static void outcome_samples(struct gw_sbuf *b, const char *name, const char *lab, const struct ends_view *e)
{
    for (unsigned o = 0; o < FCGIC_END_KINDS; o++)
        gw_sbuf_printf(b, NS "%s{%s,outcome=\"%s\"} %llu\n", name, lab, fcgic_end_kind_name((enum fcgic_end_kind)o),
                       (unsigned long long)e->ends[o]);
}

static void histogram_samples(struct gw_sbuf *b, const char *name, const char *lab, const struct ends_view *e)
{
    for (unsigned i = 0; i < FCGIC_LATENCY_BUCKETS; i++) {
        gw_sbuf_printf(b, NS "%s_bucket{%s,le=\"", name, lab);
        gw_sbuf_seconds(b, fcgic_latency_bucket_le(i));
        gw_sbuf_printf(b, "\"} %llu\n", (unsigned long long)e->le[i]);
    }
    gw_sbuf_printf(b, NS "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, lab, (unsigned long long)e->count);
    gw_sbuf_printf(b, NS "%s_sum{%s} ", name, lab);
    gw_sbuf_seconds(b, e->sum_ns);
    gw_sbuf_printf(b, "\n" NS "%s_count{%s} %llu\n", name, lab, (unsigned long long)e->count);
}

typedef void (*ends_writer)(struct gw_sbuf *, const char *, const char *, const struct ends_view *);

static void ends_families(struct gw_sbuf *b, struct gw_sbuf *l, const struct gw_status_view *v, const char *suffix,
                          const char *type, const char *help, ends_writer w)
{
    const struct gw_server *srv = v->srv;
    char name[96];
    snprintf(name, sizeof name, "backend_%s", suffix);
    family(b, name, type, help);
    for (size_t i = 0; i < srv->n_workers + srv->n_balancers; i++) {
        struct ends_view e = backend_ends(v, i);
        labels(l, srv, i, -1);
        w(b, name, l->p, &e);
    }
    snprintf(name, sizeof name, "member_%s", suffix);
    family(b, name, type, help);
    for (size_t i = srv->n_workers; i < srv->n_workers + srv->n_balancers; i++)
        for (size_t k = 0; k < srv->balancers[i - srv->n_workers]->n_members; k++) {
            struct ends_view e = member_ends(v, i, k);
            labels(l, srv, i, (long)k);
            w(b, name, l->p, &e);
        }
}

/* ---- balancers and members ---- */

static void balancer_counter(struct gw_sbuf *b, struct gw_sbuf *l, const struct gw_status_view *v, const char *name,
                             const char *help, bool all_down)
{
    const struct gw_server *srv = v->srv;
    family(b, name, "counter", help);
    for (size_t i = srv->n_workers; i < srv->n_workers + srv->n_balancers; i++) {
        labels(l, srv, i, -1);
        const struct fcgic_balancer_stats *s = &v->sum->be[i].bal;
        sample(b, name, l->p, all_down ? s->all_down : s->failovers);
    }
}

struct member_metric {
    const char *name, *type, *help;
    size_t off; /* uint64_t, or unsigned when narrow */
    bool narrow;
};

static const struct member_metric member_metrics[] = {
    {"elected_total", "counter", "Times the member was chosen.", offsetof(struct fcgic_member_stats, elected), false},
    {"failovers_total", "counter", "Requests that left the member for another one.",
     offsetof(struct fcgic_member_stats, failovers), false},
    {"errors_total", "counter", "Times the member was put in error.", offsetof(struct fcgic_member_stats, errors),
     false},
    {"in_flight", "gauge", "Requests running on the member.", offsetof(struct fcgic_member_stats, busy), true},
};

static void member_family(struct gw_sbuf *b, struct gw_sbuf *l, const struct gw_status_view *v,
                          const struct member_metric *m)
{
    const struct gw_server *srv = v->srv;
    char name[96];
    snprintf(name, sizeof name, "member_%s", m->name);
    family(b, name, m->type, m->help);
    for (size_t i = srv->n_workers; i < srv->n_workers + srv->n_balancers; i++)
        for (size_t k = 0; k < srv->balancers[i - srv->n_workers]->n_members; k++) {
            const char *base = (const char *)&v->sum->be[i].m[k].s + m->off;
            labels(l, srv, i, (long)k);
            sample(b, name, l->p,
                   m->narrow ? *(const unsigned *)(const void *)base : *(const uint64_t *)(const void *)base);
        }
}

static void member_status(struct gw_sbuf *b, struct gw_sbuf *l, const struct gw_status_view *v)
{
    const struct gw_server *srv = v->srv;
    family(b, "member_status", "gauge", "Threads in which the member has the flag.");
    for (size_t i = srv->n_workers; i < srv->n_workers + srv->n_balancers; i++)
        for (size_t k = 0; k < srv->balancers[i - srv->n_workers]->n_members; k++) {
            labels(l, srv, i, (long)k);
            for (unsigned f = 0; f < GW_MEMBER_FLAGS; f++)
                gw_sbuf_printf(b, NS "member_status{%s,flag=\"%s\"} %u\n", l->p, gw_member_flag_name(f),
                               v->sum->be[i].m[k].flag_threads[f]);
        }
}

void gw_status_prometheus(struct gw_sbuf *b, const struct gw_status_view *v)
{
    struct gw_sbuf l = {0};
    gw_sbuf_add(&l, "", 0);
    gateway(b, v);
    ends_families(b, &l, v, "requests_total", "counter",
                  "Requests ended, by outcome (ok, connect, timeout, protocol, refused, cancel, other).",
                  outcome_samples);
    ends_families(b, &l, v, "request_duration_seconds", "histogram",
                  "Time from submit to the end of the request, queue wait included.", histogram_samples);
    for (size_t i = 0; i < sizeof pool_metrics / sizeof pool_metrics[0]; i++)
        pool_family(b, &l, v, &pool_metrics[i]);
    balancer_counter(b, &l, v, "balancer_failovers_total", "Moves of a request to another member.", false);
    balancer_counter(b, &l, v, "balancer_all_down_total", "Requests no member could take.", true);
    for (size_t i = 0; i < sizeof member_metrics / sizeof member_metrics[0]; i++)
        member_family(b, &l, v, &member_metrics[i]);
    member_status(b, &l, v);
    if (l.failed)
        b->failed = true;
    free(l.p);
}

/* SetHandler server-status: a text page in the manner of Apache's
 * mod_status, Apache's "?auto" lines, and "?json". */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "status_int.h"

static const char *const classes[6] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

static const char *backend_name(const struct gw_server *srv, size_t i)
{
    return i < srv->n_workers ? srv->workers[i]->address : srv->balancers[i - srv->n_workers]->name;
}

/* Apache's status letters for member flags: D H N E C. */
static void flag_letters(char *out, unsigned status)
{
    static const char letters[GW_MEMBER_FLAGS] = {'D', 'H', 'N', 'E', 'C'};
    size_t n = 0;
    for (unsigned f = 0; f < GW_MEMBER_FLAGS; f++)
        if (status & gw_member_flag(f))
            out[n++] = letters[f];
    if (n == 0)
        out[n++] = 'O'; /* Ok */
    out[n] = '\0';
}

static void version_line(struct gw_sbuf *b, const char *key)
{
    const char *lib;
    fcgic_version(&lib);
    gw_sbuf_printf(b, "%s: minimal_gateway (libfcgiclient %s)\n", key, lib);
}

/* ---- text ---- */

static void text_outcomes(struct gw_sbuf *b, uint64_t total, const uint64_t *ends)
{
    gw_sbuf_printf(b, "requests %llu:", (unsigned long long)total);
    for (unsigned o = 0; o < FCGIC_END_KINDS; o++)
        gw_sbuf_printf(b, " %s %llu", fcgic_end_kind_name((enum fcgic_end_kind)o), (unsigned long long)ends[o]);
    gw_sbuf_add(b, "\n", 1);
}

static void text_pool(struct gw_sbuf *b, const char *indent, const struct fcgic_pool_stats *p)
{
    gw_sbuf_add(b, indent, strlen(indent));
    text_outcomes(b, p->requests, p->ends);
    gw_sbuf_printf(b, "%sconnections: %u open, %u idle, %llu created, %llu reused; busy %u, queued %u\n", indent,
                   p->conns_open, p->conns_idle, (unsigned long long)p->conns_created,
                   (unsigned long long)p->conns_reused, p->busy, p->queued);
    gw_sbuf_printf(b, "%squeue: %llu waits, %.3f s waited, %llu timeouts, %llu full; stale retries %llu\n", indent,
                   (unsigned long long)p->queue_waits, (double)p->queue_wait_ns / 1e9,
                   (unsigned long long)p->queue_timeouts, (unsigned long long)p->queue_full,
                   (unsigned long long)p->stale_retries);
    gw_sbuf_printf(b, "%slatency: mean %.6f s; bytes sent %llu, received %llu\n", indent,
                   p->requests ? (double)p->latency_sum_ns / 1e9 / (double)p->requests : 0.0,
                   (unsigned long long)p->bytes_out, (unsigned long long)p->bytes_in);
}

static void text_balancer(struct gw_sbuf *b, const struct gw_status_view *v, size_t i)
{
    const struct gw_balancer *bal = v->srv->balancers[i - v->srv->n_workers];
    const struct gw_be_snap *be = &v->sum->be[i];
    gw_sbuf_printf(b, "\nBalancer %s: %llu failovers, %llu all down, %u in flight\n  ", bal->name,
                   (unsigned long long)be->bal.failovers, (unsigned long long)be->bal.all_down, be->bal.busy);
    text_outcomes(b, be->bal.requests, be->bal.ends);
    for (size_t k = 0; k < bal->n_members; k++) {
        const struct fcgic_member_stats *m = &be->m[k].s;
        char st[8];
        flag_letters(st, m->status);
        gw_sbuf_printf(b,
                       "  Member %s [%s] lbfactor %u lbset %u: elected %llu, errors %llu, failovers %llu, "
                       "in flight %u\n",
                       bal->members[k].address, st, m->lbfactor, m->lbset, (unsigned long long)m->elected,
                       (unsigned long long)m->errors, (unsigned long long)m->failovers, m->busy);
        text_pool(b, "    ", &m->pool);
    }
}

void gw_status_page_text(struct gw_sbuf *b, const struct gw_status_view *v)
{
    const struct gw_snap *s = v->sum;
    gw_sbuf_printf(b, "minimal_gateway Status\n\n");
    version_line(b, "Server Version");
    char when[64];
    time_t rt = (time_t)v->restart_time;
    struct tm tm;
    strftime(when, sizeof when, "%A, %d-%b-%Y %H:%M:%S %Z", localtime_r(&rt, &tm));
    gw_sbuf_printf(b, "Restart Time: %s\nServer uptime: %llu seconds\n", when, (unsigned long long)v->uptime_s);
    gw_sbuf_printf(b, "Threads: %u (%u answered)\n", v->threads, v->answered);
    gw_sbuf_printf(b, "Total accesses: %llu - Total Traffic: %llu bytes\n", (unsigned long long)s->ctr.requests,
                   (unsigned long long)s->ctr.body_bytes);
    gw_sbuf_printf(b, "Requests by status:");
    for (int i = 1; i < 6; i++)
        gw_sbuf_printf(b, " %s %llu", classes[i], (unsigned long long)s->ctr.by_class[i]);
    gw_sbuf_printf(b, " none %llu; answered by the HTTP layer %llu\n", (unsigned long long)s->ctr.by_class[0],
                   (unsigned long long)s->layer_errors);
    gw_sbuf_printf(b, "Connections: %llu accepted, %llu open, %llu active; %llu requests being proxied\n",
                   (unsigned long long)s->ctr.accepted, (unsigned long long)s->conns_open,
                   (unsigned long long)s->conns_active, (unsigned long long)s->proxied_active);
    for (size_t i = 0; i < v->srv->n_workers; i++) {
        gw_sbuf_printf(b, "\nWorker %s\n", v->srv->workers[i]->address);
        text_pool(b, "  ", &s->be[i].pool);
    }
    for (size_t i = v->srv->n_workers; i < v->srv->n_workers + v->srv->n_balancers; i++)
        text_balancer(b, v, i);
}

/* ---- ?auto ---- */

static void auto_pool(struct gw_sbuf *b, const char *prefix, const char *name, const struct fcgic_pool_stats *p)
{
    gw_sbuf_printf(b, "%sRequests[%s]: %llu\n", prefix, name, (unsigned long long)p->requests);
    for (unsigned o = 0; o < FCGIC_END_KINDS; o++)
        gw_sbuf_printf(b, "%sEnds[%s][%s]: %llu\n", prefix, name, fcgic_end_kind_name((enum fcgic_end_kind)o),
                       (unsigned long long)p->ends[o]);
    gw_sbuf_printf(b, "%sConnsOpen[%s]: %u\n%sConnsReused[%s]: %llu\n%sBusy[%s]: %u\n%sQueued[%s]: %u\n", prefix, name,
                   p->conns_open, prefix, name, (unsigned long long)p->conns_reused, prefix, name, p->busy, prefix,
                   name, p->queued);
}

void gw_status_page_auto(struct gw_sbuf *b, const struct gw_status_view *v)
{
    const struct gw_snap *s = v->sum;
    const struct gw_server *srv = v->srv;
    gw_sbuf_printf(b, "%s\n", srv->server_name ? srv->server_name : "localhost");
    version_line(b, "ServerVersion");
    gw_sbuf_printf(b, "ServerUptimeSeconds: %llu\nUptime: %llu\n", (unsigned long long)v->uptime_s,
                   (unsigned long long)v->uptime_s);
    gw_sbuf_printf(b, "Total Accesses: %llu\nTotal kBytes: %llu\n", (unsigned long long)s->ctr.requests,
                   (unsigned long long)(s->ctr.body_bytes / 1024));
    gw_sbuf_printf(b, "BusyWorkers: %llu\nConnsTotal: %llu\nConnsAccepted: %llu\nThreads: %u\nThreadsAnswered: %u\n",
                   (unsigned long long)s->proxied_active, (unsigned long long)s->conns_open,
                   (unsigned long long)s->ctr.accepted, v->threads, v->answered);
    for (int i = 0; i < 6; i++)
        gw_sbuf_printf(b, "Requests%s: %llu\n", i ? classes[i] : "NoStatus", (unsigned long long)s->ctr.by_class[i]);
    gw_sbuf_printf(b, "HTTPLayerErrors: %llu\nTotal Bytes: %llu\n", (unsigned long long)s->layer_errors,
                   (unsigned long long)s->ctr.body_bytes);
    for (size_t i = 0; i < srv->n_workers; i++)
        auto_pool(b, "Worker", srv->workers[i]->address, &s->be[i].pool);
    for (size_t i = srv->n_workers; i < srv->n_workers + srv->n_balancers; i++) {
        const struct gw_balancer *bal = srv->balancers[i - srv->n_workers];
        const struct fcgic_balancer_stats *bs = &s->be[i].bal;
        gw_sbuf_printf(b, "BalancerRequests[%s]: %llu\nBalancerFailovers[%s]: %llu\nBalancerAllDown[%s]: %llu\n",
                       bal->name, (unsigned long long)bs->requests, bal->name, (unsigned long long)bs->failovers,
                       bal->name, (unsigned long long)bs->all_down);
        for (size_t k = 0; k < bal->n_members; k++)
            auto_pool(b, "Member", bal->members[k].address, &s->be[i].m[k].s.pool);
    }
}

/* ---- ?json ---- */

static void json_u64(struct gw_sbuf *b, const char *key, uint64_t v, bool comma)
{
    gw_sbuf_printf(b, "\"%s\":%llu%s", key, (unsigned long long)v, comma ? "," : "");
}

static void json_ends(struct gw_sbuf *b, const uint64_t *ends, const uint64_t *le, uint64_t sum_ns)
{
    gw_sbuf_add(b, "\"ends\":{", 8);
    for (unsigned o = 0; o < FCGIC_END_KINDS; o++)
        json_u64(b, fcgic_end_kind_name((enum fcgic_end_kind)o), ends[o], o + 1 < FCGIC_END_KINDS);
    gw_sbuf_add(b, "},\"latency_le_ns\":[", 19);
    for (unsigned i = 0; i < FCGIC_LATENCY_BUCKETS; i++)
        gw_sbuf_printf(b, "[%llu,%llu]%s", (unsigned long long)fcgic_latency_bucket_le(i), (unsigned long long)le[i],
                       i + 1 < FCGIC_LATENCY_BUCKETS ? "," : "");
    gw_sbuf_printf(b, "],\"latency_sum_ns\":%llu", (unsigned long long)sum_ns);
}

static void json_pool(struct gw_sbuf *b, const struct fcgic_pool_stats *p)
{
    json_u64(b, "requests", p->requests, true);
    json_u64(b, "failures", p->failures, true);
    json_ends(b, p->ends, p->latency_le, p->latency_sum_ns);
    gw_sbuf_add(b, ",", 1);
    json_u64(b, "conns_open", p->conns_open, true);
    json_u64(b, "conns_idle", p->conns_idle, true);
    json_u64(b, "conns_created", p->conns_created, true);
    json_u64(b, "conns_reused", p->conns_reused, true);
    json_u64(b, "busy", p->busy, true);
    json_u64(b, "queued", p->queued, true);
    json_u64(b, "queue_waits", p->queue_waits, true);
    json_u64(b, "queue_wait_ns", p->queue_wait_ns, true);
    json_u64(b, "queue_timeouts", p->queue_timeouts, true);
    json_u64(b, "queue_full", p->queue_full, true);
    json_u64(b, "stale_retries", p->stale_retries, true);
    json_u64(b, "bytes_sent", p->bytes_out, true);
    json_u64(b, "bytes_received", p->bytes_in, false);
}

static void json_member(struct gw_sbuf *b, const char *address, const struct gw_member_snap *m)
{
    char st[8];
    flag_letters(st, m->s.status);
    gw_sbuf_add(b, "{\"name\":", 8);
    gw_sbuf_json_str(b, address);
    gw_sbuf_printf(b, ",\"status\":\"%s\",", st);
    json_u64(b, "lbfactor", m->s.lbfactor, true);
    json_u64(b, "lbset", m->s.lbset, true);
    json_u64(b, "elected", m->s.elected, true);
    json_u64(b, "errors", m->s.errors, true);
    json_u64(b, "failovers", m->s.failovers, true);
    json_u64(b, "in_flight", m->s.busy, true);
    gw_sbuf_add(b, "\"pool\":{", 8);
    json_pool(b, &m->s.pool);
    gw_sbuf_add(b, "}}", 2);
}

static void json_balancer(struct gw_sbuf *b, const struct gw_status_view *v, size_t i)
{
    const struct gw_balancer *bal = v->srv->balancers[i - v->srv->n_workers];
    const struct gw_be_snap *be = &v->sum->be[i];
    gw_sbuf_add(b, "{\"name\":", 8);
    gw_sbuf_json_str(b, bal->name);
    gw_sbuf_add(b, ",", 1);
    json_u64(b, "requests", be->bal.requests, true);
    json_u64(b, "failovers", be->bal.failovers, true);
    json_u64(b, "all_down", be->bal.all_down, true);
    json_u64(b, "in_flight", be->bal.busy, true);
    json_ends(b, be->bal.ends, be->bal.latency_le, be->bal.latency_sum_ns);
    gw_sbuf_add(b, ",\"members\":[", 12);
    for (size_t k = 0; k < bal->n_members; k++) {
        json_member(b, bal->members[k].address, &be->m[k]);
        if (k + 1 < bal->n_members)
            gw_sbuf_add(b, ",", 1);
    }
    gw_sbuf_add(b, "]}", 2);
}

static void json_gateway(struct gw_sbuf *b, const struct gw_status_view *v)
{
    const struct gw_snap *s = v->sum;
    gw_sbuf_add(b, "{", 1);
    json_u64(b, "uptime_seconds", v->uptime_s, true);
    json_u64(b, "threads", v->threads, true);
    json_u64(b, "threads_answered", v->answered, true);
    json_u64(b, "connections_accepted", s->ctr.accepted, true);
    json_u64(b, "connections_open", s->conns_open, true);
    json_u64(b, "connections_active", s->conns_active, true);
    json_u64(b, "requests", s->ctr.requests, true);
    gw_sbuf_add(b, "\"requests_by_class\":{", 21);
    for (int i = 0; i < 6; i++)
        json_u64(b, classes[i], s->ctr.by_class[i], i < 5);
    gw_sbuf_add(b, "},", 2);
    json_u64(b, "http_layer_errors", s->layer_errors, true);
    json_u64(b, "response_body_bytes", s->ctr.body_bytes, true);
    json_u64(b, "proxy_requests_in_flight", s->proxied_active, true);
}

void gw_status_page_json(struct gw_sbuf *b, const struct gw_status_view *v)
{
    const struct gw_server *srv = v->srv;
    json_gateway(b, v);
    gw_sbuf_add(b, "\"workers\":[", 11);
    for (size_t i = 0; i < srv->n_workers; i++) {
        gw_sbuf_add(b, "{\"name\":", 8);
        gw_sbuf_json_str(b, backend_name(srv, i));
        gw_sbuf_add(b, ",", 1);
        json_pool(b, &v->sum->be[i].pool);
        gw_sbuf_add(b, i + 1 < srv->n_workers ? "}," : "}", i + 1 < srv->n_workers ? 2 : 1);
    }
    gw_sbuf_add(b, "],\"balancers\":[", 15);
    for (size_t i = srv->n_workers; i < srv->n_workers + srv->n_balancers; i++) {
        json_balancer(b, v, i);
        if (i + 1 < srv->n_workers + srv->n_balancers)
            gw_sbuf_add(b, ",", 1);
    }
    gw_sbuf_add(b, "]}\n", 3);
}

/* Shared by status.c (board, snapshots, requests), status_page.c
 * (server-status: text, ?auto, ?json) and status_prom.c (metrics). */
#ifndef GW_STATUS_INT_H
#define GW_STATUS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fcgiclient/fcgiclient.h>

#include "config.h"
#include "status.h"

/* The member status flags shown, in this order (FCGIC_MEMBER_*). */
#define GW_MEMBER_FLAGS 5

/* A balancer member summed over threads. */
struct gw_member_snap {
    struct fcgic_member_stats s;            /* status: the flags of any thread (OR) */
    unsigned flag_threads[GW_MEMBER_FLAGS]; /* threads in which each flag is set */
};

/* A worker's pool or a balancer (with its members). */
struct gw_be_snap {
    struct fcgic_pool_stats pool;    /* a worker */
    struct fcgic_balancer_stats bal; /* a balancer */
    struct gw_member_snap *m;        /* its members, by config order */
};

/* What one thread publishes, and their sum. */
struct gw_snap {
    uint64_t round; /* the request round it answers */
    struct gw_counters ctr;
    uint64_t conns_open, conns_active; /* client connections (HTTP layer) */
    uint64_t layer_errors;             /* requests the HTTP layer answered itself (400, 408, 413, ...) */
    uint64_t proxied_active;           /* proxied requests in flight */
    struct gw_be_snap *be;             /* workers, then balancers (struct gw_server order) */
    struct gw_member_snap *members;    /* storage of every be[].m */
};

/* Everything a format needs. */
struct gw_status_view {
    const struct gw_server *srv;
    const struct gw_snap *sum;
    unsigned threads, answered; /* threads, and of them answered this round */
    uint64_t uptime_s;
    long long restart_time; /* Unix time the configuration started */
};

struct gw_worker_thread;

/* Storage for a snapshot of srv's backends. gw_snap_init() returns 0 or -1
 * (out of memory; gw_snap_fini() then frees what was allocated). */
int gw_snap_init(struct gw_snap *s, const struct gw_server *srv);
void gw_snap_fini(struct gw_snap *s);
/* Zero every number, keep the storage. */
void gw_snap_clear(struct gw_snap *s, const struct gw_server *srv);
/* Fill s from thread t, on t's thread. */
void gw_snap_fill(struct gw_snap *s, struct gw_worker_thread *t);
/* a += x. */
void gw_snap_add(struct gw_snap *a, const struct gw_snap *x, const struct gw_server *srv);

/* A growable text buffer; `failed` once an allocation failed. */
struct gw_sbuf {
    char *p;
    size_t n, cap;
    bool failed;
};

void gw_sbuf_add(struct gw_sbuf *b, const char *s, size_t n);
void gw_sbuf_printf(struct gw_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quotes included. */
void gw_sbuf_json_str(struct gw_sbuf *b, const char *s);
/* s as a Prometheus label value (\\, \" and \n escaped), without quotes. */
void gw_sbuf_label(struct gw_sbuf *b, const char *s);
/* ns as seconds with up to 9 decimals, trailing zeros dropped ("0.0001", "2.5", "10"). */
void gw_sbuf_seconds(struct gw_sbuf *b, uint64_t ns);

/* The member flag of index i (0 .. GW_MEMBER_FLAGS-1) and its name. */
unsigned gw_member_flag(unsigned i);
const char *gw_member_flag_name(unsigned i);

/* Content-Type and body of each format. */
void gw_status_page_text(struct gw_sbuf *b, const struct gw_status_view *v);
void gw_status_page_auto(struct gw_sbuf *b, const struct gw_status_view *v);
void gw_status_page_json(struct gw_sbuf *b, const struct gw_status_view *v);
void gw_status_prometheus(struct gw_sbuf *b, const struct gw_status_view *v);

#endif /* GW_STATUS_INT_H */

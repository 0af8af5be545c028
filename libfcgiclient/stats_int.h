/* Counting how requests end, shared by the pool and the balancer (see
 * include/fcgiclient/stats.h). Not installed. */
#ifndef FCGIC_STATS_INT_H
#define FCGIC_STATS_INT_H

#include "fcgiclient/stats.h"

/* Requests ended: by outcome, and by latency (one count per bucket, not
 * cumulative; the requests above the last bound are not kept: they are
 * the total minus the rest). */
struct fcgic__ends {
    uint64_t kind[FCGIC_END_KINDS];
    uint64_t bucket[FCGIC_LATENCY_BUCKETS];
    uint64_t sum_ns;
};

/* One request ended with res after latency_ns. */
void fcgic__ends_add(struct fcgic__ends *e, const struct fcgic_result *res, uint64_t latency_ns);

/* The total of e->kind. */
uint64_t fcgic__ends_total(const struct fcgic__ends *e);

/* Cumulative bucket counts into le (FCGIC_LATENCY_BUCKETS of them). */
void fcgic__ends_cumulative(const struct fcgic__ends *e, uint64_t *le);

#endif

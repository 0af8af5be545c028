/* Params that depend on the balancer member serving a request (member
 * options version 2): the member's own params, sent first, and a prefix
 * rewrite of the request's param values. See include/fcgiclient/balancer.h,
 * "Params per member". */
#ifndef FCGICLIENT_MEMBER_PARAMS_INT_H
#define FCGICLIENT_MEMBER_PARAMS_INT_H

#include "fcgiclient/balancer.h"
#include "util.h"

struct fcgic__mparams {
    const struct fcgic_param *extra; /* own copy (one block), or NULL */
    size_t nextra;
    char *rw; /* from, then to, one block, or NULL */
    size_t from_len, to_len;
};

/* Copy the member options' params and rewrite (mo must be of the newest
 * layout, older ones zero-filled). 0, FCGIC_E_INVAL, FCGIC_E_RANGE or
 * FCGIC_E_NOMEM; on error nothing is kept. */
int fcgic__mparams_init(struct fcgic__mparams *mp, const struct fcgic__alloc *a, const struct fcgic_member_options *mo);

void fcgic__mparams_free(struct fcgic__mparams *mp, const struct fcgic__alloc *a);

/* Does the member change anything? */
static inline bool fcgic__mparams_active(const struct fcgic__mparams *mp)
{
    return mp->nextra > 0 || mp->from_len > 0;
}

/* The params a request sends on the member: mp's, then in[0..n) with
 * values rewritten, in one allocated block (*out, free with fcgic__free)
 * that borrows from mp and from `in`, so it must not outlive either.
 * 0, FCGIC_E_RANGE or FCGIC_E_NOMEM. */
int fcgic__mparams_build(const struct fcgic__mparams *mp, const struct fcgic__alloc *a, const struct fcgic_param *in,
                         size_t n, const struct fcgic_param **out, size_t *nout);

#endif /* FCGICLIENT_MEMBER_PARAMS_INT_H */

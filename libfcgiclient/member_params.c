/* Params per balancer member. See member_params_int.h. */
#include <string.h>

#include "fcgiclient/error.h"
#include "member_params_int.h"
#include "pool_int.h"

int fcgic__mparams_init(struct fcgic__mparams *mp, const struct fcgic__alloc *a, const struct fcgic_member_options *mo)
{
    memset(mp, 0, sizeof(*mp));
    if ((mo->nparams && !mo->params) || (mo->rewrite_from.len && !mo->rewrite_from.ptr) ||
        (mo->rewrite_to.len && !mo->rewrite_to.ptr))
        return FCGIC_E_INVAL;
    size_t rwlen = 0;
    if (mo->rewrite_from.len && !fcgic__add_ok(mo->rewrite_from.len, mo->rewrite_to.len, &rwlen))
        return FCGIC_E_RANGE;
    if (mo->nparams) {
        int rc = fcgic__copy_params(a, mo->params, mo->nparams, &mp->extra);
        if (rc != 0) {
            mp->extra = NULL;
            return rc;
        }
        mp->nextra = mo->nparams;
    }
    if (rwlen) {
        mp->rw = fcgic__malloc(a, rwlen);
        if (!mp->rw) {
            fcgic__mparams_free(mp, a);
            return FCGIC_E_NOMEM;
        }
        memcpy(mp->rw, mo->rewrite_from.ptr, mo->rewrite_from.len);
        if (mo->rewrite_to.len)
            memcpy(mp->rw + mo->rewrite_from.len, mo->rewrite_to.ptr, mo->rewrite_to.len);
        mp->from_len = mo->rewrite_from.len;
        mp->to_len = mo->rewrite_to.len;
    }
    return 0;
}

void fcgic__mparams_free(struct fcgic__mparams *mp, const struct fcgic__alloc *a)
{
    fcgic__free(a, (void *)mp->extra);
    fcgic__free(a, mp->rw);
    memset(mp, 0, sizeof(*mp));
}

static bool rewritten(const struct fcgic__mparams *mp, const struct fcgic_param *q)
{
    return mp->from_len && q->value_len >= mp->from_len && memcmp(q->value, mp->rw, mp->from_len) == 0;
}

/* Bytes of the block: the param array, then the rewritten values. */
static int block_size(const struct fcgic__mparams *mp, const struct fcgic_param *in, size_t n, size_t *size)
{
    size_t count, total;
    if (!fcgic__add_ok(mp->nextra, n, &count) || count > SIZE_MAX / sizeof(struct fcgic_param))
        return FCGIC_E_RANGE;
    total = count * sizeof(struct fcgic_param);
    for (size_t i = 0; i < n; i++)
        if (rewritten(mp, &in[i]) && !fcgic__add_ok(total, mp->to_len + (in[i].value_len - mp->from_len), &total))
            return FCGIC_E_RANGE;
    *size = total;
    return 0;
}

int fcgic__mparams_build(const struct fcgic__mparams *mp, const struct fcgic__alloc *a, const struct fcgic_param *in,
                         size_t n, const struct fcgic_param **out, size_t *nout)
{
    size_t total;
    *out = NULL;
    *nout = 0;
    int rc = block_size(mp, in, n, &total);
    if (rc != 0)
        return rc;
    struct fcgic_param *dst;
    char *w;
    rc = fcgic__param_block(a, total, mp->nextra + n, &dst, &w);
    if (rc != 0 || !dst)
        return rc;
    if (mp->nextra)
        memcpy(dst, mp->extra, mp->nextra * sizeof(*dst));
    for (size_t i = 0; i < n; i++) {
        struct fcgic_param *d = &dst[mp->nextra + i];
        *d = in[i];
        if (!rewritten(mp, &in[i]))
            continue;
        size_t rest = in[i].value_len - mp->from_len;
        if (mp->to_len)
            memcpy(w, mp->rw + mp->from_len, mp->to_len);
        if (rest)
            memcpy(w + mp->to_len, in[i].value + mp->from_len, rest);
        d->value = w;
        d->value_len = mp->to_len + rest;
        w += d->value_len;
    }
    *out = dst;
    *nout = mp->nextra + n;
    return 0;
}

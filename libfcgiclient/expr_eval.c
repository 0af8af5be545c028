/* Expression engine: evaluation contexts and the evaluator. Nothing here
 * allocates after fcgic_expr_ctx_new(): values live in the context's fixed
 * scratch arena, regex captures in its fixed capture buffer. */
#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

struct fcgic_expr_ctx {
    struct fcgic__alloc alloc;
    struct fcgic_expr_limits lim;
    char *scratch;
    size_t used;
    /* $0..$9 of the last capturing regex */
    char *cap_buf;
    size_t cap_len;
    bool cap_valid;
    uint32_t cap_n;
    PCRE2_SIZE cap_ov[2 * FCGIC__EXPR_NMATCH];
    struct fcgic__regex_matcher rx;
    struct fcgic_expr_vars vars;
    struct fcgic_expr_env env;
    bool busy;
};

/* ------------------------------------------------------------------------ */
/* Context                                                                  */
/* ------------------------------------------------------------------------ */

void fcgic_expr_ctx_free(struct fcgic_expr_ctx *ctx)
{
    if (!ctx)
        return;
    struct fcgic__alloc a = ctx->alloc;
    fcgic__regex_matcher_fini(&ctx->rx);
    fcgic__free(&a, ctx->scratch);
    fcgic__free(&a, ctx->cap_buf);
    fcgic__free(&a, ctx);
}

int fcgic_expr_ctx_new(struct fcgic_expr_ctx **out, const struct fcgic_expr_limits *limits,
                       const struct fcgic_mem *mem)
{
    struct fcgic__alloc a;
    struct fcgic_expr_limits lim;
    if (!out)
        return FCGIC_E_INVAL;
    *out = NULL;
    if (fcgic__expr_limits_fill(&lim, limits) != 0)
        return FCGIC_E_INVAL;
    fcgic__alloc_init(&a, mem);
    struct fcgic_expr_ctx *ctx = fcgic__calloc(&a, 1, sizeof(*ctx));
    if (!ctx)
        return FCGIC_E_NOMEM;
    ctx->alloc = a;
    ctx->lim = lim;
    ctx->scratch = fcgic__malloc(&ctx->alloc, ctx->lim.scratch_size);
    ctx->cap_buf = fcgic__malloc(&ctx->alloc, ctx->lim.max_capture_subject);
    if (!ctx->scratch || !ctx->cap_buf)
        goto nomem;
    struct fcgic__regex_limits rl;
    fcgic__expr_regex_limits(&rl, &ctx->lim);
    if (fcgic__regex_matcher_init(&ctx->rx, &ctx->alloc, &rl, FCGIC__EXPR_NMATCH) != 0)
        goto nomem;
    *out = ctx;
    return 0;
nomem:
    fcgic_expr_ctx_free(ctx);
    return FCGIC_E_NOMEM;
}

void fcgic_expr_ctx_reset(struct fcgic_expr_ctx *ctx, const struct fcgic_expr_vars *vars,
                          const struct fcgic_expr_env *env)
{
    if (!ctx)
        return;
    memset(&ctx->vars, 0, sizeof(ctx->vars));
    memset(&ctx->env, 0, sizeof(ctx->env));
    if (vars)
        ctx->vars = *vars;
    if (env)
        ctx->env = *env;
    ctx->cap_valid = false;
    ctx->cap_n = 0;
    ctx->used = 0;
}

/* Forget captures only (used by the setenvif apply). */
void fcgic__expr_ctx_clear_captures(struct fcgic_expr_ctx *ctx);
void fcgic__expr_ctx_clear_captures(struct fcgic_expr_ctx *ctx)
{
    ctx->cap_valid = false;
    ctx->cap_n = 0;
}

const struct fcgic_expr_env *fcgic__expr_ctx_env(const struct fcgic_expr_ctx *ctx);
const struct fcgic_expr_env *fcgic__expr_ctx_env(const struct fcgic_expr_ctx *ctx)
{
    return &ctx->env;
}

/* ------------------------------------------------------------------------ */
/* Evaluation                                                               */
/* ------------------------------------------------------------------------ */

struct ev {
    struct fcgic_expr_ctx *ctx;
    const struct fcgic_expr *e;
};

static void *arena(struct fcgic_expr_ctx *ctx, size_t n, size_t align)
{
    size_t at = (ctx->used + align - 1) & ~(align - 1);
    if (at > ctx->lim.scratch_size || n > ctx->lim.scratch_size - at)
        return NULL;
    ctx->used = at + n;
    return ctx->scratch + at;
}

static const struct fcgic__expr_node *nd(const struct ev *v, uint32_t i)
{
    return &v->e->nodes[i];
}

static int lookup(struct ev *v, int src, int var, const char *name, size_t nlen,
                  struct fcgic_span *out)
{
    struct fcgic_expr_ctx *ctx = v->ctx;
    out->ptr = "";
    out->len = 0;
    if (!ctx->vars.lookup)
        return FCGIC_E_NOT_FOUND;
    struct fcgic_span s = { NULL, 0 };
    int rc = ctx->vars.lookup(ctx->vars.ud, src, var, name, nlen, &s);
    if (rc == 0) {
        if (s.ptr)
            *out = s;
        return 0;
    }
    return rc;
}

static int osenv(struct ev *v, struct fcgic_span name, struct fcgic_span *out)
{
    if (v->ctx->vars.lookup) {
        int rc = lookup(v, FCGIC_EXPR_SRC_OSENV, -1, name.ptr, name.len, out);
        if (rc == 0 || rc == FCGIC_E_NOT_FOUND)
            return 0;
        if (rc != FCGIC_E_NOTSUP)
            return rc;
    }
    /* getenv(3) fallback */
    out->ptr = "";
    out->len = 0;
    if (memchr(name.ptr, '\0', name.len))
        return 0;
    char *z = arena(v->ctx, name.len + 1, 1);
    if (!z)
        return FCGIC_E_EXPR_TOO_LONG;
    memcpy(z, name.ptr, name.len);
    z[name.len] = '\0';
    const char *val = getenv(z);
    if (val) {
        out->ptr = val;
        out->len = strlen(val);
    }
    return 0;
}

static int reqenv(struct ev *v, struct fcgic_span name, struct fcgic_span *out)
{
    struct fcgic_expr_ctx *ctx = v->ctx;
    out->ptr = "";
    out->len = 0;
    if (!ctx->env.get)
        return 0;
    struct fcgic_span s = { NULL, 0 };
    int rc = ctx->env.get(ctx->env.ud, name.ptr, name.len, &s);
    if (rc == FCGIC_E_NOT_FOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (s.ptr)
        *out = s;
    return 0;
}

static int word(struct ev *v, uint32_t i, struct fcgic_span *out);

static int func(struct ev *v, const struct fcgic__expr_node *n, struct fcgic_span *out)
{
    struct fcgic_span arg;
    int rc = word(v, n->a, &arg);
    if (rc < 0)
        return rc;
    switch (n->aux) {
    case FCGIC__F_OSENV:
        return osenv(v, arg, out);
    case FCGIC__F_ENV:
        rc = lookup(v, FCGIC_EXPR_SRC_NOTE, -1, arg.ptr, arg.len, out);
        if (rc == 0)
            return 0;
        if (rc != FCGIC_E_NOT_FOUND)
            return rc;
        if (v->ctx->env.get) {
            struct fcgic_span s = { NULL, 0 };
            rc = v->ctx->env.get(v->ctx->env.ud, arg.ptr, arg.len, &s);
            if (rc == 0) {
                out->ptr = s.ptr ? s.ptr : "";
                out->len = s.ptr ? s.len : 0;
                return 0;
            }
            if (rc != FCGIC_E_NOT_FOUND)
                return rc;
        }
        return osenv(v, arg, out);
    case FCGIC__F_RESP:
    case FCGIC__F_REQ:
    case FCGIC__F_HTTP:
    case FCGIC__F_NOTE:
    case FCGIC__F_REQ_NOVARY:
        rc = lookup(v,
                    n->aux == FCGIC__F_RESP   ? FCGIC_EXPR_SRC_RESP_HEADER
                    : n->aux == FCGIC__F_NOTE ? FCGIC_EXPR_SRC_NOTE
                                              : FCGIC_EXPR_SRC_HEADER,
                    -1, arg.ptr, arg.len, out);
        return rc == FCGIC_E_NOT_FOUND ? 0 : rc;
    case FCGIC__F_REQENV:
        return reqenv(v, arg, out);
    default: {
        size_t max = fcgic__expr_func_outmax(n->aux, arg.len);
        char *buf = max == SIZE_MAX ? NULL : arena(v->ctx, max ? max : 1, 1);
        if (!buf)
            return FCGIC_E_EXPR_TOO_LONG;
        out->len = fcgic__expr_func_run(n->aux, arg.ptr, arg.len, buf);
        out->ptr = buf;
        /* give back what the function did not use */
        v->ctx->used -= max - out->len;
        if (!max)
            v->ctx->used -= 1;
        return 0;
    }
    }
}

static int word(struct ev *v, uint32_t i, struct fcgic_span *out)
{
    const struct fcgic__expr_node *n = nd(v, i);
    struct fcgic_expr_ctx *ctx = v->ctx;
    int rc;
    switch (n->op) {
    case FCGIC__N_STR:
        out->ptr = v->e->strings.data ? v->e->strings.data + n->off : "";
        out->len = n->len;
        return 0;
    case FCGIC__N_VAR: {
        const char *name = fcgic_expr_var_name(n->aux);
        rc = lookup(v, FCGIC_EXPR_SRC_VAR, n->aux, name, strlen(name), out);
        return rc == FCGIC_E_NOT_FOUND ? 0 : rc;
    }
    case FCGIC__N_FUNC:
        return func(v, n, out);
    case FCGIC__N_BACKREF: {
        out->ptr = "";
        out->len = 0;
        if (!ctx->cap_valid || n->aux >= ctx->cap_n)
            return 0;
        PCRE2_SIZE so = ctx->cap_ov[2 * n->aux], eo = ctx->cap_ov[2 * n->aux + 1];
        if (so == PCRE2_UNSET || eo == PCRE2_UNSET || eo <= so || eo > ctx->cap_len)
            return 0;
        out->ptr = ctx->cap_buf + so;
        out->len = eo - so;
        return 0;
    }
    case FCGIC__N_CONCAT: {
        struct fcgic_span *parts =
            arena(ctx, (size_t)n->len * sizeof(*parts), alignof(struct fcgic_span));
        if (!parts)
            return FCGIC_E_EXPR_TOO_LONG;
        size_t total = 0, nonempty = 0, last = 0;
        for (uint32_t k = 0; k < n->len; k++) {
            rc = word(v, v->e->kids[n->off + k], &parts[k]);
            if (rc < 0)
                return rc;
            if (parts[k].len) {
                nonempty++;
                last = k;
                if (!fcgic__add_ok(total, parts[k].len, &total))
                    return FCGIC_E_EXPR_TOO_LONG;
            }
        }
        if (nonempty <= 1) {
            *out = nonempty ? parts[last] : (struct fcgic_span){ "", 0 };
            return 0;
        }
        char *buf = arena(ctx, total, 1);
        if (!buf)
            return FCGIC_E_EXPR_TOO_LONG;
        size_t o = 0;
        for (uint32_t k = 0; k < n->len; k++) {
            if (parts[k].len)
                memcpy(buf + o, parts[k].ptr, parts[k].len);
            o += parts[k].len;
        }
        out->ptr = buf;
        out->len = total;
        return 0;
    }
    default:
        return FCGIC_E_INTERNAL;
    }
}

/* apr_atoi64-like: leading space, sign, digits; saturates. */
static long long to_int(struct fcgic_span s)
{
    size_t i = 0;
    bool neg = false;
    unsigned long long v = 0, lim = (unsigned long long)LLONG_MAX;
    while (i < s.len && fcgic__ascii_isspace((unsigned char)s.ptr[i]))
        i++;
    if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+'))
        neg = s.ptr[i++] == '-';
    if (neg)
        lim++;
    for (; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++) {
        unsigned d = (unsigned)(s.ptr[i] - '0');
        if (v > (lim - d) / 10) {
            v = lim;
            break;
        }
        v = v * 10 + d;
    }
    if (neg)
        return v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    return (long long)v;
}

static int span_cmp(struct fcgic_span a, struct fcgic_span b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c)
        return c < 0 ? -1 : 1;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

static bool span_eq(struct fcgic_span a, struct fcgic_span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int regex_match(struct ev *v, const struct fcgic__expr_node *n, bool *matched)
{
    struct fcgic_expr_ctx *ctx = v->ctx;
    const struct fcgic__expr_regex *rx = &v->e->regex[n->aux];
    struct fcgic_span subj;
    int rc = word(v, n->a, &subj);
    if (rc < 0)
        return rc;
    rc = fcgic__regex_exec(&ctx->rx, rx->code, subj.ptr, subj.len);
    if (rc == 0) {
        *matched = false;
        if (rx->ncap > 0)
            ctx->cap_valid = false;
        return 0;
    }
    if (rc < 0)
        return rc == FCGIC_E_INTERNAL ? FCGIC_E_EXPR_EVAL : rc;
    *matched = true;
    if (rx->ncap == 0)
        return 0;
    if (subj.len > ctx->lim.max_capture_subject)
        return FCGIC_E_EXPR_TOO_LONG;
    if (subj.len)
        memmove(ctx->cap_buf, subj.ptr, subj.len);
    ctx->cap_len = subj.len;
    uint32_t pairs = rc > FCGIC__EXPR_NMATCH ? FCGIC__EXPR_NMATCH : (uint32_t)rc;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ctx->rx.md);
    for (uint32_t k = 0; k < FCGIC__EXPR_NMATCH; k++) {
        ctx->cap_ov[2 * k] = k < pairs ? ov[2 * k] : PCRE2_UNSET;
        ctx->cap_ov[2 * k + 1] = k < pairs ? ov[2 * k + 1] : PCRE2_UNSET;
    }
    ctx->cap_n = FCGIC__EXPR_NMATCH;
    ctx->cap_valid = true;
    return 0;
}

static bool op_T(struct fcgic_span s)
{
    static const char *const falsy[] = { "off", "no", "false" };
    if (s.len == 0)
        return false;
    if (s.len == 1 && s.ptr[0] == '0')
        return false;
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(falsy[i]);
        if (s.len == n) {
            size_t k = 0;
            while (k < n && fcgic__ascii_lower(s.ptr[k]) == falsy[i][k])
                k++;
            if (k == n)
                return false;
        }
    }
    return true;
}

static int cond(struct ev *v, uint32_t i, bool *res)
{
    const struct fcgic__expr_node *n = nd(v, i);
    struct fcgic_span a, b;
    int rc;
    switch (n->op) {
    case FCGIC__N_TRUE:
        *res = true;
        return 0;
    case FCGIC__N_FALSE:
        *res = false;
        return 0;
    case FCGIC__N_NOT:
        rc = cond(v, n->a, res);
        *res = !*res;
        return rc;
    case FCGIC__N_AND:
    case FCGIC__N_OR:
        /* chains are right-nested: walk them without recursing */
        for (;;) {
            rc = cond(v, n->a, res);
            if (rc < 0)
                return rc;
            if (*res == (n->op == FCGIC__N_OR))
                return 0;
            const struct fcgic__expr_node *next = nd(v, n->b);
            if (next->op != n->op)
                return cond(v, n->b, res);
            n = next;
        }
    case FCGIC__N_CMP: {
        if ((rc = word(v, n->a, &a)) < 0 || (rc = word(v, n->b, &b)) < 0)
            return rc;
        int c;
        if (n->aux <= FCGIC__CMP_GE) {
            long long x = to_int(a), y = to_int(b);
            c = x < y ? -1 : x > y ? 1 : 0;
        } else {
            c = span_cmp(a, b);
        }
        switch (n->aux) {
        case FCGIC__CMP_EQ:
        case FCGIC__CMP_STR_EQ: *res = c == 0; break;
        case FCGIC__CMP_NE:
        case FCGIC__CMP_STR_NE: *res = c != 0; break;
        case FCGIC__CMP_LT:
        case FCGIC__CMP_STR_LT: *res = c < 0; break;
        case FCGIC__CMP_LE:
        case FCGIC__CMP_STR_LE: *res = c <= 0; break;
        case FCGIC__CMP_GT:
        case FCGIC__CMP_STR_GT: *res = c > 0; break;
        default: *res = c >= 0; break;
        }
        return 0;
    }
    case FCGIC__N_IN:
        if ((rc = word(v, n->a, &a)) < 0)
            return rc;
        *res = false;
        for (uint32_t l = n->b; l != FCGIC__EXPR_NONE; l = nd(v, l)->b) {
            if ((rc = word(v, nd(v, l)->a, &b)) < 0)
                return rc;
            if (span_eq(a, b)) {
                *res = true;
                break;
            }
        }
        return 0;
    case FCGIC__N_REG: {
        bool m = false;
        if ((rc = regex_match(v, n, &m)) < 0)
            return rc;
        *res = (n->flags & FCGIC__NF_NEG) ? !m : m;
        return 0;
    }
    case FCGIC__N_UNARY: {
        char op = (char)n->aux;
        if ((rc = word(v, n->a, &a)) < 0)
            return rc;
        switch (op) {
        case 'n': *res = a.len != 0; return 0;
        case 'z': *res = a.len == 0; return 0;
        case 'T': *res = op_T(a); return 0;
        case 'R':
            rc = lookup(v, FCGIC_EXPR_SRC_VAR, FCGIC_EXPR_V_REMOTE_ADDR, "REMOTE_ADDR", 11, &b);
            if (rc < 0 && rc != FCGIC_E_NOT_FOUND)
                return rc;
            *res = fcgic__expr_subnet_test(&v->e->subnets[n->off], b.ptr, b.len);
            return 0;
        default:
            if (!v->ctx->vars.file_test)
                return FCGIC_E_NOTSUP;
            rc = v->ctx->vars.file_test(v->ctx->vars.ud, op, a.ptr, a.len);
            if (rc < 0)
                return rc;
            *res = rc != 0;
            return 0;
        }
    }
    case FCGIC__N_BINARY:
        if ((rc = word(v, n->a, &a)) < 0 || (rc = word(v, n->b, &b)) < 0)
            return rc;
        switch (n->aux) {
        case FCGIC__BIN_IPMATCH:
            *res = fcgic__expr_subnet_test(&v->e->subnets[n->off], a.ptr, a.len);
            break;
        case FCGIC__BIN_FNMATCH:
            *res = fcgic__expr_fnmatch(b.ptr, b.len, a.ptr, a.len, FCGIC__FNM_PATHNAME);
            break;
        case FCGIC__BIN_STRMATCH:
            *res = fcgic__expr_fnmatch(b.ptr, b.len, a.ptr, a.len, 0);
            break;
        default:
            *res = fcgic__expr_fnmatch(b.ptr, b.len, a.ptr, a.len, FCGIC__FNM_CASE_BLIND);
            break;
        }
        return 0;
    default:
        return FCGIC_E_INTERNAL;
    }
}

int fcgic_expr_eval_bool(const struct fcgic_expr *e, struct fcgic_expr_ctx *ctx, int *result)
{
    if (!e || !ctx || !result || (e->flags & FCGIC_EXPR_STRING))
        return FCGIC_E_INVAL;
    if (ctx->busy)
        return FCGIC_E_REENTRANT;
    struct ev v = { ctx, e };
    bool r = false;
    ctx->busy = true;
    ctx->used = 0;
    int rc = cond(&v, e->root, &r);
    ctx->busy = false;
    if (rc < 0)
        return rc;
    *result = r ? 1 : 0;
    return 0;
}

int fcgic_expr_eval_string(const struct fcgic_expr *e, struct fcgic_expr_ctx *ctx,
                           struct fcgic_span *value)
{
    if (!e || !ctx || !value || !(e->flags & FCGIC_EXPR_STRING))
        return FCGIC_E_INVAL;
    if (ctx->busy)
        return FCGIC_E_REENTRANT;
    struct ev v = { ctx, e };
    struct fcgic_span s = { "", 0 };
    ctx->busy = true;
    ctx->used = 0;
    int rc = word(&v, e->root, &s);
    ctx->busy = false;
    if (rc < 0)
        return rc;
    *value = s;
    return 0;
}

/* Make a value safe to hand to env set(): copy it into the scratch unless it
 * already lives there or in the expression's constants. */
int fcgic__expr_ctx_stabilize(struct fcgic_expr_ctx *ctx, const struct fcgic_expr *e,
                              struct fcgic_span *val);
int fcgic__expr_ctx_stabilize(struct fcgic_expr_ctx *ctx, const struct fcgic_expr *e,
                              struct fcgic_span *val)
{
    const char *p = val->ptr;
    if (val->len == 0)
        return 0;
    if (p >= ctx->scratch && p < ctx->scratch + ctx->lim.scratch_size)
        return 0;
    if (e->strings.data && p >= e->strings.data && p < e->strings.data + e->strings.len)
        return 0;
    char *c = arena(ctx, val->len, 1);
    if (!c)
        return FCGIC_E_EXPR_TOO_LONG;
    memcpy(c, p, val->len);
    val->ptr = c;
    return 0;
}

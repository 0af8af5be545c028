/* ProxyFCGISetEnvIf rules: parse the directive's arguments, compile the
 * condition and value once, apply the rules in order to an environment. */
#include <stdio.h>
#include <string.h>

#include "expr_int.h"

void fcgic__expr_ctx_clear_captures(struct fcgic_expr_ctx *ctx);
const struct fcgic_expr_env *fcgic__expr_ctx_env(const struct fcgic_expr_ctx *ctx);
int fcgic__expr_ctx_stabilize(struct fcgic_expr_ctx *ctx, const struct fcgic_expr *e,
                              struct fcgic_span *val);

struct sei_rule {
    struct fcgic_expr *cond;
    struct fcgic_expr *value; /* NULL in unset mode */
    char *name;               /* without the '!' */
    size_t name_len;
    char *text; /* "ProxyFCGISetEnvIf #N (label) ...", for the env's explain feature */
};

struct fcgic_setenvif {
    struct fcgic__alloc alloc;
    struct fcgic_expr_limits lim;
    struct sei_rule *rules;
    size_t n, cap;
};

int fcgic_setenvif_new(struct fcgic_setenvif **out, const struct fcgic_expr_limits *limits,
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
    struct fcgic_setenvif *s = fcgic__calloc(&a, 1, sizeof(*s));
    if (!s)
        return FCGIC_E_NOMEM;
    s->alloc = a;
    s->lim = lim;
    *out = s;
    return 0;
}

static void rule_free(const struct fcgic__alloc *a, struct sei_rule *r)
{
    fcgic_expr_free(r->cond);
    fcgic_expr_free(r->value);
    fcgic__free(a, r->name);
    fcgic__free(a, r->text);
}

void fcgic_setenvif_free(struct fcgic_setenvif *s)
{
    if (!s)
        return;
    struct fcgic__alloc a = s->alloc;
    for (size_t i = 0; i < s->n; i++)
        rule_free(&a, &s->rules[i]);
    fcgic__free(&a, s->rules);
    fcgic__free(&a, s);
}

size_t fcgic_setenvif_count(const struct fcgic_setenvif *s)
{
    return s ? s->n : 0;
}

static int config_error(struct fcgic_expr_error *err, int code, int arg, const char *msg)
{
    if (err) {
        memset(err, 0, sizeof(*err));
        err->code = code;
        err->arg = arg;
        snprintf(err->message, sizeof(err->message), "%s", msg);
    }
    return code;
}

/* Compile one argument; on failure wrap the message as Apache does. */
static int compile_arg(struct fcgic_setenvif *s, struct fcgic_expr **out, const char *src,
                       unsigned flags, int arg, struct fcgic_expr_error *err)
{
    struct fcgic_expr_error e1;
    struct fcgic_mem mem = s->alloc.m;
    int rc = fcgic_expr_new(out, src, strlen(src), flags, &s->lim, &e1, &mem);
    if (rc == 0)
        return 0;
    if (err) {
        *err = e1;
        err->arg = arg;
        if (rc != FCGIC_E_NOMEM)
            snprintf(err->message, sizeof(err->message), "Could not parse expression \"%.100s\": %.180s",
                     src, e1.message);
    }
    return rc;
}

int fcgic_setenvif_add(struct fcgic_setenvif *s, int nargs, const char *const *argv,
                       const char *label, struct fcgic_expr_error *err)
{
    struct sei_rule r;
    int rc;
    if (err)
        memset(err, 0, sizeof(*err));
    if (!s || (nargs > 0 && !argv))
        return FCGIC_E_INVAL;
    if (nargs < 2 || nargs > 3)
        return config_error(err, FCGIC_E_EXPR_CONFIG, 0,
                            "ProxyFCGISetEnvIf takes two or three arguments, expr-condition "
                            "env-name expr-value");
    for (int i = 0; i < nargs; i++)
        if (!argv[i])
            return FCGIC_E_INVAL;
    const char *cond = argv[0], *name = argv[1], *val = nargs == 3 ? argv[2] : NULL;

    memset(&r, 0, sizeof(r));
    rc = compile_arg(s, &r.cond, cond, 0, 1, err);
    if (rc)
        return rc;
    bool unset = name[0] == '!';
    if (unset) {
        if (val) {
            char msg[320];
            snprintf(msg, sizeof(msg),
                     "Third argument (\"%.100s\") is not allowed when using "
                     "ProxyFCGISetEnvIf's unset mode (%.100s)",
                     val, name);
            rc = config_error(err, FCGIC_E_EXPR_CONFIG, 3, msg);
            goto fail;
        }
        if (!name[1]) {
            rc = config_error(err, FCGIC_E_EXPR_CONFIG, 2,
                              "ProxyFCGISetEnvIf: \"!\" is not a valid variable name");
            goto fail;
        }
    } else {
        if (!name[0]) {
            rc = config_error(err, FCGIC_E_EXPR_CONFIG, 2,
                              "ProxyFCGISetEnvIf: \"\" is not a valid variable name");
            goto fail;
        }
        rc = compile_arg(s, &r.value, val ? val : "", FCGIC_EXPR_STRING, 3, err);
        if (rc)
            goto fail;
    }
    r.name_len = strlen(name + unset);
    r.name = fcgic__memdup(&s->alloc, name + unset, r.name_len);
    if (!r.name)
        goto nomem;
    {
        char buf[512];
        snprintf(buf, sizeof(buf), "ProxyFCGISetEnvIf #%zu%s%s%s \"%s\" %s%s%s%s", s->n + 1,
                 label ? " (" : "", label ? label : "", label ? ")" : "", cond, name,
                 val ? " \"" : "", val ? val : "", val ? "\"" : "");
        r.text = fcgic__memdup(&s->alloc, buf, strlen(buf));
        if (!r.text)
            goto nomem;
    }
    if (fcgic__array_reserve(&s->alloc, &s->rules, &s->cap, s->n + 1, sizeof(*s->rules), 4))
        goto nomem;
    s->rules[s->n++] = r;
    return 0;
nomem:
    rc = config_error(err, FCGIC_E_NOMEM, 0, "out of memory");
fail:
    rule_free(&s->alloc, &r);
    return rc;
}

int fcgic_setenvif_apply(const struct fcgic_setenvif *const *lists, size_t nlists,
                         struct fcgic_expr_ctx *ctx, size_t *failed_rule)
{
    if (!ctx || (nlists && !lists))
        return FCGIC_E_INVAL;
    const struct fcgic_expr_env *env = fcgic__expr_ctx_env(ctx);
    if (!env->set || !env->unset)
        return FCGIC_E_INVAL;
    fcgic__expr_ctx_clear_captures(ctx);
    size_t idx = 0;
    for (size_t l = 0; l < nlists; l++) {
        const struct fcgic_setenvif *s = lists[l];
        if (!s)
            continue;
        for (size_t i = 0; i < s->n; i++, idx++) {
            const struct sei_rule *r = &s->rules[i];
            int yes = 0;
            int rc = fcgic_expr_eval_bool(r->cond, ctx, &yes);
            if (rc == 0 && yes) {
                if (!r->value) {
                    rc = env->unset(env->ud, r->name, r->name_len);
                } else {
                    struct fcgic_span v;
                    rc = fcgic_expr_eval_string(r->value, ctx, &v);
                    if (rc == 0)
                        rc = fcgic__expr_ctx_stabilize(ctx, r->value, &v);
                    if (rc == 0)
                        rc = env->set(env->ud, r->name, r->name_len, v.ptr, v.len, r->text);
                }
            }
            if (rc < 0) {
                if (failed_rule)
                    *failed_rule = idx;
                return rc;
            }
        }
    }
    return 0;
}

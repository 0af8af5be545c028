/* The expression engine's API in a library configured without it
 * (-Dexpr=disabled, or no PCRE2): everything that would compile or evaluate
 * an expression fails with FCGIC_E_NOT_BUILT, and the library links no
 * PCRE2. Objects can never be created, so the functions that take one only
 * ever see NULL. */
#include "fcgiclient/expr.h"
#include <stdio.h>
#include <string.h>

static void not_built(struct fcgic_expr_error *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
    err->code = FCGIC_E_NOT_BUILT;
    snprintf(err->message, sizeof(err->message), "%s", "expression engine not built into this library (PCRE2)");
}

int fcgic_expr_new(struct fcgic_expr **out, const char *src, size_t len, unsigned flags,
                   const struct fcgic_expr_limits *limits, struct fcgic_expr_error *err, const struct fcgic_mem *mem)
{
    if (out != NULL)
        *out = NULL;
    not_built(err);
    return FCGIC_E_NOT_BUILT;
}

void fcgic_expr_free(struct fcgic_expr *e)
{
}

int fcgic_expr_is_string(const struct fcgic_expr *e)
{
    return 0;
}

int fcgic_expr_ctx_new(struct fcgic_expr_ctx **out, const struct fcgic_expr_limits *limits, const struct fcgic_mem *mem)
{
    if (out != NULL)
        *out = NULL;
    return FCGIC_E_NOT_BUILT;
}

void fcgic_expr_ctx_free(struct fcgic_expr_ctx *ctx)
{
}

void fcgic_expr_ctx_reset(struct fcgic_expr_ctx *ctx, const struct fcgic_expr_vars *vars,
                          const struct fcgic_expr_env *env)
{
}

int fcgic_expr_eval_bool(const struct fcgic_expr *e, struct fcgic_expr_ctx *ctx, int *result)
{
    return FCGIC_E_NOT_BUILT;
}

int fcgic_expr_eval_string(const struct fcgic_expr *e, struct fcgic_expr_ctx *ctx, struct fcgic_span *value)
{
    return FCGIC_E_NOT_BUILT;
}

int fcgic_setenvif_new(struct fcgic_setenvif **out, const struct fcgic_expr_limits *limits, const struct fcgic_mem *mem)
{
    if (out != NULL)
        *out = NULL;
    return FCGIC_E_NOT_BUILT;
}

void fcgic_setenvif_free(struct fcgic_setenvif *s)
{
}

int fcgic_setenvif_add(struct fcgic_setenvif *s, int nargs, const char *const *argv, const char *label,
                       struct fcgic_expr_error *err)
{
    not_built(err);
    return FCGIC_E_NOT_BUILT;
}

size_t fcgic_setenvif_count(const struct fcgic_setenvif *s)
{
    return 0;
}

int fcgic_setenvif_apply(const struct fcgic_setenvif *const *lists, size_t nlists, struct fcgic_expr_ctx *ctx,
                         size_t *failed_rule)
{
    return FCGIC_E_NOT_BUILT;
}

/* Fuzz target: compile the input as a condition and as a string expression
 * (first byte selects the limits), evaluate both against a small fixed
 * request and environment, and run it as a ProxyFCGISetEnvIf value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiclient/expr.h"

static int fz_lookup(void *ud, int src, int var, const char *name, size_t n,
                     struct fcgic_span *v)
{
    (void)ud;
    (void)var;
    (void)name;
    if (src == FCGIC_EXPR_SRC_OSENV)
        return FCGIC_E_NOT_FOUND; /* never touch the real environment */
    if (n % 3 == 0)
        return FCGIC_E_NOT_FOUND;
    v->ptr = "/srv/www/prefix42/rest?a=b%20c&d=e";
    v->len = strlen(v->ptr) - (n % 7);
    return 0;
}

static int fz_file(void *ud, char op, const char *p, size_t n)
{
    (void)ud;
    (void)p;
    return (op + (int)n) & 1;
}

static int fz_get(void *ud, const char *name, size_t n, struct fcgic_span *v)
{
    (void)ud;
    (void)name;
    if (n == 0)
        return FCGIC_E_NOT_FOUND;
    v->ptr = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab";
    v->len = 32 - (n % 5);
    return 0;
}

static int fz_set(void *ud, const char *name, size_t n, const char *val, size_t vlen,
                  const char *rule)
{
    (void)ud;
    (void)rule;
    volatile char x = 0;
    if (n)
        x ^= name[n - 1];
    if (vlen)
        x ^= val[vlen - 1];
    (void)x;
    return 0;
}

static int fz_unset(void *ud, const char *name, size_t n)
{
    (void)ud;
    (void)name;
    (void)n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fcgic_expr_limits lim = { 0 };
    struct fcgic_expr_ctx *ctx = NULL;
    if (size < 1)
        return 0;
    lim.match_limit = 20000;
    lim.no_jit = getenv("FCGIC_UNDER_VALGRIND") != NULL;
    lim.scratch_size = (data[0] & 1) ? 256 : 65536;
    lim.max_capture_subject = (data[0] & 2) ? 8 : 4096;
    const char *src = (const char *)data + 1;
    size_t len = size - 1;
    if (fcgic_expr_ctx_new(&ctx, &lim, NULL))
        return 0;
    struct fcgic_expr_vars vars = {.version = FCGIC_EXPR_VARS_VERSION, .ud = NULL, .lookup = fz_lookup, .file_test = (data[0] & 4) ? fz_file : NULL};
    struct fcgic_expr_env env = {.version = FCGIC_EXPR_ENV_VERSION, .ud = NULL, .get = fz_get, .set = fz_set, .unset = fz_unset};
    fcgic_expr_ctx_reset(ctx, &vars, &env);
    for (unsigned flags = 0; flags <= FCGIC_EXPR_STRING; flags += FCGIC_EXPR_STRING) {
        struct fcgic_expr *e = NULL;
        struct fcgic_expr_error err;
        if (fcgic_expr_new(&e, src, len, flags, &lim, &err, NULL) != 0)
            continue;
        for (int k = 0; k < 2; k++) {
            int r;
            struct fcgic_span v;
            if (flags)
                (void)fcgic_expr_eval_string(e, ctx, &v);
            else
                (void)fcgic_expr_eval_bool(e, ctx, &r);
        }
        fcgic_expr_free(e);
    }
    /* the same text as a ProxyFCGISetEnvIf value after a capturing condition */
    char *val = malloc(len + 1);
    if (val) {
        memcpy(val, src, len);
        val[len] = '\0';
        if (!memchr(src, '\0', len)) {
            struct fcgic_setenvif *s = NULL;
            if (fcgic_setenvif_new(&s, &lim, NULL) == 0) {
                const char *a[3] = { "reqenv('X') =~ /(a+)(b)?/", "X", val };
                if (fcgic_setenvif_add(s, 3, a, NULL, NULL) == 0) {
                    const struct fcgic_setenvif *lists[1] = { s };
                    (void)fcgic_setenvif_apply(lists, 1, ctx, NULL);
                }
                fcgic_setenvif_free(s);
            }
        }
        free(val);
    }
    fcgic_expr_ctx_free(ctx);
    return 0;
}

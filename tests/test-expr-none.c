/* A library configured without the expression engine (-Dexpr=disabled):
 * every expression and ProxyFCGISetEnvIf function fails with
 * FCGIC_E_NOT_BUILT, regex mappings of the environment builder too, and
 * what needs no regex (variable names, ProxyPass prefix mappings) works as
 * in the full build. Built only in that configuration. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiclient/env.h"
#include "fcgiclient/expr.h"
#include "testutil.h"

START_TEST(expr_not_built)
{
    struct fcgic_expr *e = (struct fcgic_expr *)&e;
    struct fcgic_expr_error err;
    memset(&err, 0x55, sizeof(err));
    ck_assert_int_eq(fcgic_expr_new(&e, "true", 4, 0, NULL, &err, NULL), FCGIC_E_NOT_BUILT);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(err.code, FCGIC_E_NOT_BUILT);
    ck_assert_ptr_nonnull(strstr(err.message, "not built"));
    ck_assert_int_eq(fcgic_expr_new(&e, "true", 4, 0, NULL, NULL, NULL), FCGIC_E_NOT_BUILT);
    fcgic_expr_free(NULL);
    ck_assert_int_eq(fcgic_expr_is_string(NULL), 0);

    struct fcgic_expr_ctx *ctx = (struct fcgic_expr_ctx *)&ctx;
    ck_assert_int_eq(fcgic_expr_ctx_new(&ctx, NULL, NULL), FCGIC_E_NOT_BUILT);
    ck_assert_ptr_null(ctx);
    fcgic_expr_ctx_reset(NULL, NULL, NULL);
    fcgic_expr_ctx_free(NULL);
    int yes = 7;
    struct fcgic_span v = {NULL, 0};
    ck_assert_int_eq(fcgic_expr_eval_bool(NULL, NULL, &yes), FCGIC_E_NOT_BUILT);
    ck_assert_int_eq(yes, 7);
    ck_assert_int_eq(fcgic_expr_eval_string(NULL, NULL, &v), FCGIC_E_NOT_BUILT);
    ck_assert_str_eq(fcgic_expr_var_name(FCGIC_EXPR_V_REQUEST_URI), "REQUEST_URI");
    ck_assert_ptr_null(fcgic_expr_var_name(FCGIC_EXPR_V__COUNT));
}
END_TEST

START_TEST(setenvif_not_built)
{
    struct fcgic_setenvif *s = (struct fcgic_setenvif *)&s;
    ck_assert_int_eq(fcgic_setenvif_new(&s, NULL, NULL), FCGIC_E_NOT_BUILT);
    ck_assert_ptr_null(s);
    const char *argv[] = {"true", "X", "1"};
    struct fcgic_expr_error err;
    ck_assert_int_eq(fcgic_setenvif_add(NULL, 3, argv, NULL, &err), FCGIC_E_NOT_BUILT);
    ck_assert_int_eq(err.code, FCGIC_E_NOT_BUILT);
    ck_assert_uint_eq(fcgic_setenvif_count(NULL), 0);
    ck_assert_int_eq(fcgic_setenvif_apply(NULL, 0, NULL, NULL), FCGIC_E_NOT_BUILT);
    fcgic_setenvif_free(NULL);
}
END_TEST

static int map_new(enum fcgic_env_map_kind kind, const char *match, const char *target, struct fcgic_env_map **out)
{
    struct fcgic_env_map_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.kind = kind;
    cfg.match = match;
    cfg.target = target;
    cfg.document_root = "/var/www/html";
    cfg.stat = fcgic_env_stat_posix;
    return fcgic_env_map_new(out, &cfg, NULL);
}

START_TEST(env_regex_not_built)
{
    struct fcgic_env_map *m = NULL;
    ck_assert_int_eq(map_new(FCGIC_ENV_MAP_REGEX, "^/app/(.*)$", "fcgi://127.0.0.1:9000/srv/$1", &m),
                     FCGIC_E_NOT_BUILT);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(map_new(FCGIC_ENV_MAP_HANDLER, "\\.php$", "fcgi://127.0.0.1:9000", &m), FCGIC_E_NOT_BUILT);
    ck_assert_ptr_null(m);
    /* a handler without a base-name pattern needs no regex */
    ck_assert_int_eq(map_new(FCGIC_ENV_MAP_HANDLER, NULL, "fcgi://127.0.0.1:9000", &m), 0);
    fcgic_env_map_free(m);
}
END_TEST

START_TEST(env_prefix_works)
{
    struct fcgic_env_map *m = NULL;
    ck_assert_int_eq(map_new(FCGIC_ENV_MAP_PREFIX, "/app/", "fcgi://127.0.0.1:9000/srv/app/", &m), 0);
    struct fcgic_env *env = NULL;
    ck_assert_int_eq(fcgic_env_new(&env, NULL), 0);
    struct fcgic_env_request r;
    memset(&r, 0, sizeof(r));
    r.method = (struct fcgic_span){"GET", 3};
    r.target = (struct fcgic_span){"/app/x.php?a=1", 14};
    r.protocol = (struct fcgic_span){"HTTP/1.1", 8};
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    struct fcgic_span v;
    ck_assert_int_eq(fcgic_env_get(env, "SCRIPT_FILENAME", 15, &v), 0);
    ck_assert_int_eq((int)v.len, (int)strlen("proxy:fcgi://127.0.0.1:9000/srv/app/x.php"));
    ck_assert_int_eq(memcmp(v.ptr, "proxy:fcgi://127.0.0.1:9000/srv/app/x.php", v.len), 0);
    ck_assert_int_eq(fcgic_env_get(env, "QUERY_STRING", 12, &v), 0);
    ck_assert_int_eq(memcmp(v.ptr, "a=1", 3), 0);
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("expr-none");
    TCase *tc = tcase_create("expr");
    tcase_add_test(tc, expr_not_built);
    tcase_add_test(tc, setenvif_not_built);
    suite_add_tcase(s, tc);
    tc = tcase_create("env");
    tcase_add_test(tc, env_regex_not_built);
    tcase_add_test(tc, env_prefix_works);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

/* Benchmark: one ProxyFCGISetEnvIf rule with the documented capture seed,
 *   reqenv('PATH_TRANSLATED') =~ m|(/.*prefix)(\d+)(.*)|   value "$1$3",
 * evaluated against a typical CGI environment, next to baselines measured in
 * the same run: a plain pcre2_match of the same regex on the same subject,
 * and a memcpy of the resulting value. Allocations are counted through the
 * allocator hooks; the evaluation loop must make none. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgiclient/expr.h"

static long n_alloc;

static void *cnt_malloc(size_t n, void *ud)
{
    (void)ud;
    n_alloc++;
    return malloc(n);
}
static void *cnt_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    n_alloc++;
    return realloc(p, n);
}
static void cnt_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

/* A typical environment: what Apache sent for /myapp/a.php/prefix42/rest. */
static const char *const env_init[] = {
    "HTTP_HOST", "127.0.0.1:18080", "HTTP_USER_AGENT", "curl/7.88.1", "HTTP_ACCEPT", "*/*",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "", "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1", "SERVER_ADDR", "127.0.0.1", "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1", "DOCUMENT_ROOT", "/var/www/html", "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "", "CONTEXT_DOCUMENT_ROOT", "/var/www/html",
    "SERVER_ADMIN", "webmaster@example.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/a.php/prefix42/rest",
    "REMOTE_PORT", "51234", "GATEWAY_INTERFACE", "CGI/1.1", "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET", "QUERY_STRING", "", "REQUEST_URI", "/myapp/a.php/prefix42/rest",
    "SCRIPT_NAME", "/myapp/a.php", "PATH_INFO", "/prefix42/rest",
    "PATH_TRANSLATED", "/var/www/html/prefix42/rest", NULL,
};

#define NV 40
struct env {
    size_t n;
    const char *name[NV];
    size_t nlen[NV];
    char value[NV][128];
    size_t vlen[NV];
};

static int env_get(void *ud, const char *name, size_t n, struct fcgic_span *v)
{
    struct env *e = ud;
    for (size_t i = 0; i < e->n; i++) {
        if (e->nlen[i] == n && memcmp(e->name[i], name, n) == 0) {
            v->ptr = e->value[i];
            v->len = e->vlen[i];
            return 0;
        }
    }
    return FCGIC_E_NOT_FOUND;
}

static int env_set(void *ud, const char *name, size_t n, const char *val, size_t vlen,
                   const char *rule)
{
    struct env *e = ud;
    (void)rule;
    if (vlen >= 128)
        return FCGIC_E_RANGE;
    for (size_t i = 0; i < e->n; i++) {
        if (e->nlen[i] == n && memcmp(e->name[i], name, n) == 0) {
            memmove(e->value[i], val, vlen);
            e->vlen[i] = vlen;
            return 0;
        }
    }
    return FCGIC_E_RANGE; /* the bench only overrides */
}

static int env_unset(void *ud, const char *name, size_t n)
{
    (void)ud;
    (void)name;
    (void)n;
    return 0;
}

static void env_load(struct env *e)
{
    e->n = 0;
    for (const char *const *p = env_init; p[0]; p += 2, e->n++) {
        e->name[e->n] = p[0];
        e->nlen[e->n] = strlen(p[0]);
        e->vlen[e->n] = strlen(p[1]);
        memcpy(e->value[e->n], p[1], e->vlen[e->n]);
    }
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    struct fcgic_mem mem = { cnt_malloc, cnt_realloc, cnt_free, NULL };
    struct fcgic_setenvif *rules;
    struct fcgic_expr_ctx *ctx;
    struct env env;
    const char *argv3[3] = { "reqenv('PATH_TRANSLATED') =~ m|(/.*prefix)(\\d+)(.*)|",
                             "PATH_TRANSLATED", "$1$3" };
    if (fcgic_setenvif_new(&rules, NULL, &mem) || fcgic_setenvif_add(rules, 3, argv3, NULL, NULL) ||
        fcgic_expr_ctx_new(&ctx, NULL, &mem)) {
        fprintf(stderr, "setup failed\n");
        return EXIT_FAILURE;
    }
    struct fcgic_expr_env ops = {.version = FCGIC_EXPR_ENV_VERSION, .ud = &env, .get = env_get, .set = env_set, .unset = env_unset};
    const struct fcgic_setenvif *lists[1] = { rules };

    /* warm-up and correctness */
    env_load(&env);
    fcgic_expr_ctx_reset(ctx, NULL, &ops);
    if (fcgic_setenvif_apply(lists, 1, ctx, NULL) != 0) {
        fprintf(stderr, "apply failed\n");
        return EXIT_FAILURE;
    }
    size_t pt = env.n - 1;
    if (env.vlen[pt] != strlen("/var/www/html/prefix/rest") ||
        memcmp(env.value[pt], "/var/www/html/prefix/rest", env.vlen[pt]) != 0) {
        fprintf(stderr, "wrong result\n");
        return EXIT_FAILURE;
    }

    /* the rule: reset the value, then evaluate condition + value + set */
    static const char subject[] = "/var/www/html/prefix42/rest";
    long allocs_before = n_alloc;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        memcpy(env.value[pt], subject, sizeof(subject) - 1);
        env.vlen[pt] = sizeof(subject) - 1;
        fcgic_expr_ctx_reset(ctx, NULL, &ops);
        if (fcgic_setenvif_apply(lists, 1, ctx, NULL) != 0)
            return EXIT_FAILURE;
    }
    double t_rule = (now_ns() - t0) / (double)iters;
    long allocs = n_alloc - allocs_before;

    /* baseline 1: pcre2_match of the same regex on the same subject */
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR) "(/.*prefix)(\\d+)(.*)", PCRE2_ZERO_TERMINATED,
                                   PCRE2_DUPNAMES | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY, &ec, &eo,
                                   NULL);
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    pcre2_match_data *md = pcre2_match_data_create(10, NULL);
    volatile int sink = 0;
    t0 = now_ns();
    for (long i = 0; i < iters; i++)
        sink += pcre2_match(re, (PCRE2_SPTR)subject, sizeof(subject) - 1, 0, 0, md, NULL);
    double t_pcre = (now_ns() - t0) / (double)iters;

    /* baseline 2: memcpy of the value bytes */
    char dst[64];
    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        memcpy(dst, subject + (i & 1), sizeof(subject) - 2);
        sink += dst[3];
    }
    double t_memcpy = (now_ns() - t0) / (double)iters;

    printf("bench-expr: %ld iterations\n", iters);
    printf("  setenvif rule (cond + \"$1$3\" + set) %8.1f ns/eval   allocations in loop: %ld\n",
           t_rule, allocs);
    printf("  baseline pcre2_match (same regex)     %8.1f ns/op    ratio %.2f\n", t_pcre,
           t_pcre > 0 ? t_rule / t_pcre : 0.0);
    printf("  baseline memcpy (%zu bytes)            %8.1f ns/op    ratio %.1f\n",
           sizeof(subject) - 2, t_memcpy, t_memcpy > 0 ? t_rule / t_memcpy : 0.0);
    printf("  target < 500 ns/eval: %s\n", t_rule < 500 ? "met" : "NOT met");
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    fcgic_setenvif_free(rules);
    fcgic_expr_ctx_free(ctx);
    (void)sink;
    return allocs == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

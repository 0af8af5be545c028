/* Builds the params of a typical browser request (15 headers, ProxyPass to
 * PHP-FPM with first-dot PATH_INFO) with a reused param list, and compares
 * with a memcpy of the same number of param bytes, measured in the same run.
 * Then a ProxyPassMatch whose pattern backtracks exponentially on a hostile
 * request target (the match limit stops it), next to an ordinary target
 * through the same mapping. Then 11000 headers whose names differ only in
 * the middle (a hash of length, head and tail would put them all in one
 * chain), next to 11000 ordinary names of the same length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgiclient/env.h"

#define HDR(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static const struct fcgic_param headers[] = {
    HDR("Host", "www.example.com"),
    HDR("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    HDR("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    HDR("Accept-Language", "en-US,en;q=0.5"),
    HDR("Accept-Encoding", "gzip, deflate, br, zstd"),
    HDR("Referer", "https://www.example.com/index.php?page=1"),
    HDR("Connection", "keep-alive"),
    HDR("Cookie", "PHPSESSID=0123456789abcdef0123456789abcdef; theme=dark; lang=en"),
    HDR("Upgrade-Insecure-Requests", "1"),
    HDR("Sec-Fetch-Dest", "document"),
    HDR("Sec-Fetch-Mode", "navigate"),
    HDR("Sec-Fetch-Site", "same-origin"),
    HDR("Sec-Fetch-User", "?1"),
    HDR("Priority", "u=0, i"),
    HDR("Cache-Control", "max-age=0"),
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine may be shared */
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per fcgic_env_build() of r, best of 5 rounds of iters; *rc receives
 * what the build returned. */
static double time_build(struct fcgic_env *env, const struct fcgic_env_map *map,
                         const struct fcgic_env_request *r, int iters, int *rc)
{
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        for (int i = 0; i < iters; i++)
            *rc = fcgic_env_build(env, map, r);
        double t = (now_ns() - t0) / iters;
        if (t < best)
            best = t;
    }
    return best;
}

/* ProxyPassMatch "^/app/((a|aa)+)\.php$": 48 a's and a '!' would take
 * Fibonacci(48) steps without the match limit. */
static int bench_regex_limit(void)
{
    struct fcgic_env_map_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = FCGIC_ENV_MAP_REGEX;
    cfg.match = "^/app/((a|aa)+)\\.php$";
    cfg.target = "fcgi://127.0.0.1:9000/srv/$1.php";
    struct fcgic_env_map *map;
    struct fcgic_env *env;
    if (fcgic_env_map_new(&map, &cfg, NULL) || fcgic_env_new(&env, NULL))
        return -1;
    char hostile[64] = "/app/";
    memset(hostile + 5, 'a', 48);
    memcpy(hostile + 53, "!.php", 6);
    struct fcgic_env_request r;
    memset(&r, 0, sizeof r);
    r.method = (struct fcgic_span){"GET", 3};
    r.protocol = (struct fcgic_span){"HTTP/1.1", 8};
    r.target = (struct fcgic_span){"/app/aaaaaaaaaaaaaaaa.php", 25};
    int rc_ok = -1, rc_bad = -1;
    double t_ok = time_build(env, map, &r, 20000, &rc_ok);
    r.target = (struct fcgic_span){hostile, strlen(hostile)};
    double t_bad = time_build(env, map, &r, 20, &rc_bad);
    printf("ProxyPassMatch ^/app/((a|aa)+)\\.php$\n");
    printf("  ordinary target  %10.1f ns/request (%s)\n", t_ok, fcgic_strerror_name(rc_ok));
    printf("  hostile target   %10.1f ns/request (%s)\n", t_bad, fcgic_strerror_name(rc_bad));
    printf("  ratio            %10.1f x\n", t_bad / t_ok);
    fcgic_env_free(env);
    fcgic_env_map_free(map);
    return rc_ok == 0 && rc_bad == FCGIC_E_EXPR_MATCH_LIMIT ? 0 : -1;
}

#define FLOOD_N 11000
#define FLOOD_LEN 32

/* FLOOD_N header names of the same length: adversarial ones share their
 * first and last 12 bytes, ordinary ones end with their number. */
static struct fcgic_param *flood_headers(char *names, int adversarial)
{
    struct fcgic_param *h = calloc(FLOOD_N, sizeof(*h));
    if (h == NULL)
        return NULL;
    for (int i = 0; i < FLOOD_N; i++) {
        char *n = names + (size_t)i * FLOOD_LEN;
        char tmp[FLOOD_LEN + 1];
        if (adversarial)
            snprintf(tmp, sizeof tmp, "X-Padding-Aa%08d-Trailer-Zz", i);
        else
            snprintf(tmp, sizeof tmp, "X-Padding-Aa-Trailer-Zz%08d", i);
        memcpy(n, tmp, FLOOD_LEN);
        h[i].name = n;
        h[i].name_len = strlen(tmp);
        h[i].value = "v";
        h[i].value_len = 1;
    }
    return h;
}

static int bench_hash_flood(void)
{
    struct fcgic_env_map_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = FCGIC_ENV_MAP_PREFIX;
    cfg.match = "/";
    cfg.target = "fcgi://127.0.0.1:9000/srv/";
    struct fcgic_env_map *map;
    struct fcgic_env *env;
    if (fcgic_env_map_new(&map, &cfg, NULL) || fcgic_env_new(&env, NULL))
        return -1;
    fcgic_env_set_max_size(env, 64u << 20);
    char *names = malloc((size_t)FLOOD_N * FLOOD_LEN * 2);
    struct fcgic_param *ord = names ? flood_headers(names, 0) : NULL;
    struct fcgic_param *adv = names ? flood_headers(names + (size_t)FLOOD_N * FLOOD_LEN, 1) : NULL;
    int rc = -1;
    if (ord && adv && ord[0].name_len == adv[0].name_len) {
        struct fcgic_env_request r;
        memset(&r, 0, sizeof r);
        r.method = (struct fcgic_span){"GET", 3};
        r.protocol = (struct fcgic_span){"HTTP/1.1", 8};
        r.target = (struct fcgic_span){"/index.php", 10};
        r.headers = ord;
        r.n_headers = FLOOD_N;
        int rc_ord = -1, rc_adv = -1;
        double t_ord = time_build(env, map, &r, 5, &rc_ord);
        r.headers = adv;
        double t_adv = time_build(env, map, &r, 5, &rc_adv);
        printf("%d headers, names of %zu bytes\n", FLOOD_N, ord[0].name_len);
        printf("  ordinary names     %10.3f ms/request (%s)\n", t_ord / 1e6, fcgic_strerror_name(rc_ord));
        printf("  adversarial names  %10.3f ms/request (%s)\n", t_adv / 1e6, fcgic_strerror_name(rc_adv));
        printf("  ratio              %10.2f x\n", t_adv / t_ord);
        rc = rc_ord == 0 && rc_adv == 0 ? 0 : -1;
    }
    free(ord);
    free(adv);
    free(names);
    fcgic_env_free(env);
    fcgic_env_map_free(map);
    return rc;
}

int main(void)
{
    struct fcgic_env_map_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = FCGIC_ENV_MAP_PREFIX;
    cfg.match = "/";
    cfg.target = "unix:/run/php/php-fpm.sock|fcgi://localhost/var/www/html/";
    cfg.pathinfo = FCGIC_ENV_PATHINFO_FIRST_DOT;
    cfg.server_name = "www.example.com";
    cfg.server_admin = "webmaster@example.com";
    cfg.document_root = "/var/www/html";
    struct fcgic_env_map *map;
    struct fcgic_env *env;
    if (fcgic_env_map_new(&map, &cfg, NULL) || fcgic_env_new(&env, NULL))
        return EXIT_FAILURE;
    struct fcgic_env_request r;
    memset(&r, 0, sizeof r);
    r.method = (struct fcgic_span){"GET", 3};
    r.target = (struct fcgic_span){"/index.php/article/42?page=2&sort=asc", 37};
    r.protocol = (struct fcgic_span){"HTTP/1.1", 8};
    r.headers = headers;
    r.n_headers = sizeof headers / sizeof headers[0];
    r.remote_addr = (struct fcgic_span){"203.0.113.7", 11};
    r.server_addr = (struct fcgic_span){"192.0.2.1", 9};
    r.remote_port = 51234;
    r.https = 1;
    if (fcgic_env_build(env, map, &r) != 0)
        return EXIT_FAILURE;
    size_t bytes = fcgic_env_size(env), count = fcgic_env_count(env);

    const int iters = 200000;
    double best_build = 1e30, best_copy = 1e30;
    char *src = malloc(bytes), *dst = malloc(bytes);
    memset(src, 'x', bytes);
    volatile size_t sink = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        for (int i = 0; i < iters; i++) {
            fcgic_env_build(env, map, &r);
            sink += fcgic_env_count(env);
        }
        double t1 = now_ns();
        for (int i = 0; i < iters; i++) {
            memcpy(dst, src, bytes);
            src[i % bytes] = (char)i;
            sink += (size_t)dst[(size_t)i % bytes];
        }
        double t2 = now_ns();
        if ((t1 - t0) / iters < best_build)
            best_build = (t1 - t0) / iters;
        if ((t2 - t1) / iters < best_copy)
            best_copy = (t2 - t1) / iters;
    }
    printf("env build, 15-header browser request: %zu params, %zu bytes\n", count, bytes);
    printf("  fcgic_env_build  %8.1f ns/request\n", best_build);
    printf("  memcpy baseline  %8.1f ns/request (%zu bytes)\n", best_copy, bytes);
    printf("  ratio            %8.1f x\n", best_build / best_copy);
    (void)sink;
    free(src);
    free(dst);
    fcgic_env_free(env);
    fcgic_env_map_free(map);
    int rc = bench_regex_limit();
    if (rc == 0)
        rc = bench_hash_flood();
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

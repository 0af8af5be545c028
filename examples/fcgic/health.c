/* fcgic: PHP-FPM health checks (--fpm-ping, --fpm-status). One line of
 * output, exit 0 when healthy, so that
 *   HEALTHCHECK CMD fcgic --fpm-ping fcgi://127.0.0.1:9000/
 * is all a container needs. */
#include "fcgic.h"

#include <stdlib.h>
#include <string.h>

/* The value of "key": in PHP-FPM's ?json status page, as text. */
static int json_field(const char *body, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(body, pat);
    if (p == NULL)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && n + 1 < size)
            out[n++] = *p++;
    } else {
        while (*p && *p != ',' && *p != '}' && n + 1 < size)
            out[n++] = *p++;
    }
    out[n] = '\0';
    return 0;
}

static void oneline(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
}

int health_check(const struct cli *in)
{
    struct cli cli = *in;
    if (cli.max_time <= 0)
        cli.max_time = 5;
    if (cli.connect_timeout <= 0)
        cli.connect_timeout = 3;
    cli.silent = 1;
    cli.show_error = 0;
    cli.verbose = 0;
    cli.include = 0;
    cli.repeat = 1;
    cli.get_values = 0;
    cli.fail = 0;
    const char *what = cli.health == CLI_HEALTH_PING ? "ping" : "status";

    struct req_env *re = NULL;
    int ex = req_env_new(&re, &cli, NULL);
    if (ex == EXIT_OK)
        ex = req_env_build(re, &cli);
    if (ex != EXIT_OK) {
        char m[1024];
        snprintf(m, sizeof m, "%s", msg_last());
        oneline(m);
        printf("unhealthy: %s %s: %s\n", in->backend, what, m);
        req_env_free(re);
        return ex;
    }
    struct simple_response *r = malloc(sizeof *r);
    if (r == NULL) {
        req_env_free(re);
        printf("unhealthy: %s %s: out of memory\n", in->backend, what);
        return EXIT_LOCAL;
    }
    ex = run_simple(&cli, re, r);
    req_env_free(re);
    if (r->error) {
        printf("unhealthy: %s %s: %s (%s)\n", in->backend, what, fcgic_strerror(r->error),
               fcgic_strerror_name(r->error));
    } else if (ex != EXIT_OK && ex != EXIT_APP_STATUS) {
        char m[1024];
        snprintf(m, sizeof m, "%s", msg_last());
        oneline(m);
        printf("unhealthy: %s %s: %s\n", in->backend, what, m);
    } else if (r->status != 200) {
        printf("unhealthy: %s %s: HTTP status %d (is the %s path configured in the pool?)\n", in->backend, what,
               r->status, what);
        ex = EXIT_UNHEALTHY;
    } else if (cli.health == CLI_HEALTH_PING) {
        size_t n = r->body_len;
        while (n && (r->body[n - 1] == '\n' || r->body[n - 1] == '\r' || r->body[n - 1] == ' '))
            n--;
        r->body[n] = '\0';
        oneline(r->body);
        if (strcmp(r->body, "pong") == 0) {
            printf("healthy: %s ping: pong in %.1f ms\n", in->backend, r->time_ms);
            ex = EXIT_OK;
        } else {
            printf("unhealthy: %s ping: answered \"%.60s\" instead of \"pong\"\n", in->backend, r->body);
            ex = EXIT_UNHEALTHY;
        }
    } else {
        char pool[64], active[24], idle[24], queue[24], accepted[24], maxr[24];
        if (json_field(r->body, "pool", pool, sizeof pool) == 0 &&
            json_field(r->body, "active processes", active, sizeof active) == 0 &&
            json_field(r->body, "idle processes", idle, sizeof idle) == 0 &&
            json_field(r->body, "listen queue", queue, sizeof queue) == 0 &&
            json_field(r->body, "accepted conn", accepted, sizeof accepted) == 0) {
            if (json_field(r->body, "max children reached", maxr, sizeof maxr) != 0)
                strcpy(maxr, "?");
            printf("healthy: %s status: pool %s, %s active, %s idle, %s queued, %s accepted, "
                   "max children reached %s, in %.1f ms\n",
                   in->backend, pool, active, idle, queue, accepted, maxr, r->time_ms);
        } else {
            printf("healthy: %s status: HTTP 200, %zu bytes in %.1f ms\n", in->backend, r->body_len, r->time_ms);
        }
        ex = EXIT_OK;
    }
    free(r);
    return ex;
}

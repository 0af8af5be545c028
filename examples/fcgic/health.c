/* fcgic: PHP-FPM health checks (--fpm-ping, --fpm-status). One line of
 * output, exit 0 when healthy, so that
 *   HEALTHCHECK CMD fcgic --fpm-ping fcgi://127.0.0.1:9000/
 * is all a container needs. */
#include "fcgic.h"
#include "fpm_status.h"

#include <stdlib.h>
#include <string.h>

static void oneline(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
}

/* PHP-FPM's status fields: key in its ?json page, key in fcgic's JSON, and
 * whether the value is a string. */
static const struct {
    const char *fpm, *key;
    int is_string;
} pool_fields[] = {
    {"pool", "name", 1},
    {"process manager", "process_manager", 1},
    {"start time", "start_time", 0},
    {"start since", "start_since", 0},
    {"accepted conn", "accepted_conn", 0},
    {"listen queue", "listen_queue", 0},
    {"max listen queue", "max_listen_queue", 0},
    {"listen queue len", "listen_queue_len", 0},
    {"idle processes", "idle_processes", 0},
    {"active processes", "active_processes", 0},
    {"total processes", "total_processes", 0},
    {"max active processes", "max_active_processes", 0},
    {"max children reached", "max_children_reached", 0},
    {"slow requests", "slow_requests", 0},
};
#define N_POOL_FIELDS (sizeof pool_fields / sizeof pool_fields[0])

static int is_uint(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* --json: one object on stdout (schema in fcgic(1), "HEALTH CHECK JSON"). */
static void health_json(const struct cli *cli, const char *what, int ex, const struct simple_response *r,
                        double time_ms, const char *detail, const char *err_name, const char *err_msg)
{
    FILE *f = stdout;
    fprintf(f, "{\"fcgic\": 1, \"check\": \"%s\", \"backend\": ", what);
    json_string(f, cli->backend, strlen(cli->backend));
    fputs(", \"url\": ", f);
    json_string(f, cli->url, strlen(cli->url));
    fprintf(f, ", \"healthy\": %s, \"exit_code\": %d, \"status\": ", ex == EXIT_OK ? "true" : "false", ex);
    if (r && r->status)
        fprintf(f, "%d", r->status);
    else
        fputs("null", f);
    if (r && r->got_end)
        fprintf(f, ", \"app_status\": %u, \"protocol_status\": \"%s\"", (unsigned)r->app_status,
                protocol_status_name(r->protocol_status));
    else
        fputs(", \"app_status\": null, \"protocol_status\": null", f);
    fprintf(f, ", \"time_ms\": %.3f, \"detail\": ", time_ms);
    json_string(f, detail, strlen(detail));
    fputs(", \"error\": ", f);
    if (err_name) {
        fputs("{\"name\": ", f);
        json_string(f, err_name, strlen(err_name));
        fputs(", \"message\": ", f);
        json_string(f, err_msg, strlen(err_msg));
        fputc('}', f);
    } else
        fputs("null", f);
    fputs(", \"answer\": ", f);
    if (r && r->status && cli->health == CLI_HEALTH_PING) {
        size_t n = strlen(r->body);
        json_string(f, r->body, n < 256 ? n : 256); /* the first 256 bytes */
    }
    else
        fputs("null", f);
    fputs(", \"pool\": ", f);
    int have_pool = r && r->status == 200 && cli->health == CLI_HEALTH_STATUS;
    char v[256];
    if (have_pool)
        have_pool = fpm_status_field(r->body, "pool", v, sizeof v) == 0;
    if (have_pool) {
        for (size_t i = 0; i < N_POOL_FIELDS; i++) {
            fprintf(f, "%s\"%s\": ", i ? ", " : "{", pool_fields[i].key);
            if (fpm_status_field(r->body, pool_fields[i].fpm, v, sizeof v) != 0)
                fputs("null", f);
            else if (pool_fields[i].is_string)
                json_string(f, v, strlen(v));
            else if (is_uint(v))
                fputs(v, f);
            else
                fputs("null", f);
        }
        fputc('}', f);
    } else
        fputs("null", f);
    fputs("}\n", f);
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
    cli.json = 0;
    const char *what = cli.health == CLI_HEALTH_PING ? "ping" : "status";
    uint64_t t0 = fcgic_posix_now();
    char line[4096], m[1024];
    const char *err_name = NULL; /* --json: error.name; NULL when healthy */
    char err_msg[1024] = "";

    struct req_env *re = NULL;
    struct simple_response *r = NULL;
    int ex = req_env_new(&re, &cli, NULL);
    if (ex == EXIT_OK)
        ex = req_env_build(re, &cli);
    if (ex != EXIT_OK) {
        snprintf(m, sizeof m, "%s", msg_last());
        oneline(m);
        snprintf(line, sizeof line, "unhealthy: %s %s: %s", in->backend, what, m);
        err_name = ex == EXIT_USAGE ? "USAGE" : ex == EXIT_ENV ? "NO_ENVIRONMENT" : "LOCAL";
        snprintf(err_msg, sizeof err_msg, "%s", m);
        goto out;
    }
    r = malloc(sizeof *r);
    if (r == NULL) {
        snprintf(line, sizeof line, "unhealthy: %s %s: out of memory", in->backend, what);
        err_name = "LOCAL";
        snprintf(err_msg, sizeof err_msg, "out of memory");
        ex = EXIT_LOCAL;
        goto out;
    }
    ex = run_simple(&cli, re, r);
    if (r->error) {
        snprintf(line, sizeof line, "unhealthy: %s %s: %s (%s)", in->backend, what, fcgic_strerror(r->error),
                 fcgic_strerror_name(r->error));
        err_name = fcgic_strerror_name(r->error);
        snprintf(err_msg, sizeof err_msg, "%s", fcgic_strerror(r->error));
    } else if (ex != EXIT_OK && ex != EXIT_APP_STATUS) {
        snprintf(m, sizeof m, "%s", msg_last());
        oneline(m);
        snprintf(line, sizeof line, "unhealthy: %s %s: %s", in->backend, what, m);
        err_name = ex == EXIT_PROTOCOL ? "PROTOCOL_STATUS" : "LOCAL";
        snprintf(err_msg, sizeof err_msg, "%s", m);
    } else if (r->status != 200) {
        snprintf(line, sizeof line, "unhealthy: %s %s: HTTP status %d (is the %s path configured in the pool?)",
                 in->backend, what, r->status, what);
        err_name = "HTTP_STATUS";
        snprintf(err_msg, sizeof err_msg, "HTTP status %d instead of 200", r->status);
        ex = EXIT_UNHEALTHY;
    } else if (cli.health == CLI_HEALTH_PING) {
        size_t n = r->body_len;
        while (n && (r->body[n - 1] == '\n' || r->body[n - 1] == '\r' || r->body[n - 1] == ' '))
            n--;
        r->body[n] = '\0';
        oneline(r->body);
        if (strcmp(r->body, "pong") == 0) {
            snprintf(line, sizeof line, "healthy: %s ping: pong in %.1f ms", in->backend, r->time_ms);
            ex = EXIT_OK;
        } else {
            snprintf(line, sizeof line, "unhealthy: %s ping: answered \"%.60s\" instead of \"pong\"", in->backend,
                     r->body);
            err_name = "NOT_PONG";
            snprintf(err_msg, sizeof err_msg, "the answer is not \"pong\"");
            ex = EXIT_UNHEALTHY;
        }
    } else {
        char pool[64], active[24], idle[24], queue[24], accepted[24], maxr[24];
        if (fpm_status_field(r->body, "pool", pool, sizeof pool) == 0 &&
            fpm_status_field(r->body, "active processes", active, sizeof active) == 0 &&
            fpm_status_field(r->body, "idle processes", idle, sizeof idle) == 0 &&
            fpm_status_field(r->body, "listen queue", queue, sizeof queue) == 0 &&
            fpm_status_field(r->body, "accepted conn", accepted, sizeof accepted) == 0) {
            if (fpm_status_field(r->body, "max children reached", maxr, sizeof maxr) != 0)
                strcpy(maxr, "?");
            snprintf(line, sizeof line,
                     "healthy: %s status: pool %s, %s active, %s idle, %s queued, %s accepted, "
                     "max children reached %s, in %.1f ms",
                     in->backend, pool, active, idle, queue, accepted, maxr, r->time_ms);
        } else {
            snprintf(line, sizeof line, "healthy: %s status: HTTP 200, %zu bytes in %.1f ms", in->backend,
                     r->body_len, r->time_ms);
        }
        ex = EXIT_OK;
    }
out:;
    double ms = r && r->time_ms > 0 ? r->time_ms : (double)(fcgic_posix_now() - t0) / 1e6;
    if (in->json)
        health_json(in, what, ex, r, ms, line, err_name, err_msg);
    else
        printf("%s\n", line);
    req_env_free(re);
    free(r);
    return ex;
}

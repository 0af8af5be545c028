/* fcgic: "curl for FastCGI applications". See fcgic(1) and fcgic --help. */
#include "fcgic.h"

#include <errno.h>
#include <string.h>

static void json_doc(const struct cli *cli, const struct req_env *re, const struct run_out *ro, int ex)
{
    FILE *f = stdout;
    fputs("{\n  \"fcgic\": 1,\n  \"backend\": ", f);
    json_string(f, cli->backend, strlen(cli->backend));
    fputs(",\n  \"url\": ", f);
    if (cli->url)
        json_string(f, cli->url, strlen(cli->url));
    else
        fputs("null", f);
    fputs(",\n  \"method\": ", f);
    const char *m = re ? req_env_method(re) : NULL;
    if (m && cli->url)
        json_string(f, m, strlen(m));
    else
        fputs("null", f);
    fprintf(f, ",\n  \"role\": \"%s\",\n  \"dry_run\": %s,\n", role_name(cli->role), cli->dry_run ? "true" : "false");
    if (re && req_env_env(re) && (cli->url || cli->n_params))
        explain_json_params(f, req_env_env(re));
    else
        fputs("  \"params\": [],\n", f);
    fputs("  \"get_values\": ", f);
    if (ro && ro->values) {
        fputc('{', f);
        fwrite(ro->values, 1, ro->values_len, f);
        fputc('}', f);
    } else
        fputs("null", f);
    fputs(",\n  \"responses\": [", f);
    const char *last = NULL;
    if (ro && ro->responses && ro->responses_len) {
        fputs("\n    ", f);
        fwrite(ro->responses, 1, ro->responses_len, f);
        fputs("\n  ", f);
        /* the last object starts after the last separator */
        last = ro->responses;
        for (size_t i = 0; i + 6 <= ro->responses_len; i++)
            if (memcmp(ro->responses + i, ",\n    {", 7) == 0)
                last = ro->responses + i + 6;
    }
    fputs("],\n  \"response\": ", f);
    if (last)
        fwrite(last, 1, ro->responses_len - (size_t)(last - ro->responses), f);
    else
        fputs("null", f);
    fprintf(f, ",\n  \"exit_code\": %d,\n  \"error\": ", ex);
    if (ex != 0 && msg_last()[0])
        json_string(f, msg_last(), strlen(msg_last()));
    else
        fputs("null", f);
    fputs("\n}\n", f);
}

/* A write to stdout that failed (full disk, closed pipe) is a local
 * failure, not a success. */
static int finish_stdout(const struct cli *cli, int ex)
{
    errno = EIO;
    if ((fflush(stdout) != 0 || ferror(stdout)) && ex == EXIT_OK) {
        msg_error(cli, "backend %s: cannot write to standard output: %s", cli->backend, strerror(errno));
        return EXIT_LOCAL;
    }
    return ex;
}

int main(int argc, char **argv)
{
    struct cli cli;
    int ex = cli_parse(&cli, argc, argv);
    if (ex != EXIT_OK) {
        cli_free(&cli);
        return ex < 0 ? EXIT_OK : ex;
    }
    if (cli.health != CLI_HEALTH_NONE) {
        ex = health_check(&cli); /* the exit status is the answer; stdout is extra */
        fflush(stdout);
        cli_free(&cli);
        return ex;
    }
    struct req_env *re = NULL;
    ex = req_env_new(&re, &cli, NULL);
    if (ex == EXIT_OK && (cli.url || cli.n_params))
        ex = req_env_build(re, &cli);
    if (ex == EXIT_OK && cli.explain && !cli.json)
        explain_text(cli.dry_run ? stdout : stderr, req_env_env(re));
    struct run_out ro;
    memset(&ro, 0, sizeof ro);
    if (ex == EXIT_OK && !cli.dry_run) {
        fflush(stderr);
        ex = run_requests(&cli, re, &ro);
    }
    if (cli.json)
        json_doc(&cli, re, &ro, ex);
    ex = finish_stdout(&cli, ex);
    run_out_free(&ro);
    req_env_free(re);
    cli_free(&cli);
    return ex;
}

/* fcgic: talking to the application through the POSIX transport's event
 * loop: --get-values on a connection of its own (fcgic_posix_open /
 * fcgic_conn_get_values), requests through a one-connection pool attached
 * to the loop (fcgic_pool_submit / fcgic_posix_run_until), so --repeat over
 * a kept connection gets the pool's check before reuse and its stale
 * connection retry; bodies streamed from files, responses printed as they
 * come. */
#include "fcgic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS 1000000000ull
#define STDERR_JSON_LINES 100

struct run {
    const struct cli *cli;
    struct req_env *re;
    FILE *out;        /* body destination, NULL = discard */
    FILE *json;       /* memstream of the current response object, or NULL */
    struct simple_response *capture; /* health checks: keep the body */
    int ended;
    struct fcgic_result res;
    int status;       /* 0 until on_head */
    int suppress;     /* --fail and status >= 400: no body output */
    int write_failed;
    uint64_t body_bytes;
    unsigned stderr_lines;
    FILE *stderr_json; /* memstream of the JSON stderr array's items */
    char *stderr_buf;
    size_t stderr_len;
    /* request bodies */
    const char *lit;
    size_t lit_left;
    int fd, data_fd;
    char inbuf[65536], databuf[65536];
    int read_failed;
    /* GET_VALUES */
    int values_done;
    FILE *values;
};

const char *protocol_status_name(int ps)
{
    switch (ps) {
    case FCGIC_REQUEST_COMPLETE: return "REQUEST_COMPLETE";
    case FCGIC_CANT_MPX_CONN: return "CANT_MPX_CONN";
    case FCGIC_OVERLOADED: return "OVERLOADED";
    case FCGIC_UNKNOWN_ROLE: return "UNKNOWN_ROLE";
    default: return "UNKNOWN";
    }
}

const char *role_name(enum fcgic_role r)
{
    return r == FCGIC_ROLE_AUTHORIZER ? "AUTHORIZER" : r == FCGIC_ROLE_FILTER ? "FILTER" : "RESPONDER";
}

int exit_for_error(int err)
{
    switch (err) {
    case 0: return EXIT_OK;
    case FCGIC_E_NOMEM:
    case FCGIC_E_BODY_SOURCE:
    case FCGIC_E_CALLBACK: return EXIT_LOCAL;
    case FCGIC_E_CONNECT:
    case FCGIC_E_RESOLVE:
    case FCGIC_E_SOCKET:
    case FCGIC_E_CONN_FAILED: return EXIT_CONNECT;
    case FCGIC_E_BAD_ADDRESS: return EXIT_USAGE;
    case FCGIC_E_TIMEOUT_CONNECT:
    case FCGIC_E_TIMEOUT_FIRST_BYTE:
    case FCGIC_E_TIMEOUT_IDLE:
    case FCGIC_E_TIMEOUT_TOTAL:
    case FCGIC_E_TIMEOUT: return EXIT_TIMEOUT;
    default: return EXIT_PROTOCOL;
    }
}

static void print_header_line(FILE *f, const char *prefix, const char *n, size_t nl, const char *v, size_t vl,
                              const char *end)
{
    fprintf(f, "%s%.*s: %.*s%s", prefix, (int)nl, n, (int)vl, v, end);
}

static void json_headers(FILE *j, const char *key, const struct fcgic_header *h, size_t n)
{
    fprintf(j, ", \"%s\": [", key);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", {\"name\": " : "{\"name\": ", j);
        json_string(j, h[i].name, h[i].name_len);
        fputs(", \"value\": ", j);
        json_string(j, h[i].value, h[i].value_len);
        fputc('}', j);
    }
    fputc(']', j);
}

static int on_head(void *ud, const struct fcgic_response_head *head)
{
    struct run *r = ud;
    const struct cli *cli = r->cli;
    r->status = head->status;
    if (r->capture)
        r->capture->status = head->status;
    if (cli->fail && head->status >= 400)
        r->suppress = 1;
    const char *reason = head->status_explicit && head->reason.len ? NULL : fcgic_http_reason(head->status);
    int rl = reason ? (int)strlen(reason) : (int)head->reason.len;
    const char *rp = reason ? reason : head->reason.ptr;
    if (cli->include && r->out && !r->suppress) {
        fprintf(r->out, "HTTP/1.1 %d %.*s\r\n", head->status, rl, rp);
        for (size_t i = 0; i < head->nheaders; i++)
            print_header_line(r->out, "", head->headers[i].name, head->headers[i].name_len,
                              head->headers[i].value, head->headers[i].value_len, "\r\n");
        for (size_t i = 0; i < head->nvariables; i++)
            print_header_line(r->out, "Variable-", head->variables[i].name, head->variables[i].name_len,
                              head->variables[i].value, head->variables[i].value_len, "\r\n");
        fputs("\r\n", r->out);
    }
    if (cli->verbose) {
        fprintf(stderr, "< status %d %.*s%s\n", head->status, rl, rp,
                head->no_header_block ? " (no CGI header block: whole output is the body)" : "");
        for (size_t i = 0; i < head->nheaders; i++)
            print_header_line(stderr, "< ", head->headers[i].name, head->headers[i].name_len,
                              head->headers[i].value, head->headers[i].value_len, "\n");
        for (size_t i = 0; i < head->nvariables; i++)
            print_header_line(stderr, "< Variable-", head->variables[i].name, head->variables[i].name_len,
                              head->variables[i].value, head->variables[i].value_len, "\n");
    }
    if (r->json) {
        fprintf(r->json, ", \"status\": %d, \"reason\": ", head->status);
        json_string(r->json, rp, (size_t)rl);
        json_headers(r->json, "headers", head->headers, head->nheaders);
        json_headers(r->json, "variables", head->variables, head->nvariables);
    }
    return 0;
}

static int on_body(void *ud, const char *data, size_t len)
{
    struct run *r = ud;
    r->body_bytes += len;
    if (r->capture) {
        size_t room = sizeof r->capture->body - 1 - r->capture->body_len;
        size_t n = len < room ? len : room;
        memcpy(r->capture->body + r->capture->body_len, data, n);
        r->capture->body_len += n;
        r->capture->body[r->capture->body_len] = '\0';
    }
    if (r->out && !r->suppress && len && fwrite(data, 1, len, r->out) != len) {
        r->write_failed = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

static int on_stderr(void *ud, const char *line, size_t len)
{
    struct run *r = ud;
    if (!r->capture) {
        fwrite(line, 1, len, stderr);
        fputc('\n', stderr);
    }
    if (r->stderr_json && r->stderr_lines < STDERR_JSON_LINES) {
        fputs(r->stderr_lines ? ", " : "", r->stderr_json);
        json_string(r->stderr_json, line, len);
    }
    r->stderr_lines++;
    return 0;
}

static void on_end(void *ud, const struct fcgic_result *res)
{
    struct run *r = ud;
    r->res = *res;
    r->ended = 1;
}

static int read_fd(struct run *r, int fd, char *buf, size_t size, struct fcgic_span *chunk)
{
    for (;;) {
        ssize_t n = read(fd, buf, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r->read_failed = errno;
            return -1;
        }
        if (n == 0)
            return FCGIC_BODY_EOF;
        chunk->ptr = buf;
        chunk->len = (size_t)n;
        return FCGIC_BODY_CHUNK;
    }
}

static int body_read(void *ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    struct run *r = ud;
    if (stream == FCGIC_TYPE_DATA)
        return r->data_fd >= 0 ? read_fd(r, r->data_fd, r->databuf, sizeof r->databuf, chunk) : FCGIC_BODY_EOF;
    if (r->lit) {
        if (r->lit_left == 0)
            return FCGIC_BODY_EOF;
        chunk->ptr = r->lit;
        chunk->len = r->lit_left;
        r->lit_left = 0;
        return FCGIC_BODY_CHUNK;
    }
    if (r->fd >= 0)
        return read_fd(r, r->fd, r->inbuf, sizeof r->inbuf, chunk);
    return FCGIC_BODY_EOF;
}

static void on_values(struct fcgic_conn *c, void *ud, const struct fcgic_param *pairs, size_t n)
{
    (void)c;
    struct run *r = ud;
    if (r->values == NULL)
        return; /* no query of ours is waiting for it */
    for (size_t i = 0; i < n; i++) {
        if (r->cli->json) {
            fputs(i ? ", " : "", r->values);
            json_string(r->values, pairs[i].name, pairs[i].name_len);
            fputs(": ", r->values);
            json_string(r->values, pairs[i].value, pairs[i].value_len);
        } else
            fprintf(r->values, "%.*s=%.*s\n", (int)pairs[i].name_len, pairs[i].name, (int)pairs[i].value_len,
                    pairs[i].value);
    }
    r->values_done = 1;
}

struct wait {
    struct run *r;
    struct fcgic_conn *c;
};

static int values_done(void *ud)
{
    struct wait *w = ud;
    enum fcgic_conn_state s = fcgic_conn_state(w->c);
    return w->r->values_done || s == FCGIC_CONN_FAILED || s == FCGIC_CONN_DONE;
}

static int request_done(void *ud)
{
    return ((struct run *)ud)->ended;
}

static uint64_t secs(double s)
{
    return s > 0 ? (uint64_t)(s * 1e9) : 0;
}

/* Remaining time of the run, 0 = no limit; sets *over when passed. */
static uint64_t remaining(const struct cli *cli, uint64_t start, int *over)
{
    if (cli->max_time <= 0)
        return 0;
    uint64_t lim = secs(cli->max_time), el = fcgic_posix_now() - start;
    if (el >= lim) {
        *over = 1;
        return 1;
    }
    return lim - el;
}

/* "message (NAME)", and the system error behind it when there is one:
 * "connection to the application failed (FCGIC_E_CONNECT): Connection refused". */
static const char *describe(int err, int sys_errno, char *buf, size_t size)
{
    snprintf(buf, size, "%s (%s)%s%s", fcgic_strerror(err), fcgic_strerror_name(err), sys_errno ? ": " : "",
             sys_errno ? strerror(sys_errno) : "");
    return buf;
}

static void msg_connect_error(const struct cli *cli, int rc, int sys_errno)
{
    char d[256];
    msg_error(cli, "backend %s: cannot connect: %s", cli->backend, describe(rc, sys_errno, d, sizeof d));
}

/* A connection of its own for GET_VALUES. */
static int open_values_conn(struct run *r, struct fcgic_posix *p, struct fcgic_conn **c)
{
    const struct cli *cli = r->cli;
    struct fcgic_conn_options co;
    memset(&co, 0, sizeof co);
    co.connect_timeout_ns = secs(cli->connect_timeout);
    struct fcgic_conn_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_values = on_values;
    if (cli->verbose)
        fprintf(stderr, "* connecting to %s\n", cli->backend);
    int rc = fcgic_posix_open(p, cli->backend, &co, &cb, r, c, fcgic_posix_now());
    if (rc != 0)
        msg_connect_error(cli, rc, fcgic_posix_last_errno(p));
    return rc;
}

static void on_event(void *ud, const struct fcgic_event *ev)
{
    const struct cli *cli = ud;
    if (!cli->verbose)
        return;
    switch (ev->kind) {
    case FCGIC_EVENT_CONNECT: fprintf(stderr, "* connecting to %s\n", cli->backend); break;
    case FCGIC_EVENT_REUSE: fprintf(stderr, "* reusing the kept connection\n"); break;
    case FCGIC_EVENT_STALE_RETRY:
        fprintf(stderr, "* the kept connection was stale (%s); running the request again on a new one\n",
                fcgic_strerror_name(ev->error));
        break;
    case FCGIC_EVENT_CLOSE:
        fprintf(stderr, "* connection closed%s%s\n", ev->error ? ": " : "",
                ev->error ? fcgic_strerror_name(ev->error) : "");
        break;
    default: break;
    }
}

/* The one-connection pool requests go through, driven by the loop. */
static int open_pool(struct run *r, struct fcgic_posix *p, struct fcgic_pool **pool)
{
    const struct cli *cli = r->cli;
    struct fcgic_transport tr;
    fcgic_posix_transport(p, &tr);
    struct fcgic_pool_options po;
    memset(&po, 0, sizeof po);
    po.target = cli->backend;
    po.enable_reuse = cli->keep_conn;
    po.max = 1;
    po.connect_timeout_ns = secs(cli->connect_timeout);
    po.replay_max = 16u << 20; /* a body read from stdin can be sent again after a stale connection */
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_head = on_head;
    cb.on_body = on_body;
    cb.on_stderr = on_stderr;
    cb.on_end = on_end;
    cb.body_read = body_read;
    cb.on_event = on_event;
    int rc = fcgic_pool_new(pool, &po, &tr, &cb, (void *)cli, NULL);
    if (rc == 0 && (rc = fcgic_posix_attach_pool(p, *pool)) != 0) {
        fcgic_pool_free(*pool);
        *pool = NULL;
    }
    return rc;
}

static int get_values(struct run *r, struct fcgic_posix *p, struct run_out *out, uint64_t start)
{
    const struct cli *cli = r->cli;
    struct fcgic_conn *c = NULL;
    char *buf = NULL;
    size_t len = 0;
    r->values = open_memstream(&buf, &len);
    if (r->values == NULL)
        return EXIT_LOCAL;
    int rc = open_values_conn(r, p, &c);
    if (rc != 0) {
        fclose(r->values);
        free(buf);
        return exit_for_error(rc);
    }
    static const char *const names[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
    rc = fcgic_conn_get_values(c, names, 3);
    int ex = EXIT_OK;
    if (rc == 0) {
        fcgic_posix_kick(p, c, fcgic_posix_now());
        struct wait w = {r, c};
        int over = 0;
        uint64_t rem = remaining(cli, start, &over);
        rc = fcgic_posix_run_until(p, values_done, &w, rem ? rem : 10 * NS);
    }
    if (rc == FCGIC_E_TIMEOUT) {
        msg_error(cli, "backend %s: no answer to GET_VALUES in time", cli->backend);
        ex = EXIT_TIMEOUT;
    } else if (rc != 0 || !r->values_done) {
        int err = rc ? rc : fcgic_conn_error(c);
        msg_error(cli, "backend %s: GET_VALUES failed: %s", cli->backend,
                  err ? fcgic_strerror(err) : "the application closed the connection without answering");
        ex = err ? exit_for_error(err) : EXIT_PROTOCOL;
    }
    fcgic_posix_close(p, c);
    fclose(r->values);
    r->values = NULL;
    if (ex == EXIT_OK && cli->json) {
        out->values = buf;
        out->values_len = len;
    } else {
        if (ex == EXIT_OK)
            fwrite(buf, 1, len, stdout);
        free(buf);
    }
    return ex;
}

static void json_close_response(struct run *r, double ms)
{
    FILE *j = r->json;
    if (r->status == 0)
        fputs(", \"status\": null, \"reason\": null, \"headers\": [], \"variables\": []", j);
    fputs(", \"stderr\": [", j);
    if (r->stderr_json) {
        fclose(r->stderr_json);
        r->stderr_json = NULL;
        fwrite(r->stderr_buf, 1, r->stderr_len, j);
        free(r->stderr_buf);
        r->stderr_buf = NULL;
    }
    fputc(']', j);
    fprintf(j, ", \"body_bytes\": %llu, \"stderr_bytes\": %llu, \"stdin_bytes\": %llu",
            (unsigned long long)r->body_bytes, (unsigned long long)r->res.stderr_bytes,
            (unsigned long long)r->res.stdin_bytes);
    if (r->res.got_end_request)
        fprintf(j, ", \"app_status\": %u, \"protocol_status\": \"%s\"", (unsigned)r->res.app_status,
                protocol_status_name(r->res.protocol_status));
    else
        fputs(", \"app_status\": null, \"protocol_status\": null", j);
    fprintf(j, ", \"got_end_request\": %s, \"time_ms\": %.3f, \"error\": ", r->res.got_end_request ? "true" : "false",
            ms);
    if (r->res.error)
        fprintf(j, "{\"name\": \"%s\", \"message\": \"%s\"}", fcgic_strerror_name(r->res.error),
                fcgic_strerror(r->res.error));
    else if (r->res.protocol_status != FCGIC_REQUEST_COMPLETE)
        fprintf(j, "{\"name\": \"PROTOCOL_STATUS\", \"message\": \"the application refused the request: %s\"}",
                protocol_status_name(r->res.protocol_status));
    else
        fputs("null", j);
    fprintf(j, ", \"retries\": %u}", r->res.retries);
}

/* One request through the pool. Returns an exit code. */
static int one_request(struct run *r, struct fcgic_posix *p, struct fcgic_pool *pool, unsigned idx, uint64_t start,
                       FILE *json_all)
{
    const struct cli *cli = r->cli;
    const struct fcgic_env *env = req_env_env(r->re);
    r->ended = 0;
    r->status = 0;
    r->suppress = 0;
    r->body_bytes = 0;
    r->stderr_lines = 0;
    r->read_failed = 0;
    memset(&r->res, 0, sizeof r->res);
    char *jbuf = NULL;
    size_t jlen = 0;
    if (json_all) {
        r->json = open_memstream(&jbuf, &jlen);
        if (r->json == NULL)
            return EXIT_LOCAL;
        fprintf(r->json, "{\"request\": %u", idx + 1);
        r->stderr_json = open_memstream(&r->stderr_buf, &r->stderr_len);
        if (r->stderr_json == NULL) {
            fclose(r->json);
            free(jbuf);
            r->json = NULL;
            return EXIT_LOCAL;
        }
    }
    /* bodies */
    r->lit = NULL;
    r->lit_left = 0;
    r->fd = req_env_body_fd(r->re);
    r->data_fd = req_env_data_fd(r->re);
    if (cli->body == CLI_BODY_LITERAL) {
        r->lit = cli->body_arg;
        r->lit_left = strlen(cli->body_arg);
    }
    if (idx > 0) {
        if (r->fd >= 0)
            req_env_body_rewind(r->re);
        if (r->data_fd >= 0)
            lseek(r->data_fd, 0, SEEK_SET);
    }
    struct fcgic_request req;
    memset(&req, 0, sizeof req);
    req.role = cli->role;
    req.params = fcgic_env_params(env);
    req.nparams = fcgic_env_count(env);
    req.stdin_mode = cli->body != CLI_BODY_NONE ? FCGIC_BODY_STREAM : FCGIC_BODY_NONE;
    req.data_mode = cli->role == FCGIC_ROLE_FILTER && r->data_fd >= 0 ? FCGIC_BODY_STREAM : FCGIC_BODY_NONE;
    int over = 0;
    req.timeouts.total = remaining(cli, start, &over);
    uint64_t t0 = fcgic_posix_now();
    if (cli->verbose)
        fprintf(stderr, "* request %u: %s %s, role %s, %zu params%s\n", idx + 1, req_env_method(r->re), cli->url,
                role_name(cli->role), req.nparams, cli->keep_conn ? ", FCGI_KEEP_CONN" : "");
    int rc = over ? FCGIC_E_TIMEOUT_TOTAL : fcgic_pool_submit(pool, &req, r, NULL, t0);
    if (rc == 0) {
        rc = fcgic_posix_run_until(p, request_done, r, req.timeouts.total ? req.timeouts.total + NS / 10
                                                                           : FCGIC_NO_DEADLINE);
        if (rc == FCGIC_E_TIMEOUT && !r->ended) {
            r->res.error = FCGIC_E_TIMEOUT_TOTAL;
            r->ended = 1;
        } else if (rc != 0 && !r->ended) {
            r->res.error = rc;
            r->ended = 1;
        }
    } else {
        r->res.error = rc;
        r->res.sys_errno = fcgic_posix_last_errno(p); /* a connect refused at once */
    }
    double ms = (double)(fcgic_posix_now() - t0) / 1e6;
    int out_errno = 0; /* a buffered write that failed only shows here */
    errno = 0;
    if (r->out && (fflush(r->out) != 0 || ferror(r->out)) && !r->write_failed)
        out_errno = errno ? errno : EIO;

    int ex = EXIT_OK;
    const struct fcgic_result *res = &r->res;
    if (cli->verbose && res->got_end_request)
        fprintf(stderr, "* END_REQUEST appStatus %u, protocolStatus %s; stdout %llu, stderr %llu, stdin %llu bytes\n",
                (unsigned)res->app_status, protocol_status_name(res->protocol_status),
                (unsigned long long)res->stdout_bytes, (unsigned long long)res->stderr_bytes,
                (unsigned long long)res->stdin_bytes);
    if (res->error) {
        char d[256];
        describe(res->error, res->sys_errno, d, sizeof d);
        if (res->error == FCGIC_E_CALLBACK && r->write_failed)
            msg_error(cli, "backend %s: cannot write the response body%s%s: %s", cli->backend,
                      cli->output ? " to " : "", cli->output ? cli->output : "", strerror(r->write_failed));
        else if (res->error == FCGIC_E_BODY_SOURCE && r->read_failed)
            msg_error(cli, "backend %s: cannot read the request body: %s", cli->backend, strerror(r->read_failed));
        else if (res->error == FCGIC_E_CONNECT || res->error == FCGIC_E_RESOLVE || res->error == FCGIC_E_SOCKET)
            msg_error(cli, "backend %s: cannot connect: %s", cli->backend, d);
        else if (exit_for_error(res->error) == EXIT_TIMEOUT)
            msg_error(cli, "backend %s: timed out: %s", cli->backend, d);
        else
            msg_error(cli, "backend %s: request failed: %s", cli->backend, d);
        ex = exit_for_error(res->error);
        if (res->error == FCGIC_E_CALLBACK && !r->write_failed)
            ex = EXIT_LOCAL;
    } else if (res->protocol_status != FCGIC_REQUEST_COMPLETE) {
        msg_error(cli, "backend %s: the application refused the request: protocolStatus %s", cli->backend,
                  protocol_status_name(res->protocol_status));
        ex = EXIT_PROTOCOL;
    } else if (res->app_status != 0) {
        msg_error(cli, "backend %s: the application ended with appStatus %u", cli->backend,
                  (unsigned)res->app_status);
        ex = EXIT_APP_STATUS;
    } else if (cli->fail && r->status >= 400) {
        msg_error(cli, "backend %s: HTTP status %d (--fail)", cli->backend, r->status);
        ex = EXIT_HTTP_FAIL;
    }
    if (out_errno && ex == EXIT_OK) {
        msg_error(cli, "backend %s: cannot write the response body to %s: %s", cli->backend,
                  cli->output ? cli->output : "standard output", strerror(out_errno));
        ex = EXIT_LOCAL;
    }
    if (cli->verbose && res->retries)
        fprintf(stderr, "* the request was run %u more time%s\n", res->retries, res->retries > 1 ? "s" : "");
    if (r->capture) {
        r->capture->error = res->error;
        r->capture->got_end = res->got_end_request;
        r->capture->app_status = res->app_status;
        r->capture->protocol_status = res->protocol_status;
        r->capture->time_ms = ms;
    }
    if (r->json) {
        json_close_response(r, ms);
        fclose(r->json);
        r->json = NULL;
        fwrite(jbuf, 1, jlen, json_all);
        free(jbuf);
    }
    return ex;
}

static int run_all(struct run *r, struct run_out *out)
{
    const struct cli *cli = r->cli;
    uint64_t start = fcgic_posix_now();
    struct fcgic_posix *p = NULL;
    if (fcgic_posix_new(&p, NULL, NULL) != 0)
        return EXIT_LOCAL;
    int ex = EXIT_OK;
    if (out && cli->get_values)
        ex = get_values(r, p, out, start);
    if (ex == EXIT_OK && cli->url && !(out && cli->get_values && cli->url == NULL)) {
        char *jbuf = NULL;
        size_t jlen = 0;
        FILE *jall = NULL;
        if (out && cli->json && (jall = open_memstream(&jbuf, &jlen)) == NULL) {
            fcgic_posix_free(p);
            return EXIT_LOCAL;
        }
        struct fcgic_pool *pool = NULL;
        int rc = open_pool(r, p, &pool);
        if (rc != 0) {
            msg_error(cli, "backend %s: %s (%s)", cli->backend, fcgic_strerror(rc), fcgic_strerror_name(rc));
            ex = exit_for_error(rc);
        }
        for (unsigned i = 0; pool && i < cli->repeat && ex == EXIT_OK; i++) {
            if (jall && i)
                fputs(",\n    ", jall);
            ex = one_request(r, p, pool, i, start, jall);
            if (out)
                out->n_responses++;
        }
        if (pool) {
            fcgic_posix_detach_pool(p, pool);
            fcgic_pool_free(pool);
        }
        if (jall) {
            fclose(jall);
            out->responses = jbuf;
            out->responses_len = jlen;
        }
    }
    fcgic_posix_free(p);
    return ex;
}

int run_requests(const struct cli *cli, struct req_env *re, struct run_out *out)
{
    memset(out, 0, sizeof *out);
    struct run *r = calloc(1, sizeof *r);
    if (r == NULL)
        return EXIT_LOCAL;
    r->cli = cli;
    r->re = re;
    r->fd = r->data_fd = -1;
    r->out = stdout;
    FILE *of = NULL;
    if (cli->output && cli->url) {
        of = fopen(cli->output, "wb");
        if (of == NULL) {
            msg_error(cli, "backend %s: cannot open the output file \"%s\": %s", cli->backend, cli->output,
                      strerror(errno));
            free(r);
            return EXIT_LOCAL;
        }
        r->out = of;
    } else if (cli->json)
        r->out = NULL; /* stdout carries the JSON document only */
    int ex = run_all(r, out);
    if (of) {
        int bad = ferror(of);
        errno = EIO;
        if ((fclose(of) != 0 || bad) && ex == EXIT_OK) {
            msg_error(cli, "backend %s: cannot write the output file \"%s\": %s", cli->backend, cli->output,
                      strerror(errno));
            ex = EXIT_LOCAL;
        }
    }
    free(r);
    return ex;
}

void run_out_free(struct run_out *out)
{
    free(out->responses);
    free(out->values);
}

int run_simple(const struct cli *cli, struct req_env *re, struct simple_response *out)
{
    memset(out, 0, sizeof *out);
    struct run *r = calloc(1, sizeof *r);
    if (r == NULL)
        return EXIT_LOCAL;
    r->cli = cli;
    r->re = re;
    r->fd = r->data_fd = -1;
    r->capture = out;
    int ex = run_all(r, NULL);
    free(r);
    return ex;
}

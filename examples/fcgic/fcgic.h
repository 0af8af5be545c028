/* fcgic: "curl for FastCGI applications", built on the public API of
 * libfcgiclient only. Declarations shared by the files of the tool:
 *   options.c  command line -> struct cli
 *   environ.c  URL parsing, CGI environment (env builder + ProxyFCGISetEnvIf)
 *   run.c      requests over the POSIX event loop, body streaming, GET_VALUES
 *   output.c   explain (text / JSON), response printing, messages
 *   health.c   PHP-FPM ping and status checks
 *   main.c     glue
 */
#ifndef FCGIC_TOOL_H
#define FCGIC_TOOL_H

#include <fcgiclient/fcgiclient.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes: stable, documented in --help and fcgic(1). */
enum cli_exit {
    EXIT_OK = 0,          /* success / healthy */
    EXIT_LOCAL = 1,       /* local failure: file I/O, out of memory */
    EXIT_USAGE = 2,       /* bad option, URL, backend, header or rule */
    EXIT_ENV = 3,         /* the mapping gives no environment for this URL */
    EXIT_CONNECT = 4,     /* cannot connect (refused, unresolvable, socket) */
    EXIT_TIMEOUT = 5,     /* connect timeout, --max-time, application timeout */
    EXIT_PROTOCOL = 6,    /* FastCGI / CGI protocol error, protocolStatus != 0 */
    EXIT_APP_STATUS = 7,  /* END_REQUEST with a non-zero appStatus */
    EXIT_HTTP_FAIL = 8,   /* --fail and HTTP status >= 400 */
    EXIT_UNHEALTHY = 9    /* health check answered, but not healthy */
};

/* A NAME=VALUE pair owned by argv (or by a small allocation in struct cli). */
struct cli_pair {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct cli_rule { /* one --setenvif COND ASSIGNMENT */
    const char *cond;
    const char *assign;
};

enum cli_body { CLI_BODY_NONE = 0, CLI_BODY_LITERAL, CLI_BODY_FILE, CLI_BODY_STDIN };
enum cli_health { CLI_HEALTH_NONE = 0, CLI_HEALTH_PING, CLI_HEALTH_STATUS };

struct cli {
    const char *backend;
    const char *url;

    /* request */
    const char *method; /* -X */
    struct cli_pair *headers;
    size_t n_headers;
    enum cli_body body;
    const char *body_arg; /* literal data, or file name */
    const char *data_file; /* FILTER DATA stream */
    enum fcgic_role role;
    unsigned repeat;
    int keep_conn;
    int http10; /* -0: SERVER_PROTOCOL HTTP/1.0 */
    int get_values;
    double max_time, connect_timeout; /* seconds, 0 = none */

    /* environment */
    enum fcgic_env_map_kind map_kind;
    const char *match;        /* prefix / regex / handler base-name regex */
    int map_given;
    const char *pathinfo;     /* --pathinfo value, NULL = not given */
    enum fcgic_env_backend backend_type;
    enum fcgic_env_encoded_slashes encoded_slashes;
    unsigned map_flags;
    const char *document_root, *server_name, *server_admin, *server_software,
        *server_signature, *path_env, *context_prefix, *context_document_root;
    unsigned server_port;
    const char *remote_addr, *server_addr, *remote_user, *auth_type;
    unsigned remote_port;
    int https; /* -1 from the URL, 0/1 forced */
    const char **dir_index;
    size_t n_dir_index;
    struct cli_pair *setenv;
    size_t n_setenv;
    struct cli_rule *rules;
    size_t n_rules;
    struct cli_pair *params; /* --param; value NULL = --unset-param */
    size_t n_params;
    int raw_params; /* send only --param */
    int absolute_form; /* request target in absolute form */

    /* output */
    int explain, dry_run, json, include, verbose, silent, show_error, fail;
    const char *output;

    enum cli_health health;
};

/* options.c */
/* Parse argv. Returns EXIT_OK, EXIT_USAGE (message printed) or -1 when
 * --help / --version was printed (exit 0). */
int cli_parse(struct cli *cli, int argc, char **argv);
void cli_free(struct cli *cli);
void cli_usage(FILE *f);

/* environ.c */
struct req_env; /* the built environment and what it was built from */
int req_env_new(struct req_env **out, const struct cli *cli, const char **errmsg_detail);
/* Build (or rebuild) the params. Returns EXIT_OK, EXIT_USAGE, EXIT_ENV or
 * EXIT_LOCAL; prints its own error message naming the backend. */
int req_env_build(struct req_env *re, const struct cli *cli);
void req_env_free(struct req_env *re);
const struct fcgic_env *req_env_env(const struct req_env *re);
const char *req_env_method(const struct req_env *re);
/* The byte count of a known-length body (for CONTENT_LENGTH), -1 if none. */
long long req_env_body_length(const struct req_env *re);
int req_env_body_fd(const struct req_env *re); /* -1 unless a file/stdin body */
/* Seek the body back to where it started (--repeat). 0, or -1 with errno. */
int req_env_body_rewind(const struct req_env *re);


/* output.c */
void msg_error(const struct cli *cli, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
const char *msg_last(void); /* the last error message, "" if none */
void json_string(FILE *f, const char *s, size_t len);
void explain_text(FILE *f, const struct fcgic_env *env);
void explain_json_params(FILE *f, const struct fcgic_env *env);

/* run.c */
struct run_out {
    char *responses; /* JSON objects of the responses, comma separated */
    size_t responses_len;
    size_t n_responses;
    char *values; /* JSON object of GET_VALUES_RESULT, NULL if not asked */
    size_t values_len;
};
/* Run --get-values and the request(s). Returns an exit code. */
int run_requests(const struct cli *cli, struct req_env *re, struct run_out *out);
void run_out_free(struct run_out *out);
/* One request whose body is kept in memory (health checks). */
struct simple_response {
    int error; /* 0 or a negative fcgic error */
    int status; /* 0 when no header block arrived */
    int got_end;
    uint32_t app_status;
    int protocol_status;
    char body[8192];
    size_t body_len;
    double time_ms;
};
int run_simple(const struct cli *cli, struct req_env *re, struct simple_response *out);
int exit_for_error(int err);
const char *protocol_status_name(int ps);
const char *role_name(enum fcgic_role r);

/* environ.c, FILTER role */
int req_env_data_fd(const struct req_env *re);

/* health.c */
int health_check(const struct cli *cli);

#endif

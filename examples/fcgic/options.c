/* fcgic: command-line parsing. Every mistake is a usage error (exit 2) with
 * a message saying which option and why; nothing here can crash on input. */
#include "fcgic.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cli_usage(FILE *f)
{
    fputs(
        "Usage: fcgic [options] BACKEND URL\n"
        "       fcgic --fpm-ping|--fpm-status [options] BACKEND [URL]\n"
        "       fcgic --get-values [options] BACKEND\n"
        "\n"
        "Send one HTTP-like request to a FastCGI application, with the CGI environment\n"
        "Apache httpd's mod_proxy_fcgi would build, and print the response.\n"
        "BACKEND: fcgi://host:port[/path] | fcgi://[::1]:port[/path] |\n"
        "         unix:/path.sock[|fcgi://host/path]   (as in ProxyPass; may hold $1..$9)\n"
        "URL:     http[s]://host[:port]/path[?query]  (Host and HTTPS are taken from it)\n"
        "\n"
        "Request (curl-like):\n"
        "  -X, --request METHOD       method (default GET, POST with -d)\n"
        "  -H, --header 'Name: value' request header, repeatable, order kept;\n"
        "                             'Name:' drops a default header, 'Name;' sends it empty\n"
        "  -d, --data DATA|@FILE|@-   request body (bytes as given; @- streams stdin)\n"
        "      --data-binary ...      same as --data\n"
        "      --role ROLE            responder (default), authorizer, filter\n"
        "      --data-file FILE       FILTER role: the FCGI_DATA stream\n"
        "  -0, --http1.0              SERVER_PROTOCOL HTTP/1.0 (the Host header may be dropped)\n"
        "      --keep-conn            set FCGI_KEEP_CONN\n"
        "      --repeat N             send the request N times over one connection\n"
        "      --get-values           ask FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS\n"
        "      --connect-timeout SEC  limit for connecting\n"
        "      --max-time SEC         limit for the whole run\n"
        "\n"
        "Environment (mirrors the Apache directives):\n"
        "      --proxy-pass PREFIX    ProxyPass PREFIX BACKEND (default: /)\n"
        "      --proxy-pass-match RE  ProxyPassMatch RE BACKEND ($1..$9 in BACKEND)\n"
        "      --set-handler          SetHandler proxy:BACKEND on files of --document-root\n"
        "      --files-match RE       <FilesMatch RE> around --set-handler\n"
        "      --directory-index NAME DirectoryIndex (repeatable)\n"
        "      --require-file         <If \"-f %{REQUEST_FILENAME}\"> around --set-handler\n"
        "      --pathinfo STRATEGY    proxy-fcgi-pathinfo: first-dot, last-dot, full,\n"
        "                             unescape, or any other value (whole path)\n"
        "      --backend-type T       ProxyFCGIBackendType FPM (default) or GENERIC\n"
        "      --setenv NAME=VALUE    SetEnv (repeatable)\n"
        "      --setenvif COND NAME[=VALUE] | COND !NAME\n"
        "                             ProxyFCGISetEnvIf, applied in order\n"
        "      --cgi-pass-auth        CGIPassAuth On\n"
        "      --allow-encoded-slashes off|on|nodecode\n"
        "      --allow-path-ctl       accept decoded CR/LF in SCRIPT_NAME / PATH_INFO\n"
        "      --document-root DIR    DocumentRoot\n"
        "      --server-name NAME[:PORT], --server-admin EMAIL, --server-software TEXT,\n"
        "      --server-signature TEXT, --path-env VALUE (PATH param),\n"
        "      --context-prefix P, --context-document-root DIR,\n"
        "      --remote-addr ADDR, --remote-port N, --server-addr ADDR,\n"
        "      --remote-user USER, --auth-type TYPE, --https\n"
        "      --param NAME=VALUE     add or replace a param after everything else\n"
        "      --unset-param NAME     remove a param\n"
        "      --raw-params           send only the --param params (the cgi-fcgi way)\n"
        "      --absolute-form        request target as a proxy receives it (http://host/path)\n"
        "\n"
        "Output:\n"
        "  -i, --include              print the status line and response headers\n"
        "  -o, --output FILE          write the body to FILE\n"
        "  -s, --silent               no error messages (-S/--show-error keeps them)\n"
        "  -v, --verbose              trace params, headers and END_REQUEST on stderr\n"
        "  -f, --fail                 exit 8 when the HTTP status is >= 400\n"
        "      --explain              list every param and the rule that produced it\n"
        "      --dry-run              build and explain, do not connect\n"
        "      --json                 machine-readable output (schema in fcgic(1))\n"
        "\n"
        "Health checks (one line of output, exit 0 when healthy):\n"
        "      --fpm-ping             GET URL (default /ping), healthy on 200 \"pong\"\n"
        "      --fpm-status           GET URL (default /status?json), healthy on 200\n"
        "      --json                 with a check: one JSON object instead of the line\n"
        "                             (check, backend, healthy, exit_code, status, time_ms,\n"
        "                             detail, error, pool; schema in fcgic(1))\n"
        "\n"
        "  -h, --help, -V, --version\n"
        "\n"
        "Exit status: 0 success or healthy; 1 local failure (file, memory);\n"
        "  2 usage error; 3 no environment for this URL (mapping does not apply,\n"
        "  bad path); 4 cannot connect; 5 timeout; 6 protocol error or\n"
        "  protocolStatus other than REQUEST_COMPLETE; 7 non-zero appStatus;\n"
        "  8 HTTP status >= 400 with --fail; 9 health check answered unhealthy.\n",
        f);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int usage_err(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    msg_error(NULL, "%s (see fcgic --help)", buf);
    return EXIT_USAGE;
}

static int grow(void **arr, size_t *n, size_t elem)
{
    void *p = realloc(*arr, (*n + 1) * elem);
    if (p == NULL)
        return -1;
    *arr = p;
    memset((char *)p + *n * elem, 0, elem);
    (*n)++;
    return 0;
}

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int add_header(struct cli *cli, const char *h)
{
    size_t nl = 0;
    while (is_tchar((unsigned char)h[nl]))
        nl++;
    if (nl == 0 || (h[nl] != ':' && h[nl] != ';'))
        return usage_err("invalid header \"%s\": expected \"Name: value\"", h);
    const char *v = h + nl + 1;
    int semi = h[nl] == ';';
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vl = strlen(v);
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    for (size_t i = 0; i < vl; i++)
        if (v[i] == '\r' || v[i] == '\n')
            return usage_err("invalid header \"%s\": CR or LF in the value", h);
    if (semi && vl != 0)
        return usage_err("invalid header \"%s\": \"Name;\" takes no value", h);
    if (grow((void **)&cli->headers, &cli->n_headers, sizeof *cli->headers) != 0)
        return EXIT_LOCAL;
    struct cli_pair *p = &cli->headers[cli->n_headers - 1];
    p->name = h;
    p->name_len = nl;
    /* "Name:" with nothing after it drops a header fcgic would add */
    p->value = (!semi && vl == 0) ? NULL : v;
    p->value_len = vl;
    return EXIT_OK;
}

static int add_pair(struct cli_pair **arr, size_t *n, const char *s, const char *opt, int need_eq)
{
    const char *eq = strchr(s, '=');
    if (need_eq && (eq == NULL || eq == s))
        return usage_err("%s needs NAME=VALUE, got \"%s\"", opt, s);
    if (!need_eq && *s == '\0')
        return usage_err("%s needs a NAME", opt);
    for (const char *c = s; c < (eq ? eq : s + strlen(s)); c++)
        if (*c == '\r' || *c == '\n')
            return usage_err("%s: control character in the name \"%s\"", opt, s);
    if (grow((void **)arr, n, sizeof **arr) != 0)
        return EXIT_LOCAL;
    struct cli_pair *p = &(*arr)[*n - 1];
    p->name = s;
    p->name_len = eq ? (size_t)(eq - s) : strlen(s);
    p->value = eq ? eq + 1 : NULL;
    p->value_len = eq ? strlen(eq + 1) : 0;
    return EXIT_OK;
}

static int parse_seconds(const char *s, const char *opt, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(d) || d <= 0 || d > 1e6)
        return usage_err("%s needs a number of seconds > 0, got \"%s\"", opt, s);
    *out = d;
    return EXIT_OK;
}

static int parse_uint(const char *s, const char *opt, unsigned long max, unsigned *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return usage_err("%s needs a number, got \"%s\"", opt, s);
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0' || errno != 0 || v > max)
        return usage_err("%s: \"%s\" is not a number in range", opt, s);
    *out = (unsigned)v;
    return EXIT_OK;
}

/* Option table: name, short letter, takes an argument, id. */
enum opt_id {
    O_REQUEST, O_HEADER, O_DATA, O_INCLUDE, O_OUTPUT, O_SILENT, O_SHOW_ERROR, O_VERBOSE, O_FAIL,
    O_MAX_TIME, O_CONNECT_TIMEOUT, O_EXPLAIN, O_DRY_RUN, O_JSON, O_PROXY_PASS, O_PROXY_PASS_MATCH,
    O_SET_HANDLER, O_FILES_MATCH, O_DIRECTORY_INDEX, O_REQUIRE_FILE, O_PATHINFO, O_BACKEND_TYPE,
    O_SETENV, O_SETENVIF, O_CGI_PASS_AUTH, O_ENCODED_SLASHES, O_ALLOW_PATH_CTL, O_DOCUMENT_ROOT,
    O_SERVER_NAME, O_SERVER_ADMIN, O_SERVER_SOFTWARE, O_SERVER_SIGNATURE, O_PATH_ENV,
    O_CONTEXT_PREFIX, O_CONTEXT_DOCUMENT_ROOT, O_REMOTE_ADDR, O_REMOTE_PORT, O_SERVER_ADDR,
    O_REMOTE_USER, O_AUTH_TYPE, O_HTTPS, O_PARAM, O_UNSET_PARAM, O_RAW_PARAMS, O_ROLE,
    O_DATA_FILE, O_KEEP_CONN, O_REPEAT, O_GET_VALUES, O_FPM_PING, O_FPM_STATUS, O_HELP, O_VERSION, O_ABSOLUTE_FORM,
    O_HTTP10
};

struct opt {
    const char *name;
    char short_name;
    int has_arg;
    enum opt_id id;
};

static const struct opt opts[] = {
    {"request", 'X', 1, O_REQUEST}, {"header", 'H', 1, O_HEADER}, {"data", 'd', 1, O_DATA},
    {"data-binary", 0, 1, O_DATA}, {"include", 'i', 0, O_INCLUDE}, {"output", 'o', 1, O_OUTPUT},
    {"silent", 's', 0, O_SILENT}, {"show-error", 'S', 0, O_SHOW_ERROR}, {"verbose", 'v', 0, O_VERBOSE},
    {"fail", 'f', 0, O_FAIL}, {"max-time", 'm', 1, O_MAX_TIME},
    {"connect-timeout", 0, 1, O_CONNECT_TIMEOUT}, {"explain", 0, 0, O_EXPLAIN},
    {"dry-run", 0, 0, O_DRY_RUN}, {"json", 0, 0, O_JSON}, {"proxy-pass", 0, 1, O_PROXY_PASS},
    {"proxy-pass-match", 0, 1, O_PROXY_PASS_MATCH}, {"set-handler", 0, 0, O_SET_HANDLER},
    {"files-match", 0, 1, O_FILES_MATCH}, {"directory-index", 0, 1, O_DIRECTORY_INDEX},
    {"require-file", 0, 0, O_REQUIRE_FILE}, {"pathinfo", 0, 1, O_PATHINFO},
    {"backend-type", 0, 1, O_BACKEND_TYPE}, {"setenv", 0, 1, O_SETENV},
    {"setenvif", 0, 2, O_SETENVIF}, {"cgi-pass-auth", 0, 0, O_CGI_PASS_AUTH},
    {"allow-encoded-slashes", 0, 1, O_ENCODED_SLASHES}, {"allow-path-ctl", 0, 0, O_ALLOW_PATH_CTL},
    {"document-root", 0, 1, O_DOCUMENT_ROOT}, {"server-name", 0, 1, O_SERVER_NAME},
    {"server-admin", 0, 1, O_SERVER_ADMIN}, {"server-software", 0, 1, O_SERVER_SOFTWARE},
    {"server-signature", 0, 1, O_SERVER_SIGNATURE}, {"path-env", 0, 1, O_PATH_ENV},
    {"context-prefix", 0, 1, O_CONTEXT_PREFIX}, {"context-document-root", 0, 1, O_CONTEXT_DOCUMENT_ROOT},
    {"remote-addr", 0, 1, O_REMOTE_ADDR}, {"remote-port", 0, 1, O_REMOTE_PORT},
    {"server-addr", 0, 1, O_SERVER_ADDR}, {"remote-user", 0, 1, O_REMOTE_USER},
    {"auth-type", 0, 1, O_AUTH_TYPE}, {"https", 0, 0, O_HTTPS}, {"param", 0, 1, O_PARAM},
    {"unset-param", 0, 1, O_UNSET_PARAM}, {"raw-params", 0, 0, O_RAW_PARAMS}, {"role", 0, 1, O_ROLE},
    {"data-file", 0, 1, O_DATA_FILE}, {"keep-conn", 0, 0, O_KEEP_CONN}, {"repeat", 0, 1, O_REPEAT},
    {"get-values", 0, 0, O_GET_VALUES}, {"fpm-ping", 0, 0, O_FPM_PING},
    {"fpm-status", 0, 0, O_FPM_STATUS}, {"absolute-form", 0, 0, O_ABSOLUTE_FORM}, {"http1.0", '0', 0, O_HTTP10}, {"help", 'h', 0, O_HELP}, {"version", 'V', 0, O_VERSION},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static int set_map(struct cli *cli, enum fcgic_env_map_kind k, const char *match, const char *opt)
{
    if (cli->map_given && cli->map_kind != k)
        return usage_err("%s: only one of --proxy-pass, --proxy-pass-match, --set-handler", opt);
    cli->map_given = 1;
    cli->map_kind = k;
    if (match)
        cli->match = match;
    return EXIT_OK;
}

static int apply(struct cli *cli, const struct opt *o, const char *arg, const char *arg2)
{
    char name[40];
    snprintf(name, sizeof name, "--%s", o->name);
    switch (o->id) {
    case O_REQUEST:
        if (*arg == '\0' || strpbrk(arg, " \t\r\n") != NULL)
            return usage_err("invalid method \"%s\"", arg);
        cli->method = arg;
        break;
    case O_HEADER: return add_header(cli, arg);
    case O_DATA:
        if (cli->body != CLI_BODY_NONE)
            return usage_err("%s given twice: fcgic sends one body", name);
        if (strcmp(arg, "@-") == 0)
            cli->body = CLI_BODY_STDIN;
        else if (arg[0] == '@') {
            if (arg[1] == '\0')
                return usage_err("%s @FILE needs a file name", name);
            cli->body = CLI_BODY_FILE;
            arg++;
        } else
            cli->body = CLI_BODY_LITERAL;
        cli->body_arg = arg;
        break;
    case O_INCLUDE: cli->include = 1; break;
    case O_OUTPUT: cli->output = arg; break;
    case O_SILENT: cli->silent = 1; break;
    case O_SHOW_ERROR: cli->show_error = 1; break;
    case O_VERBOSE: cli->verbose = 1; break;
    case O_FAIL: cli->fail = 1; break;
    case O_MAX_TIME: return parse_seconds(arg, name, &cli->max_time);
    case O_CONNECT_TIMEOUT: return parse_seconds(arg, name, &cli->connect_timeout);
    case O_EXPLAIN: cli->explain = 1; break;
    case O_DRY_RUN: cli->dry_run = 1; break;
    case O_JSON: cli->json = 1; break;
    case O_PROXY_PASS:
        if (arg[0] != '/')
            return usage_err("%s: the prefix must start with '/', got \"%s\"", name, arg);
        return set_map(cli, FCGIC_ENV_MAP_PREFIX, arg, name);
    case O_PROXY_PASS_MATCH: return set_map(cli, FCGIC_ENV_MAP_REGEX, arg, name);
    case O_SET_HANDLER: return set_map(cli, FCGIC_ENV_MAP_HANDLER, NULL, name);
    case O_FILES_MATCH:
        if (set_map(cli, FCGIC_ENV_MAP_HANDLER, arg, name) != EXIT_OK)
            return EXIT_USAGE;
        break;
    case O_DIRECTORY_INDEX:
        if (grow((void **)&cli->dir_index, &cli->n_dir_index, sizeof *cli->dir_index) != 0)
            return EXIT_LOCAL;
        cli->dir_index[cli->n_dir_index - 1] = arg;
        break;
    case O_REQUIRE_FILE: cli->map_flags |= FCGIC_ENV_REQUIRE_FILE; break;
    case O_PATHINFO: cli->pathinfo = arg; break;
    case O_BACKEND_TYPE:
        if (strcasecmp(arg, "fpm") == 0)
            cli->backend_type = FCGIC_ENV_BACKEND_FPM;
        else if (strcasecmp(arg, "generic") == 0)
            cli->backend_type = FCGIC_ENV_BACKEND_GENERIC;
        else
            return usage_err("%s takes FPM or GENERIC, got \"%s\"", name, arg);
        break;
    case O_SETENV: return add_pair(&cli->setenv, &cli->n_setenv, arg, name, 1);
    case O_SETENVIF:
        if (grow((void **)&cli->rules, &cli->n_rules, sizeof *cli->rules) != 0)
            return EXIT_LOCAL;
        cli->rules[cli->n_rules - 1].cond = arg;
        cli->rules[cli->n_rules - 1].assign = arg2;
        break;
    case O_CGI_PASS_AUTH: cli->map_flags |= FCGIC_ENV_PASS_AUTH; break;
    case O_ENCODED_SLASHES:
        if (strcasecmp(arg, "off") == 0)
            cli->encoded_slashes = FCGIC_ENV_SLASHES_REJECT;
        else if (strcasecmp(arg, "on") == 0)
            cli->encoded_slashes = FCGIC_ENV_SLASHES_DECODE;
        else if (strcasecmp(arg, "nodecode") == 0)
            cli->encoded_slashes = FCGIC_ENV_SLASHES_NODECODE;
        else
            return usage_err("%s takes off, on or nodecode, got \"%s\"", name, arg);
        break;
    case O_ALLOW_PATH_CTL: cli->map_flags |= FCGIC_ENV_ALLOW_PATH_CTL; break;
    case O_DOCUMENT_ROOT:
        if (arg[0] != '/')
            return usage_err("%s must be an absolute path, got \"%s\"", name, arg);
        cli->document_root = arg;
        break;
    case O_SERVER_NAME: {
        const char *colon = strrchr(arg, ':');
        if (colon && strchr(colon, ']') == NULL) {
            unsigned port = 0;
            if (parse_uint(colon + 1, name, 65535, &port) != EXIT_OK)
                return EXIT_USAGE;
            if (port == 0)
                return usage_err("%s: port 0 in \"%s\"", name, arg);
            cli->server_port = port;
            static char buf[256]; /* argv lives as long; so does this single slot */
            size_t l = (size_t)(colon - arg);
            if (l >= sizeof buf)
                return usage_err("%s: name too long", name);
            memcpy(buf, arg, l);
            buf[l] = '\0';
            cli->server_name = buf;
        } else
            cli->server_name = arg;
        if (*cli->server_name == '\0')
            return usage_err("%s needs a name", name);
        break;
    }
    case O_SERVER_ADMIN: cli->server_admin = arg; break;
    case O_SERVER_SOFTWARE: cli->server_software = arg; break;
    case O_SERVER_SIGNATURE: cli->server_signature = arg; break;
    case O_PATH_ENV: cli->path_env = arg; break;
    case O_CONTEXT_PREFIX: cli->context_prefix = arg; break;
    case O_CONTEXT_DOCUMENT_ROOT: cli->context_document_root = arg; break;
    case O_REMOTE_ADDR: cli->remote_addr = arg; break;
    case O_REMOTE_PORT: return parse_uint(arg, name, 65535, &cli->remote_port);
    case O_SERVER_ADDR: cli->server_addr = arg; break;
    case O_REMOTE_USER: cli->remote_user = arg; break;
    case O_AUTH_TYPE: cli->auth_type = arg; break;
    case O_HTTPS: cli->https = 1; break;
    case O_PARAM: return add_pair(&cli->params, &cli->n_params, arg, name, 1);
    case O_UNSET_PARAM:
        if (strchr(arg, '=') != NULL)
            return usage_err("%s takes a NAME, got \"%s\"", name, arg);
        return add_pair(&cli->params, &cli->n_params, arg, name, 0);
    case O_RAW_PARAMS: cli->raw_params = 1; break;
    case O_ROLE:
        if (strcasecmp(arg, "responder") == 0)
            cli->role = FCGIC_ROLE_RESPONDER;
        else if (strcasecmp(arg, "authorizer") == 0)
            cli->role = FCGIC_ROLE_AUTHORIZER;
        else if (strcasecmp(arg, "filter") == 0)
            cli->role = FCGIC_ROLE_FILTER;
        else
            return usage_err("%s takes responder, authorizer or filter, got \"%s\"", name, arg);
        break;
    case O_DATA_FILE: cli->data_file = arg; break;
    case O_KEEP_CONN: cli->keep_conn = 1; break;
    case O_HTTP10: cli->http10 = 1; break;
    case O_REPEAT: {
        if (parse_uint(arg, name, 65535, &cli->repeat) != EXIT_OK)
            return EXIT_USAGE;
        if (cli->repeat == 0)
            return usage_err("%s needs at least 1", name);
        break;
    }
    case O_GET_VALUES: cli->get_values = 1; break;
    case O_FPM_PING: cli->health = CLI_HEALTH_PING; break;
    case O_FPM_STATUS: cli->health = CLI_HEALTH_STATUS; break;
    case O_ABSOLUTE_FORM: cli->absolute_form = 1; break;
    case O_HELP: cli_usage(stdout); return -1;
    case O_VERSION: {
        const char *v = NULL;
        fcgic_version(&v);
        printf("fcgic (libfcgiclient %s)\n", v ? v : FCGIC_VERSION_STRING);
        return -1;
    }
    }
    return EXIT_OK;
}

int cli_parse(struct cli *cli, int argc, char **argv)
{
    memset(cli, 0, sizeof *cli);
    cli->role = FCGIC_ROLE_RESPONDER;
    cli->repeat = 1;
    cli->https = -1;
    const char *pos[2];
    size_t npos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (npos == 2)
                return usage_err("unexpected argument \"%s\": BACKEND and URL already given", a);
            pos[npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (a[1] == '-') {
            const char *nm = a + 2, *eq = strchr(nm, '=');
            size_t nl = eq ? (size_t)(eq - nm) : strlen(nm);
            const struct opt *o = NULL;
            for (size_t k = 0; k < N_OPTS; k++)
                if (strlen(opts[k].name) == nl && strncmp(opts[k].name, nm, nl) == 0)
                    o = &opts[k];
            if (o == NULL)
                return usage_err("unknown option \"%s\"", a);
            const char *arg = NULL, *arg2 = NULL;
            if (o->has_arg) {
                if (eq)
                    arg = eq + 1;
                else if (i + 1 < argc)
                    arg = argv[++i];
                else
                    return usage_err("option \"%s\" needs an argument", a);
                if (o->has_arg == 2) {
                    if (i + 1 >= argc)
                        return usage_err("option \"%s\" needs two arguments: CONDITION and NAME[=VALUE]", a);
                    arg2 = argv[++i];
                }
            } else if (eq)
                return usage_err("option \"--%s\" takes no argument", o->name);
            int rc = apply(cli, o, arg, arg2);
            if (rc != EXIT_OK)
                return rc;
            continue;
        }
        /* short options, flags may be grouped: -si, -XPOST, -H 'a: b' */
        for (const char *s = a + 1; *s; s++) {
            const struct opt *o = NULL;
            for (size_t k = 0; k < N_OPTS; k++)
                if (opts[k].short_name == *s)
                    o = &opts[k];
            if (o == NULL) {
                char bad[3] = {'-', *s, 0};
                return usage_err("unknown option \"%s\"", bad);
            }
            const char *arg = NULL;
            if (o->has_arg) {
                if (s[1] != '\0')
                    arg = s + 1;
                else if (i + 1 < argc)
                    arg = argv[++i];
                else
                    return usage_err("option \"%s\" needs an argument", a);
            }
            int rc = apply(cli, o, arg, NULL);
            if (rc != EXIT_OK)
                return rc;
            if (o->has_arg)
                break;
        }
    }
    if (npos == 0)
        return usage_err("missing BACKEND");
    cli->backend = pos[0];
    cli->url = npos > 1 ? pos[1] : NULL;
    if (cli->url == NULL) {
        if (cli->health == CLI_HEALTH_PING)
            cli->url = "http://localhost/ping";
        else if (cli->health == CLI_HEALTH_STATUS)
            cli->url = "http://localhost/status?json";
        else if (!cli->get_values)
            return usage_err("missing URL after BACKEND \"%s\"", cli->backend);
    }
    if (cli->dry_run)
        cli->explain = 1;
    if (cli->repeat > 1)
        cli->keep_conn = 1;
    if (cli->data_file && cli->role != FCGIC_ROLE_FILTER)
        return usage_err("--data-file is for --role filter");
    if (cli->map_kind == FCGIC_ENV_MAP_HANDLER && cli->document_root == NULL)
        return usage_err("--set-handler needs --document-root");
    if (!cli->map_given)
        cli->match = "/";
    if (cli->silent && !cli->show_error && cli->verbose)
        cli->silent = 0;
    return EXIT_OK;
}

void cli_free(struct cli *cli)
{
    free(cli->headers);
    free(cli->dir_index);
    free(cli->setenv);
    free(cli->rules);
    free(cli->params);
}

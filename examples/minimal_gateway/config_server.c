/* Server-wide directives: Listen, ServerName, DocumentRoot, timeouts,
 * limits, Threads, and the per-directory flags of the environment. */
#include <string.h>

#include "config_int.h"

static int nomem(struct gw_parser *p, const struct gw_cmd *cmd)
{
    return gw_fail(p, &cmd->at, FCGIC_E_NOMEM, "out of memory");
}

static bool host_char(int c)
{
    return gw_isalpha(c) || gw_isdigit(c) || c == '-' || c == '.' || c == '_';
}

static bool ipv6_char(int c)
{
    return gw_isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/* "host", "[v6]" or "*" followed by ":port" or nothing. host/port point
 * into s (which is modified). Returns 0 or an error message. */
static const char *split_host_port(char *s, char **host, char **port, int *ipv6)
{
    *host = NULL;
    *port = NULL;
    *ipv6 = 0;
    if (s[0] == '[') {
        char *end = strchr(s, ']');
        if (end == NULL || end == s + 1)
            return "Invalid address or port";
        *end = '\0';
        for (char *c = s + 1; *c; c++) {
            if (*c == '%')
                return "Scope id is not supported";
            if (!ipv6_char((unsigned char)*c))
                return "Invalid address or port";
        }
        *host = s + 1;
        *ipv6 = 1;
        s = end + 1;
        if (*s == ':')
            *port = s + 1;
        else if (*s != '\0')
            return "Invalid address or port";
        return NULL;
    }
    char *colon = strrchr(s, ':');
    if (colon != NULL) {
        *colon = '\0';
        *port = colon + 1;
    }
    if (colon == NULL && gw_isdigit((unsigned char)s[0])) {
        /* "80": a port alone, or a host name that starts with a digit */
        bool digits = true;
        for (char *c = s; *c; c++)
            digits = digits && gw_isdigit((unsigned char)*c);
        if (digits) {
            *port = s;
            return NULL;
        }
    }
    if (strcmp(s, "*") != 0) {
        if (s[0] == '\0')
            return "Invalid address or port";
        for (char *c = s; *c; c++)
            if (!host_char((unsigned char)*c))
                return "Invalid address or port";
        *host = s;
    }
    return NULL;
}

static int parse_port(const char *s, unsigned *port)
{
    uint64_t v;
    if (gw_arg_uint(s, 65535, &v) != 0 || v == 0)
        return FCGIC_E_RANGE;
    *port = (unsigned)v;
    return 0;
}

int gw_dir_listen(struct gw_parser *p, const struct gw_cmd *cmd)
{
    char buf[512];
    if (strlen(cmd->argv[0]) >= sizeof(buf))
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Invalid address or port");
    strcpy(buf, cmd->argv[0]);
    char *host, *port;
    int ipv6;
    const char *msg = split_host_port(buf, &host, &port, &ipv6);
    if (msg == NULL && (port == NULL || *port == '\0'))
        msg = "Port must be specified";
    unsigned portnum = 0;
    if (msg == NULL && parse_port(port, &portnum) != 0)
        msg = "Invalid address or port";
    if (msg != NULL)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s: %s", msg, cmd->argv[0]);
    if (cmd->argc == 2 && !gw_streq_ci(cmd->argv[1], "http"))
        return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP, "Listen %s %s: only the http protocol is supported (%s)",
                       cmd->argv[0], cmd->argv[1],
                       gw_streq_ci(cmd->argv[1], "https") ? "terminate TLS in front of the gateway"
                                                          : "unknown protocol");
    const struct gw_listen *l = p->listen.items;
    for (size_t i = 0; i < p->listen.n; i++)
        if (l[i].port == portnum && ((l[i].addr == NULL && host == NULL) ||
                                     (l[i].addr != NULL && host != NULL && gw_streq_ci(l[i].addr, host))))
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                           "Cannot define multiple Listeners on the same IP:port (first at %s:%u)", l[i].at.file,
                           l[i].at.line);
    struct gw_listen *n = gw_vec_push(p->cfg, &p->listen, sizeof(*n));
    if (n == NULL || (host != NULL && (n->addr = gw_strdup(p->cfg, host)) == NULL))
        return nomem(p, cmd);
    n->port = portnum;
    n->ipv6 = ipv6;
    n->at = cmd->at;
    return 0;
}

int gw_dir_server_name(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_server *s = &p->cfg->server;
    char buf[512];
    const char *arg = cmd->argv[0];
    if (strlen(arg) >= sizeof(buf))
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Invalid ServerName \"%s\"", arg);
    const char *sep = strstr(arg, "://");
    s->server_scheme = NULL;
    if (sep != NULL) {
        if (gw_prefix_ci(arg, "http://"))
            s->server_scheme = "http";
        else if (gw_prefix_ci(arg, "https://"))
            s->server_scheme = "https";
        else
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Invalid ServerName \"%s\": scheme must be http or https",
                           arg);
        arg = sep + 3;
    }
    strcpy(buf, arg);
    char *host, *port;
    int ipv6;
    const char *msg = split_host_port(buf, &host, &port, &ipv6);
    if (msg != NULL || host == NULL)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Invalid ServerName \"%s\": use a fully qualified domain name",
                       cmd->argv[0]);
    s->server_port = 0;
    if (port != NULL && parse_port(port, &s->server_port) != 0)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                       "The port number \"%s\" is outside the appropriate range (i.e., 1..65535).", port);
    s->server_name = gw_strdup(p->cfg, host);
    return s->server_name ? 0 : nomem(p, cmd);
}

int gw_dir_server_admin(struct gw_parser *p, const struct gw_cmd *cmd)
{
    p->cfg->server.server_admin = gw_strdup(p->cfg, cmd->argv[0]);
    return p->cfg->server.server_admin ? 0 : nomem(p, cmd);
}

/* Absolute and without "." or ".." segments, as the environment builder
 * wants DOCUMENT_ROOT. */
static bool clean_absolute(const char *path)
{
    if (path[0] != '/')
        return false;
    for (const char *s = path; *s;) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n;
    }
    return true;
}

int gw_dir_document_root(struct gw_parser *p, const struct gw_cmd *cmd)
{
    const char *arg = cmd->argv[0];
    if (!clean_absolute(arg))
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                       "DocumentRoot must be an absolute path without . or .. segments: %s", arg);
    size_t n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/')
        n--;
    p->cfg->server.document_root = gw_strndup(p->cfg, arg, n);
    return p->cfg->server.document_root ? 0 : nomem(p, cmd);
}

int gw_dir_directory_index(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_dir_build *d = gw_scope_dir(p);
    if (gw_streq_ci(cmd->argv[0], "disabled")) {
        if (cmd->argc > 1)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "DirectoryIndex disabled must be the only argument");
        d->dindex.n = 0;
        d->conf->set |= GW_DC_DIRECTORY_INDEX;
        return 0;
    }
    for (int i = 0; i < cmd->argc; i++) {
        if (cmd->argv[i][0] == '\0' || strchr(cmd->argv[i], '/') != NULL)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "DirectoryIndex: \"%s\" is not a file name", cmd->argv[i]);
        char *name = gw_strdup(p->cfg, cmd->argv[i]);
        if (name == NULL || gw_vec_push_ptr(p->cfg, &d->dindex, name) != 0)
            return nomem(p, cmd);
    }
    d->conf->set |= GW_DC_DIRECTORY_INDEX;
    return 0;
}

int gw_dir_timeout(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_timeouts *t = &p->cfg->server.timeouts;
    uint64_t ns;
    if (gw_arg_duration(cmd->argv[0], false, &ns) != 0)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s has wrong format: %s", cmd->d->name, cmd->argv[0]);
    bool keepalive = strcmp(cmd->d->name, "KeepAliveTimeout") == 0;
    if (ns == 0 && !keepalive)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s must be at least 1 millisecond", cmd->d->name);
    if (keepalive) {
        t->keepalive = ns;
    } else if (strcmp(cmd->d->name, "Timeout") == 0) {
        t->timeout = ns;
    } else {
        t->proxy_timeout = ns;
        p->proxy_timeout_set = true;
    }
    return 0;
}

int gw_dir_keepalive(struct gw_parser *p, const struct gw_cmd *cmd)
{
    return gw_arg_flag(p, cmd, cmd->argv[0], &p->cfg->server.keepalive);
}

int gw_dir_limit(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_limits *l = &p->cfg->server.limits;
    const char *name = cmd->d->name;
    bool body = strcmp(name, "LimitRequestBody") == 0;
    uint64_t v;
    int rc = gw_arg_uint(cmd->argv[0], body ? (uint64_t)INT64_MAX : 0x7fffffffu, &v);
    if (rc != 0)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                       body ? "LimitRequestBody argument is not parsable: %s"
                            : "%s \"%s\" must be a non-negative integer",
                       body ? cmd->argv[0] : name, cmd->argv[0]);
    if (body) {
        struct gw_frame *scope = gw_scope(p);
        if (scope != NULL) {
            scope->dir->conf->limit_request_body = v;
            scope->dir->conf->set |= GW_DC_LIMIT_BODY;
        } else {
            l->request_body = v;
        }
    } else if (strcmp(name, "LimitRequestLine") == 0) {
        l->request_line = (unsigned)v;
    } else if (strcmp(name, "LimitRequestFieldSize") == 0) {
        l->request_field_size = (unsigned)v;
    } else if (strcmp(name, "LimitRequestFields") == 0) {
        l->request_fields = (unsigned)v;
    } else {
        l->max_keepalive_requests = (unsigned)v;
    }
    return 0;
}

int gw_dir_threads(struct gw_parser *p, const struct gw_cmd *cmd)
{
    uint64_t v;
    if (gw_arg_uint(cmd->argv[0], 1024, &v) != 0 || v == 0)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Threads must be a number between 1 and 1024: %s",
                       cmd->argv[0]);
    p->cfg->server.threads = (unsigned)v;
    p->threads_set = true;
    return 0;
}

int gw_dir_encoded_slashes(struct gw_parser *p, const struct gw_cmd *cmd)
{
    const char *a = cmd->argv[0];
    enum fcgic_env_encoded_slashes *v = &p->cfg->server.encoded_slashes;
    if (gw_streq_ci(a, "on"))
        *v = FCGIC_ENV_SLASHES_DECODE;
    else if (gw_streq_ci(a, "off"))
        *v = FCGIC_ENV_SLASHES_REJECT;
    else if (gw_streq_ci(a, "nodecode"))
        *v = FCGIC_ENV_SLASHES_NODECODE;
    else
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "AllowEncodedSlashes must be On, Off, or NoDecode: %s", a);
    return 0;
}

int gw_dir_backend_type(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_dir_conf *c = gw_scope_dir(p)->conf;
    if (gw_streq_ci(cmd->argv[0], "fpm"))
        c->backend = FCGIC_ENV_BACKEND_FPM;
    else if (gw_streq_ci(cmd->argv[0], "generic"))
        c->backend = FCGIC_ENV_BACKEND_GENERIC;
    else
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                       "ProxyFCGIBackendType requires one of the following arguments: 'GENERIC', 'FPM'");
    c->set |= GW_DC_BACKEND;
    return 0;
}

int gw_dir_cgi_pass_auth(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_dir_conf *c = gw_scope_dir(p)->conf;
    int rc = gw_arg_flag(p, cmd, cmd->argv[0], &c->pass_auth);
    if (rc == 0)
        c->set |= GW_DC_PASS_AUTH;
    return rc;
}

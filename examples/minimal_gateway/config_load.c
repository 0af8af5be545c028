/* Entry points: load a file or a buffer into a new tree, with the
 * defaults in place before the first directive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"

static void set_defaults(struct gw_server *s)
{
    s->keepalive = 1;
    s->limits.request_line = 8190;
    s->limits.request_field_size = 8190;
    s->limits.request_fields = 100;
    s->limits.request_body = 1073741824ull;
    s->limits.max_keepalive_requests = 100;
    s->timeouts.timeout = 60000000000ull;
    s->timeouts.keepalive = 5000000000ull;
    s->logs.level = GW_LOG_WARN;
    s->logs.error_log_kind = GW_LOG_STDERR;
}

static int parser_init(struct gw_parser *p, const char *name, const char *base_dir, unsigned flags,
                       struct gw_config_error *err)
{
    memset(p, 0, sizeof(*p));
    p->err = err;
    if (err != NULL)
        memset(err, 0, sizeof(*err));
    p->no_jit = (flags & GW_CONFIG_NO_JIT) != 0;
    p->cfg = gw_config_new_empty();
    if (p->cfg == NULL)
        return gw_fail(p, NULL, FCGIC_E_NOMEM, "out of memory");
    struct gw_server *s = &p->cfg->server;
    set_defaults(s);
    p->server_dir.conf = &s->conf;
    s->main_file = gw_strdup(p->cfg, name);
    s->base_dir = gw_strdup(p->cfg, base_dir ? base_dir : "");
    p->base_dir = s->base_dir;
    if (s->main_file == NULL || s->base_dir == NULL)
        return gw_fail(p, NULL, FCGIC_E_NOMEM, "out of memory");
    return gw_log_predefine(p);
}

static int parser_finish(struct gw_parser *p, int rc, struct gw_config **out)
{
    if (rc == 0)
        rc = gw_compile(p);
    free(p->line);
    if (rc != 0) {
        gw_config_destroy(p->cfg);
        return rc;
    }
    *out = p->cfg;
    return 0;
}

/* The directory of path, made absolute. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char cwd[4096];
    if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
        return NULL;
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    size_t n = (path[0] == '/' ? 0 : strlen(cwd) + 1) + dlen + 2;
    char *d = malloc(n);
    if (d == NULL)
        return NULL;
    if (path[0] == '/')
        snprintf(d, n, "%.*s", (int)(dlen ? dlen : 1), path);
    else if (dlen)
        snprintf(d, n, "%s/%.*s", cwd, (int)dlen, path);
    else
        snprintf(d, n, "%s", cwd);
    return d;
}

int gw_config_load(const char *path, unsigned flags, struct gw_config **out, struct gw_config_error *err)
{
    if (path == NULL || out == NULL)
        return FCGIC_E_INVAL;
    struct gw_parser p;
    char *dir = dir_of(path);
    if (dir == NULL) {
        if (err != NULL) {
            memset(err, 0, sizeof(*err));
            snprintf(err->message, sizeof(err->message), "cannot find the directory of %s", path);
        }
        return FCGIC_E_NOMEM;
    }
    int rc = parser_init(&p, path, dir, flags, err);
    free(dir);
    p.includes = true;
    if (rc == 0)
        rc = gw_parse_file(&p, path, NULL);
    return parser_finish(&p, rc, out);
}

int gw_config_parse_buffer(const char *name, const char *buf, size_t len, const char *base_dir, unsigned flags,
                           struct gw_config **out, struct gw_config_error *err)
{
    if (name == NULL || (buf == NULL && len > 0) || out == NULL)
        return FCGIC_E_INVAL;
    struct gw_parser p;
    int rc = parser_init(&p, name, base_dir, flags, err);
    p.includes = base_dir != NULL;
    p.confine = base_dir != NULL;
    if (rc == 0) {
        struct gw_lexer lx = {p.cfg->server.main_file, buf ? buf : "", len, 0, 1};
        rc = gw_parse_lexer(&p, &lx);
    }
    return parser_finish(&p, rc, out);
}

const struct gw_balancer *gw_config_balancer(const struct gw_config *cfg, const char *name)
{
    const struct gw_server *s = &cfg->server;
    for (size_t i = 0; i < s->n_balancers; i++)
        if (gw_streq_ci(s->balancers[i]->name, name))
            return s->balancers[i];
    return NULL;
}

const char *gw_config_log_format(const struct gw_config *cfg, const char *nickname)
{
    const struct gw_logs *l = &cfg->server.logs;
    for (size_t i = 0; i < l->n_formats; i++)
        if (strcmp(l->formats[i].nickname, nickname) == 0)
            return l->formats[i].format;
    return NULL;
}

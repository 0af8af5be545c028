/* Proxy directives: ProxyPass, ProxyPassMatch, SetHandler "proxy:...",
 * <Proxy> sections, BalancerMember and ProxySet, with Apache's worker and
 * balancer parameters. */
#include <stdio.h>
#include <string.h>

#include "config_int.h"

#define GW_MAX_ROUTE 64  /* Apache's PROXY_WORKER_MAX_ROUTE_SIZE */
#define GW_MAX_STICKY 64 /* Apache's PROXY_BALANCER_MAX_STICKY_SIZE */

static int nomem(struct gw_parser *p, const struct gw_origin *at)
{
    return gw_fail(p, at, FCGIC_E_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* Backend URLs                                                             */

struct gw_url {
    bool balancer;
    char *address; /* worker address or "balancer://name", normalised */
    const char *path; /* the path part, "" if none (arena) */
};

static int parse_balancer_url(struct gw_parser *p, const struct gw_origin *at, const char *url, struct gw_url *out)
{
    const char *name = url + strlen("balancer://");
    size_t n = strcspn(name, "/");
    if (n == 0)
        return gw_fail(p, at, FCGIC_E_INVAL, "balancer URL without a name: %s", url);
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)name[i];
        if (!gw_isalpha(c) && !gw_isdigit(c) && c != '-' && c != '_' && c != '.')
            return gw_fail(p, at, FCGIC_E_INVAL, "bad balancer name in %s", url);
    }
    char *addr = gw_alloc(p->cfg, n + 12);
    if (addr == NULL)
        return nomem(p, at);
    memcpy(addr, "balancer://", 11);
    for (size_t i = 0; i < n; i++)
        addr[11 + i] = (char)gw_tolower((unsigned char)name[i]);
    out->balancer = true;
    out->address = addr;
    out->path = gw_strdup(p->cfg, name + n);
    return out->path ? 0 : nomem(p, at);
}

/* fcgi://, unix:...|fcgi://, balancer://. The address keeps the scheme and
 * host in lower case, as Apache names workers. */
static int parse_url(struct gw_parser *p, const struct gw_origin *at, const char *what, const char *url,
                     struct gw_url *out)
{
    memset(out, 0, sizeof(*out));
    if (gw_prefix_ci(url, "balancer://"))
        return parse_balancer_url(p, at, url, out);
    struct fcgic_env_target t;
    if (!gw_prefix_ci(url, "fcgi://") && !gw_prefix_ci(url, "unix:")) {
        const char *colon = strstr(url, "://");
        if (colon != NULL)
            return gw_fail(p, at, FCGIC_E_NOTSUP,
                           "%s: scheme %.*s:// is not supported (fcgi://, unix:...|fcgi:// or balancer://)", what,
                           (int)(colon - url), url);
        return gw_fail(p, at, FCGIC_E_INVAL, "%s: \"%s\" is not a URL", what, url);
    }
    int rc = fcgic_env_parse_target(url, strlen(url), &t);
    if (rc != 0)
        return gw_fail(p, at, rc, "%s: malformed backend URL %s (fcgi://host:port/path or "
                                  "unix:/socket|fcgi://host/path)", what, url);
    size_t alen = t.path.len ? (size_t)(t.path.ptr - url) : strlen(url);
    size_t fcgi_off = (size_t)(t.fcgi_url.ptr - url);
    char *addr = gw_strndup(p->cfg, url, alen);
    if (addr == NULL)
        return nomem(p, at);
    for (size_t i = fcgi_off; i < alen; i++)
        addr[i] = (char)gw_tolower((unsigned char)addr[i]);
    if (t.unix_path.len)
        memcpy(addr, "unix", 4);
    out->address = addr;
    out->path = gw_strndup(p->cfg, t.path.ptr ? t.path.ptr : "", t.path.len);
    return out->path ? 0 : nomem(p, at);
}

static struct gw_worker *worker_get(struct gw_parser *p, const struct gw_origin *at, const char *address)
{
    struct gw_worker **w = p->workers.items;
    for (size_t i = 0; i < p->workers.n; i++)
        if (strcmp(w[i]->address, address) == 0)
            return w[i];
    struct gw_worker *n = gw_alloc(p->cfg, sizeof(*n));
    if (n == NULL || gw_vec_push_ptr(p->cfg, &p->workers, n) != 0)
        return NULL;
    n->address = address;
    n->at = *at;
    return n;
}

static struct gw_balancer_build *balancer_get(struct gw_parser *p, const struct gw_origin *at, const char *name)
{
    struct gw_balancer_build **b = p->balancers.items;
    for (size_t i = 0; i < p->balancers.n; i++)
        if (strcmp(b[i]->b.name, name) == 0)
            return b[i];
    struct gw_balancer_build *n = gw_alloc(p->cfg, sizeof(*n));
    if (n == NULL || gw_vec_push_ptr(p->cfg, &p->balancers, n) != 0)
        return NULL;
    n->b.name = name;
    n->b.method = FCGIC_LB_BYREQUESTS;
    n->b.at = *at;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Parameters                                                               */

/* A parameter for a worker or member: m is NULL for a plain worker. */
struct param_target {
    struct gw_worker_params *wp;
    struct gw_member *m;
    const char *owner; /* for messages */
};

static int on_off(const char *v, int *out)
{
    if (gw_streq_ci(v, "on"))
        *out = 1;
    else if (gw_streq_ci(v, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* Set one duration / number, refusing a second, different value. */
static int set_u64(struct gw_parser *p, const struct gw_origin *at, const struct param_target *t, unsigned bit,
                   uint64_t *field, uint64_t v, const char *key)
{
    if ((t->wp->set & bit) && *field != v)
        return gw_fail(p, at, FCGIC_E_INVAL, "%s: %s is already set to another value (workers are shared by "
                                             "address)", t->owner, key);
    *field = v;
    t->wp->set |= bit;
    return 0;
}

static int member_param(struct gw_parser *p, const struct gw_origin *at, const struct param_target *t,
                        const char *key, const char *val)
{
    uint64_t v;
    if (t->m == NULL)
        return gw_fail(p, at, FCGIC_E_INVAL, "%s is a BalancerMember parameter", key);
    if (gw_streq_ci(key, "loadfactor")) {
        if (gw_arg_uint(val, 100, &v) != 0 || v < 1)
            return gw_fail(p, at, FCGIC_E_INVAL, "LoadFactor must be a number between 1..100");
        t->m->lbfactor = (unsigned)v;
    } else if (gw_streq_ci(key, "lbset")) {
        if (gw_arg_uint(val, 99, &v) != 0)
            return gw_fail(p, at, FCGIC_E_INVAL, "lbset must be between 0 and 99");
        t->m->lbset = (unsigned)v;
    } else if (gw_streq_ci(key, "route")) {
        if (strlen(val) >= GW_MAX_ROUTE)
            return gw_fail(p, at, FCGIC_E_INVAL, "Route length must be < %d characters", GW_MAX_ROUTE);
        t->m->route = gw_strdup(p->cfg, val);
        if (t->m->route == NULL)
            return nomem(p, at);
    } else {
        /* status=[+-]X... with D, H, N, E */
        bool add = true;
        for (const char *c = val; *c; c++) {
            unsigned flag = 0;
            switch (gw_tolower((unsigned char)*c)) {
            case '+': add = true; continue;
            case '-': add = false; continue;
            case 'd': flag = FCGIC_MEMBER_DISABLED; break;
            case 'h': flag = FCGIC_MEMBER_STANDBY; break;
            case 'n': flag = FCGIC_MEMBER_DRAIN; break;
            case 'e': flag = FCGIC_MEMBER_ERROR; break;
            default:
                return gw_fail(p, at, FCGIC_E_INVAL, "Unknown status parameter option '%c' (D, H, N or E)", *c);
            }
            t->m->status = add ? t->m->status | flag : t->m->status & ~flag;
        }
    }
    return 0;
}

static int duration_param(struct gw_parser *p, const struct gw_origin *at, const struct param_target *t,
                          const char *key, const char *val)
{
    struct gw_worker_params *wp = t->wp;
    uint64_t ns;
    bool ms = gw_streq_ci(key, "acquire");
    int rc = gw_arg_duration(val, ms, &ns);
    if (gw_streq_ci(key, "retry")) {
        if (rc != 0)
            return gw_fail(p, at, FCGIC_E_INVAL, "Retry must be a positive value");
        return set_u64(p, at, t, GW_WP_RETRY, &wp->retry_ns, ns ? ns : FCGIC_RETRY_IMMEDIATE, key);
    }
    if (gw_streq_ci(key, "ttl")) {
        if (rc != 0 || ns < 1000000000ull)
            return gw_fail(p, at, FCGIC_E_INVAL, "TTL must be at least one second");
        return set_u64(p, at, t, GW_WP_TTL, &wp->ttl_ns, ns, key);
    }
    if (gw_streq_ci(key, "timeout")) {
        if (rc != 0 || ns < 1000000ull)
            return gw_fail(p, at, FCGIC_E_INVAL, "Timeout must be at least one millisecond");
        return set_u64(p, at, t, GW_WP_TIMEOUT, &wp->timeout_ns, ns, key);
    }
    if (gw_streq_ci(key, "connectiontimeout")) {
        if (rc != 0 || ns < 1000000ull)
            return gw_fail(p, at, FCGIC_E_INVAL, "Connectiontimeout must be at least one millisecond.");
        return set_u64(p, at, t, GW_WP_CONNECT_TIMEOUT, &wp->connect_timeout_ns, ns, key);
    }
    if (rc != 0 || ns < 1000000ull)
        return gw_fail(p, at, FCGIC_E_INVAL, "Acquire timeout must be at least one millisecond");
    return set_u64(p, at, t, GW_WP_ACQUIRE, &wp->acquire_ns, ns, key);
}

static int count_param(struct gw_parser *p, const struct gw_origin *at, const struct param_target *t,
                       const char *key, const char *val)
{
    static const struct {
        const char *key, *msg;
        unsigned bit;
    } counts[] = {
        {"max", "Max must be a positive number", GW_WP_MAX},
        {"min", "Min must be a positive number", GW_WP_MIN},
        {"smax", "Smax must be a positive number", GW_WP_SMAX},
    };
    for (size_t i = 0; i < 3; i++) {
        if (!gw_streq_ci(key, counts[i].key))
            continue;
        uint64_t v;
        if (gw_arg_uint(val, 65535, &v) != 0)
            return gw_fail(p, at, FCGIC_E_INVAL, "%s", counts[i].msg);
        unsigned *field = i == 0 ? &t->wp->max : i == 1 ? &t->wp->min : &t->wp->smax;
        uint64_t cur = *field;
        int rc = set_u64(p, at, t, counts[i].bit, &cur, v, key);
        *field = (unsigned)cur;
        return rc;
    }
    return 1;
}

static int worker_param(struct gw_parser *p, const struct gw_origin *at, const struct param_target *t,
                        const char *key, const char *val)
{
    struct gw_worker_params *wp = t->wp;
    int rc = count_param(p, at, t, key, val);
    if (rc <= 0)
        return rc;
    if (gw_streq_ci(key, "enablereuse") || gw_streq_ci(key, "disablereuse")) {
        bool enable = gw_streq_ci(key, "enablereuse");
        int on;
        if (on_off(val, &on) != 0)
            return gw_fail(p, at, FCGIC_E_INVAL, "%s must be On|Off", enable ? "EnableReuse" : "DisableReuse");
        uint64_t reuse = enable ? (uint64_t)on : (uint64_t)!on, cur = (uint64_t)wp->enable_reuse;
        rc = set_u64(p, at, t, GW_WP_REUSE, &cur, reuse, key);
        wp->enable_reuse = (int)cur;
        return rc;
    }
    if (gw_streq_ci(key, "retry") || gw_streq_ci(key, "ttl") || gw_streq_ci(key, "timeout") ||
        gw_streq_ci(key, "connectiontimeout") || gw_streq_ci(key, "acquire"))
        return duration_param(p, at, t, key, val);
    if (gw_streq_ci(key, "flushpackets")) {
        uint64_t f = gw_streq_ci(val, "on") ? GW_FLUSH_ON : gw_streq_ci(val, "auto") ? GW_FLUSH_AUTO : GW_FLUSH_OFF;
        if (f == GW_FLUSH_OFF && !gw_streq_ci(val, "off"))
            return gw_fail(p, at, FCGIC_E_INVAL, "flushpackets must be on|off|auto");
        uint64_t cur = wp->flush;
        rc = set_u64(p, at, t, GW_WP_FLUSH, &cur, f, key);
        wp->flush = (enum gw_flush)cur;
        return rc;
    }
    if (gw_streq_ci(key, "flushwait")) {
        uint64_t v;
        if (gw_arg_uint(val, 1000, &v) != 0)
            return gw_fail(p, at, FCGIC_E_INVAL,
                           "flushwait must be <= 1000, or 0 for system default of 10 millseconds.");
        return set_u64(p, at, t, GW_WP_FLUSH_WAIT, &wp->flush_wait_ns, v * 1000000ull, key);
    }
    if (gw_streq_ci(key, "loadfactor") || gw_streq_ci(key, "lbset") || gw_streq_ci(key, "route") ||
        gw_streq_ci(key, "status"))
        return member_param(p, at, t, key, val);
    return gw_fail(p, at, FCGIC_E_INVAL, "unknown Worker parameter %s (supported: enablereuse, disablereuse, max, "
                                         "min, smax, ttl, timeout, connectiontimeout, retry, flushpackets, flushwait, "
                                         "acquire%s)",
                   key, t->m ? ", loadfactor, lbset, status, route" : "");
}

static int balancer_param(struct gw_parser *p, const struct gw_origin *at, struct gw_balancer *b, const char *key,
                          const char *val)
{
    int on;
    uint64_t v;
    if (gw_streq_ci(key, "lbmethod")) {
        if (gw_streq_ci(val, "byrequests"))
            b->method = FCGIC_LB_BYREQUESTS;
        else if (gw_streq_ci(val, "bybusyness"))
            b->method = FCGIC_LB_BYBUSYNESS;
        else if (gw_streq_ci(val, "bytraffic"))
            b->method = FCGIC_LB_BYTRAFFIC;
        else
            return gw_fail(p, at, FCGIC_E_INVAL, "unknown lbmethod %s (byrequests, bybusyness or bytraffic)", val);
    } else if (gw_streq_ci(key, "stickysession")) {
        if (strlen(val) >= GW_MAX_STICKY)
            return gw_fail(p, at, FCGIC_E_INVAL, "stickysession length must be < %d characters", GW_MAX_STICKY);
        if ((b->sticky_session = gw_strdup(p->cfg, val)) == NULL)
            return nomem(p, at);
    } else if (gw_streq_ci(key, "nofailover")) {
        if (on_off(val, &on) != 0)
            return gw_fail(p, at, FCGIC_E_INVAL, "failover must be On|Off");
        b->nofailover = on;
    } else if (gw_streq_ci(key, "forcerecovery")) {
        if (on_off(val, &on) != 0)
            return gw_fail(p, at, FCGIC_E_INVAL, "forcerecovery must be On|Off");
        b->no_force_recovery = !on;
    } else if (gw_streq_ci(key, "maxattempts")) {
        if (gw_arg_uint(val, 1000, &v) != 0)
            return gw_fail(p, at, FCGIC_E_INVAL, "maximum number of attempts must be a positive number");
        b->max_attempts = (unsigned)v;
        b->max_attempts_set = 1;
    } else {
        return gw_fail(p, at, FCGIC_E_INVAL, "unknown Balancer parameter %s (supported: lbmethod, stickysession, "
                                             "nofailover, maxattempts, forcerecovery)",
                       key);
    }
    return 0;
}

/* key=value arguments, for a worker/member (t) or a balancer (b). */
static int apply_params(struct gw_parser *p, const struct gw_cmd *cmd, int first, const struct param_target *t,
                        struct gw_balancer *b)
{
    for (int i = first; i < cmd->argc; i++) {
        char *arg = cmd->argv[i];
        char *eq = strchr(arg, '=');
        if (eq == NULL || eq == arg)
            return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP,
                           "%s: flag or argument \"%s\" is not supported (parameters are key=value)", cmd->d->name,
                           arg);
        *eq = '\0';
        int rc = b ? balancer_param(p, &cmd->at, b, arg, eq + 1) : worker_param(p, &cmd->at, t, arg, eq + 1);
        *eq = '=';
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Mappings                                                                 */

static struct gw_mapping_build *mapping_new(struct gw_parser *p, const struct gw_cmd *cmd,
                                            enum gw_mapping_kind kind, const char *match)
{
    struct gw_mapping_build *mb = gw_alloc(p->cfg, sizeof(*mb));
    if (mb == NULL)
        return NULL;
    mb->m.kind = kind;
    mb->m.at = cmd->at;
    mb->dir = gw_scope_dir(p);
    mb->path = "";
    struct gw_frame *f = gw_scope(p);
    mb->m.section = f ? f->section : NULL;
    if (match != NULL && (mb->m.match = gw_strdup(p->cfg, match)) == NULL)
        return NULL;
    return mb;
}

/* Point the mapping at its worker or balancer, with the URL's parameters. */
static int mapping_backend(struct gw_parser *p, const struct gw_cmd *cmd, struct gw_mapping_build *mb,
                           const char *url, int first_param)
{
    struct gw_url u;
    int rc = parse_url(p, &cmd->at, cmd->d->name, url, &u);
    if (rc != 0)
        return rc;
    mb->path = u.path;
    if ((mb->m.url = gw_strdup(p->cfg, url)) == NULL)
        return nomem(p, &cmd->at);
    if (u.balancer) {
        struct gw_balancer_build *b = balancer_get(p, &cmd->at, u.address);
        if (b == NULL)
            return nomem(p, &cmd->at);
        mb->m.balancer = &b->b;
        return apply_params(p, cmd, first_param, NULL, &b->b);
    }
    struct gw_worker *w = worker_get(p, &cmd->at, u.address);
    if (w == NULL)
        return nomem(p, &cmd->at);
    mb->m.worker = w;
    struct param_target t = {&w->params, NULL, w->address};
    return apply_params(p, cmd, first_param, &t, NULL);
}

int gw_dir_proxy_pass(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_frame *f = gw_scope(p);
    bool match = strcmp(cmd->d->name, "ProxyPassMatch") == 0;
    const char *path;
    int url_at;
    if (f != NULL) {
        if (f->section->kind == GW_SEC_FILES || f->section->kind == GW_SEC_FILES_MATCH)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s cannot occur within <%s> section", cmd->d->name, f->name);
        const char *a = cmd->argv[0];
        if (strcmp(a, "!") != 0 && strstr(a, "://") == NULL && !gw_prefix_ci(a, "unix:"))
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s can not have a path when defined in a location",
                           cmd->d->name);
        path = f->section->arg;
        match = match || f->section->kind == GW_SEC_LOCATION_MATCH;
        url_at = 0;
    } else {
        if (cmd->argc < 2)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s needs a path when not defined in a location",
                           cmd->d->name);
        path = cmd->argv[0];
        url_at = 1;
    }
    if (!match && path[0] != '/')
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s: the path must start with '/': %s", cmd->d->name, path);
    struct gw_mapping_build *mb =
        mapping_new(p, cmd, match ? GW_MAP_PROXY_PASS_MATCH : GW_MAP_PROXY_PASS, path);
    if (mb == NULL)
        return nomem(p, &cmd->at);
    int rc;
    if (strcmp(cmd->argv[url_at], "!") == 0) {
        mb->m.exclude = 1;
        rc = cmd->argc > url_at + 1
                 ? gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s: no parameters after '!'", cmd->d->name)
                 : 0;
    } else {
        rc = mapping_backend(p, cmd, mb, cmd->argv[url_at], url_at + 1);
    }
    if (rc != 0)
        return rc;
    if (gw_vec_push_ptr(p->cfg, &p->proxy_maps, mb) != 0 ||
        (f != NULL && gw_vec_push_ptr(p->cfg, &f->dir->mappings, mb) != 0))
        return nomem(p, &cmd->at);
    return 0;
}

int gw_dir_set_handler(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_dir_build *d = gw_scope_dir(p);
    const char *h = cmd->argv[0];
    if (gw_streq_ci(h, "none")) {
        d->conf->handler = GW_HANDLER_NONE;
        d->conf->handler_mapping = NULL;
        return 0;
    }
    if (gw_streq_ci(h, "server-status") || gw_streq_ci(h, "metrics")) {
        d->conf->handler = gw_streq_ci(h, "metrics") ? GW_HANDLER_METRICS : GW_HANDLER_STATUS;
        d->conf->handler_mapping = NULL;
        return 0;
    }
    if (!gw_prefix_ci(h, "proxy:"))
        return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP,
                       "SetHandler %s is not supported: the gateway handles \"proxy:...\", server-status, metrics "
                       "and None",
                       h);
    const struct gw_section *files = gw_enclosing_files(p);
    const char *match = NULL;
    if (files != NULL)
        match = files->kind == GW_SEC_FILES ? gw_wildcard_to_regex(p->cfg, files->arg) : files->arg;
    struct gw_mapping_build *mb = mapping_new(p, cmd, GW_MAP_HANDLER, match);
    if (mb == NULL || (files != NULL && match == NULL))
        return nomem(p, &cmd->at);
    int rc = mapping_backend(p, cmd, mb, h + strlen("proxy:"), cmd->argc);
    if (rc != 0)
        return rc;
    if (gw_vec_push_ptr(p->cfg, &p->handler_maps, mb) != 0)
        return nomem(p, &cmd->at);
    d->conf->handler = GW_HANDLER_PROXY;
    d->conf->handler_mapping = &mb->m;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* <Proxy>, BalancerMember, ProxySet                                        */

int gw_proxy_section(struct gw_parser *p, const struct gw_origin *at, const char *url, struct gw_frame *f)
{
    if (strcmp(url, "*") == 0 || strpbrk(url, "*?[") != NULL)
        return gw_fail(p, at, FCGIC_E_NOTSUP, "<Proxy %s>: wildcards are not supported (access control belongs in "
                                              "front of the gateway); name a balancer:// or fcgi:// URL",
                       url);
    struct gw_url u;
    int rc = parse_url(p, at, "<Proxy>", url, &u);
    if (rc != 0)
        return rc;
    if (u.path[0] != '\0' && strcmp(u.path, "/") != 0)
        return gw_fail(p, at, FCGIC_E_INVAL, "<Proxy %s>: name the backend without a path", url);
    if (u.balancer) {
        struct gw_balancer_build *b = balancer_get(p, at, u.address);
        if (b == NULL)
            return nomem(p, at);
        f->balancer = &b->b;
        return 0;
    }
    f->worker = worker_get(p, at, u.address);
    return f->worker ? 0 : nomem(p, at);
}

int gw_proxy_section_params(struct gw_parser *p, const struct gw_origin *at, struct gw_frame *f, char **argv, int argc)
{
    static const struct gw_directive proxy = {"<Proxy>", GW_CTX_SERVER, 1, -1, "", NULL};
    struct gw_cmd cmd = {&proxy, "<Proxy>", argv, argc, *at};
    if (f->balancer != NULL)
        return apply_params(p, &cmd, 0, NULL, f->balancer);
    struct param_target t = {&f->worker->params, NULL, f->worker->address};
    return apply_params(p, &cmd, 0, &t, NULL);
}

/* A unix-socket worker ("unix:/s.sock|fcgi://host") without parameters of
 * its own takes those of the worker "fcgi://host" a <Proxy> or ProxySet
 * gave them, as Apache's <Proxy "fcgi://localhost/" enablereuse=on> serves
 * SetHandler "proxy:unix:/s.sock|fcgi://localhost/". */
void gw_proxy_inherit_unix_params(struct gw_parser *p)
{
    struct gw_worker **w = p->workers.items;
    for (size_t i = 0; i < p->workers.n; i++) {
        const char *bar = strchr(w[i]->address, '|');
        if (!gw_prefix_ci(w[i]->address, "unix:") || bar == NULL || w[i]->params.set != 0)
            continue;
        for (size_t k = 0; k < p->workers.n; k++)
            if (strcmp(w[k]->address, bar + 1) == 0) {
                w[i]->params = w[k]->params;
                break;
            }
    }
}

static int add_member(struct gw_parser *p, const struct gw_cmd *cmd, struct gw_balancer_build *b, const char *url,
                      int first_param)
{
    struct gw_url u;
    int rc = parse_url(p, &cmd->at, "BalancerMember", url, &u);
    if (rc != 0)
        return rc;
    if (u.balancer)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "BalancerMember: a balancer cannot be a member: %s", url);
    if (u.path[0] != '\0' && strcmp(u.path, "/") != 0)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "BalancerMember %s: a member URL has no path", url);
    struct gw_member *ms = b->members.items;
    for (size_t i = 0; i < b->members.n; i++)
        if (strcmp(ms[i].address, u.address) == 0)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "BalancerMember %s is already a member of %s (at %s:%u)", url,
                           b->b.name, ms[i].at.file, ms[i].at.line);
    struct gw_member *m = gw_vec_push(p->cfg, &b->members, sizeof(*m));
    if (m == NULL)
        return nomem(p, &cmd->at);
    m->address = u.address;
    m->lbfactor = 1;
    m->at = cmd->at;
    struct param_target t = {&m->params, m, u.address};
    return apply_params(p, cmd, first_param, &t, NULL);
}

int gw_dir_balancer_member(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_frame *f = gw_scope(p);
    struct gw_balancer_build *b;
    int first = 0;
    if (f != NULL) {
        if (f->balancer == NULL)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "BalancerMember belongs in <Proxy \"balancer://...\">");
        if (gw_prefix_ci(cmd->argv[0], "balancer://"))
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                           "BalancerMember can not have a balancer name when defined in a location");
        b = (struct gw_balancer_build *)f->balancer;
    } else {
        struct gw_url u;
        if (!gw_prefix_ci(cmd->argv[0], "balancer://") || cmd->argc < 2)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                           "BalancerMember must define balancer name when outside <Proxy > section");
        int rc = parse_balancer_url(p, &cmd->at, cmd->argv[0], &u);
        if (rc != 0)
            return rc;
        if ((b = balancer_get(p, &cmd->at, u.address)) == NULL)
            return nomem(p, &cmd->at);
        first = 1;
    }
    return add_member(p, cmd, b, cmd->argv[first], first + 1);
}

int gw_dir_proxy_set(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_frame *f = gw_scope(p);
    if (f == NULL) {
        if (strchr(cmd->argv[0], '=') != NULL)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                           "ProxySet needs a balancer or worker URL when not defined in a <Proxy> section");
        struct gw_frame tmp;
        memset(&tmp, 0, sizeof(tmp));
        int rc = gw_proxy_section(p, &cmd->at, cmd->argv[0], &tmp);
        if (rc != 0)
            return rc;
        if (tmp.balancer != NULL)
            return apply_params(p, cmd, 1, NULL, tmp.balancer);
        struct param_target t = {&tmp.worker->params, NULL, tmp.worker->address};
        return apply_params(p, cmd, 1, &t, NULL);
    }
    if (f->balancer != NULL)
        return apply_params(p, cmd, 0, NULL, f->balancer);
    struct param_target t = {&f->worker->params, NULL, f->worker->address};
    return apply_params(p, cmd, 0, &t, NULL);
}

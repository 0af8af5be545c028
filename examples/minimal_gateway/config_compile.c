/* The compile step: after the last line, check what needs the whole file,
 * build each mapping's environment maps and lay the tree out in arrays. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "config_int.h"

/* The value of a per-directory setting for a scope, over the server's. */
static const struct gw_dir_conf *pick(const struct gw_dir_conf *scope, const struct gw_dir_conf *server,
                                      unsigned bit)
{
    if (scope != NULL && (scope->set & bit))
        return scope;
    return (server->set & bit) ? server : NULL;
}

static void map_free(void *m)
{
    fcgic_env_map_free(m);
}

/* The backend address a mapping's environment names: a balancer's first
 * member, which each member rewrites to its own (worker.c, add_member). */
static const char *map_address(const struct gw_mapping *m)
{
    if (m->worker != NULL)
        return m->worker->address;
    return m->balancer->members[0].address;
}

static int map_variant(struct gw_parser *p, struct gw_mapping_build *mb, struct fcgic_env_map_config *cfg,
                       enum fcgic_env_backend backend, int pass_auth)
{
    struct gw_mapping *m = &mb->m;
    cfg->backend = backend;
    cfg->flags = (cfg->flags & ~FCGIC_ENV_PASS_AUTH) | (pass_auth ? FCGIC_ENV_PASS_AUTH : 0u);
    struct fcgic_env_map *map;
    int rc = fcgic_env_map_new(&map, cfg, NULL);
    if (rc == FCGIC_E_ENV_BAD_PATTERN)
        return gw_fail(p, &m->at, rc, "%s: %s \"%s\"", m->kind == GW_MAP_PROXY_PASS ? "ProxyPass" : "ProxyPassMatch",
                       m->kind == GW_MAP_PROXY_PASS ? "the path must start with '/':" : "Regex could not be compiled:",
                       m->match);
    if (rc != 0)
        return gw_fail(p, &m->at, rc, "the mapping to %s cannot be compiled: %s", cfg->target, fcgic_strerror(rc));
    if (gw_on_free(p->cfg, map_free, map) != 0)
        return gw_fail(p, &m->at, FCGIC_E_NOMEM, "out of memory");
    m->maps[backend][pass_auth] = map;
    return 0;
}

static int compile_mapping(struct gw_parser *p, struct gw_mapping_build *mb)
{
    struct gw_mapping *m = &mb->m;
    const struct gw_server *s = &p->cfg->server;
    const struct gw_dir_conf *scope = mb->dir->conf, *srv = &s->conf;
    if (m->exclude)
        return 0;
    if (m->balancer != NULL && m->balancer->n_members == 0)
        return gw_fail(p, &m->at, FCGIC_E_INVAL, "%s has no members (BalancerMember)", m->balancer->name);
    const struct gw_dir_conf *c;
    m->backend = (c = pick(scope, srv, GW_DC_BACKEND)) ? c->backend : FCGIC_ENV_BACKEND_FPM;
    m->pass_auth = (c = pick(scope, srv, GW_DC_PASS_AUTH)) ? c->pass_auth : 0;
    m->pathinfo = (c = pick(scope, srv, GW_DC_PATHINFO)) ? c->pathinfo : FCGIC_ENV_PATHINFO_NONE;
    const struct gw_dir_conf *di = pick(scope, srv, GW_DC_DIRECTORY_INDEX);

    const char *addr = map_address(m);
    size_t tlen = strlen(addr) + strlen(mb->path) + 1;
    char *target = gw_alloc(p->cfg, tlen);
    if (target == NULL)
        return gw_fail(p, &m->at, FCGIC_E_NOMEM, "out of memory");
    snprintf(target, tlen, "%s%s", addr, mb->path);

    struct fcgic_env_map_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.kind = m->kind == GW_MAP_PROXY_PASS ? FCGIC_ENV_MAP_PREFIX
             : m->kind == GW_MAP_PROXY_PASS_MATCH ? FCGIC_ENV_MAP_REGEX : FCGIC_ENV_MAP_HANDLER;
    cfg.match = m->match;
    cfg.target = target;
    cfg.pathinfo = m->pathinfo;
    cfg.encoded_slashes = s->encoded_slashes;
    cfg.flags = p->no_jit ? FCGIC_ENV_NO_JIT : 0u;
    cfg.server_name = s->server_name;
    cfg.server_port = s->server_port;
    cfg.server_admin = s->server_admin;
    cfg.document_root = s->document_root;
    cfg.server_software = "minimal_gateway";
    if (di != NULL) {
        cfg.directory_index = di->directory_index;
        cfg.n_directory_index = di->n_directory_index;
    }
    if (cfg.kind == FCGIC_ENV_MAP_HANDLER || cfg.pathinfo == FCGIC_ENV_PATHINFO_FULL) {
        if (s->document_root == NULL)
            return gw_fail(p, &m->at, FCGIC_E_INVAL, "%s needs DocumentRoot (files are looked up under it)",
                           cfg.kind == FCGIC_ENV_MAP_HANDLER ? "SetHandler \"proxy:...\""
                                                             : "SetEnv proxy-fcgi-pathinfo full");
    }
    if (s->document_root != NULL)
        cfg.stat = gw_storage_stat; /* SetEnvIf may choose `full` per request */
    for (int b = 0; b < 2; b++)
        for (int a = 0; a < 2; a++) {
            int rc = map_variant(p, mb, &cfg, (enum fcgic_env_backend)b, a);
            if (rc != 0)
                return rc;
        }
    m->map = m->maps[m->backend][m->pass_auth];
    return 0;
}

static void finish_dir(struct gw_dir_build *d)
{
    struct gw_dir_conf *c = d->conf;
    c->setenv = d->setenv.items;
    c->n_setenv = d->setenv.n;
    c->directory_index = d->dindex.items;
    c->n_directory_index = d->dindex.n;
    c->setenvif = d->setenvif;
    c->fcgi_setenvif = d->fcgi_setenvif;
    gw_authz_finish(d);
    c->error_docs = d->error_docs.items;
    c->n_error_docs = d->error_docs.n;
    c->headers = d->headers.items;
    c->n_headers = d->headers.n;
    c->req_headers = d->req_headers.items;
    c->n_req_headers = d->req_headers.n;
    c->early_headers = d->early_headers.items;
    c->n_early_headers = d->early_headers.n;
    c->override_codes = d->codes.items;
    c->n_override_codes = d->codes.n;
    c->ifs = d->ifs.items;
    c->n_ifs = d->ifs.n;
}

static void finish_sections(struct gw_parser *p)
{
    struct gw_dir_build **dirs = p->sections_dir.items;
    finish_dir(&p->server_dir);
    for (size_t i = 0; i < p->sections_dir.n; i++)
        finish_dir(dirs[i]);
    struct gw_vec *lists[] = {&p->locations, &p->files};
    for (size_t l = 0; l < 2; l++) {
        struct gw_section **secs = lists[l]->items;
        for (size_t i = 0; i < lists[l]->n; i++) {
            /* the section's dir build is the one whose conf is its conf */
            for (size_t j = 0; j < p->sections_dir.n; j++)
                if (dirs[j]->conf == &secs[i]->conf) {
                    secs[i]->mappings = dirs[j]->mappings.items;
                    secs[i]->n_mappings = dirs[j]->mappings.n;
                }
        }
    }
}

static int finish_balancers(struct gw_parser *p)
{
    struct gw_balancer_build **b = p->balancers.items;
    for (size_t i = 0; i < p->balancers.n; i++) {
        b[i]->b.members = b[i]->members.items;
        b[i]->b.n_members = b[i]->members.n;
        if (b[i]->b.n_members == 0)
            return gw_fail(p, &b[i]->b.at, FCGIC_E_INVAL, "%s has no members (BalancerMember)", b[i]->b.name);
    }
    return 0;
}

static void finish_logs(struct gw_parser *p)
{
    struct gw_logs *l = &p->cfg->server.logs;
    l->formats = p->formats.items;
    l->n_formats = p->formats.n;
    l->module_levels = p->module_levels.items;
    l->n_module_levels = p->module_levels.n;
    struct gw_custom_log *c = p->custom_logs.items;
    for (size_t i = 0; i < p->custom_logs.n; i++)
        for (size_t f = 0; f < l->n_formats; f++)
            if (strcmp(c[i].format, l->formats[f].nickname) == 0) {
                c[i].nickname = l->formats[f].nickname;
                c[i].format = l->formats[f].format;
            }
    l->custom = c;
    l->n_custom = p->custom_logs.n;
}

static int compile_mappings(struct gw_parser *p, struct gw_vec *v)
{
    struct gw_mapping_build **mb = v->items;
    for (size_t i = 0; i < v->n; i++) {
        int rc = compile_mapping(p, mb[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int gw_compile(struct gw_parser *p)
{
    struct gw_server *s = &p->cfg->server;
    if (p->listen.n == 0) {
        struct gw_origin at = {s->main_file, 0};
        return gw_fail(p, &at, FCGIC_E_INVAL, "no Listen directive: say where to accept connections (Listen 8080)");
    }
    if (!p->proxy_timeout_set)
        s->timeouts.proxy_timeout = s->timeouts.timeout;
    if (!p->threads_set) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->threads = n > 0 && n <= 1024 ? (unsigned)n : 1u;
    }
    finish_sections(p);
    gw_proxy_inherit_unix_params(p);
    int rc = finish_balancers(p);
    if (rc == 0)
        rc = gw_directories_finish(p);
    if (rc == 0)
        rc = compile_mappings(p, &p->proxy_maps);
    if (rc == 0)
        rc = compile_mappings(p, &p->handler_maps);
    if (rc != 0)
        return rc;
    finish_logs(p);
    s->listen = p->listen.items;
    s->n_listen = p->listen.n;
    s->proxy_mappings = p->proxy_maps.items;
    s->n_proxy_mappings = p->proxy_maps.n;
    s->locations = p->locations.items;
    s->n_locations = p->locations.n;
    s->files = p->files.items;
    s->n_files = p->files.n;
    s->directories = p->directories.items;
    s->n_directories = p->directories.n;
    s->workers = p->workers.items;
    s->n_workers = p->workers.n;
    s->balancers = p->balancers.items;
    s->n_balancers = p->balancers.n;
    return 0;
}

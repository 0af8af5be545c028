/* Require (mod_authz_core, mod_authz_host) and <RequireAll>, <RequireAny>,
 * <RequireNone>. Every line that tests the request is compiled into an
 * expression of the library's engine: `ip` lines into `-R 'net'` tests
 * (apr_ipsubnet_create's syntax: full, partial "10.1", CIDR, net/mask),
 * `method` into an `in {...}` list, `expr` as written. */
#include <stdio.h>
#include <string.h>

#include "config_int.h"

static int nomem(struct gw_parser *p, const struct gw_origin *at)
{
    return gw_fail(p, at, FCGIC_E_NOMEM, "out of memory");
}

static void expr_free(void *e)
{
    fcgic_expr_free(e);
}

static struct gw_require_build *node_new(struct gw_parser *p, enum gw_authz_kind kind, const struct gw_origin *at)
{
    struct gw_require_build *b = gw_alloc(p->cfg, sizeof(*b));
    if (b != NULL) {
        b->r.kind = kind;
        b->r.at = *at;
    }
    return b;
}

/* The container a Require line or section at this point goes into: the
 * open Require section, else the scope's own list (made on first use). */
static struct gw_require_build *container(struct gw_parser *p, const struct gw_origin *at)
{
    struct gw_frame *f = gw_scope(p);
    if (f != NULL && f->authz != NULL)
        return f->authz;
    struct gw_dir_build *d = gw_scope_dir(p);
    if (d->authz == NULL) {
        d->authz = node_new(p, GW_AUTHZ_ANY, at);
        if (d->authz == NULL)
            return NULL;
        d->conf->require = &d->authz->r;
        d->conf->set |= GW_DC_REQUIRE;
    }
    return d->authz;
}

static int add_child(struct gw_parser *p, const struct gw_origin *at, struct gw_require *child)
{
    struct gw_require_build *c = container(p, at);
    if (c == NULL)
        return nomem(p, at);
    if (child->negate && c->r.kind != GW_AUTHZ_ALL)
        return gw_fail(p, at, FCGIC_E_INVAL, "negative Require directive has no effect in <%s> directive",
                       c->r.kind == GW_AUTHZ_NONE ? "RequireNone" : "RequireAny");
    return gw_vec_push_ptr(p->cfg, &c->children, child) == 0 ? 0 : nomem(p, at);
}

static bool ip_chars(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!gw_isdigit((unsigned char)*s) && !strchr("abcdefABCDEF.:/", *s))
            return false;
    return true;
}

/* Compile src into b; no error is recorded (the caller words it). */
static int new_expr(struct gw_parser *p, const char *src, struct gw_require_build *b, struct fcgic_expr_error *xe)
{
    struct fcgic_expr_limits lim = {0};
    lim.no_jit = p->no_jit;
    struct fcgic_expr *e = NULL;
    int rc = fcgic_expr_new(&e, src, strlen(src), 0, &lim, xe, NULL);
    if (rc != 0)
        return rc;
    if (gw_on_free(p->cfg, expr_free, e) != 0)
        return FCGIC_E_NOMEM;
    b->r.expr = e;
    return 0;
}

static int compile_expr(struct gw_parser *p, const struct gw_cmd *cmd, const char *src, struct gw_require_build *b,
                        const char *what)
{
    struct fcgic_expr_error xe;
    int rc = new_expr(p, src, b, &xe);
    if (rc == FCGIC_E_NOMEM)
        return nomem(p, &cmd->at);
    return rc == 0 ? 0 : gw_fail(p, &cmd->at, rc, "%s: %s", what, xe.message);
}

/* Apache's "ip a b c" as "-R 'a' || -R 'b' || -R 'c'". */
static int compile_ip(struct gw_parser *p, const struct gw_cmd *cmd, int first, struct gw_require_build *b)
{
    if (first >= cmd->argc)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Require ip: IP address or network expected");
    char src[4096];
    size_t n = 0;
    for (int i = first; i < cmd->argc; i++) {
        const char *a = cmd->argv[i];
        if (!ip_chars(a))
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "ip address '%s' appears to be invalid", a);
        int k = snprintf(src + n, sizeof(src) - n, "%s-R '%s'", i > first ? " || " : "", a);
        if (k < 0 || (size_t)k >= sizeof(src) - n)
            return gw_fail(p, &cmd->at, FCGIC_E_RANGE, "Require ip: too many addresses on one line");
        n += (size_t)k;
    }
    struct fcgic_expr_error xe;
    int rc = new_expr(p, src, b, &xe);
    if (rc == FCGIC_E_NOMEM)
        return nomem(p, &cmd->at);
    for (int i = first; rc != 0 && i < cmd->argc; i++) {
        /* name the address the engine refused */
        char one[256];
        snprintf(one, sizeof(one), "-R '%s'", cmd->argv[i]);
        struct gw_require_build probe;
        memset(&probe, 0, sizeof(probe));
        if (new_expr(p, one, &probe, &xe) != 0)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "ip address '%s' appears to be invalid", cmd->argv[i]);
    }
    return rc == 0 ? 0 : gw_fail(p, &cmd->at, rc, "Require ip: %s", xe.message);
}

/* "method GET POST" as "%{REQUEST_METHOD} in {'GET', 'POST'}". */
static int compile_method(struct gw_parser *p, const struct gw_cmd *cmd, int first, struct gw_require_build *b)
{
    char src[2048] = "%{REQUEST_METHOD} in {";
    size_t n = strlen(src);
    if (first >= cmd->argc)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Require method: a method name is expected");
    for (int i = first; i < cmd->argc; i++) {
        for (const char *c = cmd->argv[i]; *c; c++)
            if (!gw_isalpha((unsigned char)*c) && *c != '-' && *c != '_')
                return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Require method: '%s' is not a method", cmd->argv[i]);
        int k = snprintf(src + n, sizeof(src) - n, "%s'%s'", i > first ? ", " : "", cmd->argv[i]);
        if (k < 0 || (size_t)k >= sizeof(src) - n)
            return gw_fail(p, &cmd->at, FCGIC_E_RANGE, "Require method: too many methods on one line");
        n += (size_t)k;
    }
    if (n + 2 > sizeof(src))
        return gw_fail(p, &cmd->at, FCGIC_E_RANGE, "Require method: too many methods on one line");
    memcpy(src + n, "}", 2);
    return compile_expr(p, cmd, src, b, "Require method");
}

static int require_all(struct gw_parser *p, const struct gw_cmd *cmd, bool negate, struct gw_require_build *b)
{
    if (negate)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Require not all: use Require all denied or all granted");
    if (cmd->argc == 2 && gw_streq_ci(cmd->argv[1], "granted"))
        b->r.kind = GW_AUTHZ_ALL_GRANTED;
    else if (cmd->argc == 2 && gw_streq_ci(cmd->argv[1], "denied"))
        b->r.kind = GW_AUTHZ_ALL_DENIED;
    else
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "'Require all' accepts only 'granted' or 'denied'");
    return 0;
}

int gw_dir_require(struct gw_parser *p, const struct gw_cmd *cmd)
{
    bool negate = gw_streq_ci(cmd->argv[0], "not");
    int at = negate ? 1 : 0;
    if (at >= cmd->argc)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Require not: an authorization provider is expected");
    const char *provider = cmd->argv[at];
    struct gw_require_build *b = node_new(p, GW_AUTHZ_EXPR, &cmd->at);
    if (b == NULL)
        return nomem(p, &cmd->at);
    b->r.negate = negate;
    int rc;
    if (gw_streq_ci(provider, "all"))
        rc = require_all(p, cmd, negate, b);
    else if (gw_streq_ci(provider, "ip"))
        rc = compile_ip(p, cmd, at + 1, b);
    else if (gw_streq_ci(provider, "local") && cmd->argc == at + 1)
        rc = compile_expr(p, cmd, "-R '127.0.0.0/8' || -R '::1'", b, "Require local");
    else if (gw_streq_ci(provider, "method"))
        rc = compile_method(p, cmd, at + 1, b);
    else if (gw_streq_ci(provider, "expr") && cmd->argc == at + 2)
        rc = compile_expr(p, cmd, cmd->argv[at + 1], b, "Cannot parse expression in require line");
    else
        rc = gw_fail(p, &cmd->at, FCGIC_E_NOTSUP,
                     "Require %s is not supported: the gateway knows all, ip, local, method and expr "
                     "(authentication belongs in front of the gateway or in the application)",
                     provider);
    return rc == 0 ? add_child(p, &cmd->at, &b->r) : rc;
}

int gw_open_authz(struct gw_parser *p, struct gw_frame *f, enum gw_authz_kind kind, int argc)
{
    if (argc != 0)
        return gw_fail(p, &f->at, FCGIC_E_INVAL, "<%s> does not take an argument", f->name);
    struct gw_require_build *b = node_new(p, kind, &f->at);
    if (b == NULL)
        return nomem(p, &f->at);
    int rc = add_child(p, &f->at, &b->r);
    if (rc != 0)
        return rc;
    struct gw_frame *scope = gw_scope(p);
    f->dir = scope != NULL ? scope->dir : &p->server_dir;
    f->authz = b;
    f->ctx = GW_CTX_AUTHZ;
    return 0;
}

int gw_close_authz(struct gw_parser *p, struct gw_frame *f)
{
    struct gw_require_build *b = f->authz;
    b->r.children = b->children.items;
    b->r.n_children = b->children.n;
    if (b->r.n_children == 0)
        return gw_fail(p, &f->at, FCGIC_E_INVAL, "<%s> directive contains no authorization directives", f->name);
    bool positive = false;
    for (size_t i = 0; i < b->r.n_children; i++)
        positive = positive || !b->r.children[i]->negate;
    if (b->r.kind == GW_AUTHZ_ALL && !positive)
        return gw_fail(p, &f->at, FCGIC_E_INVAL,
                       "<RequireAll> directive contains only negative authorization "
                       "directives");
    return 0;
}

void gw_authz_finish(struct gw_dir_build *d)
{
    if (d->authz != NULL) {
        d->authz->r.children = d->authz->children.items;
        d->authz->r.n_children = d->authz->children.n;
    }
}

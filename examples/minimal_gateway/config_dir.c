/* <Directory>, <DirectoryMatch>, <If>/<ElseIf>/<Else>, and the directives
 * that only say how files are served (Options, AllowOverride None). */
#include <stdio.h>
#include <string.h>

#include "config_int.h"

static int nomem(struct gw_parser *p, const struct gw_origin *at)
{
    return gw_fail(p, at, FCGIC_E_NOMEM, "out of memory");
}

/* A new section with its own per-directory values. */
static struct gw_section *section_new(struct gw_parser *p, struct gw_frame *f, enum gw_section_kind kind,
                                      const char *arg, enum gw_ctx_kind ctx)
{
    struct gw_section *s = gw_alloc(p->cfg, sizeof(*s));
    struct gw_dir_build *d = gw_alloc(p->cfg, sizeof(*d));
    if (s == NULL || d == NULL || gw_vec_push_ptr(p->cfg, &p->sections_dir, d) != 0)
        return NULL;
    s->kind = kind;
    s->at = f->at;
    s->arg = gw_strdup(p->cfg, arg);
    if (s->arg == NULL)
        return NULL;
    d->conf = &s->conf;
    f->dir = d;
    f->section = s;
    f->ctx = ctx;
    return s;
}

static bool has_wildcard(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* A wildcard <Directory> as a regex on the directory path: the pattern
 * covers whole components and applies below them too. */
static const char *wildcard_dir_regex(struct gw_parser *p, const char *path)
{
    char *re = gw_wildcard_to_regex(p->cfg, path);
    if (re == NULL)
        return NULL;
    size_t n = strlen(re);
    char *out = gw_alloc(p->cfg, n + 8);
    if (out == NULL)
        return NULL;
    memcpy(out, re, n - 1); /* without the final '$' */
    memcpy(out + n - 1, "(/.*)?$", 8);
    return out;
}

static unsigned count_slashes(const char *s)
{
    unsigned n = 0;
    for (; *s; s++)
        n += *s == '/';
    return n;
}

int gw_open_directory(struct gw_parser *p, struct gw_frame *f, bool match, int argc, char **argv)
{
    bool tilde = argc == 2 && strcmp(argv[0], "~") == 0;
    if (argc != 1 && !tilde)
        return gw_fail(p, &f->at, FCGIC_E_INVAL, "<%s> takes one argument (or ~ and a regex)", f->name);
    const char *arg = argv[argc - 1];
    match = match || tilde;
    if (!match && arg[0] != '/')
        return gw_fail(p, &f->at, FCGIC_E_INVAL, "<%s> needs an absolute path: %s", f->name, arg);
    struct gw_section *s = section_new(p, f, match ? GW_SEC_DIRECTORY_MATCH : GW_SEC_DIRECTORY, arg, GW_CTX_DIRECTORY);
    if (s == NULL)
        return nomem(p, &f->at);
    if (!match) { /* sorted by depth, wildcards too, as Apache does */
        size_t n = strlen(arg);
        while (n > 1 && s->arg[n - 1] == '/')
            ((char *)s->arg)[--n] = '\0';
        s->depth = count_slashes(s->arg);
    }
    if (match || has_wildcard(arg)) {
        const char *pattern = match ? arg : wildcard_dir_regex(p, s->arg);
        char msg[256];
        if (pattern == NULL)
            return nomem(p, &f->at);
        int rc = gw_regex_compile(p->cfg, pattern, false, &s->regex, msg, sizeof(msg));
        if (rc != 0)
            return gw_fail(p, &f->at, rc, "Regex could not be compiled: %s", msg);
    }
    return gw_vec_push_ptr(p->cfg, &p->directories, s) == 0 ? 0 : nomem(p, &f->at);
}

/* ------------------------------------------------------------------------ */
/* <If>, <ElseIf>, <Else>                                                   */

static void expr_free(void *e)
{
    fcgic_expr_free(e);
}

static int compile_condition(struct gw_parser *p, struct gw_frame *f, const char *src, struct gw_section *s)
{
    struct fcgic_expr_limits lim = {0};
    lim.no_jit = p->no_jit;
    struct fcgic_expr_error xe;
    struct fcgic_expr *e = NULL;
    int rc = fcgic_expr_new(&e, src, strlen(src), 0, &lim, &xe, NULL);
    if (rc != 0)
        return gw_fail(p, &f->at, rc, "Cannot parse condition clause: %s", xe.message);
    if (gw_on_free(p->cfg, expr_free, e) != 0)
        return nomem(p, &f->at);
    s->cond = e;
    return 0;
}

int gw_open_if(struct gw_parser *p, struct gw_frame *f, int argc, char **argv)
{
    bool is_else = strcmp(f->name, "Else") == 0, is_if = strcmp(f->name, "If") == 0;
    if (is_else && argc != 0)
        return gw_fail(p, &f->at, FCGIC_E_INVAL, "<Else> does not take an argument");
    if (!is_else && argc != 1)
        return gw_fail(p, &f->at, FCGIC_E_INVAL,
                       "<%s> takes one argument, Container for directives to be "
                       "conditionally applied",
                       f->name);
    struct gw_section *prev = p->last_if;
    if (!is_if && prev == NULL)
        return gw_fail(p, &f->at, FCGIC_E_INVAL, "<%s> not preceded by <If> or <ElseIf>", f->name);
    p->last_if = NULL;
    p->nframes--; /* the new frame (pushed already) is not its own parent */
    struct gw_dir_build *parent = gw_scope_dir(p);
    p->nframes++;
    struct gw_section *s = section_new(p, f, GW_SEC_IF, is_else ? "" : argv[0], GW_CTX_IF);
    if (s == NULL)
        return nomem(p, &f->at);
    if (!is_else) {
        int rc = compile_condition(p, f, argv[0], s);
        if (rc != 0)
            return rc;
    }
    if (!is_if) {
        prev->next = s;
        return 0;
    }
    return gw_vec_push_ptr(p->cfg, &parent->ifs, s) == 0 ? 0 : nomem(p, &f->at);
}

const struct gw_section *gw_enclosing_files(struct gw_parser *p)
{
    for (unsigned i = p->nframes; i > 0; i--) {
        const struct gw_section *s = p->frames[i - 1].section;
        if (s != NULL && (s->kind == GW_SEC_FILES || s->kind == GW_SEC_FILES_MATCH))
            return s;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Options, AllowOverride                                                   */

static bool known_option(const char *o)
{
    static const char *const names[] = {
        "None",    "All",        "Indexes",   "Includes", "IncludesNOEXEC", "FollowSymLinks", "SymLinksIfOwnerMatch",
        "ExecCGI", "MultiViews", "RunScripts"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (gw_streq_ci(o, names[i]))
            return true;
    return false;
}

/* Checked as Apache checks them, then ignored: they say how Apache itself
 * serves files (listings, symlinks, CGI, includes), which the gateway never
 * does. */
int gw_dir_options(struct gw_parser *p, const struct gw_cmd *cmd)
{
    int signed_n = 0;
    for (int i = 0; i < cmd->argc; i++) {
        const char *o = cmd->argv[i];
        bool sign = o[0] == '+' || o[0] == '-';
        signed_n += sign;
        if (!known_option(o + sign))
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Illegal option %s", o + sign);
        if (sign && (gw_streq_ci(o + 1, "None") || gw_streq_ci(o + 1, "All")))
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Illegal option %s", o);
    }
    if (signed_n != 0 && signed_n != cmd->argc)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Either all Options must start with + or -, or no Option may.");
    return 0;
}

int gw_dir_allow_override(struct gw_parser *p, const struct gw_cmd *cmd)
{
    if (cmd->argc == 1 && gw_streq_ci(cmd->argv[0], "None"))
        return 0;
    return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP,
                   "AllowOverride %s is not supported: no .htaccess file is read; use AllowOverride None",
                   cmd->argv[0]);
}

/* ------------------------------------------------------------------------ */
/* Order                                                                    */

/* Apache's order: <Directory> paths and wildcards by number of
 * components, shortest first, then <DirectoryMatch>; file order among
 * equals (a stable insertion sort). */
static bool dir_before(const struct gw_section *x, const struct gw_section *y)
{
    bool rx = x->kind == GW_SEC_DIRECTORY_MATCH, ry = y->kind == GW_SEC_DIRECTORY_MATCH;
    if (rx != ry)
        return !rx;
    return !rx && x->depth < y->depth;
}

int gw_directories_finish(struct gw_parser *p)
{
    struct gw_section **d = p->directories.items;
    for (size_t i = 1; i < p->directories.n; i++) {
        struct gw_section *s = d[i];
        size_t j = i;
        for (; j > 0 && dir_before(s, d[j - 1]); j--)
            d[j] = d[j - 1];
        d[j] = s;
    }
    return gw_error_docs_load(p);
}

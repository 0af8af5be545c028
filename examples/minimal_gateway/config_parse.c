/* The parser: directives dispatched through the table, sections opened and
 * closed with Apache's checks, <IfModule>, and Include. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_int.h"

/* Largest configuration file read. */
#define GW_MAX_FILE (16u * 1024u * 1024u)

int gw_fail(struct gw_parser *p, const struct gw_origin *at, int code, const char *fmt, ...)
{
    if (p->code != 0)
        return p->code;
    p->code = code;
    if (p->err != NULL) {
        snprintf(p->err->file, sizeof(p->err->file), "%s", at && at->file ? at->file : "");
        p->err->line = at ? at->line : 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

struct gw_frame *gw_scope(struct gw_parser *p)
{
    for (unsigned i = p->nframes; i > 0; i--)
        if (p->frames[i - 1].ctx != 0)
            return &p->frames[i - 1];
    return NULL;
}

struct gw_dir_build *gw_scope_dir(struct gw_parser *p)
{
    struct gw_frame *f = gw_scope(p);
    return f ? f->dir : &p->server_dir;
}

static bool skipping(const struct gw_parser *p)
{
    return p->nframes > 0 && p->frames[p->nframes - 1].skip;
}

/* ------------------------------------------------------------------------ */
/* Sections                                                                 */

/* Modules the gateway has built in, for <IfModule>: both spellings. */
static bool module_builtin(const char *m)
{
    static const char *const mods[] = {
        "core", "http", "log_config", "setenvif", "env", "dir", "status", "proxy", "proxy_fcgi",
        "proxy_balancer", "lbmethod_byrequests", "lbmethod_bybusyness", "lbmethod_bytraffic",
        "mpm_event", "unixd", "so",
    };
    char name[64];
    size_t n = strlen(m);
    if (n >= sizeof(name))
        return false;
    if (gw_prefix_ci(m, "mod_") && n > 6 && gw_streq_ci(m + n - 2, ".c")) {
        memcpy(name, m + 4, n - 6);
        name[n - 6] = '\0';
    } else if (n > 7 && gw_streq_ci(m + n - 7, "_module")) {
        memcpy(name, m, n - 7);
        name[n - 7] = '\0';
    } else {
        return false;
    }
    for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
        if (gw_streq_ci(name, mods[i]))
            return true;
    return false;
}

static struct gw_dir_build *dir_build_new(struct gw_parser *p)
{
    struct gw_dir_build *d = gw_alloc(p->cfg, sizeof(*d));
    if (d == NULL || gw_vec_push_ptr(p->cfg, &p->sections_dir, d) != 0)
        return NULL;
    return d;
}

static int open_dir_section(struct gw_parser *p, struct gw_frame *f, enum gw_section_kind kind, int argc,
                            char **argv)
{
    const struct gw_origin *at = &f->at;
    struct gw_section *s = gw_alloc(p->cfg, sizeof(*s));
    f->dir = dir_build_new(p);
    if (s == NULL || f->dir == NULL)
        return gw_fail(p, at, FCGIC_E_NOMEM, "out of memory");
    f->dir->conf = &s->conf;
    bool tilde = argc == 2 && strcmp(argv[0], "~") == 0;
    if (argc != 1 && !tilde)
        return gw_fail(p, at, FCGIC_E_INVAL, "<%s> takes one argument (or ~ and a regex)", f->name);
    if (tilde)
        kind = kind == GW_SEC_LOCATION ? GW_SEC_LOCATION_MATCH : kind == GW_SEC_FILES ? GW_SEC_FILES_MATCH : kind;
    struct gw_frame *outer = gw_scope(p); /* a <Directory> around a <Files>, or NULL */
    s->parent = outer != NULL ? outer->section : NULL;
    const char *arg = argv[argc - 1];
    s->kind = kind;
    s->at = *at;
    s->arg = gw_strdup(p->cfg, arg);
    if (s->arg == NULL)
        return gw_fail(p, at, FCGIC_E_NOMEM, "out of memory");
    if (kind == GW_SEC_LOCATION && arg[0] != '/' && strcmp(arg, "*") != 0)
        return gw_fail(p, at, FCGIC_E_INVAL, "<%s> path must start with '/': %s", f->name, arg);
    if (kind != GW_SEC_LOCATION) {
        const char *pattern = kind == GW_SEC_FILES ? gw_wildcard_to_regex(p->cfg, arg) : arg;
        char msg[256];
        if (pattern == NULL)
            return gw_fail(p, at, FCGIC_E_NOMEM, "out of memory");
        int rc = gw_regex_compile(p->cfg, pattern, false, &s->regex, msg, sizeof(msg));
        if (rc != 0)
            return gw_fail(p, at, rc, "Regex could not be compiled: %s", msg);
    }
    f->section = s;
    f->ctx = GW_CTX_SECTION;
    struct gw_vec *list = kind == GW_SEC_LOCATION || kind == GW_SEC_LOCATION_MATCH ? &p->locations : &p->files;
    if (gw_vec_push_ptr(p->cfg, list, s) != 0)
        return gw_fail(p, at, FCGIC_E_NOMEM, "out of memory");
    return 0;
}

static int open_if_module(struct gw_parser *p, struct gw_frame *f, int argc, char **argv)
{
    if (argc != 1)
        return gw_fail(p, &f->at, FCGIC_E_INVAL, "<IfModule> takes one argument, Container for directives "
                                                 "based on existence of specified modules");
    const char *m = argv[0];
    bool neg = m[0] == '!';
    if (neg)
        m++;
    if (m[0] == '\0')
        return gw_fail(p, &f->at, FCGIC_E_INVAL, "<IfModule> directive requires additional arguments");
    f->skip = module_builtin(m) == neg;
    return 0;
}

static const char *const section_names[] = {"Location", "LocationMatch", "Files", "FilesMatch", "Proxy",
                                            "IfModule", "Directory", "DirectoryMatch", "If", "ElseIf", "Else",
                                            "RequireAll", "RequireAny", "RequireNone"};

static int section_args(struct gw_parser *p, char *rest, const struct gw_origin *at, const char *name,
                        char **argv, int *argc)
{
    char *gt = strrchr(rest, '>');
    if (gt == NULL)
        return gw_fail(p, at, FCGIC_E_INVAL, "<%s> directive missing closing '>'", name);
    for (const char *t = gt + 1; *t; t++)
        if (!gw_isspace((unsigned char)*t))
            return gw_fail(p, at, FCGIC_E_INVAL, "text after the closing '>' of <%s>", name);
    *gt = '\0';
    int n = gw_lex_split(p, rest, argv, GW_MAX_ARGS, at);
    if (n < 0)
        return n;
    if (n == 0)
        return gw_fail(p, at, FCGIC_E_INVAL, "<%s> directive requires additional arguments", name);
    *argc = n;
    return 0;
}

/* Arguments of a section that may have none (<Else>, <RequireAll>). */
static int section_args_optional(struct gw_parser *p, char *rest, const struct gw_origin *at, const char *name,
                                 char **argv, int *argc)
{
    char *gt = strrchr(rest, '>');
    if (gt == NULL)
        return gw_fail(p, at, FCGIC_E_INVAL, "<%s> directive missing closing '>'", name);
    for (const char *t = gt + 1; *t; t++)
        if (!gw_isspace((unsigned char)*t))
            return gw_fail(p, at, FCGIC_E_INVAL, "text after the closing '>' of <%s>", name);
    *gt = '\0';
    int n = gw_lex_split(p, rest, argv, GW_MAX_ARGS, at);
    if (n < 0)
        return n;
    *argc = n;
    return 0;
}

static int refuse(struct gw_parser *p, const struct gw_origin *at, const char *shown, const char *key)
{
    const char *hint = gw_refused_hint(key);
    if (hint != NULL)
        return gw_fail(p, at, FCGIC_E_NOTSUP, "%s is not supported: %s", shown, hint);
    return gw_fail(p, at, FCGIC_E_NOTSUP,
                   "Invalid command '%s', perhaps misspelled or defined by a module not included in the "
                   "server configuration",
                   shown);
}

/* Which context a section may open in: every section at server level;
 * <If> in any per-directory scope; Require containers where Require may be. */
static int section_allowed(struct gw_parser *p, const struct gw_origin *at, const char *name)
{
    struct gw_frame *scope = gw_scope(p);
    bool authz = gw_prefix_ci(name, "Require");
    if (authz && scope == NULL) /* as Require: a per-directory section is needed */
        return gw_fail(p, at, FCGIC_E_INVAL, "<%s> not allowed here: only inside a section", name);
    if (strcmp(name, "IfModule") == 0 || scope == NULL)
        return 0;
    unsigned here = (unsigned)scope->ctx;
    bool is_if = strcmp(name, "If") == 0 || strcmp(name, "ElseIf") == 0 || strcmp(name, "Else") == 0;
    if (is_if && (here & (GW_CTX_SECTION | GW_CTX_DIRECTORY | GW_CTX_IF)))
        return 0;
    if ((strcmp(name, "Files") == 0 || strcmp(name, "FilesMatch") == 0) && here == GW_CTX_DIRECTORY)
        return 0; /* as Apache: <Files> inside <Directory> */
    if (authz && (here & (GW_CTX_DIR | GW_CTX_AUTHZ)))
        return 0;
    return gw_fail(p, at, FCGIC_E_INVAL, "<%s cannot occur within <%s> section", name, scope->name);
}

/* Sections that are not Location, Files or Proxy. */
static int open_other(struct gw_parser *p, struct gw_frame *f, const char *canon, int argc, char **argv)
{
    if (strcmp(canon, "Directory") == 0 || strcmp(canon, "DirectoryMatch") == 0)
        return gw_open_directory(p, f, strcmp(canon, "DirectoryMatch") == 0, argc, argv);
    if (strcmp(canon, "If") == 0 || strcmp(canon, "ElseIf") == 0 || strcmp(canon, "Else") == 0)
        return gw_open_if(p, f, argc, argv);
    enum gw_authz_kind k = strcmp(canon, "RequireAll") == 0   ? GW_AUTHZ_ALL
                           : strcmp(canon, "RequireNone") == 0 ? GW_AUTHZ_NONE
                                                               : GW_AUTHZ_ANY;
    return gw_open_authz(p, f, k, argc);
}

static int open_section(struct gw_parser *p, char *text, const struct gw_origin *at)
{
    char *name = text + 1;
    size_t n = 0;
    while (name[n] && !gw_isspace((unsigned char)name[n]) && name[n] != '>')
        n++;
    char saved = name[n];
    name[n] = '\0';
    const char *canon = NULL;
    for (size_t i = 0; i < sizeof(section_names) / sizeof(section_names[0]); i++)
        if (gw_streq_ci(name, section_names[i]))
            canon = section_names[i];
    if (canon == NULL && skipping(p))
        canon = name;
    if (canon == NULL) {
        char shown[80];
        snprintf(shown, sizeof(shown), "<%s>", name);
        char key[80];
        snprintf(key, sizeof(key), "<%s", name);
        return refuse(p, at, shown, key);
    }
    if (p->nframes == GW_MAX_FRAMES)
        return gw_fail(p, at, FCGIC_E_RANGE, "sections nested more than %d deep", GW_MAX_FRAMES);
    struct gw_frame *f = &p->frames[p->nframes];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", canon);
    f->at = *at;
    name[n] = saved;
    char *argv[GW_MAX_ARGS];
    int argc = 0;
    if (skipping(p)) {
        /* Inside a false <IfModule>: only the nesting counts. */
        f->skip = true;
        p->nframes++;
        return 0;
    }
    bool bare = strcmp(canon, "Else") == 0 || gw_prefix_ci(canon, "Require");
    int rc = bare ? section_args_optional(p, name + n, at, canon, argv, &argc)
                  : section_args(p, name + n, at, canon, argv, &argc);
    if (rc == 0)
        rc = section_allowed(p, at, canon);
    if (rc != 0)
        return rc;
    p->nframes++;
    if (strcmp(canon, "IfModule") == 0)
        return open_if_module(p, f, argc, argv);
    if (strcmp(canon, "Proxy") == 0) {
        if (argc < 1)
            return gw_fail(p, at, FCGIC_E_INVAL, "<Proxy> takes one argument, Container for directives "
                                                 "affecting resources located in the proxied location");
        f->ctx = GW_CTX_PROXY;
        rc = gw_proxy_section(p, at, argv[0], f);
        /* <Proxy url key=value ...>: parameters as ProxySet's */
        return rc == 0 && argc > 1 ? gw_proxy_section_params(p, at, f, argv + 1, argc - 1) : rc;
    }
    static const enum gw_section_kind kinds[] = {GW_SEC_LOCATION, GW_SEC_LOCATION_MATCH, GW_SEC_FILES,
                                                 GW_SEC_FILES_MATCH};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(canon, section_names[i]) == 0)
            return open_dir_section(p, f, kinds[i], argc, argv);
    return open_other(p, f, canon, argc, argv);
}

static int close_section(struct gw_parser *p, char *text, const struct gw_origin *at)
{
    char *name = text + 2;
    char *gt = strchr(name, '>');
    size_t n = gt ? (size_t)(gt - name) : strlen(name);
    if (gt == NULL || gt[1] != '\0')
        return gw_fail(p, at, FCGIC_E_INVAL, "%s: a closing tag is </Name> alone on its line", text);
    name[n] = '\0';
    if (p->nframes == 0)
        return gw_fail(p, at, FCGIC_E_INVAL, "</%s> without matching <%s> section", name, name);
    struct gw_frame *f = &p->frames[p->nframes - 1];
    if (!gw_streq_ci(name, f->name))
        return gw_fail(p, at, FCGIC_E_INVAL, "Expected </%s> but saw </%s> (<%s> opened at %s:%u)", f->name,
                       name, f->name, f->at.file, f->at.line);
    p->nframes--;
    if (f->authz != NULL)
        return gw_close_authz(p, f);
    if (f->section != NULL && f->section->kind == GW_SEC_IF && f->section->cond != NULL)
        p->last_if = f->section; /* an <ElseIf> or <Else> may follow */
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Include                                                                  */

static int read_file(struct gw_parser *p, const char *path, const struct gw_origin *from, char **buf,
                     size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return gw_fail(p, from, FCGIC_E_NOT_FOUND, "Could not open configuration file %s: %s", path,
                       strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t got;
    while (b != NULL && (got = fread(b + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n > GW_MAX_FILE)
            break;
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    bool bad = ferror(fp) != 0;
    fclose(fp);
    if (b == NULL)
        return gw_fail(p, from, FCGIC_E_NOMEM, "out of memory");
    if (bad || n > GW_MAX_FILE) {
        free(b);
        return gw_fail(p, from, bad ? FCGIC_E_NOT_FOUND : FCGIC_E_RANGE, bad ? "cannot read %s" : "%s is too big",
                       path);
    }
    *buf = b;
    *len = n;
    return 0;
}

int gw_parse_file(struct gw_parser *p, const char *path, const struct gw_origin *from)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file(p, path, from, &buf, &len);
    if (rc != 0)
        return rc;
    struct gw_lexer lx = {gw_strdup(p->cfg, path), buf, len, 0, 1};
    if (lx.name == NULL)
        rc = gw_fail(p, from, FCGIC_E_NOMEM, "out of memory");
    else
        rc = gw_parse_lexer(p, &lx);
    free(buf);
    return rc;
}

static bool has_glob_chars(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* Is path (absolute) inside p->base_dir? */
static bool confined(const struct gw_parser *p, const char *path)
{
    size_t n = strlen(p->base_dir);
    if (strncmp(path, p->base_dir, n) != 0 || (path[n] != '/' && path[n] != '\0'))
        return false;
    return strstr(path, "/../") == NULL && (strlen(path) < 3 || strcmp(path + strlen(path) - 3, "/..") != 0);
}

static int include_one(struct gw_parser *p, const char *path, const struct gw_origin *at, bool optional);

static int include_dir(struct gw_parser *p, const char *dir, const struct gw_origin *at)
{
    char pattern[4096];
    if ((size_t)snprintf(pattern, sizeof(pattern), "%s/*", dir) >= sizeof(pattern))
        return gw_fail(p, at, FCGIC_E_RANGE, "path too long: %s", dir);
    glob_t g;
    int grc = glob(pattern, 0, NULL, &g);
    int rc = 0;
    for (size_t i = 0; grc == 0 && rc == 0 && i < g.gl_pathc; i++)
        rc = include_one(p, g.gl_pathv[i], at, false);
    if (grc == 0)
        globfree(&g);
    return rc;
}

static int include_one(struct gw_parser *p, const char *path, const struct gw_origin *at, bool optional)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (optional)
            return 0;
        return gw_fail(p, at, FCGIC_E_NOT_FOUND, "Could not open configuration file %s: %s", path,
                       strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        p->depth++;
        int rc = p->depth > GW_CONFIG_MAX_INCLUDE_DEPTH
                     ? gw_fail(p, at, FCGIC_E_RANGE,
                               "Exceeded the maximum include directory nesting level of %u. You have "
                               "probably a recursion somewhere.",
                               GW_CONFIG_MAX_INCLUDE_DEPTH)
                     : include_dir(p, path, at);
        p->depth--;
        return rc;
    }
    /* A section must close in the file that opens it: gw_parse_lexer()
     * refuses closers of the sections open around the Include. */
    p->depth++;
    int rc = p->depth > GW_CONFIG_MAX_INCLUDE_DEPTH
                 ? gw_fail(p, at, FCGIC_E_RANGE,
                           "Exceeded the maximum include directory nesting level of %u. You have probably "
                           "a recursion somewhere.",
                           GW_CONFIG_MAX_INCLUDE_DEPTH)
                 : gw_parse_file(p, path, at);
    p->depth--;
    return rc;
}

static int run_include(struct gw_parser *p, const struct gw_cmd *cmd)
{
    bool optional = gw_streq_ci(cmd->name, "IncludeOptional");
    if (!p->includes)
        return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP, "%s is not available when parsing a buffer", cmd->d->name);
    char path[4096];
    const char *arg = cmd->argv[0];
    int n = arg[0] == '/' ? snprintf(path, sizeof(path), "%s", arg)
                          : snprintf(path, sizeof(path), "%s/%s", p->base_dir, arg);
    if (n < 0 || (size_t)n >= sizeof(path))
        return gw_fail(p, &cmd->at, FCGIC_E_RANGE, "path too long: %s", arg);
    if (p->confine && !confined(p, path))
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s %s: outside %s", cmd->d->name, arg, p->base_dir);
    if (!has_glob_chars(path))
        return include_one(p, path, &cmd->at, optional);
    glob_t g;
    int grc = glob(path, 0, NULL, &g);
    if (grc == GLOB_NOMATCH)
        return optional ? 0
                        : gw_fail(p, &cmd->at, FCGIC_E_NOT_FOUND, "No matches for the wildcard '%s' in '%s', "
                                                                  "failing (use IncludeOptional if required)",
                                  strrchr(path, '/') + 1, path);
    if (grc != 0)
        return gw_fail(p, &cmd->at, FCGIC_E_NOT_FOUND, "%s: cannot read %s", cmd->d->name, path);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
        rc = include_one(p, g.gl_pathv[i], &cmd->at, optional);
    globfree(&g);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Directives                                                               */

static const char *count_words(int n)
{
    static const char *const w[] = {"no", "one", "two", "three"};
    return n >= 0 && n < 4 ? w[n] : "several";
}

static int check_count(struct gw_parser *p, const struct gw_cmd *cmd)
{
    const struct gw_directive *d = cmd->d;
    if (cmd->argc >= d->min_args && (d->max_args < 0 || cmd->argc <= d->max_args))
        return 0;
    if (d->max_args < 0)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s requires at least %s argument%s, %s", d->name,
                       count_words(d->min_args), d->min_args == 1 ? "" : "s", d->usage);
    if (d->min_args == d->max_args)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s takes %s argument%s, %s", d->name,
                       count_words(d->min_args), d->min_args == 1 ? "" : "s", d->usage);
    /* Apache's words for TAKE23 and TAKE123 (TAKE12 says "1-2") */
    if (d->max_args == 3 && d->min_args >= 1)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s takes %s arguments, %s", d->name,
                       d->min_args == 2 ? "two or three" : "one, two or three", d->usage);
    return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s takes %d-%d arguments, %s", d->name, d->min_args,
                   d->max_args, d->usage);
}

static int check_context(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_frame *scope = gw_scope(p);
    unsigned here = scope ? (unsigned)scope->ctx : GW_CTX_SERVER;
    if (cmd->d->ctx & here)
        return 0;
    if (scope == NULL)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s not allowed here: only inside a section", cmd->d->name);
    return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s cannot occur within <%s> section", cmd->d->name,
                   scope->name);
}

static int run_directive(struct gw_parser *p, char *text, const struct gw_origin *at)
{
    char *argv[GW_MAX_ARGS + 1];
    int argc = gw_lex_split(p, text, argv, GW_MAX_ARGS + 1, at);
    if (argc < 0)
        return argc;
    struct gw_cmd cmd = {NULL, argv[0], argv + 1, argc - 1, *at};
    cmd.d = gw_directive_find(argv[0]);
    if (cmd.d == NULL)
        return refuse(p, at, argv[0], argv[0]);
    int rc = check_count(p, &cmd);
    if (rc == 0)
        rc = check_context(p, &cmd);
    if (rc != 0)
        return rc;
    if (cmd.d->run == NULL)
        return run_include(p, &cmd);
    return cmd.d->run(p, &cmd);
}

int gw_parse_lexer(struct gw_parser *p, struct gw_lexer *lx)
{
    unsigned base = p->nframes;
    struct gw_line ln;
    int rc;
    while ((rc = gw_lex_next(p, lx, &ln)) > 0) {
        struct gw_origin at = {lx->name, ln.line};
        if (!gw_prefix_ci(ln.text, "<ElseIf") && !gw_prefix_ci(ln.text, "<Else>") && !gw_prefix_ci(ln.text, "<Else "))
            p->last_if = NULL; /* anything else ends an <If> chain */
        if (ln.text[0] == '<' && ln.text[1] == '/')
            rc = p->nframes == base && base > 0
                     ? gw_fail(p, &at, FCGIC_E_INVAL, "%s: <%s> was opened in %s:%u, not in this file", ln.text,
                               p->frames[base - 1].name, p->frames[base - 1].at.file, p->frames[base - 1].at.line)
                     : close_section(p, ln.text, &at);
        else if (ln.text[0] == '<')
            rc = open_section(p, ln.text, &at);
        else if (skipping(p))
            rc = 0;
        else
            rc = run_directive(p, ln.text, &at);
        if (rc != 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    if (p->nframes > base) {
        struct gw_frame *f = &p->frames[p->nframes - 1];
        return gw_fail(p, &f->at, FCGIC_E_INVAL, "<%s> was not closed (expected </%s> before the end of %s)",
                       f->name, f->name, lx->name);
    }
    return 0;
}

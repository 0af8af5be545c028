/* Header and RequestHeader (mod_headers), ErrorDocument and
 * ProxyErrorOverride: what changes the headers on the way in and out, and
 * which error pages the client sees. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

/* Largest ErrorDocument file read at load time. */
#define GW_ERRDOC_MAX_FILE (1u << 20)

static int nomem(struct gw_parser *p, const struct gw_origin *at)
{
    return gw_fail(p, at, FCGIC_E_NOMEM, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* Header, RequestHeader                                                    */

static const struct {
    const char *name;
    enum gw_header_action action;
    int values; /* arguments after the header name: value, or pattern + replacement */
} actions[] = {
    {"set", GW_HDR_SET, 1},        {"append", GW_HDR_APPEND, 1},         {"add", GW_HDR_ADD, 1},
    {"merge", GW_HDR_MERGE, 1},    {"unset", GW_HDR_UNSET, 0},           {"edit", GW_HDR_EDIT, 2},
    {"edit*", GW_HDR_EDIT_ALL, 2}, {"setifempty", GW_HDR_SETIFEMPTY, 1},
};

static bool token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *s))
            return false;
    return true;
}

/* A literal value: `%%` is a '%'; other format specifiers are refused. */
static int literal_value(struct gw_parser *p, const struct gw_cmd *cmd, const char *v, struct gw_header_op *op)
{
    size_t n = strlen(v);
    char *out = gw_alloc(p->cfg, n + 1), *d = out;
    if (out == NULL)
        return nomem(p, &cmd->at);
    for (const char *s = v; *s; s++) {
        if (*s != '%') {
            *d++ = *s;
            continue;
        }
        if (s[1] != '%')
            return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP,
                           "%s: the format specifier %%%c is not supported: write the value literally (%%%% for %%)",
                           cmd->d->name, s[1] ? s[1] : ' ');
        *d++ = '%';
        s++;
    }
    *d = '\0';
    op->value = out;
    op->value_len = (size_t)(d - out);
    return 0;
}

/* The optional last argument: `early` (RequestHeader at server level:
 * applied before anything reads the headers), env=, expr=. Returns 0 with
 * *early set, or an error. */
static int trailing_clause(struct gw_parser *p, const struct gw_cmd *cmd, const char *a, bool *early)
{
    bool request = strcmp(cmd->d->name, "RequestHeader") == 0;
    if (gw_streq_ci(a, "early") && request && gw_scope(p) == NULL) {
        *early = true;
        return 0;
    }
    if (gw_streq_ci(a, "early"))
        return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP,
                       request ? "RequestHeader ... early is only allowed at server level"
                               : "Header ... early is not supported: the gateway edits response headers when the "
                                 "response is sent");
    if (gw_prefix_ci(a, "env=") || gw_prefix_ci(a, "expr="))
        return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP,
                       "%s ... %s is not supported: put the directive in an <If> section instead", cmd->d->name,
                       gw_prefix_ci(a, "env=") ? "env=" : "expr=");
    return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Too many arguments to directive");
}

static int header_values(struct gw_parser *p, const struct gw_cmd *cmd, int i, int values, struct gw_header_op *op)
{
    if (cmd->argc - i < values)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s %s requires %s", cmd->d->name, cmd->argv[i - 2 >= 0 ? i - 2 : 0],
                       values == 2 ? "a pattern and a replacement" : "a value");
    if (values == 1)
        return literal_value(p, cmd, cmd->argv[i], op);
    if (values == 2) {
        char msg[256];
        int rc = gw_regex_compile(p->cfg, cmd->argv[i], false, &op->re, msg, sizeof(msg));
        if (rc != 0)
            return gw_fail(p, &cmd->at, rc, "%s regex could not be compiled: %s", cmd->d->name, msg);
        op->replacement = gw_strdup(p->cfg, cmd->argv[i + 1]);
        return op->replacement ? 0 : nomem(p, &cmd->at);
    }
    return 0;
}

int gw_dir_header(struct gw_parser *p, const struct gw_cmd *cmd)
{
    bool response = strcmp(cmd->d->name, "Header") == 0;
    struct gw_header_op op;
    memset(&op, 0, sizeof(op));
    op.at = cmd->at;
    int i = 0;
    if (response && (gw_streq_ci(cmd->argv[0], "always") || gw_streq_ci(cmd->argv[0], "onsuccess"))) {
        op.always = gw_streq_ci(cmd->argv[0], "always");
        i++;
    }
    int values = -1;
    for (size_t k = 0; i < cmd->argc && k < sizeof(actions) / sizeof(actions[0]); k++)
        if (gw_streq_ci(cmd->argv[i], actions[k].name)) {
            op.action = actions[k].action;
            values = actions[k].values;
        }
    if (values < 0)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                       "first argument must be 'add', 'set', 'append', 'merge', 'unset', 'setifempty', 'edit' or "
                       "'edit*'%s, not '%s'",
                       response ? " (after an optional 'always' or 'onsuccess')" : "",
                       i < cmd->argc ? cmd->argv[i] : "");
    if (++i >= cmd->argc || !token(cmd->argv[i]))
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s: a header name is expected%s%s", cmd->d->name,
                       i < cmd->argc ? ", not " : "", i < cmd->argc ? cmd->argv[i] : "");
    op.name = gw_strdup(p->cfg, cmd->argv[i++]);
    if (op.name == NULL)
        return nomem(p, &cmd->at);
    int rc = header_values(p, cmd, i, values, &op);
    if (rc != 0)
        return rc;
    i += values;
    bool early = false;
    if (i < cmd->argc && (rc = trailing_clause(p, cmd, cmd->argv[i], &early)) != 0)
        return rc;
    if (i + 1 < cmd->argc)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Too many arguments to directive");
    struct gw_dir_build *d = gw_scope_dir(p);
    struct gw_vec *list = response ? &d->headers : early ? &d->early_headers : &d->req_headers;
    struct gw_header_op *slot = gw_vec_push(p->cfg, list, sizeof(op));
    if (slot == NULL)
        return nomem(p, &cmd->at);
    *slot = op;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* ProxyErrorOverride, ErrorDocument                                        */

static int status_arg(const char *s, int *out)
{
    uint64_t v;
    if (gw_arg_uint(s, 999, &v) != 0 || strlen(s) != 3)
        return -1;
    *out = (int)v;
    return 0;
}

int gw_dir_error_override(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_dir_build *d = gw_scope_dir(p);
    int on;
    int rc = gw_arg_flag(p, cmd, cmd->argv[0], &on);
    if (rc != 0)
        return rc;
    if (!on && cmd->argc > 1)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "ProxyErrorOverride: status codes go with On only");
    d->codes.n = 0;
    for (int i = 1; i < cmd->argc; i++) {
        int st;
        if (status_arg(cmd->argv[i], &st) != 0 || st < 400 || st > 599)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                           "ProxyErrorOverride: status must be a valid HTTP error status code (4xx or 5xx), not %s",
                           cmd->argv[i]);
        int *slot = gw_vec_push(p->cfg, &d->codes, sizeof(int));
        if (slot == NULL)
            return nomem(p, &cmd->at);
        *slot = st;
    }
    d->conf->error_override = on;
    d->conf->set |= GW_DC_ERROR_OVERRIDE;
    return 0;
}

static bool is_url(const char *s)
{
    return gw_prefix_ci(s, "http://") || gw_prefix_ci(s, "https://");
}

int gw_dir_error_document(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_error_doc doc;
    memset(&doc, 0, sizeof(doc));
    doc.at = cmd->at;
    if (status_arg(cmd->argv[0], &doc.status) != 0 || doc.status < 400 || doc.status > 599)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Unsupported HTTP response code %s", cmd->argv[0]);
    const char *v = cmd->argv[1];
    bool deflt = gw_streq_ci(v, "default"); /* text NULL: the built-in answer again */
    doc.kind = v[0] == '/' ? GW_ERRDOC_FILE : is_url(v) ? GW_ERRDOC_REDIRECT : GW_ERRDOC_TEXT;
    if (doc.kind == GW_ERRDOC_FILE && (strstr(v, "/../") != NULL || strchr(v, '?') != NULL))
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                       "ErrorDocument %s: name a file under DocumentRoot (no '..', no "
                       "query)",
                       v);
    char *copy = deflt ? NULL : gw_strdup(p->cfg, v);
    if (!deflt && copy == NULL)
        return nomem(p, &cmd->at);
    if (doc.kind == GW_ERRDOC_FILE)
        doc.path = copy;
    else
        doc.text = copy;
    doc.len = doc.text ? strlen(doc.text) : 0;
    struct gw_error_doc *slot = gw_vec_push(p->cfg, &gw_scope_dir(p)->error_docs, sizeof(doc));
    if (slot == NULL)
        return nomem(p, &cmd->at);
    *slot = doc;
    return 0;
}

static const char *content_type_for(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html"},        {".htm", "text/html"}, {".txt", "text/plain"},
        {".json", "application/json"}, {".css", "text/css"},  {".xml", "text/xml"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
        if (gw_streq_ci(dot, types[i].ext))
            return types[i].type;
    return NULL;
}

/* Read one ErrorDocument file (DocumentRoot + its path) into the tree. */
static int load_file(struct gw_parser *p, struct gw_error_doc *doc)
{
    const char *root = p->cfg->server.document_root;
    if (root == NULL)
        return gw_fail(p, &doc->at, FCGIC_E_INVAL,
                       "ErrorDocument %d %s needs DocumentRoot (the file is read "
                       "under it)",
                       doc->status, doc->path);
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s%s", root, doc->path) >= sizeof(path))
        return gw_fail(p, &doc->at, FCGIC_E_RANGE, "path too long: %s", doc->path);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return gw_fail(p, &doc->at, FCGIC_E_NOT_FOUND, "ErrorDocument %d: cannot open %s: %s", doc->status, path,
                       strerror(errno));
    char *buf = malloc(GW_ERRDOC_MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, GW_ERRDOC_MAX_FILE + 1, fp) : 0;
    bool bad = ferror(fp) != 0;
    fclose(fp);
    char *kept = buf && !bad && n <= GW_ERRDOC_MAX_FILE ? gw_alloc(p->cfg, n + 1) : NULL;
    if (kept != NULL)
        memcpy(kept, buf, n);
    free(buf);
    if (buf == NULL || (kept == NULL && !bad && n <= GW_ERRDOC_MAX_FILE))
        return nomem(p, &doc->at);
    if (bad || n > GW_ERRDOC_MAX_FILE)
        return gw_fail(p, &doc->at, FCGIC_E_RANGE, "ErrorDocument %d: %s is %s", doc->status, path,
                       bad ? "unreadable" : "larger than 1 MiB");
    doc->text = kept;
    doc->len = n;
    doc->content_type = content_type_for(doc->path);
    return 0;
}

int gw_error_docs_load(struct gw_parser *p)
{
    struct gw_dir_build **dirs = p->sections_dir.items;
    for (size_t i = 0; i <= p->sections_dir.n; i++) {
        struct gw_dir_build *d = i < p->sections_dir.n ? dirs[i] : &p->server_dir;
        struct gw_error_doc *docs = d->error_docs.items;
        for (size_t k = 0; k < d->error_docs.n; k++) {
            int rc = docs[k].kind == GW_ERRDOC_FILE ? load_file(p, &docs[k]) : 0;
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

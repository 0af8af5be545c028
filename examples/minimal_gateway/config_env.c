/* Environment directives: SetEnv, the SetEnvIf family (compiled into
 * setenvif rules over ap_expr conditions) and ProxyFCGISetEnvIf. */
#include <stdio.h>
#include <string.h>

#include "config_int.h"

static int nomem(struct gw_parser *p, const struct gw_cmd *cmd)
{
    return gw_fail(p, &cmd->at, FCGIC_E_NOMEM, "out of memory");
}

static void setenvif_free(void *s)
{
    fcgic_setenvif_free(s);
}

/* The scope's rule list, created on first use. */
static int rule_list(struct gw_parser *p, const struct gw_cmd *cmd, struct fcgic_setenvif **list)
{
    if (*list != NULL)
        return 0;
    struct fcgic_expr_limits lim = {0};
    lim.no_jit = p->no_jit;
    struct fcgic_setenvif *s;
    int rc = fcgic_setenvif_new(&s, &lim, NULL);
    if (rc == FCGIC_E_NOT_BUILT)
        return gw_fail(p, &cmd->at, rc, "%s needs the expression engine, which libfcgiclient was built without",
                       cmd->name);
    if (rc != 0)
        return nomem(p, cmd);
    if (gw_on_free(p->cfg, setenvif_free, s) != 0)
        return nomem(p, cmd);
    *list = s;
    return 0;
}

int gw_dir_setenv(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_dir_build *d = gw_scope_dir(p);
    const char *name = cmd->argv[0];
    const char *value = cmd->argc > 1 ? cmd->argv[1] : "";
    if (name[0] == '\0' || strchr(name, '=') != NULL)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "SetEnv: \"%s\" is not a valid variable name", name);
    struct fcgic_param *pr = NULL;
    struct fcgic_param *items = d->setenv.items;
    for (size_t i = 0; i < d->setenv.n; i++)
        if (gw_streq_ci(items[i].name, name))
            pr = &items[i]; /* Apache's table set: the later value wins */
    if (pr == NULL) {
        pr = gw_vec_push(p->cfg, &d->setenv, sizeof(*pr));
        if (pr == NULL || (pr->name = gw_strdup(p->cfg, name)) == NULL)
            return nomem(p, cmd);
        pr->name_len = strlen(name);
    }
    if ((pr->value = gw_strdup(p->cfg, value)) == NULL)
        return nomem(p, cmd);
    pr->value_len = strlen(value);
    /* SetEnv proxy-fcgi-pathinfo comes too late in Apache to choose the
     * PATH_INFO strategy (it is only sent as a param); SetEnvIf does it. */
    return 0;
}

/* "file:line", the rule label the library records for explain. */
static void label_of(const struct gw_cmd *cmd, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%u", cmd->at.file, cmd->at.line);
}

static int rule_error(struct gw_parser *p, const struct gw_cmd *cmd, int rc, const struct fcgic_expr_error *e)
{
    if (rc == FCGIC_E_NOMEM)
        return nomem(p, cmd);
    return gw_fail(p, &cmd->at, rc, "%s", e->message[0] ? e->message : fcgic_strerror(rc));
}

int gw_dir_fcgi_setenvif(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_dir_build *d = gw_scope_dir(p);
    int rc = rule_list(p, cmd, &d->fcgi_setenvif);
    if (rc != 0)
        return rc;
    char label[600];
    label_of(cmd, label, sizeof(label));
    struct fcgic_expr_error e;
    memset(&e, 0, sizeof(e));
    rc = fcgic_setenvif_add(d->fcgi_setenvif, cmd->argc, (const char *const *)cmd->argv, label, &e);
    return rc == 0 ? 0 : rule_error(p, cmd, rc, &e);
}

/* ------------------------------------------------------------------------ */
/* SetEnvIf                                                                 */

/* mod_setenvif takes an attribute outside ^[-A-Za-z0-9_]*$ for a regex
 * over header names. */
static bool header_name_char(int c)
{
    return gw_isalpha(c) || gw_isdigit(c) || c == '-' || c == '_';
}

/* The ap_expr operand for a SetEnvIf attribute, into buf. */
static int attribute_operand(struct gw_parser *p, const struct gw_cmd *cmd, const char *attr, char *buf,
                             size_t size)
{
    static const struct {
        const char *attr, *expr;
    } special[] = {
        {"Remote_Host", "%{REMOTE_HOST}"},       {"Remote_Addr", "%{REMOTE_ADDR}"},
        {"Server_Addr", "note('SERVER_ADDR')"},  {"Request_Method", "%{REQUEST_METHOD}"},
        {"Request_Protocol", "%{SERVER_PROTOCOL}"}, {"Request_URI", "%{REQUEST_URI}"},
    };
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
        if (gw_streq_ci(attr, special[i].attr)) {
            snprintf(buf, size, "%s", special[i].expr);
            return 0;
        }
    for (const char *c = attr; *c; c++)
        if (!header_name_char((unsigned char)*c))
            return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP,
                           "%s: attribute \"%s\" is not a header name (regexes over header names are not "
                           "supported)",
                           cmd->d->name, attr);
    if (attr[0] == '\0' || strlen(attr) + 8 > size)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s: bad attribute \"%s\"", cmd->d->name, attr);
    snprintf(buf, size, "req('%s')", attr);
    return 0;
}

/* `subject =~ m<d>regex<d>[i]`, with a delimiter the regex does not hold
 * (ap_expr regex literals have no escapes). */
static int condition_of(struct gw_parser *p, const struct gw_cmd *cmd, const char *subject, const char *regex,
                        bool caseless, char **out)
{
    static const char delims[] = "/#|!,;:%^-?.$'\"";
    char del = 0;
    for (const char *d = delims; *d && del == 0; d++)
        if (strchr(regex, *d) == NULL)
            del = *d;
    if (del == 0)
        return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP, "%s: the regex holds every character usable as a delimiter",
                       cmd->d->name);
    size_t n = strlen(subject) + strlen(regex) + 16;
    char *s = gw_alloc(p->cfg, n);
    if (s == NULL)
        return nomem(p, cmd);
    snprintf(s, n, "%s =~ m%c%s%c%s", subject, del, regex, del, caseless ? "i" : "");
    *out = s;
    return 0;
}

/* A SetEnvIf value as an ap_expr string: $0..$9 stay captures, "\x" is x
 * (ap_pregsub()), and "%{" is literal. */
static char *value_expr(struct gw_config *c, const char *v)
{
    size_t n = strlen(v);
    char *out = gw_alloc(c, 2 * n + 1), *w = out;
    if (out == NULL)
        return NULL;
    for (const char *s = v; *s; s++) {
        if (s[0] == '\\' && s[1] != '\0') {
            s++;
            if (!gw_isdigit((unsigned char)*s))
                *w++ = '\\';
            *w++ = *s;
        } else if (s[0] == '%' && s[1] == '{') {
            *w++ = '\\';
            *w++ = '%';
        } else if (s[0] == '\\') {
            *w++ = '\\';
            *w++ = '\\';
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
    return out;
}

static int add_action(struct gw_parser *p, const struct gw_cmd *cmd, struct fcgic_setenvif *list, char *cond,
                      const char *action)
{
    char name[256];
    const char *argv[3] = {cond, name, NULL};
    int nargs = 2;
    const char *eq = action[0] == '!' ? NULL : strchr(action, '=');
    size_t nlen = eq ? (size_t)(eq - action) : strlen(action);
    if (nlen == 0 || (action[0] == '!' && nlen == 1) || nlen >= sizeof(name))
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s: \"%s\" is not a valid variable name", cmd->d->name, action);
    memcpy(name, action, nlen);
    name[nlen] = '\0';
    if (action[0] != '!') {
        argv[2] = eq ? value_expr(p->cfg, eq + 1) : "1";
        if (argv[2] == NULL)
            return nomem(p, cmd);
        nargs = 3;
    }
    char label[600];
    label_of(cmd, label, sizeof(label));
    struct fcgic_expr_error e;
    memset(&e, 0, sizeof(e));
    int rc = fcgic_setenvif_add(list, nargs, argv, label, &e);
    if (rc == FCGIC_E_EXPR_REGEX)
        return gw_fail(p, &cmd->at, rc, "%s regex could not be compiled: %s", cmd->d->name, e.message);
    return rc == 0 ? 0 : rule_error(p, cmd, rc, &e);
}

int gw_dir_setenvif(struct gw_parser *p, const struct gw_cmd *cmd)
{
    bool browser = gw_prefix_ci(cmd->d->name, "BrowserMatch");
    bool caseless = strstr(cmd->d->name, "NoCase") != NULL;
    const char *attr = browser ? "User-Agent" : cmd->argv[0];
    int first = browser ? 1 : 2;
    const char *regex = cmd->argv[first - 1];
    if (cmd->argc <= first)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "Missing envariable expression for %s", cmd->d->name);
    struct gw_dir_build *d = gw_scope_dir(p);
    char subject[300];
    char *cond = NULL;
    int rc = attribute_operand(p, cmd, attr, subject, sizeof(subject));
    if (rc == 0)
        rc = condition_of(p, cmd, subject, regex, caseless, &cond);
    if (rc == 0)
        rc = rule_list(p, cmd, &d->setenvif);
    for (int i = first; rc == 0 && i < cmd->argc; i++)
        rc = add_action(p, cmd, d->setenvif, cond, cmd->argv[i]);
    return rc;
}

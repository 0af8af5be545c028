/* Log directives: ErrorLog, LogLevel, LogFormat and CustomLog. */
#include <string.h>
#include <syslog.h>

#include "config_int.h"

#define GW_COMMON_FORMAT "%h %l %u %t \"%r\" %>s %b"
#define GW_COMBINED_FORMAT "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""

static int nomem(struct gw_parser *p, const struct gw_cmd *cmd)
{
    return gw_fail(p, cmd ? &cmd->at : NULL, FCGIC_E_NOMEM, "out of memory");
}

static int define_format(struct gw_parser *p, const struct gw_cmd *cmd, const char *nick, const char *fmt)
{
    struct gw_log_format *f = NULL, *all = p->formats.items;
    for (size_t i = 0; i < p->formats.n; i++)
        if (strcmp(all[i].nickname, nick) == 0)
            f = &all[i]; /* a later LogFormat replaces the nickname */
    if (f == NULL) {
        f = gw_vec_push(p->cfg, &p->formats, sizeof(*f));
        if (f == NULL || (f->nickname = gw_strdup(p->cfg, nick)) == NULL)
            return nomem(p, cmd);
    }
    f->format = gw_strdup(p->cfg, fmt);
    return f->format ? 0 : nomem(p, cmd);
}

int gw_log_predefine(struct gw_parser *p)
{
    int rc = define_format(p, NULL, "common", GW_COMMON_FORMAT);
    if (rc == 0)
        rc = define_format(p, NULL, "combined", GW_COMBINED_FORMAT);
    p->cfg->server.logs.default_format = GW_COMMON_FORMAT;
    return rc;
}

int gw_dir_log_format(struct gw_parser *p, const struct gw_cmd *cmd)
{
    if (cmd->argc == 1) {
        p->cfg->server.logs.default_format = gw_strdup(p->cfg, cmd->argv[0]);
        return p->cfg->server.logs.default_format ? 0 : nomem(p, cmd);
    }
    if (strchr(cmd->argv[1], '%') != NULL)
        return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "LogFormat: the nickname may not contain '%%': %s", cmd->argv[1]);
    return define_format(p, cmd, cmd->argv[1], cmd->argv[0]);
}

int gw_dir_custom_log(struct gw_parser *p, const struct gw_cmd *cmd)
{
    const char *path = cmd->argv[0];
    if (path[0] == '|')
        return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP, "CustomLog: piped logs are not supported: log to a file and "
                                                    "let a log shipper read it");
    struct gw_custom_log *l = gw_vec_push(p->cfg, &p->custom_logs, sizeof(*l));
    if (l == NULL || (l->path = gw_strdup(p->cfg, path)) == NULL ||
        (l->format = gw_strdup(p->cfg, cmd->argv[1])) == NULL)
        return nomem(p, cmd);
    l->at = cmd->at;
    if (cmd->argc == 3) {
        const char *c = cmd->argv[2];
        if (!gw_prefix_ci(c, "env="))
            return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP,
                           "CustomLog: only an env=[!]variable condition is supported, not \"%s\"", c);
        c += 4;
        l->env_negate = c[0] == '!';
        c += l->env_negate;
        if (c[0] == '\0')
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "CustomLog: env= needs a variable name");
        if ((l->env = gw_strdup(p->cfg, c)) == NULL)
            return nomem(p, cmd);
    }
    return 0;
}

/* syslog(3) facilities by name, as Apache's ErrorLog syslog:facility. */
static int syslog_facility(const char *name, int *out)
{
    static const struct {
        const char *name;
        int value;
    } t[] = {{"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON},     {"daemon", LOG_DAEMON},
             {"ftp", LOG_FTP},       {"kern", LOG_KERN},         {"lpr", LOG_LPR},       {"mail", LOG_MAIL},
             {"news", LOG_NEWS},     {"syslog", LOG_SYSLOG},     {"user", LOG_USER},     {"uucp", LOG_UUCP},
             {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},     {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
             {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},     {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
    if (name[0] == '\0') {
        *out = LOG_LOCAL7;
        return 0;
    }
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (gw_streq_ci(name, t[i].name)) {
            *out = t[i].value;
            return 0;
        }
    return -1;
}

int gw_dir_error_log(struct gw_parser *p, const struct gw_cmd *cmd)
{
    struct gw_logs *l = &p->cfg->server.logs;
    const char *a = cmd->argv[0];
    if (a[0] == '|')
        return gw_fail(p, &cmd->at, FCGIC_E_NOTSUP, "ErrorLog: piped logs are not supported: log to a file, "
                                                    "stderr or syslog");
    if (gw_streq_ci(a, "syslog") || gw_prefix_ci(a, "syslog:")) {
        l->error_log_kind = GW_LOG_SYSLOG;
        a = a[6] == ':' ? a + 7 : "";
        if (syslog_facility(a, &l->syslog_facility) != 0)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL,
                           "ErrorLog syslog:%s: unknown facility (auth, authpriv, cron, daemon, ftp, kern, lpr, mail, "
                           "news, syslog, user, uucp, local0 .. local7)",
                           a);
    } else if (strcmp(a, "/dev/stderr") == 0) {
        l->error_log_kind = GW_LOG_STDERR;
    } else {
        l->error_log_kind = GW_LOG_FILE;
    }
    l->error_log = gw_strdup(p->cfg, a);
    return l->error_log ? 0 : nomem(p, cmd);
}

static int parse_level(const char *s, enum gw_log_level *out)
{
    static const char *const names[] = {"emerg",  "alert",  "crit",   "error",  "warn",   "notice",
                                        "info",   "debug",  "trace1", "trace2", "trace3", "trace4",
                                        "trace5", "trace6", "trace7", "trace8"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (gw_streq_ci(s, names[i])) {
            *out = (enum gw_log_level)i;
            return 0;
        }
    return -1;
}

int gw_dir_log_level(struct gw_parser *p, const struct gw_cmd *cmd)
{
    static const char msg[] = "LogLevel requires level keyword: one of emerg/alert/crit/error/warn/notice/info/"
                              "debug/trace1/trace2/trace3/trace4/trace5/trace6/trace7/trace8";
    for (int i = 0; i < cmd->argc; i++) {
        char *a = cmd->argv[i];
        char *colon = strchr(a, ':');
        enum gw_log_level lv;
        if (colon == NULL) {
            if (parse_level(a, &lv) != 0)
                return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s (not \"%s\")", msg, a);
            p->cfg->server.logs.level = lv;
            continue;
        }
        if (colon == a || parse_level(colon + 1, &lv) != 0)
            return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s (not \"%s\")", msg, a);
        struct gw_module_level *m = gw_vec_push(p->cfg, &p->module_levels, sizeof(*m));
        if (m == NULL || (m->module = gw_strndup(p->cfg, a, (size_t)(colon - a))) == NULL)
            return nomem(p, cmd);
        m->level = lv;
    }
    return 0;
}

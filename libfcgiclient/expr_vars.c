/* The names of the expression engine's fixed variables. A plain table that
 * needs no PCRE2, so it is there in every build (embedders use it in their
 * lookup callbacks even when the engine is configured out). */
#include "fcgiclient/expr.h"

static const char *const var_names[FCGIC_EXPR_V__COUNT] = {
    "REQUEST_METHOD", "REQUEST_SCHEME", "REQUEST_URI", "REQUEST_FILENAME", "REMOTE_HOST",
    "REMOTE_IDENT", "REMOTE_USER", "SERVER_ADMIN", "SERVER_NAME", "SERVER_PORT",
    "SERVER_PROTOCOL", "SCRIPT_FILENAME", "PATH_INFO", "QUERY_STRING", "IS_SUBREQ",
    "DOCUMENT_ROOT", "AUTH_TYPE", "THE_REQUEST", "CONTENT_TYPE", "HANDLER", "REQUEST_LOG_ID",
    "SCRIPT_USER", "SCRIPT_GROUP", "DOCUMENT_URI", "LAST_MODIFIED", "CONTEXT_PREFIX",
    "CONTEXT_DOCUMENT_ROOT", "REQUEST_STATUS", "REMOTE_ADDR", "REMOTE_PORT",
    "HTTP_USER_AGENT", "HTTP_PROXY_CONNECTION", "HTTP_REFERER", "HTTP_COOKIE",
    "HTTP_FORWARDED", "HTTP_HOST", "HTTP_ACCEPT", "HTTPS", "IPV6", "CONN_LOG_ID",
    "CONN_REMOTE_ADDR", "HTTP2", "TIME_YEAR", "TIME_MON", "TIME_DAY", "TIME_HOUR", "TIME_MIN",
    "TIME_SEC", "TIME_WDAY", "TIME", "SERVER_SOFTWARE", "API_VERSION",
};

const char *fcgic_expr_var_name(int var)
{
    if (var < 0 || var >= FCGIC_EXPR_V__COUNT)
        return NULL;
    return var_names[var];
}

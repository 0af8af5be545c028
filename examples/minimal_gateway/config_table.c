/* What the gateway understands: the directive table, and the Apache
 * directives and sections it knows but refuses, each with a hint. */
#include <stddef.h>

#include "config_int.h"

#define ANY (-1)

static const struct gw_directive directives[] = {
    /* Files */
    {"Include", GW_CTX_DIR | GW_CTX_PROXY, 1, 1,
     "Name(s) of the config file(s) to be included; fails if the wildcard does not match at least one file", NULL},
    {"IncludeOptional", GW_CTX_DIR | GW_CTX_PROXY, 1, 1,
     "Name or pattern of the config file(s) to be included; ignored if the file does not exist or the pattern "
     "does not match any files",
     NULL},
    /* Server */
    {"Listen", GW_CTX_SERVER, 1, 2, "A port number or a numeric IP address and a port number, and an optional "
                                    "protocol", gw_dir_listen},
    {"ServerName", GW_CTX_SERVER, 1, 1, "The hostname and port of the server", gw_dir_server_name},
    {"ServerAdmin", GW_CTX_SERVER, 1, 1, "The email address of the server administrator", gw_dir_server_admin},
    {"DocumentRoot", GW_CTX_SERVER, 1, 1, "Root directory of the document tree", gw_dir_document_root},
    {"DirectoryIndex", GW_CTX_DIR, 1, ANY, "a list of file names", gw_dir_directory_index},
    {"Timeout", GW_CTX_SERVER, 1, 1, "Timeout duration (sec)", gw_dir_timeout},
    {"ProxyTimeout", GW_CTX_SERVER, 1, 1, "Set the timeout for proxied requests", gw_dir_timeout},
    {"KeepAliveTimeout", GW_CTX_SERVER, 1, 1, "Keep-Alive timeout duration (sec)", gw_dir_timeout},
    {"KeepAlive", GW_CTX_SERVER, 1, 1, "Whether persistent connections should be On or Off", gw_dir_keepalive},
    {"MaxKeepAliveRequests", GW_CTX_SERVER, 1, 1, "Maximum number of Keep-Alive requests per connection, or 0 "
                                                  "for infinite", gw_dir_limit},
    {"LimitRequestLine", GW_CTX_SERVER, 1, 1, "Limit on maximum size of an HTTP request line", gw_dir_limit},
    {"LimitRequestFieldSize", GW_CTX_SERVER, 1, 1, "Limit on maximum size of an HTTP request header field",
     gw_dir_limit},
    {"LimitRequestFields", GW_CTX_SERVER, 1, 1, "Limit (0 = unlimited) on max number of header fields in a "
                                                "request message", gw_dir_limit},
    {"LimitRequestBody", GW_CTX_DIR, 1, 1, "Limit (in bytes) on maximum size of request message body",
     gw_dir_limit},
    {"Threads", GW_CTX_SERVER, 1, 1, "Number of event-loop threads", gw_dir_threads},
    {"AllowEncodedSlashes", GW_CTX_SERVER, 1, 1, "Allow URLs containing '/' encoded as '%2F'",
     gw_dir_encoded_slashes},
    /* Environment */
    {"SetEnv", GW_CTX_DIR, 1, 2, "an environment variable name and optional value to pass to CGI.", gw_dir_setenv},
    {"SetEnvIf", GW_CTX_DIR, 3, ANY, "A header-name, regex and a list of variables.", gw_dir_setenvif},
    {"SetEnvIfNoCase", GW_CTX_DIR, 3, ANY, "a header-name, regex and a list of variables.", gw_dir_setenvif},
    {"BrowserMatch", GW_CTX_DIR, 2, ANY, "A browser regex and a list of variables.", gw_dir_setenvif},
    {"BrowserMatchNoCase", GW_CTX_DIR, 2, ANY, "A browser regex and a list of variables.", gw_dir_setenvif},
    {"ProxyFCGISetEnvIf", GW_CTX_DIR, 2, 3, "expr-condition env-name expr-value", gw_dir_fcgi_setenvif},
    {"ProxyFCGIBackendType", GW_CTX_DIR, 1, 1, "Specify the type of FastCGI server: 'Generic', 'FPM'",
     gw_dir_backend_type},
    {"CGIPassAuth", GW_CTX_SECTION | GW_CTX_DIRECTORY | GW_CTX_IF, 1, 1, "Controls whether HTTP authorization headers, normally hidden, will be "
                                          "passed to scripts", gw_dir_cgi_pass_auth},
    /* Proxy */
    {"ProxyPass", GW_CTX_SERVER | GW_CTX_SECTION, 1, ANY, "a virtual path and a URL", gw_dir_proxy_pass},
    {"ProxyPassMatch", GW_CTX_SERVER | GW_CTX_SECTION, 1, ANY, "a virtual path and a URL", gw_dir_proxy_pass},
    {"SetHandler", GW_CTX_DIR, 1, 1, "a handler name that overrides any other configured handler",
     gw_dir_set_handler},
    {"BalancerMember", GW_CTX_SERVER | GW_CTX_PROXY, 1, ANY, "A balancer name and scheme with list of params",
     gw_dir_balancer_member},
    {"ProxySet", GW_CTX_SERVER | GW_CTX_PROXY, 1, ANY, "A balancer or worker name with list of params",
     gw_dir_proxy_set},
    {"ProxyErrorOverride", GW_CTX_DIR, 1, ANY, "use our error handling pages instead of the ones returned by "
                                                "the backend, optionally only for the given status codes",
     gw_dir_error_override},
    {"ErrorDocument", GW_CTX_DIR, 2, 2, "Change responses for HTTP errors", gw_dir_error_document},
    {"Options", GW_CTX_DIR, 1, ANY, "Set a number of attributes for a given directory", gw_dir_options},
    {"Header", GW_CTX_DIR, 2, ANY, "an optional condition, an action, header and value followed by optional env "
                                   "clause", gw_dir_header},
    {"RequestHeader", GW_CTX_DIR, 2, ANY, "an action, header and value followed by optional env clause",
     gw_dir_header},
    /* Access */
    {"Require", GW_CTX_SECTION | GW_CTX_DIRECTORY | GW_CTX_IF | GW_CTX_AUTHZ, 1, ANY, "specifies authorization directives which one must pass (or "
                                                  "not) for a request to suceeed",
     gw_dir_require},
    {"AllowOverride", GW_CTX_DIRECTORY, 1, ANY, "Controls what groups of directives can be configured by "
                                                "per-directory config files",
     gw_dir_allow_override},
    /* Logs */
    {"ErrorLog", GW_CTX_SERVER, 1, 1, "The filename of the error log", gw_dir_error_log},
    {"CustomLog", GW_CTX_SERVER, 2, 3, "a file name, a custom log format string or format name, and an "
                                       "optional \"env=\" or \"expr=\" clause (see docs)", gw_dir_custom_log},
    {"LogFormat", GW_CTX_SERVER, 1, 2, "a log format string (see docs) and an optional format name",
     gw_dir_log_format},
    {"LogLevel", GW_CTX_SERVER, 1, ANY, "Level of verbosity in error logging", gw_dir_log_level},
};

const struct gw_directive *gw_directive_find(const char *name)
{
    for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]); i++)
        if (gw_streq_ci(name, directives[i].name))
            return &directives[i];
    return NULL;
}

/* Known Apache names the gateway refuses; sections start with '<'. */
static const struct {
    const char *name;
    const char *hint;
} refused[] = {
    {"RewriteEngine", "use ProxyPassMatch"},
    {"RewriteRule", "use ProxyPassMatch \"regex\" \"fcgi://host:port/path/$1\" (what RewriteRule ... [P] "
                    "does with the same regex and target)"},
    {"RewriteCond", "use ProxyPassMatch"},
    {"RewriteBase", "use ProxyPassMatch"},
    {"RewriteMap", "use ProxyPassMatch"},
    {"RewriteOptions", "use ProxyPassMatch"},
    {"LoadModule", "modules are built in; remove LoadModule"},
    {"LoadFile", "modules are built in; remove LoadFile"},
    {"ServerRoot", "relative paths are resolved against the directory of the main configuration file"},
    {"<VirtualHost", "one server per gateway: move the directives to the top level"},
    {"NameVirtualHost", "one server per gateway: remove it"},
    {"ServerAlias", "one server per gateway: any Host is served"},
    {"<IfDefine", "there are no -D definitions; remove the section or its condition"},
    {"<IfVersion", "remove the section or its condition"},
    {"<ProxyMatch", "use <Proxy> with the backend's URL"},
    {"<Limit", "access control is not supported: put it in front of the gateway or in the application"},
    {"<LimitExcept", "access control is not supported: put it in front of the gateway or in the application"},
    {"Order", "access control is not supported: put it in front of the gateway or in the application"},
    {"Allow", "access control is not supported: put it in front of the gateway or in the application"},
    {"Deny", "access control is not supported: put it in front of the gateway or in the application"},
    {"AuthType", "authentication is not supported: put it in front of the gateway or in the application"},
    {"AuthName", "authentication is not supported: put it in front of the gateway or in the application"},
    {"AuthUserFile", "authentication is not supported: put it in front of the gateway or in the application"},
    {"AuthBasicProvider", "authentication is not supported: put it in front of the gateway or in the application"},
    {"AccessFileName", "no .htaccess file is read; remove it"},
    {"SSLEngine", "TLS is not supported: terminate TLS in front of the gateway"},
    {"SSLCertificateFile", "TLS is not supported: terminate TLS in front of the gateway"},
    {"SSLCertificateKeyFile", "TLS is not supported: terminate TLS in front of the gateway"},
    {"SSLProtocol", "TLS is not supported: terminate TLS in front of the gateway"},
    {"SSLCipherSuite", "TLS is not supported: terminate TLS in front of the gateway"},
    {"SSLProxyEngine", "TLS is not supported: terminate TLS in front of the gateway"},
    {"Protocols", "the gateway speaks HTTP/1.1; remove it"},
    {"Alias", "use ProxyPass or ProxyPassMatch with the backend path"},
    {"AliasMatch", "use ProxyPassMatch with the backend path"},
    {"ScriptAlias", "use ProxyPass or ProxyPassMatch with the backend path"},
    {"ScriptAliasMatch", "use ProxyPassMatch with the backend path"},
    {"Redirect", "redirects are not supported: answer them from the application"},
    {"RedirectMatch", "redirects are not supported: answer them from the application"},
    {"RedirectPermanent", "redirects are not supported: answer them from the application"},
    {"ProxyPassReverse", "FastCGI responses carry no backend URL to rewrite; remove it"},
    {"ProxyPassReverseCookieDomain", "FastCGI responses carry no backend URL to rewrite; remove it"},
    {"ProxyPassReverseCookiePath", "FastCGI responses carry no backend URL to rewrite; remove it"},
    {"ProxyRequests", "forward proxying is not supported; remove it"},
    {"ProxyPreserveHost", "the client's Host always reaches the application as HTTP_HOST; remove it"},
    {"ProxyVia", "remove it"},
    {"ProxyAddHeaders", "FastCGI has no X-Forwarded-* headers to add; remove it"},
    {"ProxyBadHeader", "malformed response headers always fail the request; remove it"},
    {"ProxyIOBufferSize", "remove it"},
    {"ProxyFCGISetEnvIfExpr", "did you mean ProxyFCGISetEnvIf?"},
    {"SetEnvIfExpr", "use SetEnvIf or ProxyFCGISetEnvIf"},
    {"UnsetEnv", "leave the variable out of SetEnv, or remove it with ProxyFCGISetEnvIf \"true\" !NAME"},
    {"PassEnv", "use SetEnv with the value"},
    {"AddHandler", "use <FilesMatch> with SetHandler"},
    {"Action", "use <FilesMatch> with SetHandler"},
    {"AddType", "the application sets Content-Type"},
    {"DefaultType", "the application sets Content-Type"},
    {"TypesConfig", "the application sets Content-Type"},
    {"User", "the gateway does not change user: start it as the user it runs as"},
    {"Group", "the gateway does not change group: start it as the user it runs as"},
    {"PidFile", "the gateway runs in the foreground: let the service manager track it"},
    {"ThreadsPerChild", "one process runs event loops: use Threads N (default: one per processor)"},
    {"ThreadLimit", "one process runs event loops: use Threads N (default: one per processor)"},
    {"StartServers", "one process runs event loops: use Threads N (default: one per processor)"},
    {"ServerLimit", "one process runs event loops: use Threads N (default: one per processor)"},
    {"MinSpareThreads", "one process runs event loops: use Threads N (default: one per processor)"},
    {"MaxSpareThreads", "one process runs event loops: use Threads N (default: one per processor)"},
    {"MaxRequestWorkers", "one process runs event loops: use Threads N (default: one per processor)"},
    {"MaxClients", "one process runs event loops: use Threads N (default: one per processor)"},
    {"MaxConnectionsPerChild", "one process runs event loops: use Threads N (default: one per processor)"},
    {"MaxRequestsPerChild", "one process runs event loops: use Threads N (default: one per processor)"},
    {"Mutex", "remove it"},
    {"ServerTokens", "remove it"},
    {"ServerSignature", "remove it"},
    {"HostnameLookups", "REMOTE_HOST is never looked up; remove it"},
    {"UseCanonicalName", "remove it: SERVER_NAME comes from Host, else ServerName"},
    {"EnableSendfile", "the gateway serves no files itself; remove it"},
    {"EnableMMAP", "the gateway serves no files itself; remove it"},
    {"TransferLog", "use CustomLog with a format or nickname"},
    {"ErrorLogFormat", "remove it"},
    {"php_value", "set PHP options in the PHP-FPM pool (php_value[...])"},
    {"php_admin_value", "set PHP options in the PHP-FPM pool (php_admin_value[...])"},
    {"php_flag", "set PHP options in the PHP-FPM pool (php_flag[...])"},
    {"php_admin_flag", "set PHP options in the PHP-FPM pool (php_admin_flag[...])"},
};

const char *gw_refused_hint(const char *name)
{
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (gw_streq_ci(name, refused[i].name))
            return refused[i].hint;
    return NULL;
}

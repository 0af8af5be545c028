/* Tests of minimal_gateway's configuration layer: Apache-syntax files
 * written to a temporary directory and loaded. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "testutil.h"

static char tmpdir[256];
static struct gw_config *cfg;
static struct gw_config_error err;

static unsigned load_flags(void)
{
    return getenv("FCGIC_UNDER_VALGRIND") ? GW_CONFIG_NO_JIT : 0u;
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-gw-config.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    cfg = NULL;
    memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
    gw_config_unref(cfg);
    cfg = NULL;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Write tmpdir/name (subdirectories are created). */
static void put(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    for (char *s = path + strlen(tmpdir) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(path, 0700);
        *s = '/';
    }
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int load(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    gw_config_unref(cfg);
    cfg = NULL;
    return gw_config_load(path, load_flags(), &cfg, &err);
}

/* Load "Listen 8080\n" + text as the main file. */
static int load_text(const char *text)
{
    size_t n = strlen(text) + 32;
    char *buf = malloc(n);
    ck_assert_ptr_nonnull(buf);
    snprintf(buf, n, "Listen 8080\n%s", text);
    put("main.conf", buf);
    free(buf);
    return load("main.conf");
}

static const struct gw_server *srv(void)
{
    ck_assert_ptr_nonnull(cfg);
    return gw_config_server(cfg);
}

/* The error is at tmpdir/file:line and its message contains text. */
static void expect_error(int rc, const char *file, unsigned line, const char *text)
{
    ck_assert_msg(rc != 0, "expected an error containing \"%s\"", text);
    ck_assert_ptr_null(cfg);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, file);
    ck_assert_str_eq(err.file, path);
    ck_assert_msg(err.line == line, "line %u, expected %u (%s)", err.line, line, err.message);
    ck_assert_msg(strstr(err.message, text) != NULL, "message \"%s\" lacks \"%s\"", err.message, text);
}

static void expect_ok(int rc)
{
    ck_assert_msg(rc == 0, "%s:%u: %s", err.file, err.line, err.message);
}

/* Text of SetEnv number i at server level. */
static const char *setenv_value(size_t i)
{
    ck_assert_uint_gt(srv()->conf.n_setenv, i);
    return srv()->conf.setenv[i].value;
}

/* ------------------------------------------------------------------------ */
/* Lexer                                                                    */

START_TEST(quoting_and_escapes)
{
    expect_ok(load_text("SetEnv A \"two words\"\n"
                        "SetEnv B 'single \"quoted\"'\n"
                        "SetEnv C \"esc \\\"q\\\" and \\\\ back\"\n"
                        "SetEnv D plain\\\\slash\n"
                        "SetEnv E \"\"\n"
                        "SetEnv F \"\\n stays\"\n"
                        "SetEnv G 'it\\'s'\n"));
    ck_assert_str_eq(setenv_value(0), "two words");
    ck_assert_str_eq(setenv_value(1), "single \"quoted\"");
    ck_assert_str_eq(setenv_value(2), "esc \"q\" and \\ back");
    ck_assert_str_eq(setenv_value(3), "plain\\slash");
    ck_assert_str_eq(setenv_value(4), "");
    ck_assert_str_eq(setenv_value(5), "\\n stays");
    ck_assert_str_eq(setenv_value(6), "it's");
    expect_error(load_text("\n\nSetEnv A \"open\n"), "main.conf", 4, "unterminated double-quoted argument");
    expect_error(load_text("SetEnv A B C\n"), "main.conf", 2, "SetEnv takes 1-2 arguments");
}
END_TEST

START_TEST(continuation_lines)
{
    expect_ok(load_text("SetEnv \\\n   A \\\n   value\n"
                        "SetEnv B x\\\\\n"
                        "SetEnv C y\r\n"
                        "ServerName \\\r\n example.org\n"));
    ck_assert_str_eq(srv()->conf.setenv[0].name, "A");
    ck_assert_str_eq(setenv_value(0), "value");
    ck_assert_str_eq(setenv_value(1), "x\\"); /* "\\" at the end is not a continuation */
    ck_assert_str_eq(setenv_value(2), "y");
    ck_assert_str_eq(srv()->server_name, "example.org");
    /* an error in a continued directive is reported at its first line */
    expect_error(load_text("# one\nKeepAlive \\\n  Maybe\n"), "main.conf", 3, "KeepAlive must be On or Off");
}
END_TEST

START_TEST(comments)
{
    expect_ok(load_text("# comment\n   # indented comment\n\t#tab\n\n"
                        "SetEnv A #not-a-comment\n"
                        "# continued comment \\\nRewriteEngine On\n"));
    ck_assert_str_eq(setenv_value(0), "#not-a-comment");
    expect_error(load_text("\n\n\nRewriteEngine On # trailing\n"), "main.conf", 5,
                 "RewriteEngine is not supported: use ProxyPassMatch");
}
END_TEST

START_TEST(nul_and_long_lines)
{
    char buf[64] = "Listen 80\nSetEnv A b\0c\n";
    ck_assert_int_ne(gw_config_parse_buffer("mem.conf", buf, 23, NULL, load_flags(), &cfg, &err), 0);
    ck_assert_str_eq(err.file, "mem.conf");
    ck_assert_uint_eq(err.line, 2);
    ck_assert_ptr_nonnull(strstr(err.message, "NUL byte"));
    size_t n = GW_CONFIG_MAX_LINE + 100;
    char *big = malloc(n + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', n);
    memcpy(big, "SetEnv A ", 9);
    big[n] = '\0';
    ck_assert_int_eq(gw_config_parse_buffer("big.conf", big, n, NULL, load_flags(), &cfg, &err), FCGIC_E_RANGE);
    ck_assert_ptr_nonnull(strstr(err.message, "line longer than"));
    free(big);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Sections                                                                 */

START_TEST(nested_sections)
{
    expect_ok(load_text("DocumentRoot /srv/www\n"
                        "<IfModule mod_proxy_fcgi.c>\n"
                        "  <location /app>\n"
                        "    <IfModule !proxy_fcgi_module>\n"
                        "      Bogus directive never read\n"
                        "      <Whatever x>\n      </Whatever>\n"
                        "    </IfModule>\n"
                        "    ProxyFCGIBackendType GENERIC\n"
                        "  </LOCATION>\n"
                        "</IfModule>\n"
                        "<IfModule mod_rewrite.c>\n  RewriteEngine On\n</IfModule>\n"
                        "<LocationMatch \"^/x/(.*)$\">\n</LocationMatch>\n"
                        "<Location ~ \"\\.y$\">\n</Location>\n"
                        "<FilesMatch \"\\.php$\">\n  SetHandler \"proxy:fcgi://127.0.0.1:9000\"\n</FilesMatch>\n"
                        "<Files \"*.phtml\">\n</Files>\n"));
    const struct gw_server *s = srv();
    ck_assert_uint_eq(s->n_locations, 3);
    ck_assert_int_eq(s->locations[0]->kind, GW_SEC_LOCATION);
    ck_assert_str_eq(s->locations[0]->arg, "/app");
    ck_assert_ptr_null(s->locations[0]->regex);
    ck_assert_uint_eq(s->locations[0]->conf.set, GW_DC_BACKEND);
    ck_assert_int_eq(s->locations[0]->conf.backend, FCGIC_ENV_BACKEND_GENERIC);
    ck_assert_int_eq(s->locations[1]->kind, GW_SEC_LOCATION_MATCH);
    ck_assert_int_eq(s->locations[2]->kind, GW_SEC_LOCATION_MATCH);
    ck_assert_int_eq(gw_regex_match(s->locations[1]->regex, "/x/a", 4), 1);
    ck_assert_int_eq(gw_regex_match(s->locations[1]->regex, "/y/a", 4), 0);
    ck_assert_uint_eq(s->n_files, 2);
    ck_assert_int_eq(s->files[0]->kind, GW_SEC_FILES_MATCH);
    ck_assert_int_eq(s->files[0]->conf.handler, GW_HANDLER_PROXY);
    ck_assert_int_eq(s->files[1]->kind, GW_SEC_FILES);
    ck_assert_int_eq(gw_regex_match(s->files[1]->regex, "a.phtml", 7), 1);
    ck_assert_int_eq(gw_regex_match(s->files[1]->regex, "a.phtmlx", 8), 0);
    ck_assert_int_eq(gw_regex_match(s->files[1]->regex, "d/a.phtml", 9), 0);
}
END_TEST

START_TEST(mismatched_closers)
{
    expect_error(load_text("<Location /a>\n</Files>\n"), "main.conf", 3, "Expected </Location> but saw </Files>");
    expect_error(load_text("SetEnv A b\n</Location>\n"), "main.conf", 3,
                 "</Location> without matching <Location> section");
    expect_error(load_text("\n<Location /a>\nSetEnv A b\n"), "main.conf", 3, "<Location> was not closed");
    expect_error(load_text("<Location /a\n</Location>\n"), "main.conf", 2,
                 "<Location> directive missing closing '>'");
    expect_error(load_text("<Location>\n</Location>\n"), "main.conf", 2,
                 "<Location> directive requires additional arguments");
    expect_error(load_text("<Location /a>\n<Location /b>\n</Location>\n</Location>\n"), "main.conf", 3,
                 "<Location cannot occur within <Location> section");
    expect_error(load_text("<VirtualHost *:80>\n</VirtualHost>\n"), "main.conf", 2,
                 "<VirtualHost> is not supported: one server per gateway");
    expect_error(load_text("<Frobnicate>\n"), "main.conf", 2, "Invalid command '<Frobnicate>'");
    expect_error(load_text("<LocationMatch \"(\">\n</LocationMatch>\n"), "main.conf", 2,
                 "Regex could not be compiled");
    expect_error(load_text("<Files *.php>\nProxyPass fcgi://127.0.0.1:9000/\n</Files>\n"), "main.conf", 3,
                 "ProxyPass cannot occur within <Files> section");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Include                                                                  */

START_TEST(include_glob)
{
    put("conf.d/20-b.conf", "SetEnv B 2\n");
    put("conf.d/10-a.conf", "SetEnv A 1\n");
    put("conf.d/skip.txt", "SetEnv X x\n");
    put("sub/loc.conf", "SetEnv IN loc\n");
    expect_ok(load_text("Include conf.d/*.conf\n"
                        "IncludeOptional nothing/*.conf\n"
                        "IncludeOptional missing.conf\n"
                        "<Location /l>\nInclude sub/loc.conf\n</Location>\n"));
    ck_assert_uint_eq(srv()->conf.n_setenv, 2);
    ck_assert_str_eq(srv()->conf.setenv[0].name, "A");
    ck_assert_str_eq(srv()->conf.setenv[1].name, "B");
    ck_assert_uint_eq(srv()->locations[0]->conf.n_setenv, 1);
    /* a directory is read file by file */
    expect_ok(load_text("Include conf.d\n"));
    ck_assert_uint_eq(srv()->conf.n_setenv, 3);
    expect_error(load_text("Include nothing/*.conf\n"), "main.conf", 2, "No matches for the wildcard");
    expect_error(load_text("\nInclude missing.conf\n"), "main.conf", 3, "Could not open configuration file");
}
END_TEST

START_TEST(include_errors_name_the_file)
{
    put("inc/a.conf", "# a\nInclude inc/b.conf\n");
    put("inc/b.conf", "\n\nKeepAlive Sometimes\n");
    expect_error(load_text("Include inc/a.conf\n"), "inc/b.conf", 3, "KeepAlive must be On or Off");
    put("inc/c.conf", "<Location /c>\n");
    expect_error(load_text("Include inc/c.conf\n</Location>\n"), "inc/c.conf", 1, "<Location> was not closed");
    put("inc/d.conf", "</Location>\n");
    expect_error(load_text("<Location /d>\nInclude inc/d.conf\n</Location>\n"), "inc/d.conf", 1,
                 "was opened in");
}
END_TEST

START_TEST(include_depth_limit)
{
    put("loop.conf", "Include loop.conf\n");
    expect_error(load_text("Include loop.conf\n"), "loop.conf", 1,
                 "Exceeded the maximum include directory nesting level of 16");
    /* exactly at the limit is fine */
    char name[32], text[64];
    for (int i = 1; i <= GW_CONFIG_MAX_INCLUDE_DEPTH; i++) {
        snprintf(name, sizeof(name), "d%d.conf", i);
        if (i < GW_CONFIG_MAX_INCLUDE_DEPTH)
            snprintf(text, sizeof(text), "Include d%d.conf\n", i + 1);
        else
            snprintf(text, sizeof(text), "SetEnv DEEP yes\n");
        put(name, text);
    }
    expect_ok(load_text("Include d1.conf\n"));
    ck_assert_str_eq(setenv_value(0), "yes");
}
END_TEST

START_TEST(buffer_include)
{
    const char *t = "Listen 80\nInclude x.conf\n";
    ck_assert_int_eq(gw_config_parse_buffer("buf", t, strlen(t), NULL, 0, &cfg, &err), FCGIC_E_NOTSUP);
    ck_assert_uint_eq(err.line, 2);
    put("x.conf", "SetEnv X 1\n");
    ck_assert_int_eq(gw_config_parse_buffer("buf", t, strlen(t), tmpdir, load_flags(), &cfg, &err), 0);
    gw_config_unref(cfg);
    cfg = NULL;
    const char *u = "Listen 80\nInclude /etc/passwd\n";
    ck_assert_int_eq(gw_config_parse_buffer("buf", u, strlen(u), tmpdir, 0, &cfg, &err), FCGIC_E_INVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "outside"));
    const char *v = "Listen 80\nInclude ../x.conf\n";
    ck_assert_int_eq(gw_config_parse_buffer("buf", v, strlen(v), tmpdir, 0, &cfg, &err), FCGIC_E_INVAL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Server directives                                                        */

START_TEST(defaults)
{
    expect_ok(load_text(""));
    const struct gw_server *s = srv();
    ck_assert_uint_eq(s->n_listen, 1);
    ck_assert_ptr_null(s->listen[0].addr);
    ck_assert_uint_eq(s->listen[0].port, 8080);
    ck_assert_uint_eq(s->limits.request_line, 8190);
    ck_assert_uint_eq(s->limits.request_field_size, 8190);
    ck_assert_uint_eq(s->limits.request_fields, 100);
    ck_assert_uint_eq(s->limits.request_body, 1073741824ull);
    ck_assert_uint_eq(s->limits.max_keepalive_requests, 100);
    ck_assert_uint_eq(s->timeouts.timeout, 60000000000ull);
    ck_assert_uint_eq(s->timeouts.proxy_timeout, 60000000000ull);
    ck_assert_uint_eq(s->timeouts.keepalive, 5000000000ull);
    ck_assert_int_eq(s->keepalive, 1);
    ck_assert_uint_ge(s->threads, 1);
    ck_assert_int_eq(s->encoded_slashes, FCGIC_ENV_SLASHES_REJECT);
    ck_assert_int_eq(s->logs.level, GW_LOG_WARN);
    ck_assert_str_eq(gw_config_log_format(cfg, "common"), "%h %l %u %t \"%r\" %>s %b");
    ck_assert_ptr_nonnull(gw_config_log_format(cfg, "combined"));
    /* no Listen at all */
    put("empty.conf", "# nothing\n");
    ck_assert_int_ne(load("empty.conf"), 0);
    ck_assert_ptr_nonnull(strstr(err.message, "no Listen directive"));
}
END_TEST

START_TEST(listen)
{
    put("l.conf", "Listen 80\nListen 127.0.0.1:8081\nListen [::1]:8082 http\nListen *:8083\n"
                  "Listen localhost:8084\n");
    expect_ok(load("l.conf"));
    const struct gw_server *s = srv();
    ck_assert_uint_eq(s->n_listen, 5);
    ck_assert_ptr_null(s->listen[0].addr);
    ck_assert_str_eq(s->listen[1].addr, "127.0.0.1");
    ck_assert_uint_eq(s->listen[1].port, 8081);
    ck_assert_str_eq(s->listen[2].addr, "::1");
    ck_assert_int_eq(s->listen[2].ipv6, 1);
    ck_assert_ptr_null(s->listen[3].addr);
    ck_assert_uint_eq(s->listen[3].port, 8083);
    ck_assert_str_eq(s->listen[4].addr, "localhost");
    ck_assert_uint_eq(s->listen[4].at.line, 5);
    expect_error(load_text("Listen 127.0.0.1\n"), "main.conf", 2, "Port must be specified");
    expect_error(load_text("Listen 70000\n"), "main.conf", 2, "Invalid address or port");
    expect_error(load_text("Listen [fe80::1%eth0]:80\n"), "main.conf", 2, "Scope id is not supported");
    expect_error(load_text("Listen 8080\n"), "main.conf", 2, "Cannot define multiple Listeners");
    expect_error(load_text("Listen 443 https\n"), "main.conf", 2, "terminate TLS in front of the gateway");
    expect_error(load_text("Listen\n"), "main.conf", 2, "Listen takes 1-2 arguments");
}
END_TEST

START_TEST(server_values)
{
    expect_ok(load_text("ServerName https://www.example.com:8443\n"
                        "ServerAdmin admin@example.com\n"
                        "DocumentRoot \"/srv/www/\"\n"
                        "DirectoryIndex index.php index.html\n"
                        "DirectoryIndex default.htm\n"
                        "Timeout 30\nProxyTimeout 2mi\nKeepAlive Off\nKeepAliveTimeout 1500ms\n"
                        "MaxKeepAliveRequests 0\nLimitRequestLine 4096\nLimitRequestFieldSize 1024\n"
                        "LimitRequestFields 50\nLimitRequestBody 0\nThreads 3\nAllowEncodedSlashes NoDecode\n"
                        "ProxyFCGIBackendType GENERIC\n"));
    const struct gw_server *s = srv();
    ck_assert_str_eq(s->server_name, "www.example.com");
    ck_assert_str_eq(s->server_scheme, "https");
    ck_assert_uint_eq(s->server_port, 8443);
    ck_assert_str_eq(s->server_admin, "admin@example.com");
    ck_assert_str_eq(s->document_root, "/srv/www");
    ck_assert_uint_eq(s->conf.n_directory_index, 3);
    ck_assert_str_eq(s->conf.directory_index[2], "default.htm");
    ck_assert_uint_eq(s->timeouts.timeout, 30000000000ull);
    ck_assert_uint_eq(s->timeouts.proxy_timeout, 120000000000ull);
    ck_assert_uint_eq(s->timeouts.keepalive, 1500000000ull);
    ck_assert_int_eq(s->keepalive, 0);
    ck_assert_uint_eq(s->limits.max_keepalive_requests, 0);
    ck_assert_uint_eq(s->limits.request_line, 4096);
    ck_assert_uint_eq(s->limits.request_field_size, 1024);
    ck_assert_uint_eq(s->limits.request_fields, 50);
    ck_assert_uint_eq(s->limits.request_body, 0);
    ck_assert_uint_eq(s->threads, 3);
    ck_assert_int_eq(s->encoded_slashes, FCGIC_ENV_SLASHES_NODECODE);
    ck_assert_int_eq(s->conf.backend, FCGIC_ENV_BACKEND_GENERIC);
    /* Timeout alone sets ProxyTimeout's default */
    expect_ok(load_text("Timeout 7\n"));
    ck_assert_uint_eq(srv()->timeouts.proxy_timeout, 7000000000ull);
    expect_ok(load_text("DirectoryIndex disabled\nServerName localhost\n"));
    ck_assert_uint_eq(srv()->conf.n_directory_index, 0);
    ck_assert_uint_eq(srv()->conf.set & GW_DC_DIRECTORY_INDEX, GW_DC_DIRECTORY_INDEX);
}
END_TEST

START_TEST(server_errors)
{
    static const struct {
        const char *line, *message;
    } bad[] = {
        {"ServerName www.example.com:0", "outside the appropriate range (i.e., 1..65535)"},
        {"ServerName ftp://x", "scheme must be http or https"},
        {"ServerName a b", "ServerName takes one argument, The hostname and port of the server"},
        {"ServerName \"bad host\"", "Invalid ServerName"},
        {"DocumentRoot relative/path", "DocumentRoot must be an absolute path"},
        {"DocumentRoot /srv/../etc", "DocumentRoot must be an absolute path"},
        {"DirectoryIndex disabled index.php", "DirectoryIndex disabled must be the only argument"},
        {"DirectoryIndex sub/index.php", "is not a file name"},
        {"DirectoryIndex", "DirectoryIndex requires at least one argument"},
        {"Timeout soon", "Timeout has wrong format"},
        {"Timeout 0", "Timeout must be at least 1 millisecond"},
        {"Timeout 5 weeks", "Timeout takes one argument"},
        {"ProxyTimeout 10x", "ProxyTimeout has wrong format"},
        {"KeepAliveTimeout -1", "KeepAliveTimeout has wrong format"},
        {"KeepAlive yes", "KeepAlive must be On or Off"},
        {"MaxKeepAliveRequests many", "MaxKeepAliveRequests \"many\" must be a non-negative integer"},
        {"LimitRequestLine -5", "LimitRequestLine \"-5\" must be a non-negative integer"},
        {"LimitRequestFieldSize 99999999999", "must be a non-negative integer"},
        {"LimitRequestFields x", "LimitRequestFields \"x\" must be a non-negative integer"},
        {"LimitRequestBody 1G", "LimitRequestBody argument is not parsable"},
        {"Threads 0", "Threads must be a number between 1 and 1024"},
        {"Threads 5000", "Threads must be a number between 1 and 1024"},
        {"AllowEncodedSlashes Maybe", "AllowEncodedSlashes must be On, Off, or NoDecode"},
        {"ProxyFCGIBackendType PHP", "ProxyFCGIBackendType requires one of the following arguments"},
        {"CGIPassAuth On", "CGIPassAuth not allowed here"},
        {"SetEnv", "SetEnv takes 1-2 arguments"},
        {"SetEnv A=B", "is not a valid variable name"},
        {"ThreadsPerChild 25", "ThreadsPerChild is not supported: one process runs event loops: use Threads N"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "\n%s\n", bad[i].line);
        expect_error(load_text(text), "main.conf", 3, bad[i].message);
    }
    expect_error(load_text("<Location /a>\nServerName x\n</Location>\n"), "main.conf", 3,
                 "ServerName cannot occur within <Location> section");
}
END_TEST

START_TEST(directory_values)
{
    expect_ok(load_text("<Location /a>\n"
                        "  CGIPassAuth On\n  LimitRequestBody 1000\n  DirectoryIndex app.php\n"
                        "  SetEnv proxy-fcgi-pathinfo first-dot\n  SetEnv X 1\n  SetEnv x 2\n"
                        "  SetHandler server-status\n"
                        "</Location>\n"
                        "<Location /b>\n  SetHandler None\n</Location>\n"));
    const struct gw_dir_conf *c = &srv()->locations[0]->conf;
    /* SetEnv proxy-fcgi-pathinfo is only sent, as in Apache (too late to act) */
    ck_assert_uint_eq(c->set, GW_DC_PASS_AUTH | GW_DC_LIMIT_BODY | GW_DC_DIRECTORY_INDEX);
    ck_assert_int_eq(c->pass_auth, 1);
    ck_assert_uint_eq(c->limit_request_body, 1000);
    ck_assert_int_eq(c->pathinfo, FCGIC_ENV_PATHINFO_DEFAULT);
    ck_assert_uint_eq(c->n_setenv, 2);
    ck_assert_str_eq(c->setenv[1].name, "X");
    ck_assert_str_eq(c->setenv[1].value, "2");
    ck_assert_int_eq(c->handler, GW_HANDLER_STATUS);
    ck_assert_int_eq(srv()->locations[1]->conf.handler, GW_HANDLER_NONE);
    expect_ok(load_text("<Location /metrics>\n  SetHandler metrics\n</Location>\n"));
    ck_assert_int_eq(srv()->locations[0]->conf.handler, GW_HANDLER_METRICS);
    ck_assert_uint_eq(srv()->limits.request_body, 1073741824ull);
    expect_error(load_text("<Location /a>\nCGIPassAuth perhaps\n</Location>\n"), "main.conf", 3,
                 "CGIPassAuth must be On or Off");
    expect_error(load_text("SetHandler cgi-script\n"), "main.conf", 2, "SetHandler cgi-script is not supported");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Proxy                                                                    */

START_TEST(proxy_pass)
{
    expect_ok(load_text("DocumentRoot /srv/www\n"
                        "ProxyPass /status !\n"
                        "ProxyPass /app/ fcgi://127.0.0.1:9000/srv/app/ enablereuse=on max=20 min=2 smax=10 "
                        "ttl=30 timeout=5 connectiontimeout=500ms retry=0 flushpackets=auto flushwait=20 "
                        "acquire=250\n"
                        "ProxyPassMatch ^/(.*\\.php(/.*)?)$ \"unix:/run/php/fpm.sock|fcgi://localhost/srv/www/$1\"\n"
                        "ProxyPass /other/ FCGI://127.0.0.1:9000/srv/other/\n"
                        "<Location /loc/>\n  ProxyPass fcgi://[::1]:9001/srv/loc/ disablereuse=on\n</Location>\n"
                        "<LocationMatch ^/m/(.*)$>\n  ProxyPass fcgi://127.0.0.1:9002/srv/m/$1\n</LocationMatch>\n"));
    const struct gw_server *s = srv();
    ck_assert_uint_eq(s->n_proxy_mappings, 6);
    const struct gw_mapping *m = s->proxy_mappings[0];
    ck_assert_int_eq(m->exclude, 1);
    ck_assert_str_eq(m->match, "/status");
    ck_assert_ptr_null(m->map);
    m = s->proxy_mappings[1];
    ck_assert_int_eq(m->kind, GW_MAP_PROXY_PASS);
    ck_assert_str_eq(m->match, "/app/");
    ck_assert_str_eq(m->url, "fcgi://127.0.0.1:9000/srv/app/");
    ck_assert_ptr_nonnull(m->worker);
    ck_assert_str_eq(m->worker->address, "fcgi://127.0.0.1:9000");
    const struct gw_worker_params *wp = &m->worker->params;
    ck_assert_uint_eq(wp->set, GW_WP_REUSE | GW_WP_MAX | GW_WP_MIN | GW_WP_SMAX | GW_WP_TTL | GW_WP_TIMEOUT |
                                   GW_WP_CONNECT_TIMEOUT | GW_WP_RETRY | GW_WP_FLUSH | GW_WP_FLUSH_WAIT |
                                   GW_WP_ACQUIRE);
    ck_assert_int_eq(wp->enable_reuse, 1);
    ck_assert_uint_eq(wp->max, 20);
    ck_assert_uint_eq(wp->min, 2);
    ck_assert_uint_eq(wp->smax, 10);
    ck_assert_uint_eq(wp->ttl_ns, 30000000000ull);
    ck_assert_uint_eq(wp->timeout_ns, 5000000000ull);
    ck_assert_uint_eq(wp->connect_timeout_ns, 500000000ull);
    ck_assert_uint_eq(wp->retry_ns, FCGIC_RETRY_IMMEDIATE);
    ck_assert_int_eq(wp->flush, GW_FLUSH_AUTO);
    ck_assert_uint_eq(wp->flush_wait_ns, 20000000ull);
    ck_assert_uint_eq(wp->acquire_ns, 250000000ull);
    ck_assert_ptr_nonnull(m->map);
    for (int b = 0; b < 2; b++)
        for (int a = 0; a < 2; a++)
            ck_assert_ptr_nonnull(m->maps[b][a]);
    ck_assert_ptr_eq(m->map, m->maps[FCGIC_ENV_BACKEND_FPM][0]);
    m = s->proxy_mappings[2];
    ck_assert_int_eq(m->kind, GW_MAP_PROXY_PASS_MATCH);
    ck_assert_str_eq(m->worker->address, "unix:/run/php/fpm.sock|fcgi://localhost");
    /* the scheme is case-insensitive; the worker is shared */
    ck_assert_ptr_eq(s->proxy_mappings[3]->worker, s->proxy_mappings[1]->worker);
    m = s->proxy_mappings[4];
    ck_assert_ptr_eq(m->section, s->locations[0]);
    ck_assert_str_eq(m->match, "/loc/");
    ck_assert_int_eq(m->worker->params.enable_reuse, 0);
    ck_assert_uint_eq(s->locations[0]->n_mappings, 1);
    ck_assert_ptr_eq(s->locations[0]->mappings[0], m);
    m = s->proxy_mappings[5];
    ck_assert_int_eq(m->kind, GW_MAP_PROXY_PASS_MATCH);
    ck_assert_str_eq(m->match, "^/m/(.*)$");
    ck_assert_uint_eq(s->n_workers, 4);
}
END_TEST

START_TEST(proxy_pass_errors)
{
    static const struct {
        const char *line, *message;
    } bad[] = {
        {"ProxyPass /a/ http://127.0.0.1/", "scheme http:// is not supported"},
        {"ProxyPass /a/", "ProxyPass needs a path when not defined in a location"},
        {"ProxyPass a/ fcgi://127.0.0.1:9000/", "the path must start with '/'"},
        {"ProxyPass /a/ fcgi://127.0.0.1:99999/", "malformed backend URL"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ nocanon", "flag or argument \"nocanon\" is not supported"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ max=-1", "Max must be a positive number"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ min=x", "Min must be a positive number"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ smax=x", "Smax must be a positive number"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ ttl=0", "TTL must be at least one second"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ timeout=0", "Timeout must be at least one millisecond"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ connectiontimeout=x", "Connectiontimeout must be at least one"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ retry=-1", "Retry must be a positive value"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ acquire=0", "Acquire timeout must be at least one millisecond"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ enablereuse=maybe", "EnableReuse must be On|Off"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ disablereuse=maybe", "DisableReuse must be On|Off"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ flushpackets=x", "flushpackets must be on|off|auto"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ flushwait=1001", "flushwait must be <= 1000"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ loadfactor=2", "loadfactor is a BalancerMember parameter"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/ ping=1", "unknown Worker parameter ping"},
        {"ProxyPass /a/ ! max=1", "no parameters after '!'"},
        {"ProxyPassMatch ^/(a$ fcgi://127.0.0.1:9000/$1", "Regex could not be compiled"},
        {"ProxyPass /a/ fcgi://127.0.0.1:9000/../etc/", "cannot be compiled"},
        {"ProxyPass /a/ balancer://nobody/", "balancer://nobody has no members"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "\n%s\n", bad[i].line);
        expect_error(load_text(text), "main.conf", 3, bad[i].message);
    }
    expect_error(load_text("ProxyPass /a/ fcgi://h:1/ max=5\nProxyPass /b/ fcgi://h:1/ max=6\n"), "main.conf", 3,
                 "max is already set to another value");
    expect_error(load_text("<Location /a>\nProxyPass /a fcgi://h:1/\n</Location>\n"), "main.conf", 3,
                 "ProxyPass can not have a path when defined in a location");
}
END_TEST

START_TEST(handlers)
{
    expect_ok(load_text("DocumentRoot /srv/www\nDirectoryIndex index.php\n"
                        "<FilesMatch \\.php$>\n  SetHandler \"proxy:unix:/run/php.sock|fcgi://localhost/\"\n"
                        "</FilesMatch>\n"
                        "<Files \"*.phtml\">\n  SetHandler proxy:fcgi://127.0.0.1:9000\n</Files>\n"
                        "<Location /lb/>\n  SetHandler proxy:balancer://pool\n</Location>\n"
                        "<Proxy balancer://pool>\n  BalancerMember fcgi://127.0.0.1:9100\n</Proxy>\n"));
    const struct gw_server *s = srv();
    const struct gw_mapping *m = s->files[0]->conf.handler_mapping;
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->kind, GW_MAP_HANDLER);
    ck_assert_str_eq(m->match, "\\.php$");
    ck_assert_str_eq(m->worker->address, "unix:/run/php.sock|fcgi://localhost");
    ck_assert_ptr_nonnull(m->map);
    m = s->files[1]->conf.handler_mapping;
    ck_assert_str_eq(m->match, "^[^/]*\\.phtml$");
    m = s->locations[0]->conf.handler_mapping;
    ck_assert_ptr_null(m->match);
    ck_assert_ptr_eq(m->balancer, gw_config_balancer(cfg, "balancer://POOL"));
    ck_assert_ptr_nonnull(m->map);
    ck_assert_uint_eq(s->n_proxy_mappings, 0);
    expect_error(load_text("<FilesMatch \\.php$>\n  SetHandler proxy:fcgi://127.0.0.1:9000\n</FilesMatch>\n"),
                 "main.conf", 3, "needs DocumentRoot");
}
END_TEST

START_TEST(balancers)
{
    expect_ok(load_text("<Proxy \"balancer://App\">\n"
                        "  BalancerMember fcgi://10.0.0.1:9000 loadfactor=3 lbset=1 route=a enablereuse=on max=8\n"
                        "  BalancerMember \"unix:/run/b.sock|fcgi://b\" status=+H route=b\n"
                        "  BalancerMember fcgi://10.0.0.3:9000 status=+D+N-D retry=5\n"
                        "  ProxySet lbmethod=bybusyness stickysession=SID|sid nofailover=On maxattempts=2 "
                        "forcerecovery=off\n"
                        "</Proxy>\n"
                        "BalancerMember balancer://other fcgi://10.0.0.9:9000 status=E\n"
                        "ProxySet balancer://other lbmethod=bytraffic\n"
                        "<Proxy fcgi://10.0.0.5:9000>\n  ProxySet enablereuse=on timeout=3\n</Proxy>\n"
                        "ProxySet fcgi://10.0.0.6:9000 max=4\n"
                        "ProxyPass /app/ balancer://app/srv/app/\n"
                        "ProxyPass /five/ fcgi://10.0.0.5:9000/srv/\n"));
    const struct gw_server *s = srv();
    ck_assert_uint_eq(s->n_balancers, 2);
    const struct gw_balancer *b = s->balancers[0];
    ck_assert_str_eq(b->name, "balancer://app");
    ck_assert_int_eq(b->method, FCGIC_LB_BYBUSYNESS);
    ck_assert_str_eq(b->sticky_session, "SID|sid");
    ck_assert_int_eq(b->nofailover, 1);
    ck_assert_int_eq(b->max_attempts_set, 1);
    ck_assert_uint_eq(b->max_attempts, 2);
    ck_assert_int_eq(b->no_force_recovery, 1);
    ck_assert_uint_eq(b->n_members, 3);
    ck_assert_str_eq(b->members[0].address, "fcgi://10.0.0.1:9000");
    ck_assert_uint_eq(b->members[0].lbfactor, 3);
    ck_assert_uint_eq(b->members[0].lbset, 1);
    ck_assert_str_eq(b->members[0].route, "a");
    ck_assert_int_eq(b->members[0].params.enable_reuse, 1);
    ck_assert_uint_eq(b->members[0].params.max, 8);
    ck_assert_uint_eq(b->members[1].status, FCGIC_MEMBER_STANDBY);
    ck_assert_uint_eq(b->members[1].lbfactor, 1);
    ck_assert_uint_eq(b->members[2].status, FCGIC_MEMBER_DRAIN);
    ck_assert_uint_eq(b->members[2].params.retry_ns, 5000000000ull);
    b = s->balancers[1];
    ck_assert_int_eq(b->method, FCGIC_LB_BYTRAFFIC);
    ck_assert_uint_eq(b->members[0].status, FCGIC_MEMBER_ERROR);
    const struct gw_mapping *m = s->proxy_mappings[0];
    ck_assert_ptr_eq(m->balancer, s->balancers[0]);
    ck_assert_ptr_null(m->worker);
    ck_assert_ptr_nonnull(m->map);
    m = s->proxy_mappings[1];
    ck_assert_int_eq(m->worker->params.enable_reuse, 1);
    ck_assert_uint_eq(m->worker->params.timeout_ns, 3000000000ull);
    ck_assert_uint_eq(s->n_workers, 2);
    ck_assert_uint_eq(s->workers[1]->params.max, 4);

    static const struct {
        const char *text, *message;
    } bad[] = {
        {"<Proxy balancer://x>\nBalancerMember fcgi://h:1 loadfactor=101\n</Proxy>\n", "LoadFactor must be a number"},
        {"<Proxy balancer://x>\nBalancerMember fcgi://h:1 lbset=100\n</Proxy>\n", "lbset must be between 0 and 99"},
        {"<Proxy balancer://x>\nBalancerMember fcgi://h:1 status=+S\n</Proxy>\n", "Unknown status parameter"},
        {"<Proxy balancer://x>\nBalancerMember fcgi://h:1 route=0123456789012345678901234567890123456789012345"
         "678901234567890123456789\n</Proxy>\n", "Route length must be < 64"},
        {"<Proxy balancer://x>\nBalancerMember fcgi://h:1\nBalancerMember fcgi://h:1\n</Proxy>\n",
         "is already a member"},
        {"<Proxy balancer://x>\nBalancerMember balancer://x fcgi://h:1\n</Proxy>\n",
         "BalancerMember can not have a balancer name"},
        {"<Proxy balancer://x>\nBalancerMember fcgi://h:1/path\n</Proxy>\n", "a member URL has no path"},
        {"<Proxy balancer://x>\nBalancerMember fcgi://h:1\nProxySet lbmethod=heartbeat\n</Proxy>\n",
         "unknown lbmethod heartbeat"},
        {"<Proxy balancer://x>\nBalancerMember fcgi://h:1\nProxySet nofailover=x\n</Proxy>\n",
         "failover must be On|Off"},
        {"<Proxy balancer://x>\nBalancerMember fcgi://h:1\nProxySet maxattempts=-1\n</Proxy>\n",
         "maximum number of attempts must be a positive number"},
        {"<Proxy balancer://x>\nBalancerMember fcgi://h:1\nProxySet growth=2\n</Proxy>\n",
         "unknown Balancer parameter growth"},
        {"<Proxy fcgi://h:1>\nBalancerMember fcgi://h:2\n</Proxy>\n", "BalancerMember belongs in <Proxy"},
        {"<Proxy fcgi://h:1>\nSetEnv A b\n</Proxy>\n", "SetEnv cannot occur within <Proxy> section"},
        {"<Proxy *>\n</Proxy>\n", "wildcards are not supported"},
        {"BalancerMember fcgi://h:1\n", "BalancerMember must define balancer name"},
        {"ProxySet lbmethod=byrequests\n", "ProxySet needs a balancer or worker URL"},
        {"<Proxy balancer://empty>\n</Proxy>\n", "balancer://empty has no members"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "\n%s", bad[i].text);
        int rc = load_text(text);
        ck_assert_msg(rc != 0, "accepted: %s", bad[i].text);
        ck_assert_msg(strstr(err.message, bad[i].message) != NULL, "\"%s\" lacks \"%s\"", err.message,
                      bad[i].message);
        ck_assert_uint_ge(err.line, 3);
    }
}
END_TEST

/* <Proxy url key=value>: the parameters of the section's worker or
 * balancer; a unix-socket worker takes those of its fcgi://host worker, as
 * Apache's PHP-FPM recipe <Proxy "fcgi://localhost/" enablereuse=on max=10>
 * with SetHandler "proxy:unix:/run/php.sock|fcgi://localhost/". */
START_TEST(proxy_section_params)
{
    expect_ok(load_text("DocumentRoot /srv\n"
                        "<Proxy \"fcgi://localhost/\" enablereuse=on max=10>\n</Proxy>\n"
                        "<Proxy balancer://b lbmethod=bytraffic>\n  BalancerMember fcgi://h:1\n</Proxy>\n"
                        "<FilesMatch \"\\.php$\">\n"
                        "  SetHandler \"proxy:unix:/run/php.sock|fcgi://localhost/\"\n"
                        "</FilesMatch>\n"
                        "ProxyPass /own/ \"unix:/run/own.sock|fcgi://localhost/\" max=3\n"));
    const struct gw_server *s = srv();
    ck_assert_uint_eq(s->n_workers, 3);
    const struct gw_worker *own = NULL, *php = NULL;
    for (size_t i = 0; i < s->n_workers; i++) {
        if (strcmp(s->workers[i]->address, "unix:/run/own.sock|fcgi://localhost") == 0)
            own = s->workers[i];
        if (strcmp(s->workers[i]->address, "unix:/run/php.sock|fcgi://localhost") == 0)
            php = s->workers[i];
    }
    ck_assert_ptr_nonnull(own);
    ck_assert_ptr_nonnull(php);
    ck_assert_uint_eq(own->params.max, 3); /* parameters of its own: nothing inherited */
    ck_assert_int_eq(own->params.enable_reuse, 0);
    ck_assert_int_eq(php->params.enable_reuse, 1);
    ck_assert_uint_eq(php->params.max, 10);
    ck_assert_int_eq(s->balancers[0]->method, FCGIC_LB_BYTRAFFIC);
    expect_error(load_text("<Proxy fcgi://h:1 bogus>\n</Proxy>\n"), "main.conf", 2,
                 "<Proxy>: flag or argument \"bogus\" is not supported");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Directory, If, Require, Header, ErrorDocument                           */

START_TEST(directory_sections)
{
    expect_ok(load_text("DocumentRoot /srv/www\n"
                        "<Directory \"/srv/www/a/b/\">\n  Options None\n  AllowOverride None\n"
                        "  ProxyFCGIBackendType GENERIC\n</Directory>\n"
                        "<DirectoryMatch \"^/srv/www/[0-9]+/\">\n  SetEnv D 1\n</DirectoryMatch>\n"
                        "<Directory \"/srv/www\">\n  Options -Indexes +FollowSymLinks\n  Require all granted\n"
                        "</Directory>\n"
                        "<Directory \"/srv/*/x/\">\n  DirectoryIndex a.php\n</Directory>\n"
                        "<Directory ~ \"^/srv/re/\">\n  CGIPassAuth On\n</Directory>\n"
                        "<Directory /srv/www/c>\n  LimitRequestBody 5\n  <FilesMatch \"\\.php$\">\n"
                        "    SetHandler \"proxy:fcgi://127.0.0.1:9000\"\n  </FilesMatch>\n</Directory>\n"));
    const struct gw_server *s = srv();
    ck_assert_uint_eq(s->n_directories, 6);
    /* paths and wildcards shortest first (file order among equals), then regexes in file order */
    ck_assert_str_eq(s->directories[0]->arg, "/srv/www");
    ck_assert_str_eq(s->directories[1]->arg, "/srv/*/x");
    ck_assert_ptr_nonnull(s->directories[1]->regex); /* a wildcard */
    ck_assert_str_eq(s->directories[2]->arg, "/srv/www/c");
    ck_assert_str_eq(s->directories[3]->arg, "/srv/www/a/b");
    ck_assert_int_eq(s->directories[3]->conf.backend, FCGIC_ENV_BACKEND_GENERIC);
    ck_assert_int_eq(s->directories[4]->kind, GW_SEC_DIRECTORY_MATCH);
    ck_assert_int_eq(s->directories[5]->kind, GW_SEC_DIRECTORY_MATCH);
    ck_assert_int_eq(s->directories[5]->conf.pass_auth, 1);
    ck_assert_ptr_null(s->directories[0]->regex);
    ck_assert_uint_eq(s->directories[0]->conf.set, GW_DC_REQUIRE);
    ck_assert_int_eq(s->directories[0]->conf.require->kind, GW_AUTHZ_ANY);
    ck_assert_int_eq(s->directories[0]->conf.require->children[0]->kind, GW_AUTHZ_ALL_GRANTED);
    ck_assert_uint_eq(s->directories[2]->conf.limit_request_body, 5);
    ck_assert_uint_eq(s->n_files, 1); /* <FilesMatch> inside <Directory>: only where it applies */
    ck_assert_ptr_eq(s->files[0]->parent, s->directories[2]);
    ck_assert_int_eq(s->files[0]->conf.handler, GW_HANDLER_PROXY);
    ck_assert_int_eq(gw_regex_match(s->directories[1]->regex, "/srv/www/x/y/", 13), 1);
    ck_assert_int_eq(gw_regex_match(s->directories[1]->regex, "/srv/www/xy/", 12), 0);
}
END_TEST

START_TEST(if_sections)
{
    expect_ok(load_text("DocumentRoot /srv/www\n"
                        "<FilesMatch \"\\.php$\">\n"
                        "  <If \"-f %{REQUEST_FILENAME}\">\n    SetHandler \"proxy:fcgi://127.0.0.1:9000\"\n  </If>\n"
                        "  <ElseIf \"true\">\n    SetEnv A 1\n  </ElseIf>\n"
                        "  <Else>\n    Require all denied\n  </Else>\n"
                        "</FilesMatch>\n"
                        "<If \"%{HTTP_HOST} == 'a'\">\n  <If \"true\">\n    SetEnv N 1\n  </If>\n"
                        "  Header always set X 1\n</If>\n"
                        "<Location /l>\n  <If \"false\">\n  </If>\n</Location>\n"
                        "<Directory /srv/www>\n  <If \"true\">\n    ProxyFCGIBackendType GENERIC\n  </If>\n"
                        "</Directory>\n"));
    const struct gw_server *s = srv();
    const struct gw_dir_conf *f = &s->files[0]->conf;
    ck_assert_uint_eq(f->n_ifs, 1);
    const struct gw_section *b = f->ifs[0];
    ck_assert_int_eq(b->kind, GW_SEC_IF);
    ck_assert_ptr_nonnull(b->cond);
    ck_assert_int_eq(b->conf.handler, GW_HANDLER_PROXY);
    ck_assert_str_eq(b->conf.handler_mapping->match, "\\.php$"); /* the enclosing <FilesMatch> */
    ck_assert_ptr_nonnull(b->next->cond);
    ck_assert_uint_eq(b->next->conf.n_setenv, 1);
    ck_assert_ptr_null(b->next->next->cond); /* <Else> */
    ck_assert_uint_eq(b->next->next->conf.set, GW_DC_REQUIRE);
    ck_assert_ptr_null(b->next->next->next);
    ck_assert_uint_eq(s->conf.n_ifs, 1);
    ck_assert_uint_eq(s->conf.ifs[0]->conf.n_ifs, 1); /* nested */
    ck_assert_uint_eq(s->conf.ifs[0]->conf.n_headers, 1);
    ck_assert_uint_eq(s->locations[0]->conf.n_ifs, 1);
    ck_assert_uint_eq(s->directories[0]->conf.n_ifs, 1);
    ck_assert_int_eq(s->directories[0]->conf.ifs[0]->conf.backend, FCGIC_ENV_BACKEND_GENERIC);
}
END_TEST

START_TEST(require_and_headers)
{
    expect_ok(load_text("DocumentRoot /srv/www\n"
                        "<Location /a>\n"
                        "  Require ip 10.1 192.168.0.0/16 ::1\n"
                        "  <RequireAll>\n    Require all granted\n    Require not ip 10.1.2.3\n"
                        "    <RequireNone>\n      Require method POST PUT\n    </RequireNone>\n  </RequireAll>\n"
                        "  Require expr \"%{HTTP_HOST} == 'x'\"\n"
                        "  Header always set X-A \"a b\"\n  Header onsuccess append X-B 100%%\n"
                        "  Header edit* X-C ^(a)b \"$1c\"\n  Header unset X-D\n"
                        "  RequestHeader merge X-E e\n  RequestHeader setifempty X-F f\n"
                        "  ProxyErrorOverride On 404 503\n"
                        "  ErrorDocument 404 \"Not here\"\n  ErrorDocument 503 http://example.com/down\n"
                        "</Location>\n"));
    const struct gw_dir_conf *c = &srv()->locations[0]->conf;
    const struct gw_require *r = c->require;
    ck_assert_int_eq(r->kind, GW_AUTHZ_ANY);
    ck_assert_uint_eq(r->n_children, 3);
    ck_assert_int_eq(r->children[0]->kind, GW_AUTHZ_EXPR);
    ck_assert_ptr_nonnull(r->children[0]->expr);
    const struct gw_require *all = r->children[1];
    ck_assert_int_eq(all->kind, GW_AUTHZ_ALL);
    ck_assert_uint_eq(all->n_children, 3);
    ck_assert_int_eq(all->children[1]->negate, 1);
    ck_assert_int_eq(all->children[2]->kind, GW_AUTHZ_NONE);
    ck_assert_uint_eq(c->n_headers, 4);
    ck_assert_int_eq(c->headers[0].always, 1);
    ck_assert_str_eq(c->headers[0].value, "a b");
    ck_assert_int_eq(c->headers[1].action, GW_HDR_APPEND);
    ck_assert_str_eq(c->headers[1].value, "100%");
    ck_assert_int_eq(c->headers[2].action, GW_HDR_EDIT_ALL);
    ck_assert_str_eq(c->headers[2].replacement, "$1c");
    ck_assert_int_eq(c->headers[3].action, GW_HDR_UNSET);
    ck_assert_uint_eq(c->n_req_headers, 2);
    ck_assert_int_eq(c->req_headers[0].action, GW_HDR_MERGE);
    ck_assert_int_eq(c->req_headers[1].action, GW_HDR_SETIFEMPTY);
    ck_assert_int_eq(c->error_override, 1);
    ck_assert_uint_eq(c->n_override_codes, 2);
    ck_assert_int_eq(c->override_codes[1], 503);
    ck_assert_uint_eq(c->n_error_docs, 2);
    ck_assert_str_eq(c->error_docs[0].text, "Not here");
    ck_assert_int_eq(c->error_docs[1].kind, GW_ERRDOC_REDIRECT);
    expect_ok(load_text("RequestHeader unset Proxy early\nRequestHeader set A b\n"));
    ck_assert_uint_eq(srv()->conf.n_early_headers, 1);
    ck_assert_uint_eq(srv()->conf.n_req_headers, 1);
    /* Include inside <Directory> and <If>, as Apache allows */
    put("inc/dir.conf", "ProxyFCGIBackendType GENERIC\n");
    put("inc/if.conf", "SetEnv FROM_INCLUDE 1\n");
    expect_ok(load_text("<Directory /srv>\n  Include inc/dir.conf\n</Directory>\n"
                        "<If \"true\">\n  Include inc/if.conf\n</If>\n"));
    ck_assert_int_eq(srv()->directories[0]->conf.backend, FCGIC_ENV_BACKEND_GENERIC);
    ck_assert_uint_eq(srv()->conf.ifs[0]->conf.n_setenv, 1);
    /* a file under DocumentRoot is read at load time */
    put("www/e/404.html", "<p>gone</p>\n");
    char text[512];
    snprintf(text, sizeof text, "DocumentRoot %s/www\nErrorDocument 404 /e/404.html\n", tmpdir);
    expect_ok(load_text(text));
    ck_assert_int_eq(srv()->conf.error_docs[0].kind, GW_ERRDOC_FILE);
    ck_assert_str_eq(srv()->conf.error_docs[0].text, "<p>gone</p>\n");
    ck_assert_str_eq(srv()->conf.error_docs[0].content_type, "text/html");
}
END_TEST

START_TEST(directive_errors)
{
    static const struct {
        const char *text;
        unsigned line;
        const char *message;
    } bad[] = {
        {"<ElseIf \"true\">\n</ElseIf>\n", 2, "<ElseIf> not preceded by <If> or <ElseIf>"},
        {"<If \"true\">\n</If>\nSetEnv X 1\n<Else>\n</Else>\n", 5, "<Else> not preceded by <If> or <ElseIf>"},
        {"<If \"true\">\n</If>\n<Else>\n</Else>\n<Else>\n</Else>\n", 6, "<Else> not preceded"},
        {"<If \"%{HTTP_HOST} ==\">\n</If>\n", 2, "Cannot parse condition clause: syntax error"},
        {"<If \"true\">\n</If>\n<Else foo>\n</Else>\n", 4, "<Else> does not take an argument"},
        {"<If \"true\">\nProxyPass fcgi://h:1/\n</If>\n", 3, "ProxyPass cannot occur within <If> section"},
        {"<Directory relative>\n</Directory>\n", 2, "needs an absolute path"},
        {"<DirectoryMatch \"(\">\n</DirectoryMatch>\n", 2, "Regex could not be compiled"},
        {"<Directory /a>\nProxyPass fcgi://h:1/\n</Directory>\n", 3, "ProxyPass cannot occur within <Directory>"},
        {"<Location /a>\n<Directory /b>\n</Directory>\n</Location>\n", 3, "<Directory cannot occur within <Location>"},
        {"<Directory /a>\n<Location /b>\n</Location>\n</Directory>\n", 3, "<Location cannot occur within <Directory>"},
        {"<Files a>\n<Files b>\n</Files>\n</Files>\n", 3, "<Files cannot occur within <Files>"},
        {"<Location /a>\nAllowOverride None\n</Location>\n", 3, "AllowOverride cannot occur within <Location>"},
        {"<Directory /a>\nAllowOverride All\n</Directory>\n", 3, "AllowOverride All is not supported"},
        {"Options Indexes +FollowSymLinks\n", 2, "Either all Options must start with + or -"},
        {"Options Frob\n", 2, "Illegal option Frob"},
        {"Require all granted\n", 2, "Require not allowed here: only inside a section"},
        {"<RequireAll>\n</RequireAll>\n", 2, "<RequireAll> not allowed here"},
        {"<If true>\nRequire ip 1.2.3.x\n</If>\n", 3, "ip address '1.2.3.x' appears to be invalid"},
        {"<If true>\nRequire ip 10.0.0.0/99\n</If>\n", 3, "ip address '10.0.0.0/99' appears to be invalid"},
        {"<If true>\n<RequireAll>\nRequire not ip 10.0.0.1\n</RequireAll>\n</If>\n", 3,
         "contains only negative authorization"},
        {"<If true>\nRequire not ip 10.0.0.1\n</If>\n", 3, "negative Require directive has no effect in <RequireAny>"},
        {"<If true>\n<RequireNone>\nRequire not ip 10.0.0.1\n</RequireNone>\n</If>\n", 4,
         "has no effect in <RequireNone>"},
        {"<If true>\nRequire all maybe\n</If>\n", 3, "'Require all' accepts only 'granted' or 'denied'"},
        {"<If true>\n<RequireAll>\n</RequireAll>\n</If>\n", 3, "contains no authorization directives"},
        {"<If true>\nRequire user bob\n</If>\n", 3, "Require user is not supported"},
        {"<If true>\nRequire expr \"%{X\"\n</If>\n", 3, "Cannot parse expression in require line"},
        {"<If true>\n<RequireAny>\nSetEnv X 1\n</RequireAny>\n</If>\n", 4,
         "SetEnv cannot occur within <RequireAny> section"},
        {"Header set X\n", 2, "requires a value"},
        {"Header always frob X\n", 2, "first argument must be"},
        {"Header set X 1 env=HOME\n", 2, "env= is not supported"},
        {"Header set X 1 early\n", 2, "early is not supported"},
        {"<Location /a>\nRequestHeader unset Proxy early\n</Location>\n", 3, "early is only allowed at server level"},
        {"RequestHeader set X 1 early more\n", 2, "Too many arguments"},
        {"Header set X %t\n", 2, "the format specifier %t is not supported"},
        {"Header edit X \"(\" y\n", 2, "regex could not be compiled"},
        {"Header set \"X Y\" 1\n", 2, "a header name is expected"},
        {"RequestHeader always set X 1\n", 2, "first argument must be"},
        {"Header set X 1 2 3\n", 2, "Too many arguments"},
        {"ErrorDocument 99 x\n", 2, "Unsupported HTTP response code 99"},
        {"ErrorDocument 404 /x.html\n", 2, "needs DocumentRoot"},
        {"DocumentRoot /nonexistent-gw\nErrorDocument 404 /x.html\n", 3, "cannot open /nonexistent-gw/x.html"},
        {"ProxyErrorOverride On 200\n", 2, "status must be a valid HTTP error status code"},
        {"ProxyErrorOverride Off 404\n", 2, "status codes go with On only"},
        {"LimitRequestFields lots\n", 2, "must be a non-negative integer"},
        {"RewriteRule ^/(.*)$ fcgi://127.0.0.1:9000/$1 [P]\n", 2, "use ProxyPassMatch"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(load_text(bad[i].text), "main.conf", bad[i].line, bad[i].message);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Refused directives                                                       */

START_TEST(refused_by_name)
{
    static const struct {
        const char *line, *message;
    } refused[] = {
        {"RewriteRule ^/(.*)$ /index.php", "RewriteRule is not supported: use ProxyPassMatch"},
        {"rewriteengine on", "rewriteengine is not supported: use ProxyPassMatch"},
        {"LoadModule proxy_module modules/mod_proxy.so", "LoadModule is not supported: modules are built in; "
                                                         "remove LoadModule"},
        {"ProxyPassReverse / fcgi://h:1/", "ProxyPassReverse is not supported"},
        {"AuthType Basic", "AuthType is not supported: authentication is not supported"},
        {"SSLEngine on", "TLS is not supported"},
        {"ServerRoot /etc/apache2", "ServerRoot is not supported: relative paths are resolved against the directory"},
        {"<ProxyMatch ^fcgi>", "<ProxyMatch> is not supported"},
        {"Header set X 1 early", "Header ... early is not supported"},
        {"Frobnicate 1", "Invalid command 'Frobnicate', perhaps misspelled"},
        {"php_value memory_limit 1G", "set PHP options in the PHP-FPM pool"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "%s\n", refused[i].line);
        expect_error(load_text(text), "main.conf", 2, refused[i].message);
        ck_assert_int_eq(gw_config_parse_buffer("x", text, strlen(text), NULL, 0, &cfg, &err), FCGIC_E_NOTSUP);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Rules                                                                    */

START_TEST(fcgi_setenvif)
{
    expect_ok(load_text("ProxyFCGISetEnvIf \"reqenv('SCRIPT_NAME') =~ m#^/x#\" PATH_INFO \"%{reqenv:SCRIPT_NAME}\"\n"
                        "ProxyFCGISetEnvIf true !REMOTE_PORT\n"
                        "<Location /a>\n  ProxyFCGISetEnvIf \"%{HTTP_HOST} == 'a'\" X 1\n</Location>\n"));
    ck_assert_uint_eq(fcgic_setenvif_count(srv()->conf.fcgi_setenvif), 2);
    ck_assert_uint_eq(fcgic_setenvif_count(srv()->locations[0]->conf.fcgi_setenvif), 1);
    expect_error(load_text("\n\nProxyFCGISetEnvIf \"%{HTTP_HOST} ==\" X 1\n"), "main.conf", 4,
                 "Could not parse expression \"%{HTTP_HOST} ==\"");
    put("rules.conf", "# rules\nProxyFCGISetEnvIf true !X value\n");
    expect_error(load_text("Include rules.conf\n"), "rules.conf", 2, "is not allowed when using ProxyFCGISetEnvIf's "
                                                                     "unset mode");
    expect_error(load_text("ProxyFCGISetEnvIf true\n"), "main.conf", 2, "ProxyFCGISetEnvIf takes two or three arguments, expr-condition env-name expr-value");
    expect_error(load_text("ProxyFCGISetEnvIf \"%{NO_SUCH}\" X\n"), "main.conf", 2, "NO_SUCH");
}
END_TEST

/* Apply the server's SetEnvIf rules to a request and read a variable. */
struct sei_req {
    const char *uri, *ua, *host;
};

static int sei_lookup(void *ud, int src, int var, const char *name, size_t n, struct fcgic_span *v)
{
    const struct sei_req *r = ud;
    const char *val = NULL;
    if (src == FCGIC_EXPR_SRC_VAR && var == FCGIC_EXPR_V_REQUEST_URI)
        val = r->uri;
    else if (src == FCGIC_EXPR_SRC_HEADER && n == 10 && strncasecmp(name, "User-Agent", n) == 0)
        val = r->ua;
    else if (src == FCGIC_EXPR_SRC_HEADER && n == 4 && strncasecmp(name, "Host", n) == 0)
        val = r->host;
    else if (src == FCGIC_EXPR_SRC_NOTE && n == 11 && memcmp(name, "SERVER_ADDR", n) == 0)
        val = "10.1.1.1";
    if (val == NULL)
        return src == FCGIC_EXPR_SRC_OSENV ? FCGIC_E_NOT_FOUND : FCGIC_E_NOT_FOUND;
    v->ptr = val;
    v->len = strlen(val);
    return 0;
}

static struct fcgic_env *apply_setenvif(const struct fcgic_setenvif *rules, const struct sei_req *r)
{
    struct fcgic_env *env;
    struct fcgic_expr_ctx *ctx;
    struct fcgic_expr_limits lim = {0};
    lim.no_jit = getenv("FCGIC_UNDER_VALGRIND") != NULL;
    ck_assert_int_eq(fcgic_env_new(&env, NULL), 0);
    ck_assert_int_eq(fcgic_expr_ctx_new(&ctx, &lim, NULL), 0);
    ck_assert_int_eq(fcgic_env_set(env, "PRESET", 6, "1", 1, FCGIC_ENV_ORIGIN_SETENV, NULL), 0);
    struct fcgic_expr_vars vars = {.version = FCGIC_EXPR_VARS_VERSION, .ud = (void *)r, .lookup = sei_lookup, .file_test = NULL};
    struct fcgic_expr_env eops;
    fcgic_env_expr_env(env, &eops);
    fcgic_expr_ctx_reset(ctx, &vars, &eops);
    ck_assert_int_eq(fcgic_setenvif_apply(&rules, 1, ctx, NULL), 0);
    fcgic_expr_ctx_free(ctx);
    return env;
}

static void expect_var(struct fcgic_env *env, const char *name, const char *value)
{
    struct fcgic_span v;
    int rc = fcgic_env_get(env, name, strlen(name), &v);
    if (value == NULL) {
        ck_assert_msg(rc == FCGIC_E_NOT_FOUND, "%s is set", name);
        return;
    }
    ck_assert_msg(rc == 0, "%s is not set", name);
    ck_assert_msg(v.len == strlen(value) && memcmp(v.ptr, value, v.len) == 0, "%s=%.*s, expected %s", name,
                  (int)v.len, v.ptr, value);
}

START_TEST(setenvif)
{
    expect_ok(load_text("SetEnvIf Request_URI \"^/app/([a-z]+)\" APP=$1 IS_APP !PRESET LIT=\\$1%{x}\n"
                        "SetEnvIfNoCase User-Agent \"^curl/\" CURL\n"
                        "BrowserMatch \"Mozilla\" MOZ=yes\n"
                        "SetEnvIf Server_Addr ^10\\. INTERNAL=1\n"
                        "SetEnvIf Host \"/#|!,;:%^-?.\" NEVER\n"));
    const struct fcgic_setenvif *rules = srv()->conf.setenvif;
    ck_assert_uint_eq(fcgic_setenvif_count(rules), 8);
    struct sei_req r = {"/app/shop/x", "CURL/8.0", "example.org"};
    struct fcgic_env *env = apply_setenvif(rules, &r);
    expect_var(env, "APP", "shop");
    expect_var(env, "IS_APP", "1");
    expect_var(env, "PRESET", NULL);
    expect_var(env, "LIT", "$1%{x}");
    expect_var(env, "CURL", "1");
    expect_var(env, "MOZ", NULL);
    expect_var(env, "INTERNAL", "1");
    fcgic_env_free(env);

    expect_error(load_text("SetEnvIf Request_URI ^/a\n"), "main.conf", 2, "SetEnvIf requires at least three");
    expect_error(load_text("SetEnvIf Request_URI \"(\" X\n"), "main.conf", 2, "SetEnvIf regex could not be compiled");
    expect_error(load_text("SetEnvIf ^X-.*$ a X\n"), "main.conf", 2, "regexes over header names are not supported");
    expect_error(load_text("SetEnvIf Host a =x\n"), "main.conf", 2, "is not a valid variable name");
    expect_error(load_text("BrowserMatch a\n"), "main.conf", 2, "BrowserMatch requires at least two");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Logs                                                                     */

START_TEST(logs)
{
    expect_ok(load_text("ErrorLog logs/error.log\nLogLevel info proxy_fcgi:trace3\n"
                        "LogFormat \"%h %r\" short\nLogFormat \"%h\"\n"
                        "CustomLog logs/access.log combined\nCustomLog /var/log/x \"%h %>s\" env=!nolog\n"
                        "CustomLog /var/log/y short\n"));
    const struct gw_logs *l = &srv()->logs;
    ck_assert_int_eq(l->error_log_kind, GW_LOG_FILE);
    ck_assert_str_eq(l->error_log, "logs/error.log");
    ck_assert_int_eq(l->level, GW_LOG_INFO);
    ck_assert_uint_eq(l->n_module_levels, 1);
    ck_assert_str_eq(l->module_levels[0].module, "proxy_fcgi");
    ck_assert_int_eq(l->module_levels[0].level, GW_LOG_TRACE3);
    ck_assert_str_eq(l->default_format, "%h");
    ck_assert_uint_eq(l->n_custom, 3);
    ck_assert_str_eq(l->custom[0].nickname, "combined");
    ck_assert_str_eq(l->custom[0].format, gw_config_log_format(cfg, "combined"));
    ck_assert_ptr_null(l->custom[1].nickname);
    ck_assert_str_eq(l->custom[1].format, "%h %>s");
    ck_assert_str_eq(l->custom[1].env, "nolog");
    ck_assert_int_eq(l->custom[1].env_negate, 1);
    ck_assert_str_eq(l->custom[2].format, "%h %r");
    expect_ok(load_text("ErrorLog syslog:local3\n"));
    ck_assert_int_eq(srv()->logs.error_log_kind, GW_LOG_SYSLOG);
    ck_assert_str_eq(srv()->logs.error_log, "local3");
    ck_assert_int_eq(srv()->logs.syslog_facility, LOG_LOCAL3);
    expect_ok(load_text("ErrorLog syslog\n"));
    ck_assert_int_eq(srv()->logs.syslog_facility, LOG_LOCAL7); /* Apache's default */
    expect_error(load_text("ErrorLog syslog:nosuch\n"), "main.conf", 2, "ErrorLog syslog:nosuch: unknown facility");
    expect_error(load_text("LogLevel loud\n"), "main.conf", 2, "LogLevel requires level keyword");
    expect_error(load_text("ErrorLog \"|/usr/bin/rotatelogs x\"\n"), "main.conf", 2, "piped logs are not supported");
    expect_error(load_text("CustomLog x common expr=true\n"), "main.conf", 2, "only an env=[!]variable");
    expect_error(load_text("CustomLog x\n"), "main.conf", 2, "CustomLog takes two or three arguments");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Whole configurations                                                     */

START_TEST(everything)
{
    put("conf.d/php.conf", "<FilesMatch \"\\.php$\">\n"
                           "    SetHandler \"proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost/\"\n"
                           "</FilesMatch>\n");
    expect_ok(load_text("# A gateway in front of PHP-FPM\n"
                        "Listen 127.0.0.1:8081\n"
                        "ServerName www.example.com:80\nServerAdmin webmaster@example.com\n"
                        "DocumentRoot /var/www/html\nDirectoryIndex index.php index.html\n"
                        "Threads 2\nTimeout 30\nProxyTimeout 60\n"
                        "KeepAlive On\nKeepAliveTimeout 5\nMaxKeepAliveRequests 500\n"
                        "LimitRequestLine 8190\nLimitRequestFieldSize 8190\nLimitRequestFields 100\n"
                        "LimitRequestBody 104857600\nAllowEncodedSlashes NoDecode\n"
                        "ProxyFCGIBackendType FPM\n"
                        "SetEnv proxy-fcgi-pathinfo first-dot\nSetEnv APP_ENV production\n"
                        "SetEnvIf Request_URI \"^/api/\" API=1\n"
                        "ProxyFCGISetEnvIf \"reqenv('API') == '1'\" HTTP_AUTHORIZATION \"%{HTTP:Authorization}\"\n"
                        "<IfModule mod_proxy_fcgi.c>\n"
                        "  ProxyPass /server-status !\n"
                        "  ProxyPassMatch \"^/(.*\\.php(/.*)?)$\" \"fcgi://127.0.0.1:9000/var/www/html/$1\" "
                        "enablereuse=on max=16\n"
                        "  ProxyPass /api/ balancer://api/var/www/api/ stickysession=SESSION\n"
                        "</IfModule>\n"
                        "<Proxy balancer://api>\n"
                        "  BalancerMember fcgi://10.0.0.1:9000 loadfactor=2\n"
                        "  BalancerMember fcgi://10.0.0.2:9000 status=+H\n"
                        "  ProxySet lbmethod=byrequests maxattempts=1\n"
                        "</Proxy>\n"
                        "<Location /server-status>\n  SetHandler server-status\n</Location>\n"
                        "<Location /admin/>\n  CGIPassAuth On\n  ProxyFCGIBackendType GENERIC\n</Location>\n"
                        "IncludeOptional conf.d/*.conf\n"
                        "ErrorLog /var/log/gw/error.log\nLogLevel warn\n"
                        "LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b %D\" timed\n"
                        "CustomLog /var/log/gw/access.log timed\n"));
    const struct gw_server *s = srv();
    ck_assert_uint_eq(s->n_listen, 2);
    ck_assert_uint_eq(s->n_proxy_mappings, 3);
    ck_assert_int_eq(s->proxy_mappings[1]->pathinfo, FCGIC_ENV_PATHINFO_NONE);
    ck_assert_uint_eq(s->n_locations, 2);
    ck_assert_uint_eq(s->n_files, 1);
    ck_assert_uint_eq(s->n_balancers, 1);
    ck_assert_str_eq(s->balancers[0]->sticky_session, "SESSION");
    ck_assert_str_eq(s->logs.custom[0].format, "%h %l %u %t \"%r\" %>s %b %D");
    /* the tree outlives the reference it was loaded with */
    struct gw_config *held = gw_config_ref(cfg);
    gw_config_unref(cfg);
    cfg = NULL;
    ck_assert_str_eq(gw_config_server(held)->server_name, "www.example.com");
    gw_config_unref(held);
    gw_config_unref(NULL);
}
END_TEST

static Suite *gw_config_suite(void)
{
    Suite *s = suite_create("gw-config");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"quoting", quoting_and_escapes},   {"continuation", continuation_lines},
        {"comments", comments},             {"nul and long lines", nul_and_long_lines},
        {"nested sections", nested_sections}, {"mismatched closers", mismatched_closers},
        {"include glob", include_glob},     {"include errors", include_errors_name_the_file},
        {"include depth", include_depth_limit}, {"buffer include", buffer_include},
        {"defaults", defaults},             {"listen", listen},
        {"server values", server_values},   {"server errors", server_errors},
        {"directory values", directory_values}, {"proxy pass", proxy_pass},
        {"proxy pass errors", proxy_pass_errors}, {"handlers", handlers},
        {"balancers", balancers},           {"proxy section parameters", proxy_section_params},
        {"refused", refused_by_name},
        {"ProxyFCGISetEnvIf", fcgi_setenvif}, {"SetEnvIf", setenvif},
        {"logs", logs},                     {"everything", everything},
        {"Directory", directory_sections},  {"If", if_sections},
        {"Require and Header", require_and_headers}, {"directive errors", directive_errors},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    return testutil_run(gw_config_suite());
}

/* CGI environment builder: the param list, backend targets, mappings x
 * PATH_INFO strategies x backend profiles, paths, headers, limits, and every
 * shared Apache case that the API can express (tests/env-cases.h).
 *
 * Where we deliberately differ from Apache httpd 2.4.71 mod_proxy_fcgi
 * (for the README):
 *  1. Oversized variables are sent, not dropped. Apache drops any pair that
 *     does not fit one 16 KiB PARAMS record (AH02536), e.g. QUERY_STRING and
 *     REQUEST_URI of a 20000-byte query (uri_long_query_20k); we keep them
 *     (the codec splits records) up to a configurable total
 *     (fcgic_env_set_max_size, default 256 KiB). Past it the build fails with
 *     FCGIC_E_ENV_HEADERS_TOO_BIG (headers caused it: 431) or
 *     FCGIC_E_ENV_TOO_BIG (500).
 *  2. `proxy-nokeepalive` (and other Apache-internal variables) is never
 *     sent (sh_tcp_*, sh_unix_noworker_*, rw_p_*).
 *  3. Decoded CR or LF in SCRIPT_NAME / PATH_INFO / PATH_TRANSLATED is
 *     rejected with FCGIC_E_ENV_PATH_CTL (CVE-2019-11043 class); Apache
 *     forwards `%0A` (pp_newline_encoded). FCGIC_ENV_ALLOW_PATH_CTL restores
 *     Apache's behaviour. Decoded NUL is always rejected (Apache: 404).
 *  4. `full` strategy: the filesystem walk uses the decoded backend path, so a
 *     file named "a b.php" is found for /a%20b.php/x (Apache's walk, not
 *     recorded for this input, is believed to use the escaped filename).
 *  5. SERVER_SOFTWARE, SERVER_SIGNATURE and PATH are configuration values
 *     (defaults "libfcgiclient", "" and not sent) instead of Apache's banner
 *     and its own process environment.
 *  6. Header values with CR, LF or NUL fail the build (FCGIC_E_ENV_BAD_HEADER);
 *     Apache's HTTP parser rejects them before mod_proxy_fcgi sees them.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env_int.h" /* the hash index, for test_hash_flood */
#include "failalloc.h"
#include "fcgiclient/env.h"

struct env_case_map {
    enum fcgic_env_map_kind kind;
    const char *match;
    const char *target;
    int require_file;
};

struct env_case {
    const char *name, *method, *target;
    size_t target_len;
    const char *protocol;
    const struct fcgic_param *headers;
    size_t n_headers;
    const struct fcgic_param *vars;
    size_t n_vars;
    const struct env_case_map *maps;
    size_t n_maps;
    enum fcgic_env_backend backend;
    int slashes;
    unsigned flags;
    enum fcgic_env_pathinfo pathinfo;
    const char *const *dirindex;
    size_t n_dirindex;
    int has_body_length;
    unsigned long long body_length;
    const struct fcgic_param *sets;
    size_t n_sets;
    const char *const *unsets;
    size_t n_unsets;
    int rc;
    const struct fcgic_param *expect;
    size_t n_expect;
};

#include "env-cases.h"
#include "testutil.h"

#define NCASES (sizeof(env_cases) / sizeof(env_cases[0]))
#define SP(s) ((struct fcgic_span){(s), sizeof(s) - 1})
#define HDR(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

/* ------------------------------------------------------------------------ */
/* a real document root, as in the recorded runs */

static char docroot[256];

static void mkfile(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", docroot, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void mkdir_rel(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", docroot, rel);
    ck_assert(mkdir(p, 0755) == 0 || errno == EEXIST);
}

static const char *const dirs[] = {"x", "local", "myapp", "myapp/dir", "myapp/noext", "prefix42"};
static const char *const files[] = {"index.html", "index.php",     "static.txt",    "x/index.php",
                                    "x/other.php", "local/path",   "myapp/a.php",   "myapp/a.b.php",
                                    "myapp/dir/a.php", "myapp/a b.php", "myapp/index.php"};

static void setup_docroot(void)
{
    snprintf(docroot, sizeof docroot, "/tmp/fcgic-env-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(docroot));
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        mkdir_rel(dirs[i]);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        mkfile(files[i]);
}

static void teardown_docroot(void)
{
    char p[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", docroot, files[i]);
        unlink(p);
    }
    for (size_t i = sizeof dirs / sizeof dirs[0]; i-- > 0;) {
        snprintf(p, sizeof p, "%s/%s", docroot, dirs[i]);
        rmdir(p);
    }
    rmdir(docroot);
}

/* "@DOCROOT@" -> docroot; returns malloc'ed copy */
static char *subst(const char *s, size_t n, size_t *outlen)
{
    size_t dl = strlen(docroot), cap = n * (dl + 1) + 1, o = 0;
    char *r = malloc(cap);
    ck_assert_ptr_nonnull(r);
    for (size_t i = 0; i < n;) {
        if (n - i >= 9 && memcmp(s + i, "@DOCROOT@", 9) == 0) {
            memcpy(r + o, docroot, dl);
            o += dl;
            i += 9;
        } else {
            r[o++] = s[i++];
        }
    }
    r[o] = '\0';
    if (outlen)
        *outlen = o;
    return r;
}

static const char *const default_index[] = {"index.html"};

static void base_config(struct fcgic_env_map_config *c)
{
    memset(c, 0, sizeof(*c));
    c->server_name = "127.0.0.1";
    c->server_admin = "webmaster@oracle.test";
    c->document_root = docroot;
    c->server_software = "Apache/2.4.71 (Debian)";
    c->server_signature = "";
    c->path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    c->directory_index = default_index;
    c->n_directory_index = 1;
    c->stat = fcgic_env_stat_posix;
}

static void base_request(struct fcgic_env_request *r, const char *target)
{
    memset(r, 0, sizeof(*r));
    r->method = SP("GET");
    r->target.ptr = target;
    r->target.len = strlen(target);
    r->protocol = SP("HTTP/1.1");
    r->remote_addr = SP("127.0.0.1");
    r->server_addr = SP("127.0.0.1");
    r->remote_port = 40000;
}

static void dump(const struct fcgic_env *env)
{
    const struct fcgic_param *p = fcgic_env_params(env);
    for (size_t i = 0; i < fcgic_env_count(env); i++)
        fprintf(stderr, "    %.*s=%.*s\n", (int)p[i].name_len, p[i].name,
                (int)(p[i].value_len > 200 ? 200 : p[i].value_len), p[i].value);
}

/* ------------------------------------------------------------------------ */
/* shared Apache cases */

START_TEST(test_apache_case)
{
    const struct env_case *c = &env_cases[_i];
    struct fcgic_env *env;
    ck_assert_int_eq(fcgic_env_new(&env, NULL), 0);
    struct fcgic_env_request r;
    memset(&r, 0, sizeof r);
    r.method.ptr = c->method;
    r.method.len = strlen(c->method);
    r.target.ptr = c->target;
    r.target.len = c->target_len;
    r.protocol.ptr = c->protocol;
    r.protocol.len = strlen(c->protocol);
    r.headers = c->headers;
    r.n_headers = c->n_headers;
    r.remote_addr = SP("127.0.0.1");
    r.server_addr = SP("127.0.0.1");
    r.remote_port = 40000;
    r.pathinfo = c->pathinfo;
    r.has_body_length = c->has_body_length;
    r.body_length = c->body_length;
    struct fcgic_param vars[8];
    char *varv[8];
    ck_assert_uint_le(c->n_vars, 8);
    for (size_t i = 0; i < c->n_vars; i++) {
        vars[i] = c->vars[i];
        varv[i] = subst(c->vars[i].value, c->vars[i].value_len, &vars[i].value_len);
        vars[i].value = varv[i];
    }
    r.vars = vars;
    r.n_vars = c->n_vars;

    int rc = FCGIC_E_NOT_FOUND;
    for (size_t m = 0; m < c->n_maps && rc == FCGIC_E_NOT_FOUND; m++) {
        struct fcgic_env_map_config cfg;
        base_config(&cfg);
        cfg.kind = c->maps[m].kind;
        char *match = c->maps[m].match ? subst(c->maps[m].match, strlen(c->maps[m].match), NULL)
                                       : NULL;
        char *target = subst(c->maps[m].target, strlen(c->maps[m].target), NULL);
        cfg.match = match;
        cfg.target = target;
        cfg.backend = c->backend;
        cfg.encoded_slashes = (enum fcgic_env_encoded_slashes)c->slashes;
        cfg.flags = c->flags | (c->maps[m].require_file ? FCGIC_ENV_REQUIRE_FILE : 0);
        cfg.directory_index = c->dirindex;
        cfg.n_directory_index = c->n_dirindex;
        struct fcgic_env_map *map;
        ck_assert_int_eq(fcgic_env_map_new(&map, &cfg, NULL), 0);
        rc = fcgic_env_build(env, map, &r);
        fcgic_env_map_free(map);
        free(match);
        free(target);
    }
    if (rc != c->rc)
        ck_abort_msg("%s: build returned %s, expected %s", c->name, fcgic_strerror_name(rc),
                     fcgic_strerror_name(c->rc));
    /* ProxyFCGISetEnvIf results, applied as the expression module does */
    for (size_t i = 0; i < c->n_unsets; i++)
        ck_assert_int_eq(fcgic_env_unset(env, c->unsets[i], strlen(c->unsets[i])), 0);
    for (size_t i = 0; i < c->n_sets; i++)
        ck_assert_int_eq(fcgic_env_set(env, c->sets[i].name, c->sets[i].name_len,
                                       c->sets[i].value, c->sets[i].value_len,
                                       FCGIC_ENV_ORIGIN_OVERRIDE, "ProxyFCGISetEnvIf"),
                         0);
    const struct fcgic_param *p = fcgic_env_params(env);
    size_t n = fcgic_env_count(env);
    int bad = n != c->n_expect;
    for (size_t i = 0; i < n && i < c->n_expect && !bad; i++) {
        size_t el;
        char *ev = subst(c->expect[i].value, c->expect[i].value_len, &el);
        if (p[i].name_len != c->expect[i].name_len ||
            memcmp(p[i].name, c->expect[i].name, p[i].name_len) != 0 || p[i].value_len != el ||
            memcmp(p[i].value, ev, el) != 0) {
            fprintf(stderr, "%s: param %zu: got %.*s=%.*s expected %s=%.*s\n", c->name, i,
                    (int)p[i].name_len, p[i].name, (int)(p[i].value_len > 200 ? 200 : p[i].value_len),
                    p[i].value, c->expect[i].name, (int)(el > 200 ? 200 : el), ev);
            bad = 1;
        }
        free(ev);
    }
    if (bad) {
        fprintf(stderr, "%s: got %zu params, expected %zu:\n", c->name, n, c->n_expect);
        dump(env);
    }
    for (size_t i = 0; i < c->n_vars; i++)
        free(varv[i]);
    fcgic_env_free(env);
    ck_assert_msg(!bad, "%s: params differ from Apache's", c->name);
}
END_TEST


/* ------------------------------------------------------------------------ */
/* helpers for hand-written vectors */

static struct fcgic_env *mkenv(void)
{
    struct fcgic_env *env;
    ck_assert_int_eq(fcgic_env_new(&env, NULL), 0);
    return env;
}

static struct fcgic_env_map *mkmap(struct fcgic_env_map_config *cfg)
{
    struct fcgic_env_map *m;
    int rc = fcgic_env_map_new(&m, cfg, NULL);
    ck_assert_msg(rc == 0, "map_new: %s", fcgic_strerror_name(rc));
    return m;
}

/* value of name, "@DOCROOT@" expanded in `want`; NULL want = must be absent */
static void expect_val(const struct fcgic_env *env, const char *name, const char *want)
{
    struct fcgic_span v;
    int rc = fcgic_env_get(env, name, strlen(name), &v);
    if (want == NULL) {
        ck_assert_msg(rc == FCGIC_E_NOT_FOUND, "%s should be absent, is %.*s", name, (int)v.len,
                      v.ptr);
        return;
    }
    ck_assert_msg(rc == 0, "%s missing", name);
    size_t wl;
    char *w = subst(want, strlen(want), &wl);
    ck_assert_msg(v.len == wl && memcmp(v.ptr, w, wl) == 0, "%s: got '%.*s' want '%s'", name,
                  (int)v.len, v.ptr, w);
    free(w);
}

/* ------------------------------------------------------------------------ */
/* every mapping kind x every strategy x FPM/GENERIC */

struct matrix_row {
    enum fcgic_env_map_kind kind;
    enum fcgic_env_pathinfo pi;
    const char *sf_fpm, *sf_generic, *sn, *path_info, *pt;
};

#define FPMD "proxy:fcgi://127.0.0.1:9000@DOCROOT@"
static const struct matrix_row matrix[] = {
    /* ProxyPass "/myapp/" "fcgi://127.0.0.1:9000@DOCROOT@/myapp/" */
    {FCGIC_ENV_MAP_PREFIX, FCGIC_ENV_PATHINFO_NONE, FPMD "/myapp/a.b.php/x.y/z",
     "@DOCROOT@/myapp/a.b.php/x.y/z", "/myapp/a.b.php/x.y/z", NULL, NULL},
    {FCGIC_ENV_MAP_PREFIX, FCGIC_ENV_PATHINFO_FIRST_DOT, FPMD "/myapp/a.b.php/x.y/z",
     "@DOCROOT@/myapp/a.b.php/x.y/z", "/myapp/a.b.php", "/x.y/z", "@DOCROOT@/x.y/z"},
    {FCGIC_ENV_MAP_PREFIX, FCGIC_ENV_PATHINFO_LAST_DOT, FPMD "/myapp/a.b.php/x.y/z",
     "@DOCROOT@/myapp/a.b.php/x.y/z", "/myapp/a.b.php/x.y", "/z", "@DOCROOT@/z"},
    {FCGIC_ENV_MAP_PREFIX, FCGIC_ENV_PATHINFO_FULL, "@DOCROOT@/myapp/a.b.php",
     "@DOCROOT@/myapp/a.b.php", "/myapp/a.b.php", "/x.y/z", "@DOCROOT@/x.y/z"},
    {FCGIC_ENV_MAP_PREFIX, FCGIC_ENV_PATHINFO_UNESCAPE, FPMD "/myapp/a.b.php/x.y/z",
     "@DOCROOT@/myapp/a.b.php/x.y/z", "", "@DOCROOT@/myapp/a.b.php/x.y/z",
     "@DOCROOT@@DOCROOT@/myapp/a.b.php/x.y/z"},
    {FCGIC_ENV_MAP_PREFIX, FCGIC_ENV_PATHINFO_WHOLE, FPMD "/myapp/a.b.php/x.y/z",
     "@DOCROOT@/myapp/a.b.php/x.y/z", "", "@DOCROOT@/myapp/a.b.php/x.y/z",
     "@DOCROOT@@DOCROOT@/myapp/a.b.php/x.y/z"},
    /* ProxyPassMatch "^/myapp/(.*\.php(/.*)?)$" "fcgi://127.0.0.1:9000@DOCROOT@/myapp/$1" */
    {FCGIC_ENV_MAP_REGEX, FCGIC_ENV_PATHINFO_NONE, FPMD "/myapp/a.b.php/x.y/z",
     "@DOCROOT@/myapp/a.b.php/x.y/z", "/myapp/a.b.php/x.y/z", NULL, NULL},
    {FCGIC_ENV_MAP_REGEX, FCGIC_ENV_PATHINFO_FIRST_DOT, FPMD "/myapp/a.b.php/x.y/z",
     "@DOCROOT@/myapp/a.b.php/x.y/z", "/myapp/a.b.php", "/x.y/z", "@DOCROOT@/x.y/z"},
    {FCGIC_ENV_MAP_REGEX, FCGIC_ENV_PATHINFO_LAST_DOT, FPMD "/myapp/a.b.php/x.y/z",
     "@DOCROOT@/myapp/a.b.php/x.y/z", "/myapp/a.b.php/x.y", "/z", "@DOCROOT@/z"},
    {FCGIC_ENV_MAP_REGEX, FCGIC_ENV_PATHINFO_FULL, "@DOCROOT@/myapp/a.b.php",
     "@DOCROOT@/myapp/a.b.php", "/myapp/a.b.php", "/x.y/z", "@DOCROOT@/x.y/z"},
    {FCGIC_ENV_MAP_REGEX, FCGIC_ENV_PATHINFO_UNESCAPE, FPMD "/myapp/a.b.php/x.y/z",
     "@DOCROOT@/myapp/a.b.php/x.y/z", "", "@DOCROOT@/myapp/a.b.php/x.y/z",
     "@DOCROOT@@DOCROOT@/myapp/a.b.php/x.y/z"},
    {FCGIC_ENV_MAP_REGEX, FCGIC_ENV_PATHINFO_WHOLE, FPMD "/myapp/a.b.php/x.y/z",
     "@DOCROOT@/myapp/a.b.php/x.y/z", "", "@DOCROOT@/myapp/a.b.php/x.y/z",
     "@DOCROOT@@DOCROOT@/myapp/a.b.php/x.y/z"},
    /* <FilesMatch "\.php$"> SetHandler "proxy:fcgi://127.0.0.1:9000" */
    {FCGIC_ENV_MAP_HANDLER, FCGIC_ENV_PATHINFO_NONE, FPMD "/myapp/a.b.php",
     "@DOCROOT@/myapp/a.b.php", "/myapp/a.b.php", "/x.y/z", "@DOCROOT@/x.y/z"},
    {FCGIC_ENV_MAP_HANDLER, FCGIC_ENV_PATHINFO_FIRST_DOT, FPMD "/myapp/a.b.php",
     "@DOCROOT@/myapp/a.b.php", "/myapp/a.b.php", "/x.y/z", "@DOCROOT@/x.y/z"},
    {FCGIC_ENV_MAP_HANDLER, FCGIC_ENV_PATHINFO_LAST_DOT, FPMD "/myapp/a.b.php",
     "@DOCROOT@/myapp/a.b.php", "/myapp/a.b.php", "/x.y/z", "@DOCROOT@/x.y/z"},
    /* full in handler mode: Apache's extra walk runs on the "proxy:" filename
     * and finds nothing: no PATH_INFO, no PATH_TRANSLATED, SCRIPT_NAME is the
     * whole decoded path */
    {FCGIC_ENV_MAP_HANDLER, FCGIC_ENV_PATHINFO_FULL, FPMD "/myapp/a.b.php",
     "@DOCROOT@/myapp/a.b.php", "/myapp/a.b.php/x.y/z", NULL, NULL},
    {FCGIC_ENV_MAP_HANDLER, FCGIC_ENV_PATHINFO_UNESCAPE, FPMD "/myapp/a.b.php",
     "@DOCROOT@/myapp/a.b.php", "/myapp/a.b.php/x.y/z", "@DOCROOT@/myapp/a.b.php",
     "@DOCROOT@@DOCROOT@/myapp/a.b.php"},
    {FCGIC_ENV_MAP_HANDLER, FCGIC_ENV_PATHINFO_WHOLE, FPMD "/myapp/a.b.php",
     "@DOCROOT@/myapp/a.b.php", "/myapp/a.b.php/x.y/z", "@DOCROOT@/myapp/a.b.php",
     "@DOCROOT@@DOCROOT@/myapp/a.b.php"},
};

START_TEST(test_matrix)
{
    const struct matrix_row *row = &matrix[_i / 2];
    int generic = _i % 2;
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.kind = row->kind;
    cfg.pathinfo = row->pi;
    cfg.backend = generic ? FCGIC_ENV_BACKEND_GENERIC : FCGIC_ENV_BACKEND_FPM;
    char *target = NULL;
    if (row->kind == FCGIC_ENV_MAP_PREFIX) {
        cfg.match = "/myapp/";
        target = subst("fcgi://127.0.0.1:9000@DOCROOT@/myapp/", 37, NULL);
    } else if (row->kind == FCGIC_ENV_MAP_REGEX) {
        cfg.match = "^/myapp/(.*\\.php(/.*)?)$";
        target = subst("fcgi://127.0.0.1:9000@DOCROOT@/myapp/$1", 39, NULL);
    } else {
        cfg.match = "\\.php$";
        target = strdup("fcgi://127.0.0.1:9000");
    }
    cfg.target = target;
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    struct fcgic_env_request r;
    base_request(&r, "/myapp/a.b.php/x.y/z?q=1");
    int rc = fcgic_env_build(env, m, &r);
    ck_assert_msg(rc == 0, "row %d: %s", _i, fcgic_strerror_name(rc));
    expect_val(env, "SCRIPT_FILENAME", generic ? row->sf_generic : row->sf_fpm);
    expect_val(env, "SCRIPT_NAME", row->sn);
    expect_val(env, "PATH_INFO", row->path_info);
    expect_val(env, "PATH_TRANSLATED", row->pt);
    expect_val(env, "QUERY_STRING", "q=1");
    expect_val(env, "REQUEST_URI", "/myapp/a.b.php/x.y/z?q=1");
    /* explain: the profile or strategy is named for SCRIPT_FILENAME */
    const struct fcgic_param *p = fcgic_env_params(env);
    for (size_t i = 0; i < fcgic_env_count(env); i++) {
        if (p[i].name_len != 15 || memcmp(p[i].name, "SCRIPT_FILENAME", 15) != 0)
            continue;
        enum fcgic_env_origin o;
        const char *rule;
        ck_assert_int_eq(fcgic_env_explain(env, i, &o, &rule), 0);
        if (row->pi == FCGIC_ENV_PATHINFO_FULL && row->kind != FCGIC_ENV_MAP_HANDLER)
            ck_assert_int_eq(o, FCGIC_ENV_ORIGIN_PATHINFO);
        else if (generic)
            ck_assert_int_eq(o, FCGIC_ENV_ORIGIN_PROFILE);
        else
            ck_assert_int_eq(o, FCGIC_ENV_ORIGIN_MAPPING);
        ck_assert_ptr_nonnull(rule);
    }
    fcgic_env_free(env);
    fcgic_env_map_free(m);
    free(target);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* paths */

struct path_vec {
    const char *target;
    enum fcgic_env_encoded_slashes slashes;
    enum fcgic_env_pathinfo pi;
    unsigned flags;
    int rc;
    const char *sf, *sn, *path_info;
};

static const struct path_vec paths[] = {
    /* %20 decoded in SCRIPT_NAME, re-encoded in SCRIPT_FILENAME */
    {"/app/a%20b.php", 0, 0, 0, 0, "proxy:fcgi://127.0.0.1:9000/a%20b.php", "/app/a b.php", NULL},
    /* ~ and + are not re-encoded; %7E decoded as unreserved */
    {"/app/%7Euser/a%2Bb%20c", 0, 0, 0, 0, "proxy:fcgi://127.0.0.1:9000/~user/a+b%20c",
     "/app/~user/a+b c", NULL},
    /* raw high-bit bytes pass through SCRIPT_NAME, %XX in SCRIPT_FILENAME */
    {"/app/caf\303\251.php", 0, 0, 0, 0, "proxy:fcgi://127.0.0.1:9000/caf%C3%A9.php",
     "/app/caf\303\251.php", NULL},
    {"/app/caf%c3%a9.php", 0, 0, 0, 0, "proxy:fcgi://127.0.0.1:9000/caf%C3%A9.php",
     "/app/caf\303\251.php", NULL},
    /* dot segments and // normalised, also encoded dots */
    {"/app/../app/./x//a.php", 0, 0, 0, 0, "proxy:fcgi://127.0.0.1:9000/x/a.php", "/app/x/a.php",
     NULL},
    {"/app/x/%2e%2e/a.php", 0, 0, 0, 0, "proxy:fcgi://127.0.0.1:9000/a.php", "/app/a.php", NULL},
    {"/app/x/..", 0, 0, 0, 0, "proxy:fcgi://127.0.0.1:9000/", "/app/", NULL},
    {"/../etc/passwd", 0, 0, 0, FCGIC_E_ENV_BAD_URI, NULL, NULL, NULL},
    {"/app/%2e%2e/%2e%2e/x", 0, 0, 0, FCGIC_E_ENV_BAD_URI, NULL, NULL, NULL},
    /* %2F: rejected (Apache 404), NoDecode keeps it, On decodes it */
    {"/app/a.php/p%2Fq", FCGIC_ENV_SLASHES_REJECT, 0, 0, FCGIC_E_ENV_ENCODED_SLASH, NULL, NULL,
     NULL},
    {"/app/a.php/p%2fq", FCGIC_ENV_SLASHES_REJECT, 0, 0, FCGIC_E_ENV_ENCODED_SLASH, NULL, NULL,
     NULL},
    {"/app/a%20b.php/p%2Fq%20r", FCGIC_ENV_SLASHES_NODECODE, FCGIC_ENV_PATHINFO_FIRST_DOT, 0, 0,
     "proxy:fcgi://127.0.0.1:9000/a%20b.php/p%2Fq%20r", "/app/a b.php", "/p%2Fq r"},
    {"/app/a.php/p%2Fq", FCGIC_ENV_SLASHES_DECODE, 0, 0, 0,
     "proxy:fcgi://127.0.0.1:9000/a.php/p/q", "/app/a.php/p/q", NULL},
    /* bad escapes, control bytes */
    {"/app/a%zz.php", 0, 0, 0, FCGIC_E_ENV_BAD_URI, NULL, NULL, NULL},
    {"/app/a%2", 0, 0, 0, FCGIC_E_ENV_BAD_URI, NULL, NULL, NULL},
    {"/app/a b.php", 0, 0, 0, FCGIC_E_ENV_BAD_URI, NULL, NULL, NULL},
    {"/app/a%00.php", 0, 0, FCGIC_ENV_ALLOW_PATH_CTL, FCGIC_E_ENV_PATH_CTL, NULL, NULL, NULL},
    /* CVE-2019-11043: decoded CR/LF in SCRIPT_NAME / PATH_INFO */
    {"/app/a%0Ab.php", 0, 0, 0, FCGIC_E_ENV_PATH_CTL, NULL, NULL, NULL},
    {"/app/a.php/x%0Dy", 0, FCGIC_ENV_PATHINFO_FIRST_DOT, 0, FCGIC_E_ENV_PATH_CTL, NULL, NULL,
     NULL},
    {"/app/a.php/%0a", 0, FCGIC_ENV_PATHINFO_UNESCAPE, 0, FCGIC_E_ENV_PATH_CTL, NULL, NULL, NULL},
    {"/app/a%0Ab.php", 0, 0, FCGIC_ENV_ALLOW_PATH_CTL, 0, "proxy:fcgi://127.0.0.1:9000/a%0Ab.php",
     "/app/a\nb.php", NULL},
    /* not under the prefix */
    {"/application", 0, 0, 0, FCGIC_E_NOT_FOUND, NULL, NULL, NULL},
    {"/app", 0, 0, 0, FCGIC_E_NOT_FOUND, NULL, NULL, NULL},
    /* absolute form: REQUEST_URI raw, path from the URI */
    {"http://Example.COM:81/app/a.php?x=1", 0, 0, 0, 0, "proxy:fcgi://127.0.0.1:9000/a.php",
     "/app/a.php", NULL},
    /* other strategy: PATH_INFO stays escaped, SCRIPT_NAME whole when not a suffix */
    {"/app/a%20b.php/p%20q", 0, FCGIC_ENV_PATHINFO_WHOLE, 0, 0,
     "proxy:fcgi://127.0.0.1:9000/a%20b.php/p%20q", "/app/a b.php/p q", "/a%20b.php/p%20q"},
    {"/app/a%20b.php/p%20q", 0, FCGIC_ENV_PATHINFO_UNESCAPE, 0, 0,
     "proxy:fcgi://127.0.0.1:9000/a%20b.php/p%20q", "/app", "/a b.php/p q"},
    {"/app/", 0, FCGIC_ENV_PATHINFO_UNESCAPE, 0, 0, "proxy:fcgi://127.0.0.1:9000/", "/app", "/"},
};

START_TEST(test_paths)
{
    const struct path_vec *v = &paths[_i];
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.match = "/app/";
    cfg.target = "fcgi://127.0.0.1:9000/";
    cfg.encoded_slashes = v->slashes;
    cfg.pathinfo = v->pi;
    cfg.flags = v->flags;
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    struct fcgic_env_request r;
    base_request(&r, v->target);
    int rc = fcgic_env_build(env, m, &r);
    ck_assert_msg(rc == v->rc, "%s: got %s want %s", v->target, fcgic_strerror_name(rc),
                  fcgic_strerror_name(v->rc));
    if (rc == 0) {
        expect_val(env, "SCRIPT_FILENAME", v->sf);
        expect_val(env, "SCRIPT_NAME", v->sn);
        expect_val(env, "PATH_INFO", v->path_info);
        expect_val(env, "REQUEST_URI", v->target);
    } else {
        ck_assert_uint_eq(fcgic_env_count(env), 0);
    }
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

/* No request makes SCRIPT_NAME, SCRIPT_FILENAME, PATH_INFO or PATH_TRANSLATED
 * leave its mapping: dot segments that only appear once %2F is decoded
 * (AllowEncodedSlashes On) are normalised away as Apache does, or the
 * request fails (400) when they climb above the root; a ProxyPassMatch
 * capture that starts inside a segment cannot bring in "..". A backslash is
 * no separator (Apache on Unix). Every vector runs with every strategy. */
struct traversal_vec {
    enum fcgic_env_map_kind kind;
    const char *match, *target;
    enum fcgic_env_encoded_slashes slashes;
    const char *uri;
    int rc;
    const char *sf; /* SCRIPT_FILENAME without PATH_INFO strategy */
};

#define TV_PP FCGIC_ENV_MAP_PREFIX, "/app/", "fcgi://127.0.0.1:9000/srv/app/"
#define TV_PPM FCGIC_ENV_MAP_REGEX, "^/app/(.*)$", "fcgi://127.0.0.1:9000/srv/app/$1"
#define TV_PPM_MID FCGIC_ENV_MAP_REGEX, "^/a(.*)$", "fcgi://127.0.0.1:9000/srv/app/$1"
#define TV_SH FCGIC_ENV_MAP_HANDLER, "\\.php$", "fcgi://127.0.0.1:9000"
#define ON FCGIC_ENV_SLASHES_DECODE
#define NODEC FCGIC_ENV_SLASHES_NODECODE
#define OFF FCGIC_ENV_SLASHES_REJECT
#define SRV "proxy:fcgi://127.0.0.1:9000/srv/app/"

static const struct traversal_vec traversal[] = {
    {TV_PP, ON, "/app/..%2F..%2F..%2Ftmp/up.php", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PP, ON, "/app/..%2f..%2f..%2ftmp/up.php", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PP, ON, "/app/x/..%2F..%2F..%2F..%2Ftmp/up.php", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PP, ON, "/app/%2e%2e%2f%2e%2e%2fetc/passwd", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PP, ON, "/app/.%2e%2F.%2e%2Fetc/passwd", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PP, ON, "/app/%2E.%2F%2E.%2Fetc/passwd", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PP, ON, "/app/a.php/x/..%2F..%2F..%2F..%2Fetc", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PP, ON, "/app/x/..%2Fa.php", 0, SRV "a.php"},
    {TV_PP, ON, "/app/x/..%2F", 0, SRV ""},
    {TV_PP, ON, "/app/a/.%2Fb.php", 0, SRV "a/b.php"},
    {TV_PP, ON, "/app/x/%2F..%2F..%2Fb.php", 0, SRV "b.php"},
    {TV_PP, ON, "/app/a.php/p/..%2Fq", 0, SRV "a.php/q"},
    {TV_PP, ON, "/app/..\\..\\tmp/up.php", 0, SRV "..%5C..%5Ctmp/up.php"},
    {TV_PP, ON, "/app/..%5c..%5ctmp/up.php", 0, SRV "..%5C..%5Ctmp/up.php"},
    {TV_PP, NODEC, "/app/..%2F..%2Ftmp/up.php", 0, SRV "..%2F..%2Ftmp/up.php"},
    {TV_PP, OFF, "/app/..%2F..%2Ftmp/up.php", FCGIC_E_ENV_ENCODED_SLASH, NULL},
    {TV_PP, OFF, "/app/%2e%2e/%2e%2e/tmp", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PP, NODEC, "/app/.%2e/.%2e/tmp", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PPM, ON, "/app/..%2F..%2Fetc/passwd", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PPM, ON, "/app/x/..%2Fa.php", 0, SRV "a.php"},
    {TV_PPM, NODEC, "/app/..%2F..%2Fetc/passwd", 0, SRV "..%2F..%2Fetc/passwd"},
    {TV_PPM_MID, OFF, "/a../etc/passwd", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PPM_MID, ON, "/a..%2Fetc/passwd", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PPM_MID, OFF, "/a..", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_PPM_MID, OFF, "/a.b/x.php", 0, SRV ".b/x.php"},
    {TV_PPM_MID, OFF, "/a..x", 0, SRV "..x"},
    {TV_SH, ON, "/x/..%2F..%2F..%2Fetc/passwd.php", FCGIC_E_ENV_BAD_URI, NULL},
    {TV_SH, ON, "/x/..%2Findex.php", 0, "proxy:fcgi://127.0.0.1:9000@DOCROOT@/index.php"},
    {TV_SH, NODEC, "/x/..%2F..%2Fpasswd.php", 0,
     "proxy:fcgi://127.0.0.1:9000@DOCROOT@/x/..%2F..%2Fpasswd.php"},
};

/* Fails the test when v has a ".." path segment. */
static void assert_no_dotdot(const char *name, struct fcgic_span v, const char *uri)
{
    for (size_t i = 0; i + 1 < v.len; i++)
        ck_assert_msg(!(v.ptr[i] == '.' && v.ptr[i + 1] == '.' && (i == 0 || v.ptr[i - 1] == '/') &&
                        (i + 2 == v.len || v.ptr[i + 2] == '/')),
                      "%s: %s=%.*s has a '..' segment", uri, name, (int)v.len, v.ptr);
}

START_TEST(test_traversal)
{
    const struct traversal_vec *v = &traversal[_i];
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.kind = v->kind;
    cfg.match = v->match;
    cfg.target = v->target;
    cfg.encoded_slashes = v->slashes;
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    for (int pi = FCGIC_ENV_PATHINFO_NONE; pi <= FCGIC_ENV_PATHINFO_WHOLE; pi++) {
        struct fcgic_env_request r;
        base_request(&r, v->uri);
        r.pathinfo = (enum fcgic_env_pathinfo)pi;
        int rc = fcgic_env_build(env, m, &r);
        ck_assert_msg(rc == v->rc, "%s, strategy %d: got %s want %s", v->uri, pi,
                      fcgic_strerror_name(rc), fcgic_strerror_name(v->rc));
        if (rc != 0)
            continue;
        static const char *const vars[] = {"SCRIPT_NAME", "SCRIPT_FILENAME", "PATH_INFO",
                                           "PATH_TRANSLATED"};
        for (size_t k = 0; k < 4; k++) {
            struct fcgic_span s;
            if (fcgic_env_get(env, vars[k], strlen(vars[k]), &s) == 0)
                assert_no_dotdot(vars[k], s, v->uri);
        }
        if (pi == FCGIC_ENV_PATHINFO_NONE)
            expect_val(env, "SCRIPT_FILENAME", v->sf);
    }
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

#undef TV_PP
#undef TV_PPM
#undef TV_PPM_MID
#undef TV_SH
#undef ON
#undef NODEC
#undef OFF
#undef SRV

/* A target or DocumentRoot with a ".." segment has no inside to keep
 * requests in: refused when the mapping is made. */
START_TEST(test_traversal_config)
{
    struct fcgic_env_map_config cfg;
    struct fcgic_env_map *m = NULL;
    base_config(&cfg);
    cfg.match = "/app/";
    cfg.target = "fcgi://127.0.0.1:9000/srv/../etc/";
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_ENV_BAD_TARGET);
    cfg.target = "fcgi://127.0.0.1:9000/srv/..";
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_ENV_BAD_TARGET);
    cfg.target = "fcgi://127.0.0.1:9000/srv/..x/x../";
    m = mkmap(&cfg);
    fcgic_env_map_free(m);
    m = NULL;
    cfg.target = "fcgi://127.0.0.1:9000/srv/";
    cfg.document_root = "/srv/www/../etc";
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_INVAL);
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_pathinfo_root_index)
{
    /* PATH_INFO=/ is translated through DirectoryIndex (pi_unescape_root) */
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.match = "/myapp/";
    cfg.target = "fcgi://127.0.0.1:18101/";
    cfg.pathinfo = FCGIC_ENV_PATHINFO_UNESCAPE;
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    struct fcgic_env_request r;
    base_request(&r, "/myapp/");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "SCRIPT_NAME", "/myapp");
    expect_val(env, "PATH_INFO", "/");
    expect_val(env, "PATH_TRANSLATED", "@DOCROOT@/index.html");
    /* PATH_INFO above the root: no PATH_TRANSLATED */
    base_request(&r, "/myapp/a/%252e%252e/%252e%252e/x");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "PATH_INFO", "/a/%2e%2e/%2e%2e/x");
    expect_val(env, "PATH_TRANSLATED", "@DOCROOT@/a/%2e%2e/%2e%2e/x");
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

/* A bare "unix:/path" target: its fcgi:// URL is implied (this used to read
 * through a pointer into the wrong string). */
START_TEST(test_handler_bare_unix)
{
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.kind = FCGIC_ENV_MAP_HANDLER;
    cfg.match = "\\.php$";
    cfg.target = "unix:/run/php/fpm.sock";
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    struct fcgic_env_request r;
    base_request(&r, "/x/a.php/p");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    /* "fcgi://localhost" + the file name (with "|fcgi://localhost/" the
     * slash doubles, as in Apache) */
    expect_val(env, "SCRIPT_FILENAME", "proxy:fcgi://localhost@DOCROOT@/x/a.php");
    expect_val(env, "PATH_INFO", "/p");
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

START_TEST(test_handler)
{
    static const char *const idx[] = {"index.php", "index.html"};
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.kind = FCGIC_ENV_MAP_HANDLER;
    cfg.match = "\\.php$";
    cfg.target = "unix:/run/php/fpm.sock|fcgi://localhost/";
    cfg.directory_index = idx;
    cfg.n_directory_index = 2;
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    struct fcgic_env_request r;
    base_request(&r, "/x/?q=1");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "SCRIPT_FILENAME", "proxy:fcgi://localhost/@DOCROOT@/x/index.php");
    expect_val(env, "SCRIPT_NAME", "/x/index.php");
    expect_val(env, "REQUEST_URI", "/x/?q=1");
    expect_val(env, "PATH_INFO", NULL);
    /* directory without slash: mod_dir redirects; static files: not ours */
    base_request(&r, "/x");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_NOT_FOUND);
    base_request(&r, "/static.txt");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_NOT_FOUND);
    /* missing file: still proxied, path info after the missing component */
    base_request(&r, "/x/missing.php/p/i");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "SCRIPT_FILENAME", "proxy:fcgi://localhost/@DOCROOT@/x/missing.php");
    expect_val(env, "PATH_INFO", "/p/i");
    expect_val(env, "PATH_TRANSLATED", "@DOCROOT@/p/i");
    /* a space in the file name is re-encoded in SCRIPT_FILENAME only */
    base_request(&r, "/myapp/a%20b.php");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "SCRIPT_FILENAME", "proxy:fcgi://localhost/@DOCROOT@/myapp/a%20b.php");
    expect_val(env, "SCRIPT_NAME", "/myapp/a b.php");
    fcgic_env_map_free(m);
    /* GENERIC on the unix form keeps Apache's double slash */
    cfg.backend = FCGIC_ENV_BACKEND_GENERIC;
    cfg.flags = FCGIC_ENV_REQUIRE_FILE;
    m = mkmap(&cfg);
    base_request(&r, "/x/index.php");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "SCRIPT_FILENAME", "/@DOCROOT@/x/index.php");
    base_request(&r, "/x/missing.php");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_ENV_NO_FILE);
    ck_assert_uint_eq(fcgic_env_count(env), 0);
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

START_TEST(test_regex_append)
{
    /* no $n: the whole path is appended (double slash), Apache's ppm_nocap */
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.kind = FCGIC_ENV_MAP_REGEX;
    cfg.match = "^/myapp/.*\\.php(/.*)?$";
    cfg.target = "unix:/tmp/s.sock|fcgi://localhost/var/www/";
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    struct fcgic_env_request r;
    base_request(&r, "/myapp/index.php");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "SCRIPT_FILENAME", "proxy:fcgi://localhost/var/www//myapp/index.php");
    base_request(&r, "/myapp/style.css");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_NOT_FOUND);
    fcgic_env_map_free(m);
    /* escaped \$ is literal, $0 whole match, unset group empty; default port hidden */
    cfg.match = "^/(a)(x)?/(.*)$";
    cfg.target = "fcgi://[::1]:8000/\\$1/$0/$2$3";
    m = mkmap(&cfg);
    base_request(&r, "/a/b.php");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "SCRIPT_FILENAME", "proxy:fcgi://[::1]/$1//a/b.php/b.php");
    fcgic_env_free(env);
    fcgic_env_map_free(m);
    cfg.match = "^/(unclosed";
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_ENV_BAD_PATTERN);
}
END_TEST

START_TEST(test_regex_many_groups)
{
    /* More capture groups than $0..$9: Apache (AP_MAX_REG_MATCH 10) still
     * substitutes $1..$9 from the first ten. */
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.kind = FCGIC_ENV_MAP_REGEX;
    cfg.match = "^/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)/(.*)$";
    cfg.target = "fcgi://127.0.0.1:9000/srv/$1$9/x";
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    struct fcgic_env_request r;
    base_request(&r, "/abcdefghij/z.php");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:9000/srv/ai/x");
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

/* A pattern that backtracks exponentially on a request target the client
 * chooses: every regex the builder runs is bounded, JIT or not. */
START_TEST(test_regex_limits)
{
    char target[128];
    memset(target, 0, sizeof target);
    memcpy(target, "/app/", 5);
    memset(target + 5, 'a', 36);
    memcpy(target + 41, "!.php", 5);
    for (int nojit = 0; nojit < 2; nojit++) {
        struct fcgic_env_map_config cfg;
        base_config(&cfg);
        cfg.kind = FCGIC_ENV_MAP_REGEX;
        cfg.match = "^/app/((a|aa)+)\\.php$";
        cfg.target = "fcgi://127.0.0.1:9000/srv/$1.php";
        cfg.flags = nojit ? FCGIC_ENV_NO_JIT : 0;
        struct fcgic_env_map *m = mkmap(&cfg);
        struct fcgic_env *env = mkenv();
        struct fcgic_env_request r;
        base_request(&r, target);
        ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_EXPR_MATCH_LIMIT);
        ck_assert_uint_eq(fcgic_env_count(env), 0);
        /* the list stays usable, and ordinary targets still map */
        base_request(&r, "/app/aaa.php");
        ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
        expect_val(env, "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:9000/srv/aaa.php");
        fcgic_env_map_free(m);

        /* <FilesMatch>: the base name of the file is the subject */
        cfg.kind = FCGIC_ENV_MAP_HANDLER;
        cfg.match = "^(a|aa)+\\.php$";
        cfg.target = "fcgi://127.0.0.1:9000";
        m = mkmap(&cfg);
        base_request(&r, target + 4);
        ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_EXPR_MATCH_LIMIT);
        ck_assert_uint_eq(fcgic_env_count(env), 0);
        fcgic_env_free(env);
        fcgic_env_map_free(m);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* headers */

START_TEST(test_headers)
{
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.match = "/";
    cfg.target = "fcgi://127.0.0.1:9000/";
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    static const struct fcgic_param h[] = {
        HDR("Host", "Example.COM.:8080"),  HDR("X-Dup", "a"),
        HDR("Accept", "text/html"),       HDR("X_Under", "dropped"),
        HDR("X.Dot", "dropped"),          HDR("x-dup", " b \t"),
        HDR("Proxy", "http://evil/"),     HDR("Authorization", "Basic x"),
        HDR("Content-Type", "text/plain"), HDR("1X", "digits"),
        HDR("X-Tab", "a\tb  "),            HDR("X-Empty", ""),
        HDR("Transfer-Encoding", "chunked"), HDR("Cookie", "c1=1"),
        HDR("Cookie", "c2=2"),
    };
    static const struct fcgic_param vars[] = {HDR("MY_SETENV", "v"), HDR("HTTP_ACCEPT", "old")};
    struct fcgic_env_request r;
    base_request(&r, "/a.php");
    r.headers = h;
    r.n_headers = sizeof h / sizeof h[0];
    r.vars = vars;
    r.n_vars = 2;
    r.has_body_length = 1;
    r.body_length = 19;
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    static const char *const names[] = {
        "MY_SETENV",      "HTTP_ACCEPT",  "HTTP_HOST",        "HTTP_X_DUP",
        "CONTENT_TYPE",   "HTTP_1X",      "HTTP_X_TAB",       "HTTP_X_EMPTY",
        "CONTENT_LENGTH", "HTTP_COOKIE",  "PATH",             "SERVER_SIGNATURE",
        "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_ADDR",      "SERVER_PORT",
        "REMOTE_ADDR",    "DOCUMENT_ROOT", "REQUEST_SCHEME",  "CONTEXT_PREFIX",
        "CONTEXT_DOCUMENT_ROOT", "SERVER_ADMIN", "SCRIPT_FILENAME", "REMOTE_PORT",
        "GATEWAY_INTERFACE", "SERVER_PROTOCOL", "REQUEST_METHOD", "QUERY_STRING",
        "REQUEST_URI",    "SCRIPT_NAME"};
    ck_assert_uint_eq(fcgic_env_count(env), sizeof names / sizeof names[0]);
    const struct fcgic_param *p = fcgic_env_params(env);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(p[i].name_len == strlen(names[i]) &&
                          memcmp(p[i].name, names[i], p[i].name_len) == 0,
                      "param %zu is %.*s, want %s", i, (int)p[i].name_len, p[i].name, names[i]);
    expect_val(env, "HTTP_ACCEPT", "text/html");
    expect_val(env, "HTTP_X_DUP", "a, b");
    expect_val(env, "HTTP_COOKIE", "c1=1, c2=2");
    expect_val(env, "HTTP_X_TAB", "a\tb");
    expect_val(env, "HTTP_X_EMPTY", "");
    expect_val(env, "CONTENT_LENGTH", "19");
    expect_val(env, "HTTP_HOST", "Example.COM.:8080");
    expect_val(env, "SERVER_NAME", "example.com");
    expect_val(env, "SERVER_PORT", "8080");
    expect_val(env, "HTTP_PROXY", NULL);
    expect_val(env, "HTTP_AUTHORIZATION", NULL);
    expect_val(env, "HTTP_TRANSFER_ENCODING", NULL);
    enum fcgic_env_origin o;
    ck_assert_int_eq(fcgic_env_explain(env, 0, &o, NULL), 0);
    ck_assert_int_eq(o, FCGIC_ENV_ORIGIN_SETENV);
    ck_assert_int_eq(fcgic_env_explain(env, 1, &o, NULL), 0);
    ck_assert_int_eq(o, FCGIC_ENV_ORIGIN_HEADER);
    fcgic_env_map_free(m);

    /* CGIPassAuth, IPv6 Host, https default port, no Host */
    cfg.flags = FCGIC_ENV_PASS_AUTH;
    cfg.server_name = "srv.example";
    m = mkmap(&cfg);
    static const struct fcgic_param h2[] = {HDR("Host", "[::1]"), HDR("Authorization", "Basic x"),
                                            HDR("Proxy-Authorization", "y")};
    base_request(&r, "/a.php");
    r.headers = h2;
    r.n_headers = 3;
    r.https = 1;
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "HTTP_AUTHORIZATION", "Basic x");
    expect_val(env, "HTTP_PROXY_AUTHORIZATION", "y");
    expect_val(env, "SERVER_NAME", "[::1]");
    expect_val(env, "SERVER_PORT", "443");
    expect_val(env, "HTTPS", "on");
    expect_val(env, "REQUEST_SCHEME", "https");
    r.n_headers = 0;
    r.https = 0;
    r.protocol = SP("HTTP/1.0");
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "SERVER_NAME", "srv.example");
    expect_val(env, "SERVER_PORT", "80");
    expect_val(env, "SERVER_PROTOCOL", "HTTP/1.0");
    expect_val(env, "HTTP_HOST", NULL);
    /* bad values */
    static const struct fcgic_param bad[][1] = {
        {HDR("X-A", "a\r\nX-Injected: 1")}, {HDR("X-A", "a\nb")}, {{"X-A", 3, "a\0b", 3}},
        {HDR("Host", "a..b")}, {HDR("Host", "a/b")}, {HDR("Host", "a:99999")}, {HDR("Host", "[::1")},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r.headers = bad[i];
        r.n_headers = 1;
        ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_ENV_BAD_HEADER);
        ck_assert_uint_eq(fcgic_env_count(env), 0);
    }
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

/* CONTENT_LENGTH is one decimal number or absent: Transfer-Encoding wins
 * over Content-Length (RFC 9112 section 6.3), equal Content-Lengths count
 * once, differing or malformed ones fail the build (400). */
struct cl_vec {
    struct fcgic_param h[3];
    size_t n;
    int has_body_length;
    int rc;
    const char *cl, *te; /* expected CONTENT_LENGTH, HTTP_TRANSFER_ENCODING; NULL = absent */
};

static const struct cl_vec cl_vecs[] = {
    {{HDR("Content-Length", "100"), HDR("Transfer-Encoding", "chunked")}, 2, 1, 0, "5", NULL},
    {{HDR("Transfer-Encoding", "chunked"), HDR("Content-Length", "100")}, 2, 1, 0, "5", NULL},
    {{HDR("Content-Length", "100"), HDR("Transfer-Encoding", "chunked")}, 2, 0, 0, NULL, "chunked"},
    {{HDR("transfer-encoding", "chunked"), HDR("content-length", "x")}, 2, 0, 0, NULL, "chunked"},
    {{HDR("Transfer-Encoding", "gzip"), HDR("Transfer-Encoding", "chunked")}, 2, 1, 0, "5", NULL},
    {{HDR("Content-Length", "42"), HDR("Content-Length", "42")}, 2, 0, 0, "42", NULL},
    {{HDR("Content-Length", "42 , 42"), HDR("content-length", "042")}, 2, 0, 0, "42", NULL},
    {{HDR("Content-Length", "007")}, 1, 0, 0, "7", NULL},
    {{HDR("Content-Length", "\t11 ")}, 1, 0, 0, "11", NULL},
    {{HDR("Content-Length", "9223372036854775807")}, 1, 0, 0, "9223372036854775807", NULL},
    {{HDR("Content-Length", "42"), HDR("Content-Length", "43")}, 2, 0, FCGIC_E_ENV_BAD_HEADER, NULL, NULL},
    {{HDR("Content-Length", "42, 43")}, 1, 0, FCGIC_E_ENV_BAD_HEADER, NULL, NULL},
    {{HDR("Content-Length", "")}, 1, 0, FCGIC_E_ENV_BAD_HEADER, NULL, NULL},
    {{HDR("Content-Length", "abc")}, 1, 0, FCGIC_E_ENV_BAD_HEADER, NULL, NULL},
    {{HDR("Content-Length", "-1")}, 1, 0, FCGIC_E_ENV_BAD_HEADER, NULL, NULL},
    {{HDR("Content-Length", "+1")}, 1, 0, FCGIC_E_ENV_BAD_HEADER, NULL, NULL},
    {{HDR("Content-Length", "1 2")}, 1, 0, FCGIC_E_ENV_BAD_HEADER, NULL, NULL},
    {{HDR("Content-Length", "42,")}, 1, 0, FCGIC_E_ENV_BAD_HEADER, NULL, NULL},
    {{HDR("Content-Length", "9223372036854775808")}, 1, 0, FCGIC_E_ENV_BAD_HEADER, NULL, NULL},
    {{HDR("Content-Length", "99999999999999999999999")}, 1, 0, FCGIC_E_ENV_BAD_HEADER, NULL, NULL},
};

START_TEST(test_content_length)
{
    const struct cl_vec *v = &cl_vecs[_i];
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.match = "/";
    cfg.target = "fcgi://127.0.0.1:9000/";
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    struct fcgic_env_request r;
    base_request(&r, "/a.php");
    r.method = SP("POST");
    r.headers = v->h;
    r.n_headers = v->n;
    r.has_body_length = v->has_body_length;
    r.body_length = 5;
    int rc = fcgic_env_build(env, m, &r);
    ck_assert_msg(rc == v->rc, "vector %d: got %s want %s", _i, fcgic_strerror_name(rc),
                  fcgic_strerror_name(v->rc));
    if (rc == 0) {
        expect_val(env, "CONTENT_LENGTH", v->cl);
        expect_val(env, "HTTP_TRANSFER_ENCODING", v->te);
        /* CONTENT_LENGTH, if any, takes the place of the first framing header */
        if (v->cl) {
            const struct fcgic_param *p = fcgic_env_params(env);
            ck_assert_uint_eq(p[0].name_len, 14);
            ck_assert_int_eq(memcmp(p[0].name, "CONTENT_LENGTH", 14), 0);
        }
    } else {
        ck_assert_uint_eq(fcgic_env_count(env), 0);
    }
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* limits */

/* Structs newer than the library knows are refused, 0 means version 1. */
START_TEST(test_struct_versions)
{
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.match = "/";
    cfg.target = "fcgi://127.0.0.1:9000/";
    struct fcgic_env_map *m = NULL;
    cfg.version = FCGIC_ENV_MAP_CONFIG_VERSION + 1;
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_INVAL);
    cfg.version = 0;
    m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    struct fcgic_env_request r;
    base_request(&r, "/a");
    r.version = FCGIC_ENV_REQUEST_VERSION + 1;
    ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_INVAL);
    r.version = FCGIC_ENV_REQUEST_VERSION;
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    struct fcgic_expr_env ops;
    memset(&ops, 0xff, sizeof ops);
    fcgic_env_expr_env(env, &ops);
    ck_assert_uint_eq(ops.version, FCGIC_EXPR_ENV_VERSION);
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

START_TEST(test_limits)
{
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.match = "/";
    cfg.target = "fcgi://127.0.0.1:9000/";
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    size_t big = 70000;
    char *v = malloc(big);
    memset(v, 'H', big);
    struct fcgic_param h[2] = {HDR("Host", "a"), {"X-Huge", 6, v, big}};
    struct fcgic_env_request r;
    base_request(&r, "/a.php");
    r.headers = h;
    r.n_headers = 2;
    /* Apache drops a pair over 16 KiB (hdr_70k_single); we send it */
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    struct fcgic_span s;
    ck_assert_int_eq(fcgic_env_get(env, "HTTP_X_HUGE", 11, &s), 0);
    ck_assert_uint_eq(s.len, big);
    size_t full = fcgic_env_size(env);
    /* over the cap because of headers: 431 */
    ck_assert_int_eq(fcgic_env_set_max_size(env, 60000), 0);
    ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_ENV_HEADERS_TOO_BIG);
    ck_assert_uint_eq(fcgic_env_count(env), 0);
    /* exactly at the cap: fine; one byte less: fails */
    ck_assert_int_eq(fcgic_env_set_max_size(env, full), 0);
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    ck_assert_int_eq(fcgic_env_set_max_size(env, full - 1), 0);
    ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_ENV_HEADERS_TOO_BIG);
    /* over the cap because of configuration: 500 */
    struct fcgic_param vars[1] = {{"BIG", 3, v, big}};
    r.n_headers = 1;
    r.vars = vars;
    r.n_vars = 1;
    ck_assert_int_eq(fcgic_env_set_max_size(env, 60000), 0);
    ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_ENV_TOO_BIG);
    /* set() respects the cap and leaves the list unchanged */
    r.n_vars = 0;
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    size_t n = fcgic_env_count(env), sz = fcgic_env_size(env);
    ck_assert_int_eq(fcgic_env_set(env, "X", 1, v, big, FCGIC_ENV_ORIGIN_OVERRIDE, NULL),
                     FCGIC_E_ENV_TOO_BIG);
    ck_assert_uint_eq(fcgic_env_count(env), n);
    ck_assert_uint_eq(fcgic_env_size(env), sz);
    ck_assert_int_eq(fcgic_env_set_max_size(env, 0), FCGIC_E_INVAL);
    free(v);
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* the param list API */

START_TEST(test_list)
{
    struct fcgic_env *env = mkenv();
    ck_assert_uint_eq(fcgic_env_count(env), 0);
    ck_assert_ptr_null(fcgic_env_params(env));
    ck_assert_int_eq(fcgic_env_set(env, "A", 1, "1", 1, FCGIC_ENV_ORIGIN_RAW, NULL), 0);
    ck_assert_int_eq(fcgic_env_set(env, "B", 1, "2", 1, FCGIC_ENV_ORIGIN_SETENV, "r1"), 0);
    ck_assert_int_eq(fcgic_env_set(env, "C", 1, NULL, 0, FCGIC_ENV_ORIGIN_HEADER, ""), 0);
    /* replace keeps position and first spelling; names are case-insensitive */
    char rule[8] = "tmp";
    ck_assert_int_eq(fcgic_env_set(env, "a", 1, "xyz", 3, FCGIC_ENV_ORIGIN_OVERRIDE, rule), 0);
    rule[0] = 'X'; /* the rule was copied */
    const struct fcgic_param *p = fcgic_env_params(env);
    ck_assert_uint_eq(fcgic_env_count(env), 3);
    ck_assert_int_eq(p[0].name[0], 'A');
    ck_assert_uint_eq(p[0].value_len, 3);
    ck_assert_int_eq(memcmp(p[0].value, "xyz", 3), 0);
    enum fcgic_env_origin o;
    const char *r;
    ck_assert_int_eq(fcgic_env_explain(env, 0, &o, &r), 0);
    ck_assert_int_eq(o, FCGIC_ENV_ORIGIN_OVERRIDE);
    ck_assert_str_eq(r, "tmp");
    ck_assert_int_eq(fcgic_env_explain(env, 2, &o, &r), 0);
    ck_assert_str_eq(r, "");
    ck_assert_int_eq(fcgic_env_explain(env, 3, &o, &r), FCGIC_E_RANGE);
    struct fcgic_span s;
    ck_assert_int_eq(fcgic_env_get(env, "c", 1, &s), 0);
    ck_assert_uint_eq(s.len, 0);
    ck_assert_int_eq(fcgic_env_get(env, "D", 1, &s), FCGIC_E_NOT_FOUND);
    /* size accounting: (1+1+1+3) + (1+1+1+1) + (1+1+1+0) */
    ck_assert_uint_eq(fcgic_env_size(env), 13);
    /* unset moves later ones up; unknown is a no-op */
    ck_assert_int_eq(fcgic_env_unset(env, "b", 1), 0);
    ck_assert_int_eq(fcgic_env_unset(env, "nope", 4), 0);
    p = fcgic_env_params(env);
    ck_assert_uint_eq(fcgic_env_count(env), 2);
    ck_assert_int_eq(p[1].name[0], 'C');
    ck_assert_int_eq(fcgic_env_get(env, "C", 1, NULL), 0);
    ck_assert_int_eq(fcgic_env_get(env, "B", 1, NULL), FCGIC_E_NOT_FOUND);
    ck_assert_uint_eq(fcgic_env_size(env), 9);
    /* many names: the index grows; binary-safe names and values */
    char name[16];
    for (int i = 0; i < 500; i++) {
        int l = snprintf(name, sizeof name, "V%d", i);
        ck_assert_int_eq(fcgic_env_set(env, name, (size_t)l, "\0\r\n", 3, FCGIC_ENV_ORIGIN_RAW,
                                       NULL),
                         0);
    }
    ck_assert_uint_eq(fcgic_env_count(env), 502);
    ck_assert_int_eq(fcgic_env_get(env, "v499", 4, &s), 0);
    ck_assert_int_eq(memcmp(s.ptr, "\0\r\n", 3), 0);
    fcgic_env_clear(env);
    ck_assert_uint_eq(fcgic_env_count(env), 0);
    ck_assert_uint_eq(fcgic_env_size(env), 0);
    ck_assert_int_eq(fcgic_env_get(env, "A", 1, NULL), FCGIC_E_NOT_FOUND);
    /* bad arguments */
    ck_assert_int_eq(fcgic_env_set(env, "", 0, "", 0, 0, NULL), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_env_set(env, "A", 1, NULL, 1, 0, NULL), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_env_set(NULL, "A", 1, "", 0, 0, NULL), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_env_unset(NULL, "A", 1), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_env_new(NULL, NULL), FCGIC_E_INVAL);
    ck_assert_uint_eq(fcgic_env_count(NULL), 0);
    fcgic_env_free(env);
    fcgic_env_free(NULL);
    fcgic_env_map_free(NULL);
    /* origin names */
    static const char *const on[] = {"raw", "setenv", "header", "request", "server",
                                     "mapping", "pathinfo", "profile", "override"};
    for (int i = 0; i <= FCGIC_ENV_ORIGIN_OVERRIDE; i++)
        ck_assert_str_eq(fcgic_env_origin_name((enum fcgic_env_origin)i), on[i]);
    ck_assert_str_eq(fcgic_env_origin_name((enum fcgic_env_origin)99), "unknown");
    ck_assert_int_eq(fcgic_env_pathinfo_parse("FULL", 4), FCGIC_ENV_PATHINFO_FULL);
    ck_assert_int_eq(fcgic_env_pathinfo_parse("first-dot", 9), FCGIC_ENV_PATHINFO_FIRST_DOT);
    ck_assert_int_eq(fcgic_env_pathinfo_parse("Last-Dot", 8), FCGIC_ENV_PATHINFO_LAST_DOT);
    ck_assert_int_eq(fcgic_env_pathinfo_parse("unescape", 8), FCGIC_ENV_PATHINFO_UNESCAPE);
    ck_assert_int_eq(fcgic_env_pathinfo_parse("1", 1), FCGIC_ENV_PATHINFO_WHOLE);
    ck_assert_int_eq(fcgic_env_pathinfo_parse("", 0), FCGIC_ENV_PATHINFO_NONE);
}
END_TEST

/* Names that differ only in their middle (the old index hashed the length
 * and the first and last 8 bytes, so these shared one probe chain): every one
 * is found, and none sits far from its home slot. */
START_TEST(test_hash_flood)
{
    struct fcgic_env *env = mkenv();
    ck_assert_int_eq(fcgic_env_set_max_size(env, 16u << 20), 0);
    char name[48];
    const int n = 4000;
    for (int i = 0; i < n; i++) {
        int l = snprintf(name, sizeof name, "HTTP_X_PADDING_AA%08d_TRAILER_ZZ", i);
        ck_assert_int_eq(fcgic_env_set(env, name, (size_t)l, "v", 1, FCGIC_ENV_ORIGIN_HEADER, NULL), 0);
    }
    ck_assert_uint_eq(fcgic_env_count(env), (size_t)n);
    for (int i = 0; i < n; i += 7) {
        int l = snprintf(name, sizeof name, "http_x_padding_aa%08d_trailer_zz", i);
        ck_assert_int_eq(fcgic_env_get(env, name, (size_t)l, NULL), 0);
    }
    size_t mask = env->nslots - 1, worst = 0;
    for (size_t j = 0; j < env->nslots; j++) {
        uint32_t v = env->slots[j];
        if (v == 0)
            continue;
        size_t d = (j - (env->meta[v - 1].hash & mask)) & mask;
        if (d > worst)
            worst = d;
    }
    ck_assert_msg(worst < 64, "a name sits %zu slots from its home", worst);
    /* two lists do not share a key */
    struct fcgic_env *other = mkenv();
    ck_assert(env->hash_key.k0 != other->hash_key.k0 || env->hash_key.k1 != other->hash_key.k1);
    fcgic_env_free(other);
    fcgic_env_free(env);
}
END_TEST

/* The name hash reads every byte of every length (its tail is loaded with
 * overlapping words) and ignores only the case of ASCII letters. */
START_TEST(test_hash_bytes)
{
    struct fcgic__hash_key key = {0, 0};
    fcgic__hash_key_init(&key, &key);
    char a[40], b[40];
    for (size_t n = 0; n <= sizeof a; n++) {
        for (size_t i = 0; i < n; i++)
            a[i] = (char)('a' + (i * 7) % 26);
        uint64_t h = fcgic__hash_ci(&key, a, n);
        if (n > 0)
            ck_assert(h != fcgic__hash_ci(&key, a, n - 1));
        for (size_t i = 0; i < n; i++) {
            memcpy(b, a, n);
            b[i] = (char)(b[i] - 32); /* upper case: same hash */
            ck_assert(fcgic__hash_ci(&key, b, n) == h);
            b[i] = '0'; /* another byte: another hash */
            ck_assert_msg(fcgic__hash_ci(&key, b, n) != h, "byte %zu of %zu ignored", i, n);
            b[i] = (char)(a[i] | 0x80);
            ck_assert_msg(fcgic__hash_ci(&key, b, n) != h, "top bit of byte %zu of %zu ignored", i, n);
        }
    }
}
END_TEST

/* A header repeated 20000 times is merged in O(n): its value moves to a
 * slot twice as large when it outgrows its own, so the build makes a few
 * allocations, not one per repetition. */
START_TEST(test_repeated_header)
{
    struct failalloc fa;
    failalloc_init(&fa, 0);
    struct fcgic_env *env;
    ck_assert_int_eq(fcgic_env_new(&env, &fa.mem), 0);
    ck_assert_int_eq(fcgic_env_set_max_size(env, 1u << 20), 0);
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.match = "/";
    cfg.target = "fcgi://127.0.0.1:9000/";
    struct fcgic_env_map *m = mkmap(&cfg);
    const size_t n = 20000;
    struct fcgic_param *h = calloc(n, sizeof(*h));
    ck_assert_ptr_nonnull(h);
    for (size_t i = 0; i < n; i++) {
        /* two names, interleaved: neither value stays last in the arena */
        h[i].name = i % 3 == 1 ? "X-B" : "X-A";
        h[i].name_len = 3;
        h[i].value = i % 3 == 1 ? "b" : "a";
        h[i].value_len = 1;
    }
    struct fcgic_env_request r;
    base_request(&r, "/a.php");
    r.headers = h;
    r.n_headers = n;
    long before = fa.count;
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    ck_assert_msg(fa.count - before < 100, "%ld allocations", fa.count - before);
    struct fcgic_span v;
    ck_assert_int_eq(fcgic_env_get(env, "HTTP_X_A", 8, &v), 0);
    size_t nb = (n + 1) / 3, na = n - nb;
    ck_assert_uint_eq(v.len, 3 * na - 2);
    for (size_t i = 0; i < v.len; i++)
        ck_assert_int_eq(v.ptr[i], "a, "[i % 3]);
    ck_assert_int_eq(fcgic_env_get(env, "HTTP_X_B", 8, &v), 0);
    ck_assert_uint_eq(v.len, 3 * nb - 2);
    free(h);
    fcgic_env_free(env);
    fcgic_env_map_free(m);
    ck_assert_int_eq(fa.live, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* backend targets */

struct target_vec {
    const char *in;
    int rc;
    const char *unix_path, *host, *port, *path;
    unsigned portno;
    int ipv6;
};

static const struct target_vec targets[] = {
    {"fcgi://127.0.0.1:9000/path/x", 0, "", "127.0.0.1", "9000", "/path/x", 9000, 0},
    {"fcgi://[::1]:9000/x", 0, "", "::1", "9000", "/x", 9000, 1},
    {"fcgi://[::1]", 0, "", "::1", "", "", 0, 1},
    {"unix:/run/php/php-fpm.sock|fcgi://localhost/var/www/x", 0, "/run/php/php-fpm.sock",
     "localhost", "", "/var/www/x", 0, 0},
    {"proxy:unix:/s|fcgi://localhost/", 0, "/s", "localhost", "", "/", 0, 0},
    {"proxy:fcgi://127.0.0.1:18101", 0, "", "127.0.0.1", "18101", "", 18101, 0},
    {"FCGI://Host:1/", 0, "", "Host", "1", "/", 1, 0},
    {"fcgi://h:/p", 0, "", "h", "", "/p", 0, 0},
    {"http://h/", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
    {"fcgi://", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
    {"fcgi:///x", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
    {"fcgi://u@h/", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
    {"fcgi://h:65536/", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
    {"fcgi://h:9x/", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
    {"fcgi://[::1/", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
    {"fcgi://[::1]x/", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
    {"fcgi://h/a b", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
    {"unix:|fcgi://h/", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
    /* a bare socket path: "|fcgi://localhost" is implied */
    {"unix:/s", 0, "/s", "localhost", "", "", 0, 0},
    {"unix:/run/php/php8.2-fpm.sock", 0, "/run/php/php8.2-fpm.sock", "localhost", "", "", 0, 0},
    {"unix:", FCGIC_E_ENV_BAD_TARGET, 0, 0, 0, 0, 0, 0},
};

static void span_eq(struct fcgic_span s, const char *want)
{
    ck_assert_msg(s.len == strlen(want) && (s.len == 0 || memcmp(s.ptr, want, s.len) == 0),
                  "got '%.*s' want '%s'", (int)s.len, s.ptr, want);
}

START_TEST(test_targets)
{
    const struct target_vec *v = &targets[_i];
    struct fcgic_env_target t;
    int rc = fcgic_env_parse_target(v->in, strlen(v->in), &t);
    ck_assert_msg(rc == v->rc, "%s: %s", v->in, fcgic_strerror_name(rc));
    if (rc)
        return;
    span_eq(t.unix_path, v->unix_path);
    span_eq(t.host, v->host);
    span_eq(t.port_str, v->port);
    span_eq(t.path, v->path);
    ck_assert_uint_eq(t.port, v->portno);
    ck_assert_int_eq(t.ipv6, v->ipv6);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* allocation failures: every allocation of new + map + build may fail */

static const struct fcgic_param browser_headers[] = {
    HDR("Host", "www.example.com"),
    HDR("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    HDR("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    HDR("Accept-Language", "en-US,en;q=0.5"),
    HDR("Accept-Encoding", "gzip, deflate, br, zstd"),
    HDR("Referer", "https://www.example.com/index.php?page=1"),
    HDR("Connection", "keep-alive"),
    HDR("Cookie", "PHPSESSID=0123456789abcdef0123456789abcdef; theme=dark; lang=en"),
    HDR("Upgrade-Insecure-Requests", "1"),
    HDR("Sec-Fetch-Dest", "document"),
    HDR("Sec-Fetch-Mode", "navigate"),
    HDR("Sec-Fetch-Site", "same-origin"),
    HDR("Sec-Fetch-User", "?1"),
    HDR("Priority", "u=0, i"),
    HDR("Cache-Control", "max-age=0"),
};

START_TEST(test_failalloc)
{
    int succeeded = 0;
    for (long n = 1; n < 1000 && !succeeded; n++) {
        struct failalloc fa;
        failalloc_init(&fa, n);
        struct fcgic_env *env = NULL;
        struct fcgic_env_map *m = NULL;
        struct fcgic_env_map_config cfg;
        base_config(&cfg);
        cfg.kind = FCGIC_ENV_MAP_REGEX;
        cfg.match = "^/(.*\\.php)(/.*)?$";
        cfg.target = "fcgi://127.0.0.1:9000/var/www/$1$2";
        cfg.pathinfo = FCGIC_ENV_PATHINFO_FIRST_DOT;
        int rc = fcgic_env_new(&env, &fa.mem);
        if (rc == 0)
            rc = fcgic_env_map_new(&m, &cfg, &fa.mem);
        if (rc == 0) {
            struct fcgic_env_request r;
            base_request(&r, "/index.php/p/q?x=1");
            r.headers = browser_headers;
            r.n_headers = 15;
            rc = fcgic_env_build(env, m, &r);
            if (rc == 0)
                rc = fcgic_env_set(env, "X_NEW", 5, "v", 1, FCGIC_ENV_ORIGIN_OVERRIDE, "rule");
            if (rc == 0) {
                expect_val(env, "PATH_INFO", "/p/q");
                expect_val(env, "SCRIPT_FILENAME",
                           "proxy:fcgi://127.0.0.1:9000/var/www/index.php/p/q");
                succeeded = 1;
            } else {
                ck_assert_uint_eq(fcgic_env_count(env), 0);
            }
        }
        ck_assert_msg(rc == 0 || rc == FCGIC_E_NOMEM, "n=%ld: %s", n, fcgic_strerror_name(rc));
        if (rc)
            ck_assert(fa.failed);
        fcgic_env_map_free(m);
        fcgic_env_free(env);
        ck_assert_msg(fa.live == 0, "n=%ld: %ld blocks leaked", n, fa.live);
    }
    ck_assert(succeeded);
}
END_TEST

START_TEST(test_reuse_no_alloc)
{
    /* a reused list builds the next request without allocating */
    struct failalloc fa;
    failalloc_init(&fa, 0);
    struct fcgic_env *env;
    ck_assert_int_eq(fcgic_env_new(&env, &fa.mem), 0);
    struct fcgic_env_map_config cfg;
    base_config(&cfg);
    cfg.match = "/";
    cfg.target = "fcgi://127.0.0.1:9000/";
    struct fcgic_env_map *m = mkmap(&cfg);
    struct fcgic_env_request r;
    base_request(&r, "/index.php?x=1");
    r.headers = browser_headers;
    r.n_headers = 15;
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    long before = fa.count;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    ck_assert_int_eq(fa.count, before);
    fcgic_env_free(env);
    fcgic_env_map_free(m);
    ck_assert_int_eq(fa.live, 0);
}
END_TEST

START_TEST(test_map_config_errors)
{
    struct fcgic_env_map_config cfg;
    struct fcgic_env_map *m = NULL;
    base_config(&cfg);
    cfg.match = "/x/";
    cfg.target = "fcgi://h/";
    ck_assert_int_eq(fcgic_env_map_new(NULL, &cfg, NULL), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_env_map_new(&m, NULL, NULL), FCGIC_E_INVAL);
    cfg.target = "http://h/";
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_ENV_BAD_TARGET);
    cfg.target = "fcgi://h/";
    cfg.match = "x/";
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_ENV_BAD_PATTERN);
    cfg.match = "/x/";
    cfg.stat = NULL;
    cfg.pathinfo = FCGIC_ENV_PATHINFO_FULL;
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_INVAL);
    cfg.pathinfo = FCGIC_ENV_PATHINFO_NONE;
    cfg.kind = FCGIC_ENV_MAP_HANDLER;
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_INVAL);
    cfg.kind = (enum fcgic_env_map_kind)7;
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_INVAL);
    cfg.kind = FCGIC_ENV_MAP_PREFIX;
    cfg.document_root = "relative";
    ck_assert_int_eq(fcgic_env_map_new(&m, &cfg, NULL), FCGIC_E_INVAL);
    ck_assert_ptr_null(m);
    /* per-request FULL without a stat callback */
    cfg.document_root = NULL;
    m = mkmap(&cfg);
    struct fcgic_env *env = mkenv();
    struct fcgic_env_request r;
    base_request(&r, "/x/a");
    r.pathinfo = FCGIC_ENV_PATHINFO_FULL;
    ck_assert_int_eq(fcgic_env_build(env, m, &r), FCGIC_E_INVAL);
    r.pathinfo = FCGIC_ENV_PATHINFO_WHOLE;
    ck_assert_int_eq(fcgic_env_build(env, m, &r), 0);
    expect_val(env, "DOCUMENT_ROOT", "");
    expect_val(env, "PATH_INFO", "/a");
    expect_val(env, "PATH_TRANSLATED", NULL);
    ck_assert_int_eq(fcgic_env_build(NULL, m, &r), FCGIC_E_INVAL);
    fcgic_env_free(env);
    fcgic_env_map_free(m);
}
END_TEST

/* The environment seen through the expression engine: ProxyFCGISetEnvIf
 * rules run after the build, reqenv() reads the list, captures carry to the
 * value, and explain names the rule. */
START_TEST(test_setenvif_adapter)
{
    struct fcgic_env_map_config cfg = {0};
    cfg.kind = FCGIC_ENV_MAP_PREFIX;
    cfg.match = "/app/";
    cfg.target = "fcgi://127.0.0.1:9000/srv/prefix42/";
    cfg.backend = FCGIC_ENV_BACKEND_GENERIC;
    cfg.pathinfo = FCGIC_ENV_PATHINFO_FIRST_DOT;
    cfg.document_root = "/srv";
    struct fcgic_env_map *map;
    ck_assert_int_eq(fcgic_env_map_new(&map, &cfg, NULL), 0);
    struct fcgic_env *env;
    ck_assert_int_eq(fcgic_env_new(&env, NULL), 0);
    struct fcgic_env_request req = {0};
    req.method = (struct fcgic_span){"GET", 3};
    req.target = (struct fcgic_span){"/app/x.php/tail", 15};
    req.protocol = (struct fcgic_span){"HTTP/1.1", 8};
    req.remote_addr = (struct fcgic_span){"127.0.0.1", 9};
    req.server_addr = (struct fcgic_span){"127.0.0.1", 9};
    ck_assert_int_eq(fcgic_env_build(env, map, &req), 0);
    struct fcgic_span v;
    ck_assert_int_eq(fcgic_env_get(env, "SCRIPT_FILENAME", 15, &v), 0);
    ck_assert_int_eq(fcgic_env_get(env, "PATH_TRANSLATED", 15, &v), 0);
    size_t before = fcgic_env_count(env);

    struct fcgic_setenvif *rules;
    ck_assert_int_eq(fcgic_setenvif_new(&rules, NULL, NULL), 0);
    const char *r1[] = {"reqenv('SCRIPT_FILENAME') =~ m|(/.*prefix)(\\d+)(.*)|", "SCRIPT_FILENAME", "$1$3"};
    const char *r2[] = {"true", "PATH_INFO", "/example"};
    const char *r3[] = {"true", "!SERVER_ADMIN"};
    const char *r4[] = {"-n %{reqenv:SCRIPT_NAME}", "X_SCRIPT", "%{reqenv:SCRIPT_NAME}"};
    ck_assert_int_eq(fcgic_setenvif_add(rules, 3, r1, "t:1", NULL), 0);
    ck_assert_int_eq(fcgic_setenvif_add(rules, 3, r2, "t:2", NULL), 0);
    ck_assert_int_eq(fcgic_setenvif_add(rules, 2, r3, "t:3", NULL), 0);
    ck_assert_int_eq(fcgic_setenvif_add(rules, 3, r4, "t:4", NULL), 0);
    struct fcgic_expr_ctx *ctx;
    ck_assert_int_eq(fcgic_expr_ctx_new(&ctx, NULL, NULL), 0);
    struct fcgic_expr_env ops;
    fcgic_env_expr_env(env, &ops);
    fcgic_expr_ctx_reset(ctx, NULL, &ops);
    const struct fcgic_setenvif *lists[1] = {rules};
    ck_assert_int_eq(fcgic_setenvif_apply(lists, 1, ctx, NULL), 0);

    ck_assert_int_eq(fcgic_env_get(env, "SCRIPT_FILENAME", 15, &v), 0);
    /* first-dot leaves SCRIPT_FILENAME whole, as Apache does */
    ck_assert_msg(v.len == 22 && memcmp(v.ptr, "/srv/prefix/x.php/tail", 22) == 0, "SCRIPT_FILENAME=%.*s", (int)v.len,
                  v.ptr);
    ck_assert_int_eq(fcgic_env_get(env, "PATH_INFO", 9, &v), 0);
    ck_assert_int_eq((int)v.len, 8);
    ck_assert_int_eq(fcgic_env_get(env, "SERVER_ADMIN", 12, &v), FCGIC_E_NOT_FOUND);
    ck_assert_int_eq(fcgic_env_get(env, "X_SCRIPT", 8, &v), 0);
    ck_assert_int_eq(fcgic_env_get(env, "SCRIPT_NAME", 11, &v), 0);
    /* one removed, one appended: same count; the new one is last */
    ck_assert_uint_eq(fcgic_env_count(env), before);
    const struct fcgic_param *p = fcgic_env_params(env);
    size_t last = fcgic_env_count(env) - 1;
    ck_assert_int_eq((int)p[last].name_len, 8);
    ck_assert_int_eq(memcmp(p[last].name, "X_SCRIPT", 8), 0);
    enum fcgic_env_origin origin;
    const char *rule = NULL;
    ck_assert_int_eq(fcgic_env_explain(env, last, &origin, &rule), 0);
    ck_assert_int_eq(origin, FCGIC_ENV_ORIGIN_OVERRIDE);
    ck_assert_ptr_nonnull(rule);
    ck_assert_ptr_nonnull(strstr(rule, "t:4"));
    fcgic_expr_ctx_free(ctx);
    fcgic_setenvif_free(rules);
    fcgic_env_free(env);
    fcgic_env_map_free(map);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("env");
    struct {
        const char *name;
        const TTest *t;
        int loop;
    } tests[] = {
        {"apache_cases", test_apache_case, (int)NCASES},
        {"matrix", test_matrix, (int)(2 * sizeof matrix / sizeof matrix[0])},
        {"paths", test_paths, (int)(sizeof paths / sizeof paths[0])},
        {"traversal", test_traversal, (int)(sizeof traversal / sizeof traversal[0])},
        {"traversal_config", test_traversal_config, 0},
        {"pathinfo_root", test_pathinfo_root_index, 0},
        {"handler", test_handler, 0},
        {"handler_bare_unix", test_handler_bare_unix, 0},
        {"regex", test_regex_append, 0},
        {"regex_groups", test_regex_many_groups, 0},
        {"regex_limits", test_regex_limits, 0},
        {"headers", test_headers, 0},
        {"content_length", test_content_length, (int)(sizeof cl_vecs / sizeof cl_vecs[0])},
        {"limits", test_limits, 0},
        {"struct_versions", test_struct_versions, 0},
        {"list", test_list, 0},
        {"hash_flood", test_hash_flood, 0},
        {"hash_bytes", test_hash_bytes, 0},
        {"repeated_header", test_repeated_header, 0},
        {"targets", test_targets, (int)(sizeof targets / sizeof targets[0])},
        {"failalloc", test_failalloc, 0},
        {"reuse", test_reuse_no_alloc, 0},
        {"config", test_map_config_errors, 0},
        {"setenvif", test_setenvif_adapter, 0},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        TCase *tc = tcase_create(tests[i].name);
        tcase_add_unchecked_fixture(tc, setup_docroot, teardown_docroot);
        if (tests[i].loop)
            tcase_add_loop_test(tc, tests[i].t, 0, tests[i].loop);
        else
            tcase_add_test(tc, tests[i].t);
        suite_add_tcase(s, tc);
    }
    return testutil_run(s);
}

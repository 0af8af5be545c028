/* Fuzz target for the CGI environment builder: random request targets and
 * headers through random mappings. Input: byte 0 = options, then lines:
 * request target, then "Name:value" header lines.
 * Invariants: no crash; on success every name is non-empty, every name and
 * value within the size cap, the total within the cap; header names only
 * [A-Z0-9_]; no CR, LF or NUL in HTTP_* values, QUERY_STRING, REQUEST_URI,
 * and none in SCRIPT_NAME, SCRIPT_FILENAME, PATH_INFO or PATH_TRANSLATED
 * unless the mapping allows CR/LF (never NUL); no ".." segment in those
 * four, SCRIPT_FILENAME under the target's path (and DOCUMENT_ROOT for a
 * handler), PATH_TRANSLATED under DOCUMENT_ROOT; CONTENT_LENGTH one
 * decimal number; on failure an empty list and an error code of the env
 * range or NOT_FOUND / NOMEM / INVAL / EXPR_MATCH_LIMIT. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiclient/env.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

/* a deterministic fake filesystem: "*.php" files, "d" and "x" directories */
static int fake_stat(void *ud, const char *path, size_t len, enum fcgic_env_file_type *type)
{
    (void)ud;
    CHECK(strlen(path) == len);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    if (bl >= 4 && memcmp(base + bl - 4, ".php", 4) == 0)
        *type = FCGIC_ENV_FILE_REGULAR;
    else if (bl == 0 || strcmp(base, "d") == 0 || strcmp(base, "x") == 0 || strcmp(base, "srv") == 0)
        *type = FCGIC_ENV_FILE_DIRECTORY;
    else
        *type = FCGIC_ENV_FILE_NONE;
    return 0;
}

static int bad_bytes(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return 1;
    return 0;
}

static int is(const struct fcgic_param *p, const char *n)
{
    return p->name_len == strlen(n) && memcmp(p->name, n, p->name_len) == 0;
}

static int has_dotdot(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '.' && p[i + 1] == '.' && (i == 0 || p[i - 1] == '/') && (i + 2 == n || p[i + 2] == '/'))
            return 1;
    return 0;
}

static int starts(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(p, lit, l) == 0;
}

#define DOCROOT "/srv/d"

/* The path of a SCRIPT_FILENAME: "proxy:fcgi://authority" removed. */
static void file_path(const struct fcgic_param *p, const char **path, size_t *n)
{
    *path = p->value;
    *n = p->value_len;
    if (starts(*path, *n, "proxy:fcgi://")) {
        const char *sl = memchr(*path + 13, '/', *n - 13);
        CHECK(sl != NULL);
        *n -= (size_t)(sl - *path);
        *path = sl;
    }
}

/* SCRIPT_FILENAME stays in the mapping: under the target's path up to its
 * first substitution; for a handler, the target's path then DOCUMENT_ROOT
 * (or DOCUMENT_ROOT alone when `full` found the file). */
static void check_script_filename(const struct fcgic_param *p, int handler, const char *tpath)
{
    const char *path;
    size_t n;
    file_path(p, &path, &n);
    if (handler) {
        if (starts(path, n, DOCROOT "/"))
            return; /* `full`: the plain file */
        size_t tl = strlen(tpath);
        CHECK(starts(path, n, tpath));
        CHECK(starts(path + tl, n - tl, DOCROOT "/"));
        return;
    }
    size_t sl = strcspn(tpath, "$");
    CHECK(n >= sl && memcmp(path, tpath, sl) == 0);
}

static int decimal(const char *p, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static void check_env(const struct fcgic_env *env, size_t cap, int allow_ctl, int handler, const char *tpath)
{
    const struct fcgic_param *p = fcgic_env_params(env);
    size_t n = fcgic_env_count(env), total = 0;
    CHECK(fcgic_env_size(env) <= cap);
    for (size_t i = 0; i < n; i++) {
        CHECK(p[i].name_len > 0 && p[i].name_len <= cap && p[i].value_len <= cap);
        total += p[i].name_len + p[i].value_len + (p[i].name_len < 128 ? 1 : 4) +
                 (p[i].value_len < 128 ? 1 : 4);
        enum fcgic_env_origin o;
        const char *rule = NULL;
        CHECK(fcgic_env_explain(env, i, &o, &rule) == 0 && rule != NULL);
        if (o == FCGIC_ENV_ORIGIN_HEADER) {
            for (size_t k = 0; k < p[i].name_len; k++) {
                char c = p[i].name[k];
                CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
            }
            CHECK(!bad_bytes(p[i].value, p[i].value_len));
        }
        /* In handler mode SCRIPT_FILENAME is the decoded file path, so it
         * follows the same opt-in as the other path variables. */
        if (is(&p[i], "SCRIPT_NAME") || is(&p[i], "PATH_INFO") || is(&p[i], "PATH_TRANSLATED") ||
            is(&p[i], "SCRIPT_FILENAME")) {
            CHECK(memchr(p[i].value, '\0', p[i].value_len) == NULL);
            if (!allow_ctl)
                CHECK(!bad_bytes(p[i].value, p[i].value_len));
            CHECK(!has_dotdot(p[i].value, p[i].value_len));
        }
        if (is(&p[i], "SCRIPT_FILENAME"))
            check_script_filename(&p[i], handler, tpath);
        if (is(&p[i], "PATH_TRANSLATED"))
            CHECK(starts(p[i].value, p[i].value_len, DOCROOT "/"));
        if (is(&p[i], "CONTENT_LENGTH"))
            CHECK(decimal(p[i].value, p[i].value_len));

        if (is(&p[i], "QUERY_STRING") || is(&p[i], "REQUEST_URI"))
            CHECK(!bad_bytes(p[i].value, p[i].value_len));
    }
    CHECK(total == fcgic_env_size(env));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const targets[] = {"fcgi://127.0.0.1:9000/srv/", "unix:/s|fcgi://localhost/",
                                      "fcgi://[::1]/d/x/$1$2", "fcgi://h:8000/srv$0"};
/* the path of each target */
static const char *const target_paths[] = {"/srv/", "/", "/d/x/$1$2", "/srv$0"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t opt = data[0], opt2 = data[1];
    const char *in = (const char *)data + 2;
    size_t len = size - 2;

    struct fcgic_env_map_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = (enum fcgic_env_map_kind)(opt % 3);
    cfg.pathinfo = (enum fcgic_env_pathinfo)((opt / 3) % 7);
    cfg.backend = (enum fcgic_env_backend)((opt / 21) & 1);
    cfg.encoded_slashes = (enum fcgic_env_encoded_slashes)((opt / 42) % 3);
    cfg.flags = opt2 & 7u;
    if (getenv("FCGIC_UNDER_VALGRIND"))
        cfg.flags |= FCGIC_ENV_NO_JIT; /* valgrind cannot follow JIT code */
    /* "^/a(.*)$" captures from inside a segment: "/a../x" */
    if (cfg.kind == FCGIC_ENV_MAP_PREFIX)
        cfg.match = "/";
    else if (cfg.kind == FCGIC_ENV_MAP_REGEX)
        cfg.match = (opt2 & 8) ? "^/a(.*)$" : "^/(.*?\\.php)(/.*)?$";
    else
        cfg.match = (opt2 & 8) ? "\\.php$" : NULL;
    cfg.target = targets[(opt2 >> 4) & 3];
    cfg.document_root = DOCROOT;
    static const char *const idx[] = {"index.php", "x"};
    cfg.directory_index = idx;
    cfg.n_directory_index = 2;
    cfg.stat = fake_stat;
    struct fcgic_env_map *map = NULL;
    if (fcgic_env_map_new(&map, &cfg, NULL) != 0)
        abort();
    struct fcgic_env *env = NULL;
    if (fcgic_env_new(&env, NULL) != 0)
        abort();
    size_t cap = (opt2 & 0x40) ? 300 : FCGIC_ENV_DEFAULT_MAX_SIZE;
    fcgic_env_set_max_size(env, cap);

    struct fcgic_param hdrs[64];
    size_t nh = 0;
    const char *nl = memchr(in, '\n', len);
    size_t tl = nl ? (size_t)(nl - in) : len;
    struct fcgic_env_request r;
    memset(&r, 0, sizeof r);
    r.method.ptr = "GET";
    r.method.len = 3;
    r.protocol.ptr = "HTTP/1.1";
    r.protocol.len = 8;
    r.target.ptr = in;
    r.target.len = tl;
    r.https = opt2 >> 7;
    r.has_body_length = opt & 1;
    r.body_length = size;
    const char *p = nl ? nl + 1 : in + len, *end = in + len;
    while (p < end && nh < 64) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (e == NULL)
            e = end;
        const char *c = memchr(p, ':', (size_t)(e - p));
        if (c) {
            hdrs[nh].name = p;
            hdrs[nh].name_len = (size_t)(c - p);
            hdrs[nh].value = c + 1;
            hdrs[nh].value_len = (size_t)(e - c - 1);
            nh++;
        }
        p = e + 1;
    }
    r.headers = hdrs;
    r.n_headers = nh;
    int rc = fcgic_env_build(env, map, &r);
    if (rc == 0) {
        check_env(env, cap, (cfg.flags & FCGIC_ENV_ALLOW_PATH_CTL) != 0, cfg.kind == FCGIC_ENV_MAP_HANDLER,
                  target_paths[(opt2 >> 4) & 3]);
        /* override-style edits keep the invariants */
        if (nh) {
            int s = fcgic_env_set(env, hdrs[0].value, hdrs[0].value_len, hdrs[0].name,
                                  hdrs[0].name_len, FCGIC_ENV_ORIGIN_OVERRIDE, "f");
            CHECK(s == 0 || s == FCGIC_E_ENV_TOO_BIG || s == FCGIC_E_INVAL);
            CHECK(fcgic_env_unset(env, "SCRIPT_NAME", 11) == 0);
            CHECK(fcgic_env_get(env, "script_name", 11, NULL) == FCGIC_E_NOT_FOUND);
        }
        CHECK(fcgic_env_size(env) <= cap);
    } else {
        CHECK(fcgic_env_count(env) == 0);
        CHECK(rc == FCGIC_E_NOT_FOUND || rc == FCGIC_E_NOMEM || rc == FCGIC_E_INVAL ||
              rc == FCGIC_E_EXPR_MATCH_LIMIT || (rc <= -110 && rc >= -139));
    }
    fcgic_env_free(env);
    fcgic_env_map_free(map);
    return 0;
}

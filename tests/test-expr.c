/* Tests of the expression engine (ap_expr-compatible) and of the
 * ProxyFCGISetEnvIf rules. The sei_* vectors at the end were transcribed from
 * recorded Apache 2.4.71 runs (request, rules, params before and after). */
#include <check.h>
#include <ctype.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "failalloc.h"
#include "fcgiclient/expr.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* A fake request and a fake environment                                    */
/* ------------------------------------------------------------------------ */

struct freq {
    const char *vars[FCGIC_EXPR_V__COUNT];
    const char *const *headers; /* name, value, ..., NULL */
    const char *const *notes;
    const char *const *resp;
    int osenv_mode; /* 0: answer NOTSUP (getenv), 1: answer "osv", 2: fail */
    int fail_var;   /* 1: lookups of FCGIC_EXPR_SRC_VAR fail with FCGIC_E_CALLBACK */
};

static int pairs_get(const char *const *p, const char *name, size_t n, struct fcgic_span *v)
{
    for (; p && p[0]; p += 2) {
        if (strlen(p[0]) == n && strncasecmp(p[0], name, n) == 0) {
            v->ptr = p[1];
            v->len = strlen(p[1]);
            return 0;
        }
    }
    return FCGIC_E_NOT_FOUND;
}

static int freq_lookup(void *ud, int src, int var, const char *name, size_t n,
                       struct fcgic_span *v)
{
    struct freq *r = ud;
    switch (src) {
    case FCGIC_EXPR_SRC_VAR:
        ck_assert_str_eq(name, fcgic_expr_var_name(var));
        ck_assert_uint_eq(n, strlen(name));
        if (r->fail_var)
            return FCGIC_E_CALLBACK;
        if (!r->vars[var])
            return FCGIC_E_NOT_FOUND;
        v->ptr = r->vars[var];
        v->len = strlen(r->vars[var]);
        return 0;
    case FCGIC_EXPR_SRC_HEADER:
        return pairs_get(r->headers, name, n, v);
    case FCGIC_EXPR_SRC_RESP_HEADER:
        return pairs_get(r->resp, name, n, v);
    case FCGIC_EXPR_SRC_NOTE:
        return pairs_get(r->notes, name, n, v);
    case FCGIC_EXPR_SRC_OSENV:
        if (r->osenv_mode == 1) {
            v->ptr = "osv";
            v->len = 3;
            return 0;
        }
        return r->osenv_mode == 2 ? FCGIC_E_CALLBACK : FCGIC_E_NOTSUP;
    default:
        ck_abort_msg("bad source %d", src);
        return FCGIC_E_INTERNAL;
    }
}

static int file_calls;
static int ftest(void *ud, char op, const char *path, size_t n)
{
    (void)ud;
    file_calls++;
    if (n == 4 && memcmp(path, "/err", 4) == 0)
        return FCGIC_E_CALLBACK;
    /* "/dir" is a directory, "/file" a non-empty regular file */
    if (n == 4 && memcmp(path, "/dir", 4) == 0)
        return op == 'd' || op == 'e';
    if (n == 5 && memcmp(path, "/file", 5) == 0)
        return op == 'f' || op == 'e' || op == 's' || op == 'F' || op == 'x';
    return 0;
}

#define FENV_MAX 64
struct fenv {
    size_t n;
    char *name[FENV_MAX];
    char *value[FENV_MAX];
    size_t vlen[FENV_MAX];
    char rule[FENV_MAX][160];
    int fail_set;
};

static int fenv_find(struct fenv *e, const char *name, size_t n)
{
    for (size_t i = 0; i < e->n; i++)
        if (strlen(e->name[i]) == n && memcmp(e->name[i], name, n) == 0)
            return (int)i;
    return -1;
}

static int fenv_get(void *ud, const char *name, size_t n, struct fcgic_span *v)
{
    struct fenv *e = ud;
    int i = fenv_find(e, name, n);
    if (i < 0)
        return FCGIC_E_NOT_FOUND;
    v->ptr = e->value[i];
    v->len = e->vlen[i];
    return 0;
}

static int fenv_set(void *ud, const char *name, size_t n, const char *val, size_t vlen,
                    const char *rule)
{
    struct fenv *e = ud;
    if (e->fail_set)
        return FCGIC_E_CALLBACK;
    char *nv = malloc(vlen + 1);
    ck_assert_ptr_nonnull(nv);
    memcpy(nv, val, vlen);
    nv[vlen] = '\0';
    int i = fenv_find(e, name, n);
    if (i < 0) {
        ck_assert_uint_lt(e->n, FENV_MAX);
        i = (int)e->n++;
        e->name[i] = strndup(name, n);
    } else {
        free(e->value[i]);
    }
    e->value[i] = nv;
    e->vlen[i] = vlen;
    snprintf(e->rule[i], sizeof(e->rule[i]), "%s", rule ? rule : "");
    return 0;
}

static int fenv_unset(void *ud, const char *name, size_t n)
{
    struct fenv *e = ud;
    int i = fenv_find(e, name, n);
    if (i < 0)
        return 0;
    free(e->name[i]);
    free(e->value[i]);
    memmove(&e->name[i], &e->name[i + 1], (e->n - (size_t)i - 1) * sizeof(e->name[0]));
    memmove(&e->value[i], &e->value[i + 1], (e->n - (size_t)i - 1) * sizeof(e->value[0]));
    memmove(&e->vlen[i], &e->vlen[i + 1], (e->n - (size_t)i - 1) * sizeof(e->vlen[0]));
    memmove(&e->rule[i], &e->rule[i + 1], (e->n - (size_t)i - 1) * sizeof(e->rule[0]));
    e->n--;
    return 0;
}

static void fenv_load(struct fenv *e, const char *const *pairs)
{
    memset(e, 0, sizeof(*e));
    for (; pairs && pairs[0]; pairs += 2)
        ck_assert_int_eq(fenv_set(e, pairs[0], strlen(pairs[0]), pairs[1], strlen(pairs[1]), ""), 0);
}

static void fenv_clear(struct fenv *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->name[i]);
        free(e->value[i]);
    }
    e->n = 0;
}

static void fenv_expect(const struct fenv *e, const char *const *pairs)
{
    size_t i = 0;
    for (; pairs[0]; pairs += 2, i++) {
        ck_assert_msg(i < e->n, "missing %s", pairs[0]);
        ck_assert_str_eq(e->name[i], pairs[0]);
        ck_assert_str_eq(e->value[i], pairs[1]);
    }
    ck_assert_uint_eq(e->n, i);
}

/* The default request of the expression tests. */
static const char *const def_headers[] = { "Host", "example.com:8080", "X-Mixed", "AbC",
                                           "X-Empty", "", "X-Quote", "\"q'", NULL };
static const char *const def_notes[] = { "n1", "note-one", "shared", "from-note", NULL };
static const char *const def_resp[] = { "Content-Type", "text/html", NULL };
static const char *const def_env[] = { "SCRIPT_NAME", "/app/index.php", "PATH_TRANSLATED",
                                       "/srv/www/prefix42/rest", "shared", "from-env",
                                       "only_env", "ev", NULL };

/* Limits for every context the tests create: valgrind cannot follow PCRE2's
 * JIT code, so the valgrind setup (FCGIC_UNDER_VALGRIND) uses the interpreter. */
static struct fcgic_expr_limits base_limits(void)
{
    struct fcgic_expr_limits l;
    memset(&l, 0, sizeof(l));
    l.no_jit = getenv("FCGIC_UNDER_VALGRIND") != NULL;
    return l;
}

static struct freq R;
static struct fenv E;
static struct fcgic_expr_ctx *C;

static void reset_ctx(void)
{
    struct fcgic_expr_vars vars = {.version = FCGIC_EXPR_VARS_VERSION, .ud = &R, .lookup = freq_lookup, .file_test = ftest};
    struct fcgic_expr_env env = {.version = FCGIC_EXPR_ENV_VERSION, .ud = &E, .get = fenv_get, .set = fenv_set, .unset = fenv_unset};
    fcgic_expr_ctx_reset(C, &vars, &env);
}

static void setup(void)
{
    memset(&R, 0, sizeof(R));
    R.vars[FCGIC_EXPR_V_REQUEST_METHOD] = "GET";
    R.vars[FCGIC_EXPR_V_REQUEST_URI] = "/app/index.php";
    R.vars[FCGIC_EXPR_V_QUERY_STRING] = "a=b%20c&d=e";
    R.vars[FCGIC_EXPR_V_HTTP_HOST] = "example.com:8080";
    R.vars[FCGIC_EXPR_V_REMOTE_ADDR] = "192.168.1.20";
    R.vars[FCGIC_EXPR_V_THE_REQUEST] = "GET /app/index.php?a=b%20c&d=e HTTP/1.1";
    R.vars[FCGIC_EXPR_V_SERVER_PORT] = "8080";
    R.headers = def_headers;
    R.notes = def_notes;
    R.resp = def_resp;
    fenv_load(&E, def_env);
    struct fcgic_expr_limits tl = base_limits();
    ck_assert_int_eq(fcgic_expr_ctx_new(&C, &tl, NULL), 0);
    reset_ctx();
    file_calls = 0;
}

static void teardown(void)
{
    fcgic_expr_ctx_free(C);
    C = NULL;
    fenv_clear(&E);
}

/* Compile and evaluate a condition; the evaluation must succeed. */
static int B(const char *src)
{
    struct fcgic_expr *e = NULL;
    struct fcgic_expr_error err;
    int rc = fcgic_expr_new(&e, src, strlen(src), 0, NULL, &err, NULL);
    ck_assert_msg(rc == 0, "compile '%s': %d %s", src, rc, err.message);
    int res = -1;
    rc = fcgic_expr_eval_bool(e, C, &res);
    ck_assert_msg(rc == 0, "eval '%s': %s", src, fcgic_strerror(rc));
    fcgic_expr_free(e);
    return res;
}

/* Compile a condition and return the evaluation's error code. */
static int BERR(const char *src)
{
    struct fcgic_expr *e = NULL;
    int rc = fcgic_expr_new(&e, src, strlen(src), 0, NULL, NULL, NULL);
    ck_assert_msg(rc == 0, "compile '%s': %d", src, rc);
    int res = 77;
    rc = fcgic_expr_eval_bool(e, C, &res);
    ck_assert_int_eq(res, 77); /* never filled on error */
    fcgic_expr_free(e);
    return rc;
}

static char sbuf[4096];
/* Compile and evaluate a string expression. */
static const char *S(const char *src)
{
    struct fcgic_expr *e = NULL;
    struct fcgic_expr_error err;
    int rc = fcgic_expr_new(&e, src, strlen(src), FCGIC_EXPR_STRING, NULL, &err, NULL);
    ck_assert_msg(rc == 0, "compile '%s': %d %s", src, rc, err.message);
    struct fcgic_span v;
    rc = fcgic_expr_eval_string(e, C, &v);
    ck_assert_msg(rc == 0, "eval '%s': %s", src, fcgic_strerror(rc));
    ck_assert_uint_lt(v.len, sizeof(sbuf));
    memcpy(sbuf, v.ptr, v.len);
    sbuf[v.len] = '\0';
    fcgic_expr_free(e);
    return sbuf;
}

static struct fcgic_expr_error LAST;
/* Compile and expect failure; returns the code, message in LAST. */
static int CERR(const char *src, unsigned flags)
{
    struct fcgic_expr *e = (struct fcgic_expr *)1;
    int rc = fcgic_expr_new(&e, src, strlen(src), flags, NULL, &LAST, NULL);
    ck_assert_msg(rc < 0, "'%s' compiled", src);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(LAST.code, rc);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Conditions                                                               */
/* ------------------------------------------------------------------------ */

START_TEST(test_bool_ops)
{
    ck_assert_int_eq(B("true"), 1);
    ck_assert_int_eq(B("false"), 0);
    ck_assert_int_eq(B("!true"), 0);
    ck_assert_int_eq(B("!!true"), 1);
    ck_assert_int_eq(B("true && false"), 0);
    ck_assert_int_eq(B("true && true"), 1);
    ck_assert_int_eq(B("false || true"), 1);
    ck_assert_int_eq(B("false || false"), 0);
    ck_assert_int_eq(B("true and not false"), 1);
    ck_assert_int_eq(B("false or true"), 1);
    /* ! binds tighter than &&, && tighter than || */
    ck_assert_int_eq(B("!false && false"), 0);
    ck_assert_int_eq(B("!(false && false)"), 1);
    ck_assert_int_eq(B("true || false && false"), 1);
    ck_assert_int_eq(B("(true || false) && false"), 0);
    ck_assert_int_eq(B("((((true))))"), 1);
    ck_assert_int_eq(B(" \t\ntrue\n"), 1);
}
END_TEST

START_TEST(test_short_circuit)
{
    /* the right side is not evaluated, so its missing file callback is no error */
    ck_assert_int_eq(B("true || -f '/x'"), 1);
    ck_assert_int_eq(B("false && -f '/x'"), 0);
    ck_assert_int_eq(file_calls, 0);
}
END_TEST

START_TEST(test_string_compare)
{
    ck_assert_int_eq(B("'abc' == 'abc'"), 1);
    ck_assert_int_eq(B("'abc' = 'abc'"), 1);
    ck_assert_int_eq(B("'abc' == 'abd'"), 0);
    ck_assert_int_eq(B("'abc' != 'abd'"), 1);
    ck_assert_int_eq(B("'abc' != 'abc'"), 0);
    ck_assert_int_eq(B("'abc' < 'abd'"), 1);
    ck_assert_int_eq(B("'abd' < 'abc'"), 0);
    ck_assert_int_eq(B("'ab' < 'abc'"), 1);
    ck_assert_int_eq(B("'abc' <= 'abc'"), 1);
    ck_assert_int_eq(B("'abd' <= 'abc'"), 0);
    ck_assert_int_eq(B("'b' > 'a'"), 1);
    ck_assert_int_eq(B("'a' > 'a'"), 0);
    ck_assert_int_eq(B("'a' >= 'a'"), 1);
    ck_assert_int_eq(B("'a' >= 'b'"), 0);
    ck_assert_int_eq(B("'10' < '9'"), 1); /* strings, not numbers */
    ck_assert_int_eq(B("'' == ''"), 1);
    ck_assert_int_eq(B("\"\xc3\xa9\" > 'z'"), 1); /* bytes compare unsigned */
}
END_TEST

START_TEST(test_int_compare)
{
    ck_assert_int_eq(B("10 -eq 10"), 1);
    ck_assert_int_eq(B("10 -eq 11"), 0);
    ck_assert_int_eq(B("10 -ne 11"), 1);
    ck_assert_int_eq(B("10 -ne 10"), 0);
    ck_assert_int_eq(B("9 -lt 10"), 1);
    ck_assert_int_eq(B("10 -lt 9"), 0);
    ck_assert_int_eq(B("10 -le 10"), 1);
    ck_assert_int_eq(B("11 -le 10"), 0);
    ck_assert_int_eq(B("10 -gt 9"), 1);
    ck_assert_int_eq(B("9 -gt 10"), 0);
    ck_assert_int_eq(B("10 -ge 10"), 1);
    ck_assert_int_eq(B("9 -ge 10"), 0);
    ck_assert_int_eq(B("-5 -lt 3"), 1);
    ck_assert_int_eq(B("'  42abc' -eq 42"), 1); /* atoi: leading space, stops at junk */
    ck_assert_int_eq(B("'abc' -eq 0"), 1);
    ck_assert_int_eq(B("'99999999999999999999' -eq '9223372036854775807'"), 1);
    ck_assert_int_eq(B("%{SERVER_PORT} -gt 1024"), 1);
    /* ssl_expr compatible spellings */
    ck_assert_int_eq(B("1 eq 1 && 1 ne 2 && 1 lt 2 && 2 le 2 && 3 gt 2 && 3 ge 3"), 1);
}
END_TEST

START_TEST(test_regex)
{
    ck_assert_int_eq(B("%{REQUEST_URI} =~ /index/"), 1);
    ck_assert_int_eq(B("%{REQUEST_URI} =~ /INDEX/"), 0);
    ck_assert_int_eq(B("%{REQUEST_URI} =~ /INDEX/i"), 1);
    ck_assert_int_eq(B("%{REQUEST_URI} !~ /INDEX/"), 1);
    ck_assert_int_eq(B("%{REQUEST_URI} !~ /index/"), 0);
    ck_assert_int_eq(B("%{REQUEST_URI} =~ m|^/app/|"), 1);
    ck_assert_int_eq(B("%{REQUEST_URI} =~ m#\\.php$#"), 1);
    ck_assert_int_eq(B("%{REQUEST_URI} =~ m,app,"), 1);
    ck_assert_int_eq(B("%{REQUEST_URI} =~ m;app;"), 1);
    ck_assert_int_eq(CERR("%{REQUEST_URI} =~ m_ap_", 0), FCGIC_E_EXPR_SYNTAX); /* identifier m_ap_ */
    ck_assert_int_eq(B("'a1' =~ /\\d/"), 1); /* PCRE classes */
    ck_assert_int_eq(B("\"a\\nb\" =~ /a.b/"), 1); /* DOTALL, as Apache */
    ck_assert_int_eq(B("\"ab\\n\" =~ /b$/"), 0);  /* DOLLAR_ENDONLY */
    ck_assert_int_eq(B("'' =~ /^$/"), 1);
}
END_TEST

START_TEST(test_captures)
{
    struct fcgic_expr *c1, *c2, *c3, *v;
    const char *s1 = "%{REQUEST_URI} =~ m#^/(\\w+)/(\\w+)\\.(php)#";
    ck_assert_int_eq(fcgic_expr_new(&c1, s1, strlen(s1), 0, NULL, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_expr_new(&c2, "'zzz' =~ /z/", 12, 0, NULL, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_expr_new(&c3, "'zzz' =~ /(q)/", 14, 0, NULL, NULL, NULL), 0);
    const char *vs = "[$0|$1|$2|$3|$4|$9]";
    ck_assert_int_eq(fcgic_expr_new(&v, vs, strlen(vs), FCGIC_EXPR_STRING, NULL, NULL, NULL), 0);
    struct fcgic_span out;
    int r;
    /* before any regex: empty */
    ck_assert_int_eq(fcgic_expr_eval_string(v, C, &out), 0);
    ck_assert_int_eq((int)out.len, 7);
    ck_assert_int_eq(memcmp(out.ptr, "[|||||]", 7), 0);
    ck_assert_int_eq(fcgic_expr_eval_bool(c1, C, &r), 0);
    ck_assert_int_eq(r, 1);
    ck_assert_int_eq(fcgic_expr_eval_string(v, C, &out), 0);
    {
        char *s = strndup(out.ptr, out.len);
        ck_assert_str_eq(s, "[/app/index.php|app|index|php||]");
        free(s);
    }
    /* a regex without groups keeps the captures */
    ck_assert_int_eq(fcgic_expr_eval_bool(c2, C, &r), 0);
    ck_assert_int_eq(r, 1);
    ck_assert_int_eq(fcgic_expr_eval_string(v, C, &out), 0);
    ck_assert_int_eq(memcmp(out.ptr, "[/app/index.php|app|", 20), 0);
    /* a failed capturing regex clears them (Apache sets its source to NULL) */
    ck_assert_int_eq(fcgic_expr_eval_bool(c3, C, &r), 0);
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(fcgic_expr_eval_string(v, C, &out), 0);
    ck_assert_int_eq(memcmp(out.ptr, "[|||||]", 7), 0);
    /* captures in a condition are visible in the same condition */
    ck_assert_int_eq(B("%{REQUEST_URI} =~ m#/(app)/# && $1 == 'app'"), 1);
    /* reset forgets them */
    reset_ctx();
    ck_assert_str_eq(S("[$1]"), "[]");
    fcgic_expr_free(c1);
    fcgic_expr_free(c2);
    fcgic_expr_free(c3);
    fcgic_expr_free(v);
}
END_TEST

START_TEST(test_capture_subject_survives_env_change)
{
    /* the subject is copied: changing the variable afterwards does not
     * change $1 */
    ck_assert_int_eq(B("reqenv('SCRIPT_NAME') =~ m|^/(\\w+)/|"), 1);
    ck_assert_int_eq(fenv_set(&E, "SCRIPT_NAME", 11, "/zzzzzzzzzzzz/", 15, ""), 0);
    ck_assert_str_eq(S("$1"), "app");
}
END_TEST

START_TEST(test_unary)
{
    ck_assert_int_eq(B("-n 'x'"), 1);
    ck_assert_int_eq(B("-n ''"), 0);
    ck_assert_int_eq(B("-z ''"), 1);
    ck_assert_int_eq(B("-z 'x'"), 0);
    ck_assert_int_eq(B("-n %{HTTP:X-Mixed}"), 1);
    ck_assert_int_eq(B("-z %{HTTP:X-Empty}"), 1);
    ck_assert_int_eq(B("-z %{HTTP:X-Missing}"), 1);
    ck_assert_int_eq(B("-T 'on'"), 1);
    ck_assert_int_eq(B("-T 'Off'"), 0);
    ck_assert_int_eq(B("-T 'NO'"), 0);
    ck_assert_int_eq(B("-T 'false'"), 0);
    ck_assert_int_eq(B("-T '0'"), 0);
    ck_assert_int_eq(B("-T '00'"), 1);
    ck_assert_int_eq(B("-T ''"), 0);
    ck_assert_int_eq(B("-R '192.168.1.0/24'"), 1);
    ck_assert_int_eq(B("-R '10.0.0.0/8'"), 0);
}
END_TEST

START_TEST(test_file_tests)
{
    ck_assert_int_eq(B("-d '/dir'"), 1);
    ck_assert_int_eq(B("-f '/dir'"), 0);
    ck_assert_int_eq(B("-e '/dir'"), 1);
    ck_assert_int_eq(B("-f '/file'"), 1);
    ck_assert_int_eq(B("-s '/file'"), 1);
    ck_assert_int_eq(B("-x '/file'"), 1);
    ck_assert_int_eq(B("-F '/file'"), 1);
    ck_assert_int_eq(B("-L '/file'"), 0);
    ck_assert_int_eq(B("-h '/file'"), 0);
    ck_assert_int_eq(B("-U '/file'"), 0);
    ck_assert_int_eq(B("-A '/file'"), 0);
    ck_assert_int_eq(file_calls, 11);
    ck_assert_int_eq(BERR("-f '/err'"), FCGIC_E_CALLBACK);
    ck_assert_int_eq(BERR("!-f '/err'"), FCGIC_E_CALLBACK);
    /* no callback: an error, never a guess */
    struct fcgic_expr_vars vars = {.version = FCGIC_EXPR_VARS_VERSION, .ud = &R, .lookup = freq_lookup, .file_test = NULL};
    fcgic_expr_ctx_reset(C, &vars, NULL);
    ck_assert_int_eq(BERR("-f '/file'"), FCGIC_E_NOTSUP);
    ck_assert_int_eq(BERR("!-d '/file'"), FCGIC_E_NOTSUP);
}
END_TEST

/* The POSIX file-test callback against a real directory. */
static int posix_eval(const char *src)
{
    struct fcgic_expr *e = NULL;
    struct fcgic_expr_ctx *ctx = NULL;
    ck_assert_int_eq(fcgic_expr_new(&e, src, strlen(src), 0, NULL, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_expr_ctx_new(&ctx, NULL, NULL), 0);
    struct fcgic_expr_vars vars = {.version = FCGIC_EXPR_VARS_VERSION, .ud = NULL, .lookup = NULL, .file_test = fcgic_expr_file_test_posix};
    fcgic_expr_ctx_reset(ctx, &vars, NULL);
    int res = -1;
    int rc = fcgic_expr_eval_bool(e, ctx, &res);
    fcgic_expr_ctx_free(ctx);
    fcgic_expr_free(e);
    return rc != 0 ? rc : res;
}

START_TEST(test_file_tests_posix)
{
    char dir[] = "/tmp/test-expr-fs.XXXXXX", cmd[256], src[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cd %s && printf x > full && : > empty && ln -s full link && mkdir sub", dir);
    ck_assert_int_eq(system(cmd), 0);
    static const struct {
        const char *op, *name;
        int want;
    } cases[] = {
        {"-f", "full", 1}, {"-f", "sub", 0},   {"-f", "missing", 0}, {"-d", "sub", 1},  {"-d", "full", 0},
        {"-e", "empty", 1}, {"-e", "nope", 0}, {"-s", "full", 1},    {"-s", "empty", 0}, {"-L", "link", 1},
        {"-h", "full", 0},  {"-F", "full", 1}, {"-f", "link", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(src, sizeof src, "%s '%s/%s'", cases[i].op, dir, cases[i].name);
        ck_assert_msg(posix_eval(src) == cases[i].want, "%s", src);
    }
    ck_assert_int_eq(posix_eval("-f ''"), 0);
    ck_assert_int_eq(posix_eval("-U '/x'"), FCGIC_E_NOTSUP);
    ck_assert_int_eq(fcgic_expr_file_test_posix(NULL, 'f', "/etc/passwd\0x", 13), 0); /* NUL inside */
    ck_assert_int_eq(fcgic_expr_file_test_posix(NULL, 'q', "/", 1), FCGIC_E_NOTSUP);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_wildcards)
{
    ck_assert_int_eq(B("'/sei/strmatch/a.php' -strmatch '/sei/strmatch/*.php'"), 1);
    ck_assert_int_eq(B("'/sei/strmatch/a.php' -strmatch '/SEI/*'"), 0);
    ck_assert_int_eq(B("'/sei/strmatch/a.php' -strcmatch '/SEI/STRMATCH/*'"), 1);
    ck_assert_int_eq(B("'/sei/strmatch/a.php' -fnmatch '/sei/*/*.php'"), 1);
    ck_assert_int_eq(B("'/sei/a/b/c.php' -fnmatch '/sei/*.php'"), 0); /* * stops at / */
    ck_assert_int_eq(B("'/sei/a/b/c.php' -strmatch '/sei/*.php'"), 1);
    ck_assert_int_eq(B("'abc' -strmatch 'a?c'"), 1);
    ck_assert_int_eq(B("'a/c' -fnmatch 'a?c'"), 0);
    ck_assert_int_eq(B("'abc' -strmatch 'a[a-c]c'"), 1);
    ck_assert_int_eq(B("'abc' -strmatch 'a[!b]c'"), 0);
    ck_assert_int_eq(B("'a*c' -strmatch 'a\\\\*c'"), 1);
    ck_assert_int_eq(B("'abc' -strmatch 'a\\\\*c'"), 0);
    ck_assert_int_eq(B("'' -strmatch '*'"), 1);
    ck_assert_int_eq(B("'abc' -STRMATCH 'abc'"), 1); /* binary operator names ignore case */
}
END_TEST

START_TEST(test_ipmatch)
{
    ck_assert_int_eq(B("%{REMOTE_ADDR} -ipmatch '192.168.1.0/24'"), 1);
    ck_assert_int_eq(B("%{REMOTE_ADDR} -ipmatch '192.168.1.0/255.255.255.0'"), 1);
    ck_assert_int_eq(B("%{REMOTE_ADDR} -ipmatch '192.168'"), 1);
    ck_assert_int_eq(B("%{REMOTE_ADDR} -ipmatch '192.168.2.0/24'"), 0);
    ck_assert_int_eq(B("'192.168.1.20' -ipmatch '192.168.1.20'"), 1);
    ck_assert_int_eq(B("'::ffff:10.1.2.3' -ipmatch '10.0.0.0/8'"), 1);
    ck_assert_int_eq(B("'2001:db8::1' -ipmatch '2001:db8::/32'"), 1);
    ck_assert_int_eq(B("'2001:db9::1' -ipmatch '2001:db8::/32'"), 0);
    ck_assert_int_eq(B("'not-an-ip' -ipmatch '10.0.0.0/8'"), 0);
    ck_assert_int_eq(CERR("%{REMOTE_ADDR} -ipmatch %{HTTP_HOST}", 0), FCGIC_E_EXPR_BAD_ARG);
    ck_assert_str_eq(LAST.message, "-ipmatch requires subnet/netmask as constant argument");
    ck_assert_int_eq(CERR("%{REMOTE_ADDR} -ipmatch '300.1.1.1/8'", 0), FCGIC_E_EXPR_BAD_ARG);
    ck_assert_str_eq(LAST.message, "parsing of subnet/netmask failed");
}
END_TEST

START_TEST(test_in_list)
{
    ck_assert_int_eq(B("%{HTTP:X-Mixed} in {'ABC', 'AbC'}"), 1);
    ck_assert_int_eq(B("%{HTTP:X-Mixed} in {'ABC', 'xyz'}"), 0); /* case-sensitive */
    ck_assert_int_eq(B("'b' -in {'a','b','c'}"), 1);
    ck_assert_int_eq(B("'x' in {'a'}"), 0);
    ck_assert_int_eq(B("'GET' in {%{REQUEST_METHOD}, 'POST'}"), 1);
    ck_assert_int_eq(CERR("'a' in split(/,/)", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_int_eq(CERR("'a' in foo('x')", 0), FCGIC_E_EXPR_UNKNOWN_FUNC);
    ck_assert_str_eq(LAST.message, "List-returning function 'foo' does not exist");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Words                                                                    */
/* ------------------------------------------------------------------------ */

START_TEST(test_words)
{
    ck_assert_str_eq(S(""), "");
    ck_assert_str_eq(S("plain text"), "plain text");
    ck_assert_str_eq(S("\"quotes' stay\""), "\"quotes' stay\"");
    ck_assert_str_eq(S("a%{REQUEST_METHOD}b"), "aGETb");
    ck_assert_str_eq(S("100% $x }"), "100% $x }");
    ck_assert_str_eq(S("tab\\there\\n\\101\\x"), "tab\there\nAx");
    ck_assert_int_eq(B("'a' . 'b' . %{REQUEST_METHOD} == 'abGET'"), 1);
    ck_assert_int_eq(B("\"x%{REQUEST_METHOD}y\" == 'xGETy'"), 1);
    ck_assert_int_eq(B("\"it's\" == 'it\\'s'"), 1);
    ck_assert_int_eq(B("12 . 34 == '1234'"), 1);
    ck_assert_int_eq(B("'' . '' == ''"), 1);
    ck_assert_int_eq(B("\"\\x41\\102\" == 'x41B'"), 1); /* 2.4 has no \\x escape */
}
END_TEST

START_TEST(test_variables)
{
    ck_assert_str_eq(S("%{REQUEST_METHOD}"), "GET");
    ck_assert_str_eq(S("%{request_method}"), "GET"); /* names ignore case */
    ck_assert_str_eq(S("%{HTTP_HOST}"), "example.com:8080");
    ck_assert_str_eq(S("%{THE_REQUEST}"), "GET /app/index.php?a=b%20c&d=e HTTP/1.1");
    ck_assert_str_eq(S("[%{HTTPS}]"), "[]"); /* not answered: empty */
    ck_assert_str_eq(S("%{HTTP:host}"), "example.com:8080");
    ck_assert_str_eq(S("%{reqenv:SCRIPT_NAME}"), "/app/index.php");
    ck_assert_str_eq(S("[%{reqenv:NO_SUCH}]"), "[]");
    ck_assert_str_eq(S("%{env:shared}"), "from-note"); /* notes first */
    ck_assert_str_eq(S("%{env:only_env}"), "ev");       /* then reqenv */
    ck_assert_str_eq(S("%{note:n1}"), "note-one");
    ck_assert_str_eq(S("%{resp:content-type}"), "text/html");
    ck_assert_str_eq(S("[%{resp:X-None}]"), "[]");
    setenv("FCGIC_EXPR_TEST_OSENV", "from-os", 1);
    ck_assert_str_eq(S("%{osenv:FCGIC_EXPR_TEST_OSENV}"), "from-os");
    ck_assert_str_eq(S("%{env:FCGIC_EXPR_TEST_OSENV}"), "from-os");
    R.osenv_mode = 1;
    ck_assert_str_eq(S("%{osenv:FCGIC_EXPR_TEST_OSENV}"), "osv");
    R.osenv_mode = 2;
    struct fcgic_expr *e;
    ck_assert_int_eq(fcgic_expr_new(&e, "%{osenv:X}", 10, FCGIC_EXPR_STRING, NULL, NULL, NULL), 0);
    struct fcgic_span v;
    ck_assert_int_eq(fcgic_expr_eval_string(e, C, &v), FCGIC_E_CALLBACK);
    fcgic_expr_free(e);
    /* no callbacks at all: empty values, osenv from getenv */
    fcgic_expr_ctx_reset(C, NULL, NULL);
    ck_assert_str_eq(S("[%{REQUEST_METHOD}|%{reqenv:SCRIPT_NAME}|%{HTTP:Host}]"), "[||]");
    ck_assert_str_eq(S("%{osenv:FCGIC_EXPR_TEST_OSENV}"), "from-os");
    unsetenv("FCGIC_EXPR_TEST_OSENV");
    /* a failing lookup fails the evaluation */
    reset_ctx();
    R.fail_var = 1;
    ck_assert_int_eq(BERR("%{REQUEST_METHOD} == 'GET'"), FCGIC_E_CALLBACK);
    ck_assert_int_eq(BERR("!(%{REQUEST_METHOD} == 'GET')"), FCGIC_E_CALLBACK);
}
END_TEST

START_TEST(test_every_variable_name)
{
    char src[64];
    for (int i = 0; i < FCGIC_EXPR_V__COUNT; i++) {
        R.vars[i] = fcgic_expr_var_name(i);
        snprintf(src, sizeof(src), "%%{%s}", fcgic_expr_var_name(i));
        ck_assert_str_eq(S(src), fcgic_expr_var_name(i));
    }
    ck_assert_ptr_null(fcgic_expr_var_name(-1));
    ck_assert_ptr_null(fcgic_expr_var_name(FCGIC_EXPR_V__COUNT));
}
END_TEST

START_TEST(test_functions)
{
    ck_assert_str_eq(S("%{tolower:%{HTTP:X-Mixed}}"), "abc");
    ck_assert_str_eq(S("%{toupper:%{REQUEST_METHOD}x}"), "GETX");
    ck_assert_str_eq(S("%{escape:%{QUERY_STRING}}"), "a=b%2520c&d=e");
    ck_assert_str_eq(S("%{escape:a b?#<>\x01/~;}"), "a%20b%3f%23%3c%3e%01/~;");
    ck_assert_str_eq(S("%{escape:%{HTTP:X-Quote}}"), "%22q'");
    ck_assert_int_eq(CERR("%{escape:\"}", FCGIC_EXPR_STRING), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(S("%{unescape:a%20b%2fc%2Fd}"), "a b%2fc%2Fd");
    ck_assert_str_eq(S("[%{unescape:bad%zz}]"), "[]");
    ck_assert_str_eq(S("[%{unescape:nul%00}]"), "[]");
    ck_assert_str_eq(S("%{base64:hello}"), "aGVsbG8=");
    ck_assert_str_eq(S("%{base64:hell}"), "aGVsbA==");
    ck_assert_str_eq(S("%{base64:hel}"), "aGVs");
    ck_assert_int_eq(CERR("[%{base64:}]", FCGIC_EXPR_STRING), FCGIC_E_EXPR_SYNTAX); /* as Apache */
    ck_assert_str_eq(LAST.message, "syntax error, unexpected T_VAR_END");
    ck_assert_str_eq(S("[%{base64:%{HTTP:X-Empty}}]"), "[]");
    ck_assert_str_eq(S("%{unbase64:aGVsbG8=}"), "hello");
    ck_assert_str_eq(S("%{unbase64:aGVsbA}"), "hell");
    ck_assert_str_eq(S("%{unbase64:aGVs!!!}"), "hel");
    ck_assert_str_eq(S("%{md5:hello}"), "5d41402abc4b2a76b9719d911017c592");
    ck_assert_str_eq(S("%{md5:%{HTTP:X-Empty}}"), "d41d8cd98f00b204e9800998ecf8427e");
    ck_assert_str_eq(S("%{sha1:hello}"), "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
    ck_assert_str_eq(S("%{sha1:%{HTTP:X-Empty}}"), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    ck_assert_str_eq(
        S("%{sha1:abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq}"),
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    ck_assert_str_eq(S("%{md5:12345678901234567890123456789012345678901234567890123456789012345678901234567890}"),
                     "57edf4a22be3c955ac49da2e2107b67a");
    ck_assert_str_eq(S("%{http:X-Mixed}|%{req:X-Mixed}|%{req_novary:X-Mixed}"), "AbC|AbC|AbC");
    ck_assert_str_eq(S("%{HTTP:X-Mixed}"), "AbC");
    ck_assert_str_eq(S("%{REQENV:SCRIPT_NAME}"), "/app/index.php");
    /* function-call form */
    ck_assert_int_eq(B("tolower(%{HTTP:X-Mixed}) == 'abc'"), 1);
    ck_assert_int_eq(B("toupper('a') == 'A'"), 1);
    ck_assert_int_eq(B("reqenv('SCRIPT_NAME') == '/app/index.php'"), 1);
    ck_assert_int_eq(B("env('only_env') == 'ev'"), 1);
    ck_assert_int_eq(B("note('n1') == 'note-one'"), 1);
    ck_assert_int_eq(B("http('X-Mixed') == 'AbC' && req('X-Mixed') == 'AbC'"), 1);
    ck_assert_int_eq(B("resp('Content-Type') == 'text/html'"), 1);
    ck_assert_int_eq(B("escape('a b') == 'a%20b'"), 1);
    ck_assert_int_eq(B("unescape('a%20b') == 'a b'"), 1);
    ck_assert_int_eq(B("base64('x') == 'eA=='"), 1);
    ck_assert_int_eq(B("unbase64('eA==') == 'x'"), 1);
    ck_assert_int_eq(B("md5('') == 'd41d8cd98f00b204e9800998ecf8427e'"), 1);
    ck_assert_int_eq(B("sha1('') == 'da39a3ee5e6b4b0d3255bfef95601890afd80709'"), 1);
    ck_assert_int_eq(B("osenv('FCGIC_NO_SUCH_VARIABLE_X') == ''"), 1);
    ck_assert_int_eq(B("tolower(toupper(%{REQUEST_METHOD} . 'x')) == 'getx'"), 1);
    ck_assert_str_eq(S("%{tolower:%{toupper:%{HTTP:X-Mixed}}}"), "abc");
}
END_TEST

/* True when the current locale's <ctype.h> treats 0xE9 (e acute in
 * ISO-8859-1) as a letter: the library must not notice. */
static int locale_classifies_high_bytes(void)
{
    return toupper(0xe9) != 0xe9 || isalnum(0xe9) || isprint(0xe9);
}

/* Set a locale that classifies bytes >= 0x80: an installed ISO-8859-1 one,
 * else one compiled by localedef(1) into a temporary directory (found through
 * LOCPATH, removed again once loaded), else C.UTF-8, which classifies none of
 * them (the check is weaker there). Returns the locale's name or NULL when
 * none could be set. */
static const char *set_high_byte_locale(void)
{
    static const char *const latin1[] = { "fr_FR.ISO-8859-1", "de_DE.ISO-8859-1",
                                          "en_US.ISO-8859-1", "fr_FR", "de_DE", "en_US" };
    static const char *const utf8[] = { "C.UTF-8", "C.utf8", "en_US.UTF-8" };
    for (size_t i = 0; i < sizeof(latin1) / sizeof(latin1[0]); i++)
        if (setlocale(LC_ALL, latin1[i]) && locale_classifies_high_bytes())
            return latin1[i];
    char dir[] = "/tmp/fcgic-locale-XXXXXX";
    if (mkdtemp(dir)) {
        char cmd[256];
        snprintf(cmd, sizeof(cmd),
                 "localedef -i fr_FR -f ISO-8859-1 %s/fr_FR.ISO-8859-1 >/dev/null 2>&1", dir);
        bool ok = system(cmd) == 0 && setenv("LOCPATH", dir, 1) == 0 &&
                  setlocale(LC_ALL, "fr_FR.ISO-8859-1") && locale_classifies_high_bytes();
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        ck_assert_int_eq(system(cmd), 0);
        if (ok)
            return "fr_FR.ISO-8859-1 (localedef)";
    }
    for (size_t i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++)
        if (setlocale(LC_ALL, utf8[i]))
            return utf8[i];
    return NULL;
}

/* Bytes >= 0x80 are not letters, whatever locale the host program set:
 * tolower, toupper, escape, -strcmatch and error messages. */
START_TEST(test_locale_independent)
{
    const char *name = set_high_byte_locale();
    if (name == NULL) {
        fprintf(stderr, "test_locale_independent: skipped, no locale can be set\n");
        return;
    }
    if (!locale_classifies_high_bytes())
        fprintf(stderr, "test_locale_independent: only %s, which classifies no byte >= 0x80\n",
                name);
    ck_assert_str_eq(S("%{tolower:\xc9T\xc9}"), "\xc9t\xc9");
    ck_assert_str_eq(S("%{toupper:\xe9t\xe9}"), "\xe9T\xe9");
    ck_assert_str_eq(S("%{escape:caf\xe9 \xc9}"), "caf%e9%20%c9");
    ck_assert_int_eq(B("'\xe9' -strcmatch '\xc9'"), 0);
    ck_assert_int_eq(B("'\xe9T' -strcmatch '\xe9t'"), 1);
    ck_assert_int_eq(B("tolower('\xc9') == '\xc9'"), 1);
    ck_assert_int_eq(CERR("true && \xe9", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "Parse error near '\\xE9'");
    /* the valgrind setup runs every test in one process */
    setlocale(LC_ALL, "C");
    unsetenv("LOCPATH");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Compile errors                                                           */
/* ------------------------------------------------------------------------ */

START_TEST(test_compile_errors)
{
    ck_assert_int_eq(CERR("%{HTTP_HOST} ==", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "syntax error, unexpected $end");
    ck_assert_uint_eq(LAST.offset, 15);
    ck_assert_int_eq(CERR("%{reqenv:X", FCGIC_EXPR_STRING), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "Unterminated string or variable");
    ck_assert_int_eq(CERR("'abc", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "Unterminated string or variable");
    ck_assert_int_eq(CERR("", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "syntax error, unexpected $end");
    ck_assert_int_eq(CERR("true false", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "syntax error, unexpected T_FALSE");
    ck_assert_uint_eq(LAST.offset, 5);
    ck_assert_str_eq(LAST.near_text, "false");
    ck_assert_int_eq(CERR("(true", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "syntax error, unexpected $end");
    ck_assert_int_eq(CERR("'a' == 'b' )", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "syntax error, unexpected ')'");
    ck_assert_int_eq(CERR("'a'", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "syntax error, unexpected $end");
    ck_assert_int_eq(CERR("true && @", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "Parse error near '@'");
    ck_assert_uint_eq(LAST.offset, 8);
    ck_assert_int_eq(CERR("'a' == @", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "syntax error, unexpected T_ERROR: Parse error near '@'");
    ck_assert_int_eq(CERR("%{HTTP-HOST} == 'x'", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message,
                     "syntax error, unexpected T_ERROR, expecting T_VAR_END or ':': "
                     "Invalid character in variable name '-'");
    ck_assert_int_eq(CERR("%{NO_SUCH_VAR} == 'x'", 0), FCGIC_E_EXPR_UNKNOWN_VAR);
    ck_assert_str_eq(LAST.message, "Variable 'NO_SUCH_VAR' does not exist");
    ck_assert_uint_eq(LAST.offset, 2);
    ck_assert_int_eq(CERR("nosuch('x') == 'x'", 0), FCGIC_E_EXPR_UNKNOWN_FUNC);
    ck_assert_str_eq(LAST.message, "Function 'nosuch' does not exist");
    ck_assert_int_eq(CERR("%{nosuch:x}", FCGIC_EXPR_STRING), FCGIC_E_EXPR_UNKNOWN_FUNC);
    ck_assert_str_eq(LAST.message, "Function 'nosuch' does not exist");
    ck_assert_int_eq(CERR("-q 'x'", 0), FCGIC_E_EXPR_UNKNOWN_FUNC);
    ck_assert_str_eq(LAST.message, "Unary operator '-q' does not exist");
    ck_assert_int_eq(CERR("'x' -nosuch 'y'", 0), FCGIC_E_EXPR_UNKNOWN_FUNC);
    ck_assert_str_eq(LAST.message, "Binary operator '-nosuch' does not exist");
    ck_assert_int_eq(CERR("'x' =~ /a(/", 0), FCGIC_E_EXPR_REGEX);
    ck_assert_str_eq(LAST.message, "Failed to compile regular expression");
    ck_assert_int_eq(CERR("'x' =~ /abc", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "syntax error, unexpected $end, expecting T_REGEX or T_REGEX_I");
    ck_assert_int_eq(CERR("'x' =~ 'abc'", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "syntax error, unexpected T_STR_BEGIN, expecting T_REGEX or T_REGEX_I");
    ck_assert_int_eq(CERR("'x' =~ /a/x", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_int_eq(CERR("\"a\\400\" == 'x'", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "Escape sequence out of bound");
    ck_assert_int_eq(CERR("\"a\\0009\" == 'x'", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "Bad escape sequence");
    ck_assert_int_eq(CERR("abc", 0), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "syntax error, unexpected $end, expecting '('");
    ck_assert_int_eq(CERR("line\nbreak", FCGIC_EXPR_STRING), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message, "Unterminated string or variable");
    ck_assert_int_eq(CERR("%{file:/etc/passwd}", FCGIC_EXPR_STRING), FCGIC_E_EXPR_UNKNOWN_FUNC);
    ck_assert_int_eq(CERR("a\0b", 0), FCGIC_E_EXPR_SYNTAX); /* length 1: "a" */
    struct fcgic_expr *e = NULL;
    ck_assert_int_eq(fcgic_expr_new(&e, "a\0b", 3, FCGIC_EXPR_STRING, NULL, &LAST, NULL),
                     FCGIC_E_EXPR_SYNTAX);
    ck_assert_uint_eq(LAST.offset, 1);
    ck_assert_int_eq(fcgic_expr_new(NULL, "true", 4, 0, NULL, NULL, NULL), FCGIC_E_INVAL);
}
END_TEST

/* Limits from a newer header than the library knows are refused. */
START_TEST(test_limits_version)
{
    struct fcgic_expr_limits lim = {.version = FCGIC_EXPR_LIMITS_VERSION + 1};
    struct fcgic_expr *e = NULL;
    struct fcgic_expr_ctx *ctx = NULL;
    struct fcgic_setenvif *s = NULL;
    ck_assert_int_eq(fcgic_expr_new(&e, "true", 4, 0, &lim, NULL, NULL), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_expr_ctx_new(&ctx, &lim, NULL), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_setenvif_new(&s, &lim, NULL), FCGIC_E_INVAL);
    lim.version = FCGIC_EXPR_LIMITS_VERSION;
    ck_assert_int_eq(fcgic_expr_new(&e, "true", 4, 0, &lim, NULL, NULL), 0);
    fcgic_expr_free(e);
}
END_TEST

START_TEST(test_limits)
{
    struct fcgic_expr *e = NULL;
    struct fcgic_expr_limits lim = { 0 };
    char src[9000];
    /* nesting depth */
    lim.max_depth = 8;
    snprintf(src, sizeof(src), "((((((((((true))))))))))");
    ck_assert_int_eq(fcgic_expr_new(&e, src, strlen(src), 0, &lim, &LAST, NULL),
                     FCGIC_E_EXPR_TOO_DEEP);
    snprintf(src, sizeof(src), "((true))");
    ck_assert_int_eq(fcgic_expr_new(&e, src, strlen(src), 0, &lim, NULL, NULL), 0);
    fcgic_expr_free(e);
    snprintf(src, sizeof(src), "%%{tolower:%%{tolower:%%{tolower:%%{tolower:%%{tolower:%%{tolower:%%{tolower:%%{tolower:%%{tolower:x}}}}}}}}}");
    ck_assert_int_eq(fcgic_expr_new(&e, src, strlen(src), FCGIC_EXPR_STRING, &lim, NULL, NULL),
                     FCGIC_E_EXPR_TOO_DEEP);
    /* default depth: deep but fine; too deep with the default */
    memset(src, '(', 1000);
    ck_assert_int_eq(fcgic_expr_new(&e, src, 1000, 0, NULL, NULL, NULL), FCGIC_E_EXPR_TOO_DEEP);
    memset(src, '!', 1000);
    ck_assert_int_eq(fcgic_expr_new(&e, src, 1000, 0, NULL, NULL, NULL), FCGIC_E_EXPR_TOO_DEEP);
    /* source size */
    memset(src, 'x', sizeof(src));
    ck_assert_int_eq(fcgic_expr_new(&e, src, 8193, FCGIC_EXPR_STRING, NULL, &LAST, NULL),
                     FCGIC_E_EXPR_TOO_LONG);
    ck_assert_int_eq(fcgic_expr_new(&e, src, 8192, FCGIC_EXPR_STRING, NULL, NULL, NULL), 0);
    fcgic_expr_free(e);
}
END_TEST

START_TEST(test_eval_limits)
{
    struct fcgic_expr_limits lim = base_limits();
    struct fcgic_expr_ctx *small = NULL;
    struct fcgic_expr *e = NULL;
    struct fcgic_span v;
    int r = 7;
    lim.scratch_size = 64;
    lim.max_capture_subject = 8;
    lim.match_limit = 1000;
    ck_assert_int_eq(fcgic_expr_ctx_new(&small, &lim, NULL), 0);
    fcgic_expr_ctx_reset(small, NULL, NULL);
    const char *s = "%{base64:0123456789012345678901234567890123456789012345678901234567890}";
    ck_assert_int_eq(fcgic_expr_new(&e, s, strlen(s), FCGIC_EXPR_STRING, NULL, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_expr_eval_string(e, small, &v), FCGIC_E_EXPR_TOO_LONG);
    fcgic_expr_free(e);
    /* capture subject too long */
    s = "'0123456789' =~ /(0)/";
    ck_assert_int_eq(fcgic_expr_new(&e, s, strlen(s), 0, NULL, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_expr_eval_bool(e, small, &r), FCGIC_E_EXPR_TOO_LONG);
    ck_assert_int_eq(r, 7);
    fcgic_expr_free(e);
    /* catastrophic backtracking hits the match limit: an error for =~ and !~ */
    s = "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab' =~ /^(a|aa)+$/";
    ck_assert_int_eq(fcgic_expr_new(&e, s, strlen(s), 0, NULL, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_expr_eval_bool(e, small, &r), FCGIC_E_EXPR_MATCH_LIMIT);
    fcgic_expr_free(e);
    s = "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab' !~ /^(?:a|aa)+$/";
    ck_assert_int_eq(fcgic_expr_new(&e, s, strlen(s), 0, NULL, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_expr_eval_bool(e, small, &r), FCGIC_E_EXPR_MATCH_LIMIT);
    ck_assert_int_eq(r, 7);
    fcgic_expr_free(e);
    fcgic_expr_ctx_free(small);
    /* wrong kind of expression */
    ck_assert_int_eq(fcgic_expr_new(&e, "x", 1, FCGIC_EXPR_STRING, NULL, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_expr_eval_bool(e, C, &r), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_expr_is_string(e), 1);
    fcgic_expr_free(e);
    ck_assert_int_eq(fcgic_expr_new(&e, "true", 4, 0, NULL, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_expr_eval_string(e, C, &v), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_expr_is_string(e), 0);
    fcgic_expr_free(e);
    fcgic_expr_free(NULL);
    fcgic_expr_ctx_free(NULL);
}
END_TEST

static struct fcgic_expr *reenter_expr;
static int reenter_rc;
static int reenter_lookup(void *ud, int src, int var, const char *name, size_t n,
                          struct fcgic_span *v)
{
    int r;
    (void)src; (void)var; (void)name; (void)n; (void)v;
    reenter_rc = fcgic_expr_eval_bool(reenter_expr, ud, &r);
    return FCGIC_E_NOT_FOUND;
}

START_TEST(test_reentrancy)
{
    struct fcgic_expr_vars vars = {.version = FCGIC_EXPR_VARS_VERSION, .ud = C, .lookup = reenter_lookup, .file_test = NULL};
    fcgic_expr_ctx_reset(C, &vars, NULL);
    ck_assert_int_eq(fcgic_expr_new(&reenter_expr, "%{REQUEST_METHOD} == ''", 23, 0, NULL, NULL,
                                    NULL), 0);
    int r = 0;
    ck_assert_int_eq(fcgic_expr_eval_bool(reenter_expr, C, &r), 0);
    ck_assert_int_eq(r, 1);
    ck_assert_int_eq(reenter_rc, FCGIC_E_REENTRANT);
    fcgic_expr_free(reenter_expr);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ProxyFCGISetEnvIf                                                        */
/* ------------------------------------------------------------------------ */

static int ADD(struct fcgic_setenvif *s, int n, const char *a0, const char *a1, const char *a2)
{
    const char *argv[3] = { a0, a1, a2 };
    return fcgic_setenvif_add(s, n, argv, NULL, &LAST);
}

START_TEST(test_sei_directive_errors)
{
    struct fcgic_setenvif *s;
    ck_assert_int_eq(fcgic_setenvif_new(&s, NULL, NULL), 0);
    /* the four invalid configurations recorded from Apache (config_test output) */
    ck_assert_int_eq(ADD(s, 1, "true", NULL, NULL), FCGIC_E_EXPR_CONFIG);
    ck_assert_str_eq(LAST.message, "ProxyFCGISetEnvIf takes two or three arguments, "
                                   "expr-condition env-name expr-value");
    ck_assert_int_eq(ADD(s, 3, "%{HTTP_HOST} ==", "X_BAD", "1"), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message,
                     "Could not parse expression \"%{HTTP_HOST} ==\": syntax error, unexpected $end");
    ck_assert_int_eq(LAST.arg, 1);
    ck_assert_uint_eq(LAST.offset, 15);
    ck_assert_int_eq(ADD(s, 3, "true", "X_BAD", "%{reqenv:X"), FCGIC_E_EXPR_SYNTAX);
    ck_assert_str_eq(LAST.message,
                     "Could not parse expression \"%{reqenv:X\": Unterminated string or variable");
    ck_assert_int_eq(LAST.arg, 3);
    ck_assert_int_eq(ADD(s, 3, "true", "!X_GONE", "value"), FCGIC_E_EXPR_CONFIG);
    ck_assert_str_eq(LAST.message, "Third argument (\"value\") is not allowed when using "
                                   "ProxyFCGISetEnvIf's unset mode (!X_GONE)");
    ck_assert_int_eq(ADD(s, 2, "true", "!", NULL), FCGIC_E_EXPR_CONFIG);
    ck_assert_str_eq(LAST.message, "ProxyFCGISetEnvIf: \"!\" is not a valid variable name");
    ck_assert_int_eq(ADD(s, 4, "true", "X", "1"), FCGIC_E_EXPR_CONFIG);
    ck_assert_int_eq(ADD(s, 0, NULL, NULL, NULL), FCGIC_E_EXPR_CONFIG);
    ck_assert_int_eq(ADD(s, 2, "true", "", NULL), FCGIC_E_EXPR_CONFIG);
    ck_assert_int_eq(ADD(s, 2, "true", "X", NULL) , 0);
    ck_assert_int_eq(ADD(s, 2, "true", "!X", NULL), 0);
    ck_assert_int_eq(ADD(s, 3, "true", "X", ""), 0);
    ck_assert_uint_eq(fcgic_setenvif_count(s), 3);
    ck_assert_int_eq(fcgic_setenvif_add(NULL, 2, NULL, NULL, NULL), FCGIC_E_INVAL);
    fcgic_setenvif_free(s);
    fcgic_setenvif_free(NULL);
}
END_TEST

static void apply_ok(const struct fcgic_setenvif *a, const struct fcgic_setenvif *b)
{
    const struct fcgic_setenvif *lists[2] = { a, b };
    size_t failed = 99;
    int rc = fcgic_setenvif_apply(lists, 2, C, &failed);
    ck_assert_msg(rc == 0, "apply: %s (rule %zu)", fcgic_strerror(rc), failed);
    ck_assert_uint_eq(failed, 99);
}

START_TEST(test_sei_seeds)
{
    struct fcgic_setenvif *s;
    static const char *const after[] = {
        "SCRIPT_NAME", "/app/index.php", "PATH_TRANSLATED", "/srv/www/prefix/rest",
        "shared", "from-env", "only_env", "ev", "PATH_INFO", "/example",
        "X_SCRIPT", "/app/index.php", NULL,
    };
    ck_assert_int_eq(fcgic_setenvif_new(&s, NULL, NULL), 0);
    ck_assert_int_eq(ADD(s, 3, "reqenv('PATH_TRANSLATED') =~ m|(/.*prefix)(\\d+)(.*)|",
                         "PATH_TRANSLATED", "$1$3"), 0);
    ck_assert_int_eq(ADD(s, 3, "true", "PATH_INFO", "/example"), 0);
    ck_assert_int_eq(ADD(s, 3, "true", "X_SCRIPT", "%{reqenv:SCRIPT_NAME}"), 0);
    apply_ok(s, NULL);
    fenv_expect(&E, after);
    ck_assert_str_eq(E.rule[1], "ProxyFCGISetEnvIf #1 \"reqenv('PATH_TRANSLATED') =~ "
                                "m|(/.*prefix)(\\d+)(.*)|\" PATH_TRANSLATED \"$1$3\"");
    ck_assert_str_eq(E.rule[4], "ProxyFCGISetEnvIf #2 \"true\" PATH_INFO \"/example\"");
    /* applying again: PATH_TRANSLATED no longer matches, nothing else changes */
    apply_ok(s, NULL);
    fenv_expect(&E, after);
    fcgic_setenvif_free(s);
}
END_TEST

START_TEST(test_sei_semantics)
{
    struct fcgic_setenvif *srv, *loc;
    static const char *const after[] = {
        "SCRIPT_NAME", "/app/index.php.changed", "PATH_TRANSLATED", "/srv/www/prefix42/rest",
        "shared", "", "X_SRV", "srv", "X_A", "two", "X_B", "saw-one", "X_CAP", "[www|]",
        "X_EMPTY", "", NULL,
    };
    ck_assert_int_eq(fcgic_setenvif_new(&srv, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_setenvif_new(&loc, NULL, NULL), 0);
    const char *label = "httpd.conf:12";
    const char *argv[3] = { "true", "X_SRV", "srv" };
    ck_assert_int_eq(fcgic_setenvif_add(srv, 3, argv, label, NULL), 0);
    ck_assert_int_eq(ADD(loc, 3, "-n reqenv('X_SRV')", "X_A", "one"), 0); /* sees server rule */
    ck_assert_int_eq(ADD(loc, 3, "reqenv('X_A') == 'one'", "X_B", "saw-one"), 0);
    ck_assert_int_eq(ADD(loc, 3, "true", "X_A", "two"), 0); /* keeps its position */
    ck_assert_int_eq(ADD(loc, 3, "reqenv('PATH_TRANSLATED') =~ m#^/srv/(\\w+)/#", "X_NONE", "x"), 0);
    ck_assert_int_eq(ADD(loc, 3, "false", "X_NEVER", "1"), 0);
    ck_assert_int_eq(ADD(loc, 2, "false", "!SCRIPT_NAME", NULL), 0);
    ck_assert_int_eq(ADD(loc, 3, "true", "X_CAP", "[$1|$2]"), 0); /* captures persist */
    ck_assert_int_eq(ADD(loc, 2, "true", "!X_NONE", NULL), 0);
    ck_assert_int_eq(ADD(loc, 2, "true", "!only_env", NULL), 0);
    ck_assert_int_eq(ADD(loc, 2, "true", "!DOES_NOT_EXIST", NULL), 0);
    ck_assert_int_eq(ADD(loc, 2, "true", "X_EMPTY", NULL), 0);
    ck_assert_int_eq(ADD(loc, 2, "true", "shared", NULL), 0);
    ck_assert_int_eq(ADD(loc, 3, "true", "SCRIPT_NAME", "%{reqenv:SCRIPT_NAME}.changed"), 0);
    apply_ok(srv, loc);
    fenv_expect(&E, after);
    ck_assert_str_eq(E.rule[3], "ProxyFCGISetEnvIf #1 (httpd.conf:12) \"true\" X_SRV \"srv\"");
    fcgic_setenvif_free(srv);
    fcgic_setenvif_free(loc);
}
END_TEST

START_TEST(test_sei_errors_stop)
{
    struct fcgic_setenvif *s;
    const struct fcgic_setenvif *lists[1];
    size_t failed = 99;
    ck_assert_int_eq(fcgic_setenvif_new(&s, NULL, NULL), 0);
    ck_assert_int_eq(ADD(s, 3, "true", "X_1", "1"), 0);
    ck_assert_int_eq(ADD(s, 3, "-f '/err'", "X_2", "2"), 0);
    ck_assert_int_eq(ADD(s, 3, "true", "X_3", "3"), 0);
    lists[0] = s;
    ck_assert_int_eq(fcgic_setenvif_apply(lists, 1, C, &failed), FCGIC_E_CALLBACK);
    ck_assert_uint_eq(failed, 1);
    ck_assert_int_eq(fenv_find(&E, "X_1", 3), 4);
    ck_assert_int_eq(fenv_find(&E, "X_3", 3), -1);
    /* an env set() failure stops too */
    E.fail_set = 1;
    ck_assert_int_eq(fcgic_setenvif_apply(lists, 1, C, &failed), FCGIC_E_CALLBACK);
    ck_assert_uint_eq(failed, 0);
    E.fail_set = 0;
    /* env ops are required */
    struct fcgic_expr_vars vars = {.version = FCGIC_EXPR_VARS_VERSION, .ud = &R, .lookup = freq_lookup, .file_test = ftest};
    fcgic_expr_ctx_reset(C, &vars, NULL);
    ck_assert_int_eq(fcgic_setenvif_apply(lists, 1, C, NULL), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_setenvif_apply(NULL, 0, NULL, NULL), FCGIC_E_INVAL);
    fcgic_setenvif_free(s);
}
END_TEST

/* A client-chosen subject that makes a rule's regex backtrack exponentially
 * stops the rules with the match-limit error under the default limits, the
 * same code the env builder's mappings report. */
START_TEST(test_sei_match_limit)
{
    struct fcgic_setenvif *s;
    const struct fcgic_setenvif *lists[1];
    size_t failed = 99;
    char uri[64] = "/app/";
    memset(uri + 5, 'a', 36);
    memcpy(uri + 41, "!.php", 6);
    R.vars[FCGIC_EXPR_V_REQUEST_URI] = uri;
    struct fcgic_expr_limits lim = base_limits();
    ck_assert_int_eq(fcgic_setenvif_new(&s, &lim, NULL), 0);
    ck_assert_int_eq(ADD(s, 3, "true", "X_1", "1"), 0);
    ck_assert_int_eq(ADD(s, 3, "%{REQUEST_URI} =~ m#^/app/(a|aa)+\\.php$#", "X_2", "$1"), 0);
    ck_assert_int_eq(ADD(s, 3, "true", "X_3", "3"), 0);
    lists[0] = s;
    ck_assert_int_eq(fcgic_setenvif_apply(lists, 1, C, &failed), FCGIC_E_EXPR_MATCH_LIMIT);
    ck_assert_uint_eq(failed, 1);
    ck_assert_int_eq(fenv_find(&E, "X_3", 3), -1);
    /* an ordinary subject matches */
    R.vars[FCGIC_EXPR_V_REQUEST_URI] = "/app/aaa.php";
    ck_assert_int_eq(fcgic_setenvif_apply(lists, 1, C, &failed), 0);
    ck_assert_int_ge(fenv_find(&E, "X_3", 3), 0);
    fcgic_setenvif_free(s);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Recorded Apache cases                                                    */
/* ------------------------------------------------------------------------ */

struct sei_rule_v {
    int nargs;
    const char *argv[3];
};

struct sei_case {
    const char *name;
    const char *method, *path, *query, *the_request;
    const char *const *headers;
    const struct sei_rule_v *server, *loc;
    const char *const *init;
    const char *const *expect;
};

/* sei_backrefs: captures from =~ in the value: $1, $2-$1-$0, and $1 without a regex condition */
static const struct sei_rule_v sei_backrefs_server[] = {
    { 3, { "true", "X_SERVER_LEVEL", "1" } },
    { 0, { NULL } },
};
static const struct sei_rule_v sei_backrefs_loc[] = {
    { 3, { "%{REQUEST_URI} =~ m#^/sei/backref/([^/]+)/([^/?]*)#", "X_FIRST", "$1" } },
    { 3, { "%{REQUEST_URI} =~ m#^/sei/backref/([^/]+)/([^/?]*)#", "X_SWAPPED", "$2-$1-$0" } },
    { 3, { "true", "X_NO_CAPTURE", "[$1]" } },
    { 0, { NULL } },
};
static const char *const sei_backrefs_headers[] = {
    "Host", "127.0.0.1:18080",
    NULL,
};
static const char *const sei_backrefs_init[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/backref/alpha/beta",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "z=1",
    "REQUEST_URI", "/sei/backref/alpha/beta?z=1",
    "SCRIPT_NAME", "/sei/backref/alpha/beta",
    NULL,
};
static const char *const sei_backrefs_expect[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/backref/alpha/beta",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "z=1",
    "REQUEST_URI", "/sei/backref/alpha/beta?z=1",
    "SCRIPT_NAME", "/sei/backref/alpha/beta",
    "X_SERVER_LEVEL", "1",
    "X_FIRST", "alpha",
    "X_SWAPPED", "beta-alpha-/sei/backref/alpha/beta",
    "X_NO_CAPTURE", "[alpha]",
    NULL,
};
/* sei_capture_nomatch: same as sei_capture_match but PATH_TRANSLATED does not match the regex */
static const struct sei_rule_v sei_capture_nomatch_server[] = {
    { 3, { "true", "X_SERVER_LEVEL", "1" } },
    { 0, { NULL } },
};
static const struct sei_rule_v sei_capture_nomatch_loc[] = {
    { 3, { "reqenv('PATH_TRANSLATED') =~ m|(/.*prefix)(\\d+)(.*)|", "PATH_TRANSLATED", "$1$3" } },
    { 0, { NULL } },
};
static const char *const sei_capture_nomatch_headers[] = {
    "Host", "127.0.0.1:18080",
    NULL,
};
static const char *const sei_capture_nomatch_init[] = {
    "proxy-fcgi-pathinfo", "first-dot",
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/cap/a.php/other/rest",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/cap/a.php/other/rest",
    "SCRIPT_NAME", "/sei/cap/a.php",
    "PATH_INFO", "/other/rest",
    "PATH_TRANSLATED", "@DOCROOT@/other/rest",
    NULL,
};
static const char *const sei_capture_nomatch_expect[] = {
    "proxy-fcgi-pathinfo", "first-dot",
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/cap/a.php/other/rest",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/cap/a.php/other/rest",
    "SCRIPT_NAME", "/sei/cap/a.php",
    "PATH_INFO", "/other/rest",
    "PATH_TRANSLATED", "@DOCROOT@/other/rest",
    "X_SERVER_LEVEL", "1",
    NULL,
};
/* sei_false: "false" conditions never apply */
static const struct sei_rule_v sei_false_server[] = {
    { 3, { "true", "X_SERVER_LEVEL", "1" } },
    { 0, { NULL } },
};
static const struct sei_rule_v sei_false_loc[] = {
    { 3, { "false", "X_NEVER", "1" } },
    { 2, { "false", "!SERVER_NAME" } },
    { 0, { NULL } },
};
static const char *const sei_false_headers[] = {
    "Host", "127.0.0.1:18080",
    NULL,
};
static const char *const sei_false_init[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/false/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/false/a.php",
    "SCRIPT_NAME", "/sei/false/a.php",
    NULL,
};
static const char *const sei_false_expect[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/false/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/false/a.php",
    "SCRIPT_NAME", "/sei/false/a.php",
    "X_SERVER_LEVEL", "1",
    NULL,
};
/* sei_host_nomatch: %{HTTP_HOST} == 'oracle.test' with default Host */
static const struct sei_rule_v sei_host_nomatch_server[] = {
    { 3, { "true", "X_SERVER_LEVEL", "1" } },
    { 0, { NULL } },
};
static const struct sei_rule_v sei_host_nomatch_loc[] = {
    { 3, { "%{HTTP_HOST} == 'oracle.test'", "X_HOST_IS_ORACLE", "yes" } },
    { 3, { "%{HTTP_HOST} != 'oracle.test'", "X_HOST_NOT_ORACLE", "%{HTTP_HOST}" } },
    { 0, { NULL } },
};
static const char *const sei_host_nomatch_headers[] = {
    "Host", "127.0.0.1:18080",
    NULL,
};
static const char *const sei_host_nomatch_init[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/host/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/host/a.php",
    "SCRIPT_NAME", "/sei/host/a.php",
    NULL,
};
static const char *const sei_host_nomatch_expect[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/host/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/host/a.php",
    "SCRIPT_NAME", "/sei/host/a.php",
    "X_SERVER_LEVEL", "1",
    "X_HOST_NOT_ORACLE", "127.0.0.1:18080",
    NULL,
};
/* sei_logic_post_b2: &&, ||, !, != with POST ?b=2 */
static const struct sei_rule_v sei_logic_post_b2_server[] = {
    { 3, { "true", "X_SERVER_LEVEL", "1" } },
    { 0, { NULL } },
};
static const struct sei_rule_v sei_logic_post_b2_loc[] = {
    { 3, { "%{REQUEST_METHOD} == 'POST' && %{QUERY_STRING} =~ /a=1/", "X_AND", "1" } },
    { 3, { "%{REQUEST_METHOD} == 'POST' || %{QUERY_STRING} =~ /a=1/", "X_OR", "1" } },
    { 3, { "!(%{REQUEST_METHOD} == 'GET')", "X_NOT_GET", "1" } },
    { 3, { "%{REQUEST_METHOD} != 'GET'", "X_NE_GET", "1" } },
    { 0, { NULL } },
};
static const char *const sei_logic_post_b2_headers[] = {
    "Host", "127.0.0.1:18080",
    "Content-Type", "text/plain",
    NULL,
};
static const char *const sei_logic_post_b2_init[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "CONTENT_TYPE", "text/plain",
    "CONTENT_LENGTH", "1",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/logic/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "POST",
    "QUERY_STRING", "b=2",
    "REQUEST_URI", "/sei/logic/a.php?b=2",
    "SCRIPT_NAME", "/sei/logic/a.php",
    NULL,
};
static const char *const sei_logic_post_b2_expect[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "CONTENT_TYPE", "text/plain",
    "CONTENT_LENGTH", "1",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/logic/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "POST",
    "QUERY_STRING", "b=2",
    "REQUEST_URI", "/sei/logic/a.php?b=2",
    "SCRIPT_NAME", "/sei/logic/a.php",
    "X_SERVER_LEVEL", "1",
    "X_OR", "1",
    "X_NOT_GET", "1",
    "X_NE_GET", "1",
    NULL,
};
/* sei_order: several directives in order: later conditions see earlier results? */
static const struct sei_rule_v sei_order_server[] = {
    { 3, { "true", "X_SERVER_LEVEL", "1" } },
    { 0, { NULL } },
};
static const struct sei_rule_v sei_order_loc[] = {
    { 3, { "true", "X_A", "one" } },
    { 3, { "reqenv('X_A') == 'one'", "X_B", "saw-one" } },
    { 3, { "true", "X_A", "two" } },
    { 3, { "true", "X_C", "%{reqenv:X_A}" } },
    { 3, { "true", "X_D", "%{reqenv:X_B}" } },
    { 0, { NULL } },
};
static const char *const sei_order_headers[] = {
    "Host", "127.0.0.1:18080",
    NULL,
};
static const char *const sei_order_init[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/order/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/order/a.php",
    "SCRIPT_NAME", "/sei/order/a.php",
    NULL,
};
static const char *const sei_order_expect[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/order/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/order/a.php",
    "SCRIPT_NAME", "/sei/order/a.php",
    "X_SERVER_LEVEL", "1",
    "X_A", "two",
    "X_B", "saw-one",
    "X_C", "two",
    "X_D", "saw-one",
    NULL,
};
/* sei_query_nomatch: %{QUERY_STRING} !~ /debug=/ */
static const struct sei_rule_v sei_query_nomatch_server[] = {
    { 3, { "true", "X_SERVER_LEVEL", "1" } },
    { 0, { NULL } },
};
static const struct sei_rule_v sei_query_nomatch_loc[] = {
    { 3, { "%{QUERY_STRING} =~ /debug=(\\w+)/", "X_DEBUG", "$1" } },
    { 3, { "%{QUERY_STRING} !~ /debug=/", "X_NODEBUG", "1" } },
    { 0, { NULL } },
};
static const char *const sei_query_nomatch_headers[] = {
    "Host", "127.0.0.1:18080",
    NULL,
};
static const char *const sei_query_nomatch_init[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/query/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "x=1",
    "REQUEST_URI", "/sei/query/a.php?x=1",
    "SCRIPT_NAME", "/sei/query/a.php",
    NULL,
};
static const char *const sei_query_nomatch_expect[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/query/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "x=1",
    "REQUEST_URI", "/sei/query/a.php?x=1",
    "SCRIPT_NAME", "/sei/query/a.php",
    "X_SERVER_LEVEL", "1",
    "X_NODEBUG", "1",
    NULL,
};
/* sei_strmatch_php: -strmatch, -strcmatch, -fnmatch on /sei/strmatch/a.php */
static const struct sei_rule_v sei_strmatch_php_server[] = {
    { 3, { "true", "X_SERVER_LEVEL", "1" } },
    { 0, { NULL } },
};
static const struct sei_rule_v sei_strmatch_php_loc[] = {
    { 3, { "%{REQUEST_URI} -strmatch '/sei/strmatch/*.php'", "X_STRMATCH", "1" } },
    { 3, { "%{REQUEST_URI} -strcmatch '/SEI/STRMATCH/*'", "X_STRCMATCH", "1" } },
    { 3, { "%{REQUEST_URI} -fnmatch '/sei/*/*.php'", "X_FNMATCH", "1" } },
    { 0, { NULL } },
};
static const char *const sei_strmatch_php_headers[] = {
    "Host", "127.0.0.1:18080",
    NULL,
};
static const char *const sei_strmatch_php_init[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/strmatch/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/strmatch/a.php",
    "SCRIPT_NAME", "/sei/strmatch/a.php",
    NULL,
};
static const char *const sei_strmatch_php_expect[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/strmatch/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/strmatch/a.php",
    "SCRIPT_NAME", "/sei/strmatch/a.php",
    "X_SERVER_LEVEL", "1",
    "X_STRMATCH", "1",
    "X_STRCMATCH", "1",
    "X_FNMATCH", "1",
    NULL,
};
/* sei_unset: !VARIABLE unsets: !SERVER_SOFTWARE, !HTTP_X_SECRET (request header), !DOES_NOT_EXIST */
static const struct sei_rule_v sei_unset_server[] = {
    { 3, { "true", "X_SERVER_LEVEL", "1" } },
    { 0, { NULL } },
};
static const struct sei_rule_v sei_unset_loc[] = {
    { 2, { "true", "!SERVER_SOFTWARE" } },
    { 2, { "true", "!HTTP_X_SECRET" } },
    { 2, { "true", "!DOES_NOT_EXIST" } },
    { 0, { NULL } },
};
static const char *const sei_unset_headers[] = {
    "Host", "127.0.0.1:18080",
    "X-Secret", "s3cr3t",
    NULL,
};
static const char *const sei_unset_init[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "HTTP_X_SECRET", "s3cr3t",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_SOFTWARE", "Apache/2.4.71 (Debian)",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/unset/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/unset/a.php",
    "SCRIPT_NAME", "/sei/unset/a.php",
    NULL,
};
static const char *const sei_unset_expect[] = {
    "HTTP_HOST", "127.0.0.1:18080",
    "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SERVER_SIGNATURE", "",
    "SERVER_NAME", "127.0.0.1",
    "SERVER_ADDR", "127.0.0.1",
    "SERVER_PORT", "18080",
    "REMOTE_ADDR", "127.0.0.1",
    "DOCUMENT_ROOT", "@DOCROOT@",
    "REQUEST_SCHEME", "http",
    "CONTEXT_PREFIX", "",
    "CONTEXT_DOCUMENT_ROOT", "@DOCROOT@",
    "SERVER_ADMIN", "webmaster@oracle.test",
    "SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:18101/unset/a.php",
    "REMOTE_PORT", "@REMOTE_PORT@",
    "GATEWAY_INTERFACE", "CGI/1.1",
    "SERVER_PROTOCOL", "HTTP/1.1",
    "REQUEST_METHOD", "GET",
    "QUERY_STRING", "",
    "REQUEST_URI", "/sei/unset/a.php",
    "SCRIPT_NAME", "/sei/unset/a.php",
    "X_SERVER_LEVEL", "1",
    NULL,
};
static const struct sei_case sei_cases[] = {
    { "sei_backrefs", "GET", "/sei/backref/alpha/beta", "z=1", "GET /sei/backref/alpha/beta?z=1 HTTP/1.1", sei_backrefs_headers, sei_backrefs_server, sei_backrefs_loc, sei_backrefs_init, sei_backrefs_expect },
    { "sei_capture_nomatch", "GET", "/sei/cap/a.php/other/rest", "", "GET /sei/cap/a.php/other/rest HTTP/1.1", sei_capture_nomatch_headers, sei_capture_nomatch_server, sei_capture_nomatch_loc, sei_capture_nomatch_init, sei_capture_nomatch_expect },
    { "sei_false", "GET", "/sei/false/a.php", "", "GET /sei/false/a.php HTTP/1.1", sei_false_headers, sei_false_server, sei_false_loc, sei_false_init, sei_false_expect },
    { "sei_host_nomatch", "GET", "/sei/host/a.php", "", "GET /sei/host/a.php HTTP/1.1", sei_host_nomatch_headers, sei_host_nomatch_server, sei_host_nomatch_loc, sei_host_nomatch_init, sei_host_nomatch_expect },
    { "sei_logic_post_b2", "POST", "/sei/logic/a.php", "b=2", "POST /sei/logic/a.php?b=2 HTTP/1.1", sei_logic_post_b2_headers, sei_logic_post_b2_server, sei_logic_post_b2_loc, sei_logic_post_b2_init, sei_logic_post_b2_expect },
    { "sei_order", "GET", "/sei/order/a.php", "", "GET /sei/order/a.php HTTP/1.1", sei_order_headers, sei_order_server, sei_order_loc, sei_order_init, sei_order_expect },
    { "sei_query_nomatch", "GET", "/sei/query/a.php", "x=1", "GET /sei/query/a.php?x=1 HTTP/1.1", sei_query_nomatch_headers, sei_query_nomatch_server, sei_query_nomatch_loc, sei_query_nomatch_init, sei_query_nomatch_expect },
    { "sei_strmatch_php", "GET", "/sei/strmatch/a.php", "", "GET /sei/strmatch/a.php HTTP/1.1", sei_strmatch_php_headers, sei_strmatch_php_server, sei_strmatch_php_loc, sei_strmatch_php_init, sei_strmatch_php_expect },
    { "sei_unset", "GET", "/sei/unset/a.php", "", "GET /sei/unset/a.php HTTP/1.1", sei_unset_headers, sei_unset_server, sei_unset_loc, sei_unset_init, sei_unset_expect },
};

static struct fcgic_setenvif *load_rules(const struct sei_rule_v *v)
{
    struct fcgic_setenvif *s;
    ck_assert_int_eq(fcgic_setenvif_new(&s, NULL, NULL), 0);
    for (; v->nargs; v++)
        ck_assert_int_eq(fcgic_setenvif_add(s, v->nargs, v->argv, NULL, NULL), 0);
    return s;
}

START_TEST(test_sei_apache_cases)
{
    const struct sei_case *c = &sei_cases[_i];
    struct freq r;
    struct fenv env;
    memset(&r, 0, sizeof(r));
    /* what Apache's ap_expr variables give for this request */
    r.vars[FCGIC_EXPR_V_REQUEST_METHOD] = c->method;
    r.vars[FCGIC_EXPR_V_REQUEST_URI] = c->path; /* r->uri: path without query */
    r.vars[FCGIC_EXPR_V_QUERY_STRING] = c->query;
    r.vars[FCGIC_EXPR_V_THE_REQUEST] = c->the_request;
    r.vars[FCGIC_EXPR_V_HTTP_HOST] = "127.0.0.1:18080";
    r.vars[FCGIC_EXPR_V_REMOTE_ADDR] = "127.0.0.1";
    r.vars[FCGIC_EXPR_V_SERVER_PORT] = "18080";
    r.vars[FCGIC_EXPR_V_REQUEST_SCHEME] = "http";
    r.vars[FCGIC_EXPR_V_DOCUMENT_ROOT] = "@DOCROOT@";
    r.headers = c->headers;
    fenv_load(&env, c->init);
    struct fcgic_expr_vars vars = {.version = FCGIC_EXPR_VARS_VERSION, .ud = &r, .lookup = freq_lookup, .file_test = NULL};
    struct fcgic_expr_env ops = {.version = FCGIC_EXPR_ENV_VERSION, .ud = &env, .get = fenv_get, .set = fenv_set, .unset = fenv_unset};
    fcgic_expr_ctx_reset(C, &vars, &ops);
    struct fcgic_setenvif *srv = load_rules(c->server), *loc = load_rules(c->loc);
    const struct fcgic_setenvif *lists[2] = { srv, loc };
    ck_assert_msg(fcgic_setenvif_apply(lists, 2, C, NULL) == 0, "%s", c->name);
    fenv_expect(&env, c->expect);
    fenv_clear(&env);
    fcgic_setenvif_free(srv);
    fcgic_setenvif_free(loc);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Memory                                                                   */
/* ------------------------------------------------------------------------ */

static const char *const alloc_conds[] = {
    "reqenv('PATH_TRANSLATED') =~ m|(/.*prefix)(\\d+)(.*)|",
    "%{REQUEST_METHOD} == 'POST' && %{QUERY_STRING} =~ /a=1/ || !(-n %{HTTP:X} && 'a' in {'a','b',%{HTTP_HOST}.'x'})",
    "%{REMOTE_ADDR} -ipmatch '10.0.0.0/8' || 'a' -strmatch 'b' || tolower(md5('x')) == 'y'",
};

START_TEST(test_failalloc_compile)
{
    for (size_t k = 0; k < sizeof(alloc_conds) / sizeof(alloc_conds[0]); k++) {
        for (long n = 1;; n++) {
            struct failalloc fa;
            struct fcgic_expr *e = NULL;
            failalloc_init(&fa, n);
            int rc = fcgic_expr_new(&e, alloc_conds[k], strlen(alloc_conds[k]), 0, NULL, NULL,
                                    &fa.mem);
            if (rc == 0) { /* a failed JIT compile only costs speed */
                fcgic_expr_free(e);
                ck_assert_int_eq(fa.live, 0);
                break;
            }
            ck_assert_int_eq(rc, FCGIC_E_NOMEM);
            ck_assert_ptr_null(e);
            ck_assert_int_eq(fa.live, 0);
            ck_assert_int_lt(n, 1000);
        }
    }
}
END_TEST

START_TEST(test_failalloc_ctx_and_rules)
{
    for (long n = 1;; n++) {
        struct failalloc fa;
        struct fcgic_expr_ctx *ctx = NULL;
        failalloc_init(&fa, n);
        struct fcgic_expr_limits tl = base_limits();
        int rc = fcgic_expr_ctx_new(&ctx, &tl, &fa.mem);
        if (rc == 0) {
            fcgic_expr_ctx_free(ctx);
            ck_assert_int_eq(fa.live, 0);
            break;
        }
        ck_assert_int_eq(rc, FCGIC_E_NOMEM);
        ck_assert_int_eq(fa.live, 0);
    }
    for (long n = 1;; n++) {
        struct failalloc fa;
        struct fcgic_setenvif *s = NULL;
        failalloc_init(&fa, n);
        int rc = fcgic_setenvif_new(&s, NULL, &fa.mem);
        if (rc == 0) {
            const char *a1[3] = { alloc_conds[0], "PATH_TRANSLATED", "$1$3" };
            const char *a2[2] = { "true", "!X" };
            rc = fcgic_setenvif_add(s, 3, a1, "here", NULL);
            if (rc == 0)
                rc = fcgic_setenvif_add(s, 2, a2, NULL, NULL);
            if (rc == 0) {
                ck_assert_uint_eq(fcgic_setenvif_count(s), 2);
                fcgic_setenvif_free(s);
                ck_assert_int_eq(fa.live, 0);
                break;
            }
            ck_assert_uint_le(fcgic_setenvif_count(s), 1);
            fcgic_setenvif_free(s);
        }
        ck_assert_int_eq(rc, FCGIC_E_NOMEM);
        ck_assert_int_eq(fa.live, 0);
        ck_assert_int_lt(n, 1000);
    }
}
END_TEST

START_TEST(test_no_alloc_per_eval)
{
    struct failalloc fa;
    struct fcgic_expr_ctx *ctx;
    struct fcgic_setenvif *s;
    failalloc_init(&fa, 0);
    struct fcgic_expr_limits tl = base_limits();
    ck_assert_int_eq(fcgic_expr_ctx_new(&ctx, &tl, &fa.mem), 0);
    ck_assert_int_eq(fcgic_setenvif_new(&s, NULL, &fa.mem), 0);
    for (size_t k = 0; k < sizeof(alloc_conds) / sizeof(alloc_conds[0]); k++) {
        const char *argv[3] = { alloc_conds[k], "X_K", "$1$3|%{md5:%{HTTP_HOST}}|%{escape:a b}" };
        ck_assert_int_eq(fcgic_setenvif_add(s, 3, argv, NULL, NULL), 0);
    }
    struct fcgic_expr_vars vars = {.version = FCGIC_EXPR_VARS_VERSION, .ud = &R, .lookup = freq_lookup, .file_test = ftest};
    struct fcgic_expr_env env = {.version = FCGIC_EXPR_ENV_VERSION, .ud = &E, .get = fenv_get, .set = fenv_set, .unset = fenv_unset};
    const struct fcgic_setenvif *lists[1] = { s };
    /* a first pass may let PCRE2 size its match frames once */
    fcgic_expr_ctx_reset(ctx, &vars, &env);
    ck_assert_int_eq(fcgic_setenvif_apply(lists, 1, ctx, NULL), 0);
    long before = fa.count;
    for (int i = 0; i < 100; i++) {
        fcgic_expr_ctx_reset(ctx, &vars, &env);
        ck_assert_int_eq(fcgic_setenvif_apply(lists, 1, ctx, NULL), 0);
    }
    ck_assert_int_eq(fa.count, before);
    fcgic_setenvif_free(s);
    fcgic_expr_ctx_free(ctx);
    ck_assert_int_eq(fa.live, 0);
}
END_TEST

static Suite *expr_suite(void)
{
    Suite *s = suite_create("expr");
    TCase *tc;
#define TC(name, ...)                                                                          \
    do {                                                                                       \
        tc = tcase_create(name);                                                               \
        tcase_add_checked_fixture(tc, setup, teardown);                                        \
        __VA_ARGS__;                                                                           \
        suite_add_tcase(s, tc);                                                                \
    } while (0)
    TC("boolean", tcase_add_test(tc, test_bool_ops); tcase_add_test(tc, test_short_circuit));
    TC("compare", tcase_add_test(tc, test_string_compare); tcase_add_test(tc, test_int_compare));
    TC("regex", tcase_add_test(tc, test_regex); tcase_add_test(tc, test_captures);
       tcase_add_test(tc, test_capture_subject_survives_env_change));
    TC("operators", tcase_add_test(tc, test_unary); tcase_add_test(tc, test_file_tests);
       tcase_add_test(tc, test_file_tests_posix);
       tcase_add_test(tc, test_wildcards); tcase_add_test(tc, test_ipmatch);
       tcase_add_test(tc, test_in_list));
    TC("words", tcase_add_test(tc, test_words); tcase_add_test(tc, test_variables);
       tcase_add_test(tc, test_every_variable_name));
    TC("functions", tcase_add_test(tc, test_functions);
       tcase_add_test(tc, test_locale_independent));
    TC("errors", tcase_add_test(tc, test_compile_errors); tcase_add_test(tc, test_limits);
       tcase_add_test(tc, test_limits_version);
       tcase_add_test(tc, test_eval_limits); tcase_add_test(tc, test_reentrancy));
    TC("setenvif", tcase_add_test(tc, test_sei_directive_errors);
       tcase_add_test(tc, test_sei_seeds); tcase_add_test(tc, test_sei_semantics);
       tcase_add_test(tc, test_sei_errors_stop); tcase_add_test(tc, test_sei_match_limit));
    TC("apache_cases", tcase_add_loop_test(tc, test_sei_apache_cases, 0,
                                           (int)(sizeof(sei_cases) / sizeof(sei_cases[0]))));
    TC("memory", tcase_add_test(tc, test_failalloc_compile);
       tcase_add_test(tc, test_failalloc_ctx_and_rules); tcase_add_test(tc, test_no_alloc_per_eval));
#undef TC
    return s;
}

int main(void)
{
    return testutil_run(expr_suite());
}

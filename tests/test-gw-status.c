/* minimal_gateway's observability end to end: server-status (text, ?auto,
 * ?json) and metrics (Prometheus) through the running gateway in front of
 * app-echo and app-hostile; counters that move as requests are made, errors
 * classified (a killed backend, a timeout, an OVERLOADED answer, a broken
 * response, a client that leaves); the Prometheus text checked by a strict
 * parser and the JSON by a strict validator; the access log's %b/%B for
 * error pages; the STDERR rate limit; ErrorLog syslog. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gwtest.h"
#include "harness.h"
#include "testutil.h"

#define SHIM_ENV "GW_SHIM"

static struct harness_app *echo, *slow, *victim, *hostile;
static struct gwt_gateway gw;

/* ------------------------------------------------------------------------ */
/* The gateway                                                              */
/* ------------------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
    ck_assert_int_eq(gwt_write_file(path, text, strlen(text)), 0);
}

static void start_gateway(void)
{
    static const char *const echo_args[] = {"-t", "8", NULL};
    ck_assert_int_eq(harness_app_start(&echo, HARNESS_TCP, "app-echo", echo_args), 0);
    ck_assert_int_eq(harness_app_start(&slow, HARNESS_TCP, "app-echo", echo_args), 0);
    ck_assert_int_eq(harness_app_start(&victim, HARNESS_TCP, "app-echo", NULL), 0);
    ck_assert_int_eq(harness_app_start(&hostile, HARNESS_UNIX, "app-hostile", NULL), 0);
    char conf[4096];
    snprintf(conf, sizeof conf,
             "ServerName localhost\n"
             "Threads 2\n"
             "Timeout 20\n"
             "ErrorLog error.log\n"
             "LogLevel warn\n"
             "CustomLog access.log \"%%U %%>s %%b %%B\"\n"
             "ProxyPass \"/app/\" \"fcgi://127.0.0.1:%d/srv/app/\" enablereuse=on max=4\n"
             "ProxyPass \"/slow/\" \"fcgi://127.0.0.1:%d/srv/slow/\" timeout=1\n"
             "ProxyPass \"/victim/\" \"fcgi://127.0.0.1:%d/srv/victim/\"\n"
             "ProxyPass \"/h/\" \"unix:%s|fcgi://localhost/srv/h/\"\n"
             "<Proxy \"balancer://pair\">\n"
             "    BalancerMember \"fcgi://127.0.0.1:%d\"\n"
             "    BalancerMember \"unix:%s|fcgi://localhost\"\n"
             "</Proxy>\n"
             "ProxyPass \"/bal/\" \"balancer://pair/srv/bal/\"\n"
             "<Location \"/server-status\">\n"
             "    SetHandler server-status\n"
             "</Location>\n"
             "<Location \"/metrics\">\n"
             "    SetHandler metrics\n"
             "</Location>\n",
             echo->port, slow->port, victim->port, hostile->path, echo->port, hostile->path);
    int rc = gwt_gateway_start(&gw, conf);
    ck_assert_msg(rc == 0, "minimal_gateway did not start listening: %d", rc);
}

static void stop_gateway(void)
{
    int rc = gwt_gateway_stop(&gw);
    harness_app_stop(echo);
    harness_app_stop(slow);
    harness_app_stop(victim);
    harness_app_stop(hostile);
    echo = slow = victim = hostile = NULL;
    ck_assert_msg(rc == 0, "minimal_gateway exited with %d", rc);
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                     */
/* ------------------------------------------------------------------------ */

/* Send `req`, read until the server closes. */
static void exchange_port(int port, const char *req, struct gwt_resp *r)
{
    int rc = gwt_exchange(port, req, strlen(req), false, r);
    ck_assert_msg(rc == 0, "exchange failed (%d): \"%s\"", rc, r->body);
}

static int get_port(int port, const char *target, struct gwt_resp *r)
{
    int rc = gwt_get(port, target, "", false, r);
    ck_assert_msg(rc == 0, "GET %s failed (%d): \"%s\"", target, rc, r->body);
    return r->status;
}

static int get(const char *target, struct gwt_resp *r)
{
    return get_port(gw.port, target, r);
}

/* GET target, only its status. */
static int status_of(const char *target)
{
    struct gwt_resp r;
    int st = get(target, &r);
    free(r.body);
    return st;
}

/* A file of the gateway's dir, malloc'ed; "" when there is none. */
static char *slurp(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", gw.dir, name);
    char *text = gwt_slurp(path, NULL);
    return text ? text : strdup("");
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ------------------------------------------------------------------------ */
/* A strict parser of the Prometheus text format 0.0.4                      */
/* ------------------------------------------------------------------------ */

#define MAX_SERIES 4096

struct series {
    char name[128];
    char labels[512]; /* as written, escapes kept */
    double value;
};

struct prom {
    struct series *s;
    size_t n;
};

struct family {
    char name[128];
    char type[16];
    bool help, typed, sampled, closed;
};

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

/* A metric name at *p; advances. */
static void parse_name(const char **p, char *out, size_t size, int line)
{
    size_t n = 0;
    ck_assert_msg(name_char(**p, true), "line %d: bad metric name", line);
    while (name_char(**p, n == 0) && **p != ':') {
        ck_assert_msg(n + 1 < size, "line %d: name too long", line);
        out[n++] = *(*p)++;
    }
    out[n] = '\0';
}

/* {name="value",...}: label names, escapes (\\ \" \n only), no duplicates. */
static void parse_labels(const char **p, char *out, size_t size, int line, char *le, size_t lesize)
{
    const char *start = *p;
    char seen[16][64];
    int nseen = 0;
    le[0] = '\0';
    ck_assert(**p == '{');
    (*p)++;
    while (**p != '}') {
        char lname[64];
        size_t n = 0;
        ck_assert_msg((**p >= 'a' && **p <= 'z') || (**p >= 'A' && **p <= 'Z') || **p == '_', "line %d: label", line);
        while ((**p >= 'a' && **p <= 'z') || (**p >= 'A' && **p <= 'Z') || **p == '_' || (**p >= '0' && **p <= '9')) {
            ck_assert(n + 1 < sizeof lname);
            lname[n++] = *(*p)++;
        }
        lname[n] = '\0';
        for (int i = 0; i < nseen; i++)
            ck_assert_msg(strcmp(seen[i], lname) != 0, "line %d: label %s twice", line, lname);
        ck_assert(nseen < 16);
        strcpy(seen[nseen++], lname);
        ck_assert_msg(**p == '=' && (*p)[1] == '"', "line %d: label %s without =\"", line, lname);
        *p += 2;
        char val[512];
        size_t v = 0;
        while (**p != '"') {
            ck_assert_msg(**p != '\0' && **p != '\n', "line %d: unterminated label value", line);
            if (**p == '\\') {
                (*p)++;
                ck_assert_msg(**p == '\\' || **p == '"' || **p == 'n', "line %d: bad escape", line);
            }
            ck_assert(v + 1 < sizeof val);
            val[v++] = *(*p)++;
        }
        val[v] = '\0';
        (*p)++;
        if (strcmp(lname, "le") == 0) {
            ck_assert(v < lesize);
            memcpy(le, val, v + 1);
        }
        if (**p == ',')
            (*p)++;
        else
            ck_assert_msg(**p == '}', "line %d: expected , or }", line);
    }
    (*p)++;
    size_t len = (size_t)(*p - start);
    ck_assert(len < size);
    memcpy(out, start, len);
    out[len] = '\0';
}

static double parse_value(const char *s, int line)
{
    if (strcmp(s, "+Inf") == 0)
        return INFINITY;
    if (strcmp(s, "-Inf") == 0)
        return -INFINITY;
    if (strcmp(s, "NaN") == 0)
        return NAN;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    ck_assert_msg(end != s && *end == '\0' && errno == 0, "line %d: bad value \"%s\"", line, s);
    return d;
}

static struct family *family_of(struct family *f, size_t *nf, const char *name)
{
    for (size_t i = 0; i < *nf; i++)
        if (strcmp(f[i].name, name) == 0)
            return &f[i];
    ck_assert(*nf < 512);
    memset(&f[*nf], 0, sizeof f[*nf]);
    snprintf(f[*nf].name, sizeof f[*nf].name, "%s", name);
    return &f[(*nf)++];
}

/* The family a sample belongs to: its name, or for a histogram's
 * _bucket/_sum/_count the base name. */
static struct family *sample_family(struct family *f, size_t nf, const char *name)
{
    for (size_t i = 0; i < nf; i++) {
        size_t l = strlen(f[i].name);
        if (strcmp(f[i].name, name) == 0)
            return &f[i];
        if (strcmp(f[i].type, "histogram") == 0 && strncmp(name, f[i].name, l) == 0 &&
            (strcmp(name + l, "_bucket") == 0 || strcmp(name + l, "_sum") == 0 || strcmp(name + l, "_count") == 0))
            return &f[i];
    }
    return NULL;
}

static void comment_line(const char *p, struct family *fams, size_t *nf, struct family **cur, int line)
{
    bool help = strncmp(p, "# HELP ", 7) == 0, type = strncmp(p, "# TYPE ", 7) == 0;
    ck_assert_msg(help || type, "line %d: a comment that is neither HELP nor TYPE", line);
    p += 7;
    char name[128];
    parse_name(&p, name, sizeof name, line);
    ck_assert_msg(*p == ' ', "line %d: no text after the name", line);
    struct family *f = family_of(fams, nf, name);
    ck_assert_msg(!f->sampled, "line %d: %s after its samples", line, name);
    if (*cur && *cur != f)
        (*cur)->closed = (*cur)->sampled;
    *cur = f;
    if (help) {
        ck_assert_msg(!f->help, "line %d: second HELP for %s", line, name);
        f->help = true;
        return;
    }
    ck_assert_msg(!f->typed, "line %d: second TYPE for %s", line, name);
    p++;
    ck_assert_msg(strcmp(p, "counter") == 0 || strcmp(p, "gauge") == 0 || strcmp(p, "histogram") == 0 ||
                      strcmp(p, "summary") == 0 || strcmp(p, "untyped") == 0,
                  "line %d: type %s", line, p);
    snprintf(f->type, sizeof f->type, "%s", p);
    f->typed = true;
    if (strcmp(p, "counter") == 0)
        ck_assert_msg(strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0,
                      "line %d: counter %s does not end in _total", line, name);
}

static void sample_line(const char *p, struct prom *out, struct family *fams, size_t nf, struct family **cur, int line)
{
    struct series *s = &out->s[out->n];
    ck_assert(out->n < MAX_SERIES);
    parse_name(&p, s->name, sizeof s->name, line);
    char le[64] = "";
    s->labels[0] = '\0';
    if (*p == '{')
        parse_labels(&p, s->labels, sizeof s->labels, line, le, sizeof le);
    ck_assert_msg(*p == ' ', "line %d: no value", line);
    p++;
    ck_assert_msg(strchr(p, ' ') == NULL, "line %d: a timestamp or junk after the value", line);
    s->value = parse_value(p, line);
    struct family *f = sample_family(fams, nf, s->name);
    ck_assert_msg(f != NULL && f->typed, "line %d: %s has no TYPE before it", line, s->name);
    ck_assert_msg(!f->closed && (*cur == f), "line %d: samples of %s are not together", line, s->name);
    f->sampled = true;
    bool bucket = strlen(s->name) > 7 && strcmp(s->name + strlen(s->name) - 7, "_bucket") == 0;
    if (strcmp(f->type, "histogram") == 0 && bucket)
        ck_assert_msg(le[0] != '\0', "line %d: bucket without le", line);
    for (size_t i = 0; i < out->n; i++)
        ck_assert_msg(strcmp(out->s[i].name, s->name) != 0 || strcmp(out->s[i].labels, s->labels) != 0,
                      "line %d: %s%s twice", line, s->name, s->labels);
    out->n++;
}

static void prom_parse(const char *text, struct prom *out)
{
    static struct family fams[512];
    size_t nf = 0;
    struct family *cur = NULL;
    out->s = calloc(MAX_SERIES, sizeof *out->s);
    out->n = 0;
    ck_assert_msg(text[0] == '\0' || text[strlen(text) - 1] == '\n', "the text does not end with a newline");
    char *copy = strdup(text);
    int line = 0;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        if (l[0] == '#')
            comment_line(l, fams, &nf, &cur, line);
        else
            sample_line(l, out, fams, nf, &cur, line);
    }
    free(copy);
    ck_assert_uint_gt(out->n, 0);
}

/* The value of name{labels}, labels written as the gateway writes them;
 * -1 when absent. */
static double prom_get(const struct prom *p, const char *name, const char *labels)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->s[i].name, name) == 0 && strcmp(p->s[i].labels, labels ? labels : "") == 0)
            return p->s[i].value;
    return -1;
}

/* Every histogram: buckets in rising le order, cumulative, ending with
 * +Inf equal to _count. */
static void prom_check_histograms(const struct prom *p)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct series *s = &p->s[i];
        size_t l = strlen(s->name);
        if (l < 6 || strcmp(s->name + l - 6, "_count") != 0)
            continue;
        char base[128], prefix[600];
        snprintf(base, sizeof base, "%.*s_bucket", (int)(l - 6), s->name);
        size_t inner = s->labels[0] ? strlen(s->labels) - 2 : 0;
        snprintf(prefix, sizeof prefix, "{%.*s%sle=\"", (int)inner, s->labels + (inner ? 1 : 0), inner ? "," : "");
        double prev_le = -INFINITY, prev = 0;
        bool inf = false;
        for (size_t k = 0; k < p->n; k++) {
            const struct series *b = &p->s[k];
            if (strcmp(b->name, base) != 0 || strncmp(b->labels, prefix, strlen(prefix)) != 0)
                continue;
            const char *v = b->labels + strlen(prefix);
            char lev[32];
            snprintf(lev, sizeof lev, "%.*s", (int)(strchr(v, '"') - v), v);
            double le = parse_value(lev, 0);
            ck_assert_msg(le > prev_le, "%s%s: le not rising", base, b->labels);
            ck_assert_msg(b->value >= prev, "%s%s: not cumulative", base, b->labels);
            prev_le = le;
            prev = b->value;
            inf = isinf(le);
        }
        ck_assert_msg(inf, "%s%s: no +Inf bucket", base, s->labels);
        ck_assert_msg(prev == s->value, "%s: +Inf bucket %g, count %g", s->name, prev, s->value);
    }
}

static void metrics(struct prom *p)
{
    struct gwt_resp r;
    ck_assert_int_eq(get("/metrics", &r), 200);
    ck_assert_ptr_nonnull(strstr(r.head, "\r\nContent-Type: text/plain; version=0.0.4"));
    prom_parse(r.body, p);
    prom_check_histograms(p);
    free(r.body);
}

#define GWM "minimal_gateway_"

static double backend_outcome(const struct prom *p, const char *backend, const char *outcome)
{
    char l[256];
    snprintf(l, sizeof l, "{backend=\"%s\",outcome=\"%s\"}", backend, outcome);
    return prom_get(p, GWM "backend_requests_total", l);
}

/* ------------------------------------------------------------------------ */
/* A strict JSON validator (RFC 8259)                                        */
/* ------------------------------------------------------------------------ */

static void ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

static bool json_value(const char **p, int depth);

static bool json_string(const char **p)
{
    if (**p != '"')
        return false;
    for ((*p)++; **p != '"'; (*p)++) {
        unsigned char c = (unsigned char)**p;
        if (c < 0x20)
            return false;
        if (c != '\\')
            continue;
        (*p)++;
        if (**p == 'u') {
            for (int i = 1; i <= 4; i++) {
                char h = (*p)[i];
                if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
                    return false;
            }
            *p += 4;
        } else if (!strchr("\"\\/bfnrt", **p) || **p == '\0') {
            return false;
        }
    }
    (*p)++;
    return true;
}

static bool json_number(const char **p)
{
    const char *s = *p;
    if (**p == '-')
        (*p)++;
    if (**p == '0')
        (*p)++;
    else if (**p >= '1' && **p <= '9')
        while (**p >= '0' && **p <= '9')
            (*p)++;
    else
        return false;
    if (**p == '.') {
        (*p)++;
        if (!(**p >= '0' && **p <= '9'))
            return false;
        while (**p >= '0' && **p <= '9')
            (*p)++;
    }
    if (**p == 'e' || **p == 'E') {
        (*p)++;
        if (**p == '+' || **p == '-')
            (*p)++;
        if (!(**p >= '0' && **p <= '9'))
            return false;
        while (**p >= '0' && **p <= '9')
            (*p)++;
    }
    return *p > s;
}

static bool json_members(const char **p, int depth, char close, bool keyed)
{
    (*p)++;
    ws(p);
    if (**p == close) {
        (*p)++;
        return true;
    }
    for (;;) {
        ws(p);
        if (keyed) {
            if (!json_string(p))
                return false;
            ws(p);
            if (**p != ':')
                return false;
            (*p)++;
        }
        if (!json_value(p, depth + 1))
            return false;
        ws(p);
        if (**p == close) {
            (*p)++;
            return true;
        }
        if (**p != ',')
            return false;
        (*p)++;
    }
}

static bool json_value(const char **p, int depth)
{
    if (depth > 64)
        return false;
    ws(p);
    switch (**p) {
    case '{':
        return json_members(p, depth, '}', true);
    case '[':
        return json_members(p, depth, ']', false);
    case '"':
        return json_string(p);
    case 't':
        return strncmp(*p, "true", 4) == 0 ? (*p += 4, true) : false;
    case 'f':
        return strncmp(*p, "false", 5) == 0 ? (*p += 5, true) : false;
    case 'n':
        return strncmp(*p, "null", 4) == 0 ? (*p += 4, true) : false;
    default:
        return json_number(p);
    }
}

static bool json_valid(const char *text)
{
    const char *p = text;
    if (!json_value(&p, 0))
        return false;
    ws(&p);
    return *p == '\0';
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

START_TEST(test_parsers_refuse)
{
    /* the validators themselves: what they must refuse */
    ck_assert(json_valid("{\"a\":[1,2.5,-3e2,true,null,\"x\\n\"]}"));
    ck_assert(!json_valid("{\"a\":1,}"));
    ck_assert(!json_valid("{\"a\":01}"));
    ck_assert(!json_valid("[1 2]"));
    ck_assert(!json_valid("{\"a\":\"\x01\"}"));
    ck_assert(!json_valid("{} x"));
}
END_TEST

START_TEST(test_counters_move)
{
    struct prom a, b;
    metrics(&a);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(status_of("/app/a.php?size=100"), 200);
    ck_assert_int_eq(status_of("/nothing/here"), 404);
    metrics(&b);
    char app[64];
    snprintf(app, sizeof app, "fcgi://127.0.0.1:%d", echo->port);
    /* the three requests, and the first /metrics (counted once answered) */
    ck_assert_double_eq(prom_get(&b, GWM "requests_total", "{class=\"2xx\"}") -
                            prom_get(&a, GWM "requests_total", "{class=\"2xx\"}"),
                        4);
    ck_assert_double_eq(prom_get(&b, GWM "requests_total", "{class=\"4xx\"}") -
                            prom_get(&a, GWM "requests_total", "{class=\"4xx\"}"),
                        1);
    ck_assert_double_eq(
        prom_get(&b, GWM "connections_accepted_total", NULL) - prom_get(&a, GWM "connections_accepted_total", NULL), 5);
    ck_assert_double_eq(backend_outcome(&b, app, "ok") - backend_outcome(&a, app, "ok"), 3);
    char l[128];
    snprintf(l, sizeof l, "{backend=\"%s\"}", app);
    ck_assert_double_eq(prom_get(&b, GWM "backend_request_duration_seconds_count", l) -
                            prom_get(&a, GWM "backend_request_duration_seconds_count", l),
                        3);
    ck_assert_double_ge(
        prom_get(&b, GWM "backend_bytes_received_total", l) - prom_get(&a, GWM "backend_bytes_received_total", l), 300);
    /* 3 x 100 body bytes, the 404 page ("404 Not Found\n"), and the first /metrics body */
    ck_assert_double_ge(prom_get(&b, GWM "response_body_bytes_total", NULL) -
                            prom_get(&a, GWM "response_body_bytes_total", NULL),
                        300 + 14);
    ck_assert_double_eq(prom_get(&b, GWM "threads", NULL), 2);
    ck_assert_double_eq(prom_get(&b, GWM "status_threads_answered", NULL), 2);
    free(a.s);
    free(b.s);
}
END_TEST

/* Poll /metrics until backend's outcome count reaches want (ends may be
 * counted a little after the client saw its answer). */
static bool outcome_reaches(const char *backend, const char *outcome, double want)
{
    for (int i = 0; i < 100; i++) {
        struct prom p;
        metrics(&p);
        double v = backend_outcome(&p, backend, outcome);
        free(p.s);
        if (v >= want)
            return true;
        usleep(50000);
    }
    return false;
}

START_TEST(test_errors_classified)
{
    struct prom a;
    metrics(&a);
    char vic[64], slw[64], h[160];
    snprintf(vic, sizeof vic, "fcgi://127.0.0.1:%d", victim->port);
    snprintf(slw, sizeof slw, "fcgi://127.0.0.1:%d", slow->port);
    snprintf(h, sizeof h, "unix:%s|fcgi://localhost", hostile->path);
    /* a killed backend */
    ck_assert_int_eq(status_of("/victim/a.php"), 200);
    ck_assert_int_eq(harness_app_kill(victim), 0);
    /* refused from now on (right after the kill a connection may still be
     * reset instead: a protocol error, 502) */
    int st = 0;
    for (int i = 0; i < 40 && st != 503; i++) {
        st = status_of("/victim/a.php");
        if (st != 503)
            usleep(50000);
    }
    ck_assert_int_eq(st, 503);
    ck_assert(outcome_reaches(vic, "connect", backend_outcome(&a, vic, "connect") + 1));
    /* a timeout (timeout=1, the application sleeps 3 s) */
    ck_assert_int_eq(status_of("/slow/a.php?sleep_ms=3000"), 504);
    ck_assert(outcome_reaches(slw, "timeout", backend_outcome(&a, slw, "timeout") + 1));
    /* OVERLOADED, and a response cut short */
    ck_assert_int_eq(status_of("/h/a.php?do=end=0,2"), 503);
    ck_assert(outcome_reaches(h, "refused", backend_outcome(&a, h, "refused") + 1));
    ck_assert_int_eq(status_of("/h/a.php?do=out=Status:%20200\\r\\n\\r\\npartial;close"), 200);
    ck_assert(outcome_reaches(h, "protocol", backend_outcome(&a, h, "protocol") + 1));
    /* a client that leaves while the application works */
    int s = gwt_connect(gw.port, 20, 0);
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(gwt_sends(s, "GET /slow/a.php?sleep_ms=600 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    usleep(200000);
    close(s);
    ck_assert(outcome_reaches(slw, "cancel", backend_outcome(&a, slw, "cancel") + 1));
    struct prom b;
    metrics(&b);
    ck_assert_double_ge(prom_get(&b, GWM "requests_total", "{class=\"none\"}") -
                            prom_get(&a, GWM "requests_total", "{class=\"none\"}"),
                        1);
    ck_assert_double_eq(backend_outcome(&b, vic, "ok") - backend_outcome(&a, vic, "ok"), 1);
    free(a.s);
    free(b.s);
    ck_assert_int_eq(harness_app_restart(victim), 0);
}
END_TEST

START_TEST(test_balancer_failover)
{
    /* member 1 (app-echo) serves, member 2 (app-hostile) answers
     * OVERLOADED: with four requests over two threads, one thread at
     * least chooses member 2 once, which refuses, and the request moves */
    struct prom a, b;
    metrics(&a);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(status_of("/bal/a.php?do=end=0,2"), 200);
    metrics(&b);
    char m1[256], m2[256];
    snprintf(m1, sizeof m1, "{balancer=\"balancer://pair\",member=\"fcgi://127.0.0.1:%d\"}", echo->port);
    snprintf(m2, sizeof m2, "{balancer=\"balancer://pair\",member=\"unix:%s|fcgi://localhost\"}", hostile->path);
    ck_assert_double_eq(backend_outcome(&b, "balancer://pair", "ok") - backend_outcome(&a, "balancer://pair", "ok"), 4);
    double moved = prom_get(&b, GWM "balancer_failovers_total", "{backend=\"balancer://pair\"}") -
                   prom_get(&a, GWM "balancer_failovers_total", "{backend=\"balancer://pair\"}");
    ck_assert_double_ge(moved, 1);
    ck_assert_double_eq(prom_get(&b, GWM "member_failovers_total", m2) - prom_get(&a, GWM "member_failovers_total", m2),
                        moved);
    char refused[300];
    snprintf(refused, sizeof refused, "%.*s,outcome=\"refused\"}", (int)strlen(m2) - 1, m2);
    ck_assert_double_eq(
        prom_get(&b, GWM "member_requests_total", refused) - prom_get(&a, GWM "member_requests_total", refused), moved);
    ck_assert_double_eq(prom_get(&b, GWM "member_elected_total", m1) - prom_get(&a, GWM "member_elected_total", m1), 4);
    free(a.s);
    free(b.s);
}
END_TEST

START_TEST(test_status_formats)
{
    struct gwt_resp r;
    ck_assert_int_eq(get("/server-status?json", &r), 200);
    ck_assert_ptr_nonnull(strstr(r.head, "\r\nContent-Type: application/json"));
    ck_assert_msg(json_valid(r.body), "invalid JSON: %s", r.body);
    ck_assert_ptr_nonnull(strstr(r.body, "\"workers\":[{\"name\":\"fcgi://127.0.0.1:"));
    ck_assert_ptr_nonnull(strstr(r.body, "\"balancers\":[{\"name\":\"balancer://pair\""));
    ck_assert_ptr_nonnull(strstr(r.body, "\"threads\":2,"));
    free(r.body);
    /* ?auto: Apache's lines, "Key: value" after the server name */
    ck_assert_int_eq(get("/server-status?auto", &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\nTotal Accesses: "));
    ck_assert_ptr_nonnull(strstr(r.body, "\nServerUptimeSeconds: "));
    char *save = NULL;
    int lines = 0;
    for (char *l = strtok_r(r.body, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (lines++ > 0)
            ck_assert_msg(strstr(l, ": ") != NULL, "not Key: value: %s", l);
    free(r.body);
    ck_assert_int_eq(get("/server-status", &r), 200);
    ck_assert_ptr_nonnull(strstr(r.body, "minimal_gateway Status"));
    ck_assert_ptr_nonnull(strstr(r.body, "\nServer uptime: "));
    ck_assert_ptr_nonnull(strstr(r.body, "\nBalancer balancer://pair: "));
    free(r.body);
    /* HEAD: the head only */
    exchange_port(gw.port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body_len, 0);
    free(r.body);
}
END_TEST

START_TEST(test_error_page_bytes)
{
    /* %b and %B count the gateway's own error pages ("404 Not Found\n") */
    ck_assert_int_eq(status_of("/nothing/logged"), 404);
    struct gwt_resp r;
    exchange_port(gw.port, "HEAD /nothing/head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    free(r.body);
    ck_assert_int_eq(status_of("/h/a.php?do=end=0,2"), 503);
    usleep(100000);
    char *acc = slurp("access.log");
    ck_assert_msg(strstr(acc, "/nothing/logged 404 14 14\n") != NULL, "%s", acc);
    ck_assert_msg(strstr(acc, "/nothing/head 404 - 0\n") != NULL, "%s", acc);
    ck_assert_msg(strstr(acc, "/h/a.php 503 24 24\n") != NULL, "%s", acc); /* "503 Service Unavailable\n" */
    free(acc);
}
END_TEST

START_TEST(test_stderr_rate_limit)
{
    /* 250 STDERR lines in one response: at most 100 a second per thread
     * are logged (so at least 50 are not, over two seconds at worst), each
     * with the request and the backend; the rest are counted in one line
     * once their second is over, even though no line follows. */
    char target[2048];
    int n = snprintf(target, sizeof target, "/h/a.php?do=out=Status:%%20200\\r\\n\\r\\nok;err=");
    for (int i = 0; i < 250; i++)
        n += snprintf(target + n, sizeof target - (size_t)n, "zq\\n");
    snprintf(target + n, sizeof target - (size_t)n, ";outeof;erreof;end");
    ck_assert_int_eq(status_of(target), 200);
    char *log = NULL;
    for (int i = 0; i < 60; i++) {
        free(log);
        log = slurp("error.log");
        if (strstr(log, "lines of application STDERR not logged"))
            break;
        usleep(50000);
    }
    const char *m = strstr(log, "lines of application STDERR not logged");
    ck_assert_msg(m != NULL, "%s", log);
    size_t logged = count_of(log, ": zq\n");
    const char *num = m - 2;
    while (num > log && num[-1] >= '0' && num[-1] <= '9')
        num--;
    size_t dropped = strtoul(num, NULL, 10);
    ck_assert_uint_ge(dropped, 50);
    ck_assert_uint_le(logged, 200);
    ck_assert_uint_eq(logged + dropped, 250);
    ck_assert_ptr_nonnull(strstr(log, "(backend unix:"));
    ck_assert_ptr_nonnull(strstr(log, "] GET /h/a.php?do=out="));
    free(log);
}
END_TEST

START_TEST(test_syslog)
{
    /* -t: the facility is checked */
    char path[sizeof gw.conf_path], shimfile[256], errfile[256], *cmd_out;
    snprintf(path, sizeof path, "%s/syslog.conf", gw.dir);
    write_file(path, "Listen 127.0.0.1:1\nErrorLog syslog:nosuch\n");
    const char *args[] = {"-t", "-f", path, NULL};
    ck_assert_int_eq(gwt_gateway_cmd(args, &cmd_out), 1);
    free(cmd_out);
    const char *shim = getenv(SHIM_ENV);
    ck_assert_msg(shim != NULL, SHIM_ENV " is not set (run the test with meson)");
    /* a gateway whose ErrorLog is syslog:local3, syslog(3) caught by a shim */
    int port = gwt_free_port(), dead = gwt_free_port();
    ck_assert(port > 0 && dead > 0);
    char conf[512];
    snprintf(conf, sizeof conf,
             "Listen 127.0.0.1:%d\nThreads 1\nErrorLog syslog:local3\nLogLevel warn\n"
             "ProxyPass \"/down/\" \"fcgi://127.0.0.1:%d/srv/down/\"\n",
             port, dead);
    write_file(path, conf);
    ck_assert_int_eq(gwt_gateway_cmd(args, &cmd_out), 0);
    free(cmd_out);
    snprintf(shimfile, sizeof shimfile, "%s/syslog.out", gw.dir);
    snprintf(errfile, sizeof errfile, "%s/syslog.err", gw.dir);
    setenv("GW_SYSLOG_SHIM_FILE", shimfile, 1);
    /* in the first gateway's dir, which it leaves alone */
    struct gwt_gateway sg = {.pid = -1, .port = port, .stderr_path = errfile, .preload = shim};
    snprintf(sg.conf_path, sizeof sg.conf_path, "%s", path);
    int rc = gwt_gateway_run(&sg);
    ck_assert_msg(rc == 0, "minimal_gateway did not start listening: %d", rc);
    struct gwt_resp r;
    ck_assert_int_eq(get_port(port, "/down/a.php", &r), 503);
    free(r.body);
    usleep(100000);
    rc = gwt_gateway_stop(&sg);
    ck_assert_msg(rc == 0, "minimal_gateway exited with %d", rc);
    char *out = slurp("syslog.out"), *err = slurp("syslog.err");
    ck_assert_msg(strstr(out, "openlog minimal_gateway 152\n") != NULL, "%s", out); /* LOG_LOCAL3 */
    /* LOG_LOCAL3 | LOG_ERR, without the time and pid that syslogd adds */
    ck_assert_msg(strstr(out, "syslog 155 [proxy_fcgi:error] [client 127.0.0.1:") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "GET /down/a.php (backend fcgi://127.0.0.1:") != NULL, "%s", out);
    ck_assert_msg(strstr(err, "[proxy_fcgi:") == NULL, "went to stderr: %s", err);
    free(out);
    free(err);
}
END_TEST

int main(void)
{
    if (!gwt_have_gateway())
        return EXIT_FAILURE;
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("gw-status");
    TCase *tc = tcase_create("parsers");
    tcase_add_test(tc, test_parsers_refuse);
    suite_add_tcase(s, tc);
    tc = tcase_create("end-to-end");
    tcase_set_timeout(tc, 240);
    tcase_add_unchecked_fixture(tc, start_gateway, stop_gateway);
    tcase_add_test(tc, test_counters_move);
    tcase_add_test(tc, test_errors_classified);
    tcase_add_test(tc, test_balancer_failover);
    tcase_add_test(tc, test_status_formats);
    tcase_add_test(tc, test_error_page_bytes);
    tcase_add_test(tc, test_stderr_rate_limit);
    tcase_add_test(tc, test_syslog);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

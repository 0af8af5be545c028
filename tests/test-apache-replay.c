/* Every recorded Apache 2.4 mod_proxy_fcgi case (tests/apache-cases/NAME.case,
 * converted by tests/tools/apache-cases-convert.py, whose header documents
 * the format) replayed against minimal_gateway.
 *
 * One TCase per case group (the cases of a group share one configuration):
 * its fixture builds a document root like the recording's, starts app-replay
 * (a recording, scriptable FastCGI application) for each backend the group
 * names, writes the gateway configuration (a Listen on a free port, the base
 * Apache had, the group's snippet with its placeholders resolved) and starts
 * minimal_gateway. Each case is one test: for each exchange it writes the
 * backend's script, sends the recorded raw request on a new connection and
 * compares what the application received (records, params in order, STDIN)
 * and what the client got (status line, headers, body, whether the
 * connection stays open) with what Apache did, except for the fields a
 * `diff` line of the vector replaces with the gateway's intended value (or
 * a `bug` line with its value today, printed as a known gateway bug).
 *
 * Not compared: Date and Server; the order of response headers (Apache
 * writes Content-Type last); the error log; the values of the params the
 * case calls volatile (their presence and position are compared).
 *
 * Config-error cases run `minimal_gateway -t`: it must exit non-zero and name
 * the file, the line and Apache's reason. A group whose configuration the
 * gateway refuses because a directive is not supported yet is reported as
 * skipped, with the directive's name, and passes; it runs once the directive
 * lands.
 *
 * The gateway always runs natively, also under `meson test --setup
 * valgrind` (only this program runs under valgrind there). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gwtest.h"
#include "harness.h"
#include "replay-vec.h"
#include "testutil.h"

#define MAX_BACKENDS 2

/* Check's asserts work inside tests only; the vectors are loaded before, so
 * the helpers that run then stop the program instead. */
#define need(cond, ...)                                                                                                \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "test-apache-replay: " __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                                       \
            exit(EXIT_FAILURE);                                                                                        \
        }                                                                                                              \
    } while (0)

/* ---- vectors ---- */

/* One line of a vector: its key and up to two decoded arguments (the last
 * one the rest of the line). */
struct item {
    char key[24];
    struct rv_buf a, b;
};

struct exchange {
    struct item *items; /* from `request` up to the next `exchange` */
    size_t n;
};

struct vcase {
    char *name, *group, *file;
    struct item *items; /* the case-level lines */
    size_t n;
    struct exchange *ex;
    size_t nex;
};

static struct vcase *cases;
static size_t ncases;

/* Keys whose lines hold NAME VALUE (the others hold one value). */
static int two_args(const char *key)
{
    if (strncmp(key, "bug ", 4) == 0)
        key += 4;
    else if (strncmp(key, "diff ", 5) == 0)
        key += 5;
    return strcmp(key, "param") == 0 || strcmp(key, "header") == 0 || strcmp(key, "param-insert") == 0;
}

static void item_parse(struct item *it, const char *line, size_t len)
{
    memset(it, 0, sizeof *it);
    const char *sp = memchr(line, ' ', len);
    size_t kl = sp ? (size_t)(sp - line) : len;
    need(kl < sizeof it->key, "key too long in \"%.*s\"", (int)len, line);
    memcpy(it->key, line, kl);
    const char *rest = sp ? sp + 1 : line + len;
    size_t rl = (size_t)(line + len - rest);
    if (strcmp(it->key, "diff") == 0 || strcmp(it->key, "bug") == 0) { /* diff KIND [NAME] [VALUE] */
        const char *s2 = memchr(rest, ' ', rl);
        size_t l1 = s2 ? (size_t)(s2 - rest) : rl;
        need(kl + 1 + l1 < sizeof it->key, "difference kind too long");
        it->key[kl] = ' ';
        memcpy(it->key + kl + 1, rest, l1);
        it->key[kl + 1 + l1] = '\0';
        rest = s2 ? s2 + 1 : rest + rl;
        rl = (size_t)(line + len - rest);
    }
    const char *val = rest;
    size_t vl = rl;
    if (two_args(it->key)) {
        const char *s2 = memchr(rest, ' ', rl);
        size_t nl = s2 ? (size_t)(s2 - rest) : rl;
        need(rv_unescape(rest, nl, &it->a) == 0, "rv_unescape failed");
        val = s2 ? s2 + 1 : rest + rl;
        vl = (size_t)(line + len - val);
        need(rv_unescape(val, vl, &it->b) == 0, "rv_unescape failed");
        return;
    }
    need(rv_unescape(val, vl, &it->a) == 0, "bad escape in \"%.*s\"", (int)len, line);
}

static void push_item(struct item **v, size_t *n, const struct item *it)
{
    struct item *p = realloc(*v, (*n + 1) * sizeof **v);
    need(p != NULL, "out of memory");
    p[(*n)++] = *it;
    *v = p;
}

static void case_load(struct vcase *c, const char *dir, const char *file)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    need(f != NULL, "%s: %s", path, strerror(errno));
    memset(c, 0, sizeof *c);
    c->file = strdup(file);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        struct item it;
        item_parse(&it, line, (size_t)len);
        if (strcmp(it.key, "exchange") == 0) {
            struct exchange *p = realloc(c->ex, (c->nex + 1) * sizeof *p);
            need(p != NULL, "out of memory");
            c->ex = p;
            memset(&c->ex[c->nex++], 0, sizeof *c->ex);
            rv_free(&it.a);
            continue;
        }
        if (strcmp(it.key, "case") == 0)
            c->name = strdup(it.a.p);
        if (strcmp(it.key, "group") == 0)
            c->group = strdup(it.a.p);
        if (c->nex)
            push_item(&c->ex[c->nex - 1].items, &c->ex[c->nex - 1].n, &it);
        else
            push_item(&c->items, &c->n, &it);
    }
    free(line);
    fclose(f);
    need(c->name && c->group, "%s: no case or group line", path);
}

static void items_free(struct item *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rv_free(&v[i].a);
        rv_free(&v[i].b);
    }
    free(v);
}

static void cases_free(void)
{
    for (size_t i = 0; i < ncases; i++) {
        for (size_t e = 0; e < cases[i].nex; e++)
            items_free(cases[i].ex[e].items, cases[i].ex[e].n);
        free(cases[i].ex);
        items_free(cases[i].items, cases[i].n);
        free(cases[i].name);
        free(cases[i].group);
        free(cases[i].file);
    }
    free(cases);
}

static int by_file(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void cases_load(void)
{
    const char *tests = getenv("FCGIC_TESTS_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/apache-cases", tests ? tests : ".");
    DIR *d = opendir(dir);
    need(d != NULL, "%s: %s", dir, strerror(errno));
    char **files = NULL;
    size_t nfiles = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".case") == 0) {
            files = realloc(files, (nfiles + 1) * sizeof *files);
            files[nfiles++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(files, nfiles, sizeof *files, by_file);
    cases = calloc(nfiles ? nfiles : 1, sizeof *cases);
    for (size_t i = 0; i < nfiles; i++) {
        case_load(&cases[ncases++], dir, files[i]);
        free(files[i]);
    }
    free(files);
}

static const struct item *find_item(const struct item *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0)
            return &v[i];
    return NULL;
}

/* ---- a running group: document root, applications, gateway ---- */

struct group {
    const char *name;
    size_t first, count; /* its cases: cases[first .. first + count) */
    char skip[256];      /* the reason it does not run, or "" */
};

static struct group *groups;
static size_t ngroups, group_cursor;

static struct {
    const struct group *g;
    char dir[64]; /* /tmp/apache-replay-XXXXXX */
    char docroot[128];
    char script[160];
    char log[MAX_BACKENDS][160];
    char be_name[MAX_BACKENDS][8];
    struct harness_app *apps[MAX_BACKENDS];
    size_t napps;
    int down_port;
    struct gwt_gateway gw; /* port, conf_path (dir/gw.conf); in dir, which it leaves alone */
    char gw_stderr[192];
    struct {
        char ph[16], value[160];
    } subst[8];
    size_t nsubst;
} run;

static void write_file(const char *path, const char *text, size_t len)
{
    int rc = gwt_write_file(path, text, len);
    need(rc == 0, "%s: %s", path, strerror(-rc));
}

/* The recording's document root: files the cases refer to. */
static void make_docroot(void)
{
    static const char *const dirs[] = {"x", "local", "myapp", "myapp/dir", "myapp/noext", "prefix42"};
    static const char *const files[] = {"index.html",      "index.php",     "static.txt",     "x/index.php",
                                        "x/other.php",     "local/path",    "myapp/a.php",    "myapp/a.b.php",
                                        "myapp/dir/a.php", "myapp/a b.php", "myapp/index.php"};
    char p[512];
    ck_assert_int_eq(mkdir(run.docroot, 0755), 0);
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", run.docroot, dirs[i]);
        ck_assert_int_eq(mkdir(p, 0755), 0);
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", run.docroot, files[i]);
        write_file(p, "file\n", 5);
    }
}

/* Placeholder substitutions of the running group. */
static void subst_add(const char *ph, const char *value)
{
    need(run.nsubst < sizeof run.subst / sizeof run.subst[0], "too many placeholders");
    snprintf(run.subst[run.nsubst].ph, sizeof run.subst[0].ph, "%s", ph);
    snprintf(run.subst[run.nsubst++].value, sizeof run.subst[0].value, "%s", value);
}

/* @B1@ / @S1@ for backend k (b1, b2, ...) listening on port or path. */
static void subst_backend(size_t k, int port, const char *path)
{
    char ph[16], v[128];
    if (path) {
        snprintf(ph, sizeof ph, "@S%zu@", k + 1);
        snprintf(v, sizeof v, "%s", path);
    } else {
        snprintf(ph, sizeof ph, "@B%zu@", k + 1);
        snprintf(v, sizeof v, "%d", port);
    }
    subst_add(ph, v);
}

/* Replace the placeholders of text (backend ports, socket path, docroot). */
static void resolve(struct rv_buf *out, const char *text, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t k = 0, pl = 0;
        if (text[i] == '@')
            for (; k < run.nsubst; k++) {
                pl = strlen(run.subst[k].ph);
                if (len - i >= pl && memcmp(text + i, run.subst[k].ph, pl) == 0)
                    break;
            }
        if (text[i] == '@' && k < run.nsubst) {
            rv_adds(out, run.subst[k].value);
            i += pl;
        } else {
            rv_add(out, text + i, 1);
            i++;
        }
    }
}

/* Lines before the snippet in the configuration file. */
#define CONF_HEAD_LINES 10

static void write_conf(const struct vcase *c)
{
    struct rv_buf conf = {0};
    char head[1024];
    snprintf(head, sizeof head,
             "# written by test-apache-replay for the case group %s\n"
             "Listen 127.0.0.1:%d\n"
             "ServerName 127.0.0.1\n"
             "ServerAdmin webmaster@oracle.test\n"
             "DocumentRoot \"%s\"\n"
             "Timeout 15\n"
             "KeepAlive On\n"
             "Threads 1\n"
             "ErrorLog \"%s/error.log\"\n"
             "LogLevel warn\n",
             c->group, run.gw.port, run.docroot, run.dir);
    rv_adds(&conf, head);
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].key, "config") == 0) {
            resolve(&conf, c->items[i].a.p, c->items[i].a.len);
            rv_adds(&conf, "\n");
        }
    write_file(run.gw.conf_path, conf.p, conf.len);
    rv_free(&conf);
}

static void start_apps(const struct vcase *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->items[i].key, "backend") != 0)
            continue;
        ck_assert_uint_lt(run.napps, MAX_BACKENDS);
        size_t k = run.napps;
        char *sp = strchr(c->items[i].a.p, ' ');
        ck_assert_ptr_nonnull(sp);
        snprintf(run.be_name[k], sizeof run.be_name[k], "%.*s", (int)(sp - c->items[i].a.p), c->items[i].a.p);
        snprintf(run.log[k], sizeof run.log[k], "%s/b%zu.log", run.dir, k + 1);
        const char *args[] = {"--script", run.script, "--log", run.log[k], NULL};
        enum harness_transport tr = strcmp(sp + 1, "unix") == 0 ? HARNESS_UNIX : HARNESS_TCP;
        ck_assert_int_eq(harness_app_start(&run.apps[k], tr, "app-replay", args), 0);
        subst_backend(k, run.apps[k]->port, tr == HARNESS_UNIX ? run.apps[k]->path : NULL);
        run.napps++;
    }
}

/* The directive a refused configuration names, from the -t output. */
static int unsupported_directive(const char *out, char *name, size_t size)
{
    const char *p = strstr(out, " is not supported: ");
    const char *q = strstr(out, "Invalid command '");
    if (p) {
        const char *s = p;
        while (s > out && s[-1] != ' ')
            s--;
        snprintf(name, size, "%.*s", (int)(p - s), s);
        return 1;
    }
    if (q) {
        q += strlen("Invalid command '");
        snprintf(name, size, "%.*s", (int)strcspn(q, "'"), q);
        return 1;
    }
    return 0;
}

/* Start minimal_gateway on the group's configuration. Returns 0 once it
 * listens, or -1 when it refused the configuration for a directive it
 * does not support yet (g->skip says which). */
static int start_gateway(struct group *g)
{
    snprintf(run.gw_stderr, sizeof run.gw_stderr, "%s/gw.stderr", run.dir);
    run.gw.native = true;
    if (!getenv("GW_TEST_VERBOSE"))
        run.gw.stderr_path = run.gw_stderr;
    int rc = gwt_gateway_run(&run.gw);
    if (rc == 0)
        return 0;
    ck_assert_msg(rc == -ECHILD, "minimal_gateway did not start listening: %d", rc);
    char out[2048] = "", name[64];
    FILE *f = fopen(run.gw_stderr, "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
    ck_assert_msg(unsupported_directive(out, name, sizeof name), "minimal_gateway did not start: %s", out);
    if (strncmp(name, "Rewrite", 7) == 0) {
        /* out of scope by design: refused, pointing to ProxyPassMatch */
        ck_assert_msg(strstr(out, "ProxyPassMatch") != NULL, "the %s refusal names no ProxyPassMatch: %s", name, out);
        snprintf(g->skip, sizeof g->skip, "%s is refused by design (the message points to ProxyPassMatch)", name);
        return -1;
    }
    snprintf(g->skip, sizeof g->skip, "the gateway does not support %s yet", name);
    return -1;
}

/* Would Check run this TCase (CK_RUN_CASE, CK_EXCLUDE_CASE)? The fixture
 * of a TCase that does not run is not called either. */
static int tcase_selected(const char *name)
{
    const char *only = getenv("CK_RUN_CASE"), *ex = getenv("CK_EXCLUDE_CASE");
    if (only && *only && strcmp(only, name) != 0)
        return 0;
    for (const char *p = ex; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == strlen(name) && strncmp(p, name, n) == 0)
            return 0;
        p += n + (p[n] == ',');
    }
    return 1;
}

static void group_setup(void)
{
    while (group_cursor < ngroups && !tcase_selected(groups[group_cursor].name))
        group_cursor++;
    ck_assert_uint_lt(group_cursor, ngroups);
    struct group *g = &groups[group_cursor++];
    memset(&run, 0, sizeof run);
    run.g = g;
    run.gw.pid = -1;
    const struct vcase *c = &cases[g->first];
    snprintf(run.dir, sizeof run.dir, "/tmp/apache-replay-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(run.dir));
    snprintf(run.docroot, sizeof run.docroot, "%s/htdocs", run.dir);
    snprintf(run.gw.conf_path, sizeof run.gw.conf_path, "%s/gw.conf", run.dir);
    snprintf(run.script, sizeof run.script, "%s/script", run.dir);
    make_docroot();
    run.gw.port = gwt_free_port();
    run.down_port = gwt_free_port();
    ck_assert(run.gw.port > 0 && run.down_port > 0);
    char v[16];
    snprintf(v, sizeof v, "%d", run.down_port);
    subst_add("@DOWN_PORT@", v);
    subst_add("@DOCROOT@", run.docroot);
    if (find_item(c->items, c->n, "config-test"))
        subst_backend(0, 9, NULL); /* no application: the configuration must not load */
    if (find_item(c->items, c->n, "config-test"))
        return;
    start_apps(c);
    write_conf(c);
    start_gateway(g);
}

static void group_teardown(void)
{
    int rc = gwt_gateway_stop(&run.gw);
    ck_assert_msg(rc == 0, "minimal_gateway exited with %d", rc);
    for (size_t k = 0; k < run.napps; k++)
        harness_app_stop(run.apps[k]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", run.dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- the client side ---- */

struct header {
    struct rv_buf name, value;
};

struct response {
    int interim[4];
    size_t ninterim;
    struct rv_buf status_line;
    struct header h[128];
    size_t nh;
    struct rv_buf body;
    int closed; /* the server closed the connection after it */
};

struct reader {
    int fd;
    char buf[65536];
    size_t off, len;
    int eof;
};

static int fill(struct reader *r)
{
    if (r->off == r->len)
        r->off = r->len = 0;
    if (r->eof || r->len == sizeof r->buf)
        return r->eof ? -1 : 0;
    ssize_t k = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
    if (k <= 0) {
        r->eof = 1;
        return -1;
    }
    r->len += (size_t)k;
    return 0;
}

/* One line without its CRLF (or LF) into out; -1 at EOF. */
static int read_line(struct reader *r, struct rv_buf *out)
{
    out->len = 0;
    rv_add(out, "", 0);
    for (;;) {
        char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
        if (nl) {
            size_t n = (size_t)(nl - (r->buf + r->off));
            rv_add(out, r->buf + r->off, n);
            r->off += n + 1;
            if (out->len && out->p[out->len - 1] == '\r')
                out->p[--out->len] = '\0';
            return 0;
        }
        rv_add(out, r->buf + r->off, r->len - r->off);
        r->off = r->len;
        if (fill(r) != 0)
            return -1;
    }
}

static void read_bytes(struct reader *r, size_t n, struct rv_buf *out)
{
    while (n) {
        if (r->off == r->len)
            ck_assert_msg(fill(r) == 0, "the response ends %zu bytes early", n);
        size_t k = r->len - r->off < n ? r->len - r->off : n;
        rv_add(out, r->buf + r->off, k);
        r->off += k;
        n -= k;
    }
}

static const struct header *resp_header(const struct response *rs, const char *name)
{
    for (size_t i = 0; i < rs->nh; i++)
        if (strcasecmp(rs->h[i].name.p, name) == 0)
            return &rs->h[i];
    return NULL;
}

static void read_head(struct reader *r, struct response *rs)
{
    struct rv_buf line = {0};
    for (;;) {
        ck_assert_msg(read_line(r, &rs->status_line) == 0, "no response");
        int status = atoi(rs->status_line.p + 9);
        for (;;) {
            ck_assert_msg(read_line(r, &line) == 0, "the response head ends early");
            if (line.len == 0)
                break;
            char *colon = strchr(line.p, ':');
            ck_assert_msg(colon != NULL, "bad header line \"%s\"", line.p);
            ck_assert_uint_lt(rs->nh, sizeof rs->h / sizeof rs->h[0]);
            struct header *h = &rs->h[rs->nh++];
            memset(h, 0, sizeof *h);
            rv_add(&h->name, line.p, (size_t)(colon - line.p));
            const char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            rv_adds(&h->value, v);
        }
        if (status >= 200 || rs->ninterim == 4)
            break;
        rs->interim[rs->ninterim++] = status;
        for (size_t i = 0; i < rs->nh; i++) {
            rv_free(&rs->h[i].name);
            rv_free(&rs->h[i].value);
        }
        rs->nh = 0;
    }
    rv_free(&line);
}

static void read_chunked(struct reader *r, struct rv_buf *body)
{
    struct rv_buf line = {0};
    for (;;) {
        ck_assert_msg(read_line(r, &line) == 0, "the chunked body ends early");
        size_t n = strtoul(line.p, NULL, 16);
        if (n == 0)
            break;
        read_bytes(r, n, body);
        ck_assert_int_eq(read_line(r, &line), 0);
        ck_assert_uint_eq(line.len, 0);
    }
    do /* trailers */
        ck_assert_msg(read_line(r, &line) == 0, "the chunked body has no end");
    while (line.len != 0);
    rv_free(&line);
}

/* Did the server close the connection (EOF within wait_ms)? */
static int server_closed(struct reader *r, int wait_ms)
{
    if (r->eof)
        return 1;
    if (r->off < r->len)
        return 0; /* bytes after the response */
    struct pollfd p = {r->fd, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0)
        return 0;
    char c;
    return read(r->fd, &c, 1) <= 0;
}

/* expect_close: how long to wait for the end of the connection (the
 * expected outcome waits long, the other only briefly). */
static void exchange_http(const struct rv_buf *req, int expect_close, struct response *rs)
{
    memset(rs, 0, sizeof *rs);
    int fd = gwt_connect(run.gw.port, 20, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert(write(fd, req->p, req->len) == (ssize_t)req->len);
    struct reader *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    r->fd = fd;
    read_head(r, rs);
    int status = atoi(rs->status_line.p + 9);
    const struct header *te = resp_header(rs, "Transfer-Encoding");
    const struct header *cl = resp_header(rs, "Content-Length");
    rv_add(&rs->body, "", 0);
    if (strncmp(req->p, "HEAD ", 5) == 0 || status == 204 || status == 304)
        ;
    else if (te && strcasecmp(te->value.p, "chunked") == 0)
        read_chunked(r, &rs->body);
    else if (cl)
        read_bytes(r, strtoul(cl->value.p, NULL, 10), &rs->body);
    else
        while (fill(r) == 0 || r->off < r->len) {
            rv_add(&rs->body, r->buf + r->off, r->len - r->off);
            r->off = r->len;
        }
    rs->closed = server_closed(r, expect_close ? 2000 : 50);
    close(fd);
    free(r);
}

static void response_free(struct response *rs)
{
    rv_free(&rs->status_line);
    rv_free(&rs->body);
    for (size_t i = 0; i < rs->nh; i++) {
        rv_free(&rs->h[i].name);
        rv_free(&rs->h[i].value);
    }
}

/* ---- what the application received (app-replay's log) ---- */

struct fcgi_req {
    char backend[8];
    int conn, index, flags, id, role;
    struct item *items; /* rec, param, params-*, stdin, incomplete */
    size_t n;
};

static void read_backend_logs(struct fcgi_req **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    for (size_t k = 0; k < run.napps; k++) {
        FILE *f = fopen(run.log[k], "r");
        if (f == NULL)
            continue;
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        struct fcgi_req *cur = NULL;
        while ((len = getline(&line, &cap, f)) > 0) {
            if (line[len - 1] == '\n')
                line[--len] = '\0';
            if (strncmp(line, "fcgi ", 5) == 0) {
                *out = realloc(*out, (*nout + 1) * sizeof **out);
                cur = &(*out)[(*nout)++];
                memset(cur, 0, sizeof *cur);
                snprintf(cur->backend, sizeof cur->backend, "%s", run.be_name[k]);
                ck_assert_int_eq(
                    sscanf(line + 5, "%d %d %d %d %d", &cur->conn, &cur->index, &cur->flags, &cur->id, &cur->role), 5);
                continue;
            }
            ck_assert_msg(cur != NULL, "%s: \"%s\" before a request", run.log[k], line);
            if (strcmp(line, "end") == 0) {
                cur = NULL;
                continue;
            }
            struct item it;
            item_parse(&it, line, (size_t)len);
            push_item(&cur->items, &cur->n, &it);
        }
        free(line);
        fclose(f);
        int fd = open(run.log[k], O_WRONLY | O_TRUNC);
        ck_assert_int_ge(fd, 0);
        close(fd);
    }
}

static void fcgi_reqs_free(struct fcgi_req *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        items_free(v[i].items, v[i].n);
    free(v);
}

/* ---- expectations: Apache's values with the case's differences applied ---- */

struct expect_param {
    struct rv_buf name, value;
    int volatile_value;
};

struct expect_fcgi {
    char backend[8];
    int conn, index, flags, id;
    struct expect_param p[256];
    size_t np;
    size_t stdin_len;
    char stdin_fnv[17], stdin_recs[4096];
};

struct expect {
    struct expect_fcgi f[12];
    size_t nf, nf_filled; /* expected requests; entries holding buffers */
    struct rv_buf status_line, body;
    struct header h[128];
    size_t nh;
    int body_any, client_close, interim[4];
    size_t ninterim;
};

static int is_volatile(const struct vcase *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].key, "volatile") == 0 && strcmp(c->items[i].a.p, name) == 0)
            return 1;
    return 0;
}

static void expect_param_set(struct expect_fcgi *f, const struct rv_buf *name, const struct rv_buf *value)
{
    for (size_t i = 0; i < f->np; i++)
        if (strcmp(f->p[i].name.p, name->p) == 0) {
            f->p[i].value.len = 0;
            rv_add(&f->p[i].value, value->p, value->len);
            f->p[i].volatile_value = 0;
            return;
        }
    ck_assert_uint_lt(f->np, sizeof f->p / sizeof f->p[0]);
    struct expect_param *p = &f->p[f->np++];
    memset(p, 0, sizeof *p);
    rv_add(&p->name, name->p, name->len);
    rv_add(&p->value, value->p, value->len);
}

/* where: "NEXT:NAME"; NAME=value goes before the param NEXT. */
static void expect_param_insert(struct expect_fcgi *f, const char *where, const struct rv_buf *value)
{
    const char *colon = strchr(where, ':');
    ck_assert_ptr_nonnull(colon);
    size_t at = 0;
    while (at < f->np && (strlen(f->p[at].name.p) != (size_t)(colon - where) ||
                          strncmp(f->p[at].name.p, where, (size_t)(colon - where)) != 0))
        at++;
    ck_assert_msg(at < f->np, "diff param-insert: no param %s", where);
    ck_assert_uint_lt(f->np, sizeof f->p / sizeof f->p[0]);
    memmove(&f->p[at + 1], &f->p[at], (f->np - at) * sizeof f->p[0]);
    f->np++;
    memset(&f->p[at], 0, sizeof f->p[at]);
    rv_adds(&f->p[at].name, colon + 1);
    rv_add(&f->p[at].value, value->p, value->len);
}

static void expect_param_del(struct expect_fcgi *f, const char *name)
{
    for (size_t i = 0; i < f->np; i++)
        if (strcmp(f->p[i].name.p, name) == 0) {
            rv_free(&f->p[i].name);
            rv_free(&f->p[i].value);
            memmove(&f->p[i], &f->p[i + 1], (f->np - i - 1) * sizeof f->p[0]);
            f->np--;
            return;
        }
}

static void expect_header_set(struct expect *e, const struct rv_buf *name, const struct rv_buf *value)
{
    for (size_t i = 0; i < e->nh; i++)
        if (strcasecmp(e->h[i].name.p, name->p) == 0) {
            e->h[i].value.len = 0;
            rv_add(&e->h[i].value, value->p, value->len);
            return;
        }
    ck_assert_uint_lt(e->nh, sizeof e->h / sizeof e->h[0]);
    struct header *h = &e->h[e->nh++];
    memset(h, 0, sizeof *h);
    rv_add(&h->name, name->p, name->len);
    rv_add(&h->value, value->p, value->len);
}

static void expect_header_del(struct expect *e, const char *name)
{
    for (size_t i = 0; i < e->nh; i++)
        if (strcasecmp(e->h[i].name.p, name) == 0) {
            rv_free(&e->h[i].name);
            rv_free(&e->h[i].value);
            memmove(&e->h[i], &e->h[i + 1], (e->nh - i - 1) * sizeof e->h[0]);
            e->nh--;
            return;
        }
}

static void expect_free(struct expect *e)
{
    for (size_t i = 0; i < e->nf_filled; i++)
        for (size_t k = 0; k < e->f[i].np; k++) {
            rv_free(&e->f[i].p[k].name);
            rv_free(&e->f[i].p[k].value);
        }
    for (size_t i = 0; i < e->nh; i++) {
        rv_free(&e->h[i].name);
        rv_free(&e->h[i].value);
    }
    rv_free(&e->status_line);
    rv_free(&e->body);
}

/* Apache's values, from the exchange's lines. */
static void expect_recorded(const struct vcase *c, const struct exchange *x, struct expect *e)
{
    struct expect_fcgi *f = NULL;
    for (size_t i = 0; i < x->n; i++) {
        const struct item *it = &x->items[i];
        if (strcmp(it->key, "fcgi") == 0) {
            ck_assert_uint_lt(e->nf, sizeof e->f / sizeof e->f[0]);
            f = &e->f[e->nf++];
            e->nf_filled = e->nf;
            ck_assert_int_eq(sscanf(it->a.p, "%7s %d %d %d %d", f->backend, &f->conn, &f->index, &f->flags, &f->id), 5);
        } else if (strcmp(it->key, "param") == 0) {
            struct rv_buf v = {0};
            resolve(&v, it->b.p ? it->b.p : "", it->b.len);
            expect_param_set(f, &it->a, &v);
            f->p[f->np - 1].volatile_value = is_volatile(c, it->a.p);
            rv_free(&v);
        } else if (strcmp(it->key, "stdin") == 0) {
            ck_assert_int_eq(sscanf(it->a.p, "%zu %16s %4095s", &f->stdin_len, f->stdin_fnv, f->stdin_recs), 3);
        } else if (strcmp(it->key, "status-line") == 0) {
            rv_add(&e->status_line, it->a.p, it->a.len);
        } else if (strcmp(it->key, "header") == 0) {
            ck_assert_uint_lt(e->nh, sizeof e->h / sizeof e->h[0]);
            struct header *h = &e->h[e->nh++];
            memset(h, 0, sizeof *h);
            rv_add(&h->name, it->a.p, it->a.len);
            rv_add(&h->value, it->b.p ? it->b.p : "", it->b.len);
        } else if (strcmp(it->key, "body") == 0) {
            rv_add(&e->body, it->a.p ? it->a.p : "", it->a.len);
        } else if (strcmp(it->key, "client-close") == 0) {
            e->client_close = atoi(it->a.p);
        } else if (strcmp(it->key, "interim") == 0 && e->ninterim < 4) {
            e->interim[e->ninterim++] = atoi(it->a.p);
        }
    }
    rv_add(&e->body, "", 0);
    expect_header_del(e, "Date");
    expect_header_del(e, "Server");
}

/* A difference in what the client gets. Returns 0 when kind is not one. */
static int diff_response(const char *kind, const struct item *it, struct expect *e)
{
    if (strcmp(kind, "status-line") == 0) {
        e->status_line.len = 0;
        rv_add(&e->status_line, it->a.p, it->a.len);
    } else if (strcmp(kind, "header") == 0) {
        expect_header_set(e, &it->a, &it->b);
    } else if (strcmp(kind, "no-header") == 0) {
        expect_header_del(e, it->a.p);
    } else if (strcmp(kind, "body") == 0) {
        e->body.len = 0;
        rv_add(&e->body, it->a.p ? it->a.p : "", it->a.len);
    } else if (strcmp(kind, "body-any") == 0) {
        e->body_any = 1;
    } else if (strcmp(kind, "client-close") == 0) {
        e->client_close = atoi(it->a.p);
    } else if (strcmp(kind, "interim") == 0 && e->ninterim < 4) {
        e->interim[e->ninterim++] = atoi(it->a.p);
    } else if (strcmp(kind, "no-interim") == 0) {
        e->ninterim = 0;
    } else {
        return 0;
    }
    return 1;
}

static void rename_param(struct expect_fcgi *f, const char *old, const char *new)
{
    for (size_t n = 0; n < f->np; n++)
        if (strcmp(f->p[n].name.p, old) == 0) {
            f->p[n].name.len = 0;
            rv_adds(&f->p[n].name, new);
        }
}

/* A difference in what the application gets, applied to each of the
 * exchange's FastCGI requests. Returns 0 when kind is not one. */
static int diff_fcgi(const char *kind, const struct item *it, struct expect *e)
{
    static const char *const kinds[] = {"no-fcgi",       "param",   "no-param",     "param-insert",
                                        "param-renamed", "fcgi-id", "stdin-records"};
    size_t known = 0;
    while (known < sizeof kinds / sizeof kinds[0] && strcmp(kind, kinds[known]) != 0)
        known++;
    if (known == sizeof kinds / sizeof kinds[0])
        return 0;
    struct rv_buf v = {0};
    char old[128] = "", new[128] = "";
    resolve(&v, it->b.p ? it->b.p : "", it->b.len);
    int renamed = strcmp(kind, "param-renamed") == 0;
    ck_assert(!renamed || sscanf(it->a.p, "%127s %127s", old, new) == 2);
    if (strcmp(kind, "no-fcgi") == 0)
        e->nf = 0; /* their buffers are freed by expect_free (nf_filled) */
    for (size_t f = 0; f < e->nf; f++) {
        if (strcmp(kind, "param") == 0)
            expect_param_set(&e->f[f], &it->a, &v);
        else if (strcmp(kind, "no-param") == 0)
            expect_param_del(&e->f[f], it->a.p);
        else if (strcmp(kind, "param-insert") == 0)
            expect_param_insert(&e->f[f], it->a.p, &v);
        else if (renamed)
            rename_param(&e->f[f], old, new);
        else if (strcmp(kind, "fcgi-id") == 0) /* -1: the request's ordinal on its connection */
            e->f[f].id = strcmp(it->a.p, "rotate") == 0 ? -1 : atoi(it->a.p);
        else /* stdin-records */
            snprintf(e->f[f].stdin_recs, sizeof e->f[f].stdin_recs, "%s", it->a.p);
    }
    rv_free(&v);
    return 1;
}

/* The gateway's intended values where it differs on purpose (diff), and
 * its values where a known bug makes it differ (bug, reported). */
static void expect_diffs(const struct vcase *c, const struct exchange *x, struct expect *e)
{
    for (size_t i = 0; i < x->n; i++) {
        const struct item *it = &x->items[i];
        const char *k = it->key;
        if (strncmp(k, "bug ", 4) == 0) {
            const struct item *why = i + 1 < x->n && strcmp(x->items[i + 1].key, "why") == 0 ? &x->items[i + 1] : NULL;
            fprintf(stderr, "apache-replay: %s: known gateway bug: %s\n", c->name, why ? why->a.p : k + 4);
            k += 4;
        } else if (strncmp(k, "diff ", 5) == 0) {
            k += 5;
        } else {
            continue;
        }
        ck_assert_msg(diff_response(k, it, e) || diff_fcgi(k, it, e), "%s: unknown difference \"%s\"", c->name,
                      it->key);
    }
}

/* ---- comparing ---- */

struct conn_map {
    char backend[8];
    int apache, ours, offset; /* offset: Apache's index on the connection minus ours */
};

/* Apache's connections and ours must match one to one, and so must the
 * requests on each: a request Apache sent on a new connection goes on a new
 * one here too. A connection Apache opened before the case (its first
 * request in the case is not its first) is matched to whatever connection
 * the gateway uses, from there on. */
static void check_conn(struct conn_map *m, size_t *nm, const char *backend, const struct expect_fcgi *w, int ours,
                       int index, const char *where)
{
    for (size_t i = 0; i < *nm; i++) {
        int same_b = strcmp(m[i].backend, backend) == 0;
        if (same_b && m[i].apache == w->conn) {
            ck_assert_msg(m[i].ours == ours, "%s: Apache reused its connection %d, the gateway did not", where,
                          w->conn);
            ck_assert_msg(w->index - index == m[i].offset, "%s: request %d on its connection, Apache's %d", where,
                          index, w->index);
            return;
        }
        ck_assert_msg(!(same_b && m[i].ours == ours), "%s: the gateway reused a connection, Apache opened a new one",
                      where);
    }
    ck_assert_msg(w->index > 1 || index == 1,
                  "%s: the gateway reused a connection (request %d on it), Apache "
                  "opened a new one",
                  where, index);
    ck_assert_uint_lt(*nm, 32);
    snprintf(m[*nm].backend, sizeof m[*nm].backend, "%s", backend);
    m[*nm].apache = w->conn;
    m[*nm].ours = ours;
    m[(*nm)++].offset = w->index - index;
}

static void check_records(const struct fcgi_req *got, const struct expect_fcgi *want, const char *where)
{
    /* BEGIN_REQUEST, PARAMS..., empty PARAMS, STDIN..., empty STDIN; no padding */
    size_t i = 0, nparams = 0;
    char recs[4096] = "";
    int phase = 0;
    for (size_t k = 0; k < got->n; k++) {
        const struct item *it = &got->items[k];
        if (strcmp(it->key, "incomplete") == 0)
            ck_abort_msg("%s: the request ended before its empty STDIN record", where);
        if (strcmp(it->key, "rec") != 0)
            continue;
        char type[32];
        unsigned id;
        size_t clen, pad;
        ck_assert_int_eq(sscanf(it->a.p, "%31s %u %zu %zu", type, &id, &clen, &pad), 4);
        ck_assert_msg(pad == 0, "%s: record %zu (%s) has %zu bytes of padding, Apache none", where, i, type, pad);
        ck_assert_msg((int)id == got->id, "%s: record %zu has id %u", where, i, id);
        const char *want_type = phase == 0 ? "BEGIN_REQUEST" : phase == 1 ? "PARAMS" : "STDIN";
        ck_assert_msg(strcmp(type, want_type) == 0, "%s: record %zu is %s, expected %s", where, i, type, want_type);
        if (phase == 0)
            phase = 1;
        else if (phase == 1 && clen == 0)
            phase = 2;
        else if (phase == 1)
            nparams++;
        else if (clen)
            snprintf(recs + strlen(recs), sizeof recs - strlen(recs), "%s%zu", recs[0] ? "," : "", clen);
        i++;
    }
    ck_assert_msg(nparams > 0, "%s: no PARAMS record with content", where);
    /* "any": the sizes follow the gateway's reads (each record fits 65535 by construction) */
    ck_assert_msg(strcmp(want->stdin_recs, "any") == 0 || strcmp(recs[0] ? recs : "-", want->stdin_recs) == 0,
                  "%s: STDIN records %s, Apache's %s", where, recs[0] ? recs : "-", want->stdin_recs);
}

static const char *item_value(const struct fcgi_req *got, const char *key)
{
    const struct item *it = find_item(got->items, got->n, key);
    return it ? it->a.p : "";
}

static void check_params(const struct fcgi_req *got, const struct expect_fcgi *want, const char *where)
{
    size_t n = 0;
    for (size_t k = 0; k < got->n; k++) {
        const struct item *it = &got->items[k];
        if (strcmp(it->key, "param") != 0)
            continue;
        const char *v = it->b.p ? it->b.p : "";
        ck_assert_msg(n < want->np, "%s: extra param %s=%.200s after %s", where, it->a.p, v,
                      n ? want->p[n - 1].name.p : "the start");
        const struct expect_param *p = &want->p[n];
        ck_assert_msg(strcmp(it->a.p, p->name.p) == 0, "%s: param %zu is %s=%.200s, Apache sent %s=%.200s", where, n,
                      it->a.p, v, p->name.p, p->value.p);
        ck_assert_msg(p->volatile_value || (it->b.len == p->value.len && memcmp(v, p->value.p, p->value.len) == 0),
                      "%s: %s=%.200s, Apache sent %.200s", where, it->a.p, v, p->value.p);
        n++;
    }
    ck_assert_msg(n == want->np, "%s: param %s=%.200s missing", where, n < want->np ? want->p[n].name.p : "",
                  n < want->np ? want->p[n].value.p : "");
    ck_assert_msg(strcmp(item_value(got, "params-straddling"), "0") == 0, "%s: %s params straddle records", where,
                  item_value(got, "params-straddling"));
    ck_assert_msg(strcmp(item_value(got, "params-nonminimal"), "0") == 0, "%s: %s params use long lengths", where,
                  item_value(got, "params-nonminimal"));
}

static void check_fcgi(const struct fcgi_req *got, size_t ngot, const struct expect *e, struct conn_map *m, size_t *nm,
                       const char *where)
{
    ck_assert_msg(ngot == e->nf, "%s: the backends got %zu requests, Apache sent %zu", where, ngot, e->nf);
    for (size_t i = 0; i < ngot; i++) {
        const struct fcgi_req *g = &got[i];
        const struct expect_fcgi *w = &e->f[i];
        char at[256];
        snprintf(at, sizeof at, "%s, FastCGI request %zu", where, i + 1);
        ck_assert_msg(strcmp(g->backend, w->backend) == 0, "%s: went to %s, Apache's to %s", at, g->backend,
                      w->backend);
        check_conn(m, nm, g->backend, w, g->conn, g->index, at);
        ck_assert_msg(g->flags == w->flags, "%s: BEGIN_REQUEST flags %d, Apache's %d", at, g->flags, w->flags);
        ck_assert_msg(g->id == (w->id == -1 ? g->index : w->id), "%s: request id %d, expected %d", at, g->id,
                      w->id == -1 ? g->index : w->id);
        ck_assert_msg(g->role == 1, "%s: role %d", at, g->role);
        check_records(g, w, at);
        check_params(g, w, at);
        char line[128];
        snprintf(line, sizeof line, "%zu %s", w->stdin_len, w->stdin_fnv);
        ck_assert_msg(strncmp(item_value(g, "stdin"), line, strlen(line)) == 0, "%s: STDIN \"%s\", Apache's \"%s\"", at,
                      item_value(g, "stdin"), line);
    }
}

static void check_response(const struct response *rs, const struct expect *e, const char *where)
{
    if (getenv("REPLAY_DEBUG")) { /* what the gateway answered, for writing a vector's differences */
        fprintf(stderr, "%s: %s\n", where, rs->status_line.p);
        for (size_t i = 0; i < rs->nh; i++)
            fprintf(stderr, "    %s: %s\n", rs->h[i].name.p, rs->h[i].value.p);
        fprintf(stderr, "    (%zu body bytes, connection %s)\n", rs->body.len, rs->closed ? "closed" : "kept");
    }
    ck_assert_msg(rs->ninterim == e->ninterim, "%s: %zu interim responses, expected %zu", where, rs->ninterim,
                  e->ninterim);
    for (size_t i = 0; i < rs->ninterim; i++)
        ck_assert_msg(rs->interim[i] == e->interim[i], "%s: interim %d, expected %d", where, rs->interim[i],
                      e->interim[i]);
    ck_assert_msg(strcmp(rs->status_line.p, e->status_line.p) == 0, "%s: \"%s\", expected \"%s\"", where,
                  rs->status_line.p, e->status_line.p);
    int used[128] = {0};
    for (size_t i = 0; i < e->nh; i++) {
        size_t k = 0;
        while (k < rs->nh && (used[k] || strcasecmp(rs->h[k].name.p, e->h[i].name.p) != 0))
            k++;
        ck_assert_msg(k < rs->nh, "%s: no %s header (expected \"%s\")", where, e->h[i].name.p, e->h[i].value.p);
        ck_assert_msg(strcmp(rs->h[k].value.p, e->h[i].value.p) == 0, "%s: %s: \"%s\", expected \"%s\"", where,
                      e->h[i].name.p, rs->h[k].value.p, e->h[i].value.p);
        used[k] = 1;
    }
    for (size_t k = 0; k < rs->nh; k++)
        ck_assert_msg(used[k] || strcasecmp(rs->h[k].name.p, "Date") == 0 || strcasecmp(rs->h[k].name.p, "Server") == 0,
                      "%s: extra header %s: %s", where, rs->h[k].name.p, rs->h[k].value.p);
    if (!e->body_any)
        ck_assert_msg(rs->body.len == e->body.len && memcmp(rs->body.p, e->body.p, e->body.len) == 0,
                      "%s: body of %zu bytes \"%.200s\", expected %zu bytes \"%.200s\"", where, rs->body.len,
                      rs->body.p, e->body.len, e->body.p);
    ck_assert_msg(rs->closed == e->client_close, "%s: the gateway %s the client connection, expected the opposite",
                  where, rs->closed ? "closed" : "kept");
}

static void write_script(const struct exchange *x)
{
    struct rv_buf s = {0};
    for (size_t i = 0; i < x->n; i++)
        if (strncmp(x->items[i].key, "script-", 7) == 0) {
            rv_adds(&s, x->items[i].key);
            if (x->items[i].a.len) { /* written escaped again: app-replay unescapes */
                rv_adds(&s, " ");
                rv_escape(&s, x->items[i].a.p, x->items[i].a.len, 1);
            }
            rv_adds(&s, "\n");
        }
    write_file(run.script, s.p ? s.p : "", s.len);
    rv_free(&s);
}

static void run_exchange(const struct vcase *c, size_t idx, struct conn_map *m, size_t *nm)
{
    const struct exchange *x = &c->ex[idx];
    char where[160];
    snprintf(where, sizeof where, "%s, exchange %zu", c->name, idx + 1);
    struct expect *e = calloc(1, sizeof *e);
    ck_assert_ptr_nonnull(e);
    expect_recorded(c, x, e);
    expect_diffs(c, x, e);
    write_script(x);
    const struct item *req = find_item(x->items, x->n, "request");
    ck_assert_ptr_nonnull(req);
    struct response rs;
    exchange_http(&req->a, e->client_close, &rs);
    struct fcgi_req *got;
    size_t ngot;
    read_backend_logs(&got, &ngot);
    check_response(&rs, e, where);
    check_fcgi(got, ngot, e, m, nm, where);
    fcgi_reqs_free(got, ngot);
    response_free(&rs);
    expect_free(e);
    free(e);
}

static void run_config_test(const struct vcase *c, const struct item *ct)
{
    int want_exit, line;
    int off = 0;
    ck_assert_int_eq(sscanf(ct->a.p, "%d %d %n", &want_exit, &line, &off), 2);
    write_conf(c);
    char *out;
    const char *args[] = {"-t", "-f", run.gw.conf_path, NULL};
    int rc = gwt_gateway_cmd(args, &out);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(rc != 0, "%s: minimal_gateway -t accepted the configuration: %s", c->name, out);
    char at[256];
    snprintf(at, sizeof at, "%s:%d: ", run.gw.conf_path, CONF_HEAD_LINES + line);
    const char *p = strstr(out, at);
    ck_assert_msg(p != NULL, "%s: \"%s\" does not name %s", c->name, out, at);
    const char *reason = ct->a.p + off;
    ck_assert_msg(strstr(p, reason) != NULL, "%s: \"%s\" does not give Apache's reason \"%s\"", c->name, out, reason);
    free(out);
}

START_TEST(test_case)
{
    const struct vcase *c = &cases[run.g->first + (size_t)_i];
    if (run.g->skip[0]) {
        fprintf(stderr, "apache-replay: %s skipped: %s\n", c->name, run.g->skip);
        return;
    }
    const struct item *ct = find_item(c->items, c->n, "config-test");
    if (ct) {
        run_config_test(c, ct);
        return;
    }
    struct conn_map m[32];
    size_t nm = 0;
    for (size_t i = 0; i < c->nex; i++)
        run_exchange(c, i, m, &nm);
}
END_TEST

/* ---- the groups, and which of them the gateway cannot run yet ---- */

static void groups_build(void)
{
    groups = calloc(ncases ? ncases : 1, sizeof *groups);
    for (size_t i = 0; i < ncases; i++) {
        size_t g = 0;
        while (g < ngroups && strcmp(groups[g].name, cases[i].group) != 0)
            g++;
        if (g == ngroups) {
            groups[ngroups].name = cases[i].group;
            groups[ngroups++].first = i;
        }
        /* the cases of a group must be contiguous: sort them by group */
        need(groups[g].first + groups[g].count == i, "%s: cases of group %s are not contiguous", cases[i].name,
             cases[i].group);
        groups[g].count++;
    }
}

static int by_group(const void *a, const void *b)
{
    const struct vcase *x = a, *y = b;
    int r = strcmp(x->group, y->group);
    return r ? r : strcmp(x->name, y->name);
}

int main(void)
{
    if (!gwt_have_gateway())
        return EXIT_FAILURE;
    signal(SIGPIPE, SIG_IGN);
    cases_load();
    qsort(cases, ncases, sizeof *cases, by_group);
    groups_build();
    Suite *s = suite_create("apache-replay");
    for (size_t g = 0; g < ngroups; g++) {
        TCase *tc = tcase_create(groups[g].name);
        tcase_set_timeout(tc, 120);
        tcase_add_unchecked_fixture(tc, group_setup, group_teardown);
        tcase_add_loop_test(tc, test_case, 0, (int)groups[g].count);
        suite_add_tcase(s, tc);
    }
    int rc = testutil_run(s);
    /* The fixtures ran in this process: the groups know why they skipped. */
    size_t skipped = 0;
    for (size_t g = 0; g < ngroups; g++)
        if (groups[g].skip[0]) {
            for (size_t i = 0; i < groups[g].count; i++)
                fprintf(stderr, "apache-replay: skipped %s (group %s): %s\n", cases[groups[g].first + i].name,
                        groups[g].name, groups[g].skip);
            skipped += groups[g].count;
        }
    fprintf(stderr, "apache-replay: %zu cases in %zu groups, %zu skipped\n", ncases, ngroups, skipped);
    free(groups);
    cases_free();
    return rc;
}

/* Tests of the POSIX transport (posix.h): address parsing, connect failures
 * and timeouts against raw sockets made here, and requests against app-echo
 * (tests/apps, started through tests/harness.c) with the blocking call, the
 * event-loop form driven by a small poll loop of the test's own (socket and
 * timer callbacks), the built-in loop, and the struct fcgic_transport
 * operations used the way a pool uses them. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app-common.h"
#include "failalloc.h"
#include "fcgiclient/balancer.h"
#include "fcgiclient/error.h"
#include "fcgiclient/pool.h"
#include "fcgiclient/posix.h"
#include "harness.h"
#include "testutil.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* ---- small helpers ---------------------------------------------------- */

struct tbuf {
    char *p;
    size_t len, cap;
};

static void tb_add(struct tbuf *b, const void *p, size_t n)
{
    if (b->cap < b->len + n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        ck_assert_ptr_nonnull(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void tb_free(struct tbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static struct harness_app *start_echo(enum harness_transport t, const char *const *args)
{
    struct harness_app *app = NULL;
    int rc = harness_app_start(&app, t, "app-echo", args);
    ck_assert_msg(rc == 0, "harness_app_start: %d", rc);
    return app;
}

/* Per-request record of what the callbacks saw. */
struct resp {
    int status;
    struct tbuf req_on_conn; /* X-Req-On-Conn header value */
    struct tbuf body;
    struct tbuf err;
    int ended;
    struct fcgic_result res;
    int pause_body; /* on_body returns FCGIC_PAUSE every time */
    unsigned pauses;
    /* streamed POST body */
    size_t body_total, body_sent;
    struct fcgic_posix *kick_p; /* body_read kicks the connection through it */
    unsigned kicks;
    char chunk[65536];
};

static void resp_free(struct resp *r)
{
    tb_free(&r->req_on_conn);
    tb_free(&r->body);
    tb_free(&r->err);
}

static int r_head(struct fcgic_conn *c, void *ud, const struct fcgic_response_head *h)
{
    struct resp *r = ud;
    r->status = h->status;
    for (size_t i = 0; i < h->nheaders; i++)
        if (h->headers[i].name_len == 13 && memcmp(h->headers[i].name, "X-Req-On-Conn", 13) == 0)
            tb_add(&r->req_on_conn, h->headers[i].value, h->headers[i].value_len);
    return 0;
}

static int r_body(struct fcgic_conn *c, void *ud, const char *data, size_t len)
{
    struct resp *r = ud;
    tb_add(&r->body, data, len);
    if (r->pause_body) {
        r->pauses++;
        return FCGIC_PAUSE;
    }
    return 0;
}

static int r_stderr(struct fcgic_conn *c, void *ud, const char *line, size_t len)
{
    struct resp *r = ud;
    tb_add(&r->err, line, len);
    tb_add(&r->err, "\n", 1);
    return 0;
}

static void r_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *res)
{
    struct resp *r = ud;
    r->ended++;
    r->res = *res;
}

/* Streams body_total pattern bytes in pieces of at most 64 KiB. */
static int r_body_read(struct fcgic_conn *c, void *ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    struct resp *r = ud;
    if (r->kick_p) {
        /* inside the engine's own callback: nothing may be written now */
        fcgic_posix_kick(r->kick_p, c, fcgic_posix_now());
        r->kicks++;
    }
    if (r->body_sent >= r->body_total)
        return FCGIC_BODY_EOF;
    size_t n = r->body_total - r->body_sent;
    if (n > sizeof(r->chunk))
        n = sizeof(r->chunk);
    for (size_t i = 0; i < n; i++)
        r->chunk[i] = (char)app_pattern_byte(r->body_sent + i);
    r->body_sent += n;
    chunk->ptr = r->chunk;
    chunk->len = n;
    return FCGIC_BODY_CHUNK;
}

static struct fcgic_conn_callbacks resp_callbacks(void)
{
    struct fcgic_conn_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_head = r_head;
    cb.on_body = r_body;
    cb.on_stderr = r_stderr;
    cb.on_end = r_end;
    cb.body_read = r_body_read;
    return cb;
}

/* A request with REQUEST_METHOD, QUERY_STRING (and CONTENT_LENGTH). */
struct req3 {
    struct fcgic_param params[3];
    char cl[32];
    struct fcgic_request req;
};

static void req_init(struct req3 *q, const char *method, const char *query, size_t content_length)
{
    memset(q, 0, sizeof(*q));
    q->params[0] = (struct fcgic_param){"REQUEST_METHOD", 14, method, strlen(method)};
    q->params[1] = (struct fcgic_param){"QUERY_STRING", 12, query, strlen(query)};
    q->req.params = q->params;
    q->req.nparams = 2;
    if (content_length) {
        snprintf(q->cl, sizeof(q->cl), "%zu", content_length);
        q->params[2] = (struct fcgic_param){"CONTENT_LENGTH", 14, q->cl, strlen(q->cl)};
        q->req.nparams = 3;
    }
}

static int free_tcp_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/* ---- addresses -------------------------------------------------------- */

struct addr_case {
    const char *in;
    enum fcgic_posix_addr_kind kind;
    const char *host;
    unsigned port;
    const char *path;
    const char *socket_path;
    int ipv6;
};

static const struct addr_case good[] = {
    {"fcgi://127.0.0.1:9000", FCGIC_POSIX_ADDR_TCP, "127.0.0.1", 9000, "", "", 0},
    {"fcgi://127.0.0.1:9000/", FCGIC_POSIX_ADDR_TCP, "127.0.0.1", 9000, "/", "", 0},
    {"fcgi://127.0.0.1:18101/some/prefix/", FCGIC_POSIX_ADDR_TCP, "127.0.0.1", 18101, "/some/prefix/", "", 0},
    {"fcgi://[::1]:9000/", FCGIC_POSIX_ADDR_TCP, "::1", 9000, "/", "", 1},
    {"fcgi://[2001:db8::a:1]:65535/x", FCGIC_POSIX_ADDR_TCP, "2001:db8::a:1", 65535, "/x", "", 1},
    {"FCGI://Backend-1.example_net:1", FCGIC_POSIX_ADDR_TCP, "Backend-1.example_net", 1, "", "", 0},
    {"fcgi://localhost:08080/a.php", FCGIC_POSIX_ADDR_TCP, "localhost", 8080, "/a.php", "", 0},
    {"proxy:fcgi://127.0.0.1:9000/x", FCGIC_POSIX_ADDR_TCP, "127.0.0.1", 9000, "/x", "", 0},
    {"unix:/run/php/php-fpm.sock|fcgi://localhost/var/www/x", FCGIC_POSIX_ADDR_UNIX, "localhost", 0,
     "/var/www/x", "/run/php/php-fpm.sock", 0},
    {"unix:/tmp/a.sock|fcgi://localhost/", FCGIC_POSIX_ADDR_UNIX, "localhost", 0, "/", "/tmp/a.sock", 0},
    {"UNIX:/tmp/a.sock|FCGI://localhost:9000", FCGIC_POSIX_ADDR_UNIX, "localhost", 0, "", "/tmp/a.sock", 0},
    {"proxy:unix:relative.sock|fcgi://x", FCGIC_POSIX_ADDR_UNIX, "x", 0, "", "relative.sock", 0},
    {"unix:/tmp/a.sock", FCGIC_POSIX_ADDR_UNIX, "localhost", 0, "", "/tmp/a.sock", 0},
};

static int span_is(struct fcgic_span s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

START_TEST(addr_valid)
{
    const struct addr_case *t = &good[_i];
    struct fcgic_posix_addr a;
    const char *detail = "unset";
    ck_assert_int_eq(fcgic_posix_addr_parse(t->in, &a, &detail), 0);
    ck_assert_ptr_null(detail);
    ck_assert_int_eq(a.kind, t->kind);
    ck_assert_msg(span_is(a.host, t->host), "%s: host '%.*s'", t->in, (int)a.host.len, a.host.ptr);
    ck_assert_uint_eq(a.port, t->port);
    ck_assert_msg(span_is(a.path, t->path), "%s: path '%.*s'", t->in, (int)a.path.len, a.path.ptr);
    ck_assert_msg(span_is(a.socket_path, t->socket_path), "%s: socket_path '%.*s'", t->in,
                  (int)a.socket_path.len, a.socket_path.ptr);
    ck_assert_int_eq(a.ipv6_literal, t->ipv6);
}
END_TEST

struct bad_case {
    const char *in;
    const char *detail;
};

static const struct bad_case bad_addrs[] = {
    {"fcgi://127.0.0.1",
     "fcgi:// address needs a port (fcgi://host:port/): there is no default port"},
    {"fcgi://127.0.0.1/",
     "fcgi:// address needs a port (fcgi://host:port/): there is no default port"},
    {"fcgi://[::1]/",
     "fcgi:// address needs a port (fcgi://host:port/): there is no default port"},
    {"fcgi://localhost:",
     "fcgi:// address needs a port (fcgi://host:port/): there is no default port"},
    {"fcgi://localhost:x",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://localhost:0",
     "port 0 cannot be connected to"},
    {"fcgi://localhost:00000",
     "port 0 cannot be connected to"},
    {"fcgi://localhost:65536",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://localhost:99999999999999999999",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://localhost:80x",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://localhost:80?q",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://:9000",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://user@host:9000",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://ho st:9000",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://[::1:9000/",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://[]:9000/",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://[127.0.0.1]:9000/",
     "text between '[' and ']' is not an IPv6 address"},
    {"fcgi://[1:2:3:4:5:6:7:8:9]:9000/",
     "text between '[' and ']' is not an IPv6 address"},
    {"fcgi://[::1]x:9000/",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"http://127.0.0.1:9000/",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"127.0.0.1:9000",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"unix:",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"unix:|fcgi://localhost/",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"unix:/tmp/a.sock|http://localhost/",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"unix:/tmp/a.sock|",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"unix:/tmp/a b.sock|fcgi://localhost/",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
    {"fcgi://local\thost:1/",
     "malformed backend address: expected fcgi://host:port[/path] or unix:/path/to.sock|fcgi://host[/path]"},
};

START_TEST(addr_invalid)
{
    const struct bad_case *t = &bad_addrs[_i];
    struct fcgic_posix_addr a;
    const char *detail = NULL;
    ck_assert_int_eq(fcgic_posix_addr_parse(t->in, &a, &detail), FCGIC_E_BAD_ADDRESS);
    ck_assert_ptr_nonnull(detail);
    ck_assert_str_eq(detail, t->detail);
}
END_TEST

START_TEST(addr_limits)
{
    struct fcgic_posix_addr a;
    const char *detail = NULL;
    char buf[400];
    /* sun_path holds 107 bytes and a NUL on Linux */
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    strcpy(buf, "unix:/");
    memset(buf + 6, 'a', max - 1);
    strcpy(buf + 5 + max, "|fcgi://localhost/");
    ck_assert_int_eq(fcgic_posix_addr_parse(buf, &a, &detail), 0);
    ck_assert_uint_eq(a.socket_path.len, max);
    memset(buf + 6, 'a', max);
    strcpy(buf + 6 + max, "|fcgi://localhost/");
    ck_assert_int_eq(fcgic_posix_addr_parse(buf, &a, &detail), FCGIC_E_BAD_ADDRESS);
    ck_assert_str_eq(detail, "unix socket path is too long for sockaddr_un");
    /* host names: 253 characters at most */
    strcpy(buf, "fcgi://");
    memset(buf + 7, 'h', 253);
    strcpy(buf + 7 + 253, ":1/");
    ck_assert_int_eq(fcgic_posix_addr_parse(buf, &a, NULL), 0);
    memset(buf + 7, 'h', 254);
    strcpy(buf + 7 + 254, ":1/");
    ck_assert_int_eq(fcgic_posix_addr_parse(buf, &a, &detail), FCGIC_E_BAD_ADDRESS);
    ck_assert_str_eq(detail, "host name longer than 253 characters");
    /* NULL arguments */
    ck_assert_int_eq(fcgic_posix_addr_parse(NULL, &a, &detail), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_posix_addr_parse("fcgi://a:1", NULL, NULL), FCGIC_E_INVAL);
}
END_TEST

static int conn_failed(void *ud)
{
    return fcgic_conn_state(ud) == FCGIC_CONN_FAILED;
}

/* Errors from open: bad address, unresolvable name. */
START_TEST(addr_open_errors)
{
    struct fcgic_posix *p;
    struct fcgic_conn *c = (struct fcgic_conn *)1;
    struct fcgic_conn_callbacks cb = resp_callbacks();
    ck_assert_int_eq(fcgic_posix_new(&p, NULL, NULL), 0);
    uint64_t now = fcgic_posix_now();
    ck_assert_int_eq(fcgic_posix_open(p, "fcgi://127.0.0.1/", NULL, &cb, NULL, &c, now), FCGIC_E_BAD_ADDRESS);
    ck_assert_ptr_null(c);
    if (!fcgic_posix_has_cares()) {
        ck_assert_int_eq(fcgic_posix_open(p, "fcgi://no-such-host.invalid:9000/", NULL, &cb, NULL, &c, now),
                         FCGIC_E_RESOLVE);
    } else { /* looked up without blocking: the engine fails later */
        ck_assert_int_eq(fcgic_posix_open(p, "fcgi://no-such-host.invalid:9000/", NULL, &cb, NULL, &c, now), 0);
        ck_assert_int_eq(fcgic_posix_run_until(p, conn_failed, c, 30 * SEC), 0);
        ck_assert_int_eq(fcgic_conn_error(c), FCGIC_E_RESOLVE);
        fcgic_posix_close(p, c);
    }
    ck_assert_int_eq(fcgic_posix_open(p, NULL, NULL, &cb, NULL, &c, now), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_posix_open(p, "fcgi://127.0.0.1:1/", NULL, NULL, NULL, &c, now), FCGIC_E_INVAL);
    ck_assert_uint_eq(fcgic_posix_count(p), 0);
    fcgic_posix_free(p);
    fcgic_posix_free(NULL);

    struct fcgic_posix_options o;
    memset(&o, 0, sizeof(o));
    o.version = 99;
    ck_assert_int_eq(fcgic_posix_new(&p, &o, NULL), FCGIC_E_INVAL);
    ck_assert_ptr_null(p);
}
END_TEST

/* ---- connecting ------------------------------------------------------- */

static int not_connecting(void *ud)
{
    return fcgic_conn_state(ud) != FCGIC_CONN_CONNECTING;
}

/* A listener of the given family on loopback; *port receives its port. */
static int loopback_listener(int family, unsigned *port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*s4);
    }
    int l = socket(family, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 8) < 0) {
        if (l >= 0)
            close(l);
        return -1;
    }
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return l;
}

/* IPv6 literal, and a host name through the resolver: the socket connects
 * (the engine leaves CONNECTING) and the listener sees the connection. */
START_TEST(connect_ipv6_and_name)
{
    static const struct {
        int family;
        const char *prefix, *suffix;
    } cases[] = {{AF_INET6, "fcgi://[::1]:", "/"}, {AF_INET, "fcgi://localhost:", ""},
                 {AF_INET, "fcgi://127.0.0.1:", "/x"}};
    unsigned port;
    int l = loopback_listener(cases[_i].family, &port);
    if (l < 0 && cases[_i].family == AF_INET6) {
        fprintf(stderr, "connect_ipv6_and_name: no IPv6 loopback here, case left out\n");
        return;
    }
    ck_assert_int_ge(l, 0);
    char target[64];
    snprintf(target, sizeof(target), "%s%u%s", cases[_i].prefix, port, cases[_i].suffix);
    struct fcgic_posix *p;
    ck_assert_int_eq(fcgic_posix_new(&p, NULL, NULL), 0);
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct fcgic_conn *c;
    ck_assert_int_eq(fcgic_posix_open(p, target, NULL, &cb, NULL, &c, fcgic_posix_now()), 0);
    ck_assert_int_eq(fcgic_posix_run_until(p, not_connecting, c, 10 * SEC), 0);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_IDLE);
    int a = accept(l, NULL, NULL);
    ck_assert_int_ge(a, 0);
    /* the peer goes away while idle: end of input, the engine is done */
    close(a);
    ck_assert_int_eq(fcgic_posix_run(p, 5 * SEC), 0);
    ck_assert_uint_eq(fcgic_conn_wants(c), FCGIC_WANT_CLOSE);
    fcgic_posix_close(p, c);
    close(l);
    fcgic_posix_free(p);
}
END_TEST

/* Out of descriptors: FCGIC_E_SOCKET. In a child process, whose descriptor
 * limit is lowered and used up. */
START_TEST(connect_no_descriptors)
{
    if (getenv("FCGIC_UNDER_VALGRIND"))
        return; /* valgrind keeps descriptors of its own below the limit */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct fcgic_posix *p;
        struct fcgic_conn *c;
        struct fcgic_conn_callbacks cb = resp_callbacks();
        if (fcgic_posix_new(&p, NULL, NULL) != 0)
            _exit(2);
        struct rlimit rl = {64, 64};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(3);
        while (dup(0) >= 0)
            ;
        int rc = fcgic_posix_open(p, "fcgi://127.0.0.1:9/", NULL, &cb, NULL, &c, fcgic_posix_now());
        _exit(rc == FCGIC_E_SOCKET ? 0 : 4);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

/* ---- connect failures ------------------------------------------------- */

START_TEST(connect_refused_tcp)
{
    char target[64];
    snprintf(target, sizeof(target), "fcgi://127.0.0.1:%d/", free_tcp_port());
    struct req3 q;
    req_init(&q, "GET", "", 0);
    struct resp r;
    memset(&r, 0, sizeof(r));
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct fcgic_result res;
    ck_assert_int_eq(fcgic_posix_request(target, NULL, &q.req, &cb, &r, &res, NULL), FCGIC_E_CONNECT);
    ck_assert_int_eq(res.error, FCGIC_E_CONNECT);
    ck_assert_int_eq(res.response_started, 0);
    ck_assert_int_eq(r.ended, 1); /* the request was queued: on_end reports the failure */
    resp_free(&r);
}
END_TEST

START_TEST(connect_refused_unix)
{
    struct fcgic_posix *p;
    struct fcgic_conn *c;
    struct fcgic_conn_callbacks cb = resp_callbacks();
    ck_assert_int_eq(fcgic_posix_new(&p, NULL, NULL), 0);
    /* no such socket: refused at once */
    ck_assert_int_eq(fcgic_posix_open(p, "unix:/nonexistent/fcgic-test.sock|fcgi://localhost/", NULL, &cb, NULL,
                                      &c, fcgic_posix_now()),
                     FCGIC_E_CONNECT);
    /* a unix socket whose listen queue is full refuses at once too */
    char dir[] = "/tmp/fcgic-posix-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/full.sock", dir);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
    ck_assert_int_eq(listen(l, 0), 0);
    int fill[8], nfill = 0;
    for (; nfill < 8; nfill++) {
        fill[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(fill[nfill], (struct sockaddr *)&sun, sizeof(sun)) < 0) {
            ck_assert_int_eq(errno, EAGAIN);
            break;
        }
    }
    ck_assert_int_lt(nfill, 8);
    char target[160];
    snprintf(target, sizeof(target), "unix:%s|fcgi://localhost/", sun.sun_path);
    ck_assert_int_eq(fcgic_posix_open(p, target, NULL, &cb, NULL, &c, fcgic_posix_now()), FCGIC_E_CONNECT);
    ck_assert_uint_eq(fcgic_posix_count(p), 0);
    for (int i = 0; i <= nfill && i < 8; i++)
        close(fill[i]);
    close(l);
    unlink(sun.sun_path);
    rmdir(dir);
    fcgic_posix_free(p);
}
END_TEST

/* A TCP listener with backlog 0 that never accepts, filled with connections:
 * the kernel drops further SYNs, so a connect stays in progress. */
START_TEST(connect_timeout)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(l, 0), 0);
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sin, &len), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int r = connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
        ck_assert(r == 0 || errno == EINPROGRESS);
        struct pollfd pf = {.fd = fill[i], .events = POLLOUT};
        poll(&pf, 1, 50);
    }
    char target[64];
    snprintf(target, sizeof(target), "fcgi://127.0.0.1:%u/", (unsigned)ntohs(sin.sin_port));
    struct req3 q;
    req_init(&q, "GET", "", 0);
    struct resp r;
    memset(&r, 0, sizeof(r));
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct fcgic_conn_options o;
    memset(&o, 0, sizeof(o));
    o.connect_timeout_ns = 200 * MS;
    struct fcgic_result res;
    ck_assert_int_eq(fcgic_posix_request(target, &o, &q.req, &cb, &r, &res, NULL), FCGIC_E_TIMEOUT_CONNECT);
    ck_assert_int_eq(r.ended, 1);
    ck_assert_int_eq(r.res.error, FCGIC_E_TIMEOUT_CONNECT);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(l);
    resp_free(&r);
}
END_TEST

/* ---- blocking one-call requests against app-echo ----------------------- */

static const enum harness_transport transports[] = {HARNESS_TCP, HARNESS_UNIX};

START_TEST(sync_get)
{
    struct harness_app *app = start_echo(transports[_i], NULL);
    struct req3 q;
    req_init(&q, "GET", "stderr=oops", 0);
    struct resp r;
    memset(&r, 0, sizeof(r));
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct fcgic_result res;
    int rc = fcgic_posix_request(app->url, NULL, &q.req, &cb, &r, &res, NULL);
    ck_assert_msg(rc == 0, "%s", fcgic_strerror_name(rc));
    ck_assert_int_eq(r.ended, 1);
    ck_assert_int_eq(res.got_end_request, 1);
    ck_assert_uint_eq(res.app_status, 0);
    ck_assert_int_eq(res.protocol_status, FCGIC_REQUEST_COMPLETE);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.p, "REQUEST_METHOD=GET\n"
                               "QUERY_STRING=stderr=oops\n"
                               "STDIN-BYTES=0\n"
                               "STDIN-FNV1A64=cbf29ce484222325\n");
    ck_assert_str_eq(r.err.p, "oops\nsecond stderr line\n");
    resp_free(&r);
    /* no callbacks, no result: only the outcome */
    ck_assert_int_eq(fcgic_posix_request(app->url, NULL, &q.req, NULL, NULL, NULL, NULL), 0);
    ck_assert_int_eq(fcgic_posix_request(NULL, NULL, &q.req, NULL, NULL, &res, NULL), FCGIC_E_INVAL);
    ck_assert_int_eq(res.error, FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_posix_request(app->url, NULL, NULL, NULL, NULL, NULL, NULL), FCGIC_E_INVAL);
    harness_app_stop(app);
}
END_TEST

static const char post_expected[] = "REQUEST_METHOD=POST\n"
                                    "QUERY_STRING=\n"
                                    "CONTENT_LENGTH=1048576\n"
                                    "STDIN-BYTES=1048576\n"
                                    "STDIN-FNV1A64=f559622f66d32165\n";

/* 1 MiB streamed through body_read (_i even) or from a buffer (_i odd). */
START_TEST(sync_post_1mib)
{
    struct harness_app *app = start_echo(transports[_i / 2], NULL);
    struct req3 q;
    req_init(&q, "POST", "", 1048576);
    struct resp *r = calloc(1, sizeof(*r));
    char *buf = NULL;
    if (_i % 2 == 0) {
        q.req.stdin_mode = FCGIC_BODY_STREAM;
        r->body_total = 1048576;
    } else {
        buf = malloc(1048576);
        for (size_t i = 0; i < 1048576; i++)
            buf[i] = (char)app_pattern_byte(i);
        q.req.stdin_mode = FCGIC_BODY_BUFFER;
        q.req.stdin_data = buf;
        q.req.stdin_len = 1048576;
    }
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct fcgic_result res;
    int rc = fcgic_posix_request(app->url, NULL, &q.req, &cb, r, &res, NULL);
    ck_assert_msg(rc == 0, "%s", fcgic_strerror_name(rc));
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body.p, post_expected);
    ck_assert_uint_eq(res.stdin_bytes, 1048576);
    ck_assert_int_eq(res.body_sent, 1);
    resp_free(r);
    free(r);
    free(buf);
    harness_app_stop(app);
}
END_TEST

/* Every on_body returns FCGIC_PAUSE: input is held back and fed again. */
START_TEST(sync_pause)
{
    struct harness_app *app = start_echo(HARNESS_UNIX, NULL);
    struct req3 q;
    req_init(&q, "GET", "size=300000&chunk=1000", 0);
    struct resp r;
    memset(&r, 0, sizeof(r));
    r.pause_body = 1;
    struct fcgic_conn_callbacks cb = resp_callbacks();
    int rc = fcgic_posix_request(app->url, NULL, &q.req, &cb, &r, NULL, NULL);
    ck_assert_msg(rc == 0, "%s", fcgic_strerror_name(rc));
    ck_assert_uint_eq(r.body.len, 300000);
    for (size_t i = 0; i < r.body.len; i++)
        ck_assert_int_eq((unsigned char)r.body.p[i], app_pattern_byte(i));
    ck_assert_uint_gt(r.pauses, 1);
    resp_free(&r);
    harness_app_stop(app);
}
END_TEST

/* The application dies mid-response: the request ends with PEER_CLOSED. */
START_TEST(sync_peer_closed)
{
    struct harness_app *app = start_echo(HARNESS_TCP, NULL);
    struct req3 q;
    req_init(&q, "GET", "size=10000&close=1", 0);
    struct resp r;
    memset(&r, 0, sizeof(r));
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct fcgic_result res;
    int rc = fcgic_posix_request(app->url, NULL, &q.req, &cb, &r, &res, NULL);
    ck_assert_msg(rc == FCGIC_E_PEER_CLOSED || rc == FCGIC_E_TRUNCATED, "%s", fcgic_strerror_name(rc));
    ck_assert_int_eq(res.got_end_request, 0);
    ck_assert_int_eq(res.response_started, 1);
    resp_free(&r);
    harness_app_stop(app);
}
END_TEST

static int resp_ended(void *ud)
{
    return ((struct resp *)ud)->ended;
}

/* Writing to a peer that has gone: EPIPE becomes FCGIC_E_IO, never SIGPIPE
 * (whose default action would kill this test). */
START_TEST(no_sigpipe)
{
    char dir[] = "/tmp/fcgic-posix-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/gone.sock", dir);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
    ck_assert_int_eq(listen(l, 8), 0);
    char target[160];
    snprintf(target, sizeof(target), "unix:%s|fcgi://localhost/", sun.sun_path);

    struct fcgic_posix *p;
    ck_assert_int_eq(fcgic_posix_new(&p, NULL, NULL), 0);
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct fcgic_conn *c;
    uint64_t now = fcgic_posix_now();
    ck_assert_int_eq(fcgic_posix_open(p, target, NULL, &cb, NULL, &c, now), 0);
    int a = accept(l, NULL, NULL);
    ck_assert_int_ge(a, 0);
    close(a);
    close(l);
    unlink(sun.sun_path);
    rmdir(dir);

    struct req3 q;
    req_init(&q, "POST", "", 1048576);
    struct resp *r = calloc(1, sizeof(*r));
    q.req.stdin_mode = FCGIC_BODY_STREAM;
    r->body_total = 1048576;
    ck_assert_int_eq(fcgic_conn_submit(c, &q.req, r, NULL, now), 0);
    fcgic_posix_kick(p, c, now);
    ck_assert_int_eq(fcgic_posix_run_until(p, resp_ended, r, 10 * SEC), 0);
    ck_assert_msg(r->res.error == FCGIC_E_IO || r->res.error == FCGIC_E_PEER_CLOSED, "%s",
                  fcgic_strerror_name(r->res.error));
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_FAILED);
    ck_assert_uint_eq(fcgic_conn_wants(c), FCGIC_WANT_CLOSE);
    fcgic_posix_free(p); /* closes c */
    resp_free(r);
    free(r);
}
END_TEST

/* fcgic_conn_submit() called by the embedder runs body_read, which kicks the
 * connection: the transport must not write while the engine is inside its
 * callback (the write could not be acknowledged). */
START_TEST(kick_inside_submit)
{
    struct harness_app *app = start_echo(HARNESS_UNIX, NULL);
    struct fcgic_posix *p;
    ck_assert_int_eq(fcgic_posix_new(&p, NULL, NULL), 0);
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct fcgic_conn *c;
    uint64_t now = fcgic_posix_now();
    ck_assert_int_eq(fcgic_posix_open(p, app->url, NULL, &cb, NULL, &c, now), 0);
    ck_assert_int_eq(fcgic_conn_state(c), FCGIC_CONN_IDLE); /* unix: connected at once */
    struct req3 q;
    req_init(&q, "POST", "", 1048576);
    q.req.stdin_mode = FCGIC_BODY_STREAM;
    struct resp *r = calloc(1, sizeof(*r));
    r->body_total = 1048576;
    r->kick_p = p;
    ck_assert_int_eq(fcgic_conn_submit(c, &q.req, r, NULL, now), 0);
    ck_assert_uint_ge(r->kicks, 1);
    fcgic_posix_kick(p, c, now);
    ck_assert_int_eq(fcgic_posix_run_until(p, resp_ended, r, 20 * SEC), 0);
    ck_assert_int_eq(r->res.error, 0);
    ck_assert_str_eq(r->body.p, post_expected);
    fcgic_posix_free(p);
    resp_free(r);
    free(r);
    harness_app_stop(app);
}
END_TEST

/* A unix-socket listener in a fresh directory, playing the application
 * with raw record bytes. */
struct raw_app {
    char dir[32];
    char path[108];
    char target[160];
    int l;
};

static void raw_app_listen(struct raw_app *ra)
{
    snprintf(ra->dir, sizeof(ra->dir), "/tmp/fcgic-posix-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(ra->dir));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/raw.sock", ra->dir);
    snprintf(ra->path, sizeof(ra->path), "%s", sun.sun_path);
    snprintf(ra->target, sizeof(ra->target), "unix:%s|fcgi://localhost/", sun.sun_path);
    ra->l = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(ra->l, (struct sockaddr *)&sun, sizeof(sun)), 0);
    ck_assert_int_eq(listen(ra->l, 8), 0);
}

static void raw_app_done(struct raw_app *ra)
{
    close(ra->l);
    unlink(ra->path);
    rmdir(ra->dir);
}

/* Append one record to b. */
static void raw_rec(struct tbuf *b, int type, int id, const char *content, size_t clen)
{
    unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
                          (unsigned char)(clen >> 8), (unsigned char)clen, 0, 0};
    tb_add(b, h, 8);
    tb_add(b, content, clen);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        ck_assert_int_gt(w, 0);
        p += w;
        n -= (size_t)w;
    }
}

/* body_read that says "not yet" first, then (resumed by the embedder) kicks
 * the connection from inside the callback and ends the stream. */
struct held_kick {
    struct resp r;
    struct fcgic_posix *p;
    int reads;
};

static int hk_body_read(struct fcgic_conn *c, void *ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    struct held_kick *hk = ud;
    if (hk->reads++ == 0)
        return FCGIC_BODY_AGAIN;
    fcgic_posix_kick(hk->p, c, fcgic_posix_now());
    return FCGIC_BODY_EOF;
}

static int hk_body(struct fcgic_conn *c, void *ud, const char *data, size_t len)
{
    struct held_kick *hk = ud;
    tb_add(&hk->r.body, data, len);
    return hk->r.pauses++ == 0 ? FCGIC_PAUSE : 0; /* pause after the first piece */
}

static void hk_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *res)
{
    struct held_kick *hk = ud;
    r_end(c, &hk->r, res);
}

static int hk_ended(void *ud)
{
    return ((struct held_kick *)ud)->r.ended > 0;
}

static int hk_paused(void *ud)
{
    return ((struct held_kick *)ud)->r.pauses > 0;
}

/* Input held back after FCGIC_PAUSE survives a kick made from inside a
 * callback that the embedder's own fcgic_conn_resume() runs: the engine
 * cannot take input then, so the kick must keep it for the next one. */
START_TEST(kick_inside_resume_keeps_held_input)
{
    struct raw_app ra;
    raw_app_listen(&ra);
    struct fcgic_posix *p;
    ck_assert_int_eq(fcgic_posix_new(&p, NULL, NULL), 0);
    struct fcgic_conn_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_body = hk_body;
    cb.on_end = hk_end;
    cb.body_read = hk_body_read;
    struct held_kick *hk = calloc(1, sizeof(*hk));
    hk->p = p;
    struct fcgic_conn *c;
    uint64_t now = fcgic_posix_now();
    ck_assert_int_eq(fcgic_posix_open(p, ra.target, NULL, &cb, NULL, &c, now), 0);
    int a = accept(ra.l, NULL, NULL);
    ck_assert_int_ge(a, 0);
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.stdin_mode = FCGIC_BODY_STREAM;
    uint16_t id;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, hk, &id, now), 0);
    ck_assert_int_eq(hk->reads, 1); /* "not yet" */
    fcgic_posix_kick(p, c, now);

    /* Two STDOUT records in one write: on_body pauses after the first. */
    struct tbuf out = {0};
    raw_rec(&out, 6, 1, "X: 1\r\n\r\nabc", 11);
    raw_rec(&out, 6, 1, "def", 3);
    write_all(a, out.p, out.len);
    ck_assert_int_eq(fcgic_posix_run_until(p, hk_paused, hk, 10 * SEC), 0);
    ck_assert_str_eq(hk->r.body.p, "abc");

    /* The embedder resumes the body; body_read kicks from inside. */
    ck_assert_int_eq(fcgic_conn_resume(c, id, fcgic_posix_now()), 0);
    ck_assert_int_eq(hk->reads, 2);
    fcgic_posix_kick(p, c, fcgic_posix_now()); /* after resume returned */

    out.len = 0;
    raw_rec(&out, 6, 1, "", 0);
    raw_rec(&out, 3, 1, "\0\0\0\0\0\0\0\0", 8);
    write_all(a, out.p, out.len);
    ck_assert_int_eq(fcgic_posix_run_until(p, hk_ended, hk, 10 * SEC), 0);
    ck_assert_int_eq(hk->r.res.error, 0);
    ck_assert_str_eq(hk->r.body.p, "abcdef");
    fcgic_posix_free(p);
    close(a);
    raw_app_done(&ra);
    tb_free(&out);
    resp_free(&hk->r);
    free(hk);
}
END_TEST

/* fcgic_posix_free() from on_timer (as from on_socket) frees the object
 * once the running call returns: nothing leaks. */
struct timer_freer {
    struct fcgic_posix *p;
    int calls;
};

static void tf_timer(void *ud, uint64_t deadline)
{
    struct timer_freer *tf = ud;
    tf->calls++;
    if (deadline != FCGIC_NO_DEADLINE)
        fcgic_posix_free(tf->p);
}

/* Backpressure in the event loop: after on_body returns FCGIC_PAUSE, no more
 * body arrives until the embedder kicks, also when the pausing callback had
 * taken every byte the last read brought (the pause is then the engine's
 * only record of it). */
struct bp {
    int paused;     /* set by on_body, cleared before the kick */
    int violations; /* on_body called while paused */
    int calls, ended;
    size_t bytes;
    struct fcgic_result res;
};

static int bp_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    struct bp *b = fcgic_conn_userdata(c);
    (void)ud;
    (void)d;
    if (b->paused)
        b->violations++;
    b->paused = 1;
    b->calls++;
    b->bytes += n;
    return FCGIC_PAUSE;
}

static void bp_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *r)
{
    struct bp *b = fcgic_conn_userdata(c);
    (void)ud;
    b->ended = 1;
    b->res = *r;
}

START_TEST(pause_holds_reading)
{
    struct harness_app *app = start_echo(HARNESS_UNIX, NULL);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_conn_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_body = bp_body;
    cb.on_end = bp_end;
    struct bp b;
    memset(&b, 0, sizeof b);
    struct fcgic_conn *c;
    ck_assert_int_eq(fcgic_posix_open(px, app->url, NULL, &cb, &b, &c, fcgic_posix_now()), 0);
    static const struct fcgic_param params[] = {FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),
                                                FCGIC_PARAM_LIT("QUERY_STRING", "size=400000&chunk=5000")};
    struct fcgic_request req;
    memset(&req, 0, sizeof req);
    req.params = params;
    req.nparams = 2;
    ck_assert_int_eq(fcgic_conn_submit(c, &req, NULL, NULL, fcgic_posix_now()), 0);
    fcgic_posix_kick(px, c, fcgic_posix_now());
    uint64_t limit = fcgic_posix_now() + 20000000000ull;
    while (!b.ended && fcgic_posix_now() < limit) {
        ck_assert_int_eq(fcgic_posix_run(px, 20000000), 0);
        if (b.paused) {
            b.paused = 0;
            fcgic_posix_kick(px, c, fcgic_posix_now());
        }
    }
    ck_assert_int_eq(b.ended, 1);
    ck_assert_int_eq(b.res.error, 0);
    ck_assert_uint_eq(b.bytes, 400000);
    ck_assert_int_eq(b.violations, 0);
    ck_assert_int_gt(b.calls, 1);
    fcgic_posix_close(px, c);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

START_TEST(free_from_on_timer)
{
    struct raw_app ra;
    raw_app_listen(&ra);
    struct failalloc fa;
    failalloc_init(&fa, 0);
    struct timer_freer tf = {NULL, 0};
    struct fcgic_posix_options po;
    memset(&po, 0, sizeof(po));
    po.version = FCGIC_POSIX_OPTIONS_VERSION;
    po.on_timer = tf_timer;
    po.ud = &tf;
    ck_assert_int_eq(fcgic_posix_new(&tf.p, &po, &fa.mem), 0);
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct fcgic_conn *c;
    uint64_t now = fcgic_posix_now();
    ck_assert_int_eq(fcgic_posix_open(tf.p, ra.target, NULL, &cb, NULL, &c, now), 0);
    ck_assert_int_eq(tf.calls, 0); /* no deadline yet */
    struct req3 q;
    req_init(&q, "GET", "", 0);
    q.req.timeouts.total = 10 * SEC;
    struct resp *r = calloc(1, sizeof(*r));
    ck_assert_int_eq(fcgic_conn_submit(c, &q.req, r, NULL, now), 0);
    fcgic_posix_kick(tf.p, c, now); /* reports the deadline: on_timer frees */
    ck_assert_int_eq(tf.calls, 1);
    ck_assert_int_eq(r->ended, 0); /* freeing runs no callback */
    ck_assert_int_eq(fa.live, 0);
    raw_app_done(&ra);
    resp_free(r);
    free(r);
}
END_TEST

/* ---- event-loop form with the embedder's own loop ---------------------- */

#define MAXFD 64

struct reactor {
    unsigned interest[MAXFD];
    int registered[MAXFD];
    unsigned removes, socket_calls, timer_calls;
    uint64_t deadline;
    struct fcgic_posix *p;
};

static void rx_socket(void *ud, int fd, unsigned what, struct fcgic_conn *c)
{
    struct reactor *x = ud;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_lt(fd, MAXFD);
    ck_assert_ptr_nonnull(c);
    x->socket_calls++;
    /* the object refuses to be driven from its own notification */
    ck_assert_int_eq(fcgic_posix_socket_action(x->p, fd, FCGIC_POSIX_IN, 0), FCGIC_E_REENTRANT);
    if (what == FCGIC_POSIX_REMOVE) {
        ck_assert_int_eq(x->registered[fd], 1);
        x->registered[fd] = 0;
        x->interest[fd] = 0;
        x->removes++;
        return;
    }
    ck_assert_uint_eq(what & ~(FCGIC_POSIX_IN | FCGIC_POSIX_OUT), 0);
    x->registered[fd] = 1;
    x->interest[fd] = what;
}

static void rx_timer(void *ud, uint64_t deadline)
{
    struct reactor *x = ud;
    x->timer_calls++;
    x->deadline = deadline;
}

/* One round of the test's own poll loop. */
static void rx_round(struct reactor *x)
{
    struct pollfd pf[MAXFD];
    int n = 0;
    for (int fd = 0; fd < MAXFD; fd++) {
        if (!x->registered[fd] || x->interest[fd] == 0)
            continue;
        pf[n].fd = fd;
        pf[n].events = (short)(((x->interest[fd] & FCGIC_POSIX_IN) ? POLLIN : 0) |
                               ((x->interest[fd] & FCGIC_POSIX_OUT) ? POLLOUT : 0));
        pf[n].revents = 0;
        n++;
    }
    uint64_t now = fcgic_posix_now();
    int ms = 1000;
    if (x->deadline != FCGIC_NO_DEADLINE)
        ms = x->deadline <= now ? 0 : (int)((x->deadline - now + MS - 1) / MS);
    if (ms > 1000)
        ms = 1000;
    int r = poll(pf, (nfds_t)n, ms);
    ck_assert_int_ge(r, 0);
    now = fcgic_posix_now();
    for (int i = 0; i < n; i++) {
        if (pf[i].revents == 0)
            continue;
        unsigned ev = ((pf[i].revents & POLLIN) ? FCGIC_POSIX_IN : 0) |
                      ((pf[i].revents & POLLOUT) ? FCGIC_POSIX_OUT : 0) |
                      ((pf[i].revents & (POLLERR | POLLHUP)) ? FCGIC_POSIX_ERR : 0);
        ck_assert_int_eq(fcgic_posix_socket_action(x->p, pf[i].fd, ev, now), 0);
    }
    if (x->deadline != FCGIC_NO_DEADLINE && x->deadline <= now)
        ck_assert_int_eq(fcgic_posix_timeout(x->p, now), 0);
}

#define NLOOP 8

struct loop_req {
    struct resp r;
    struct fcgic_posix *p;
    struct fcgic_conn *c;
    int close_in_end;
};

static void lr_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *res)
{
    struct loop_req *lr = ud;
    r_end(c, &lr->r, res);
    /* the engine is still running its callback: the close is deferred */
    if (lr->close_in_end)
        fcgic_posix_close(lr->p, c);
}

static int lr_head(struct fcgic_conn *c, void *ud, const struct fcgic_response_head *h)
{
    return r_head(c, &((struct loop_req *)ud)->r, h);
}

static int lr_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    struct loop_req *lr = ud;
    /* engine code is on the stack: driving the object is refused */
    ck_assert_int_eq(fcgic_posix_socket_action(lr->p, 0, FCGIC_POSIX_IN, 0), FCGIC_E_REENTRANT);
    ck_assert_int_eq(fcgic_posix_timeout(lr->p, 0), FCGIC_E_REENTRANT);
    ck_assert_int_eq(fcgic_posix_run(lr->p, 0), FCGIC_E_REENTRANT);
    return r_body(c, &lr->r, d, n);
}

START_TEST(loop_callbacks)
{
    static const char *const args[] = {"-t", "4", NULL};
    struct harness_app *app = start_echo(transports[_i], args);
    struct reactor x;
    memset(&x, 0, sizeof(x));
    x.deadline = FCGIC_NO_DEADLINE;
    struct fcgic_posix_options po;
    memset(&po, 0, sizeof(po));
    po.version = FCGIC_POSIX_OPTIONS_VERSION;
    po.on_socket = rx_socket;
    po.on_timer = rx_timer;
    po.ud = &x;
    po.read_buffer_size = 1000; /* many reads per response */
    ck_assert_int_eq(fcgic_posix_new(&x.p, &po, NULL), 0);

    struct fcgic_conn_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_head = lr_head;
    cb.on_body = lr_body;
    cb.on_end = lr_end;

    struct loop_req *lr = calloc(NLOOP + 1, sizeof(*lr));
    struct req3 q[NLOOP + 1];
    char qs[NLOOP + 1][32];
    uint64_t now = fcgic_posix_now();
    for (int i = 0; i <= NLOOP; i++) {
        lr[i].p = x.p;
        lr[i].close_in_end = i < NLOOP;
        if (i < NLOOP)
            snprintf(qs[i], sizeof(qs[i]), "size=%d", 1000 * (i + 1) + i);
        else
            snprintf(qs[i], sizeof(qs[i]), "sleep_ms=3000");
        req_init(&q[i], "GET", qs[i], 0);
        if (i == NLOOP)
            q[i].req.timeouts.first_byte = 150 * MS; /* the timer ends this one */
        ck_assert_int_eq(fcgic_posix_open(x.p, app->url, NULL, &cb, NULL, &lr[i].c, now), 0);
        ck_assert_int_eq(fcgic_conn_submit(lr[i].c, &q[i].req, &lr[i], NULL, now), 0);
        fcgic_posix_kick(x.p, lr[i].c, now);
        ck_assert_int_eq(fcgic_posix_fd(x.p, lr[i].c) >= 0, 1);
    }
    ck_assert_uint_eq(fcgic_posix_count(x.p), NLOOP + 1);
    ck_assert(x.deadline != FCGIC_NO_DEADLINE); /* the first-byte timer */
    ck_assert_uint_eq(x.deadline, fcgic_posix_deadline(x.p));

    for (int round = 0; round < 2000; round++) {
        int all = 1;
        for (int i = 0; i <= NLOOP; i++)
            all &= lr[i].r.ended == 1;
        if (all)
            break;
        rx_round(&x);
    }
    for (int i = 0; i < NLOOP; i++) {
        ck_assert_int_eq(lr[i].r.ended, 1);
        ck_assert_int_eq(lr[i].r.res.error, 0);
        ck_assert_int_eq(lr[i].r.status, 200);
        size_t want = 1000 * (size_t)(i + 1) + (size_t)i;
        ck_assert_uint_eq(lr[i].r.body.len, want);
        for (size_t k = 0; k < want; k++)
            ck_assert_int_eq((unsigned char)lr[i].r.body.p[k], app_pattern_byte(k));
    }
    ck_assert_int_eq(lr[NLOOP].r.ended, 1);
    ck_assert_int_eq(lr[NLOOP].r.res.error, FCGIC_E_TIMEOUT_FIRST_BYTE);
    /* the eight closed themselves from on_end; the timed-out one is left */
    ck_assert_uint_eq(fcgic_posix_count(x.p), 1);
    ck_assert_uint_eq(x.removes, NLOOP);
    fcgic_posix_close(x.p, lr[NLOOP].c);
    ck_assert_uint_eq(fcgic_posix_count(x.p), 0);
    ck_assert_uint_eq(x.removes, NLOOP + 1);
    ck_assert_uint_eq(x.deadline, FCGIC_NO_DEADLINE);
    ck_assert_uint_ge(x.timer_calls, 2);
    for (int fd = 0; fd < MAXFD; fd++)
        ck_assert_int_eq(x.registered[fd], 0);
    fcgic_posix_free(x.p);
    for (int i = 0; i <= NLOOP; i++)
        resp_free(&lr[i].r);
    free(lr);
    harness_app_stop(app);
}
END_TEST

/* ---- built-in loop and the transport operations, as a pool uses them ---- */

struct pool_sim {
    struct fcgic_transport t;
    struct fcgic_conn *c;
    struct resp r[4];
    struct req3 q;
    int next;   /* next request to submit */
    int ended;  /* requests ended */
    int free_in_end;
};

static void ps_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *res);

static void ps_submit(struct pool_sim *ps, uint64_t now)
{
    int i = ps->next++;
    ck_assert_int_eq(fcgic_conn_submit(ps->c, &ps->q.req, &ps->r[i], NULL, now), 0);
    ps->t.kick(ps->t.ud, ps->c, now);
}

static int ps_head(struct fcgic_conn *c, void *ud, const struct fcgic_response_head *h)
{
    return r_head(c, ud, h);
}

static int ps_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    return r_body(c, ud, d, n);
}

static void ps_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *res)
{
    struct pool_sim *ps = fcgic_conn_userdata(c);
    r_end(c, ud, res);
    ps->ended++;
    /* a pool hands the kept-alive connection to the next request from inside
     * on_end: the kick is deferred until the engine returns */
    if (ps->next < 4)
        ps_submit(ps, fcgic_posix_now());
}

static int ps_done(void *ud)
{
    const struct pool_sim *ps = ud;
    return ps->ended == 4;
}

START_TEST(transport_ops)
{
    struct harness_app *app = start_echo(transports[_i], NULL);
    struct fcgic_posix *p;
    ck_assert_int_eq(fcgic_posix_new(&p, NULL, NULL), 0);
    struct pool_sim *ps = calloc(1, sizeof(*ps));
    fcgic_posix_transport(p, &ps->t);
    ck_assert_ptr_eq(ps->t.ud, p);
    req_init(&ps->q, "GET", "size=5", 0);
    struct fcgic_conn_options o;
    memset(&o, 0, sizeof(o));
    o.keep_conn = 1;
    struct fcgic_conn_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_head = ps_head;
    cb.on_body = ps_body;
    cb.on_end = ps_end;
    uint64_t now = fcgic_posix_now();
    int se = -1;
    ck_assert_int_eq(ps->t.open(ps->t.ud, app->url, &o, &cb, ps, NULL, &ps->c, &se, now), 0);
    ck_assert_int_eq(se, 0);
    ck_assert_ptr_eq(fcgic_conn_userdata(ps->c), ps);
    ps_submit(ps, now);
    ck_assert_int_eq(fcgic_posix_run_until(p, ps_done, ps, 20 * SEC), 0);
    for (int i = 0; i < 4; i++) {
        char want[4];
        snprintf(want, sizeof(want), "%d", i + 1);
        ck_assert_int_eq(ps->r[i].res.error, 0);
        ck_assert_str_eq(ps->r[i].body.p, "ABCDE");
        ck_assert_str_eq(ps->r[i].req_on_conn.p, want); /* all four on one connection */
    }
    ck_assert_int_eq(fcgic_conn_state(ps->c), FCGIC_CONN_IDLE);
    /* idle, kept alive: a round with nothing to do returns */
    ck_assert_int_eq(fcgic_posix_run(p, 0), 0);
    ck_assert_uint_eq(fcgic_posix_count(p), 1);

    /* close while a request is running: no on_end, no leak */
    ps->next = 3;
    ps->ended = 3;
    req_init(&ps->q, "GET", "sleep_ms=2000", 0);
    resp_free(&ps->r[3]);
    memset(&ps->r[3], 0, sizeof(ps->r[3]));
    ps_submit(ps, fcgic_posix_now());
    ck_assert_int_eq(fcgic_posix_run(p, 20 * MS), 0);
    ps->t.close(ps->t.ud, ps->c);
    ck_assert_int_eq(ps->r[3].ended, 0);
    ck_assert_uint_eq(fcgic_posix_count(p), 0); /* ps->c is gone (freed with its socket) */
    ck_assert_int_eq(fcgic_posix_run_until(p, ps_done, ps, SEC), FCGIC_E_STATE);
    for (int i = 0; i < 4; i++)
        resp_free(&ps->r[i]);
    free(ps);
    fcgic_posix_free(p);
    harness_app_stop(app);
}
END_TEST

START_TEST(check_sees_eof)
{
    /* The transport's check reads what arrived on an idle kept connection
     * without blocking: nothing (still idle), then the EOF of an
     * application that went away (done, before any request is written). */
    struct harness_app *app = start_echo(transports[_i], NULL);
    struct fcgic_posix *p;
    ck_assert_int_eq(fcgic_posix_new(&p, NULL, NULL), 0);
    struct pool_sim *ps = calloc(1, sizeof(*ps));
    fcgic_posix_transport(p, &ps->t);
    ck_assert_ptr_nonnull(ps->t.check);
    req_init(&ps->q, "GET", "size=5", 0);
    struct fcgic_conn_options o;
    memset(&o, 0, sizeof(o));
    o.keep_conn = 1;
    struct fcgic_conn_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_head = ps_head;
    cb.on_body = ps_body;
    cb.on_end = ps_end;
    int se = -1;
    ck_assert_int_eq(ps->t.open(ps->t.ud, app->url, &o, &cb, ps, NULL, &ps->c, &se, fcgic_posix_now()), 0);
    ps->ended = 3; /* one request is enough */
    ps->next = 3;
    ps_submit(ps, fcgic_posix_now());
    ck_assert_int_eq(fcgic_posix_run_until(p, ps_done, ps, 20 * SEC), 0);
    ck_assert_int_eq(ps->r[3].res.error, 0);
    ps->t.check(ps->t.ud, ps->c, fcgic_posix_now());
    ck_assert_int_eq(fcgic_conn_state(ps->c), FCGIC_CONN_IDLE);
    ck_assert_int_eq(harness_app_kill(app), 0);
    for (int i = 0; i < 200 && fcgic_conn_state(ps->c) == FCGIC_CONN_IDLE; i++) {
        ps->t.check(ps->t.ud, ps->c, fcgic_posix_now());
        if (fcgic_conn_state(ps->c) == FCGIC_CONN_IDLE)
            poll(NULL, 0, 5); /* the FIN is on its way */
    }
    ck_assert_int_eq(fcgic_conn_state(ps->c), FCGIC_CONN_DONE);
    fcgic_posix_check(p, NULL, 0); /* unknown: nothing happens */
    resp_free(&ps->r[3]);
    free(ps);
    fcgic_posix_free(p);
    harness_app_stop(app);
}
END_TEST

/* Pools and balancers attached to the built-in loop: ticked by it. */
struct att {
    struct fcgic_posix *px;
    struct fcgic_balancer *b;
    int ends, errors, all_down;
};

static void att_end(void *ud, const struct fcgic_result *res)
{
    struct att *a = ud;
    a->ends++;
    if (res->error == FCGIC_E_BAL_ALL_DOWN)
        a->all_down++;
    else if (res->error || !res->got_end_request)
        a->errors++;
}

static int att_pool_done(void *ud)
{
    struct att *a = ud;
    return a->ends == 3 && fcgic_posix_count(a->px) == 0; /* closing is deferred work */
}

static int att_bal_done(void *ud)
{
    struct att *a = ud;
    struct fcgic_member_stats st = {.version = FCGIC_MEMBER_STATS_VERSION};
    return a->ends == 2 && fcgic_balancer_member_stats(a->b, 1, &st) == 0 && st.hc_checks >= 2;
}

static int never(void *ud)
{
    (void)ud;
    return 0;
}

START_TEST(attached_pool_and_balancer)
{
    struct harness_app *app = start_echo(HARNESS_UNIX, NULL);
    struct fcgic_posix *px;
    ck_assert_int_eq(fcgic_posix_new(&px, NULL, NULL), 0);
    struct fcgic_transport tr;
    fcgic_posix_transport(px, &tr);
    struct att a;
    memset(&a, 0, sizeof(a));
    a.px = px;
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_end = att_end;
    static const struct fcgic_param params[] = {FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),
                                                FCGIC_PARAM_LIT("QUERY_STRING", "size=5")};
    struct fcgic_request req;
    memset(&req, 0, sizeof(req));
    req.params = params;
    req.nparams = 2;

    /* a pool without reuse: its connections are closed by its tick */
    struct fcgic_pool_options po;
    memset(&po, 0, sizeof(po));
    po.target = app->url;
    struct fcgic_pool *pool;
    ck_assert_int_eq(fcgic_pool_new(&pool, &po, &tr, &cb, &a, NULL), 0);
    ck_assert_int_eq(fcgic_posix_attach_pool(px, pool), 0);
    ck_assert_int_eq(fcgic_posix_attach_pool(px, pool), FCGIC_E_STATE);
    ck_assert_int_eq(fcgic_posix_attach_pool(px, NULL), FCGIC_E_INVAL);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fcgic_pool_submit(pool, &req, &a, NULL, fcgic_posix_now()), 0);
    ck_assert_int_eq(fcgic_posix_run_until(px, att_pool_done, &a, 20 * SEC), 0);
    ck_assert_int_eq(a.errors, 0);
    /* nothing left to wait for */
    ck_assert_int_eq(fcgic_posix_run_until(px, never, NULL, 20 * SEC), FCGIC_E_STATE);
    ck_assert_int_eq(fcgic_posix_detach_pool(px, pool), 0);
    ck_assert_int_eq(fcgic_posix_detach_pool(px, pool), FCGIC_E_NOT_FOUND);
    fcgic_pool_free(pool);

    /* a balancer: health probes every 50 ms and the on_end of a request
     * no member could take come from its tick */
    a.ends = 0;
    ck_assert_int_eq(fcgic_balancer_new(&a.b, NULL, &tr, &cb, &a, NULL), 0);
    ck_assert_int_eq(fcgic_posix_attach_balancer(px, a.b), 0);
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    mo.pool.target = app->url;
    mo.hc_interval_ns = 50 * MS;
    mo.hc_method = FCGIC_HC_REQUEST;
    mo.hc_params = params;
    mo.hc_nparams = 2;
    ck_assert_int_eq(fcgic_balancer_add(a.b, &mo, NULL, fcgic_posix_now()), 0);
    ck_assert_int_eq(fcgic_balancer_submit(a.b, &req, &a, NULL, fcgic_posix_now()), 0);
    ck_assert_int_eq(fcgic_balancer_set_status(a.b, 1, FCGIC_MEMBER_DISABLED, 0, fcgic_posix_now()), 0);
    ck_assert_int_eq(fcgic_balancer_submit(a.b, &req, &a, NULL, fcgic_posix_now()), 0);
    ck_assert_int_eq(fcgic_posix_run_until(px, att_bal_done, &a, 20 * SEC), 0);
    ck_assert_int_eq(a.all_down, 1);
    ck_assert_int_eq(a.errors, 0);
    ck_assert_int_eq(fcgic_posix_detach_balancer(px, a.b), 0);
    fcgic_balancer_free(a.b);
    fcgic_posix_free(px);
    harness_app_stop(app);
}
END_TEST

/* fcgic_posix_free() from on_end is deferred; run_until reports it. */
struct freer {
    struct fcgic_posix *p;
    int ended;
};

static void fr_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *res)
{
    struct freer *f = ud;
    f->ended++;
    fcgic_posix_free(f->p);
}

static int fr_done(void *ud)
{
    return ((struct freer *)ud)->ended > 1; /* never: the free ends the run */
}

START_TEST(free_from_callback)
{
    struct harness_app *app = start_echo(HARNESS_UNIX, NULL);
    struct freer f = {NULL, 0};
    ck_assert_int_eq(fcgic_posix_new(&f.p, NULL, NULL), 0);
    struct fcgic_conn_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_end = fr_end;
    struct req3 q;
    req_init(&q, "GET", "", 0);
    struct fcgic_conn *c;
    uint64_t now = fcgic_posix_now();
    ck_assert_int_eq(fcgic_posix_open(f.p, app->url, NULL, &cb, NULL, &c, now), 0);
    ck_assert_int_eq(fcgic_conn_submit(c, &q.req, &f, NULL, now), 0);
    fcgic_posix_kick(f.p, c, now);
    ck_assert_int_eq(fcgic_posix_run_until(f.p, fr_done, &f, 20 * SEC), FCGIC_E_CLOSED);
    ck_assert_int_eq(f.ended, 1);
    harness_app_stop(app);
}
END_TEST

/* ---- allocation failures ---------------------------------------------- */

START_TEST(failalloc_request)
{
    struct harness_app *app = start_echo(HARNESS_UNIX, NULL);
    struct req3 q;
    req_init(&q, "GET", "size=100", 0);
    struct fcgic_conn_callbacks cb = resp_callbacks();
    int ok = 0;
    long n;
    for (n = 1; n < 500 && !ok; n++) {
        struct failalloc fa;
        failalloc_init(&fa, n);
        struct resp r;
        memset(&r, 0, sizeof(r));
        struct fcgic_result res;
        int rc = fcgic_posix_request(app->url, NULL, &q.req, &cb, &r, &res, &fa.mem);
        ck_assert_int_eq(fa.live, 0);
        if (fa.failed)
            ck_assert_msg(rc == FCGIC_E_NOMEM, "allocation %ld: %s", n, fcgic_strerror_name(rc));
        else
            ck_assert_msg(rc == 0, "allocation %ld: %s", n, fcgic_strerror_name(rc));
        ck_assert_int_eq(res.error, rc);
        if (!fa.failed) {
            ck_assert_uint_eq(r.body.len, 100);
            ok = 1;
        }
        resp_free(&r);
    }
    ck_assert_int_eq(ok, 1);
    ck_assert_int_gt(n, 3);

    /* the object alone, and open */
    for (n = 1; n < 100; n++) {
        struct failalloc fa;
        failalloc_init(&fa, n);
        struct fcgic_posix *p = NULL;
        struct fcgic_conn *c = NULL;
        int rc = fcgic_posix_new(&p, NULL, &fa.mem);
        if (rc == 0)
            rc = fcgic_posix_open(p, app->url, NULL, &cb, NULL, &c, fcgic_posix_now());
        fcgic_posix_free(p);
        ck_assert_int_eq(fa.live, 0);
        if (!fa.failed) {
            ck_assert_int_eq(rc, 0);
            break;
        }
        ck_assert_int_eq(rc, FCGIC_E_NOMEM);
    }
    ck_assert_int_lt(n, 100);
    harness_app_stop(app);
}
END_TEST


/* ---- system errors, host-name lookups ---------------------------------- */

static int run_simple(const char *target, struct fcgic_result *res)
{
    struct req3 q;
    req_init(&q, "GET", "size=10", 0);
    struct fcgic_conn_options o;
    memset(&o, 0, sizeof(o));
    o.connect_timeout_ns = 10 * SEC;
    return fcgic_posix_request(target, &o, &q.req, NULL, NULL, res, NULL);
}

/* A missing unix socket, a refused port and a socket without permission
 * keep their errno: in results, from fcgic_posix_last_errno() and through
 * a pool. */
START_TEST(errno_kept)
{
    struct fcgic_result res;
    char target[160];
    snprintf(target, sizeof(target), "unix:/tmp/fcgic-no-such-%d.sock|fcgi://x/", (int)getpid());
    ck_assert_int_eq(run_simple(target, &res), FCGIC_E_CONNECT);
    ck_assert_int_eq(res.sys_errno, ENOENT);

    struct fcgic_posix *p;
    ck_assert_int_eq(fcgic_posix_new(&p, NULL, NULL), 0);
    struct fcgic_conn *c;
    struct fcgic_conn_callbacks cb = resp_callbacks();
    ck_assert_int_eq(fcgic_posix_open(p, target, NULL, &cb, NULL, &c, fcgic_posix_now()), FCGIC_E_CONNECT);
    ck_assert_int_eq(fcgic_posix_last_errno(p), ENOENT);
    struct fcgic_transport tr;
    fcgic_posix_transport(p, &tr);
    struct fcgic_pool_callbacks pcb;
    memset(&pcb, 0, sizeof(pcb));
    pcb.version = FCGIC_POOL_CALLBACKS_VERSION;
    struct fcgic_pool_options po;
    memset(&po, 0, sizeof(po));
    po.target = target;
    struct fcgic_pool *pool;
    ck_assert_int_eq(fcgic_pool_new(&pool, &po, &tr, &pcb, NULL, NULL), 0);
    struct req3 q;
    req_init(&q, "GET", "", 0);
    ck_assert_int_eq(fcgic_pool_submit(pool, &q.req, NULL, NULL, fcgic_posix_now()), FCGIC_E_CONNECT);
    ck_assert_int_eq(fcgic_pool_last_errno(pool), ENOENT);
    fcgic_pool_free(pool);
    fcgic_posix_free(p);

    snprintf(target, sizeof(target), "fcgi://127.0.0.1:%d/", free_tcp_port());
    ck_assert_int_eq(run_simple(target, &res), FCGIC_E_CONNECT);
    ck_assert_int_eq(res.sys_errno, ECONNREFUSED);

    /* EACCES: a socket file without write permission. Root is not
     * refused (nor for a directory without search permission): skipped. */
    if (geteuid() == 0)
        return;
    char dir[] = "/tmp/fcgic-eacces-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s.sock", dir);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    ck_assert_int_eq(chmod(sun.sun_path, 0), 0);
    snprintf(target, sizeof(target), "unix:%s|fcgi://x/", sun.sun_path);
    ck_assert_int_eq(run_simple(target, &res), FCGIC_E_CONNECT);
    ck_assert_int_eq(res.sys_errno, EACCES);
    close(l);
    unlink(sun.sun_path);
    rmdir(dir);
}
END_TEST

/* A resolver the test answers by hand. */
struct hook {
    struct fcgic_posix *p;
    struct fcgic_posix_query *q[8];
    char host[8][64];
    int calls;
    int at_once;      /* answer from inside the hook */
    int fail;         /* answer that the name does not exist */
    uint64_t ttl_ns;
    uint64_t now;     /* for answers at once */
    int cancels;
};

static void hook_answer(struct hook *h, int i, int fail, uint64_t now)
{
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    ck_assert_int_eq(getaddrinfo("127.0.0.1", NULL, &hints, &ai), 0);
    ck_assert_int_eq(fcgic_posix_resolved(h->p, h->q[i], fail ? NULL : ai, h->ttl_ns, now), 0);
    freeaddrinfo(ai);
}

static int hook_resolve(void *ud, const char *host, struct fcgic_posix_query *q)
{
    struct hook *h = ud;
    ck_assert_int_lt(h->calls, 8);
    h->q[h->calls] = q;
    snprintf(h->host[h->calls], sizeof(h->host[0]), "%s", host);
    h->calls++;
    if (h->at_once)
        hook_answer(h, h->calls - 1, h->fail || strncmp(host, "bad", 3) == 0, h->now);
    return 0;
}

static void hook_cancel(void *ud, struct fcgic_posix_query *q)
{
    struct hook *h = ud;
    (void)q;
    h->cancels++;
}

static struct fcgic_posix *hook_posix(struct hook *h)
{
    memset(h, 0, sizeof(*h));
    struct fcgic_posix_options o;
    memset(&o, 0, sizeof(o));
    o.version = FCGIC_POSIX_OPTIONS_VERSION;
    o.resolve = hook_resolve;
    o.resolve_cancel = hook_cancel;
    o.ud = h;
    ck_assert_int_eq(fcgic_posix_new(&h->p, &o, NULL), 0);
    return h->p;
}

/* The embedder's resolver answers later: the request, submitted at once,
 * runs when the answer comes; a failed lookup ends it with
 * FCGIC_E_RESOLVE; the free cancels a pending lookup. */
START_TEST(resolve_hook_later)
{
    struct harness_app *app = start_echo(HARNESS_TCP, NULL);
    struct hook h;
    struct fcgic_posix *p = hook_posix(&h);
    char target[96];
    snprintf(target, sizeof(target), "fcgi://backend.test:%d/", app->port);
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct resp *r = calloc(1, sizeof(*r));
    struct fcgic_conn *c;
    uint64_t now = fcgic_posix_now();
    ck_assert_int_eq(fcgic_posix_open(p, target, NULL, &cb, NULL, &c, now), 0);
    ck_assert_int_eq(h.calls, 1);
    ck_assert_str_eq(h.host[0], "backend.test");
    ck_assert_int_eq(fcgic_posix_fd(p, c), -1); /* no socket yet */
    struct req3 q;
    req_init(&q, "GET", "size=100", 0);
    ck_assert_int_eq(fcgic_conn_submit(c, &q.req, r, NULL, now), 0);
    fcgic_posix_kick(p, c, now);
    hook_answer(&h, 0, 0, fcgic_posix_now());
    ck_assert_int_eq(fcgic_posix_run_until(p, resp_ended, r, 20 * SEC), 0);
    ck_assert_int_eq(r->res.error, 0);
    ck_assert_uint_eq(r->body.len, 100);
    fcgic_posix_close(p, c);

    /* a lookup that fails */
    resp_free(r);
    memset(r, 0, sizeof(*r));
    ck_assert_int_eq(fcgic_posix_open(p, target, NULL, &cb, NULL, &c, now), 0);
    ck_assert_int_eq(h.calls, 2); /* ttl 0: not kept */
    ck_assert_int_eq(fcgic_conn_submit(c, &q.req, r, NULL, now), 0);
    hook_answer(&h, 1, 1, fcgic_posix_now());
    ck_assert_int_eq(r->ended, 1);
    ck_assert_int_eq(r->res.error, FCGIC_E_RESOLVE);
    ck_assert_int_eq(fcgic_posix_resolved(p, h.q[1], NULL, 0, now), FCGIC_E_INVAL); /* answered */
    fcgic_posix_close(p, c);

    /* pending at free: cancelled */
    ck_assert_int_eq(fcgic_posix_open(p, target, NULL, &cb, NULL, &c, now), 0);
    fcgic_posix_free(p);
    ck_assert_int_eq(h.cancels, 1);
    resp_free(r);
    free(r);
    harness_app_stop(app);
}
END_TEST

/* Answers are kept for their TTL: connections opened meanwhile ask no
 * one; after it, the name is looked up again. */
START_TEST(resolve_ttl)
{
    struct hook h;
    struct fcgic_posix *p = hook_posix(&h);
    h.at_once = 1;
    h.ttl_ns = SEC;
    struct fcgic_conn_callbacks cb = resp_callbacks();
    struct fcgic_conn *c;
    uint64_t t0 = 1000 * SEC;
    int port = free_tcp_port();
    char target[96];
    snprintf(target, sizeof(target), "fcgi://ttl.test:%d/", port);
    h.now = t0;
    ck_assert_int_eq(fcgic_posix_open(p, target, NULL, &cb, NULL, &c, t0), 0);
    fcgic_posix_close(p, c);
    ck_assert_int_eq(h.calls, 1);
    ck_assert_int_eq(fcgic_posix_open(p, target, NULL, &cb, NULL, &c, t0 + SEC / 2), 0);
    fcgic_posix_close(p, c);
    ck_assert_int_eq(h.calls, 1); /* kept */
    h.now = t0 + 2 * SEC;
    ck_assert_int_eq(fcgic_posix_open(p, target, NULL, &cb, NULL, &c, t0 + 2 * SEC), 0);
    fcgic_posix_close(p, c);
    ck_assert_int_eq(h.calls, 2); /* expired: asked again */
    /* an answer at once that fails is open's error */
    h.fail = 1;
    ck_assert_int_eq(fcgic_posix_open(p, "fcgi://other.test:1/", NULL, &cb, NULL, &c, t0), FCGIC_E_RESOLVE);
    fcgic_posix_free(p);
}
END_TEST

/* A balancer takes a failed lookup as a member error and fails over. */
struct bal_ctx {
    int ends, err;
    unsigned retries;
    int failovers;
    int failover_err;
};

static void bal_end(void *ud, const struct fcgic_result *res)
{
    struct bal_ctx *b = ud;
    b->ends++;
    b->err = res->error;
    b->retries = res->retries;
}

static void bal_event(void *ud, const struct fcgic_event *ev)
{
    struct bal_ctx *b = ud;
    if (ev->kind == FCGIC_EVENT_FAILOVER) {
        b->failovers++;
        b->failover_err = ev->error;
    }
}

static int bal_done(void *ud)
{
    return ((struct bal_ctx *)ud)->ends > 0;
}

START_TEST(resolve_failure_fails_over)
{
    struct harness_app *app = start_echo(HARNESS_TCP, NULL);
    struct hook h;
    struct fcgic_posix *p = hook_posix(&h);
    struct fcgic_transport tr;
    fcgic_posix_transport(p, &tr);
    struct bal_ctx bc;
    memset(&bc, 0, sizeof(bc));
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_end = bal_end;
    cb.on_event = bal_event;
    struct fcgic_balancer *b;
    ck_assert_int_eq(fcgic_balancer_new(&b, NULL, &tr, &cb, &bc, NULL), 0);
    ck_assert_int_eq(fcgic_posix_attach_balancer(p, b), 0);
    char t1[96], t2[96];
    snprintf(t1, sizeof(t1), "fcgi://bad.test:%d/", app->port);
    snprintf(t2, sizeof(t2), "fcgi://good.test:%d/", app->port);
    struct fcgic_member_options mo;
    memset(&mo, 0, sizeof(mo));
    unsigned id;
    mo.pool.target = t1;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, &id, 0), 0);
    mo.pool.target = t2;
    ck_assert_int_eq(fcgic_balancer_add(b, &mo, &id, 0), 0);
    struct req3 q;
    req_init(&q, "GET", "size=10", 0);
    ck_assert_int_eq(fcgic_balancer_submit(b, &q.req, &bc, NULL, fcgic_posix_now()), 0);
    ck_assert_int_eq(h.calls, 1);
    ck_assert_str_eq(h.host[0], "bad.test");
    hook_answer(&h, 0, 1, fcgic_posix_now()); /* fails: the request moves on */
    ck_assert_int_eq(bc.failovers, 1);
    ck_assert_int_eq(bc.failover_err, FCGIC_E_RESOLVE);
    ck_assert_int_eq(h.calls, 2);
    ck_assert_str_eq(h.host[1], "good.test");
    hook_answer(&h, 1, 0, fcgic_posix_now());
    ck_assert_int_eq(fcgic_posix_run_until(p, bal_done, &bc, 20 * SEC), 0);
    ck_assert_int_eq(bc.err, 0);
    ck_assert_uint_eq(bc.retries, 1);
    fcgic_posix_detach_balancer(p, b);
    fcgic_balancer_free(b);
    fcgic_posix_free(p);
    harness_app_stop(app);
}
END_TEST

/* "localhost" through c-ares (when built with it): no getaddrinfo. */
START_TEST(resolve_localhost_cares)
{
    if (!fcgic_posix_has_cares())
        return;
    struct harness_app *app = start_echo(HARNESS_TCP, NULL);
    char target[96];
    snprintf(target, sizeof(target), "fcgi://localhost:%d/", app->port);
    struct fcgic_result res;
    ck_assert_int_eq(run_simple(target, &res), 0);
    ck_assert_int_eq(res.got_end_request, 1);
    harness_app_stop(app);
}
END_TEST

static Suite *posix_suite(void)
{
    Suite *s = suite_create("posix");
    TCase *tc;

    tc = tcase_create("address");
    tcase_add_loop_test(tc, addr_valid, 0, (int)(sizeof(good) / sizeof(good[0])));
    tcase_add_loop_test(tc, addr_invalid, 0, (int)(sizeof(bad_addrs) / sizeof(bad_addrs[0])));
    tcase_add_test(tc, addr_limits);
    tcase_add_test(tc, addr_open_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("connect");
    tcase_add_loop_test(tc, connect_ipv6_and_name, 0, 3);
    tcase_add_test(tc, connect_no_descriptors);
    tcase_add_test(tc, connect_refused_tcp);
    tcase_add_test(tc, connect_refused_unix);
    tcase_add_test(tc, connect_timeout);
    suite_add_tcase(s, tc);

    tc = tcase_create("blocking");
    tcase_add_loop_test(tc, sync_get, 0, 2);
    tcase_add_loop_test(tc, sync_post_1mib, 0, 4);
    tcase_add_test(tc, sync_pause);
    tcase_add_test(tc, sync_peer_closed);
    tcase_add_test(tc, no_sigpipe);
    suite_add_tcase(s, tc);

    tc = tcase_create("event_loop");
    tcase_add_loop_test(tc, loop_callbacks, 0, 2);
    tcase_add_test(tc, free_from_callback);
    tcase_add_test(tc, kick_inside_submit);
    tcase_add_test(tc, kick_inside_resume_keeps_held_input);
    tcase_add_test(tc, free_from_on_timer);
    tcase_add_test(tc, pause_holds_reading);
    suite_add_tcase(s, tc);

    tc = tcase_create("transport");
    tcase_add_loop_test(tc, transport_ops, 0, 2);
    tcase_add_test(tc, attached_pool_and_balancer);
    tcase_add_loop_test(tc, check_sees_eof, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("errno_dns");
    tcase_add_test(tc, errno_kept);
    tcase_add_test(tc, resolve_hook_later);
    tcase_add_test(tc, resolve_ttl);
    tcase_add_test(tc, resolve_failure_fails_over);
    tcase_add_test(tc, resolve_localhost_cares);
    suite_add_tcase(s, tc);
    tc = tcase_create("failalloc");
    tcase_add_test(tc, failalloc_request);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testutil_run(posix_suite());
}

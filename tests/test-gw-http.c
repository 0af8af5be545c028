/* The gateway's HTTP connection layer (examples/minimal_gateway/http*.c)
 * and its event loop: a real server on a thread, raw bytes over loopback. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "http_echo.h"
#include "http_int.h"
#include "loop.h"
#include "testutil.h"

/* The server under test ---------------------------------------------------------- */

struct srv {
    struct gw_loop *loop;
    struct gw_http_server *http;
    struct gw_listener *ls;
    pthread_t thread;
    uint16_t port;
    struct gw_async stats_req;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stats_done;
    struct gw_http_stats stats;
};

/* what the test handler saw (written on the loop thread) */
static atomic_int gone_why;
static atomic_int gone_count;
static atomic_int drained;
static atomic_int told_high;
static atomic_size_t max_queued;
static atomic_size_t flood_left;

static struct gw_http_handler echo;

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    gw_loop_run(s->loop);
    return NULL;
}

static void on_stats(struct gw_loop *loop, struct gw_async *a)
{
    struct srv *s = GW_CONTAINER_OF(a, struct srv, stats_req);
    pthread_mutex_lock(&s->lock);
    gw_http_server_stats(s->http, &s->stats);
    s->stats_done = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static struct gw_http_stats srv_stats(struct srv *s)
{
    pthread_mutex_lock(&s->lock);
    s->stats_done = false;
    gw_async_send(s->loop, &s->stats_req);
    while (!s->stats_done)
        pthread_cond_wait(&s->cond, &s->lock);
    struct gw_http_stats st = s->stats;
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* Test handler: a few paths of its own, the echo handler for the rest -------------- */

static bool path_is(const struct gw_http_request *r, const char *p)
{
    return r->path_len == strlen(p) && memcmp(r->path, p, r->path_len) == 0;
}

static void note_queued(struct gw_http_conn *c)
{
    size_t q = gw_http_conn_queued(c);
    if (q > atomic_load(&max_queued))
        atomic_store(&max_queued, q);
}

static void flood(struct gw_http_conn *c)
{
    static char chunk[16384];
    memset(chunk, 'f', sizeof chunk);
    while (atomic_load(&flood_left) > 0) {
        size_t n = atomic_load(&flood_left) < sizeof chunk ? atomic_load(&flood_left) : sizeof chunk;
        atomic_fetch_sub(&flood_left, n);
        int r = gw_http_response_write(c, chunk, n);
        note_queued(c);
        if (r < 0) {
            gw_http_response_abort(c);
            return;
        }
        if (r == 1) {
            atomic_fetch_add(&told_high, 1);
            return;
        }
    }
    gw_http_response_end(c);
}

static void t_request(struct gw_http_conn *c, const struct gw_http_request *r, void *ud)
{
    gw_http_set_data(c, NULL);
    if (path_is(r, "/reject")) {
        gw_http_response_error(c, 403);
    } else if (path_is(r, "/hang")) { /* a response that never ends */
        gw_http_response_head(c, 200, NULL, NULL, 0, -1);
        gw_http_response_write(c, "partial", 7);
    } else if (path_is(r, "/sink")) { /* read the whole body, then answer */
        gw_http_set_data(c, (void *)"sink");
        gw_http_body_start(c);
    } else if (path_is(r, "/flood")) {
        gw_http_response_head(c, 200, NULL, NULL, 0, (int64_t)atomic_load(&flood_left));
        flood(c);
    } else if (path_is(r, "/headers")) {
        struct gw_http_header h[] = {{"X-A", 3, "1", 1},
                                     {"Connection", 10, "upgrade", 7},
                                     {"Content-Length", 14, "999", 3},
                                     {"X-B", 3, "two words", 9}};
        gw_http_response_head(c, 200, "Fine", h, 4, 2);
        gw_http_response_write(c, "ok", 2);
        gw_http_response_end(c);
    } else if (path_is(r, "/short")) { /* announces 10 bytes, sends 3: truncated */
        gw_http_response_head(c, 200, NULL, NULL, 0, 10);
        gw_http_response_write(c, "abc", 3);
        gw_http_response_end(c);
    } else if (path_is(r, "/bad-header")) {
        struct gw_http_header h = {"X-Split", 7, "a\r\nInjected: 1", 14};
        int rc = gw_http_response_head(c, 200, NULL, &h, 1, 0);
        gw_http_response_error(c, rc == -EINVAL ? 500 : 200);
    } else {
        echo.on_request(c, r, ud);
    }
}

static size_t sink_total;

static void t_body(struct gw_http_conn *c, const char *data, size_t len, void *ud)
{
    if (gw_http_data(c)) {
        sink_total += len;
        gw_http_body_consumed(c, len);
        return;
    }
    echo.on_body(c, data, len, ud);
    note_queued(c);
}

static void t_body_end(struct gw_http_conn *c, void *ud)
{
    if (gw_http_data(c)) {
        char text[32];
        int n = snprintf(text, sizeof text, "%zu\n", sink_total);
        sink_total = 0;
        gw_http_response_head(c, 200, NULL, NULL, 0, n);
        gw_http_response_write(c, text, (size_t)n);
        gw_http_response_end(c);
        return;
    }
    echo.on_body_end(c, ud);
}

static void t_drain(struct gw_http_conn *c, void *ud)
{
    atomic_fetch_add(&drained, 1);
    if (atomic_load(&flood_left) > 0 || gw_http_conn_queued(c) == 0) {
        flood(c);
        return;
    }
    echo.on_drain(c, ud);
}

static void t_gone(struct gw_http_conn *c, int why, void *ud)
{
    atomic_store(&gone_why, why);
    atomic_fetch_add(&gone_count, 1);
    sink_total = 0;
}

static const struct gw_http_handler test_handler = {
    .on_request = t_request,
    .on_body = t_body,
    .on_body_end = t_body_end,
    .on_drain = t_drain,
    .on_client_gone = t_gone,
};

static struct gw_http_settings settings;

static void settings_reset(void)
{
    gw_http_settings_default(&settings);
    settings.max_request_line = 1000;
    settings.max_header_fields = 20;
    settings.max_header_field_size = 500;
    settings.max_body = 100000;
}

static struct srv *srv_start(void)
{
    struct srv *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    gw_http_echo_handler(&echo);
    atomic_store(&gone_why, 0);
    atomic_store(&gone_count, 0);
    atomic_store(&drained, 0);
    atomic_store(&told_high, 0);
    atomic_store(&max_queued, 0);
    ck_assert_int_eq(gw_loop_new(&s->loop), 0);
    ck_assert_int_eq(gw_http_server_new(&s->http, s->loop, &settings, &test_handler), 0);
    ck_assert_int_eq(gw_listener_new(&s->ls, s->loop, "127.0.0.1", 0, 64, gw_http_server_on_accept, s->http), 0);
    s->port = gw_listener_port(s->ls);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    gw_async_init(&s->stats_req, on_stats);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
    return s;
}

static void srv_stop(struct srv *s)
{
    gw_loop_stop(s->loop);
    pthread_join(s->thread, NULL);
    gw_listener_free(s->ls);
    gw_http_server_free(s->http);
    gw_loop_free(s->loop);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

/* Client side ------------------------------------------------------------------------ */

static int cl_connect_rcvbuf(struct srv *s, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(s->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int cl_connect(struct srv *s)
{
    return cl_connect_rcvbuf(s, 0);
}

static void cl_send(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        ck_assert_int_gt(w, 0);
        p += w;
        n -= (size_t)w;
    }
}

static void cl_sends(int fd, const char *p)
{
    cl_send(fd, p, strlen(p));
}

/* One byte per send, with a pause, so the server parses every split. */
static void cl_send_bytewise(int fd, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cl_send(fd, p + i, 1);
        usleep(100);
    }
}

/* Everything until EOF (or the 10 s receive timeout). */
static char *cl_read_all(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
        ssize_t r = recv(fd, buf + n, cap - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Whether the server closed: EOF (or reset) within the receive timeout, no byte. */
static bool cl_closed(int fd)
{
    char ch;
    ssize_t r = recv(fd, &ch, 1, 0);
    return r == 0 || (r < 0 && errno == ECONNRESET);
}

struct resp {
    int status;
    char head[4096];
    char *body;
    size_t body_len;
};

static bool read_exact(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

static bool read_line(int fd, char *line, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        if (!read_exact(fd, line + n, 1))
            return false;
        if (line[n++] == '\n')
            break;
    }
    line[n] = '\0';
    return true;
}

/* The value of header `name` in r->head ("" when absent). */
static const char *resp_header(const struct resp *r, const char *name, char *out, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *p = strcasestr(r->head, key);
    out[0] = '\0';
    if (p) {
        p += strlen(key);
        size_t n = strcspn(p, "\r");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    }
    return out;
}

/* Read one response: the head, then a body framed by Content-Length, chunked,
 * or the connection's end; none for HEAD, 1xx, 204, 304. */
static void cl_response(int fd, struct resp *r, bool head_req)
{
    memset(r, 0, sizeof *r);
    size_t n = 0;
    char line[2048];
    for (;;) {
        ck_assert_msg(read_line(fd, line, sizeof line), "no complete head: %s", r->head);
        size_t l = strlen(line);
        ck_assert_uint_lt(n + l, sizeof r->head);
        memcpy(r->head + n, line, l + 1);
        n += l;
        if (strcmp(line, "\r\n") == 0)
            break;
    }
    ck_assert_int_eq(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    char v[64];
    r->body = malloc(1);
    if (head_req || r->status / 100 == 1 || r->status == 204 || r->status == 304)
        return;
    if (resp_header(r, "Content-Length", v, sizeof v)[0]) {
        r->body_len = strtoul(v, NULL, 10);
        r->body = realloc(r->body, r->body_len + 1);
        ck_assert(read_exact(fd, r->body, r->body_len));
    } else if (strcasecmp(resp_header(r, "Transfer-Encoding", v, sizeof v), "chunked") == 0) {
        for (;;) {
            ck_assert(read_line(fd, line, sizeof line));
            size_t sz = strtoul(line, NULL, 16);
            if (sz == 0) {
                ck_assert(read_line(fd, line, sizeof line));
                ck_assert_str_eq(line, "\r\n");
                break;
            }
            r->body = realloc(r->body, r->body_len + sz + 1);
            ck_assert(read_exact(fd, r->body + r->body_len, sz));
            r->body_len += sz;
            ck_assert(read_exact(fd, line, 2));
            ck_assert(memcmp(line, "\r\n", 2) == 0);
        }
    } else {
        free(r->body);
        r->body = cl_read_all(fd, &r->body_len);
    }
    r->body[r->body_len] = '\0';
}

static void resp_free(struct resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* Send `req`, expect one response with `status` and `body` (NULL: any). */
static void expect_response(int fd, const char *req, int status, const char *body)
{
    if (req)
        cl_sends(fd, req);
    struct resp r;
    cl_response(fd, &r, false);
    ck_assert_int_eq(r.status, status);
    if (body)
        ck_assert_str_eq(r.body, body);
    resp_free(&r);
}

/* Send `req` on a new connection: the whole answer is `status` and the
 * connection is closed. */
static void expect_error_close(struct srv *s, const char *req, size_t len, int status)
{
    int fd = cl_connect(s);
    cl_send(fd, req, len);
    size_t n;
    char *all = cl_read_all(fd, &n);
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
    ck_assert_msg(strncmp(all, want, strlen(want)) == 0, "want %d, got: %s", status, all);
    ck_assert_ptr_nonnull(strstr(all, "\r\nConnection: close\r\n"));
    char body[16];
    snprintf(body, sizeof body, "\r\n\r\n%d ", status);
    ck_assert_ptr_nonnull(strstr(all, body)); /* small text body */
    free(all);
    close(fd);
}

static void wait_for(atomic_int *v, int at_least)
{
    for (int i = 0; i < 1000 && atomic_load(v) < at_least; i++)
        usleep(10000);
    ck_assert_int_ge(atomic_load(v), at_least);
}

#define SMUGGLE(s, text, status) expect_error_close(s, text, sizeof text - 1, status)

#define REQ(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

/* Tests ---------------------------------------------------------------------------- */

START_TEST(test_loop_timers)
{
    struct gw_loop *l;
    ck_assert_int_eq(gw_loop_new(&l), 0);
    struct gw_timer t[64];
    uint64_t now = gw_loop_now(l);
    for (int i = 0; i < 64; i++) {
        gw_timer_init(&t[i], NULL);
        ck_assert_int_eq(gw_timer_start(l, &t[i], now + (uint64_t)((i * 37) % 64) * 1000 + 5000), 0);
    }
    for (int i = 0; i < 64; i += 2)
        gw_timer_stop(l, &t[i]);
    uint64_t last = 0;
    int n = 0;
    while (gw_loop_next_deadline(l) != UINT64_MAX) {
        uint64_t d = gw_loop_next_deadline(l);
        ck_assert_uint_ge(d, last);
        last = d;
        for (int i = 0; i < 64; i++)
            if (gw_timer_active(&t[i]) && t[i].deadline == d) {
                gw_timer_stop(l, &t[i]);
                n++;
                break;
            }
    }
    ck_assert_int_eq(n, 32);
    gw_loop_free(l);
}
END_TEST

static int fired;
static void count_timer(struct gw_loop *l, struct gw_timer *t)
{
    fired++;
}
static void count_defer(struct gw_loop *l, struct gw_defer *d)
{
    fired += 100;
}

START_TEST(test_loop_run_once)
{
    struct gw_loop *l;
    ck_assert_int_eq(gw_loop_new(&l), 0);
    struct gw_timer t;
    struct gw_defer d;
    gw_timer_init(&t, count_timer);
    gw_defer_init(&d, count_defer);
    fired = 0;
    ck_assert_int_eq(gw_timer_start(l, &t, gw_loop_now(l) + 1000000), 0);
    gw_defer_post(l, &d);
    gw_defer_post(l, &d); /* once */
    ck_assert_int_eq(gw_loop_run_once(l, 0), 0);
    ck_assert_int_ge(fired, 100); /* deferred work ran once; the timer may have too, on a slow machine */
    ck_assert_int_le(fired, 101);
    while (fired < 101)
        ck_assert_int_eq(gw_loop_run_once(l, 5000000000u), 0);
    ck_assert(!gw_timer_active(&t));
    gw_loop_free(l);
}
END_TEST

START_TEST(test_keepalive_pipelining)
{
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    expect_response(fd, REQ("/one"), 200, "GET /one t\n");
    expect_response(fd, REQ("/two"), 200, "GET /two t\n");
    /* three at once, the second with a body: answered in order */
    cl_sends(fd, REQ("/a") "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz" REQ("/c"));
    expect_response(fd, NULL, 200, "GET /a t\n");
    expect_response(fd, NULL, 200, "xyz");
    expect_response(fd, NULL, 200, "GET /c t\n");
    /* many small pipelined requests, written at once */
    char many[64 * 40] = "";
    for (int i = 0; i < 64; i++) {
        char one[40];
        snprintf(one, sizeof one, REQ("/%d"), i);
        strcat(many, one);
    }
    cl_sends(fd, many);
    for (int i = 0; i < 64; i++) {
        char want[32];
        snprintf(want, sizeof want, "GET /%d t\n", i);
        expect_response(fd, NULL, 200, want);
    }
    close(fd);
    srv_stop(s);
}
END_TEST

START_TEST(test_keepalive_rules)
{
    settings.max_keepalive_requests = 2;
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    struct resp r;
    char v[64];
    cl_sends(fd, REQ("/1"));
    cl_response(fd, &r, false);
    ck_assert_str_eq(resp_header(&r, "Connection", v, sizeof v), "");
    resp_free(&r);
    cl_sends(fd, REQ("/2"));
    cl_response(fd, &r, false);
    ck_assert_str_eq(resp_header(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    ck_assert(cl_closed(fd));
    close(fd);
    /* Connection: close */
    fd = cl_connect(s);
    cl_sends(fd, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    cl_response(fd, &r, false);
    ck_assert_str_eq(resp_header(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    ck_assert(cl_closed(fd));
    close(fd);
    /* HTTP/1.0: closed unless asked; kept with keep-alive and a known length */
    fd = cl_connect(s);
    cl_sends(fd, "GET /x HTTP/1.0\r\n\r\n");
    cl_response(fd, &r, false);
    ck_assert_str_eq(r.body, "GET /x \n");
    ck_assert_str_eq(resp_header(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    ck_assert(cl_closed(fd));
    close(fd);
    fd = cl_connect(s);
    cl_sends(fd, "GET /y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cl_response(fd, &r, false);
    ck_assert_str_eq(resp_header(&r, "Connection", v, sizeof v), "keep-alive");
    resp_free(&r);
    expect_response(fd, "GET /z HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, "GET /z \n");
    close(fd);
    srv_stop(s);
}
END_TEST

START_TEST(test_keepalive_off)
{
    settings.keep_alive = false;
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    struct resp r;
    char v[64];
    cl_sends(fd, REQ("/"));
    cl_response(fd, &r, false);
    ck_assert_str_eq(resp_header(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    ck_assert(cl_closed(fd));
    close(fd);
    srv_stop(s);
}
END_TEST

START_TEST(test_keepalive_timeout)
{
    settings.keepalive_timeout_ns = 200000000;
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    expect_response(fd, REQ("/"), 200, NULL);
    ck_assert(cl_closed(fd)); /* closed by the server, silently */
    close(fd);
    srv_stop(s);
}
END_TEST

START_TEST(test_idle_holds_no_buffer)
{
    struct srv *s = srv_start();
    int fd[4];
    for (int i = 0; i < 4; i++) {
        fd[i] = cl_connect(s);
        expect_response(fd[i], REQ("/"), 200, NULL);
    }
    struct gw_http_stats st = srv_stats(s);
    ck_assert_uint_eq(st.conns, 4);
    ck_assert_uint_eq(st.active, 0);
    ck_assert_uint_ge(st.blocks_free, 1);
    ck_assert_uint_le(gw_http_conn_size(), 400);
    for (int i = 0; i < 4; i++)
        close(fd[i]);
    srv_stop(s);
}
END_TEST

static const char chunked_req[] = "POST /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: x\r\n\r\n";

START_TEST(test_body_content_length)
{
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    static const char req[] = "POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world";
    cl_send_bytewise(fd, req, sizeof req - 1);
    expect_response(fd, NULL, 200, "hello world");
    /* a body bigger than the read buffer, streamed through */
    size_t big = 90000;
    char *body = malloc(big);
    for (size_t i = 0; i < big; i++)
        body[i] = (char)('a' + i % 26);
    char head[128];
    snprintf(head, sizeof head, "POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", big);
    cl_sends(fd, head);
    cl_send(fd, body, big);
    struct resp r;
    cl_response(fd, &r, false);
    ck_assert_uint_eq(r.body_len, big);
    ck_assert(memcmp(r.body, body, big) == 0);
    /* The head went out with more body unread than the layer would drop
     * after the response (discard_max, 64 KiB): it says the connection
     * closes, before the client sends another request on it. */
    char v[64];
    ck_assert_str_eq(resp_header(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    free(body);
    close(fd);
    srv_stop(s);
}
END_TEST

START_TEST(test_body_chunked)
{
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    cl_send_bytewise(fd, chunked_req, sizeof chunked_req - 1);
    expect_response(fd, NULL, 200, "hello world!");
    cl_sends(fd, chunked_req); /* at once, same connection: trailers were skipped cleanly */
    expect_response(fd, NULL, 200, "hello world!");
    expect_response(fd, REQ("/after"), 200, "GET /after t\n");
    close(fd);
    srv_stop(s);
}
END_TEST

START_TEST(test_body_discarded)
{
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    /* answered without reading the body: the body is read and dropped, the connection kept */
    expect_response(fd, "POST /reject HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n12345", 403, "403 Forbidden\n");
    expect_response(fd, "POST /reject HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                    403, NULL);
    expect_response(fd, REQ("/next"), 200, "GET /next t\n");
    close(fd);
    srv_stop(s);
}
END_TEST

START_TEST(test_expect_continue)
{
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    cl_sends(fd, "POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    char line[64];
    ck_assert(read_exact(fd, line, 25));
    line[25] = '\0';
    ck_assert_str_eq(line, "HTTP/1.1 100 Continue\r\n\r\n");
    cl_sends(fd, "data");
    expect_response(fd, NULL, 200, "data");
    /* a final status first: no 100, the body is not read, the connection closes */
    cl_sends(fd, "POST /reject HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    struct resp r;
    char v[64];
    cl_response(fd, &r, false);
    ck_assert_int_eq(r.status, 403);
    ck_assert_str_eq(resp_header(&r, "Connection", v, sizeof v), "close");
    resp_free(&r);
    ck_assert(cl_closed(fd));
    close(fd);
    /* an expectation the server does not know */
    SMUGGLE(s, "POST / HTTP/1.1\r\nHost: t\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx", 417);
    srv_stop(s);
}
END_TEST

START_TEST(test_head_204_304)
{
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    char v[64];
    struct resp r;
    cl_sends(fd, "HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" REQ("/status/204") REQ("/status/304") REQ("/last"));
    cl_response(fd, &r, true);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(resp_header(&r, "Content-Length", v, sizeof v), "10");
    resp_free(&r);
    cl_response(fd, &r, false);
    ck_assert_int_eq(r.status, 204);
    ck_assert_str_eq(resp_header(&r, "Content-Length", v, sizeof v), "");
    ck_assert_str_eq(resp_header(&r, "Transfer-Encoding", v, sizeof v), "");
    resp_free(&r);
    cl_response(fd, &r, false);
    ck_assert_int_eq(r.status, 304);
    resp_free(&r);
    /* no stray body bytes before the next response */
    expect_response(fd, NULL, 200, "GET /last t\n");
    close(fd);
    srv_stop(s);
}
END_TEST

/* The word-at-a-time value check against the byte-at-a-time rule, on
 * values of every length up to 40 at every alignment, mostly letters with
 * tabs, DEL, obs-text and control bytes mixed in. */
START_TEST(test_field_value_scan)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    char buf[64];
    for (int t = 0; t < 300000; t++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = x % 41, off = (x >> 8) % 8;
        char *v = buf + off;
        bool want = true;
        for (size_t k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned r = (unsigned)(x % 64);
            unsigned char ch = r == 0 ? (unsigned char)(x >> 16) : r == 1 ? "\t\x7f\x1f\x80\xff "[(x >> 16) % 6] : (unsigned char)('a' + r % 26);
            v[k] = (char)ch;
            want = want && (ch == '\t' || (ch >= 0x20 && ch != 0x7f));
        }
        ck_assert_msg(gw__field_value_ok(v, n) == want, "case %d: length %zu", t, n);
    }
}
END_TEST

START_TEST(test_response_headers)
{
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    struct resp r;
    char v[64];
    cl_sends(fd, REQ("/headers"));
    cl_response(fd, &r, false);
    ck_assert(strncmp(r.head, "HTTP/1.1 200 Fine\r\nX-A: 1\r\nX-B: two words\r\nDate: ", 49) == 0);
    ck_assert_str_eq(resp_header(&r, "Content-Length", v, sizeof v), "2");
    ck_assert_str_eq(resp_header(&r, "Connection", v, sizeof v), "");
    ck_assert_str_eq(resp_header(&r, "Server", v, sizeof v), "minimal_gateway");
    ck_assert_ptr_null(strstr(r.head, "999"));
    ck_assert_str_eq(r.body, "ok");
    resp_free(&r);
    /* CR LF in a header value is refused */
    expect_response(fd, REQ("/bad-header"), 500, NULL);
    /* chunked when the length is unknown */
    cl_sends(fd, "POST /e HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    cl_response(fd, &r, false);
    ck_assert_str_eq(resp_header(&r, "Transfer-Encoding", v, sizeof v), "chunked");
    ck_assert_str_eq(r.body, "abc");
    resp_free(&r);
    close(fd);
    /* shorter than announced: visibly truncated */
    fd = cl_connect(s);
    cl_sends(fd, REQ("/short"));
    size_t n;
    char *all = cl_read_all(fd, &n);
    ck_assert(strstr(all, "Content-Length: 10\r\n") != NULL);
    ck_assert(n > 3 && memcmp(all + n - 7, "\r\n\r\nabc", 7) == 0);
    free(all);
    close(fd);
    srv_stop(s);
}
END_TEST

START_TEST(test_absolute_form)
{
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    expect_response(fd, "GET http://example.org/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n", 200, "GET /p example.org\n");
    expect_response(fd, "GET http://example.org HTTP/1.1\r\nHost: other\r\n\r\n", 200, "GET / example.org\n");
    expect_response(fd, "GET /q?x=1 HTTP/1.1\r\nHost: h:8080\r\n\r\n", 200, "GET /q h:8080\n");
    close(fd);
    SMUGGLE(s, "GET http://user@example.org/ HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    SMUGGLE(s, "GET ftp://example.org/ HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    srv_stop(s);
}
END_TEST

START_TEST(test_limits)
{
    struct srv *s = srv_start();
    char req[4096];
    /* request line over 1000 bytes: 414 */
    int n = snprintf(req, sizeof req, "GET /%01100d HTTP/1.1\r\nHost: t\r\n\r\n", 0);
    expect_error_close(s, req, (size_t)n, 414);
    /* 21 fields: 431 */
    n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < 20; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "X-%d: y\r\n", i);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    expect_error_close(s, req, (size_t)n, 431);
    /* a field of 600 bytes: 431 */
    n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: t\r\nX-Long: %0600d\r\n\r\n", 0);
    expect_error_close(s, req, (size_t)n, 431);
    /* a head larger than the read buffer, fields each within limits: 431 */
    settings.max_header_fields = 100;
    srv_stop(s);
    s = srv_start();
    char *huge = malloc(40000);
    n = snprintf(huge, 40000, "GET / HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; i < 90; i++)
        n += snprintf(huge + n, 40000 - (size_t)n, "X-%d: %0400d\r\n", i, 0);
    n += snprintf(huge + n, 40000 - (size_t)n, "\r\n");
    expect_error_close(s, huge, (size_t)n, 431);
    free(huge);
    /* Content-Length over max_body: 413 before reading the body */
    SMUGGLE(s, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100001\r\n\r\n", 413);
    /* a chunked body that grows over it */
    int fd = cl_connect(s);
    cl_sends(fd, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[20000];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 6; i++) {
        char sz[16];
        snprintf(sz, sizeof sz, "%zx\r\n", sizeof chunk);
        cl_sends(fd, sz);
        cl_send(fd, chunk, sizeof chunk);
        cl_sends(fd, "\r\n");
    }
    char *all = cl_read_all(fd, NULL);
    ck_assert_msg(strncmp(all, "HTTP/1.1 413 ", 13) == 0, "%s", all);
    free(all);
    close(fd);
    wait_for(&gone_count, 1);
    ck_assert_int_eq(atomic_load(&gone_why), GW_HTTP_GONE_BODY_LIMIT);
    srv_stop(s);
}
END_TEST

START_TEST(test_smuggling)
{
    struct srv *s = srv_start();
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 1\r\n\r\nx", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: +1\r\n\r\nx", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\nx", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 1 1\r\n\r\nx", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 0x1\r\n\r\nx", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length : 1\r\n\r\nx", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501);
    SMUGGLE(s, "POST /sink HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    SMUGGLE(s, "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400);   /* obs-fold */
    SMUGGLE(s, "GET / HTTP/1.1\r\n Host: t\r\n\r\n", 400);               /* space before a field */
    SMUGGLE(s, "GET / HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n", 400);         /* bare LF */
    SMUGGLE(s, "GET / HTTP/1.1\nHost: t\r\n\r\n", 400);                   /* bare LF, request line */
    SMUGGLE(s, "GET / HTTP/1.1\r\nHost: t\r\n\n", 400);                   /* bare LF ends the head */
    SMUGGLE(s, "GET / HTTP/1.1\r\nHost: t\rX-A: b\r\n\r\n", 400);         /* bare CR */
    SMUGGLE(s, "GET /\0 HTTP/1.1\r\nHost: t\r\n\r\n", 400);               /* NUL in the target */
    SMUGGLE(s, "GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n", 400);             /* control byte in the target */
    SMUGGLE(s, "GET /\x7f HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    SMUGGLE(s, "GET /a#b HTTP/1.1\r\nHost: t\r\n\r\n", 400);
    SMUGGLE(s, "GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400);                /* two spaces */
    SMUGGLE(s, "GET / HTTP/1.1\r\nX-A: \x01\r\nHost: t\r\n\r\n", 400);    /* control byte in a value */
    /* a control byte or DEL anywhere in a long value fails (llhttp refuses
     * them too), a tab or obs-text passes */
    SMUGGLE(s, "GET / HTTP/1.1\r\nX-A: abcdefgh\x01ijklmnop\r\nHost: t\r\n\r\n", 400);
    SMUGGLE(s, "GET / HTTP/1.1\r\nX-A: abcdefghijklmno\x7f\r\nHost: t\r\n\r\n", 400);
    {
        int fd = cl_connect(s);
        cl_sends(fd, "GET /tab HTTP/1.1\r\nX-A: a\tb\tcdefgh\x80\xffijklmnop\tq\r\nHost: t\r\n\r\n");
        expect_response(fd, NULL, 200, "GET /tab t\n");
        close(fd);
    }
    SMUGGLE(s, "GET / HTTP/1.1\r\n\r\n", 400);                           /* no Host */
    SMUGGLE(s, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    SMUGGLE(s, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
    SMUGGLE(s, "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
    SMUGGLE(s, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405);
    /* errors inside a chunked body: answered by the layer, the handler told */
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", 400);
    SMUGGLE(s, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n", 400);
    wait_for(&gone_count, 6);
    ck_assert_int_eq(atomic_load(&gone_why), GW_HTTP_GONE_BAD_BODY);
    /* chunk-extension abuse: 5000 bytes of extensions */
    char *ext = malloc(8192);
    int n = snprintf(ext, 8192, "POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;a=");
    memset(ext + n, 'x', 5000);
    n += 5000;
    n += snprintf(ext + n, 8192 - (size_t)n, "\r\nx\r\n0\r\n\r\n");
    expect_error_close(s, ext, (size_t)n, 400);
    free(ext);
    srv_stop(s);
}
END_TEST

START_TEST(test_slow_head)
{
    settings.head_timeout_ns = 300000000;
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    cl_sends(fd, "GET / HTTP/1.1\r\nHo");
    char *all = cl_read_all(fd, NULL);
    ck_assert_msg(strncmp(all, "HTTP/1.1 408 ", 13) == 0, "%s", all);
    ck_assert_ptr_nonnull(strstr(all, "Connection: close\r\n"));
    free(all);
    close(fd);
    /* a connection that sends nothing is closed without an answer */
    fd = cl_connect(s);
    size_t n;
    all = cl_read_all(fd, &n);
    ck_assert_uint_eq(n, 0);
    free(all);
    close(fd);
    srv_stop(s);
}
END_TEST

START_TEST(test_body_timeout)
{
    settings.body_timeout_ns = 300000000;
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    cl_sends(fd, "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    char *all = cl_read_all(fd, NULL);
    ck_assert_msg(strncmp(all, "HTTP/1.1 408 ", 13) == 0, "%s", all);
    free(all);
    close(fd);
    wait_for(&gone_count, 1);
    ck_assert_int_eq(atomic_load(&gone_why), GW_HTTP_GONE_TIMEOUT);
    srv_stop(s);
}
END_TEST

START_TEST(test_client_gone)
{
    struct srv *s = srv_start();
    /* mid-body */
    int fd = cl_connect(s);
    cl_sends(fd, "POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nabc");
    usleep(50000);
    close(fd);
    wait_for(&gone_count, 1);
    ck_assert_int_eq(atomic_load(&gone_why), GW_HTTP_GONE_CLOSED);
    /* mid-response */
    fd = cl_connect(s);
    cl_sends(fd, REQ("/hang"));
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf - 1 && (got == 0 || memmem(buf, got, "partial\r\n", 9) == NULL)) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        ck_assert_int_gt(n, 0);
        got += (size_t)n;
    }
    close(fd); /* nothing unread: a FIN, not a reset */
    wait_for(&gone_count, 2);
    ck_assert_int_eq(atomic_load(&gone_why), GW_HTTP_GONE_CLOSED);
    /* reset */
    fd = cl_connect(s);
    cl_sends(fd, REQ("/hang"));
    ck_assert_int_gt(recv(fd, buf, sizeof buf, 0), 0);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    wait_for(&gone_count, 3);
    ck_assert_int_eq(atomic_load(&gone_why), GW_HTTP_GONE_RESET);
    struct gw_http_stats st = srv_stats(s);
    ck_assert_uint_eq(st.conns, 0);
    srv_stop(s);
}
END_TEST

START_TEST(test_write_backpressure)
{
    /* more than the kernel's socket buffers take (tcp_wmem + tcp_rmem maxima) */
    size_t total = 24u << 20;
    atomic_store(&flood_left, total);
    struct srv *s = srv_start();
    int fd = cl_connect_rcvbuf(s, 65536);
    cl_sends(fd, REQ("/flood"));
    wait_for(&told_high, 1);
    usleep(200000); /* the client reads nothing: the queue must not grow */
    size_t q = atomic_load(&max_queued);
    ck_assert_uint_le(q, settings.write_high_water + 16384 + 1024);
    ck_assert_uint_gt(atomic_load(&flood_left), 0);
    /* now read it all */
    struct resp r;
    cl_response(fd, &r, false);
    ck_assert_uint_eq(r.body_len, total);
    resp_free(&r);
    ck_assert_int_ge(atomic_load(&drained), 1);
    ck_assert_uint_le(atomic_load(&max_queued), settings.write_high_water + 16384 + 1024);
    close(fd);
    srv_stop(s);
}
END_TEST

START_TEST(test_echo_backpressure)
{
    /* a large upload echoed to a client that reads slowly: the body is paused
     * while the response queue is full, so neither side buffers it all */
    struct srv *s = srv_start();
    int fd = cl_connect(s);
    size_t big = 99000;
    char *body = malloc(big);
    for (size_t i = 0; i < big; i++)
        body[i] = (char)(i * 7);
    char head[128];
    snprintf(head, sizeof head, "POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", big);
    cl_sends(fd, head);
    cl_send(fd, body, big);
    struct resp r;
    cl_response(fd, &r, false);
    ck_assert_uint_eq(r.body_len, big);
    ck_assert(memcmp(r.body, body, big) == 0);
    resp_free(&r);
    free(body);
    close(fd);
    srv_stop(s);
}
END_TEST

static Suite *gw_http_suite(void)
{
    Suite *s = suite_create("gw-http");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"loop timers", test_loop_timers},
        {"loop run once", test_loop_run_once},
        {"keep-alive and pipelining", test_keepalive_pipelining},
        {"keep-alive rules", test_keepalive_rules},
        {"KeepAlive Off", test_keepalive_off},
        {"keep-alive timeout", test_keepalive_timeout},
        {"idle connections hold no buffer", test_idle_holds_no_buffer},
        {"Content-Length body", test_body_content_length},
        {"chunked body", test_body_chunked},
        {"unread body discarded", test_body_discarded},
        {"100-continue", test_expect_continue},
        {"HEAD, 204, 304", test_head_204_304},
        {"field value scan", test_field_value_scan},
        {"response headers", test_response_headers},
        {"absolute-form", test_absolute_form},
        {"limits", test_limits},
        {"request smuggling", test_smuggling},
        {"slow head", test_slow_head},
        {"body timeout", test_body_timeout},
        {"client gone", test_client_gone},
        {"write backpressure", test_write_backpressure},
        {"echo backpressure", test_echo_backpressure},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, settings_reset, NULL);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    return testutil_run(gw_http_suite());
}

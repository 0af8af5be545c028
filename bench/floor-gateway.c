/*
 * floor-gateway: the least work an HTTP/1.1-to-FastCGI gateway can do per
 * request, as a reference row for bench/gateway-peers.sh.
 *
 *   floor-gateway PORT APP_PORT DOCROOT
 *
 * It makes the same system calls a real gateway must make per request on a
 * kept client connection and a kept backend connection (one recv of the
 * request, one writev of the FastCGI request, one recv of the records, one
 * sendmsg of the response, epoll_wait when nothing is ready) and nothing
 * else: no header parsing beyond the request line, no checks, no logging, no
 * limits, always 200 with the application's CGI head copied through. Each
 * client connection gets its own backend connection at accept (a blocking
 * connect: loopback only). The records are built and read with the
 * library's encoder and decoder.
 *
 * Its CPU time per request is therefore a floor for any gateway on the
 * machine at hand: a target below it cannot be met by any design built on
 * these system calls. Its requests/s show how fast the rest of the rig
 * (wrk and the application) lets any gateway go. Not a server: it trusts
 * its clients and its application and must never face anything else.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcgiclient/fcgiclient.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct buf {
    char *p;
    size_t len, cap;
};

struct floor_conn {
    int cfd, bfd;
    struct buf req;  /* client bytes not yet used */
    struct buf body; /* STDOUT content of the running request */
    struct buf out;  /* response bytes not yet written */
    size_t out_off;
    int busy; /* a request is at the application */
    struct fcgic_encoder *enc;
    struct fcgic_decoder *dec;
};

static int app_port;
static const char *docroot;
static int epfd;

static void buf_add(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            perror("floor-gateway: realloc");
            exit(1);
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_drop(struct buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void conn_close(struct floor_conn *k)
{
    close(k->cfd);
    close(k->bfd);
    fcgic_encoder_free(k->enc);
    fcgic_decoder_free(k->dec);
    free(k->req.p);
    free(k->body.p);
    free(k->out.p);
    free(k);
}

static int connect_app(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)app_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

#define P(n, v) {(n), sizeof(n) - 1, (v), strlen(v)}

/* The FastCGI request for the head at k->req (length head_len): the
 * variables a responder needs, as many as mod_proxy_fcgi sends. */
static int send_request(struct floor_conn *k, size_t head_len)
{
    const char *line = k->req.p;
    const char *sp = memchr(line, ' ', head_len);
    const char *tgt = sp ? sp + 1 : line;
    const char *end = memchr(tgt, ' ', head_len - (size_t)(tgt - line));
    if (sp == NULL || end == NULL)
        return -1;
    const char *q = memchr(tgt, '?', (size_t)(end - tgt));
    const char *path_end = q ? q : end;
    char filename[4096];
    snprintf(filename, sizeof(filename), "%s%.*s", docroot, (int)(path_end - tgt), tgt);
    struct fcgic_param ps[] = {
        {"REQUEST_METHOD", 14, line, (size_t)(sp - line)},
        {"REQUEST_URI", 11, tgt, (size_t)(end - tgt)},
        {"QUERY_STRING", 12, q ? q + 1 : "", q ? (size_t)(end - q - 1) : 0},
        {"SCRIPT_NAME", 11, tgt, (size_t)(path_end - tgt)},
        P("SCRIPT_FILENAME", filename),
        P("DOCUMENT_ROOT", docroot),
        P("CONTEXT_DOCUMENT_ROOT", docroot),
        P("CONTEXT_PREFIX", ""),
        P("SERVER_PROTOCOL", "HTTP/1.1"),
        P("GATEWAY_INTERFACE", "CGI/1.1"),
        P("REQUEST_SCHEME", "http"),
        P("SERVER_SOFTWARE", "floor-gateway"),
        P("SERVER_SIGNATURE", ""),
        P("SERVER_NAME", "127.0.0.1"),
        P("SERVER_ADDR", "127.0.0.1"),
        P("SERVER_PORT", "80"),
        P("SERVER_ADMIN", "[no address given]"),
        P("REMOTE_ADDR", "127.0.0.1"),
        P("REMOTE_PORT", "40000"),
        P("HTTP_HOST", "127.0.0.1"),
        P("PATH", "/usr/local/bin:/usr/bin:/bin"),
    };
    fcgic_encoder_reset(k->enc);
    if (fcgic_encoder_begin_request(k->enc, 1, FCGIC_ROLE_RESPONDER, FCGIC_FLAG_KEEP_CONN) != 0 ||
        fcgic_encoder_pairs(k->enc, FCGIC_TYPE_PARAMS, 1, ps, sizeof(ps) / sizeof(ps[0])) != 0 ||
        fcgic_encoder_stream(k->enc, FCGIC_TYPE_PARAMS, 1, NULL, 0) != 0 ||
        fcgic_encoder_stream(k->enc, FCGIC_TYPE_STDIN, 1, NULL, 0) != 0)
        return -1;
    struct fcgic_iov iov[8];
    struct iovec v[8];
    size_t n = fcgic_encoder_iov(k->enc, iov, 8);
    for (size_t i = 0; i < n; i++)
        v[i] = (struct iovec){iov[i].base, iov[i].len};
    ssize_t w = writev(k->bfd, v, (int)n);
    if (w < 0 || (size_t)w != fcgic_encoder_pending(k->enc))
        return -1; /* a kept loopback connection takes a request whole */
    k->busy = 1;
    return 0;
}

/* Use the next request in k->req when one is whole and none is running. */
static int next_request(struct floor_conn *k)
{
    if (k->busy || k->out.len > k->out_off || k->req.len < 4)
        return 0;
    char *e = memmem(k->req.p, k->req.len, "\r\n\r\n", 4);
    if (e == NULL)
        return 0;
    size_t head_len = (size_t)(e + 4 - k->req.p);
    int rc = send_request(k, head_len);
    buf_drop(&k->req, head_len);
    return rc;
}

static int flush_out(struct floor_conn *k)
{
    while (k->out_off < k->out.len) {
        ssize_t w = send(k->cfd, k->out.p + k->out_off, k->out.len - k->out_off, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        k->out_off += (size_t)w;
    }
    k->out.len = k->out_off = 0;
    return next_request(k);
}

/* END_REQUEST: the response is 200, the CGI head as it came, a length. */
static int respond(struct floor_conn *k)
{
    char *blank = memmem(k->body.p, k->body.len, "\r\n\r\n", 4);
    size_t head = blank ? (size_t)(blank - k->body.p) + 2 : 0;
    size_t skip = blank ? head + 2 : 0;
    char status[] = "HTTP/1.1 200 OK\r\n";
    char cl[64];
    int cll = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", k->body.len - skip);
    struct iovec v[4] = {{status, sizeof(status) - 1}, {k->body.p, head}, {cl, (size_t)cll},
                         {k->body.p + skip, k->body.len - skip}};
    struct msghdr mh = {.msg_iov = v, .msg_iovlen = 4};
    size_t total = v[0].iov_len + v[1].iov_len + v[2].iov_len + v[3].iov_len;
    ssize_t w = sendmsg(k->cfd, &mh, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN)
        return -1;
    size_t done = w < 0 ? 0 : (size_t)w;
    k->busy = 0;
    if (done < total) { /* keep the rest and wait for EPOLLOUT */
        for (int i = 0; i < 4; i++) {
            size_t take = done < v[i].iov_len ? done : v[i].iov_len;
            buf_add(&k->out, (char *)v[i].iov_base + take, v[i].iov_len - take);
            done -= take;
        }
        k->body.len = 0;
        return 0;
    }
    k->body.len = 0;
    return next_request(k);
}

static int on_backend(struct floor_conn *k)
{
    static uint8_t in[65536];
    for (;;) {
        ssize_t n = recv(k->bfd, in, sizeof(in), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            return -1;
        if (n < 0)
            return 0;
        size_t off = 0;
        while (off < (size_t)n) {
            struct fcgic_decoder_event ev;
            size_t used = 0;
            int rc = fcgic_decoder_next(k->dec, in + off, (size_t)n - off, &used, &ev);
            off += used;
            if (rc < 0)
                return -1;
            if (rc == 0)
                break;
            if (ev.kind == FCGIC_DEC_DATA && ev.type == FCGIC_TYPE_STDOUT)
                buf_add(&k->body, ev.data, ev.len);
            else if (ev.kind == FCGIC_DEC_END_REQUEST && respond(k) != 0)
                return -1;
        }
    }
}

static int on_client(struct floor_conn *k, unsigned events)
{
    if ((events & EPOLLOUT) && flush_out(k) != 0)
        return -1;
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return 0;
    char tmp[16384];
    for (;;) {
        ssize_t n = recv(k->cfd, tmp, sizeof(tmp), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            return -1;
        if (n < 0)
            return next_request(k);
        buf_add(&k->req, tmp, (size_t)n);
    }
}

static void on_accept(int lfd)
{
    int one = 1;
    for (;;) {
        int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0)
            return;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct floor_conn *k = calloc(1, sizeof(*k));
        if (k == NULL || (k->bfd = connect_app()) < 0 || fcgic_encoder_new(&k->enc, NULL) != 0 ||
            fcgic_decoder_new(&k->dec, NULL) != 0) {
            fprintf(stderr, "floor-gateway: cannot serve a connection (application at port %d?)\n", app_port);
            close(c);
            if (k != NULL) {
                if (k->bfd > 0)
                    close(k->bfd);
                fcgic_encoder_free(k->enc);
                free(k);
            }
            continue;
        }
        k->cfd = c;
        /* the low bit of the pointer tells the backend socket from the client's */
        struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = (uintptr_t)k};
        struct epoll_event be = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.u64 = (uintptr_t)k | 1u};
        epoll_ctl(epfd, EPOLL_CTL_ADD, c, &ce);
        epoll_ctl(epfd, EPOLL_CTL_ADD, k->bfd, &be);
    }
}

static int listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4096) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: floor-gateway PORT APP_PORT DOCROOT\n");
        return 2;
    }
    app_port = atoi(argv[2]);
    docroot = argv[3];
    int lfd = listen_on(atoi(argv[1]));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lfd < 0 || epfd < 0) {
        perror("floor-gateway: listen");
        return 1;
    }
    struct epoll_event le = {.events = EPOLLIN, .data.u64 = 0};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(epfd, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            uint64_t d = evs[i].data.u64;
            if (d == UINT64_MAX) /* its connection was closed earlier in this batch */
                continue;
            if (d == 0) {
                on_accept(lfd);
                continue;
            }
            struct floor_conn *k = (struct floor_conn *)(uintptr_t)(d & ~(uint64_t)1);
            int rc = (d & 1) ? on_backend(k) : on_client(k, evs[i].events);
            if (rc != 0) {
                conn_close(k);
                for (int j = i + 1; j < n; j++) /* later events of this batch may name k */
                    if ((evs[j].data.u64 & ~(uint64_t)1) == (uintptr_t)k)
                        evs[j].data.u64 = UINT64_MAX;
            }
        }
    }
}

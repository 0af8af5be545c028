/* The per-loop HTTP server: settings, handler, buffer pools, the list of
 * connections, accepting sockets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_int.h"

void *gw__pool_get(struct gw__pool *p)
{
    if (p->free == NULL)
        return malloc(p->size);
    void *b = p->free;
    memcpy(&p->free, b, sizeof p->free);
    p->nfree--;
    return b;
}

void gw__pool_put(struct gw__pool *p, void *block)
{
    if (p->nfree >= p->keep) {
        free(block);
        return;
    }
    memcpy(block, &p->free, sizeof p->free);
    p->free = block;
    p->nfree++;
}

void gw__pool_clear(struct gw__pool *p)
{
    while (p->free) {
        void *b = p->free;
        memcpy(&p->free, b, sizeof p->free);
        free(b);
    }
    p->nfree = 0;
}

void gw_http_settings_default(struct gw_http_settings *s)
{
    *s = (struct gw_http_settings){
        .read_buffer_size = 16384,
        .max_request_line = 8190,
        .max_header_fields = 100,
        .max_header_field_size = 8190,
        .max_body = 0,
        .keep_alive = true,
        .max_keepalive_requests = 100,
        .keepalive_timeout_ns = UINT64_C(5000000000),
        .head_timeout_ns = UINT64_C(20000000000),
        .body_timeout_ns = UINT64_C(60000000000),
        .send_timeout_ns = UINT64_C(60000000000),
        .linger_timeout_ns = UINT64_C(2000000000),
        .write_high_water = 65536,
        .write_low_water = 16384,
        .discard_max = 65536,
        .pool_keep = 64,
        .server_header = NULL,
    };
}

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static bool settings_ok(const struct gw_http_settings *s)
{
    return s->read_buffer_size >= 1024 && s->read_buffer_size <= (64u << 20) &&
           s->max_request_line + 2 < s->read_buffer_size && s->max_header_field_size + 2 < s->read_buffer_size &&
           s->max_header_fields > 0 && s->max_header_fields <= 10000 && s->write_low_water <= s->write_high_water &&
           s->write_high_water > 0;
}

int gw_http_server_new(struct gw_http_server **out, struct gw_loop *loop, const struct gw_http_settings *settings,
                       const struct gw_http_handler *handler)
{
    *out = NULL;
    struct gw_http_settings set;
    if (settings)
        set = *settings;
    else
        gw_http_settings_default(&set);
    if (set.server_header == NULL)
        set.server_header = "minimal_gateway";
    if (handler == NULL || handler->on_request == NULL || !settings_ok(&set))
        return -EINVAL;
    struct gw_http_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->loop = loop;
    s->set = set;
    s->h = *handler;
    s->headers_off = align16(sizeof(struct gw__rblock));
    s->buf_off = align16(s->headers_off + set.max_header_fields * sizeof(struct gw_http_header));
    s->rpool = (struct gw__pool){.keep = set.pool_keep, .size = s->buf_off + set.read_buffer_size};
    s->wpool = (struct gw__pool){.keep = set.pool_keep, .size = GW__WBLOCK_SIZE};
    s->date_sec = -1;
    *out = s;
    return 0;
}

void gw_http_server_free(struct gw_http_server *s)
{
    if (s == NULL)
        return;
    while (s->conns)
        gw__conn_destroy(s->conns, GW_HTTP_GONE_SHUTDOWN);
    gw__pool_clear(&s->rpool);
    gw__pool_clear(&s->wpool);
    free(s);
}

void gw_http_server_on_accept(void *server, int fd, const struct sockaddr *peer, socklen_t peer_len)
{
    gw_http_server_adopt(server, fd, peer, peer_len);
}

void gw_http_server_drain(struct gw_http_server *s)
{
    s->draining = true;
    struct gw_http_conn *next;
    for (struct gw_http_conn *c = s->conns; c; c = next) {
        next = c->next;
        /* Idle between requests: closed now, its client retries on a new
         * connection. One that has not sent its first request yet is left
         * to send it (answered with Connection: close): it was accepted
         * for that request, and closing it would fail it. */
        if (c->nreq > 0 && c->state == GW_ST_HEAD && c->rb == NULL && c->queued == 0)
            gw__conn_destroy(c, GW_HTTP_GONE_SHUTDOWN);
        else
            gw__conn_kick(c);
    }
}

void gw_http_server_stats(const struct gw_http_server *s, struct gw_http_stats *out)
{
    *out = (struct gw_http_stats){
        .conns = s->nconns,
        .active = s->nactive,
        .blocks_free = s->rpool.nfree,
        .wblocks_free = s->wpool.nfree,
        .requests = s->requests,
        .errors = s->errors,
    };
}

size_t gw_http_conn_size(void)
{
    return sizeof(struct gw_http_conn);
}

/* A built-in handler that needs no application: it echoes request bodies
 * (streamed, with backpressure both ways) and answers other requests with a
 * fixed text. Proves the HTTP layer on its own; used by its tests and fuzz
 * target. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_echo.h"

static int status_of(const struct gw_http_request *r)
{
    static const char prefix[] = "/status/";
    size_t n = sizeof prefix - 1;
    if (r->path_len != n + 3 || memcmp(r->path, prefix, n) != 0)
        return 200;
    int st = 0;
    for (size_t i = n; i < r->path_len; i++) {
        if (r->path[i] < '0' || r->path[i] > '9')
            return 200;
        st = st * 10 + (r->path[i] - '0');
    }
    return st >= 200 && st <= 599 ? st : 200;
}

static void echo_request(struct gw_http_conn *c, const struct gw_http_request *r, void *ud)
{
    static const struct gw_http_header ct = {"Content-Type", 12, "text/plain", 10};
    if (r->has_body) { /* start the body first: a client that expects 100-continue gets it */
        if (gw_http_body_start(c) != 0 || gw_http_response_head(c, 200, NULL, &ct, 1, r->content_length) != 0)
            gw_http_response_abort(c);
        return;
    }
    char text[256];
    int n = snprintf(text, sizeof text, "%.*s %.*s %.*s\n", (int)(r->method_len > 32 ? 32 : r->method_len), r->method,
                     (int)(r->path_len > 100 ? 100 : r->path_len), r->path,
                     (int)(r->host_len > 100 ? 100 : r->host_len), r->host ? r->host : "");
    if (gw_http_response_head(c, status_of(r), NULL, &ct, 1, n) != 0) {
        gw_http_response_abort(c);
        return;
    }
    if (gw_http_response_write(c, text, (size_t)n) < 0)
        gw_http_response_abort(c);
    else
        gw_http_response_end(c);
}

/* The body goes back by reference (gather, then push): the bytes live in
 * the read buffer until they are released. */
static void echo_body(struct gw_http_conn *c, const char *data, size_t len, void *ud)
{
    int r = gw_http_response_gather(c, data, len);
    if (r >= 0) {
        int p = gw_http_response_push(c);
        if (p < 0)
            r = p;
    }
    gw_http_body_consumed(c, len);
    if (r < 0)
        gw_http_response_abort(c);
    else if (r == 1)
        gw_http_body_pause(c);
}

static void echo_body_end(struct gw_http_conn *c, void *ud)
{
    gw_http_response_end(c);
}

static void echo_drain(struct gw_http_conn *c, void *ud)
{
    gw_http_body_resume(c);
}

void gw_http_echo_handler(struct gw_http_handler *h)
{
    *h = (struct gw_http_handler){
        .on_request = echo_request,
        .on_body = echo_body,
        .on_body_end = echo_body_end,
        .on_drain = echo_drain,
    };
}

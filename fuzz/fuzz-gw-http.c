/* Fuzz target: arbitrary client bytes into one HTTP connection of the
 * gateway (examples/minimal_gateway/http*.c) through a socketpair, with the
 * echo handler and small limits. The first byte picks the write size; the
 * input is written in pieces while the loop runs. Checks: no crash or leak,
 * and every byte the server answers parses as HTTP/1.1 responses (llhttp in
 * response mode), unless the input had a HEAD request (its response has a
 * Content-Length and no body, which a response parser cannot know). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <llhttp.h>

#include "http.h"
#include "http_echo.h"
#include "loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
    llhttp_t parser;
    llhttp_settings_t settings;
    bool bad;
    size_t total;
};

static void check_output(struct out *o, const char *p, size_t n)
{
    o->total += n;
    if (o->bad)
        return;
    llhttp_errno_t e = llhttp_execute(&o->parser, p, n);
    if (e != HPE_OK)
        o->bad = true;
}

/* A 204 or 304 response has no body whatever its Content-Length says (it
 * may give the length a 200 would have had); llhttp reads the body unless
 * told to skip it. */
static int skip_bodiless(llhttp_t *p)
{
    unsigned code = llhttp_get_status_code(p);
    return code == 204 || code == 304 ? 1 : 0;
}

static void drain_output(int fd, struct out *o)
{
    char buf[8192];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        check_output(o, buf, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t)(data[0] % 64) * 16 + 1;
    data++;
    size--;
    bool has_head = memmem(data, size, "HEAD", 4) != NULL;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return 0;
    struct gw_loop *loop;
    if (gw_loop_new(&loop) != 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    struct gw_http_settings set;
    gw_http_settings_default(&set);
    set.read_buffer_size = 2048;
    set.max_request_line = 512;
    set.max_header_field_size = 256;
    set.max_header_fields = 16;
    set.max_body = 4096;
    set.write_high_water = 4096;
    set.write_low_water = 1024;
    set.discard_max = 1024;
    set.linger_timeout_ns = 0;
    struct gw_http_handler h;
    gw_http_echo_handler(&h);
    struct gw_http_server *s;
    if (gw_http_server_new(&s, loop, &set, &h) != 0)
        abort();
    if (gw_http_server_adopt(s, sv[1], NULL, 0) != 0)
        abort();

    struct out o = {.bad = false};
    llhttp_settings_init(&o.settings);
    o.settings.on_headers_complete = skip_bodiless;
    llhttp_init(&o.parser, HTTP_RESPONSE, &o.settings);

    size_t pos = 0;
    bool shut = false;
    for (int idle = 0; idle < 64;) {
        if (pos < size) {
            size_t n = size - pos < piece ? size - pos : piece;
            ssize_t w = send(sv[0], data + pos, n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0)
                pos += (size_t)w;
        } else if (!shut) {
            shutdown(sv[0], SHUT_WR);
            shut = true;
        }
        size_t before = o.total;
        gw_loop_run_once(loop, 0);
        drain_output(sv[0], &o);
        struct gw_http_stats st;
        gw_http_server_stats(s, &st);
        if (st.conns == 0)
            break;
        if (pos == size && o.total == before)
            idle++;
    }
    drain_output(sv[0], &o);
    if (o.bad && !has_head)
        abort(); /* the server wrote something that is not HTTP */
    gw_http_server_free(s);
    gw_loop_free(loop);
    close(sv[0]);
    return 0;
}

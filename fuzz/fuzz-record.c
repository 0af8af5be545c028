/* Fuzz target: application bytes into the record decoder and into a
 * connection engine with two requests running, each replaced by a new one
 * (with a new id) when it ends (split at a point chosen by the first input
 * byte, whose other bits pick lenient header blocks and a GET_VALUES query).
 * Invariants: no crash, spans stay inside the input, errors are negative
 * codes with a message, no callback for a request after its on_end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiclient/conn.h"
#include "fcgiclient/error.h"
#include "fcgiclient/record.h"

struct state {
    size_t total;
    unsigned resubmits;
};

static int on_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    (void)c;
    size_t *total = &((struct state *)ud)->total;
    /* touch both ends: ASan checks the span is readable */
    if (n && d[0] == 0x7f && d[n - 1] == 0x7e)
        *total += 1;
    *total += n;
    return 0;
}

static void on_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *res)
{
    struct state *st = ud;
    if (res->error > 0)
        abort();
    if (st->resubmits++ < 64) {
        struct fcgic_request req = {0};
        fcgic_conn_submit(c, &req, st, NULL, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] % 8 + 1;
    int lenient = (data[0] & 8) != 0, values = (data[0] & 16) != 0;
    data++;
    size--;

    struct fcgic_decoder *d;
    if (fcgic_decoder_new(&d, NULL) != 0)
        return 0;
    size_t pos = 0;
    for (;;) {
        struct fcgic_decoder_event ev;
        size_t used, n = size - pos < split ? size - pos : split;
        int r = fcgic_decoder_next(d, data + pos, n, &used, &ev);
        if (used > n)
            abort();
        pos += used;
        if (r < 0) {
            if (fcgic_strerror(r) == NULL)
                abort();
            break;
        }
        if (r == 1 && ev.kind == FCGIC_DEC_DATA && (ev.data < data || ev.data + ev.len > data + size))
            abort();
        if (r == 0 && pos == size)
            break;
    }
    fcgic_decoder_free(d);

    /* Through a connection with two multiplexed requests. */
    struct fcgic_conn_callbacks cb = {0};
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_body = on_body;
    cb.on_end = on_end;
    struct fcgic_conn_options o = {0};
    o.lenient_header_block = lenient;
    o.keep_conn = 1;
    o.max_requests = 2;
    o.max_header_bytes = 1024;
    o.max_stderr_bytes = 4096;
    struct fcgic_conn *c;
    if (fcgic_conn_new(&c, &o, &cb, NULL, NULL) != 0)
        return 0;
    struct state st = {0};
    struct fcgic_request req = {0};
    fcgic_conn_submit(c, &req, &st, NULL, 0);
    req.role = FCGIC_ROLE_AUTHORIZER;
    fcgic_conn_submit(c, &req, &st, NULL, 0);
    static const char *const names[] = {"FCGI_MPXS_CONNS"};
    if (values)
        fcgic_conn_get_values(c, names, 1);
    pos = 0;
    while (pos < size) {
        size_t used, n = size - pos < split ? size - pos : split;
        if (fcgic_conn_recv(c, data + pos, n, &used, 0) != 0)
            break;
        if (used != n)
            abort();
        pos += used;
    }
    fcgic_conn_recv_eof(c, 0);
    fcgic_conn_free(c);
    return 0;
}

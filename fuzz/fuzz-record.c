/* Fuzz target: application bytes into the record decoder and into a
 * connection engine with two requests running, each replaced by a new one
 * (with a new id) when it ends (split at a point chosen by the first input
 * byte, whose other bits pick lenient header blocks, a GET_VALUES query and
 * on_flush). Each piece of input is a copy freed when fcgic_conn_recv()
 * returns. Invariants: no crash, spans stay inside the input, errors are
 * negative codes with a message, no callback for a request after its
 * on_end; with on_flush, body kept by reference is read at on_flush or
 * on_end (ASan: still valid), and none is left when the call returns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiclient/conn.h"
#include "fcgiclient/error.h"
#include "fcgiclient/record.h"

struct state {
    size_t total;
    unsigned resubmits;
    int flush;              /* on_flush is set: pieces are kept */
    const char *piece[64];  /* body since the last on_flush / on_end */
    size_t piece_len[64];
    unsigned npieces;
};

/* touch both ends: ASan checks the span is readable */
static void touch(struct state *st, const char *d, size_t n)
{
    if (n && d[0] == 0x7f && d[n - 1] == 0x7e)
        st->total += 1;
    st->total += n;
}

static void take_pieces(struct state *st)
{
    for (unsigned i = 0; i < st->npieces; i++)
        touch(st, st->piece[i], st->piece_len[i]);
    st->npieces = 0;
}

static int on_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    (void)c;
    struct state *st = ud;
    touch(st, d, n);
    if (st->flush) {
        if (st->npieces == 64)
            take_pieces(st);
        st->piece[st->npieces] = d;
        st->piece_len[st->npieces++] = n;
    }
    return 0;
}

static void on_flush(struct fcgic_conn *c, void *ud)
{
    (void)c;
    take_pieces(ud);
}

static void on_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *res)
{
    struct state *st = ud;
    take_pieces(st);
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
    int lenient = (data[0] & 8) != 0, values = (data[0] & 16) != 0, flush = (data[0] & 32) != 0;
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
    cb.on_flush = flush ? on_flush : NULL;
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
    st.flush = flush;
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
        uint8_t *copy = malloc(n);
        if (copy == NULL)
            break;
        memcpy(copy, data + pos, n);
        int rc = fcgic_conn_recv(c, copy, n, &used, 0);
        free(copy);
        if (st.npieces)
            abort(); /* a batch was left open past the call */
        if (rc != 0)
            break;
        if (used != n)
            abort();
        pos += used;
    }
    fcgic_conn_recv_eof(c, 0);
    if (st.npieces)
        abort();
    fcgic_conn_free(c);
    return 0;
}

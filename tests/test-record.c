/* Record codec: encoder bytes written out in full, decoders fed one byte at a
 * time, every protocol violation with its own error, allocation failures. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "fcgiclient/error.h"
#include "fcgiclient/record.h"
#include "testutil.h"

/* Flatten everything queued in an encoder. */
static size_t flatten(struct fcgic_encoder *e, uint8_t *out, size_t cap)
{
    struct fcgic_iov iov[1024];
    size_t n = fcgic_encoder_iov(e, iov, 1024), len = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_le(len + iov[i].len, cap);
        memcpy(out + len, iov[i].base, iov[i].len);
        len += iov[i].len;
    }
    ck_assert_uint_eq(len, fcgic_encoder_pending(e));
    return len;
}

START_TEST(test_header_and_lengths)
{
    uint8_t h[8];
    fcgic_record_header_encode(h, FCGIC_TYPE_STDIN, 0x1234, 0xfffe, 0xff);
    const uint8_t want[8] = {1, 5, 0x12, 0x34, 0xff, 0xfe, 0xff, 0};
    ck_assert_mem_eq(h, want, 8);
    uint8_t l[4];
    ck_assert_uint_eq(fcgic_nv_length_encode(l, 127), 1);
    ck_assert_uint_eq(l[0], 127);
    ck_assert_uint_eq(fcgic_nv_length_encode(l, 128), 4);
    const uint8_t w128[4] = {0x80, 0, 0, 128};
    ck_assert_mem_eq(l, w128, 4);
    ck_assert_uint_eq(fcgic_nv_length_encode(l, 0x7fffffff), 4);
    const uint8_t wmax[4] = {0xff, 0xff, 0xff, 0xff};
    ck_assert_mem_eq(l, wmax, 4);
    ck_assert_uint_eq(fcgic_nv_length_encode(l, 0x80000000u), 0);
}
END_TEST

START_TEST(test_encode_request)
{
    struct fcgic_encoder *e;
    ck_assert_int_eq(fcgic_encoder_new(&e, NULL), 0);
    ck_assert_int_eq(fcgic_encoder_begin_request(e, 1, FCGIC_ROLE_RESPONDER, FCGIC_FLAG_KEEP_CONN), 0);
    struct fcgic_param p[2] = {FCGIC_PARAM_LIT("A", "bc"), FCGIC_PARAM_LIT("REQUEST_METHOD", "GET")};
    ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_PARAMS, 1, p, 2), 0);
    ck_assert_int_eq(fcgic_encoder_stream(e, FCGIC_TYPE_PARAMS, 1, NULL, 0), 0);
    static const char body[] = "xyz";
    ck_assert_int_eq(fcgic_encoder_stream(e, FCGIC_TYPE_STDIN, 1, body, 3), 0);
    ck_assert_int_eq(fcgic_encoder_stream(e, FCGIC_TYPE_STDIN, 1, NULL, 0), 0);
    const uint8_t want[] = {
        1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0,          /* BEGIN_REQUEST keep-conn */
        1, 4, 0, 1, 0, 24, 0, 0,                                  /* PARAMS, 24 bytes */
        1, 2, 'A', 'b', 'c',                                      /* A=bc */
        14, 3, 'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_', 'M', 'E', 'T', 'H', 'O', 'D', 'G', 'E', 'T',
        1, 4, 0, 1, 0, 0, 0, 0,                                   /* empty PARAMS */
        1, 5, 0, 1, 0, 3, 0, 0, 'x', 'y', 'z',                    /* STDIN */
        1, 5, 0, 1, 0, 0, 0, 0,                                   /* empty STDIN */
    };
    uint8_t got[256];
    size_t n = flatten(e, got, sizeof got);
    ck_assert_uint_eq(n, sizeof want);
    ck_assert_mem_eq(got, want, sizeof want);
    /* The body is referenced, not copied. */
    struct fcgic_iov iov[16];
    size_t k = fcgic_encoder_iov(e, iov, 16);
    int found = 0;
    for (size_t i = 0; i < k; i++)
        found |= iov[i].base == (void *)body;
    ck_assert_int_eq(found, 1);
    /* Partial consumption. */
    ck_assert_int_eq(fcgic_encoder_consume(e, 17), 0);
    ck_assert_uint_eq(fcgic_encoder_pending(e), sizeof want - 17);
    n = flatten(e, got, sizeof got);
    ck_assert_mem_eq(got, want + 17, n);
    ck_assert_int_eq(fcgic_encoder_consume(e, n + 1), FCGIC_E_RANGE);
    ck_assert_int_eq(fcgic_encoder_consume(e, n), 0);
    ck_assert_uint_eq(fcgic_encoder_pending(e), 0);
    ck_assert_uint_eq(fcgic_encoder_iov(e, iov, 16), 0);
    fcgic_encoder_free(e);
}
END_TEST

START_TEST(test_encode_misc_records)
{
    struct fcgic_encoder *e;
    ck_assert_int_eq(fcgic_encoder_new(&e, NULL), 0);
    ck_assert_int_eq(fcgic_encoder_abort_request(e, 7), 0);
    ck_assert_int_eq(fcgic_encoder_end_request(e, 7, 0x01020304, FCGIC_OVERLOADED), 0);
    ck_assert_int_eq(fcgic_encoder_unknown_type(e, 42), 0);
    struct fcgic_param q[1] = {FCGIC_PARAM_LIT("FCGI_MAX_CONNS", "")};
    ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_GET_VALUES, 0, q, 1), 0);
    const uint8_t want[] = {
        1, 2, 0, 7, 0, 0, 0, 0,                                   /* ABORT */
        1, 3, 0, 7, 0, 8, 0, 0, 1, 2, 3, 4, 2, 0, 0, 0,           /* END_REQUEST */
        1, 11, 0, 0, 0, 8, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0,         /* UNKNOWN_TYPE */
        1, 9, 0, 0, 0, 16, 0, 0, 14, 0, 'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'C', 'O', 'N', 'N', 'S',
    };
    uint8_t got[256];
    size_t n = flatten(e, got, sizeof got);
    ck_assert_uint_eq(n, sizeof want);
    ck_assert_mem_eq(got, want, sizeof want);
    /* Argument errors queue nothing. */
    ck_assert_int_eq(fcgic_encoder_begin_request(e, 0, FCGIC_ROLE_RESPONDER, 0), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_encoder_begin_request(e, 1, (enum fcgic_role)4, 0), FCGIC_E_BAD_ROLE);
    ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_PARAMS, 0, q, 1), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_GET_VALUES, 1, q, 1), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_encoder_stream(e, FCGIC_TYPE_STDIN, 0, "x", 1), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_encoder_stream(e, FCGIC_TYPE_BEGIN_REQUEST, 1, "x", 1), FCGIC_E_INVAL);
    ck_assert_int_eq(fcgic_encoder_stream(e, FCGIC_TYPE_STDIN, 1, NULL, 1), FCGIC_E_INVAL);
    struct fcgic_param big = {"N", 1, NULL, 0};
    big.value_len = (size_t)0x80000000u;
    big.value = "";
    ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_PARAMS, 1, &big, 1), FCGIC_E_NV_TOO_LONG);
    ck_assert_uint_eq(fcgic_encoder_pending(e), sizeof want);
    fcgic_encoder_free(e);
}
END_TEST

START_TEST(test_encode_empty_management_body)
{
    /* An application that knows none of the names asked for answers with an
     * empty GET_VALUES_RESULT record; an empty GET_VALUES is a valid query.
     * Both must be queued: there is no other call that can queue them. */
    struct fcgic_encoder *e;
    ck_assert_int_eq(fcgic_encoder_new(&e, NULL), 0);
    ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_GET_VALUES_RESULT, 0, NULL, 0), 0);
    ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_GET_VALUES, 0, NULL, 0), 0);
    /* An empty PARAMS call still queues nothing (the stream terminator is
     * queued with fcgic_encoder_stream()). */
    ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_PARAMS, 1, NULL, 0), 0);
    const uint8_t want[] = {
        1, 10, 0, 0, 0, 0, 0, 0, /* empty GET_VALUES_RESULT */
        1, 9, 0, 0, 0, 0, 0, 0,  /* empty GET_VALUES */
    };
    uint8_t got[64];
    size_t n = flatten(e, got, sizeof got);
    ck_assert_uint_eq(n, sizeof want);
    ck_assert_mem_eq(got, want, sizeof want);
    fcgic_encoder_free(e);
}
END_TEST

/* Decode a whole PARAMS stream back into pairs, checking record framing. */
struct decoded {
    char names[64][64];
    size_t vlen[64];
    char vfirst[64];
    size_t n;
    size_t records;
    size_t max_record;
};

static void decode_params(const uint8_t *buf, size_t len, struct decoded *out)
{
    struct fcgic_decoder *d;
    struct fcgic_nv_decoder *nv;
    ck_assert_int_eq(fcgic_decoder_new(&d, NULL), 0);
    ck_assert_int_eq(fcgic_nv_decoder_new(&nv, 0, NULL), 0);
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    for (;;) {
        struct fcgic_decoder_event ev;
        size_t used;
        int r = fcgic_decoder_next(d, buf + pos, len - pos, &used, &ev);
        ck_assert_int_ge(r, 0);
        pos += used;
        if (r == 0)
            break;
        if (ev.kind == FCGIC_DEC_HEADER) {
            ck_assert_uint_eq(ev.type, FCGIC_TYPE_PARAMS);
            out->records++;
            if (ev.content_length > out->max_record)
                out->max_record = ev.content_length;
        }
        if (ev.kind != FCGIC_DEC_DATA)
            continue;
        size_t p2 = 0;
        while (p2 < ev.len) {
            struct fcgic_param p;
            size_t u;
            r = fcgic_nv_decoder_next(nv, ev.data + p2, ev.len - p2, &u, &p);
            ck_assert_int_ge(r, 0);
            p2 += u;
            if (r == 1) {
                ck_assert_uint_lt(p.name_len, 64);
                memcpy(out->names[out->n], p.name, p.name_len);
                out->vlen[out->n] = p.value_len;
                out->vfirst[out->n] = p.value_len ? p.value[0] : 0;
                out->n++;
            }
        }
    }
    ck_assert_int_eq(fcgic_nv_decoder_finish(nv), 0);
    ck_assert_int_eq(fcgic_decoder_idle(d), 1);
    fcgic_nv_decoder_free(nv);
    fcgic_decoder_free(d);
}

START_TEST(test_params_split)
{
    /* Pairs are kept whole when they fit; a 70000-byte value is split. */
    static char big[70000], mid[40000];
    memset(big, 'B', sizeof big);
    memset(mid, 'M', sizeof mid);
    struct fcgic_param p[4] = {
        {"MID1", 4, mid, sizeof mid},
        {"MID2", 4, mid, sizeof mid},
        {"HUGE", 4, big, sizeof big},
        FCGIC_PARAM_LIT("SMALL", "s"),
    };
    struct fcgic_encoder *e;
    ck_assert_int_eq(fcgic_encoder_new(&e, NULL), 0);
    ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_PARAMS, 3, p, 4), 0);
    static uint8_t out[300000];
    size_t n = flatten(e, out, sizeof out);
    /* records: [MID1] [MID2 + start of HUGE, full] [rest of HUGE + SMALL] */
    struct decoded dd;
    decode_params(out, n, &dd);
    ck_assert_uint_eq(dd.n, 4);
    ck_assert_str_eq(dd.names[2], "HUGE");
    ck_assert_uint_eq(dd.vlen[2], 70000);
    ck_assert_uint_eq(dd.vlen[3], 1);
    ck_assert_uint_eq(dd.records, 3);
    ck_assert_uint_eq(dd.max_record, 65535);
    /* First record holds exactly MID1: 1 + 4 + 4 + 40000 bytes. */
    ck_assert_uint_eq((out[4] << 8) | out[5], 40009);
    fcgic_encoder_free(e);
}
END_TEST

START_TEST(test_decode_bytewise)
{
    /* STDOUT with padding, STDERR, END_REQUEST with padding, GET_VALUES_RESULT. */
    const uint8_t in[] = {
        1, 6, 0, 1, 0, 5, 3, 0, 'h', 'e', 'l', 'l', 'o', 0xAA, 0xAA, 0xAA,
        1, 7, 0, 1, 0, 2, 0, 0, 'e', '\n',
        1, 6, 0, 1, 0, 0, 0, 0,
        1, 3, 0, 1, 0, 8, 1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0xBB,
        1, 10, 0, 0, 0, 6, 0, 0, 3, 1, 'A', 'B', 'C', '1',
    };
    struct fcgic_decoder *d;
    ck_assert_int_eq(fcgic_decoder_new(&d, NULL), 0);
    char out[16] = {0}, err[4] = {0};
    size_t olen = 0, elen = 0, vlen = 0;
    int headers = 0, ends = 0, endreq = 0;
    uint32_t app = 0;
    char vals[8] = {0};
    for (size_t i = 0; i < sizeof in; i++) {
        size_t pos = 0;
        for (;;) {
            struct fcgic_decoder_event ev;
            size_t used;
            int r = fcgic_decoder_next(d, in + i + pos, 1 - pos, &used, &ev);
            ck_assert_int_ge(r, 0);
            pos += used;
            if (r == 0)
                break;
            switch (ev.kind) {
            case FCGIC_DEC_HEADER:
                headers++;
                break;
            case FCGIC_DEC_DATA:
                ck_assert_uint_eq(ev.len, 1);
                if (ev.type == FCGIC_TYPE_STDOUT)
                    out[olen++] = (char)ev.data[0];
                else if (ev.type == FCGIC_TYPE_STDERR)
                    err[elen++] = (char)ev.data[0];
                else
                    vals[vlen++] = (char)ev.data[0];
                break;
            case FCGIC_DEC_RECORD_END:
                ends++;
                break;
            case FCGIC_DEC_END_REQUEST:
                endreq++;
                app = ev.app_status;
                ck_assert_uint_eq(ev.protocol_status, FCGIC_REQUEST_COMPLETE);
                ck_assert_uint_eq(ev.request_id, 1);
                break;
            default:
                ck_abort_msg("unexpected event %d", ev.kind);
            }
        }
        ck_assert_uint_eq(pos, 1);
    }
    ck_assert_str_eq(out, "hello");
    ck_assert_str_eq(err, "e\n");
    ck_assert_mem_eq(vals, "\x03\x01" "ABC1", 6);
    ck_assert_int_eq(headers, 4);
    ck_assert_int_eq(ends, 4);
    ck_assert_int_eq(endreq, 1);
    ck_assert_uint_eq(app, 258);
    ck_assert_int_eq(fcgic_decoder_idle(d), 1);
    fcgic_decoder_free(d);
}
END_TEST

START_TEST(test_decode_empty_input)
{
    /* No input at all (NULL, 0) is a valid call at every point: between
     * records, inside a header and inside a fixed-length body. Under UBSan
     * this also proves no NULL pointer reaches memcpy. */
    struct fcgic_decoder *d;
    ck_assert_int_eq(fcgic_decoder_new(&d, NULL), 0);
    struct fcgic_decoder_event ev;
    size_t used = 99;
    const uint8_t end[16] = {1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0};
    size_t cuts[] = {0, 4, 8, 12, 16};
    size_t pos = 0;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        if (cuts[i] > pos) {
            int r = fcgic_decoder_next(d, end + pos, cuts[i] - pos, &used, &ev);
            pos += used;
            ck_assert_int_eq(r, cuts[i] == 16 ? 1 : 0);
        }
        used = 99;
        ck_assert_int_eq(fcgic_decoder_next(d, NULL, 0, &used, &ev), 0);
        ck_assert_uint_eq(used, 0);
    }
    ck_assert_uint_eq(pos, 16);
    ck_assert_int_eq(fcgic_decoder_idle(d), 1);
    fcgic_decoder_free(d);
}
END_TEST

static int decode_all(const uint8_t *in, size_t len)
{
    struct fcgic_decoder *d;
    ck_assert_int_eq(fcgic_decoder_new(&d, NULL), 0);
    size_t pos = 0;
    int r;
    do {
        struct fcgic_decoder_event ev;
        size_t used;
        r = fcgic_decoder_next(d, in + pos, len - pos, &used, &ev);
        pos += used;
    } while (r > 0);
    /* Errors are sticky. */
    if (r < 0) {
        struct fcgic_decoder_event ev;
        size_t used;
        const uint8_t ok[8] = {1, 6, 0, 1, 0, 0, 0, 0};
        ck_assert_int_eq(fcgic_decoder_next(d, ok, 8, &used, &ev), r);
        fcgic_decoder_reset(d);
        ck_assert_int_eq(fcgic_decoder_next(d, ok, 8, &used, &ev), 1);
    }
    fcgic_decoder_free(d);
    return r;
}

START_TEST(test_decode_violations)
{
    const uint8_t v2[] = {2, 6, 0, 1, 0, 0, 0, 0};
    ck_assert_int_eq(decode_all(v2, 8), FCGIC_E_BAD_VERSION);
    const uint8_t t0[] = {1, 0, 0, 1, 0, 0, 0, 0};
    ck_assert_int_eq(decode_all(t0, 8), FCGIC_E_BAD_TYPE);
    const uint8_t t12[] = {1, 12, 0, 1, 0, 0, 0, 0};
    ck_assert_int_eq(decode_all(t12, 8), FCGIC_E_BAD_TYPE);
    const uint8_t id0[] = {1, 6, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(decode_all(id0, 8), FCGIC_E_ZERO_ID);
    const uint8_t mgmt[] = {1, 10, 0, 1, 0, 0, 0, 0};
    ck_assert_int_eq(decode_all(mgmt, 8), FCGIC_E_MGMT_ID);
    const uint8_t end7[] = {1, 3, 0, 1, 0, 7, 0, 0};
    ck_assert_int_eq(decode_all(end7, 8), FCGIC_E_BAD_LENGTH);
    /* Longer than 8 is still framed correctly: the first 8 bytes count. */
    const uint8_t end16[] = {1, 3, 0, 1, 0, 16, 3, 0, 0, 0, 0, 9, 2, 0, 0, 0, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0,
                             1, 6, 0, 1, 0, 0, 0, 0};
    ck_assert_int_eq(decode_all(end16, sizeof end16), 0);
    struct fcgic_decoder *d;
    ck_assert_int_eq(fcgic_decoder_new(&d, NULL), 0);
    struct fcgic_decoder_event ev;
    size_t used;
    ck_assert_int_eq(fcgic_decoder_next(d, end16, sizeof end16, &used, &ev), 1);
    ck_assert_int_eq(ev.kind, FCGIC_DEC_END_REQUEST);
    ck_assert_uint_eq(ev.app_status, 9);
    ck_assert_uint_eq(ev.protocol_status, 2);
    ck_assert_uint_eq(used, 8 + 16 + 3);
    fcgic_decoder_free(d);
    const uint8_t abort1[] = {1, 2, 0, 1, 0, 1, 0, 0};
    ck_assert_int_eq(decode_all(abort1, 8), FCGIC_E_BAD_LENGTH);
    /* Largest record: 65535 content + 255 padding decodes fine. */
    static uint8_t big[8 + 65535 + 255];
    fcgic_record_header_encode(big, FCGIC_TYPE_STDOUT, 1, 65535, 255);
    ck_assert_int_eq(decode_all(big, sizeof big), 0);
}
END_TEST

START_TEST(test_nv_decoder)
{
    /* 1-byte and 4-byte lengths, fed byte by byte: pairs come from the
     * internal buffer and match. Non-minimal 4-byte length accepted. */
    const uint8_t in[] = {3, 2, 'A', 'B', 'C', 'd', 'e', 0x80, 0, 0, 1, 0x80, 0, 0, 0, 'X'};
    struct fcgic_nv_decoder *d;
    ck_assert_int_eq(fcgic_nv_decoder_new(&d, 0, NULL), 0);
    int pairs = 0;
    for (size_t i = 0; i < sizeof in; i++) {
        struct fcgic_param p;
        size_t used;
        int r = fcgic_nv_decoder_next(d, in + i, 1, &used, &p);
        ck_assert_int_ge(r, 0);
        ck_assert_uint_eq(used, 1);
        if (r == 1) {
            pairs++;
            if (pairs == 1) {
                ck_assert_mem_eq(p.name, "ABC", 3);
                ck_assert_uint_eq(p.value_len, 2);
                ck_assert_mem_eq(p.value, "de", 2);
            } else {
                ck_assert_uint_eq(p.name_len, 1);
                ck_assert_mem_eq(p.name, "X", 1);
                ck_assert_uint_eq(p.value_len, 0);
            }
        }
    }
    ck_assert_int_eq(pairs, 2);
    ck_assert_int_eq(fcgic_nv_decoder_finish(d), 0);
    /* Cut short. */
    const uint8_t cut[] = {3, 2, 'A'};
    size_t used;
    struct fcgic_param p;
    ck_assert_int_eq(fcgic_nv_decoder_next(d, cut, 3, &used, &p), 0);
    ck_assert_int_eq(fcgic_nv_decoder_finish(d), FCGIC_E_NV_OVERRUN);
    fcgic_nv_decoder_reset(d);
    const uint8_t lencut[] = {0x80, 0};
    ck_assert_int_eq(fcgic_nv_decoder_next(d, lencut, 2, &used, &p), 0);
    ck_assert_int_eq(fcgic_nv_decoder_finish(d), FCGIC_E_NV_OVERRUN);
    fcgic_nv_decoder_free(d);
    /* Cap. */
    ck_assert_int_eq(fcgic_nv_decoder_new(&d, 4, NULL), 0);
    const uint8_t over[] = {3, 2, 'A', 'B', 'C', 'd', 'e'};
    ck_assert_int_eq(fcgic_nv_decoder_next(d, over, sizeof over, &used, &p), FCGIC_E_NV_TOO_LONG);
    ck_assert_int_eq(fcgic_nv_decoder_next(d, over, sizeof over, &used, &p), FCGIC_E_NV_TOO_LONG);
    fcgic_nv_decoder_free(d);
    /* A 2^31-1 length is accepted by the default cap (until data runs out). */
    ck_assert_int_eq(fcgic_nv_decoder_new(&d, 0, NULL), 0);
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0};
    ck_assert_int_eq(fcgic_nv_decoder_next(d, huge, sizeof huge, &used, &p), 0);
    ck_assert_int_eq(fcgic_nv_decoder_finish(d), FCGIC_E_NV_OVERRUN);
    fcgic_nv_decoder_free(d);
}
END_TEST

START_TEST(test_alloc_failures)
{
    struct fcgic_param p[3] = {FCGIC_PARAM_LIT("A", "1"), FCGIC_PARAM_LIT("B", "2"), FCGIC_PARAM_LIT("C", "3")};
    int succeeded = 0;
    for (long n = 1; n < 50 && !succeeded; n++) {
        struct failalloc fa;
        failalloc_init(&fa, n);
        struct fcgic_encoder *e = NULL;
        int rc = fcgic_encoder_new(&e, &fa.mem);
        if (rc == 0)
            rc = fcgic_encoder_begin_request(e, 1, FCGIC_ROLE_RESPONDER, 0);
        if (rc == 0)
            rc = fcgic_encoder_pairs(e, FCGIC_TYPE_PARAMS, 1, p, 3);
        if (rc == 0)
            rc = fcgic_encoder_stream(e, FCGIC_TYPE_STDIN, 1, "abc", 3);
        struct fcgic_nv_decoder *nv = NULL;
        if (rc == 0)
            rc = fcgic_nv_decoder_new(&nv, 0, &fa.mem);
        if (rc == 0) {
            const uint8_t in[] = {1, 1, 'a', 'b'};
            struct fcgic_param q;
            size_t used;
            rc = fcgic_nv_decoder_next(nv, in, 3, &used, &q);
            if (rc == 0)
                rc = fcgic_nv_decoder_next(nv, in + 3, 1, &used, &q);
            if (rc == 1)
                rc = 0;
        }
        struct fcgic_decoder *d = NULL;
        if (rc == 0)
            rc = fcgic_decoder_new(&d, &fa.mem);
        if (rc == 0)
            succeeded = 1;
        else
            ck_assert_int_eq(rc, FCGIC_E_NOMEM);
        fcgic_decoder_free(d);
        fcgic_nv_decoder_free(nv);
        fcgic_encoder_free(e);
        ck_assert_int_eq(fa.live, 0);
    }
    ck_assert_int_eq(succeeded, 1);
}
END_TEST

/* Allocation hooks that remember the largest block asked for. */
static size_t peak_block;
static void *peak_malloc(size_t n, void *ud)
{
    (void)ud;
    if (n > peak_block)
        peak_block = n;
    return malloc(n);
}
static void *peak_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    if (n > peak_block)
        peak_block = n;
    return realloc(p, n);
}
static void peak_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

START_TEST(test_queue_never_empty_stays_bounded)
{
    /* Records queued while older ones are written, the queue never empty
     * (a busy multiplexed connection): memory stays bounded and every byte
     * comes out in order. */
    struct fcgic_mem mem = {peak_malloc, peak_realloc, peak_free, NULL};
    peak_block = 0;
    struct fcgic_encoder *e;
    ck_assert_int_eq(fcgic_encoder_new(&e, &mem), 0);
    static const char body[] = "0123456789";
    uint8_t expect[64], got[64];
    size_t backlog = 0; /* bytes queued, not yet taken */
    uint8_t queue[256];
    for (int i = 0; i < 20000; i++) {
        uint16_t id = (uint16_t)(i % 7 + 1);
        ck_assert_int_eq(fcgic_encoder_abort_request(e, id), 0);
        ck_assert_int_eq(fcgic_encoder_stream(e, FCGIC_TYPE_STDIN, id, body, 10), 0);
        /* what these two records are */
        uint8_t *x = expect;
        fcgic_record_header_encode(x, FCGIC_TYPE_ABORT_REQUEST, id, 0, 0);
        fcgic_record_header_encode(x + 8, FCGIC_TYPE_STDIN, id, 10, 0);
        memcpy(x + 16, body, 10);
        memcpy(queue + backlog, expect, 26);
        backlog += 26;
        /* take all but 5 bytes */
        size_t take = backlog - 5, n = 0;
        struct fcgic_iov iov[16];
        size_t k = fcgic_encoder_iov(e, iov, 16);
        for (size_t j = 0; j < k && n < take; j++) {
            size_t c = iov[j].len < take - n ? iov[j].len : take - n;
            memcpy(got + n, iov[j].base, c);
            n += c;
        }
        ck_assert_uint_eq(n, take);
        ck_assert_mem_eq(got, queue, take);
        ck_assert_int_eq(fcgic_encoder_consume(e, take), 0);
        memmove(queue, queue + take, backlog - take);
        backlog -= take;
        ck_assert_uint_eq(fcgic_encoder_pending(e), backlog);
    }
    ck_assert_uint_lt(peak_block, 16384);
    fcgic_encoder_free(e);
}
END_TEST

START_TEST(test_output_stays_put)
{
    /* Bytes handed out by fcgic_encoder_iov() stay where they are until
     * consumed, however much is queued after them (an asynchronous writer
     * need not copy). Under ASan or valgrind a moved buffer is also a
     * use-after-free here. */
    struct fcgic_encoder *e;
    ck_assert_int_eq(fcgic_encoder_new(&e, NULL), 0);
    struct fcgic_param p = FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/srv/www/index.php");
    ck_assert_int_eq(fcgic_encoder_begin_request(e, 1, FCGIC_ROLE_RESPONDER, 1), 0);
    ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_PARAMS, 1, &p, 1), 0);
    struct fcgic_iov iov[4];
    size_t k = fcgic_encoder_iov(e, iov, 4);
    ck_assert_uint_eq(k, 1);
    uint8_t copy[128];
    size_t len = iov[0].len;
    ck_assert_uint_lt(len, sizeof copy);
    memcpy(copy, iov[0].base, len);
    /* Half of it "in flight"; then a lot more queued. */
    ck_assert_int_eq(fcgic_encoder_consume(e, len / 2), 0);
    static struct fcgic_param big[200];
    for (size_t i = 0; i < 200; i++)
        big[i] = (struct fcgic_param){"HTTP_X_FILLER", 13, "0123456789abcdef0123456789abcdef", 32};
    for (uint16_t id = 2; id < 200; id++) {
        ck_assert_int_eq(fcgic_encoder_begin_request(e, id, FCGIC_ROLE_RESPONDER, 1), 0);
        ck_assert_int_eq(fcgic_encoder_pairs(e, FCGIC_TYPE_PARAMS, id, big, 200), 0);
    }
    ck_assert_mem_eq(iov[0].base, copy, len);
    struct fcgic_iov again[1];
    ck_assert_uint_eq(fcgic_encoder_iov(e, again, 1), 1);
    ck_assert_ptr_eq(again[0].base, (uint8_t *)iov[0].base + len / 2);
    fcgic_encoder_free(e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("encoder");
    tcase_add_test(tc, test_header_and_lengths);
    tcase_add_test(tc, test_encode_request);
    tcase_add_test(tc, test_encode_misc_records);
    tcase_add_test(tc, test_encode_empty_management_body);
    tcase_add_test(tc, test_params_split);
    tcase_add_test(tc, test_queue_never_empty_stays_bounded);
    tcase_add_test(tc, test_output_stays_put);
    suite_add_tcase(s, tc);
    tc = tcase_create("decoder");
    tcase_add_test(tc, test_decode_bytewise);
    tcase_add_test(tc, test_decode_violations);
    tcase_add_test(tc, test_decode_empty_input);
    suite_add_tcase(s, tc);
    tc = tcase_create("nv");
    tcase_add_test(tc, test_nv_decoder);
    suite_add_tcase(s, tc);
    tc = tcase_create("alloc");
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

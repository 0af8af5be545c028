/* FastCGI record codec: encoder (iovec output queue) and the streaming
 * record and name-value decoders. */
#include "fcgiclient/record.h"

#include "record_int.h"
#include "util.h"

void fcgic_record_header_encode(uint8_t *out, enum fcgic_type type, uint16_t request_id, uint16_t content_length,
                                uint8_t padding_length)
{
    out[0] = 1;
    out[1] = (uint8_t)type;
    fcgic__put16(out + 2, request_id);
    fcgic__put16(out + 4, content_length);
    out[6] = padding_length;
    out[7] = 0;
}

size_t fcgic_nv_length_encode(uint8_t *out, size_t len)
{
    if (len < 128) {
        out[0] = (uint8_t)len;
        return 1;
    }
    if (len > FCGIC_MAX_NV_LEN)
        return 0;
    fcgic__put32(out, (uint32_t)len | 0x80000000u);
    return 4;
}

/* ------------------------------------------------------------------------ */
/* Encoder                                                                  */
/* ------------------------------------------------------------------------ */

/* A queued piece: either bytes in the arena (ext == NULL, at off) or the
 * caller's bytes (ext). */
struct enc_piece {
    const uint8_t *ext;
    size_t off;
    size_t len;
};

struct fcgic_encoder {
    struct fcgic__alloc a;
    struct fcgic__buf arena;
    struct enc_piece *pieces;
    size_t npieces, cap_pieces;
    size_t head;      /* first piece not fully consumed */
    size_t head_off;  /* bytes of pieces[head] already consumed */
    size_t pending;   /* bytes not yet consumed */
    uint64_t queued_total;
};

int fcgic_encoder_new(struct fcgic_encoder **out, const struct fcgic_mem *mem)
{
    if (out == NULL)
        return FCGIC_E_INVAL;
    struct fcgic_encoder *e = fcgic__object_new(mem, sizeof *e);
    if (e == NULL)
        return FCGIC_E_NOMEM;
    *out = e;
    return 0;
}

void fcgic_encoder_free(struct fcgic_encoder *e)
{
    if (e == NULL)
        return;
    fcgic__buf_free(&e->arena, &e->a);
    fcgic__free(&e->a, e->pieces);
    fcgic__free(&e->a, e);
}

void fcgic_encoder_reset(struct fcgic_encoder *e)
{
    e->arena.len = 0;
    e->npieces = e->head = e->head_off = e->pending = 0;
}

uint64_t fcgic__encoder_queued_total(const struct fcgic_encoder *e)
{
    return e->queued_total;
}

static int piece_reserve(struct fcgic_encoder *e, size_t extra)
{
    if (e->npieces + extra <= e->cap_pieces)
        return 0;
    size_t cap = e->cap_pieces ? e->cap_pieces : 16;
    while (cap < e->npieces + extra)
        cap *= 2;
    struct enc_piece *p = fcgic__realloc(&e->a, e->pieces, e->cap_pieces * sizeof *p, cap * sizeof *p);
    if (p == NULL)
        return FCGIC_E_NOMEM;
    e->pieces = p;
    e->cap_pieces = cap;
    return 0;
}

/* Record that arena bytes [off, off+len) were appended; merges with the
 * previous arena piece when contiguous. Pieces were reserved by the caller. */
static void add_arena_piece(struct fcgic_encoder *e, size_t off, size_t len)
{
    if (len == 0)
        return;
    if (e->npieces > e->head) {
        struct enc_piece *last = &e->pieces[e->npieces - 1];
        if (last->ext == NULL && last->off + last->len == off) {
            last->len += len;
            e->pending += len;
            e->queued_total += len;
            return;
        }
    }
    e->pieces[e->npieces++] = (struct enc_piece){NULL, off, len};
    e->pending += len;
    e->queued_total += len;
}

static void add_ext_piece(struct fcgic_encoder *e, const void *p, size_t len)
{
    e->pieces[e->npieces++] = (struct enc_piece){p, 0, len};
    e->pending += len;
    e->queued_total += len;
}

/* Append a whole small record (header + content) to the arena. */
static int put_small_record(struct fcgic_encoder *e, enum fcgic_type type, uint16_t id, const uint8_t *content,
                            uint16_t clen)
{
    int rc = piece_reserve(e, 1);
    if (rc == 0)
        rc = fcgic__buf_reserve(&e->arena, &e->a, FCGIC_HEADER_LEN + (size_t)clen);
    if (rc)
        return rc;
    size_t off = e->arena.len;
    uint8_t *p = (uint8_t *)e->arena.data + off;
    fcgic_record_header_encode(p, type, id, clen, 0);
    if (clen)
        memcpy(p + FCGIC_HEADER_LEN, content, clen);
    e->arena.len += FCGIC_HEADER_LEN + (size_t)clen;
    add_arena_piece(e, off, FCGIC_HEADER_LEN + (size_t)clen);
    return 0;
}

int fcgic_encoder_begin_request(struct fcgic_encoder *e, uint16_t request_id, enum fcgic_role role, uint8_t flags)
{
    if (request_id == 0)
        return FCGIC_E_INVAL;
    if (role < FCGIC_ROLE_RESPONDER || role > FCGIC_ROLE_FILTER)
        return FCGIC_E_BAD_ROLE;
    uint8_t body[8] = {0};
    fcgic__put16(body, (uint16_t)role);
    body[2] = flags;
    return put_small_record(e, FCGIC_TYPE_BEGIN_REQUEST, request_id, body, 8);
}

int fcgic_encoder_abort_request(struct fcgic_encoder *e, uint16_t request_id)
{
    if (request_id == 0)
        return FCGIC_E_INVAL;
    return put_small_record(e, FCGIC_TYPE_ABORT_REQUEST, request_id, NULL, 0);
}

int fcgic_encoder_end_request(struct fcgic_encoder *e, uint16_t request_id, uint32_t app_status,
                              enum fcgic_protocol_status status)
{
    if (request_id == 0)
        return FCGIC_E_INVAL;
    uint8_t body[8] = {0};
    fcgic__put32(body, app_status);
    body[4] = (uint8_t)status;
    return put_small_record(e, FCGIC_TYPE_END_REQUEST, request_id, body, 8);
}

int fcgic_encoder_unknown_type(struct fcgic_encoder *e, uint8_t type)
{
    uint8_t body[8] = {0};
    body[0] = type;
    return put_small_record(e, FCGIC_TYPE_UNKNOWN_TYPE, 0, body, 8);
}

static bool is_mgmt_type(unsigned type)
{
    return type == FCGIC_TYPE_GET_VALUES || type == FCGIC_TYPE_GET_VALUES_RESULT || type == FCGIC_TYPE_UNKNOWN_TYPE;
}

int fcgic__pairs_size(const struct fcgic_param *params, size_t n, size_t *out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const struct fcgic_param *p = &params[i];
        if (p->name_len > FCGIC_MAX_NV_LEN || p->value_len > FCGIC_MAX_NV_LEN)
            return FCGIC_E_NV_TOO_LONG;
        if ((p->name == NULL && p->name_len) || (p->value == NULL && p->value_len))
            return FCGIC_E_INVAL;
        size_t s = (p->name_len < 128 ? 1 : 4) + (p->value_len < 128 ? 1 : 4);
        if (!fcgic__add_ok(s, p->name_len, &s) || !fcgic__add_ok(s, p->value_len, &s) ||
            !fcgic__add_ok(total, s, &total))
            return FCGIC_E_NV_TOO_LONG;
    }
    *out = total;
    return 0;
}

/* Copy bytes into the open record, splitting records at 65535 bytes.
 * *rec_hdr is the arena offset of the open record's header. */
struct pair_writer {
    struct fcgic_encoder *e;
    enum fcgic_type type;
    uint16_t id;
    size_t rec_hdr; /* arena offset of the open record's header */
    size_t rec_len; /* content bytes in the open record */
    bool open;
};

static void pw_close(struct pair_writer *w)
{
    if (!w->open)
        return;
    fcgic_record_header_encode((uint8_t *)w->e->arena.data + w->rec_hdr, w->type, w->id, (uint16_t)w->rec_len, 0);
    w->open = false;
}

static void pw_open(struct pair_writer *w)
{
    struct fcgic_encoder *e = w->e;
    w->rec_hdr = e->arena.len;
    e->arena.len += FCGIC_HEADER_LEN;
    w->rec_len = 0;
    w->open = true;
}

static void pw_write(struct pair_writer *w, const void *src, size_t n)
{
    const uint8_t *s = src;
    while (n > 0) {
        if (!w->open || w->rec_len == FCGIC_MAX_CONTENT_LEN) {
            pw_close(w);
            pw_open(w);
        }
        size_t room = FCGIC_MAX_CONTENT_LEN - w->rec_len;
        size_t k = n < room ? n : room;
        memcpy(w->e->arena.data + w->e->arena.len, s, k);
        w->e->arena.len += k;
        w->rec_len += k;
        s += k;
        n -= k;
    }
}

int fcgic_encoder_pairs(struct fcgic_encoder *e, enum fcgic_type type, uint16_t request_id,
                        const struct fcgic_param *params, size_t n)
{
    bool mgmt = type == FCGIC_TYPE_GET_VALUES || type == FCGIC_TYPE_GET_VALUES_RESULT;
    if (!(type == FCGIC_TYPE_PARAMS || mgmt) || (mgmt != (request_id == 0)) || (params == NULL && n))
        return FCGIC_E_INVAL;
    size_t body;
    int rc = fcgic__pairs_size(params, n, &body);
    if (rc)
        return rc;
    if (mgmt && body > FCGIC_MAX_CONTENT_LEN)
        return FCGIC_E_BAD_LENGTH;
    if (mgmt && body == 0)
        return put_small_record(e, type, 0, NULL, 0); /* an empty query or answer is still a record */
    return fcgic__encoder_pairs_sized(e, type, request_id, params, n, body);
}

int fcgic__encoder_pairs_sized(struct fcgic_encoder *e, enum fcgic_type type, uint16_t request_id,
                               const struct fcgic_param *params, size_t n, size_t body)
{
    int rc;
    if (body == 0)
        return 0;
    /* Worst case: every pair opens a record, plus splits of big pairs. */
    size_t records = n + body / FCGIC_MAX_CONTENT_LEN + 1, extra;
    if (records > SIZE_MAX / FCGIC_HEADER_LEN || !fcgic__add_ok(body, records * FCGIC_HEADER_LEN, &extra))
        return FCGIC_E_NOMEM;
    rc = piece_reserve(e, 1);
    if (rc == 0)
        rc = fcgic__buf_reserve(&e->arena, &e->a, extra);
    if (rc)
        return rc;
    size_t start = e->arena.len;
    struct pair_writer w = {e, type, request_id, 0, 0, false};
    for (size_t i = 0; i < n; i++) {
        const struct fcgic_param *p = &params[i];
        uint8_t lens[8];
        size_t ll = fcgic_nv_length_encode(lens, p->name_len);
        ll += fcgic_nv_length_encode(lens + ll, p->value_len);
        size_t s = ll + p->name_len + p->value_len;
        if (s <= FCGIC_MAX_CONTENT_LEN) {
            /* Keep a pair inside one record whenever it fits in one. */
            if (!w.open || w.rec_len + s > FCGIC_MAX_CONTENT_LEN) {
                pw_close(&w);
                pw_open(&w);
            }
            uint8_t *dst = (uint8_t *)e->arena.data + e->arena.len;
            memcpy(dst, lens, ll);
            if (p->name_len)
                memcpy(dst + ll, p->name, p->name_len);
            if (p->value_len)
                memcpy(dst + ll + p->name_len, p->value, p->value_len);
            e->arena.len += s;
            w.rec_len += s;
            continue;
        }
        pw_write(&w, lens, ll);
        pw_write(&w, p->name, p->name_len);
        pw_write(&w, p->value, p->value_len);
    }
    pw_close(&w);
    add_arena_piece(e, start, e->arena.len - start);
    return 0;
}

int fcgic_encoder_stream(struct fcgic_encoder *e, enum fcgic_type type, uint16_t request_id, const void *data,
                         size_t len)
{
    if (!(type == FCGIC_TYPE_STDIN || type == FCGIC_TYPE_DATA || type == FCGIC_TYPE_STDOUT ||
          type == FCGIC_TYPE_STDERR || type == FCGIC_TYPE_PARAMS) ||
        request_id == 0 || (data == NULL && len))
        return FCGIC_E_INVAL;
    if (len == 0)
        return put_small_record(e, type, request_id, NULL, 0);
    size_t records = len / FCGIC_MAX_CONTENT_LEN + 1;
    int rc = piece_reserve(e, 2 * records);
    if (rc == 0)
        rc = fcgic__buf_reserve(&e->arena, &e->a, records * FCGIC_HEADER_LEN);
    if (rc)
        return rc;
    const uint8_t *p = data;
    while (len > 0) {
        size_t k = len < FCGIC_MAX_CONTENT_LEN ? len : FCGIC_MAX_CONTENT_LEN;
        size_t off = e->arena.len;
        fcgic_record_header_encode((uint8_t *)e->arena.data + off, type, request_id, (uint16_t)k, 0);
        e->arena.len += FCGIC_HEADER_LEN;
        add_arena_piece(e, off, FCGIC_HEADER_LEN);
        add_ext_piece(e, p, k);
        p += k;
        len -= k;
    }
    return 0;
}

int fcgic__encoder_own(struct fcgic_encoder *e)
{
    size_t need = 0;
    for (size_t i = e->head; i < e->npieces; i++)
        if (e->pieces[i].ext)
            need += e->pieces[i].len - (i == e->head ? e->head_off : 0);
    if (need == 0)
        return 0;
    int rc = fcgic__buf_reserve(&e->arena, &e->a, need);
    if (rc)
        return rc;
    for (size_t i = e->head; i < e->npieces; i++) {
        struct enc_piece *p = &e->pieces[i];
        if (p->ext == NULL)
            continue;
        size_t skip = i == e->head ? e->head_off : 0;
        memcpy(e->arena.data + e->arena.len, p->ext + skip, p->len - skip);
        p->ext = NULL;
        p->off = e->arena.len;
        p->len -= skip;
        if (i == e->head)
            e->head_off = 0;
        e->arena.len += p->len;
    }
    return 0;
}

size_t fcgic_encoder_iov(const struct fcgic_encoder *e, struct fcgic_iov *iov, size_t max)
{
    size_t n = 0;
    for (size_t i = e->head; i < e->npieces && n < max; i++) {
        const struct enc_piece *p = &e->pieces[i];
        const uint8_t *base = p->ext ? p->ext : (const uint8_t *)e->arena.data + p->off;
        size_t skip = i == e->head ? e->head_off : 0;
        iov[n].base = (void *)(uintptr_t)(base + skip);
        iov[n].len = p->len - skip;
        n++;
    }
    return n;
}

size_t fcgic_encoder_pending(const struct fcgic_encoder *e)
{
    return e->pending;
}

/* A connection whose queue never empties (requests multiplexed back to back)
 * would grow forever: drop the written pieces and the arena bytes before the
 * first one still needed. Arena pieces are in arena order. */
static void compact(struct fcgic_encoder *e)
{
    size_t base = e->arena.len;
    for (size_t i = e->head; i < e->npieces; i++) {
        if (e->pieces[i].ext == NULL) {
            base = e->pieces[i].off;
            break;
        }
    }
    if (base > 0) {
        memmove(e->arena.data, e->arena.data + base, e->arena.len - base);
        e->arena.len -= base;
        for (size_t i = e->head; i < e->npieces; i++)
            if (e->pieces[i].ext == NULL)
                e->pieces[i].off -= base;
    }
    memmove(e->pieces, e->pieces + e->head, (e->npieces - e->head) * sizeof *e->pieces);
    e->npieces -= e->head;
    e->head = 0;
}

int fcgic_encoder_consume(struct fcgic_encoder *e, size_t n)
{
    if (n > e->pending)
        return FCGIC_E_RANGE;
    e->pending -= n;
    while (n > 0) {
        struct enc_piece *p = &e->pieces[e->head];
        size_t left = p->len - e->head_off;
        if (n < left) {
            e->head_off += n;
            break;
        }
        n -= left;
        e->head++;
        e->head_off = 0;
    }
    if (e->head == e->npieces) {
        /* Everything written: start over at the beginning of the arena. */
        e->head = e->npieces = e->head_off = 0;
        e->arena.len = 0;
    } else if (e->head >= 64 && e->head * 2 >= e->npieces) {
        compact(e);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Record decoder                                                           */
/* ------------------------------------------------------------------------ */

enum dec_state { DEC_HEADER, DEC_FIXED, DEC_CONTENT, DEC_PADDING, DEC_END };

struct fcgic_decoder {
    struct fcgic__alloc a;
    enum dec_state state;
    uint8_t hdr[FCGIC_HEADER_LEN];
    uint8_t fixed[8];
    size_t have;      /* bytes collected in hdr or fixed */
    size_t remaining; /* content (DEC_CONTENT) or padding (DEC_PADDING) left */
    uint8_t type;
    uint16_t id;
    uint16_t clen;
    uint8_t plen;
    int error;
};

int fcgic_decoder_new(struct fcgic_decoder **out, const struct fcgic_mem *mem)
{
    if (out == NULL)
        return FCGIC_E_INVAL;
    struct fcgic_decoder *d = fcgic__object_new(mem, sizeof *d);
    if (d == NULL)
        return FCGIC_E_NOMEM;
    *out = d;
    return 0;
}

void fcgic_decoder_free(struct fcgic_decoder *d)
{
    if (d)
        fcgic__free(&d->a, d);
}

void fcgic_decoder_reset(struct fcgic_decoder *d)
{
    struct fcgic__alloc a = d->a;
    memset(d, 0, sizeof *d);
    d->a = a;
}

int fcgic_decoder_idle(const struct fcgic_decoder *d)
{
    return d->state == DEC_HEADER && d->have == 0;
}

static int check_header(struct fcgic_decoder *d)
{
    const uint8_t *h = d->hdr;
    if (h[0] != 1)
        return FCGIC_E_BAD_VERSION;
    d->type = h[1];
    d->id = fcgic__get16(h + 2);
    d->clen = fcgic__get16(h + 4);
    d->plen = h[6];
    if (d->type < FCGIC_TYPE_BEGIN_REQUEST || d->type > FCGIC_TYPE_UNKNOWN_TYPE)
        return FCGIC_E_BAD_TYPE;
    if (is_mgmt_type(d->type)) {
        if (d->id != 0)
            return FCGIC_E_MGMT_ID;
    } else if (d->id == 0) {
        return FCGIC_E_ZERO_ID;
    }
    switch (d->type) {
    case FCGIC_TYPE_BEGIN_REQUEST:
    case FCGIC_TYPE_END_REQUEST:
    case FCGIC_TYPE_UNKNOWN_TYPE:
        /* A longer body is still framed correctly: its first 8 bytes are
         * read and the rest is skipped like padding, as every peer does. */
        if (d->clen < 8)
            return FCGIC_E_BAD_LENGTH;
        break;
    case FCGIC_TYPE_ABORT_REQUEST:
        if (d->clen != 0)
            return FCGIC_E_BAD_LENGTH;
        break;
    default:
        break;
    }
    return 0;
}

static bool is_fixed_type(uint8_t t)
{
    return t == FCGIC_TYPE_BEGIN_REQUEST || t == FCGIC_TYPE_END_REQUEST || t == FCGIC_TYPE_UNKNOWN_TYPE ||
           t == FCGIC_TYPE_ABORT_REQUEST;
}

static void fixed_event(const struct fcgic_decoder *d, struct fcgic_decoder_event *ev)
{
    const uint8_t *b = d->fixed;
    switch (d->type) {
    case FCGIC_TYPE_BEGIN_REQUEST:
        ev->kind = FCGIC_DEC_BEGIN_REQUEST;
        ev->role = fcgic__get16(b);
        ev->flags = b[2];
        break;
    case FCGIC_TYPE_END_REQUEST:
        ev->kind = FCGIC_DEC_END_REQUEST;
        ev->app_status = fcgic__get32(b);
        ev->protocol_status = b[4];
        break;
    case FCGIC_TYPE_UNKNOWN_TYPE:
        ev->kind = FCGIC_DEC_UNKNOWN_TYPE;
        ev->unknown_type = b[0];
        break;
    default:
        ev->kind = FCGIC_DEC_ABORT_REQUEST;
        break;
    }
}

int fcgic_decoder_next(struct fcgic_decoder *d, const uint8_t *buf, size_t len, size_t *consumed,
                       struct fcgic_decoder_event *ev)
{
    size_t pos = 0;
    int rc = 0;
    *consumed = 0;
    if (d->error)
        return d->error;
    memset(ev, 0, sizeof *ev);
    for (;;) {
        switch (d->state) {
        case DEC_HEADER: {
            size_t k = FCGIC_HEADER_LEN - d->have;
            if (k > len - pos)
                k = len - pos;
            if (k) /* buf may be NULL when len is 0 */
                memcpy(d->hdr + d->have, buf + pos, k);
            d->have += k;
            pos += k;
            if (d->have < FCGIC_HEADER_LEN)
                goto out;
            d->have = 0;
            rc = check_header(d);
            if (rc) {
                d->error = rc;
                goto out;
            }
            ev->type = d->type;
            ev->request_id = d->id;
            if (is_fixed_type(d->type)) {
                d->state = DEC_FIXED;
                continue;
            }
            ev->kind = FCGIC_DEC_HEADER;
            ev->content_length = d->clen;
            ev->padding_length = d->plen;
            d->remaining = d->clen;
            d->state = d->clen ? DEC_CONTENT : (d->plen ? DEC_PADDING : DEC_END);
            if (d->state == DEC_PADDING)
                d->remaining = d->plen;
            rc = 1;
            goto out;
        }
        case DEC_FIXED: {
            size_t body = d->clen < sizeof d->fixed ? d->clen : sizeof d->fixed;
            size_t k = body - d->have;
            if (k > len - pos)
                k = len - pos;
            if (k)
                memcpy(d->fixed + d->have, buf + pos, k);
            d->have += k;
            pos += k;
            if (d->have < body)
                goto out;
            d->have = 0;
            d->remaining = (size_t)(d->clen - body) + d->plen;
            if (d->remaining) {
                d->state = DEC_PADDING;
                /* Padding of a fixed record is skipped before the event so
                 * that the event ends the record. */
                size_t pk = d->remaining < len - pos ? d->remaining : len - pos;
                pos += pk;
                d->remaining -= pk;
                if (d->remaining)
                    goto out;
            }
            d->state = DEC_HEADER;
            ev->type = d->type;
            ev->request_id = d->id;
            fixed_event(d, ev);
            rc = 1;
            goto out;
        }
        case DEC_CONTENT: {
            if (pos == len)
                goto out;
            size_t k = d->remaining < len - pos ? d->remaining : len - pos;
            ev->kind = FCGIC_DEC_DATA;
            ev->type = d->type;
            ev->request_id = d->id;
            ev->data = buf + pos;
            ev->len = k;
            pos += k;
            d->remaining -= k;
            if (d->remaining == 0) {
                d->remaining = d->plen;
                d->state = d->plen ? DEC_PADDING : DEC_END;
            }
            rc = 1;
            goto out;
        }
        case DEC_PADDING: {
            size_t k = d->remaining < len - pos ? d->remaining : len - pos;
            pos += k;
            d->remaining -= k;
            if (d->remaining)
                goto out;
            if (is_fixed_type(d->type)) {
                /* finishing a fixed record's padding across calls */
                d->state = DEC_HEADER;
                ev->type = d->type;
                ev->request_id = d->id;
                fixed_event(d, ev);
                rc = 1;
                goto out;
            }
            d->state = DEC_END;
            continue;
        }
        case DEC_END:
            d->state = DEC_HEADER;
            ev->kind = FCGIC_DEC_RECORD_END;
            ev->type = d->type;
            ev->request_id = d->id;
            rc = 1;
            goto out;
        }
    }
out:
    *consumed = pos;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Name-value decoder                                                       */
/* ------------------------------------------------------------------------ */

struct fcgic_nv_decoder {
    struct fcgic__alloc a;
    size_t max_pair;
    uint8_t lens[8];
    size_t have_lens; /* bytes of the length prefixes collected */
    size_t nlen, vlen;
    bool in_body;      /* lengths known, collecting name+value into buf */
    struct fcgic__buf buf;
    int error;
};

int fcgic_nv_decoder_new(struct fcgic_nv_decoder **out, size_t max_pair, const struct fcgic_mem *mem)
{
    if (out == NULL)
        return FCGIC_E_INVAL;
    struct fcgic_nv_decoder *d = fcgic__object_new(mem, sizeof *d);
    if (d == NULL)
        return FCGIC_E_NOMEM;
    d->max_pair = max_pair ? max_pair : (size_t)FCGIC_MAX_NV_LEN;
    *out = d;
    return 0;
}

void fcgic_nv_decoder_free(struct fcgic_nv_decoder *d)
{
    if (d == NULL)
        return;
    fcgic__buf_free(&d->buf, &d->a);
    fcgic__free(&d->a, d);
}

void fcgic_nv_decoder_reset(struct fcgic_nv_decoder *d)
{
    d->have_lens = 0;
    d->in_body = false;
    d->buf.len = 0;
    d->error = 0;
}

/* Bytes of length prefix needed given what has been collected so far. */
static size_t lens_needed(const struct fcgic_nv_decoder *d)
{
    size_t need = (d->lens[0] & 0x80) ? 4 : 1;
    if (d->have_lens < need)
        return need;
    size_t second = d->lens[need];
    if (d->have_lens == need)
        return need + 1;
    return need + ((second & 0x80) ? 4 : 1);
}

int fcgic_nv_decoder_next(struct fcgic_nv_decoder *d, const uint8_t *buf, size_t len, size_t *consumed,
                          struct fcgic_param *out)
{
    size_t pos = 0;
    *consumed = 0;
    if (d->error)
        return d->error;
    if (!d->in_body) {
        if (d->have_lens == 0 && d->buf.len)
            d->buf.len = 0; /* previous pair delivered from buf */
        while (pos < len) {
            if (d->have_lens == 0 || d->have_lens < lens_needed(d))
                d->lens[d->have_lens++] = buf[pos++];
            if (d->have_lens >= 2 && d->have_lens == lens_needed(d))
                break;
        }
        if (d->have_lens < 2 || d->have_lens != lens_needed(d)) {
            *consumed = pos;
            return 0;
        }
        size_t n1 = (d->lens[0] & 0x80) ? 4 : 1;
        d->nlen = n1 == 4 ? (fcgic__get32(d->lens) & 0x7fffffffu) : d->lens[0];
        d->vlen = (d->lens[n1] & 0x80) ? (fcgic__get32(d->lens + n1) & 0x7fffffffu) : d->lens[n1];
        if (d->nlen > d->max_pair || d->vlen > d->max_pair - d->nlen) {
            *consumed = pos;
            return d->error = FCGIC_E_NV_TOO_LONG;
        }
        d->in_body = true;
        d->buf.len = 0;
        /* Fast path: the whole pair is in buf. */
        if (len - pos >= d->nlen + d->vlen) {
            out->name = (const char *)buf + pos;
            out->name_len = d->nlen;
            out->value = (const char *)buf + pos + d->nlen;
            out->value_len = d->vlen;
            pos += d->nlen + d->vlen;
            d->in_body = false;
            d->have_lens = 0;
            *consumed = pos;
            return 1;
        }
    }
    size_t want = d->nlen + d->vlen - d->buf.len;
    size_t k = want < len - pos ? want : len - pos;
    int rc = fcgic__buf_append(&d->buf, &d->a, buf + pos, k);
    if (rc) {
        *consumed = pos;
        return d->error = rc;
    }
    pos += k;
    *consumed = pos;
    if (d->buf.len < d->nlen + d->vlen)
        return 0;
    out->name = d->buf.data;
    out->name_len = d->nlen;
    out->value = d->buf.data + d->nlen;
    out->value_len = d->vlen;
    d->in_body = false;
    d->have_lens = 0; /* buf is cleared on the next call */
    return 1;
}

int fcgic_nv_decoder_finish(struct fcgic_nv_decoder *d)
{
    if (d->error)
        return d->error;
    if (d->in_body || d->have_lens)
        return FCGIC_E_NV_OVERRUN;
    return 0;
}

void fcgic__decoder_unread(struct fcgic_decoder *d, size_t n)
{
    if (n == 0)
        return;
    if (d->state == DEC_CONTENT) {
        d->remaining += n;
    } else {
        d->state = DEC_CONTENT;
        d->remaining = n;
    }
}

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

/* The encoder's own bytes (record headers, PARAMS, copies) live in blocks
 * that never move or shrink while a piece refers to them, so the iovecs
 * handed out stay valid until fcgic_encoder_consume() covers them, however
 * much is queued meanwhile (asynchronous writers need not copy). A block is
 * freed when its last piece is consumed; the newest one is kept for reuse. */
struct enc_block {
    struct enc_block *next; /* newer */
    size_t cap, len;
    size_t refs;            /* queued pieces in this block */
    uint8_t data[];
};

/* A queued piece: bytes in a block (blk set) or the caller's bytes. */
struct enc_piece {
    const uint8_t *ptr;
    size_t len;
    struct enc_block *blk;
};

#define ENC_BLOCK_MIN 4096

struct fcgic_encoder {
    struct fcgic__alloc a;
    struct enc_block *oldest, *newest;
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

/* Free every block without pieces except the newest, which is emptied
 * when nothing refers to it. */
static void release_blocks(struct fcgic_encoder *e)
{
    struct enc_block **link = &e->oldest;
    while (*link) {
        struct enc_block *b = *link;
        if (b->refs == 0 && b != e->newest) {
            *link = b->next;
            fcgic__free(&e->a, b);
            continue;
        }
        link = &b->next;
    }
    if (e->newest && e->newest->refs == 0)
        e->newest->len = 0;
}

void fcgic_encoder_free(struct fcgic_encoder *e)
{
    if (e == NULL)
        return;
    while (e->oldest) {
        struct enc_block *b = e->oldest;
        e->oldest = b->next;
        fcgic__free(&e->a, b);
    }
    fcgic__free(&e->a, e->pieces);
    fcgic__free(&e->a, e);
}

void fcgic_encoder_reset(struct fcgic_encoder *e)
{
    for (struct enc_block *b = e->oldest; b; b = b->next)
        b->refs = 0;
    release_blocks(e);
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

/* Room for n contiguous bytes at the end of the newest block (a new block
 * when it lacks them); the bytes count once committed with arena_commit().
 * NULL when out of memory. */
static uint8_t *arena_reserve(struct fcgic_encoder *e, size_t n)
{
    struct enc_block *b = e->newest;
    if (b && b->cap - b->len >= n)
        return b->data + b->len;
    size_t cap = b && b->cap < 65536 ? b->cap * 2 : ENC_BLOCK_MIN;
    if (cap < n)
        cap = n;
    if (cap > SIZE_MAX - sizeof *b)
        return NULL;
    struct enc_block *nb = fcgic__malloc(&e->a, sizeof *nb + cap);
    if (nb == NULL)
        return NULL;
    *nb = (struct enc_block){NULL, cap, 0, 0};
    if (b)
        b->next = nb;
    else
        e->oldest = nb;
    e->newest = nb;
    if (b && b->refs == 0)
        release_blocks(e); /* the old newest was idle: free it now */
    return nb->data;
}

/* Queue the n bytes at p, which arena_reserve() returned (in the newest
 * block); merges with the previous piece when contiguous. Pieces were
 * reserved by the caller. */
static void arena_commit(struct fcgic_encoder *e, const uint8_t *p, size_t n)
{
    struct enc_block *b = e->newest;
    if (n == 0)
        return;
    b->len = (size_t)(p - b->data) + n;
    e->pending += n;
    e->queued_total += n;
    if (e->npieces > e->head) {
        struct enc_piece *last = &e->pieces[e->npieces - 1];
        if (last->blk == b && last->ptr + last->len == p) {
            last->len += n;
            return;
        }
    }
    b->refs++;
    e->pieces[e->npieces++] = (struct enc_piece){p, n, b};
}

static void add_ext_piece(struct fcgic_encoder *e, const void *p, size_t len)
{
    e->pieces[e->npieces++] = (struct enc_piece){p, len, NULL};
    e->pending += len;
    e->queued_total += len;
}

/* Append a whole small record (header + content) to the arena. */
static int put_small_record(struct fcgic_encoder *e, enum fcgic_type type, uint16_t id, const uint8_t *content,
                            uint16_t clen)
{
    int rc = piece_reserve(e, 1);
    if (rc)
        return rc;
    uint8_t *p = arena_reserve(e, FCGIC_HEADER_LEN + (size_t)clen);
    if (p == NULL)
        return FCGIC_E_NOMEM;
    fcgic_record_header_encode(p, type, id, clen, 0);
    if (clen)
        memcpy(p + FCGIC_HEADER_LEN, content, clen);
    arena_commit(e, p, FCGIC_HEADER_LEN + (size_t)clen);
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

/* Writes PARAMS records into space reserved up front, splitting records at
 * 65535 bytes. */
struct pair_writer {
    enum fcgic_type type;
    uint16_t id;
    uint8_t *end;     /* next free byte of the reserved space */
    uint8_t *rec_hdr; /* the open record's header */
    size_t rec_len;   /* content bytes in the open record */
    bool open;
};

static void pw_close(struct pair_writer *w)
{
    if (!w->open)
        return;
    fcgic_record_header_encode(w->rec_hdr, w->type, w->id, (uint16_t)w->rec_len, 0);
    w->open = false;
}

static void pw_open(struct pair_writer *w)
{
    w->rec_hdr = w->end;
    w->end += FCGIC_HEADER_LEN;
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
        memcpy(w->end, s, k);
        w->end += k;
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
    if (rc)
        return rc;
    uint8_t *start = arena_reserve(e, extra);
    if (start == NULL)
        return FCGIC_E_NOMEM;
    struct pair_writer w = {type, request_id, start, NULL, 0, false};
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
            uint8_t *dst = w.end;
            memcpy(dst, lens, ll);
            if (p->name_len)
                memcpy(dst + ll, p->name, p->name_len);
            if (p->value_len)
                memcpy(dst + ll + p->name_len, p->value, p->value_len);
            w.end += s;
            w.rec_len += s;
            continue;
        }
        pw_write(&w, lens, ll);
        pw_write(&w, p->name, p->name_len);
        pw_write(&w, p->value, p->value_len);
    }
    pw_close(&w);
    arena_commit(e, start, (size_t)(w.end - start));
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
    if (rc)
        return rc;
    uint8_t *h = arena_reserve(e, records * FCGIC_HEADER_LEN);
    if (h == NULL)
        return FCGIC_E_NOMEM;
    const uint8_t *p = data;
    while (len > 0) {
        size_t k = len < FCGIC_MAX_CONTENT_LEN ? len : FCGIC_MAX_CONTENT_LEN;
        fcgic_record_header_encode(h, type, request_id, (uint16_t)k, 0);
        arena_commit(e, h, FCGIC_HEADER_LEN);
        h += FCGIC_HEADER_LEN;
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
        if (e->pieces[i].blk == NULL)
            need += e->pieces[i].len - (i == e->head ? e->head_off : 0);
    if (need == 0)
        return 0;
    uint8_t *dst = arena_reserve(e, need);
    if (dst == NULL)
        return FCGIC_E_NOMEM;
    struct enc_block *b = e->newest;
    for (size_t i = e->head; i < e->npieces; i++) {
        struct enc_piece *p = &e->pieces[i];
        if (p->blk)
            continue;
        size_t skip = i == e->head ? e->head_off : 0;
        memcpy(dst, p->ptr + skip, p->len - skip);
        *p = (struct enc_piece){dst, p->len - skip, b};
        b->refs++;
        if (i == e->head)
            e->head_off = 0;
        dst += p->len;
    }
    b->len = (size_t)(dst - b->data);
    return 0;
}

size_t fcgic_encoder_iov(const struct fcgic_encoder *e, struct fcgic_iov *iov, size_t max)
{
    size_t n = 0;
    for (size_t i = e->head; i < e->npieces && n < max; i++) {
        const struct enc_piece *p = &e->pieces[i];
        size_t skip = i == e->head ? e->head_off : 0;
        iov[n].base = (void *)(uintptr_t)(p->ptr + skip);
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
 * would grow forever: drop the written pieces (their blocks were released
 * as they were consumed). Only the piece list moves, never queued bytes. */
static void compact(struct fcgic_encoder *e)
{
    memmove(e->pieces, e->pieces + e->head, (e->npieces - e->head) * sizeof *e->pieces);
    e->npieces -= e->head;
    e->head = 0;
}

int fcgic_encoder_consume(struct fcgic_encoder *e, size_t n)
{
    if (n > e->pending)
        return FCGIC_E_RANGE;
    bool freed = false;
    e->pending -= n;
    while (n > 0) {
        struct enc_piece *p = &e->pieces[e->head];
        size_t left = p->len - e->head_off;
        if (n < left) {
            e->head_off += n;
            break;
        }
        n -= left;
        if (p->blk && --p->blk->refs == 0)
            freed = true;
        e->head++;
        e->head_off = 0;
    }
    if (freed)
        release_blocks(e);
    if (e->head == e->npieces) {
        e->head = e->npieces = e->head_off = 0;
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

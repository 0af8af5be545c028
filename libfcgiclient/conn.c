/* Sans-I/O FastCGI client connection engine. */
#include "fcgiclient/conn.h"

#include "fcgiclient/error.h"
#include "cgi_int.h"
#include "record_int.h"
#include "util.h"

enum slot_state {
    SLOT_FREE = 0, /* not in use */
    SLOT_ACTIVE,   /* running */
    SLOT_ZOMBIE,   /* result delivered early (timeout, malformed response); waiting for END_REQUEST */
    SLOT_ENDING,   /* END_REQUEST received; waiting for its queued body bytes to be written */
    SLOT_ENDED     /* over; the slot takes a new id when reused */
};

enum body_phase { PHASE_STDIN, PHASE_DATA, PHASE_DONE };

struct slot {
    enum slot_state st;
    uint16_t id;
    void *ud;
    enum fcgic_role role;
    bool raw;
    bool aborted;
    bool stdout_closed, stderr_closed; /* an empty record of that stream arrived */
    bool head_seen;
    bool abort_pending; /* cancelled from inside a callback: end on the way out */
    bool unflushed;     /* on_body ran since its last on_flush */
    /* request body */
    enum body_phase phase;
    enum fcgic_body_mode mode[2];
    const void *bbuf[2];
    size_t blen[2];
    bool waiting;          /* body_read said AGAIN */
    uint64_t chunk_end;    /* encoder position after the chunk in flight */
    uint64_t queued_end;   /* encoder position after this request's last queued byte */
    uint64_t start_pos;    /* encoder position before its BEGIN_REQUEST */
    /* response */
    struct fcgic_cgi_parser *cgi;
    struct fcgic__buf errline;
    struct fcgic_result res;
    /* timers */
    struct fcgic_timeouts to;
    uint64_t t_start, t_last;
};

struct fcgic_conn {
    struct fcgic__alloc a;
    struct fcgic_conn_options o;
    struct fcgic_conn_callbacks cb;
    void *ud;
    void *transport_data;
    int sys_errno; /* errno behind the sticky error, from the transport */
    bool aborts_pending;
    size_t unflushed;   /* slots with unflushed set */
    struct fcgic_encoder *enc;
    struct fcgic_decoder *dec;
    struct slot **slots; /* slots never move; each request gets a fresh id */
    size_t nslots;
    uint16_t next_id;   /* the next request id to hand out (ids rotate, 1..65535) */
    bool ids_wrapped;   /* every id has been handed out once */
    unsigned values_wanted; /* GET_VALUES queries not answered yet */
    unsigned live;      /* ACTIVE + ENDING slots */
    unsigned zombies;
    bool connecting;
    uint64_t connect_deadline;
    bool done;    /* will not take new requests (keep_conn off, retired, EOF) */
    int error;    /* sticky */
    int depth;    /* callback nesting */
    uint64_t now; /* latest time passed in */
    bool input_paused; /* a callback returned FCGIC_PAUSE in recv */
    bool free_pending;
    bool pumping, pump_again;
    /* the record being received */
    struct slot *cur;
    uint8_t cur_type;
    struct fcgic__buf values;     /* GET_VALUES_RESULT content */
    struct fcgic__buf values_arr; /* decoded pairs */
};

static void conn_destroy(struct fcgic_conn *c);

/* ------------------------------------------------------------------------ */

int fcgic_conn_new(struct fcgic_conn **out, const struct fcgic_conn_options *opts,
                   const struct fcgic_conn_callbacks *cb, void *conn_ud, const struct fcgic_mem *mem)
{
    if (out == NULL || cb == NULL || cb->version == 0 || cb->version > FCGIC_CONN_CALLBACKS_VERSION ||
        (opts && fcgic__struct_version(opts->version, FCGIC_CONN_OPTIONS_VERSION) == 0))
        return FCGIC_E_INVAL;
    struct fcgic_conn *c = fcgic__object_new(mem, sizeof *c);
    if (c == NULL)
        return FCGIC_E_NOMEM;
    if (opts)
        c->o = *opts;
    if (c->o.max_requests == 0)
        c->o.max_requests = 1;
    if (c->o.max_requests > 65535)
        c->o.max_requests = 65535;
    if (c->o.max_params_bytes == 0)
        c->o.max_params_bytes = 1u << 20;
    if (c->o.max_header_bytes == 0)
        c->o.max_header_bytes = 32768;
    if (c->o.max_stderr_bytes == 0)
        c->o.max_stderr_bytes = 4u << 20;
    if (c->o.max_stderr_line == 0)
        c->o.max_stderr_line = 8192;
    c->next_id = 1;
    fcgic__copy_grown(&c->cb, sizeof c->cb, cb,
                      cb->version == 1 ? offsetof(struct fcgic_conn_callbacks, on_flush) : sizeof *cb);
    c->ud = conn_ud;
    int rc = fcgic_encoder_new(&c->enc, mem);
    if (rc == 0)
        rc = fcgic_decoder_new(&c->dec, mem);
    if (rc) {
        conn_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void conn_destroy(struct fcgic_conn *c)
{
    for (size_t i = 0; i < c->nslots; i++) {
        fcgic_cgi_parser_free(c->slots[i]->cgi);
        fcgic__buf_free(&c->slots[i]->errline, &c->a);
        fcgic__free(&c->a, c->slots[i]);
    }
    fcgic__free(&c->a, c->slots);
    fcgic_encoder_free(c->enc);
    fcgic_decoder_free(c->dec);
    fcgic__buf_free(&c->values, &c->a);
    fcgic__buf_free(&c->values_arr, &c->a);
    fcgic__free(&c->a, c);
}

void fcgic_conn_free(struct fcgic_conn *c)
{
    if (c == NULL)
        return;
    if (c->depth > 0) {
        c->free_pending = true;
        return;
    }
    conn_destroy(c);
}

/* Called on the way out of every public function that runs callbacks.
 * Returns true when the connection was freed. */
static void end_pending_aborts(struct fcgic_conn *c);

/* The end of s's batch of body (see on_flush in conn.h). */
static void flush_slot(struct fcgic_conn *c, struct slot *s)
{
    if (!s->unflushed)
        return;
    s->unflushed = false;
    c->unflushed--;
    c->depth++;
    c->cb.on_flush(c, s->ud);
    c->depth--;
}

static void flush_all(struct fcgic_conn *c)
{
    for (size_t i = 0; i < c->nslots && c->unflushed && !c->free_pending; i++)
        if (c->slots[i]->st == SLOT_ACTIVE || c->slots[i]->st == SLOT_ENDING)
            flush_slot(c, c->slots[i]);
}

static bool leave(struct fcgic_conn *c)
{
    if (c->depth == 0 && c->unflushed && !c->free_pending)
        flush_all(c);
    if (c->depth == 0 && c->aborts_pending && !c->free_pending)
        end_pending_aborts(c);
    if (c->depth == 0 && c->free_pending) {
        conn_destroy(c);
        return true;
    }
    return false;
}

void *fcgic_conn_transport_data(const struct fcgic_conn *c)
{
    return c->transport_data;
}

void fcgic_conn_set_transport_data(struct fcgic_conn *c, void *data)
{
    c->transport_data = data;
}

int fcgic_conn_sys_errno(const struct fcgic_conn *c)
{
    return c->sys_errno;
}

void *fcgic_conn_userdata(const struct fcgic_conn *c)
{
    return c->ud;
}

void fcgic_conn_set_userdata(struct fcgic_conn *c, void *conn_ud)
{
    c->ud = conn_ud;
}

int fcgic_conn_input_paused(const struct fcgic_conn *c)
{
    return c->input_paused;
}

/* Reading goes on after a pause: the idle timers count from now. */
static void resume_input(struct fcgic_conn *c, uint64_t now)
{
    if (!c->input_paused)
        return;
    c->input_paused = false;
    for (size_t i = 0; i < c->nslots; i++)
        if (c->slots[i]->st == SLOT_ACTIVE)
            c->slots[i]->t_last = now;
}

void fcgic_conn_unpause(struct fcgic_conn *c)
{
    resume_input(c, c->now);
}

int fcgic_conn_in_callback(const struct fcgic_conn *c)
{
    return c->depth > 0;
}

uint64_t fcgic_conn_last_now(const struct fcgic_conn *c)
{
    return c->now;
}

int fcgic_conn_error(const struct fcgic_conn *c)
{
    return c->error;
}

unsigned fcgic_conn_active(const struct fcgic_conn *c)
{
    return c->live + c->zombies;
}

void fcgic_conn_retire(struct fcgic_conn *c)
{
    c->done = true;
}

int fcgic_conn_set_max_requests(struct fcgic_conn *c, unsigned n)
{
    if (n == 0 || n > 65535)
        return FCGIC_E_RANGE;
    c->o.max_requests = n;
    return 0;
}

enum fcgic_conn_state fcgic_conn_state(const struct fcgic_conn *c)
{
    if (c->error)
        return FCGIC_CONN_FAILED;
    if (c->connecting)
        return FCGIC_CONN_CONNECTING;
    if (c->live)
        return FCGIC_CONN_ACTIVE;
    if (c->done)
        return FCGIC_CONN_DONE;
    if (c->zombies)
        return FCGIC_CONN_ACTIVE;
    return FCGIC_CONN_IDLE;
}

unsigned fcgic_conn_wants(const struct fcgic_conn *c)
{
    if (c->error || (c->done && c->live == 0))
        return FCGIC_WANT_CLOSE;
    if (c->connecting)
        return FCGIC_WANT_WRITE;
    unsigned w = c->input_paused ? FCGIC_WANT_PAUSED : FCGIC_WANT_READ;
    if (fcgic_encoder_pending(c->enc))
        w |= FCGIC_WANT_WRITE;
    return w;
}

int fcgic_conn_connecting(struct fcgic_conn *c, uint64_t now)
{
    c->now = now;
    if (c->error)
        return c->error;
    if (fcgic__encoder_queued_total(c->enc) != fcgic_encoder_pending(c->enc))
        return FCGIC_E_STATE; /* bytes were already written */
    c->connecting = true;
    uint64_t t = c->o.connect_timeout_ns;
    c->connect_deadline = t == 0 || now > UINT64_MAX - t ? FCGIC_NO_DEADLINE : now + t; /* saturate, never wrap */
    return 0;
}

int fcgic_conn_connected(struct fcgic_conn *c, uint64_t now)
{
    c->now = now;
    if (c->error)
        return c->error;
    if (!c->connecting)
        return FCGIC_E_STATE;
    c->connecting = false;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Ending requests                                                          */

static uint64_t written_pos(const struct fcgic_conn *c)
{
    return fcgic__encoder_queued_total(c->enc) - fcgic_encoder_pending(c->enc);
}

/* Deliver on_end for s and release the slot. */
static void deliver_end(struct fcgic_conn *c, struct slot *s, enum slot_state prev)
{
    if (s->abort_pending) { /* cancelled from a callback, ended before it took effect */
        s->abort_pending = false;
        s->res.error = FCGIC_E_ABORTED;
        s->res.aborted = 1;
    }
    if (s->unflushed) { /* on_end ends its last batch of body (see on_flush) */
        s->unflushed = false;
        c->unflushed--;
    }
    struct fcgic_result res = s->res;
    void *ud = s->ud;
    s->st = SLOT_ENDED;
    s->ud = NULL;
    if (prev == SLOT_ZOMBIE) {
        c->zombies--;
        return; /* its result was delivered when it timed out */
    }
    c->live--;
    if (!c->o.keep_conn)
        c->done = true;
    if (c->cb.on_end) {
        c->depth++;
        c->cb.on_end(c, ud, &res);
        c->depth--;
    }
}

/* End s with an error now (timeouts, failures, callback errors). */
static void end_with_error(struct fcgic_conn *c, struct slot *s, int err)
{
    if (s->st != SLOT_ACTIVE && s->st != SLOT_ENDING)
        return;
    if (s->st == SLOT_ACTIVE)
        s->res.error = err;
    deliver_end(c, s, s->st);
}

static int conn_failed(struct fcgic_conn *c, int err);

/* End s now with err although the application has not ended it (timeout,
 * malformed or oversized response, a callback's error): deliver its result,
 * ask the application to stop, and keep the id reserved (ZOMBIE) until
 * END_REQUEST so late records for it are dropped; the connection is not
 * reused. Body bytes still queued are copied first, so the caller may
 * release its body from on_end. Returns 0 or the error the connection
 * failed with. */
static int end_early(struct fcgic_conn *c, struct slot *s, int err)
{
    c->done = true;
    int rc = s->queued_end > written_pos(c) ? fcgic__encoder_own(c->enc) : 0;
    if (rc == 0)
        rc = fcgic_encoder_abort_request(c->enc, s->id);
    if (rc)
        return conn_failed(c, rc);
    s->res.error = err;
    s->res.aborted = err == FCGIC_E_ABORTED;
    struct fcgic_result res = s->res;
    void *ud = s->ud;
    s->st = SLOT_ZOMBIE;
    s->ud = NULL;
    c->live--;
    c->zombies++;
    if (c->cb.on_end) {
        c->depth++;
        c->cb.on_end(c, ud, &res);
        c->depth--;
    }
    return 0;
}

/* Fail the whole connection: every request ends with err. */
static int conn_failed(struct fcgic_conn *c, int err)
{
    if (c->error)
        return c->error;
    c->error = err;
    c->connecting = false;
    fcgic_encoder_reset(c->enc); /* drop references to callers' bodies */
    for (size_t i = 0; i < c->nslots && !c->free_pending; i++) {
        struct slot *s = c->slots[i];
        if (s->st == SLOT_ZOMBIE) {
            s->st = SLOT_ENDED;
            c->zombies--;
        } else if (s->st == SLOT_ENDING) {
            deliver_end(c, s, SLOT_ENDING); /* it did get END_REQUEST */
        } else if (s->st == SLOT_ACTIVE) {
            s->res.sys_errno = c->sys_errno;
            end_with_error(c, s, s->aborted ? FCGIC_E_ABORTED : err);
        }
    }
    return err;
}

/* Deliver ENDING requests whose queued bytes are now written. */
static void settle_ending(struct fcgic_conn *c)
{
    uint64_t w = written_pos(c);
    for (size_t i = 0; i < c->nslots && !c->free_pending && !c->error; i++) {
        struct slot *s = c->slots[i];
        if (s->st == SLOT_ENDING && s->queued_end <= w)
            deliver_end(c, s, SLOT_ENDING);
    }
}

/* ------------------------------------------------------------------------ */
/* Request body                                                             */

/* Pull body for one request until it has a chunk in flight, waits, or is
 * complete. Returns false when the request was ended. */
static bool pump_slot(struct fcgic_conn *c, struct slot *s)
{
    while (s->st == SLOT_ACTIVE && s->phase != PHASE_DONE && !s->waiting && !s->aborted) {
        if (s->chunk_end > written_pos(c))
            return true; /* previous chunk still being written */
        int k = s->phase == PHASE_STDIN ? 0 : 1;
        enum fcgic_type type = k == 0 ? FCGIC_TYPE_STDIN : FCGIC_TYPE_DATA;
        int rc = 0;
        bool eof = false;
        switch (s->mode[k]) {
        case FCGIC_BODY_NONE:
            eof = true;
            break;
        case FCGIC_BODY_BUFFER:
            if (s->blen[k])
                rc = fcgic_encoder_stream(c->enc, type, s->id, s->bbuf[k], s->blen[k]);
            if (k == 0)
                s->res.stdin_bytes = s->blen[k];
            else
                s->res.data_bytes = s->blen[k];
            eof = true;
            break;
        case FCGIC_BODY_STREAM: {
            struct fcgic_span chunk = {NULL, 0};
            int st = c->cb.body_read ? FCGIC_BODY_EOF : -1;
            if (c->cb.body_read) {
                c->depth++;
                st = c->cb.body_read(c, s->ud, type, &chunk);
                c->depth--;
                if (c->free_pending || c->error || s->st != SLOT_ACTIVE || s->aborted)
                    return false;
            }
            if (st == FCGIC_BODY_CHUNK && chunk.len > 0 && chunk.ptr != NULL) {
                rc = fcgic_encoder_stream(c->enc, type, s->id, chunk.ptr, chunk.len);
                if (rc == 0) {
                    s->chunk_end = fcgic__encoder_queued_total(c->enc);
                    if (k == 0)
                        s->res.stdin_bytes += chunk.len;
                    else
                        s->res.data_bytes += chunk.len;
                }
            } else if (st == FCGIC_BODY_EOF) {
                eof = true;
            } else if (st == FCGIC_BODY_CHUNK || st == FCGIC_BODY_AGAIN) {
                s->waiting = true; /* empty chunk counts as "not yet" */
            } else {
                /* The provider failed: the stream cannot be completed. */
                end_early(c, s, FCGIC_E_BODY_SOURCE);
                return false;
            }
            break;
        }
        }
        if (rc == 0 && eof) {
            rc = fcgic_encoder_stream(c->enc, type, s->id, NULL, 0);
            if (rc == 0)
                s->phase = (k == 0 && s->role == FCGIC_ROLE_FILTER) ? PHASE_DATA : PHASE_DONE;
        }
        s->queued_end = fcgic__encoder_queued_total(c->enc);
        if (rc) {
            conn_failed(c, rc);
            return false;
        }
    }
    if (s->st == SLOT_ACTIVE && s->phase == PHASE_DONE)
        s->res.body_sent = s->queued_end <= written_pos(c);
    return s->st == SLOT_ACTIVE;
}

static void pump(struct fcgic_conn *c)
{
    if (c->pumping) {
        c->pump_again = true;
        return;
    }
    c->pumping = true;
    do {
        c->pump_again = false;
        for (size_t i = 0; i < c->nslots && !c->free_pending && !c->error; i++)
            if (c->slots[i]->st == SLOT_ACTIVE)
                pump_slot(c, c->slots[i]);
    } while (c->pump_again && !c->free_pending && !c->error);
    c->pumping = false;
}

/* ------------------------------------------------------------------------ */
/* Submitting                                                               */

static bool slot_holds_id(const struct slot *s)
{
    return s->st == SLOT_ACTIVE || s->st == SLOT_ZOMBIE || s->st == SLOT_ENDING;
}

/* The request that holds id (running, ending, or a zombie), or NULL. */
static struct slot *find_slot(const struct fcgic_conn *c, uint16_t id)
{
    for (size_t i = 0; i < c->nslots && id; i++)
        if (c->slots[i]->id == id && slot_holds_id(c->slots[i]))
            return c->slots[i];
    return NULL;
}

/* Was id handed out to a request on this connection? */
static bool id_was_used(const struct fcgic_conn *c, uint16_t id)
{
    return id != 0 && (c->ids_wrapped || id < c->next_id);
}

/* Hand out the next request id. Ids rotate through 1..65535 instead of
 * being reused at once, so a late record of an earlier request on this
 * connection is never taken for the answer to a later one. Terminates:
 * submit refuses when max_requests (at most 65535) ids are held. */
static uint16_t take_id(struct fcgic_conn *c)
{
    for (;;) {
        uint16_t id = c->next_id;
        if (id == 65535) {
            c->next_id = 1;
            c->ids_wrapped = true;
        } else {
            c->next_id = (uint16_t)(id + 1);
        }
        if (find_slot(c, id) == NULL)
            return id;
    }
}

static int free_slot(struct fcgic_conn *c, struct slot **out)
{
    for (size_t i = 0; i < c->nslots; i++) {
        if (c->slots[i]->st == SLOT_FREE || c->slots[i]->st == SLOT_ENDED) {
            *out = c->slots[i];
            return 0;
        }
    }
    if (c->nslots >= c->o.max_requests)
        return FCGIC_E_BUSY;
    struct slot **ns = fcgic__realloc(&c->a, c->slots, c->nslots * sizeof *ns, (c->nslots + 1) * sizeof *ns);
    if (ns == NULL)
        return FCGIC_E_NOMEM;
    c->slots = ns;
    struct slot *s = fcgic__calloc(&c->a, 1, sizeof *s);
    if (s == NULL)
        return FCGIC_E_NOMEM;
    c->slots[c->nslots++] = s;
    *out = s;
    return 0;
}

static bool has_param(const struct fcgic_param *p, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (p[i].name_len == len && memcmp(p[i].name, name, len) == 0)
            return true;
    return false;
}

int fcgic_conn_submit(struct fcgic_conn *c, const struct fcgic_request *req, void *req_ud, uint16_t *id_out,
                      uint64_t now)
{
    c->now = now;
    if (req == NULL || (req->params == NULL && req->nparams) ||
        fcgic__struct_version(req->version, FCGIC_REQUEST_VERSION) == 0)
        return FCGIC_E_INVAL;
    if (c->error)
        return FCGIC_E_CONN_FAILED;
    if (c->done || c->free_pending)
        return FCGIC_E_BUSY;
    enum fcgic_role role = req->role ? req->role : FCGIC_ROLE_RESPONDER;
    if (role < FCGIC_ROLE_RESPONDER || role > FCGIC_ROLE_FILTER)
        return FCGIC_E_BAD_ROLE;
    if ((req->stdin_mode == FCGIC_BODY_BUFFER && req->stdin_data == NULL && req->stdin_len) ||
        (req->data_mode == FCGIC_BODY_BUFFER && req->data == NULL && req->data_len) ||
        (unsigned)req->stdin_mode > FCGIC_BODY_STREAM || (unsigned)req->data_mode > FCGIC_BODY_STREAM)
        return FCGIC_E_INVAL;
    if (c->live + c->zombies >= c->o.max_requests)
        return FCGIC_E_BUSY;
    size_t psize;
    int rc = fcgic__pairs_size(req->params, req->nparams, &psize);
    if (rc)
        return rc;
    if (psize > c->o.max_params_bytes)
        return FCGIC_E_PARAMS_TOO_BIG;
    struct slot *s;
    rc = free_slot(c, &s);
    if (rc)
        return rc;
    if (s->cgi == NULL && !req->raw_stdout) {
        struct fcgic_cgi_options co = {0};
        co.max_header_bytes = c->o.max_header_bytes;
        co.lenient_header_block = c->o.lenient_header_block;
        struct fcgic_mem m = c->a.m;
        rc = fcgic_cgi_parser_new(&s->cgi, &co, &m);
        if (rc)
            return rc;
    }
    s->id = take_id(c);
    /* Queue BEGIN_REQUEST and PARAMS; roll back on failure. */
    uint64_t start_pos = fcgic__encoder_queued_total(c->enc);
    rc = fcgic_encoder_begin_request(c->enc, s->id, role, c->o.keep_conn ? FCGIC_FLAG_KEEP_CONN : 0);
    if (rc == 0)
        rc = fcgic__encoder_pairs_sized(c->enc, FCGIC_TYPE_PARAMS, s->id, req->params, req->nparams, psize);
    if (rc == 0 && role == FCGIC_ROLE_FILTER && req->data_mode != FCGIC_BODY_STREAM &&
        !has_param(req->params, req->nparams, "FCGI_DATA_LENGTH")) {
        char num[24];
        size_t dl = req->data_mode == FCGIC_BODY_BUFFER ? req->data_len : 0;
        int nl = 0;
        char tmp[24];
        do {
            tmp[nl++] = (char)('0' + dl % 10);
            dl /= 10;
        } while (dl);
        for (int i = 0; i < nl; i++)
            num[i] = tmp[nl - 1 - i];
        struct fcgic_param p = {"FCGI_DATA_LENGTH", 16, num, (size_t)nl};
        rc = fcgic_encoder_pairs(c->enc, FCGIC_TYPE_PARAMS, s->id, &p, 1);
    }
    if (rc == 0)
        rc = fcgic_encoder_stream(c->enc, FCGIC_TYPE_PARAMS, s->id, NULL, 0);
    if (rc) {
        /* The queue may hold part of this request: the connection can no
         * longer be used safely. */
        conn_failed(c, rc);
        return rc;
    }
    struct fcgic_cgi_parser *cgi = s->cgi;
    struct fcgic__buf errline = s->errline;
    uint16_t id = s->id;
    memset(s, 0, sizeof *s);
    s->id = id;
    s->cgi = cgi;
    s->errline = errline;
    s->errline.len = 0;
    if (cgi) {
        fcgic_cgi_parser_reset(cgi);
        fcgic__cgi_parser_set_authorizer(cgi, role == FCGIC_ROLE_AUTHORIZER);
    }
    s->st = SLOT_ACTIVE;
    s->ud = req_ud;
    s->role = role;
    s->raw = req->raw_stdout != 0;
    s->mode[0] = req->stdin_mode;
    s->bbuf[0] = req->stdin_data;
    s->blen[0] = req->stdin_len;
    s->mode[1] = role == FCGIC_ROLE_FILTER ? req->data_mode : FCGIC_BODY_NONE;
    s->bbuf[1] = req->data;
    s->blen[1] = req->data_len;
    s->res.protocol_status = FCGIC_REQUEST_COMPLETE;
    s->to = req->timeouts;
    s->t_start = s->t_last = now;
    s->start_pos = start_pos;
    s->queued_end = fcgic__encoder_queued_total(c->enc);
    c->live++;
    if (id_out)
        *id_out = id;
    pump(c);
    if (c->depth == 0)
        leave(c);
    return 0;
}

int fcgic_conn_resume(struct fcgic_conn *c, uint16_t id, uint64_t now)
{
    c->now = now;
    struct slot *s = find_slot(c, id);
    if (s == NULL || s->st != SLOT_ACTIVE)
        return FCGIC_E_NOT_FOUND;
    if (c->error)
        return c->error;
    s->waiting = false;
    pump(c);
    leave(c);
    return 0;
}

static void end_pending_aborts(struct fcgic_conn *c)
{
    c->aborts_pending = false;
    for (size_t i = 0; i < c->nslots && !c->free_pending && !c->error; i++) {
        struct slot *s = c->slots[i];
        if (s->st == SLOT_ACTIVE && s->abort_pending) {
            s->abort_pending = false;
            end_early(c, s, FCGIC_E_ABORTED);
        }
    }
}

int fcgic_conn_abort(struct fcgic_conn *c, uint16_t id)
{
    struct slot *s = find_slot(c, id);
    if (s == NULL || s->st != SLOT_ACTIVE)
        return FCGIC_E_NOT_FOUND;
    if (c->error)
        return c->error;
    if (s->aborted)
        return 0;
    if (!c->o.polite_abort) {
        if (c->depth == 0) {
            int rc = end_early(c, s, FCGIC_E_ABORTED);
            leave(c);
            return rc;
        }
        /* From inside a callback: no more callbacks for it; its on_end
         * runs when the engine call that ran the callback returns. */
        s->aborted = true;
        s->abort_pending = true;
        c->aborts_pending = true;
        return 0;
    }
    int rc = fcgic_encoder_abort_request(c->enc, id);
    if (rc)
        return rc;
    s->aborted = true;
    s->res.aborted = 1;
    if (s->phase != PHASE_DONE)
        c->done = true; /* its streams stay unterminated: do not reuse */
    return 0;
}

int fcgic_conn_get_values(struct fcgic_conn *c, const char *const *names, size_t n)
{
    if (names == NULL || n == 0 || n > 64)
        return FCGIC_E_INVAL;
    if (c->error)
        return c->error;
    struct fcgic_param p[64];
    for (size_t i = 0; i < n; i++) {
        if (names[i] == NULL)
            return FCGIC_E_INVAL;
        p[i] = (struct fcgic_param){names[i], strlen(names[i]), "", 0};
    }
    int rc = fcgic_encoder_pairs(c->enc, FCGIC_TYPE_GET_VALUES, 0, p, n);
    if (rc == 0)
        c->values_wanted++;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

size_t fcgic_conn_out_iov(struct fcgic_conn *c, struct fcgic_iov *iov, size_t max)
{
    if (c->connecting || c->error)
        return 0;
    return fcgic_encoder_iov(c->enc, iov, max);
}

size_t fcgic_conn_out_pending(const struct fcgic_conn *c)
{
    return c->connecting ? 0 : fcgic_encoder_pending(c->enc);
}

int fcgic_conn_out_done(struct fcgic_conn *c, size_t n, uint64_t now)
{
    c->now = now;
    if (c->depth)
        return FCGIC_E_REENTRANT;
    if (c->error)
        return c->error;
    int rc = fcgic_encoder_consume(c->enc, n);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->nslots; i++) {
        struct slot *s = c->slots[i];
        if (s->st == SLOT_ACTIVE && !s->res.request_written)
            s->res.request_written = written_pos(c) > s->start_pos;
    }
    settle_ending(c);
    if (!c->free_pending && !c->error)
        pump(c);
    for (size_t i = 0; i < c->nslots; i++) {
        struct slot *s = c->slots[i];
        if (s->st == SLOT_ACTIVE && s->phase == PHASE_DONE && !s->res.body_sent)
            s->res.body_sent = s->queued_end <= written_pos(c);
    }
    rc = c->error;
    if (leave(c))
        return rc;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Input                                                                    */

/* Callback result handling: negative fails the request. */
static int cb_result(struct fcgic_conn *c, struct slot *s, int r)
{
    if (r < 0 && s->st == SLOT_ACTIVE)
        return end_early(c, s, FCGIC_E_CALLBACK);
    return r == FCGIC_PAUSE ? FCGIC_PAUSE : 0;
}

static int call_head(struct fcgic_conn *c, struct slot *s, const struct fcgic_response_head *h)
{
    s->head_seen = true;
    if (c->cb.on_head == NULL)
        return 0;
    c->depth++;
    int r = c->cb.on_head(c, s->ud, h);
    c->depth--;
    return cb_result(c, s, r);
}

static int call_body(struct fcgic_conn *c, struct slot *s, const char *p, size_t n)
{
    if (c->cb.on_body == NULL || n == 0)
        return 0;
    c->depth++;
    int r = c->cb.on_body(c, s->ud, p, n);
    c->depth--;
    if (c->cb.on_flush && !s->unflushed) {
        s->unflushed = true;
        c->unflushed++;
    }
    return cb_result(c, s, r);
}

static int call_stderr(struct fcgic_conn *c, struct slot *s, const char *p, size_t n)
{
    if (c->cb.on_stderr == NULL)
        return 0;
    if (n && p[n - 1] == '\r')
        n--;
    c->depth++;
    int r = c->cb.on_stderr(c, s->ud, p, n);
    c->depth--;
    return cb_result(c, s, r);
}

static bool still_listening(const struct fcgic_conn *c, const struct slot *s)
{
    return !c->free_pending && !c->error && s->st == SLOT_ACTIVE && !s->aborted;
}

/* STDOUT bytes for s. *used receives how many were taken. */
static int on_stdout(struct fcgic_conn *c, struct slot *s, const uint8_t *p, size_t n, size_t *used)
{
    *used = 0;
    if (s->raw) {
        *used = n;
        return call_body(c, s, (const char *)p, n);
    }
    while (*used < n && still_listening(c, s)) {
        struct fcgic_cgi_event ev;
        size_t k;
        int rc = fcgic_cgi_parser_next(s->cgi, (const char *)p + *used, n - *used, &k, &ev);
        *used += k;
        if (rc < 0) {
            /* A malformed response: the caller learns it now, not when
             * (or if) the application sends END_REQUEST. */
            *used = n;
            return end_early(c, s, rc);
        }
        if (rc == 0)
            break;
        int r = ev.kind == FCGIC_CGI_HEAD ? call_head(c, s, ev.head) : call_body(c, s, ev.data, ev.len);
        if (r == FCGIC_PAUSE)
            return r;
    }
    *used = n;
    return 0;
}

/* STDERR bytes for s, reassembled into lines. */
static int on_stderr(struct fcgic_conn *c, struct slot *s, const uint8_t *p8, size_t n, size_t *used)
{
    const char *p = (const char *)p8;
    size_t max = c->o.max_stderr_line;
    *used = 0;
    while (*used < n && still_listening(c, s)) {
        const char *start = p + *used;
        size_t left = n - *used;
        const char *nl = memchr(start, '\n', left);
        size_t seg = nl ? (size_t)(nl - start) : left;
        int r = 0;
        if (s->errline.len + seg > max) {
            /* Overlong line: deliver max bytes now. */
            size_t take = max - s->errline.len;
            int rc = fcgic__buf_append(&s->errline, &c->a, start, take);
            if (rc)
                return rc;
            size_t l = s->errline.len;
            s->errline.len = 0;
            r = call_stderr(c, s, s->errline.data, l);
            *used += take;
        } else if (nl) {
            if (s->errline.len) {
                int rc = fcgic__buf_append(&s->errline, &c->a, start, seg);
                if (rc)
                    return rc;
                size_t l = s->errline.len;
                s->errline.len = 0;
                r = call_stderr(c, s, s->errline.data, l);
            } else {
                r = call_stderr(c, s, start, seg);
            }
            *used += seg + 1;
        } else {
            int rc = fcgic__buf_append(&s->errline, &c->a, start, seg);
            if (rc)
                return rc;
            *used += seg;
        }
        if (r == FCGIC_PAUSE)
            return r;
    }
    *used = n;
    return 0;
}

static void finish_response(struct fcgic_conn *c, struct slot *s)
{
    if (s->errline.len && still_listening(c, s)) {
        size_t l = s->errline.len;
        s->errline.len = 0;
        call_stderr(c, s, s->errline.data, l);
    }
    if (s->raw || !still_listening(c, s))
        return;
    struct fcgic_cgi_event ev;
    int rc;
    while (still_listening(c, s) && (rc = fcgic_cgi_parser_finish(s->cgi, &ev)) != 0) {
        if (rc < 0) {
            s->res.error = rc;
            break;
        }
        if (ev.kind == FCGIC_CGI_HEAD)
            call_head(c, s, ev.head);
        else
            call_body(c, s, ev.data, ev.len);
    }
}

static int values_record_end(struct fcgic_conn *c)
{
    if (c->values.len == 0) {
        /* an empty answer: no variables known */
        if (c->cb.on_values) {
            c->depth++;
            c->cb.on_values(c, c->ud, NULL, 0);
            c->depth--;
        }
        return 0;
    }
    struct fcgic_nv_decoder *d;
    struct fcgic_mem m = c->a.m;
    int rc = fcgic_nv_decoder_new(&d, 0, &m);
    if (rc)
        return rc;
    size_t pos = 0, n = 0;
    c->values_arr.len = 0;
    while (rc == 0) {
        struct fcgic_param p;
        size_t used;
        int r = fcgic_nv_decoder_next(d, (const uint8_t *)c->values.data + pos, c->values.len - pos, &used, &p);
        pos += used;
        if (r < 0)
            rc = r;
        else if (r == 0)
            break;
        else {
            rc = fcgic__buf_append(&c->values_arr, &c->a, &p, sizeof p);
            n++;
        }
    }
    if (rc == 0)
        rc = fcgic_nv_decoder_finish(d);
    fcgic_nv_decoder_free(d);
    if (rc)
        return rc == FCGIC_E_NOMEM ? rc : FCGIC_E_NV_OVERRUN;
    if (c->cb.on_values) {
        c->depth++;
        c->cb.on_values(c, c->ud, (const struct fcgic_param *)(void *)c->values_arr.data, n);
        c->depth--;
    }
    c->values.len = 0;
    return 0;
}

/* Look up the request a record names; protocol errors for bad ids. */
static int route(struct fcgic_conn *c, uint16_t id, struct slot **out)
{
    struct slot *s = find_slot(c, id);
    if (s == NULL)
        return id_was_used(c, id) ? FCGIC_E_AFTER_END : FCGIC_E_UNKNOWN_ID;
    if (s->st == SLOT_ENDING)
        return FCGIC_E_AFTER_END;
    *out = s;
    return 0;
}

static void timers_touch(struct slot *s, uint64_t now)
{
    s->t_last = now;
}

/* Handle one decoder event. For DATA events *used tells how much of the span
 * was taken (less on pause). Returns FCGIC_PAUSE, 0 or a fatal error. */
static int handle(struct fcgic_conn *c, const struct fcgic_decoder_event *ev, size_t *used, uint64_t now)
{
    struct slot *s = NULL;
    int rc;
    switch (ev->kind) {
    case FCGIC_DEC_HEADER:
        c->cur = NULL;
        c->cur_type = ev->type;
        if (ev->type == FCGIC_TYPE_GET_VALUES_RESULT) {
            if (c->values_wanted == 0)
                return FCGIC_E_UNSOLICITED;
            c->values.len = 0;
            return 0;
        }
        if (ev->type != FCGIC_TYPE_STDOUT && ev->type != FCGIC_TYPE_STDERR)
            return FCGIC_E_BAD_TYPE;
        if ((rc = route(c, ev->request_id, &s)) != 0)
            return rc;
        c->cur = s;
        bool *closed = ev->type == FCGIC_TYPE_STDOUT ? &s->stdout_closed : &s->stderr_closed;
        if (ev->content_length == 0)
            *closed = true;
        else if (*closed)
            return FCGIC_E_AFTER_STREAM_END; /* either stream: no byte after its end */
        return 0;
    case FCGIC_DEC_DATA:
        if (c->cur_type == FCGIC_TYPE_GET_VALUES_RESULT)
            return fcgic__buf_append(&c->values, &c->a, ev->data, ev->len);
        s = c->cur;
        *used = ev->len;
        if (s == NULL || s->st != SLOT_ACTIVE)
            return 0; /* zombie: discard */
        s->res.response_started = 1;
        timers_touch(s, now);
        if (ev->type == FCGIC_TYPE_STDOUT) {
            s->res.stdout_bytes += ev->len;
            if (s->aborted)
                return 0;
            rc = on_stdout(c, s, ev->data, ev->len, used);
            s->res.stdout_bytes -= ev->len - *used; /* handed back on pause: counted when fed again */
            return rc;
        }
        s->res.stderr_bytes += ev->len;
        if (s->res.stderr_bytes > c->o.max_stderr_bytes && !s->aborted)
            return end_early(c, s, FCGIC_E_STDERR_TOO_BIG);
        if (s->aborted)
            return 0;
        rc = on_stderr(c, s, ev->data, ev->len, used);
        s->res.stderr_bytes -= ev->len - *used; /* handed back on pause: counted when fed again */
        return rc;
    case FCGIC_DEC_RECORD_END:
        c->cur = NULL;
        if (ev->type == FCGIC_TYPE_GET_VALUES_RESULT) {
            c->values_wanted--;
            return values_record_end(c);
        }
        return 0;
    case FCGIC_DEC_END_REQUEST: {
        if ((rc = route(c, ev->request_id, &s)) != 0)
            return rc;
        if (s->st == SLOT_ZOMBIE) {
            deliver_end(c, s, SLOT_ZOMBIE);
            return 0;
        }
        s->res.got_end_request = 1;
        s->res.app_status = ev->app_status;
        s->res.protocol_status = (enum fcgic_protocol_status)ev->protocol_status;
        /* A request the application refused (OVERLOADED, CANT_MPX_CONN,
         * UNKNOWN_ROLE) has no output to check. */
        if (!s->aborted && (ev->protocol_status == FCGIC_REQUEST_COMPLETE || s->res.stdout_bytes))
            finish_response(c, s);
        if (c->free_pending || c->error)
            return 0;
        if (s->phase != PHASE_DONE || s->queued_end > written_pos(c)) {
            /* The application ended before taking the whole body: the
             * rest of the stream would reach it as stray records, so the
             * connection is not reused. */
            s->phase = PHASE_DONE;
            c->done = true;
        }
        if (s->queued_end > written_pos(c)) {
            if (c->live > 1 || c->zombies || c->values_wanted) {
                /* Its body bytes are still queued between records other
                 * requests need: on_end once they are written (or at its
                 * timeout, see fcgic_conn_tick()). */
                s->st = SLOT_ENDING;
                return 0;
            }
            /* Nothing else on this connection needs its output and the
             * connection is not reused: the rest of the body is dropped
             * rather than written to an application that may never read
             * it, and the response ends now, not at a timeout. */
            fcgic_encoder_reset(c->enc);
        }
        deliver_end(c, s, SLOT_ACTIVE);
        return 0;
    }
    case FCGIC_DEC_UNKNOWN_TYPE:
        return FCGIC_E_PEER_UNKNOWN_TYPE;
    case FCGIC_DEC_BEGIN_REQUEST:
    case FCGIC_DEC_ABORT_REQUEST:
    default:
        return FCGIC_E_BAD_TYPE;
    }
}

int fcgic_conn_recv(struct fcgic_conn *c, const void *buf, size_t len, size_t *consumed, uint64_t now)
{
    size_t pos = 0;
    if (consumed)
        *consumed = 0;
    if (c->depth)
        return FCGIC_E_REENTRANT;
    c->now = now;
    resume_input(c, now);
    if (c->error)
        return c->error;
    if (buf == NULL && len)
        return FCGIC_E_INVAL;
    static const uint8_t no_input[1];
    const uint8_t *b = buf ? (const uint8_t *)buf : no_input; /* no arithmetic on NULL */
    int rc = 0;
    for (;;) {
        struct fcgic_decoder_event ev;
        size_t used;
        int r = fcgic_decoder_next(c->dec, b + pos, len - pos, &used, &ev);
        if (r < 0) {
            pos += used;
            rc = conn_failed(c, r);
            break;
        }
        pos += used;
        if (r == 0)
            break;
        size_t taken = ev.len;
        int h = handle(c, &ev, &taken, now);
        if (h < 0) {
            rc = conn_failed(c, h);
            break;
        }
        if (c->free_pending || c->error) {
            rc = c->error;
            break;
        }
        if (h == FCGIC_PAUSE) {
            c->input_paused = true;
            if (taken < ev.len) {
                fcgic__decoder_unread(c->dec, ev.len - taken);
                pos -= ev.len - taken;
            }
            break;
        }
    }
    if (consumed)
        *consumed = pos;
    if (leave(c))
        return rc;
    return rc;
}

int fcgic_conn_recv_eof(struct fcgic_conn *c, uint64_t now)
{
    c->now = now;
    if (c->depth)
        return FCGIC_E_REENTRANT;
    if (c->error)
        return c->error;
    int rc = 0;
    c->done = true;
    if (c->live || !fcgic_decoder_idle(c->dec))
        rc = conn_failed(c, fcgic_decoder_idle(c->dec) ? FCGIC_E_PEER_CLOSED : FCGIC_E_TRUNCATED);
    else if (c->zombies)
        rc = conn_failed(c, FCGIC_E_PEER_CLOSED);
    leave(c);
    return rc;
}

int fcgic_conn_fail_errno(struct fcgic_conn *c, int err, int sys_errno, uint64_t now)
{
    if (c->depth == 0 && !c->error)
        c->sys_errno = sys_errno;
    return fcgic_conn_fail(c, err, now);
}

int fcgic_conn_fail(struct fcgic_conn *c, int err, uint64_t now)
{
    c->now = now;
    if (c->depth)
        return FCGIC_E_REENTRANT;
    if (err >= 0)
        err = FCGIC_E_IO;
    int rc = conn_failed(c, err);
    leave(c);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Timers                                                                   */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* While input is paused the application is not silent, the reader is slow:
 * the first-byte and idle timers wait, and restart when reading resumes. */
static uint64_t slot_deadline(const struct fcgic_conn *c, const struct slot *s, int *which)
{
    uint64_t d = FCGIC_NO_DEADLINE;
    *which = 0;
    if (s->to.total && add_sat(s->t_start, s->to.total) < d) {
        d = add_sat(s->t_start, s->to.total);
        *which = FCGIC_E_TIMEOUT_TOTAL;
    }
    if (c->input_paused)
        return d;
    if (s->to.first_byte && !s->res.response_started && add_sat(s->t_start, s->to.first_byte) < d) {
        d = add_sat(s->t_start, s->to.first_byte);
        *which = FCGIC_E_TIMEOUT_FIRST_BYTE;
    }
    if (s->to.idle && add_sat(s->t_last, s->to.idle) < d) {
        d = add_sat(s->t_last, s->to.idle);
        *which = FCGIC_E_TIMEOUT_IDLE;
    }
    return d;
}

uint64_t fcgic_conn_deadline(const struct fcgic_conn *c)
{
    if (c->error)
        return FCGIC_NO_DEADLINE;
    uint64_t d = c->connecting ? c->connect_deadline : FCGIC_NO_DEADLINE;
    for (size_t i = 0; i < c->nslots; i++) {
        int which;
        if (c->slots[i]->st == SLOT_ACTIVE || c->slots[i]->st == SLOT_ENDING) {
            uint64_t t = slot_deadline(c, c->slots[i], &which);
            if (t < d)
                d = t;
        }
    }
    return d;
}

int fcgic_conn_tick(struct fcgic_conn *c, uint64_t now)
{
    c->now = now;
    if (c->depth)
        return FCGIC_E_REENTRANT;
    if (c->error)
        return c->error;
    if (c->connecting && now >= c->connect_deadline) {
        int rc = conn_failed(c, FCGIC_E_TIMEOUT_CONNECT);
        leave(c);
        return rc;
    }
    for (size_t i = 0; i < c->nslots && !c->free_pending && !c->error; i++) {
        struct slot *s = c->slots[i];
        int which;
        if ((s->st != SLOT_ACTIVE && s->st != SLOT_ENDING) || slot_deadline(c, s, &which) > now)
            continue;
        if (s->st == SLOT_ENDING) {
            /* END_REQUEST came but the application stopped taking the rest
             * of the body: deliver the result now, after copying the queued
             * bytes so the caller may release its body. */
            int rc = fcgic__encoder_own(c->enc);
            if (rc) {
                conn_failed(c, rc);
                break;
            }
            deliver_end(c, s, SLOT_ENDING);
            continue;
        }
        if (end_early(c, s, which))
            break;
    }
    int rc = c->error;
    leave(c);
    return rc;
}

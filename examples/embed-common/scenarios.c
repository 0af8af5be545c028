/* The scenarios of the embedding examples, on the pool API only: see
 * scenarios.h. Each mode prints one line of `key=value` fields that
 * tests/test-embed.c reads:
 *
 *   concurrent n= ok= failed= conns_created= reused= elapsed_us=
 *   cancel abort_to_end_us= ended_in_abort= error= aborted= written= delivered_after=
 *          conns_before= conns_after= transport_before= transport_after=
 *   slow bytes= fnv1a64= peak_buffered= cap= pauses= late= status= error=
 *   upload sent= stdin_bytes= stdin_fnv1a64= sent_fnv1a64= agains= status= error=
 */
#include "scenarios.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS 1000000ull
#define RUN_LIMIT_NS (60000ull * MS)
/* Kept text of each response: the lines a mode looks for are in it. */
#define TEXT_MAX 16384
/* slow: the consumer's buffer holds up to SLOW_CAP bytes before it pauses,
 * plus the one body piece that made it reach the cap (at most one record's
 * content, under 64 KiB); it drains SLOW_DRAIN bytes a millisecond. */
#define SLOW_CAP (256u * 1024u)
#define SLOW_RING (SLOW_CAP + 65536u)
#define SLOW_DRAIN (32u * 1024u)
/* upload: the producer makes UP_CHUNK bytes a millisecond. */
#define UP_CHUNK (16u * 1024u)

/* ---- small helpers ---------------------------------------------------- */

#define FNV1A64_INIT 0xcbf29ce484222325ull

static uint64_t fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Byte i of the test applications' pattern (tests/apps/app-common.h), used
 * for uploads so that the tests can check the checksum on their own. */
static unsigned char pattern_byte(uint64_t i)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    return (unsigned char)alphabet[(i + (i >> 6) + (i >> 12)) & 63];
}

static struct fcgic_span span(const char *s)
{
    struct fcgic_span sp = {s, strlen(s)};
    return sp;
}

/* ---- a run: the pool, its timer, the environment builder ------------- */

struct emb_req;

/* What a mode adds to the common request callbacks. */
struct emb_req_ops {
    int (*body)(struct emb_req *r, const char *data, size_t len);
    void (*end)(struct emb_req *r);
    int (*read)(struct emb_req *r, struct fcgic_span *chunk);
};

struct emb_run {
    const struct emb_config *cfg;
    const struct emb_loop *loop;
    struct fcgic_pool *pool;
    struct emb_timer *pool_timer;
    struct fcgic_env_map *map;
    struct fcgic_env *env;
    unsigned ended; /* requests whose on_end ran */
    unsigned expected;
};

struct emb_req {
    struct emb_run *run;
    struct fcgic_pool_req *h; /* stored by fcgic_pool_submit() before any callback */
    const struct emb_req_ops *ops;
    void *mode;
    int status;
    bool ended;
    uint64_t t_end;
    struct fcgic_result res;
    unsigned after_end; /* callbacks that came after on_end: must stay 0 */
    uint64_t body_bytes;
    /* body pieces kept by reference until on_flush (or on_end) ends their
     * batch: what a gateway would write to its client in one writev() */
    const char *piece[16];
    size_t piece_len[16];
    unsigned npieces;
    size_t text_len;
    char text[TEXT_MAX];
};

static uint64_t run_now(const struct emb_run *run)
{
    return run->loop->now(run->loop->ud);
}

/* The pool's deadline changed: one loop timer follows it (0 is "at once",
 * FCGIC_NO_DEADLINE stops it). Nothing may call into the pool from here. */
static void pool_on_timer(void *ud, uint64_t deadline)
{
    struct emb_run *run = ud;
    run->loop->timer_at(run->pool_timer, deadline);
}

static void pool_timer_fire(void *arg)
{
    struct emb_run *run = arg;
    uint64_t now = run_now(run);
    fcgic_pool_tick(run->pool, now);
    /* on_timer reports changes only: when the loop's timer fired before the
     * deadline (loop timers count milliseconds), the tick did nothing and the
     * deadline did not change, so the timer is armed again here. */
    uint64_t d = fcgic_pool_deadline(run->pool);
    if (d != FCGIC_NO_DEADLINE)
        run->loop->timer_at(run->pool_timer, d);
}

/* ---- request callbacks ------------------------------------------------ */

static int cb_head(void *ud, const struct fcgic_response_head *head)
{
    struct emb_req *r = ud;
    if (r->ended)
        r->after_end++;
    r->status = head->status;
    return 0;
}

/* The end of a batch: the pieces are still valid here, and only here. */
static void take_pieces(struct emb_req *r)
{
    for (unsigned i = 0; i < r->npieces; i++) {
        size_t room = sizeof r->text - 1 - r->text_len;
        size_t k = r->piece_len[i] < room ? r->piece_len[i] : room;
        memcpy(r->text + r->text_len, r->piece[i], k);
        r->text_len += k;
    }
    r->text[r->text_len] = '\0';
    r->npieces = 0;
}

static int cb_body(void *ud, const char *data, size_t len)
{
    struct emb_req *r = ud;
    if (r->ended) {
        r->after_end++;
        return 0;
    }
    r->body_bytes += len;
    if (r->npieces == sizeof r->piece / sizeof r->piece[0])
        take_pieces(r); /* a long batch: take what is there (still valid) */
    r->piece[r->npieces] = data; /* not copied: valid until on_flush or on_end */
    r->piece_len[r->npieces++] = len;
    return r->ops && r->ops->body ? r->ops->body(r, data, len) : 0;
}

static void cb_flush(void *ud)
{
    take_pieces(ud);
}

static int cb_stderr(void *ud, const char *line, size_t len)
{
    struct emb_req *r = ud;
    if (r->ended)
        r->after_end++;
    fprintf(stderr, "application: %.*s\n", (int)len, line);
    return 0;
}

static void cb_end(void *ud, const struct fcgic_result *res)
{
    struct emb_req *r = ud;
    if (r->ended) {
        r->after_end++;
        return;
    }
    take_pieces(r); /* the last batch ends with on_end */
    r->ended = true;
    r->t_end = run_now(r->run);
    r->res = *res; /* res lives until we return */
    r->h = NULL;   /* the handle is gone once on_end returns */
    r->run->ended++;
    if (r->ops && r->ops->end)
        r->ops->end(r);
}

static int cb_body_read(void *ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    struct emb_req *r = ud;
    (void)stream;
    if (r->ended || !r->ops || !r->ops->read)
        return -1;
    return r->ops->read(r, chunk);
}

static void cb_event(void *ud, const struct fcgic_event *ev)
{
    (void)ud;
    if (ev->kind == FCGIC_EVENT_STALE_RETRY || (ev->kind == FCGIC_EVENT_CLOSE && ev->error != 0))
        fprintf(stderr, "pool: event %d on %s: %s\n", (int)ev->kind, ev->target, fcgic_strerror(ev->error));
}

/* ---- setting up and submitting --------------------------------------- */

static int run_open(struct emb_run *run, const struct emb_config *cfg, const struct emb_loop *loop,
                    const struct fcgic_transport *tr)
{
    memset(run, 0, sizeof *run);
    run->cfg = cfg;
    run->loop = loop;
    const char *root = cfg->docroot ? cfg->docroot : "/srv/echo";

    /* ProxyPass / <backend><root>/ : SCRIPT_FILENAME is root + the URL path. */
    char target[2048];
    if ((size_t)snprintf(target, sizeof target, "%s%s/", cfg->backend, root) >= sizeof target)
        return FCGIC_E_RANGE;
    struct fcgic_env_map_config mc;
    memset(&mc, 0, sizeof mc);
    mc.kind = FCGIC_ENV_MAP_PREFIX;
    mc.match = "/";
    mc.target = target;
    mc.backend = FCGIC_ENV_BACKEND_GENERIC;
    mc.document_root = root;
    mc.server_name = "localhost";
    int rc = fcgic_env_map_new(&run->map, &mc, NULL);
    if (rc == 0)
        rc = fcgic_env_new(&run->env, NULL);
    if (rc != 0)
        return rc;

    run->pool_timer = loop->timer_new(loop->ud, pool_timer_fire, run);
    if (!run->pool_timer)
        return FCGIC_E_NOMEM;
    struct fcgic_pool_options po;
    memset(&po, 0, sizeof po);
    po.version = FCGIC_POOL_OPTIONS_VERSION;
    po.target = cfg->backend;
    po.enable_reuse = 1;
    po.max = cfg->max;
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_head = cb_head;
    cb.on_body = cb_body;
    cb.on_flush = cb_flush;
    cb.on_stderr = cb_stderr;
    cb.on_end = cb_end;
    cb.body_read = cb_body_read;
    cb.on_event = cb_event;
    cb.on_timer = pool_on_timer;
    return fcgic_pool_new(&run->pool, &po, tr, &cb, run, NULL);
}

static void run_close(struct emb_run *run)
{
    fcgic_pool_free(run->pool); /* closes its connections through the transport */
    if (run->pool_timer)
        run->loop->timer_free(run->pool_timer);
    fcgic_env_free(run->env);
    fcgic_env_map_free(run->map);
}

/* Build the params of one HTTP request with the environment builder and
 * submit it. The params are copied by the submit, so run->env is free for
 * the next request as soon as this returns. */
static int submit(struct emb_run *run, struct emb_req *r, const char *method, const char *uri,
                  const char *content_length)
{
    struct fcgic_param headers[3] = {
        FCGIC_PARAM_LIT("Host", "localhost"),
        FCGIC_PARAM_LIT("Content-Type", "application/octet-stream"),
        {"Content-Length", 14, content_length, content_length ? strlen(content_length) : 0},
    };
    struct fcgic_env_request er;
    memset(&er, 0, sizeof er);
    er.method = span(method);
    er.target = span(uri);
    er.protocol = span("HTTP/1.1");
    er.headers = headers;
    er.n_headers = content_length ? 3 : 1;
    er.remote_addr = span("127.0.0.1");
    er.remote_port = 50000;
    er.server_addr = span("127.0.0.1");
    int rc = fcgic_env_build(run->env, run->map, &er);
    if (rc != 0)
        return rc;

    struct fcgic_request req;
    memset(&req, 0, sizeof req);
    req.version = FCGIC_REQUEST_VERSION;
    req.params = fcgic_env_params(run->env);
    req.nparams = fcgic_env_count(run->env);
    req.stdin_mode = r->ops && r->ops->read ? FCGIC_BODY_STREAM : FCGIC_BODY_NONE;
    req.timeouts.total = 30000 * MS;
    r->run = run;
    return fcgic_pool_submit(run->pool, &req, r, &r->h, run_now(run));
}

static int all_ended(void *arg)
{
    const struct emb_run *run = arg;
    return run->ended >= run->expected;
}

static bool is_php(const struct emb_run *run)
{
    return run->cfg->docroot != NULL;
}

/* A request that completed normally with HTTP status 200. */
static bool completed(const struct emb_req *r)
{
    return r->ended && r->res.error == 0 && r->res.got_end_request &&
           r->res.protocol_status == FCGIC_REQUEST_COMPLETE && r->res.app_status == 0 && r->status == 200 &&
           r->after_end == 0;
}

/* The value of a `NAME=value` line of a response, or "". */
static void text_field(const struct emb_req *r, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = r->text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t len = strcspn(p + nl + 1, "\r\n");
            if (len >= size)
                len = size - 1;
            memcpy(out, p + nl + 1, len);
            out[len] = '\0';
            return;
        }
    }
}

/* ---- concurrent N ----------------------------------------------------- */

static int mode_concurrent(struct emb_run *run)
{
    unsigned n = run->cfg->n ? (unsigned)run->cfg->n : 16;
    struct emb_req *reqs = calloc(n, sizeof *reqs);
    if (!reqs)
        return 2;
    uint64_t t0 = run_now(run);
    for (unsigned i = 0; i < n; i++) {
        char uri[64];
        snprintf(uri, sizeof uri, is_php(run) ? "/env.php?i=%u" : "/concurrent?i=%u", i);
        int rc = submit(run, &reqs[i], "GET", uri, NULL);
        if (rc != 0) {
            fprintf(stderr, "submit %u: %s\n", i, fcgic_strerror(rc));
            continue;
        }
        run->expected++;
    }
    int lrc = run->loop->run_until(run->loop->ud, all_ended, run, RUN_LIMIT_NS);
    uint64_t elapsed = run_now(run) - t0;

    unsigned ok = 0;
    for (unsigned i = 0; i < n; i++) {
        char want[32], got[32];
        snprintf(want, sizeof want, "i=%u", i);
        text_field(&reqs[i], "QUERY_STRING", got, sizeof got); /* its own answer, not another's */
        if (completed(&reqs[i]) && strcmp(got, want) == 0)
            ok++;
        else if (reqs[i].ended)
            fprintf(stderr, "request %u: %s, status %d, QUERY_STRING=%s\n", i, fcgic_strerror_name(reqs[i].res.error),
                    reqs[i].status, got);
    }
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    fcgic_pool_get_stats(run->pool, &st);
    printf("concurrent n=%u ok=%u failed=%u conns_created=%" PRIu64 " reused=%" PRIu64 " elapsed_us=%" PRIu64 "\n", n,
           ok, n - ok, st.conns_created, st.conns_reused, elapsed / 1000);
    free(reqs);
    return lrc == 0 && ok == n ? 0 : 1;
}

/* ---- cancel ----------------------------------------------------------- */

struct cancel_state {
    struct emb_req r;
    struct emb_run *run;
    struct emb_timer *timer;
    int phase;
    int abort_rc;
    bool ended_in_abort;
    uint64_t t_abort;
    unsigned conns_before, conns_after;
    size_t transport_before, transport_after;
};

static unsigned pool_conns(const struct emb_run *run)
{
    struct fcgic_pool_stats st = {.version = FCGIC_POOL_STATS_VERSION};
    fcgic_pool_get_stats(run->pool, &st);
    return st.conns_open;
}

/* 300 ms after the submit (the script is sleeping by then): abort, then
 * 300 ms later look at what is left of the connection. */
static void cancel_fire(void *arg)
{
    struct cancel_state *cs = arg;
    struct emb_run *run = cs->run;
    const struct emb_loop *loop = run->loop;
    if (cs->phase == 0) {
        cs->conns_before = pool_conns(run);
        cs->transport_before = loop->transport_conns(loop->ud);
        cs->t_abort = run_now(run);
        cs->abort_rc = cs->r.h ? fcgic_pool_abort(run->pool, cs->r.h, cs->t_abort) : FCGIC_E_STATE;
        cs->ended_in_abort = cs->r.ended; /* on_end ran inside the call */
        cs->phase = 1;
        loop->timer_at(cs->timer, run_now(run) + 300 * MS);
        return;
    }
    cs->conns_after = pool_conns(run);
    cs->transport_after = loop->transport_conns(loop->ud);
    cs->phase = 2;
}

static int cancel_done(void *arg)
{
    const struct cancel_state *cs = arg;
    return cs->phase == 2;
}

static int mode_cancel(struct emb_run *run)
{
    struct cancel_state *cs = calloc(1, sizeof *cs);
    if (!cs)
        return 2;
    cs->run = run;
    cs->timer = run->loop->timer_new(run->loop->ud, cancel_fire, cs);
    int rc = cs->timer ? submit(run, &cs->r, "GET", is_php(run) ? "/slow.php?ms=10000" : "/cancel?sleep_ms=10000", NULL)
                       : FCGIC_E_NOMEM;
    if (rc != 0) {
        fprintf(stderr, "submit: %s\n", fcgic_strerror(rc));
        if (cs->timer)
            run->loop->timer_free(cs->timer);
        free(cs);
        return 2;
    }
    run->loop->timer_at(cs->timer, run_now(run) + 300 * MS);
    int lrc = run->loop->run_until(run->loop->ud, cancel_done, cs, RUN_LIMIT_NS);
    const struct fcgic_result *res = &cs->r.res;
    uint64_t us = cs->r.ended ? (cs->r.t_end - cs->t_abort) / 1000 : UINT64_MAX;
    printf("cancel abort_to_end_us=%" PRIu64 " ended_in_abort=%d error=%s aborted=%d written=%d delivered_after=%u "
           "conns_before=%u conns_after=%u transport_before=%zu transport_after=%zu\n",
           us, cs->ended_in_abort, fcgic_strerror_name(res->error), res->aborted, res->request_written, cs->r.after_end,
           cs->conns_before, cs->conns_after, cs->transport_before, cs->transport_after);
    bool ok = lrc == 0 && cs->abort_rc == 0 && cs->ended_in_abort && res->error == FCGIC_E_ABORTED && res->aborted &&
              cs->r.after_end == 0 && cs->conns_before == 1 && cs->conns_after == 0 && cs->transport_after == 0;
    run->loop->timer_free(cs->timer);
    free(cs);
    return ok ? 0 : 1;
}

/* ---- slow: a bounded consumer ---------------------------------------- */

struct slow_state {
    struct emb_req r;
    struct emb_run *run;
    struct emb_timer *timer;
    char *ring;
    size_t head, len, peak;
    bool paused;
    unsigned pauses, late;
    uint64_t consumed, fnv;
};

/* A body piece arrives: it is taken whole (data lives only until we return),
 * and once the buffer holds SLOW_CAP bytes the response is paused. */
static int slow_body(struct emb_req *r, const char *data, size_t len)
{
    struct slow_state *ss = r->mode;
    if (ss->paused)
        ss->late++; /* delivered while paused: must not happen */
    if (len > SLOW_RING - ss->len)
        return -1; /* over the bound: fails the request */
    for (size_t done = 0; done < len;) {
        size_t at = (ss->head + ss->len) % SLOW_RING;
        size_t k = SLOW_RING - at < len - done ? SLOW_RING - at : len - done;
        memcpy(ss->ring + at, data + done, k);
        ss->len += k;
        done += k;
    }
    if (ss->len > ss->peak)
        ss->peak = ss->len;
    if (ss->len >= SLOW_CAP) {
        ss->paused = true;
        ss->pauses++;
        return FCGIC_PAUSE;
    }
    return 0;
}

/* The consumer: every millisecond it takes SLOW_DRAIN bytes, and goes on
 * reading the response once the buffer is half empty. */
static void slow_fire(void *arg)
{
    struct slow_state *ss = arg;
    struct emb_run *run = ss->run;
    size_t k = ss->len < SLOW_DRAIN ? ss->len : SLOW_DRAIN;
    while (k > 0) {
        size_t piece = SLOW_RING - ss->head < k ? SLOW_RING - ss->head : k;
        ss->fnv = fnv1a64(ss->fnv, ss->ring + ss->head, piece);
        ss->head = (ss->head + piece) % SLOW_RING;
        ss->len -= piece;
        ss->consumed += piece;
        k -= piece;
    }
    if (ss->paused && ss->len <= SLOW_CAP / 2 && !ss->r.ended) {
        ss->paused = false;
        fcgic_pool_unpause(run->pool, ss->r.h, run_now(run)); /* may deliver more at once */
    }
    if (!ss->r.ended || ss->len > 0)
        run->loop->timer_at(ss->timer, run_now(run) + MS);
}

static int slow_done(void *arg)
{
    const struct slow_state *ss = arg;
    return ss->r.ended && ss->len == 0;
}

static const struct emb_req_ops slow_ops = {slow_body, NULL, NULL};

static int mode_slow(struct emb_run *run)
{
    uint64_t n = run->cfg->n ? run->cfg->n : 4u << 20;
    struct slow_state *ss = calloc(1, sizeof *ss);
    if (!ss)
        return 2;
    ss->run = run;
    ss->fnv = FNV1A64_INIT;
    ss->r.ops = &slow_ops;
    ss->r.mode = ss;
    ss->ring = malloc(SLOW_RING);
    ss->timer = run->loop->timer_new(run->loop->ud, slow_fire, ss);
    char uri[64];
    snprintf(uri, sizeof uri, is_php(run) ? "/pattern.php?size=%" PRIu64 : "/slow?size=%" PRIu64, n);
    int rc = ss->ring && ss->timer ? submit(run, &ss->r, "GET", uri, NULL) : FCGIC_E_NOMEM;
    int lrc = -1;
    if (rc == 0) {
        run->loop->timer_at(ss->timer, run_now(run) + MS);
        lrc = run->loop->run_until(run->loop->ud, slow_done, ss, RUN_LIMIT_NS);
    } else {
        fprintf(stderr, "submit: %s\n", fcgic_strerror(rc));
    }
    printf("slow bytes=%" PRIu64 " fnv1a64=%016" PRIx64
           " peak_buffered=%zu cap=%u pauses=%u late=%u status=%d error=%s\n",
           ss->consumed, ss->fnv, ss->peak, SLOW_CAP, ss->pauses, ss->late, ss->r.status,
           fcgic_strerror_name(ss->r.res.error));
    bool ok = lrc == 0 && completed(&ss->r) && ss->consumed == n && ss->late == 0 && ss->peak <= SLOW_RING;
    if (ss->timer)
        run->loop->timer_free(ss->timer);
    free(ss->ring);
    free(ss);
    return rc != 0 ? 2 : ok ? 0 : 1;
}

/* ---- upload N: a streamed body that is not ready yet ----------------- */

struct up_state {
    struct emb_req r;
    struct emb_run *run;
    struct emb_timer *timer;
    uint64_t total, produced, sent, fnv;
    int ready;  /* buffer filled and not handed out yet, or -1 */
    int handed; /* buffer handed to body_read: valid until its next call */
    size_t len[2];
    bool waiting; /* body_read said FCGIC_BODY_AGAIN */
    unsigned agains;
    char buf[2][UP_CHUNK];
};

static int up_read(struct emb_req *r, struct fcgic_span *chunk)
{
    struct up_state *us = r->mode;
    us->handed = -1; /* the previous chunk is released by this call */
    if (us->ready >= 0) {
        chunk->ptr = us->buf[us->ready];
        chunk->len = us->len[us->ready];
        us->handed = us->ready;
        us->ready = -1;
        us->sent += chunk->len;
        return FCGIC_BODY_CHUNK;
    }
    if (us->produced >= us->total)
        return FCGIC_BODY_EOF;
    us->waiting = true;
    us->agains++;
    return FCGIC_BODY_AGAIN;
}

/* The producer: one chunk a millisecond into the buffer not handed out. */
static void up_fire(void *arg)
{
    struct up_state *us = arg;
    struct emb_run *run = us->run;
    if (us->r.ended)
        return;
    if (us->ready < 0 && us->produced < us->total) {
        int k = us->handed == 0 ? 1 : 0;
        uint64_t left = us->total - us->produced;
        size_t len = left < UP_CHUNK ? (size_t)left : UP_CHUNK;
        for (size_t i = 0; i < len; i++)
            us->buf[k][i] = (char)pattern_byte(us->produced + i);
        us->fnv = fnv1a64(us->fnv, us->buf[k], len);
        us->len[k] = len;
        us->produced += len;
        us->ready = k;
    }
    if (us->waiting && (us->ready >= 0 || us->produced >= us->total)) {
        us->waiting = false;
        fcgic_pool_resume(run->pool, us->r.h, run_now(run)); /* body_read runs again */
    }
    if (!us->r.ended && us->produced < us->total)
        run->loop->timer_at(us->timer, run_now(run) + MS);
}

static int up_done(void *arg)
{
    const struct up_state *us = arg;
    return us->r.ended;
}

static const struct emb_req_ops up_ops = {NULL, NULL, up_read};

static int mode_upload(struct emb_run *run)
{
    struct up_state *us = calloc(1, sizeof *us);
    if (!us)
        return 2;
    us->run = run;
    us->total = run->cfg->n ? run->cfg->n : 1u << 20;
    us->fnv = FNV1A64_INIT;
    us->ready = us->handed = -1;
    us->r.ops = &up_ops;
    us->r.mode = us;
    us->timer = run->loop->timer_new(run->loop->ud, up_fire, us);
    char clen[32];
    snprintf(clen, sizeof clen, "%" PRIu64, us->total);
    int rc = us->timer ? submit(run, &us->r, "POST", is_php(run) ? "/upload.php" : "/upload", clen) : FCGIC_E_NOMEM;
    int lrc = -1;
    if (rc == 0) {
        run->loop->timer_at(us->timer, run_now(run) + MS);
        lrc = run->loop->run_until(run->loop->ud, up_done, us, RUN_LIMIT_NS);
    } else {
        fprintf(stderr, "submit: %s\n", fcgic_strerror(rc));
    }
    char bytes[32], fnv[32], sent_fnv[32];
    text_field(&us->r, "STDIN-BYTES", bytes, sizeof bytes);
    text_field(&us->r, "STDIN-FNV1A64", fnv, sizeof fnv);
    snprintf(sent_fnv, sizeof sent_fnv, "%016" PRIx64, us->fnv);
    printf("upload sent=%" PRIu64 " stdin_bytes=%s stdin_fnv1a64=%s sent_fnv1a64=%s agains=%u status=%d error=%s\n",
           us->sent, bytes[0] ? bytes : "-", fnv[0] ? fnv : "-", sent_fnv, us->agains, us->r.status,
           fcgic_strerror_name(us->r.res.error));
    bool ok = lrc == 0 && completed(&us->r) && us->sent == us->total && strtoull(bytes, NULL, 10) == us->total &&
              strcmp(fnv, sent_fnv) == 0;
    if (us->timer)
        run->loop->timer_free(us->timer);
    free(us);
    return rc != 0 ? 2 : ok ? 0 : 1;
}

/* ---- entry points ----------------------------------------------------- */

int emb_parse_args(int argc, char **argv, struct emb_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max = 16;
    int opt;
    while ((opt = getopt(argc, argv, "p:m:")) != -1) {
        if (opt == 'p')
            cfg->docroot = optarg;
        else if (opt == 'm')
            cfg->max = (unsigned)strtoul(optarg, NULL, 10);
        else
            goto usage;
    }
    if (argc - optind < 2 || argc - optind > 3)
        goto usage;
    cfg->backend = argv[optind];
    cfg->mode = argv[optind + 1];
    if (argc - optind == 3)
        cfg->n = strtoull(argv[optind + 2], NULL, 10);
    if (strcmp(cfg->mode, "concurrent") && strcmp(cfg->mode, "cancel") && strcmp(cfg->mode, "slow") &&
        strcmp(cfg->mode, "upload"))
        goto usage;
    return 0;
usage:
    fprintf(stderr, "usage: %s [-p DOCROOT] [-m MAX] BACKEND concurrent|cancel|slow|upload [N]\n", argv[0]);
    return -1;
}

int emb_run(const struct emb_config *cfg, const struct emb_loop *loop, const struct fcgic_transport *tr)
{
    struct emb_run run;
    int rc = run_open(&run, cfg, loop, tr);
    int result = 2;
    if (rc != 0)
        fprintf(stderr, "setup: %s\n", fcgic_strerror(rc));
    else if (strcmp(cfg->mode, "concurrent") == 0)
        result = mode_concurrent(&run);
    else if (strcmp(cfg->mode, "cancel") == 0)
        result = mode_cancel(&run);
    else if (strcmp(cfg->mode, "slow") == 0)
        result = mode_slow(&run);
    else
        result = mode_upload(&run);
    fflush(stdout);
    run_close(&run);
    return result;
}

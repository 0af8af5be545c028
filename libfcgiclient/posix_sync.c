/* The POSIX transport's blocking one-call request: a private struct
 * fcgic_posix, one connection, one request, its built-in poll loop. */
#include "posix_int.h"

struct sync_call {
    struct fcgic_conn_callbacks ucb; /* the caller's callbacks */
    void *ud;                        /* the caller's req_ud */
    struct fcgic_result result;
    bool ended;
    bool paused; /* a callback returned FCGIC_PAUSE: kick before waiting */
};

static int pass(struct sync_call *sc, int rc)
{
    if (rc == FCGIC_PAUSE)
        sc->paused = true;
    return rc;
}

static int w_head(struct fcgic_conn *c, void *ud, const struct fcgic_response_head *head)
{
    struct sync_call *sc = ud;
    return sc->ucb.on_head ? pass(sc, sc->ucb.on_head(c, sc->ud, head)) : 0;
}

static int w_body(struct fcgic_conn *c, void *ud, const char *data, size_t len)
{
    struct sync_call *sc = ud;
    return sc->ucb.on_body ? pass(sc, sc->ucb.on_body(c, sc->ud, data, len)) : 0;
}

static void w_flush(struct fcgic_conn *c, void *ud)
{
    struct sync_call *sc = ud;
    sc->ucb.on_flush(c, sc->ud);
}

static int w_stderr(struct fcgic_conn *c, void *ud, const char *line, size_t len)
{
    struct sync_call *sc = ud;
    return sc->ucb.on_stderr ? pass(sc, sc->ucb.on_stderr(c, sc->ud, line, len)) : 0;
}

static void w_end(struct fcgic_conn *c, void *ud, const struct fcgic_result *result)
{
    struct sync_call *sc = ud;
    sc->result = *result;
    sc->ended = true;
    if (sc->ucb.on_end)
        sc->ucb.on_end(c, sc->ud, result);
}

static int w_body_read(struct fcgic_conn *c, void *ud, enum fcgic_type stream, struct fcgic_span *chunk)
{
    struct sync_call *sc = ud;
    if (sc->ucb.body_read == NULL)
        return FCGIC_BODY_EOF;
    int rc = sc->ucb.body_read(c, sc->ud, stream, chunk);
    return rc == FCGIC_BODY_AGAIN ? -1 : rc; /* nothing could resume it */
}

static void w_values(struct fcgic_conn *c, void *ud, const struct fcgic_param *pairs, size_t n)
{
    struct sync_call *sc = ud;
    if (sc->ucb.on_values)
        sc->ucb.on_values(c, sc->ud, pairs, n);
}

static int sync_stop(void *ud)
{
    const struct sync_call *sc = ud;
    return sc->ended || sc->paused;
}

int fcgic_posix_request(const char *target, const struct fcgic_conn_options *opts, const struct fcgic_request *req,
                        const struct fcgic_conn_callbacks *cb, void *req_ud, struct fcgic_result *result,
                        const struct fcgic_mem *mem)
{
    struct sync_call sc;
    memset(&sc, 0, sizeof(sc));
    int rc = FCGIC_E_INVAL;
    struct fcgic_posix *p = NULL;
    struct fcgic_conn *c = NULL;
    if (target == NULL || req == NULL || (cb && (cb->version == 0 || cb->version > FCGIC_CONN_CALLBACKS_VERSION)))
        goto out;
    if (cb)
        fcgic__copy_grown(&sc.ucb, sizeof sc.ucb, cb,
                          cb->version == 1 ? offsetof(struct fcgic_conn_callbacks, on_flush) : sizeof *cb);
    sc.ud = req_ud;

    struct fcgic_conn_options o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof(o));
    o.keep_conn = 0;
    o.max_requests = 1;

    struct fcgic_conn_callbacks w;
    memset(&w, 0, sizeof(w));
    w.version = FCGIC_CONN_CALLBACKS_VERSION;
    w.on_head = w_head;
    w.on_body = w_body;
    w.on_flush = sc.ucb.on_flush ? w_flush : NULL;
    w.on_stderr = w_stderr;
    w.on_end = w_end;
    w.body_read = w_body_read;
    w.on_values = w_values;

    rc = fcgic_posix_new(&p, NULL, mem);
    if (rc)
        goto out;
    uint64_t now = fcgic_posix_now();
    rc = fcgic_posix_open(p, target, &o, &w, &sc, &c, now);
    if (rc)
        goto out;
    rc = fcgic_conn_submit(c, req, &sc, NULL, now);
    if (rc)
        goto out;
    fcgic_posix_kick(p, c, now);
    while (!sc.ended) {
        if (sc.paused) {
            sc.paused = false;
            fcgic_posix_kick(p, c, fcgic_posix_now());
            continue;
        }
        rc = fcgic_posix_run_until(p, sync_stop, &sc, FCGIC_NO_DEADLINE);
        if (rc == FCGIC_E_STATE && !sc.ended && !sc.paused)
            rc = FCGIC_E_INTERNAL; /* the engine waits for nothing: should not happen */
        else if (rc == FCGIC_E_STATE)
            rc = 0;
        if (rc)
            goto out;
    }
    rc = sc.result.error;

out:
    if (!sc.ended) {
        memset(&sc.result, 0, sizeof(sc.result));
        sc.result.error = rc;
        sc.result.sys_errno = c == NULL && p ? fcgic_posix_last_errno(p) : 0;
    }
    fcgic_posix_free(p); /* closes c */
    if (result)
        *result = sc.result;
    return rc;
}

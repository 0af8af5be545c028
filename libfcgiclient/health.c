/* Active health probes. See health_int.h and include/fcgiclient/balancer.h.
 *
 * A probe is one connection of its own (never one of the member's pooled
 * connections: what is checked is that the backend accepts a new one and
 * answers on it). Its verdict is recorded from inside the engine's
 * callbacks and handed to the owner through `done`; the owner applies it
 * and closes the connection later, outside those callbacks. */
#include <string.h>

#include "fcgiclient/error.h"
#include "health_int.h"
#include "pool_int.h"

#define MAX_EXPECT 999u

/* ------------------------------------------------------------------------ */
/* Settings                                                                 */
/* ------------------------------------------------------------------------ */

int fcgic__hc_init(struct fcgic__hc *h, const struct fcgic__alloc *a, const struct fcgic_member_options *mo)
{
    memset(h, 0, sizeof(*h));
    if (mo->hc_method != FCGIC_HC_VALUES && mo->hc_method != FCGIC_HC_REQUEST)
        return FCGIC_E_INVAL;
    if (mo->hc_nparams && !mo->hc_params)
        return FCGIC_E_INVAL;
    if (mo->hc_expect_status > MAX_EXPECT || (mo->hc_expect_status && mo->hc_expect_status < 100))
        return FCGIC_E_RANGE;
    h->method = mo->hc_method;
    h->interval = mo->hc_interval_ns;
    h->timeout = mo->hc_timeout_ns ? mo->hc_timeout_ns : mo->hc_interval_ns;
    h->fails = mo->hc_fails ? mo->hc_fails : 1;
    h->passes = mo->hc_passes ? mo->hc_passes : 1;
    h->expect = mo->hc_expect_status;
    if (mo->pool.conn)
        h->copts = *mo->pool.conn;
    h->copts.keep_conn = 0;
    h->copts.max_requests = 1;
    h->copts.connect_timeout_ns = mo->pool.connect_timeout_ns;
    if (h->method == FCGIC_HC_REQUEST && mo->hc_nparams) {
        int rc = fcgic__copy_params(a, mo->hc_params, mo->hc_nparams, &h->params);
        if (rc != 0) {
            h->params = NULL;
            return rc;
        }
        h->nparams = mo->hc_nparams;
    }
    return 0;
}

void fcgic__hc_free(struct fcgic__hc *h, const struct fcgic__alloc *a)
{
    fcgic__free(a, (void *)h->params);
    h->params = NULL;
    h->nparams = 0;
}

/* ------------------------------------------------------------------------ */
/* The probe's engine callbacks                                             */
/* ------------------------------------------------------------------------ */

static void verdict(struct fcgic__probe *pr, int err, int sys_errno)
{
    if (pr->state != FCGIC__PROBE_RUNNING)
        return;
    pr->state = FCGIC__PROBE_DONE;
    pr->error = err;
    pr->sys_errno = err ? sys_errno : 0;
    if (pr->done)
        pr->done(pr->owner);
}

static int p_head(struct fcgic_conn *c, void *req_ud, const struct fcgic_response_head *head)
{
    struct fcgic__probe *pr = req_ud;
    FCGIC__UNUSED(c);
    pr->status = head->status > 0 ? (unsigned)head->status : 0;
    return 0;
}

static int p_ignore(struct fcgic_conn *c, void *req_ud, const char *data, size_t len)
{
    FCGIC__UNUSED(c);
    FCGIC__UNUSED(req_ud);
    FCGIC__UNUSED(data);
    FCGIC__UNUSED(len);
    return 0;
}

static void p_end(struct fcgic_conn *c, void *req_ud, const struct fcgic_result *res)
{
    struct fcgic__probe *pr = req_ud;
    FCGIC__UNUSED(c);
    int err = res->error;
    if (err == 0) {
        int status_ok = pr->hc->expect ? pr->status == pr->hc->expect : pr->status > 0 && pr->status < 400;
        if (!res->got_end_request)
            err = FCGIC_E_PEER_CLOSED;
        else if (res->protocol_status != FCGIC_REQUEST_COMPLETE || res->app_status != 0 || !status_ok)
            err = FCGIC_E_BAL_HC_STATUS;
    }
    verdict(pr, err, res->sys_errno);
}

static void p_values(struct fcgic_conn *c, void *conn_ud, const struct fcgic_param *pairs, size_t n)
{
    struct fcgic__probe *pr = conn_ud;
    FCGIC__UNUSED(c);
    FCGIC__UNUSED(pairs);
    FCGIC__UNUSED(n);
    /* Any answer will do: the backend accepted a connection and speaks
     * FastCGI. PHP-FPM, for one, answers only FCGI_MPXS_CONNS. */
    if (pr->hc->method == FCGIC_HC_VALUES)
        verdict(pr, 0, 0);
}

static const struct fcgic_conn_callbacks probe_cb = {
    FCGIC_CONN_CALLBACKS_VERSION, p_head, p_ignore, p_ignore, p_end, NULL, p_values, NULL,
};

/* ------------------------------------------------------------------------ */
/* Running a probe                                                          */
/* ------------------------------------------------------------------------ */

int fcgic__probe_start(struct fcgic__probe *pr, const struct fcgic_transport *tr, const char *target,
                       const struct fcgic_mem *mem, uint64_t now)
{
    static const char *const names[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
    const struct fcgic__hc *h = pr->hc;
    struct fcgic_conn *c = NULL;
    pr->state = FCGIC__PROBE_IDLE;
    pr->c = NULL;
    pr->error = 0;
    pr->status = 0;
    pr->sys_errno = 0;
    pr->started = now;
    int rc = tr->open(tr->ud, target, &h->copts, &probe_cb, pr, mem, &c, &pr->sys_errno, now);
    if (rc != 0)
        return rc;
    pr->c = c;
    pr->state = FCGIC__PROBE_RUNNING;
    if (h->method == FCGIC_HC_VALUES) {
        rc = fcgic_conn_get_values(c, names, sizeof(names) / sizeof(names[0]));
    } else {
        struct fcgic_request req;
        memset(&req, 0, sizeof(req));
        req.role = FCGIC_ROLE_RESPONDER;
        req.params = h->params;
        req.nparams = h->nparams;
        rc = fcgic_conn_submit(c, &req, pr, NULL, now);
    }
    if (rc != 0) {
        fcgic__probe_close(pr, tr);
        return rc;
    }
    tr->kick(tr->ud, c, now);
    return 0;
}

int fcgic__probe_stalled(const struct fcgic__probe *pr)
{
    if (pr->state != FCGIC__PROBE_RUNNING || !pr->c)
        return 0;
    enum fcgic_conn_state s = fcgic_conn_state(pr->c);
    return s == FCGIC_CONN_FAILED || s == FCGIC_CONN_DONE;
}

void fcgic__probe_poll(struct fcgic__probe *pr)
{
    if (!fcgic__probe_stalled(pr))
        return;
    int err = fcgic_conn_error(pr->c);
    verdict(pr, err ? err : FCGIC_E_PEER_CLOSED, fcgic_conn_sys_errno(pr->c));
}

void fcgic__probe_close(struct fcgic__probe *pr, const struct fcgic_transport *tr)
{
    if (pr->c)
        tr->close(tr->ud, pr->c);
    pr->c = NULL;
    pr->state = FCGIC__PROBE_IDLE;
}

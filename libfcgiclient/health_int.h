/* Active health probes of balancer members (the hc_* member options of
 * include/fcgiclient/balancer.h). A probe opens a connection of its own
 * through the transport, sends GET_VALUES or one FastCGI request, judges
 * the answer, and is closed by its owner. Scheduling, thresholds and the
 * member's state belong to the balancer. Not installed. */
#ifndef FCGIC_HEALTH_INT_H
#define FCGIC_HEALTH_INT_H

#include "fcgiclient/balancer.h"
#include "util.h"

/* A member's health-check settings, checked and owned (params copied). */
struct fcgic__hc {
    enum fcgic_hc_method method;
    uint64_t interval, timeout;
    unsigned fails, passes;
    unsigned expect;                  /* 0: any status below 400 */
    const struct fcgic_param *params; /* own copy (one block), or NULL */
    size_t nparams;
    struct fcgic_conn_options copts; /* for the probe's connection */
};

/* Check mo's hc_* options (mo->hc_interval_ns must be set) and fill h.
 * Returns 0, FCGIC_E_INVAL, FCGIC_E_RANGE or FCGIC_E_NOMEM; on error h
 * owns nothing. */
int fcgic__hc_init(struct fcgic__hc *h, const struct fcgic__alloc *a, const struct fcgic_member_options *mo);
void fcgic__hc_free(struct fcgic__hc *h, const struct fcgic__alloc *a);

enum fcgic__probe_state {
    FCGIC__PROBE_IDLE = 0, /* no connection */
    FCGIC__PROBE_RUNNING,  /* connection open, no verdict yet */
    FCGIC__PROBE_DONE      /* verdict in error/status; connection still open */
};

struct fcgic__probe {
    const struct fcgic__hc *hc;
    struct fcgic_conn *c; /* RUNNING and DONE */
    enum fcgic__probe_state state;
    int error;       /* DONE: 0 passed, else why it failed */
    int sys_errno;   /* the errno behind error, or 0 */
    unsigned status; /* HTTP status a request probe got, else 0 */
    uint64_t started;
    /* Called when the probe turns DONE (from inside an engine callback of
     * its connection, or from fcgic__probe_poll()). It must not close the
     * connection. */
    void (*done)(void *owner);
    void *owner;
};

/* Open the probe's connection to target (its engine allocates from mem)
 * and send the probe (IDLE -> RUNNING; a transport may even make it DONE at
 * once). Returns 0, or the error that kept it from starting (the
 * transport's open error, with its errno in pr->sys_errno, an error of
 * fcgic_conn_submit() or fcgic_conn_get_values(), FCGIC_E_NOMEM); the probe
 * then stays IDLE with no connection. */
int fcgic__probe_start(struct fcgic__probe *pr, const struct fcgic_transport *tr, const char *target,
                       const struct fcgic_mem *mem, uint64_t now);

/* A RUNNING probe whose connection failed or closed without telling a
 * callback (a GET_VALUES probe has no request to end): is it so? */
int fcgic__probe_stalled(const struct fcgic__probe *pr);

/* If stalled, turn DONE with the connection's error (calls done). */
void fcgic__probe_poll(struct fcgic__probe *pr);

/* Close the connection (no callback runs) and go back to IDLE. Not from
 * inside one of the connection's own callbacks. */
void fcgic__probe_close(struct fcgic__probe *pr, const struct fcgic_transport *tr);

#endif

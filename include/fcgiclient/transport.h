/**
 * @file transport.h
 * @brief The contract between objects that need connections (pools,
 *        balancers) and whatever moves the bytes (the POSIX transport, or an
 *        embedder's own event loop).
 *
 * A transport opens a socket to a backend, creates the connection engine for
 * it (fcgic_conn_new(), then fcgic_conn_connecting()), and from then on moves
 * bytes between the socket and the engine, calls fcgic_conn_connected(),
 * fcgic_conn_recv(), fcgic_conn_recv_eof(), fcgic_conn_fail() and
 * fcgic_conn_tick() as things happen, until it is told to close it.
 *
 * Every operation may be called from inside a callback of a connection the
 * transport runs: open and kick of any connection, and close of another one,
 * take effect at once; close (and kick) of the connection whose callback is
 * running take effect when that callback's engine call returns. A connection
 * the application closes while idle turns FCGIC_CONN_DONE (see
 * fcgic_conn_state()); the transport keeps it until told to close it.
 */
#ifndef FCGICLIENT_TRANSPORT_H
#define FCGICLIENT_TRANSPORT_H

#include "common.h"
#include "conn.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Transport operations. The struct is copied by whoever takes it.
 *  Zero-initialise it before setting the operations: operations added in
 *  later versions go at the end, and NULL means "not supported". */
struct fcgic_transport {
    void *ud; /**< passed to every operation */
    /**
     * Open a connection to `target` (a backend as users write it:
     * `fcgi://host:port[/path]` or `unix:/path.sock|fcgi://host/path`) and
     * create its engine with opts, cb and conn_ud. A connect that fails later
     * is reported through fcgic_conn_fail(c, FCGIC_E_CONNECT or
     * FCGIC_E_TIMEOUT_CONNECT), which ends the requests queued on it.
     * @return 0 with *out set, or a negative error (FCGIC_E_BAD_ADDRESS,
     *         FCGIC_E_RESOLVE, FCGIC_E_CONNECT when refused at once,
     *         FCGIC_E_NOMEM).
     */
    int (*open)(void *ud, const char *target, const struct fcgic_conn_options *opts,
                const struct fcgic_conn_callbacks *cb, void *conn_ud, struct fcgic_conn **out, uint64_t now);
    /** Output was queued on c, its interest changed, or a callback of c
     *  returned FCGIC_PAUSE and the embedder is ready for more input: write
     *  when possible and feed input held back since the pause. */
    void (*kick)(void *ud, struct fcgic_conn *c, uint64_t now);
    /** Close the socket and free the engine. No callback runs. */
    void (*close)(void *ud, struct fcgic_conn *c);
    /**
     * Optional (NULL: not supported). Called on an idle connection before
     * it is reused: without blocking, read whatever the application sent
     * since its last response and feed it to the engine
     * (fcgic_conn_recv(), fcgic_conn_recv_eof() on EOF, fcgic_conn_fail()
     * on a socket error), so that a connection the application closed or
     * wrote stray bytes on is no longer FCGIC_CONN_IDLE when it returns.
     * Engine callbacks of c may run from it (on_values); c stays open.
     * Does nothing when c is unknown, connecting, or one of c's callbacks
     * is running.
     */
    void (*check)(void *ud, struct fcgic_conn *c, uint64_t now);
};

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_TRANSPORT_H */

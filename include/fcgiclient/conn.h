/**
 * @file conn.h
 * @brief Sans-I/O FastCGI client connection: bytes in, events out, bytes to
 *        send as an iovec list. No sockets, no clock: the embedder moves the
 *        bytes and passes the time (`now`, nanoseconds on any monotonic
 *        clock) into every call that may start or check a timer.
 *
 * One object per connection to an application. It runs requests in the roles
 * RESPONDER, AUTHORIZER and FILTER, one at a time or several multiplexed when
 * the application allows it, with request bodies pulled from the embedder
 * (which may say "not yet"), STDOUT parsed as a CGI response, STDERR
 * delivered per line, and END_REQUEST results delivered as results, not
 * errors.
 *
 * Driving it:
 *  - after fcgic_conn_submit() and whenever fcgic_conn_wants() has
 *    FCGIC_WANT_WRITE: fcgic_conn_out_iov(), write what you can (writev),
 *    then fcgic_conn_out_done() with the count;
 *  - when bytes arrive: fcgic_conn_recv(); when the peer closes:
 *    fcgic_conn_recv_eof(); on a socket error: fcgic_conn_fail();
 *  - at fcgic_conn_deadline(): fcgic_conn_tick().
 * Callbacks run only inside fcgic_conn_recv(), fcgic_conn_recv_eof(),
 * fcgic_conn_fail(), fcgic_conn_fail_errno(), fcgic_conn_tick(),
 * fcgic_conn_out_done(), fcgic_conn_submit() and fcgic_conn_resume() (the
 * last three call body_read), and fcgic_conn_abort() (on_end of the
 * cancelled request).
 */
#ifndef FCGICLIENT_CONN_H
#define FCGICLIENT_CONN_H

#include "cgi.h"
#include "common.h"
#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fcgic_conn;

/** Connection-wide options. Zero-initialise, then set what you need. */
struct fcgic_conn_options {
    /** 0 or FCGIC_CONN_OPTIONS_VERSION (see "Structs that grow" in common.h). */
    unsigned version;
    /** Set FCGI_KEEP_CONN on every request: the application keeps the
     *  connection open after END_REQUEST, so it can be reused. */
    int keep_conn;
    /** Requests that may run at once on this connection. 0 or 1: one at a
     *  time (id 1). More only when the application said FCGI_MPXS_CONNS=1. */
    unsigned max_requests;
    /** Cap on the encoded PARAMS of one request (FCGIC_E_PARAMS_TOO_BIG
     *  from fcgic_conn_submit()); 0 means 1 MiB. */
    size_t max_params_bytes;
    /** Cap on a response's CGI header block; 0 means 32 KiB. */
    size_t max_header_bytes;
    /** Cap on a request's STDERR bytes, beyond which the request fails with
     *  FCGIC_E_STDERR_TOO_BIG; 0 means 4 MiB. */
    size_t max_stderr_bytes;
    /** Longest STDERR line delivered whole; longer lines come in pieces of
     *  this size. 0 means 8 KiB. */
    size_t max_stderr_line;
    /** Time allowed between fcgic_conn_connecting() and
     *  fcgic_conn_connected(); 0 means no limit. */
    uint64_t connect_timeout_ns;
    /** Zero (default): a response whose CGI header block never ends, or
     *  with no output at all, fails with FCGIC_E_CGI_NO_HEADERS. Nonzero:
     *  Apache's leniency, such output is the body of a 200 response (see
     *  struct fcgic_cgi_options). */
    int lenient_header_block;
    /** Zero (default): fcgic_conn_abort() ends the request at once. Nonzero:
     *  it only sends ABORT_REQUEST and on_end follows the application's
     *  END_REQUEST (which PHP-FPM, for one, sends only when the script
     *  ends). */
    int polite_abort;
};

#define FCGIC_CONN_OPTIONS_VERSION 1

/** Per-request timeouts in nanoseconds; 0 means no limit. While input is
 *  paused (a callback returned FCGIC_PAUSE: the reader is slow, not the
 *  application) first_byte and idle wait, and idle counts again from the
 *  moment reading resumes; total always runs. */
struct fcgic_timeouts {
    uint64_t first_byte; /**< from submit to the first STDOUT/STDERR byte */
    uint64_t idle;       /**< longest silence while the request runs */
    uint64_t total;      /**< from submit to END_REQUEST */
};

/** How a request's STDIN or DATA stream is supplied. */
enum fcgic_body_mode {
    FCGIC_BODY_NONE = 0, /**< empty stream */
    FCGIC_BODY_BUFFER,   /**< bytes in memory (body / data fields) */
    FCGIC_BODY_STREAM    /**< pulled through the body_read callback */
};

/** Return values of the body_read callback. */
enum fcgic_body_status {
    FCGIC_BODY_CHUNK = 0, /**< *chunk holds the next bytes */
    FCGIC_BODY_EOF = 1,   /**< the stream is complete */
    FCGIC_BODY_AGAIN = 2  /**< nothing yet: call fcgic_conn_resume() later */
};

/** When a pool or balancer may run a request again (on a fresh connection
 *  or another member) after it failed before any response byte arrived.
 *  A bare fcgic_conn never retries; it only reports request_written. */
enum fcgic_retry {
    /** Always when no byte of the request was written; once written, only
     *  when REQUEST_METHOD is idempotent (GET, HEAD, OPTIONS, TRACE, PUT,
     *  DELETE: RFC 9110 section 9.2.2), as nginx does by default. */
    FCGIC_RETRY_DEFAULT = 0,
    /** Only when no byte of the request was written. */
    FCGIC_RETRY_UNSENT,
    /** Also written non-idempotent requests (nginx's `non_idempotent`). */
    FCGIC_RETRY_ALWAYS,
    /** Never. */
    FCGIC_RETRY_NEVER
};

/** A request to run. Zero-initialise, then set what you need. */
struct fcgic_request {
    /** 0 or FCGIC_REQUEST_VERSION (see "Structs that grow" in common.h). */
    unsigned version;
    enum fcgic_role role; /**< 0 means RESPONDER */
    /** Params in send order; copied during fcgic_conn_submit(). */
    const struct fcgic_param *params;
    size_t nparams;
    /** STDIN: mode, and for FCGIC_BODY_BUFFER the bytes, which are sent
     *  without copying and must stay valid until on_end. */
    enum fcgic_body_mode stdin_mode;
    const void *stdin_data;
    size_t stdin_len;
    /** FILTER only: the DATA stream, same rules as STDIN. */
    enum fcgic_body_mode data_mode;
    const void *data;
    size_t data_len;
    /** Nonzero: deliver STDOUT unparsed through on_body (no on_head). */
    int raw_stdout;
    struct fcgic_timeouts timeouts;
    /** Whether pools and balancers may run it again; see enum fcgic_retry. */
    enum fcgic_retry retry;
};

#define FCGIC_REQUEST_VERSION 1

/** The outcome of a request, delivered to on_end. */
struct fcgic_result {
    /** 0 when the request ended with END_REQUEST; else why it did not
     *  (timeout, connection closed or failed, protocol error, cap, a
     *  callback's error, FCGIC_E_ABORTED when aborted before END_REQUEST
     *  could arrive). */
    int error;
    /** From END_REQUEST; meaningful when got_end_request. */
    uint32_t app_status;
    enum fcgic_protocol_status protocol_status;
    int got_end_request;
    /** 1 when fcgic_conn_abort() was called for this request. */
    int aborted;
    /** 1 once any STDOUT or STDERR byte of this request arrived: a request
     *  that failed before that can safely be retried elsewhere. */
    int response_started;
    /** 1 once the whole STDIN (and DATA) stream was handed to the socket. */
    int body_sent;
    /** 1 once any byte of this request (BEGIN_REQUEST onwards) was handed to
     *  the socket (acknowledged by fcgic_conn_out_done()): the application
     *  may have acted on it. */
    int request_written;
    /** Set by pools and balancers: how many times the request was run again
     *  (stale kept connection, failover) before this result; 0 from a bare
     *  connection. */
    unsigned retries;
    /** The system error (errno) behind error when the transport reported
     *  one (fcgic_conn_fail_errno()), e.g. ENOENT for a missing unix
     *  socket, ECONNREFUSED, ECONNRESET; else 0. */
    int sys_errno;
    uint64_t stdin_bytes, data_bytes, stdout_bytes, stderr_bytes;
};

/** Callbacks; the library copies the struct. Set version to
 *  FCGIC_CONN_CALLBACKS_VERSION (any version from 1 is accepted, see
 *  "Structs that grow" in common.h). Any callback may be NULL. Return 0 to go
 *  on, FCGIC_PAUSE (from on_head, on_body, on_stderr) to make
 *  fcgic_conn_recv() return after this event with the rest of its input
 *  unconsumed, or a negative value to fail the request with
 *  FCGIC_E_CALLBACK (the connection is then not reusable). */
struct fcgic_conn_callbacks {
    unsigned version;
    /** Response header block parsed. head lives until the callback returns. */
    int (*on_head)(struct fcgic_conn *c, void *req_ud, const struct fcgic_response_head *head);
    /** Response body bytes (or all STDOUT with raw_stdout); data lives until
     *  the callback returns, or until on_flush returns when that is set. */
    int (*on_body)(struct fcgic_conn *c, void *req_ud, const char *data, size_t len);
    /** One STDERR line without its line end (or a piece of an overlong line,
     *  or the unterminated last line); lives until the callback returns. */
    int (*on_stderr)(struct fcgic_conn *c, void *req_ud, const char *line, size_t len);
    /** The request is over; req_ud is not used by the library afterwards.
     *  result lives until the callback returns (copy what you keep). */
    void (*on_end)(struct fcgic_conn *c, void *req_ud, const struct fcgic_result *result);
    /** Supply the next piece of STDIN (stream FCGIC_TYPE_STDIN) or DATA
     *  (FCGIC_TYPE_DATA). The chunk is sent without copying and must stay
     *  valid until the next body_read call for the same request or on_end.
     *  body_read is not called again for a stream until the previous chunk
     *  was written (acknowledged by fcgic_conn_out_done()). A
     *  FCGIC_BODY_CHUNK of 0 bytes counts as FCGIC_BODY_AGAIN. Return an
     *  enum fcgic_body_status, or a negative value to fail the request with
     *  FCGIC_E_BODY_SOURCE. */
    int (*body_read)(struct fcgic_conn *c, void *req_ud, enum fcgic_type stream, struct fcgic_span *chunk);
    /** GET_VALUES_RESULT arrived; pairs live until the callback returns. */
    void (*on_values)(struct fcgic_conn *c, void *conn_ud, const struct fcgic_param *pairs, size_t n);
    /* ---- version 2 ---- */
    /** Optional. The end of a batch of body: called once for each request
     *  that had on_body calls since its previous on_flush, before the
     *  engine call that made them returns (fcgic_conn_recv() once it has
     *  taken what it will of its input, fcgic_conn_recv_eof(), ...). The
     *  data of those on_body calls stay valid until on_flush returns, not
     *  longer, so an embedder can gather the pieces of one read (often
     *  several STDOUT records) and write them out with one system call
     *  instead of one per record. A request that ends in that engine call
     *  gets no on_flush: its on_end ends the batch, and the data stay
     *  valid until on_end returns (so the last piece, the end of the
     *  response and the next write can go out together). Engine calls made
     *  from it are deferred as from any callback. */
    void (*on_flush)(struct fcgic_conn *c, void *req_ud);
};

#define FCGIC_CONN_CALLBACKS_VERSION 2
/** Callback return value: stop consuming input for now. */
#define FCGIC_PAUSE 1

/** fcgic_conn_wants() bits. */
#define FCGIC_WANT_READ 1u
#define FCGIC_WANT_WRITE 2u
/** The connection is finished or failed: close it (fcgic_conn_free()). */
#define FCGIC_WANT_CLOSE 4u
/** Input is paused by a callback's FCGIC_PAUSE: a request is still
 *  running; read again after fcgic_conn_unpause(). */
#define FCGIC_WANT_PAUSED 8u

/** Connection states. */
enum fcgic_conn_state {
    FCGIC_CONN_CONNECTING = 1, /**< waiting for fcgic_conn_connected() */
    FCGIC_CONN_IDLE,           /**< open, no request running: submit or reuse */
    FCGIC_CONN_ACTIVE,         /**< requests running */
    FCGIC_CONN_DONE,           /**< finished and not reusable: close it */
    FCGIC_CONN_FAILED          /**< failed (see fcgic_conn_error()): close it */
};

/**
 * Create a connection engine.
 * @param opts options (copied) or NULL for defaults.
 * @param cb callbacks (copied); cb->version from 1 to FCGIC_CONN_CALLBACKS_VERSION.
 * @param conn_ud passed to on_values and returned by fcgic_conn_userdata().
 * @return 0, FCGIC_E_INVAL (also for a version newer than this library) or
 *         FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_conn_new(struct fcgic_conn **out, const struct fcgic_conn_options *opts,
                             const struct fcgic_conn_callbacks *cb, void *conn_ud, const struct fcgic_mem *mem);

/**
 * Free a connection. No callback runs. Called from inside one of its own
 * callbacks, the free is deferred until the running call returns.
 */
FCGIC_API void fcgic_conn_free(struct fcgic_conn *c);

/** The conn_ud given to fcgic_conn_new(). */
FCGIC_API void *fcgic_conn_userdata(const struct fcgic_conn *c);

/** Replace the conn_ud. */
FCGIC_API void fcgic_conn_set_userdata(struct fcgic_conn *c, void *conn_ud);

/**
 * A pointer that belongs to whoever moves the connection's bytes (the
 * transport), separate from conn_ud, which belongs to whoever created the
 * engine through the transport (a pool, say): a transport keeps its
 * per-connection state here instead of in a map of its own. NULL until set;
 * the library never reads it.
 */
FCGIC_API void *fcgic_conn_transport_data(const struct fcgic_conn *c);

/** Set the transport's pointer (see fcgic_conn_transport_data()). */
FCGIC_API void fcgic_conn_set_transport_data(struct fcgic_conn *c, void *data);

/**
 * The transport started connecting at `now`: output is held back and the
 * connect timeout runs until fcgic_conn_connected().
 * @return 0 or FCGIC_E_STATE (requests already written).
 */
FCGIC_API int fcgic_conn_connecting(struct fcgic_conn *c, uint64_t now);

/** The transport is connected. @return 0 or FCGIC_E_STATE. */
FCGIC_API int fcgic_conn_connected(struct fcgic_conn *c, uint64_t now);

/**
 * Start a request. BEGIN_REQUEST and all PARAMS are queued at once; STDIN
 * (and DATA) follow as the body is supplied. For FILTER requests the
 * library adds FCGI_DATA_LENGTH (for a buffered DATA stream) unless params
 * already hold it.
 * @param req the request; params are copied, buffered bodies referenced.
 * @param req_ud passed to the request's callbacks.
 * @param id_out if not NULL, receives the request id.
 * @return 0; FCGIC_E_INVAL; FCGIC_E_BAD_ROLE; FCGIC_E_BUSY (max_requests
 *         running, or the connection is not reusable); FCGIC_E_PARAMS_TOO_BIG;
 *         FCGIC_E_NV_TOO_LONG; FCGIC_E_CONN_FAILED; FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_conn_submit(struct fcgic_conn *c, const struct fcgic_request *req, void *req_ud,
                                uint16_t *id_out, uint64_t now);

/**
 * Tell the connection that a body_read which returned FCGIC_BODY_AGAIN can
 * be called again.
 * @return 0, FCGIC_E_NOT_FOUND (no such running request) or the
 *         connection's sticky error.
 */
FCGIC_API int fcgic_conn_resume(struct fcgic_conn *c, uint16_t id, uint64_t now);

/**
 * Cancel a request. It ends at once: its on_end runs with FCGIC_E_ABORTED
 * and result.aborted set before this function returns (called from inside
 * a callback of this connection: as soon as that callback returns), and no
 * other callback runs for it afterwards. ABORT_REQUEST is queued, its id
 * stays reserved until the application's END_REQUEST (records for it are
 * dropped), and the connection is retired: it turns FCGIC_CONN_DONE (close
 * it) as soon as no other request runs on it. A buffered body may be
 * released from on_end.
 * With polite_abort set in the options: only ABORT_REQUEST is queued and
 * on_end follows the application's END_REQUEST (result.aborted set).
 * @return 0, FCGIC_E_NOT_FOUND (no such running request), FCGIC_E_NOMEM or
 *         the connection's sticky error.
 */
FCGIC_API int fcgic_conn_abort(struct fcgic_conn *c, uint16_t id);

/**
 * Queue a GET_VALUES query; the answer arrives through on_values.
 * @param names variable names, e.g. "FCGI_MAX_CONNS"; copied.
 * @return 0, FCGIC_E_INVAL, FCGIC_E_BAD_LENGTH, FCGIC_E_NOMEM or the
 *         connection's sticky error.
 */
FCGIC_API int fcgic_conn_get_values(struct fcgic_conn *c, const char *const *names, size_t n);

/**
 * The bytes to send now, as an I/O vector (nothing while connecting).
 * The bytes stay where they are until fcgic_conn_out_done() covers them,
 * whatever is queued meanwhile, so an asynchronous writer (uv_write,
 * io_uring, a write queue) may hand the entries over without copying; only
 * after the connection failed (FCGIC_WANT_CLOSE) or was freed must it stop
 * using them. Request bodies are referenced, never copied: a buffered body
 * stays the caller's. With a writer that calls fcgic_conn_out_done() before
 * anything else happens, a body may be released from on_end (the engine
 * copies what it still has to send); with an asynchronous writer, keep it
 * until the writes handed out before on_end have completed.
 * @return entries filled.
 */
FCGIC_API size_t fcgic_conn_out_iov(struct fcgic_conn *c, struct fcgic_iov *iov, size_t max);

/** Bytes waiting to be sent. */
FCGIC_API size_t fcgic_conn_out_pending(const struct fcgic_conn *c);

/**
 * Acknowledge n bytes written. May pull more body through body_read.
 * @return 0, FCGIC_E_RANGE, FCGIC_E_REENTRANT (from inside a callback) or
 *         the connection's sticky error.
 */
FCGIC_API int fcgic_conn_out_done(struct fcgic_conn *c, size_t n, uint64_t now);

/**
 * Process bytes received from the application. Fires callbacks.
 * @param consumed receives the bytes used: all of them unless a callback
 *        returned FCGIC_PAUSE (feed the rest later) or an error occurred.
 * Request ids rotate through 1..65535 on a connection (a new id for every
 * request), so a record that arrives late for an earlier request is
 * recognised: any record for an ended request, an unsolicited management
 * record, or any byte on an idle connection fails the connection (it turns
 * FCGIC_CONN_FAILED and must be closed); none of it reaches a callback.
 * A malformed response (bad header block, STDERR over its cap) or a
 * callback's error ends that request at once through on_end with the
 * specific error; the connection is then not reused.
 * @return 0, or the connection's sticky error (protocol errors such as
 *         FCGIC_E_BAD_VERSION, FCGIC_E_UNKNOWN_ID, FCGIC_E_AFTER_END,
 *         FCGIC_E_AFTER_STREAM_END, FCGIC_E_UNSOLICITED, ...);
 *         FCGIC_E_REENTRANT from inside a callback.
 */
FCGIC_API int fcgic_conn_recv(struct fcgic_conn *c, const void *buf, size_t len, size_t *consumed,
                              uint64_t now);

/**
 * The application closed the connection. Running requests end with
 * FCGIC_E_PEER_CLOSED (FCGIC_E_TRUNCATED inside a record).
 * @return 0 when nothing was running, else the error given to them.
 */
FCGIC_API int fcgic_conn_recv_eof(struct fcgic_conn *c, uint64_t now);

/**
 * The transport failed (err: a negative fcgic_error such as FCGIC_E_IO or
 * FCGIC_E_CONNECT). Every running request ends with err. Sticky.
 * @return err.
 */
FCGIC_API int fcgic_conn_fail(struct fcgic_conn *c, int err, uint64_t now);

/**
 * fcgic_conn_fail() with the system error behind it (an errno value such as
 * ECONNREFUSED, ENOENT or ECONNRESET), which results carry as sys_errno.
 * @return err.
 */
FCGIC_API int fcgic_conn_fail_errno(struct fcgic_conn *c, int err, int sys_errno, uint64_t now);

/** The system error given to fcgic_conn_fail_errno(), or 0. */
FCGIC_API int fcgic_conn_sys_errno(const struct fcgic_conn *c);

/**
 * Handle timers due at `now`.
 * @return 0 or the connection's sticky error.
 */
FCGIC_API int fcgic_conn_tick(struct fcgic_conn *c, uint64_t now);

/** The next time fcgic_conn_tick() must be called, or FCGIC_NO_DEADLINE. */
FCGIC_API uint64_t fcgic_conn_deadline(const struct fcgic_conn *c);

/** What the connection needs: FCGIC_WANT_CLOSE when it is finished or
 *  failed (DONE or FAILED: close it; nothing else is set then); else
 *  FCGIC_WANT_READ and/or FCGIC_WANT_WRITE, with FCGIC_WANT_PAUSED instead
 *  of FCGIC_WANT_READ while input is paused (fcgic_conn_input_paused()),
 *  which means a request is still running. An idle kept connection wants
 *  to read, so the application's close (or stray bytes) are noticed. */
FCGIC_API unsigned fcgic_conn_wants(const struct fcgic_conn *c);

/** The current state. */
FCGIC_API enum fcgic_conn_state fcgic_conn_state(const struct fcgic_conn *c);

/**
 * The latest `now` passed to any call of this connection (0 before the
 * first): lets a callback know the time without a clock of its own.
 */
FCGIC_API uint64_t fcgic_conn_last_now(const struct fcgic_conn *c);

/**
 * 1 while one of this connection's callbacks is running (then
 * fcgic_conn_recv(), fcgic_conn_out_done(), fcgic_conn_tick(),
 * fcgic_conn_recv_eof() and fcgic_conn_fail() would return
 * FCGIC_E_REENTRANT): a transport asked to write or read from inside such a
 * callback defers the work until the callback's engine call returns.
 */
FCGIC_API int fcgic_conn_in_callback(const struct fcgic_conn *c);

/**
 * 1 after a callback returned FCGIC_PAUSE inside fcgic_conn_recv(), until
 * input is fed again or fcgic_conn_unpause() is called. While paused,
 * fcgic_conn_wants() leaves out FCGIC_WANT_READ, so a transport stops
 * reading even when the pausing callback had taken all the input it was
 * given.
 */
FCGIC_API int fcgic_conn_input_paused(const struct fcgic_conn *c);

/** Ready for more input after FCGIC_PAUSE (when no input was held back). */
FCGIC_API void fcgic_conn_unpause(struct fcgic_conn *c);

/** The sticky error, or 0. */
FCGIC_API int fcgic_conn_error(const struct fcgic_conn *c);

/** Requests running (aborted ones included until their END_REQUEST). */
FCGIC_API unsigned fcgic_conn_active(const struct fcgic_conn *c);

/**
 * Mark the connection not reusable: no new requests; it turns DONE when the
 * running ones end. Used after timeouts and by pools.
 */
FCGIC_API void fcgic_conn_retire(struct fcgic_conn *c);

/** Set the number of requests allowed at once (after GET_VALUES said the
 *  application multiplexes). @return 0 or FCGIC_E_RANGE (0 or > 65535). */
FCGIC_API int fcgic_conn_set_max_requests(struct fcgic_conn *c, unsigned n);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_CONN_H */

/**
 * @file http.h
 * @brief The gateway's HTTP/1.1 server connections (layer 3): request heads
 *        and bodies in, responses out, on a gw_loop. Knows nothing of FastCGI.
 *
 * One gw_http_server per loop (thread) holds the settings, the handler and
 * the buffer pools; its connections live on that loop only. The layer parses
 * with llhttp in strict mode plus its own checks (RFC 9112 framing and
 * request-smuggling rules), answers malformed requests itself (400, 408,
 * 413, 414, 431, 501, 505, with a small text body, then closes), and hands
 * every well-formed request to the handler:
 *
 *     layer calls handler                 handler calls layer
 *     ---------------------------------   ------------------------------------
 *     on_request(c, req)          ---->   gw_http_body_start / pause / resume
 *     on_body(c, data, len)       ---->   gw_http_body_consumed(c, n)
 *     on_body_end(c)                      gw_http_response_head(c, ...)
 *     on_drain(c)                 ---->   gw_http_response_write(c, ...)
 *     on_client_gone(c, why)              gw_http_response_end / abort(c)
 *
 * **A request's life.** It starts with on_request and ends when the handler
 * calls gw_http_response_end() or gw_http_response_abort(), or when
 * on_client_gone() returns. After that the handler must not use `c` or
 * anything borrowed from the request, and gets no more callbacks for it.
 * The request body is delivered only after gw_http_body_start(); a handler
 * that never starts it answers without reading it (the layer then discards
 * the body, up to discard_max, to keep the connection, or closes it).
 *
 * **Callbacks.** They run on the loop's thread, from the layer's deferred
 * work or I/O callbacks, never from inside a gw_http_* call the handler
 * made: every gw_http_* function may be called from inside any callback and
 * from anywhere else on the loop's thread (e.g. a FastCGI library callback),
 * and the effect (writing, reading, the next callback) happens at the end of
 * the loop iteration at the latest. Callbacks must not free the server.
 *
 * **Pipelining.** Requests on one connection are handled one at a time, in
 * order: the next request's head is read only when the current request has
 * ended and its body was read or discarded. Unparsed pipelined bytes wait in
 * the connection's read buffer; while it is full nothing more is read.
 *
 * **Memory.** An idle keep-alive connection holds no read buffer, no write
 * buffer and no parser: about 200 bytes (sizeof the connection object, see
 * gw_http_conn_size()). An active one holds one block from the server's
 * pool (parser, request, header table and read buffer) and write-queue
 * blocks while the socket does not take the response.
 *
 * Not ABI: this header belongs to the gateway program; its structs may grow.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"

struct gw_http_server;
struct gw_http_conn;

/** A header: name and value spans (not NUL-terminated). */
struct gw_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/**
 * A parsed request head. Every pointer is borrowed and stays valid until the
 * request ends (see the file comment); spans point into the connection's read
 * buffer and are not NUL-terminated unless said.
 */
struct gw_http_request {
    const char *method; /**< token, e.g. "GET" */
    size_t method_len;
    bool head;                 /**< the method is HEAD: the response has no body */
    const char *target;        /**< request-target as received */
    size_t target_len;
    const char *path;          /**< path of the target ("/..."; "*" for OPTIONS *), still percent-encoded */
    size_t path_len;
    const char *query;         /**< after '?', NULL when the target has no '?' */
    size_t query_len;
    const char *host;          /**< authority of an absolute-form target, else the Host header's value;
                                    NULL when neither (HTTP/1.0 without Host) */
    size_t host_len;
    bool absolute_form;        /**< the target was absolute-form (http://host/path) */
    unsigned version;          /**< 10 or 11 */
    const struct gw_http_header *headers; /**< in received order, repeated fields kept; OWS trimmed */
    size_t nheaders;
    int64_t content_length;    /**< the Content-Length, or -1 (none, or chunked) */
    bool chunked;              /**< the body is chunked (its length is unknown) */
    bool has_body;             /**< chunked or content_length > 0 */
    bool expect_continue;      /**< "Expect: 100-continue" (HTTP/1.1 only) */
    bool keep_alive;           /**< the client wants to keep the connection (it may still be closed) */
    uint64_t seq;              /**< 1 for the connection's first request, 2 for the next... */
    const struct sockaddr *client_addr; /**< the peer; lives as long as the connection */
    socklen_t client_addr_len;
    const struct sockaddr *server_addr; /**< the local address the client connected to */
    socklen_t server_addr_len;
    const char *client_ip;     /**< NUL-terminated text of client_addr ("::1", "192.0.2.1") */
    uint16_t client_port;
    const char *server_ip;     /**< NUL-terminated text of server_addr */
    uint16_t server_port;
};

/** Why on_client_gone is called. */
enum gw_http_gone {
    GW_HTTP_GONE_CLOSED = 1,  /**< EOF from the client (it closed or shut down its side) */
    GW_HTTP_GONE_RESET,       /**< connection reset or another socket error */
    GW_HTTP_GONE_TIMEOUT,     /**< body_timeout or send_timeout passed */
    GW_HTTP_GONE_BAD_BODY,    /**< the body's framing was malformed (400 is answered if no head went out) */
    GW_HTTP_GONE_BODY_LIMIT,  /**< a chunked body grew over max_body (413 answered if no head went out) */
    GW_HTTP_GONE_SHUTDOWN,    /**< the server is being freed */
};

/** What the layer calls. Copied by gw_http_server_new(). Every member but
 *  on_request may be NULL. `ud` is the handler's, given back to each call. */
struct gw_http_handler {
    /** A request head arrived. Answer now or later. */
    void (*on_request)(struct gw_http_conn *c, const struct gw_http_request *req, void *ud);
    /** Body bytes, after gw_http_body_start() and while not paused: `data`
     *  points into the read buffer and stays valid until the handler released
     *  it with gw_http_body_consumed() (or the request ended). The layer
     *  reads more while bytes are held, as long as the buffer has room. */
    void (*on_body)(struct gw_http_conn *c, const char *data, size_t len, void *ud);
    /** The body is complete (also called after gw_http_body_start() for a
     *  request without body). Trailers of a chunked body are ignored. */
    void (*on_body_end)(struct gw_http_conn *c, void *ud);
    /** The write queue, after gw_http_response_write() reported it above the
     *  high-water mark, fell below the low-water mark: write more. */
    void (*on_drain)(struct gw_http_conn *c, void *ud);
    /** The request cannot complete: the client left (EOF, reset), a timeout
     *  passed, or its body was malformed (`why`, enum gw_http_gone). Called
     *  at once (a backend request should be cancelled); the request ends when
     *  this returns. */
    void (*on_client_gone)(struct gw_http_conn *c, int why, void *ud);
    void *ud;
};

/** Limits and timeouts. Fill with gw_http_settings_default(), then change. */
struct gw_http_settings {
    size_t read_buffer_size;       /**< read buffer per active connection, 16 KiB; a request head must fit (else 431) */
    size_t max_request_line;       /**< longer request line: 414 (Apache LimitRequestLine), 8190 */
    size_t max_header_fields;      /**< more fields: 431 (Apache LimitRequestFields answers 400), 100 */
    size_t max_header_field_size;  /**< a longer field line: 431 (Apache LimitRequestFieldSize answers 400), 8190 */
    uint64_t max_body;             /**< larger body: 413 (before reading it when Content-Length says so); 0 = no limit */
    bool keep_alive;               /**< Apache KeepAlive; true */
    unsigned max_keepalive_requests; /**< requests per connection (Apache MaxKeepAliveRequests), 100; 0 = no limit */
    uint64_t keepalive_timeout_ns; /**< idle time between requests, 5 s */
    uint64_t head_timeout_ns;      /**< a head must arrive within this from its first byte (408 then), 20 s;
                                        a new connection that sends nothing is closed after it silently */
    uint64_t body_timeout_ns;      /**< longest wait for body bytes while the handler reads, 60 s */
    uint64_t send_timeout_ns;      /**< longest time the client takes none of the response, 60 s */
    uint64_t linger_timeout_ns;    /**< after an error answer: how long unread input is drained before close, 2 s */
    size_t write_high_water;       /**< queued response bytes that make response_write report 1, 64 KiB */
    size_t write_low_water;        /**< on_drain when the queue falls below this, 16 KiB */
    size_t discard_max;            /**< unread body the layer reads and drops to keep a connection, 64 KiB */
    size_t pool_keep;              /**< free blocks each pool keeps for reuse, 64 */
    const char *server_header;     /**< "Server" value; NULL: "minimal_gateway"; "": none. Borrowed for the server's life */
    int field_limit_status;        /**< status for too many fields, a field over its limit or a head larger than
                                        the read buffer: 431 (0 means 431); Apache answers 400 */
};

/** Fill `s` with the defaults documented on each member. */
void gw_http_settings_default(struct gw_http_settings *s);

/**
 * Create a server on `loop`. `settings` (NULL: defaults) and `handler` are
 * copied. @return 0, -EINVAL (no on_request, limits that cannot work, e.g. a
 * request line limit not below read_buffer_size), -ENOMEM.
 */
int gw_http_server_new(struct gw_http_server **out, struct gw_loop *loop, const struct gw_http_settings *settings,
                       const struct gw_http_handler *handler);

/** Close every connection (active requests get on_client_gone with
 *  GW_HTTP_GONE_SHUTDOWN), free the pools and the server. NULL is a no-op. */
void gw_http_server_free(struct gw_http_server *s);

/**
 * Take a connected socket (nonblocking): the server owns and closes it.
 * @return 0; -ENOMEM or a watcher error, the fd then closed.
 */
int gw_http_server_adopt(struct gw_http_server *s, int fd, const struct sockaddr *peer, socklen_t peer_len);

/** A gw_accept_cb for gw_listener_new() with ud = the server. */
void gw_http_server_on_accept(void *server, int fd, const struct sockaddr *peer, socklen_t peer_len);

/** Stop keeping connections alive (graceful stop): idle ones are closed now,
 *  active ones after their current response, and one that has not sent its
 *  first request yet after answering it (or at its head timeout). */
void gw_http_server_drain(struct gw_http_server *s);

/** Counters, for tests and server-status. */
struct gw_http_stats {
    size_t conns;          /**< open connections */
    size_t active;         /**< connections holding a read block */
    size_t blocks_free;    /**< read blocks kept in the pool */
    size_t wblocks_free;   /**< write blocks kept in the pool */
    uint64_t requests;     /**< requests handed to the handler */
    uint64_t errors;       /**< requests answered by the layer with an error */
};
void gw_http_server_stats(const struct gw_http_server *s, struct gw_http_stats *out);

/** sizeof the connection object: what an idle connection costs, besides the kernel's socket. */
size_t gw_http_conn_size(void);

/* Request body --------------------------------------------------------------- */

/**
 * Start delivering the body (on_body ... on_body_end). Sends "100 Continue"
 * first when the client expects it and no response head was sent.
 * @return 0; -EALREADY when started; -EINVAL when the request ended.
 */
int gw_http_body_start(struct gw_http_conn *c);

/** Stop calling on_body until gw_http_body_resume(); the client is then held
 *  back by TCP once the read buffer is full. Idempotent. */
void gw_http_body_pause(struct gw_http_conn *c);

/** Undo gw_http_body_pause(). Idempotent. */
void gw_http_body_resume(struct gw_http_conn *c);

/** Release the first `n` body bytes delivered and not yet released (they may
 *  span several on_body calls). n larger than what is held releases all. */
void gw_http_body_consumed(struct gw_http_conn *c, size_t n);

/* Response ------------------------------------------------------------------- */

/**
 * Start the response. Status 200..599 (1xx are not forwarded), reason NULL
 * for fcgic_http_reason(status). Headers are copied; they must not contain
 * CR, LF or NUL, names must be tokens. The layer writes its own framing and
 * drops the handler's Content-Length, Transfer-Encoding, Connection,
 * Keep-Alive, Upgrade and Proxy-Connection; it adds Date and Server unless
 * given. `content_length` is the body's length or -1 when unknown (then
 * chunked for HTTP/1.1, or close-delimited for HTTP/1.0). HEAD, 204 and 304
 * responses carry no body (what the handler writes is dropped).
 * @return 0; -EINVAL (bad status or header, a head was already sent, the
 *         request ended); -ENOMEM.
 */
int gw_http_response_head(struct gw_http_conn *c, int status, const char *reason, const struct gw_http_header *headers,
                          size_t nheaders, int64_t content_length);

/**
 * Send body bytes: written to the socket at once as far as it takes them,
 * the rest copied into the write queue (the only copy).
 * @return 0 when the queue is below the high-water mark; 1 when at or above
 *         it (stop writing until on_drain); -EINVAL (no head, or the request
 *         ended); -EMSGSIZE (more than the announced Content-Length: nothing
 *         written); -EPIPE (the socket failed: on_client_gone follows at the
 *         end of the iteration); -ENOMEM.
 */
int gw_http_response_write(struct gw_http_conn *c, const void *data, size_t len);

/**
 * Send body bytes later, without copying them: `data` is kept by reference
 * until gw_http_response_push(), gw_http_response_end() or
 * gw_http_response_abort() on the same connection, and must stay valid
 * until then. Pieces gathered one after the other go out together, in one
 * system call and (chunked) one chunk; gathering for another connection of
 * the same server first pushes this one's. For the pieces of one read from a
 * backend (the library's on_flush ends such a batch).
 * @return as gw_http_response_write(); 1 when the queue the socket has not
 *         taken is at or above the high-water mark.
 */
int gw_http_response_gather(struct gw_http_conn *c, const void *data, size_t len);

/**
 * Write what was gathered: a small amount is copied into the write queue
 * and goes out with what follows at the end of the loop iteration, a larger
 * one is offered to the socket now (with the queue) and only what it does
 * not take is copied. No-op when nothing is gathered.
 * @return 0, -EPIPE or -ENOMEM.
 */
int gw_http_response_push(struct gw_http_conn *c);

/**
 * The response is complete (what was gathered goes out with its end). A
 * response shorter than its Content-Length is
 * truncated visibly (the connection is closed). The request ends.
 * @return 0; -EINVAL (no head, or ended already).
 */
int gw_http_response_end(struct gw_http_conn *c);

/** End the request now, visibly truncated: what is queued is flushed, then
 *  the connection is closed without a final chunk. No-op when ended. */
void gw_http_response_abort(struct gw_http_conn *c);

/**
 * Answer with `status` and a small text body ("404 Not Found\n") and end
 * the request (for errors decided before a head was sent).
 * @return 0; -EINVAL as gw_http_response_head().
 */
int gw_http_response_error(struct gw_http_conn *c, int status);

/** Bytes of the body gw_http_response_error() sends for `status` (for
 *  the access log; a HEAD response has none). */
size_t gw_http_error_body_len(int status);

/* Connection ---------------------------------------------------------------- */

/** The handler's pointer for the current request (NULL at on_request). */
void gw_http_set_data(struct gw_http_conn *c, void *data);
void *gw_http_data(const struct gw_http_conn *c);

/** Response bytes queued and not yet taken by the socket. */
size_t gw_http_conn_queued(const struct gw_http_conn *c);

/** The loop the connection runs on. */
struct gw_loop *gw_http_conn_loop(const struct gw_http_conn *c);

/** Format v in base 10 (16 for hex) at out, no terminator; returns the
 *  length (at most 20). For the per-request lines, where snprintf() shows
 *  in profiles. */
size_t gw_fmt_uint(char *out, uint64_t v, unsigned base);

#endif /* GW_HTTP_H */

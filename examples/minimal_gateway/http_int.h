/* Private to the HTTP connection layer (http_*.c): the server, the
 * connection, the read and write blocks, and the functions the layer's
 * files share. */
#ifndef GW_HTTP_INT_H
#define GW_HTTP_INT_H

#include <llhttp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "http.h"

/* A free list of fixed-size blocks. */
struct gw__pool {
    void *free;
    size_t nfree;
    size_t keep;
    size_t size;
};

void *gw__pool_get(struct gw__pool *p);
void gw__pool_put(struct gw__pool *p, void *block);
void gw__pool_clear(struct gw__pool *p);

/* Everything an active connection needs to read a request; one pool block,
 * handed back when the connection goes idle. The header table and the read
 * buffer follow the struct in the same block. */
struct gw__rblock {
    llhttp_t parser;
    struct gw_http_request req;
    char client_ip[48];
    char server_ip[48];
    struct gw_http_header *headers;
    size_t nheaders;
    char *buf;
    size_t cap;
    size_t len;       /* bytes in buf */
    size_t pos;       /* bytes before pos were parsed (or skipped) */
    size_t scan;      /* head scanner: next byte to look at */
    size_t line;      /* head scanner: start of the current line */
    size_t nlines;    /* head scanner: complete lines of this head */
    size_t head_end;  /* end of the current request's head; body bytes follow */
    /* per request, from the parser's callbacks */
    int error;        /* the status to answer, 0 while the request is fine */
    int gone;         /* enum gw_http_gone for an error inside the body, 0 none */
    unsigned ncl, nte, nhost, te_chunks;
    bool te_last_chunked; /* the last coding seen so far is chunked */
    bool te_other;        /* a coding other than chunked */
    bool expect_continue;
    int64_t content_length;
    bool in_trailers;
    bool msg_done;
    uint64_t body_seen;
    size_t ext_bytes;
};

/* A write-queue block: bytes [start, end) of data wait for the socket. */
struct gw__wblock {
    struct gw__wblock *next;
    size_t start, end, cap;
    bool pooled;
    char data[];
};

enum gw__state {
    GW_ST_HEAD,    /* waiting for or reading a request head (idle when no bytes) */
    GW_ST_REQUEST, /* the handler has a request */
    GW_ST_DISCARD, /* the response is over; the rest of the body is read and dropped */
    GW_ST_FLUSH,   /* the last response is being written; then close */
    GW_ST_LINGER,  /* write side shut; input drained until EOF or timeout, then close */
};

union gw__addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

struct gw_http_conn {
    struct gw_http_server *s;
    struct gw_http_conn *prev, *next;
    struct gw_watch watch;
    struct gw_timer timer;
    struct gw_defer defer;
    struct gw__rblock *rb;
    struct gw__wblock *wq_head, *wq_tail;
    size_t queued;
    void *data;
    uint64_t t_read;   /* start of the current wait for input (see update_io) */
    uint64_t t_write;  /* last progress of the write queue */
    uint64_t body_held; /* body bytes delivered and not released */
    int64_t resp_left; /* Content-Length still to write, -1 when not counted */
    uint64_t discarded;
    union gw__addr peer, local;
    uint32_t nreq;     /* requests started on this connection */
    uint8_t state;     /* enum gw__state */
    uint8_t gone;      /* enum gw_http_gone waiting to be reported, 0 none */
    bool req_active : 1;   /* the handler owns a request */
    bool body_started : 1;
    bool body_paused : 1;
    bool body_end_sent : 1;
    bool head_sent : 1;
    bool resp_ended : 1;
    bool resp_no_body : 1; /* HEAD, 204, 304: bytes written are dropped */
    bool resp_chunked : 1;
    bool close_after : 1;  /* close once this response is written */
    bool truncated : 1;    /* the response was cut: close without a final chunk */
    bool continue_sent : 1;
    bool blocked : 1;      /* the socket took less than offered: wait for writability */
    bool above_hw : 1;     /* response_write reported the high-water mark */
    bool eof : 1;          /* the client shut its side */
    bool dead : 1;         /* the socket failed or the client left: close without writing */
    bool in_process : 1;
    bool closing : 1;
    /* The socket is watched edge triggered: what it last said, kept until a
     * read comes back short (see do_read). */
    bool rd_ready : 1;     /* there may be bytes (or the EOF) to read */
    bool rd_hup : 1;       /* the client shut its side: read until recv() says 0 */
    bool reading : 1;      /* the connection wanted input at the last update_io */
};

/* Body pieces gathered by reference (gw_http_response_gather()), for one
 * connection of the server at a time. */
#define GW__GATHER_MAX 32
struct gw__gather {
    struct gw_http_conn *owner; /* NULL: nothing gathered */
    size_t n;
    size_t bytes;
    struct iovec v[GW__GATHER_MAX];
};

struct gw_http_server {
    struct gw_loop *loop;
    struct gw__gather gather;
    struct gw_http_settings set;
    struct gw_http_handler h;
    struct gw__pool rpool, wpool;
    size_t headers_off, buf_off;
    struct gw_http_conn *conns;
    size_t nconns, nactive;
    uint64_t requests, errors;
    bool draining;
    long date_sec;
    char date[40]; /* "Date: ...\r\n" */
};

#define GW__WBLOCK_SIZE 16384u

/* http_conn.c */
/* Run the connection's next steps at the end of this loop iteration. */
void gw__conn_kick(struct gw_http_conn *c);
/* Close and free now; an active request is reported gone with `why`. Not
 * from inside the connection's own callbacks. */
void gw__conn_destroy(struct gw_http_conn *c, int why);

/* http_parse.c */
/* Start a new request: parser and per-request fields. */
void gw__rblock_reset_request(struct gw_http_conn *c);
/* Scan the head for framing errors and limits: 1 complete (rb->head_end
 * set), 0 more bytes needed, or an HTTP status to answer. */
int gw__head_scan(struct gw_http_conn *c);
/* Parse the complete head into rb->req: 0, or an HTTP status to answer. */
int gw__head_parse(struct gw_http_conn *c);
/* Feed body bytes to the parser: returns bytes consumed; errors land in
 * rb->gone. Stops after each body span when asked to (pause, end). */
size_t gw__body_feed(struct gw_http_conn *c);
/* Whether every byte of v[0, n) is a field-vchar, SP, HTAB or obs-text
 * (RFC 9110 5.5): eight bytes at a time while none of them is below 0x20 or
 * 0x7f (then each byte of that word is looked at, so a tab costs its word). */
bool gw__field_value_ok(const char *v, size_t n);
/* a[0, alen) equals the lower-case b, ignoring ASCII case; b's length is
 * taken where it is known at compile time (a literal). */
bool gw__ascii_ieq_n(const char *a, size_t alen, const char *b, size_t blen);
static inline bool gw__ascii_ieq(const char *a, size_t alen, const char *b)
{
    return gw__ascii_ieq_n(a, alen, b, strlen(b));
}

/* http_write.c */
int gw__send(struct gw_http_conn *c, const struct iovec *iov, int n);
void gw__flush(struct gw_http_conn *c);
void gw__wq_clear(struct gw_http_conn *c);
/* Forget what c gathered (the connection is going away). */
void gw__gather_drop(struct gw_http_conn *c);
int gw__send_error(struct gw_http_conn *c, int status);
int gw__send_continue(struct gw_http_conn *c);

#endif /* GW_HTTP_INT_H */

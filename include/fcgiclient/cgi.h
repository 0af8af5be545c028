/**
 * @file cgi.h
 * @brief Streaming parser of CGI responses (RFC 3875 section 6): the header
 *        block an application writes to STDOUT, then the body.
 */
#ifndef FCGICLIENT_CGI_H
#define FCGICLIENT_CGI_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A header field as spans. Names keep the application's spelling. */
struct fcgic_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/**
 * The parsed header block of a CGI response. Every pointer in it points into
 * the parser or into the caller's input and stays valid until the next call
 * on the parser (when delivered through a connection callback: until that
 * callback returns).
 */
struct fcgic_response_head {
    /** Final status: the Status header's code, else 302 when a Location with
     *  an absolute URI is present (RFC 3875 client redirect), else 200. */
    int status;
    /** 1 when the application sent a Status header. */
    int status_explicit;
    /** Reason phrase from Status (may be empty). */
    struct fcgic_span reason;
    /** Location header value, or {NULL, 0}. */
    struct fcgic_span location;
    /** 1 when Location is a local path (starts with '/'): RFC 3875 local
     *  redirect; 0 otherwise. */
    int location_local;
    /** All header fields in order, Status included, `Variable-*` excluded
     *  for AUTHORIZER responses. */
    const struct fcgic_header *headers;
    size_t nheaders;
    /** AUTHORIZER only: `Variable-NAME: value` headers, with the name
     *  stripped of its "Variable-" prefix. */
    const struct fcgic_header *variables;
    size_t nvariables;
    /** 1 when the output ended without a header block and was delivered
     *  whole as the body (what Apache does). */
    int no_header_block;
};

/** Parser options. Zero-initialise, then set what you need. */
struct fcgic_cgi_options {
    /** 0 or FCGIC_CGI_OPTIONS_VERSION (see "Structs that grow" in common.h). */
    unsigned version;
    /** Cap on the header block in bytes; 0 means 32768. */
    size_t max_header_bytes;
    /** Cap on the number of header fields; 0 means 256. */
    size_t max_headers;
    /** Nonzero: split `Variable-*` headers out (AUTHORIZER responses). */
    int authorizer;
    /** Zero (default): an output that ends before its header block ends
     *  (no output at all included) is an error, FCGIC_E_CGI_NO_HEADERS; an
     *  empty but terminated block is valid. Nonzero: Apache's leniency, the
     *  output is delivered as the body of a 200 response (HEAD with
     *  no_header_block set). */
    int lenient_header_block;
};

#define FCGIC_CGI_OPTIONS_VERSION 1

/** What fcgic_cgi_parser_next() found. */
enum fcgic_cgi_event_kind {
    FCGIC_CGI_HEAD = 1, /**< header block complete: see head */
    FCGIC_CGI_BODY      /**< a span of body: see data/len */
};

/** One parser event. */
struct fcgic_cgi_event {
    enum fcgic_cgi_event_kind kind;
    const struct fcgic_response_head *head; /**< HEAD: valid until the next call */
    const char *data;                       /**< BODY: points into the caller's buffer or the parser */
    size_t len;
};

/** A streaming CGI response parser. Opaque. */
struct fcgic_cgi_parser;

/**
 * Create a parser.
 * @param opts options (copied) or NULL for defaults.
 * @return 0, FCGIC_E_INVAL (also opts->version newer than this library
 *         knows) or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_cgi_parser_new(struct fcgic_cgi_parser **out, const struct fcgic_cgi_options *opts,
                                   const struct fcgic_mem *mem);

/** Free a parser. NULL is a no-op. */
FCGIC_API void fcgic_cgi_parser_free(struct fcgic_cgi_parser *p);

/** Prepare for a new response, keeping memory and options. */
FCGIC_API void fcgic_cgi_parser_reset(struct fcgic_cgi_parser *p);

/**
 * Feed response bytes and take the next event.
 *
 * Header lines end in CRLF or a bare LF; the block ends at the first empty
 * line that follows a line end. Field names must be tokens; values are
 * trimmed of spaces and tabs; NUL, a bare CR and folded (continued) lines are
 * errors. The header block is copied only when it straddles calls.
 *
 * @param consumed receives the bytes of buf used.
 * A Status must start with a code 200..599: a 1xx code (interim or
 * protocol switch) is never a final status, so it is FCGIC_E_CGI_BAD_STATUS
 * like "abc" or 600.
 *
 * @return 1 an event; 0 need more input; or (sticky) FCGIC_E_CGI_BAD_HEADER,
 *         FCGIC_E_CGI_BAD_STATUS, FCGIC_E_HEADERS_TOO_BIG, FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_cgi_parser_next(struct fcgic_cgi_parser *p, const char *buf, size_t len, size_t *consumed,
                                    struct fcgic_cgi_event *ev);

/**
 * Declare the end of the output and take the remaining events: call until it
 * returns 0. When the header block never ended this yields a HEAD with
 * no_header_block set and then the buffered output as one BODY event with
 * lenient_header_block, else FCGIC_E_CGI_NO_HEADERS.
 * @return 1 an event; 0 done; or a negative error.
 */
FCGIC_API int fcgic_cgi_parser_finish(struct fcgic_cgi_parser *p, struct fcgic_cgi_event *ev);

/** 1 once the HEAD event has been delivered. */
FCGIC_API int fcgic_cgi_parser_head_done(const struct fcgic_cgi_parser *p);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_CGI_H */

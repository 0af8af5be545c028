/**
 * @file record.h
 * @brief FastCGI 1.0 record codec: constants, an encoder that produces
 *        iovec lists, a streaming record decoder and a streaming name-value
 *        pair decoder.
 *
 * The codec does no I/O. The encoder references the caller's body bytes
 * (STDIN and DATA) instead of copying them; record headers and name-value
 * pairs live in the encoder's own memory. The decoders accept input split at
 * any byte and hand content out as spans into the caller's buffer.
 */
#ifndef FCGICLIENT_RECORD_H
#define FCGICLIENT_RECORD_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Record types of FastCGI 1.0. */
enum fcgic_type {
    FCGIC_TYPE_BEGIN_REQUEST = 1,
    FCGIC_TYPE_ABORT_REQUEST = 2,
    FCGIC_TYPE_END_REQUEST = 3,
    FCGIC_TYPE_PARAMS = 4,
    FCGIC_TYPE_STDIN = 5,
    FCGIC_TYPE_STDOUT = 6,
    FCGIC_TYPE_STDERR = 7,
    FCGIC_TYPE_DATA = 8,
    FCGIC_TYPE_GET_VALUES = 9,
    FCGIC_TYPE_GET_VALUES_RESULT = 10,
    FCGIC_TYPE_UNKNOWN_TYPE = 11
};

/** Roles of a BEGIN_REQUEST record. */
enum fcgic_role {
    FCGIC_ROLE_RESPONDER = 1,
    FCGIC_ROLE_AUTHORIZER = 2,
    FCGIC_ROLE_FILTER = 3
};

/** protocolStatus of an END_REQUEST record. */
enum fcgic_protocol_status {
    FCGIC_REQUEST_COMPLETE = 0,
    FCGIC_CANT_MPX_CONN = 1,
    FCGIC_OVERLOADED = 2,
    FCGIC_UNKNOWN_ROLE = 3
};

/** BEGIN_REQUEST flag: keep the connection open after the request. */
#define FCGIC_FLAG_KEEP_CONN 1

#define FCGIC_HEADER_LEN 8            /**< bytes in a record header */
#define FCGIC_MAX_CONTENT_LEN 65535u  /**< largest contentLength */
#define FCGIC_MAX_NV_LEN 0x7fffffffu  /**< largest name or value length (31 bits) */

/**
 * Write an 8-byte record header. Reserved byte is zero; version is 1.
 * @param out receives exactly FCGIC_HEADER_LEN bytes.
 */
FCGIC_API void fcgic_record_header_encode(uint8_t *out, enum fcgic_type type, uint16_t request_id,
                                          uint16_t content_length, uint8_t padding_length);

/**
 * Encode one name-value length prefix in the minimal form: 1 byte for
 * lengths below 128, else 4 bytes with the high bit set.
 * @param out receives 1 or 4 bytes.
 * @return bytes written, or 0 when len exceeds FCGIC_MAX_NV_LEN.
 */
FCGIC_API size_t fcgic_nv_length_encode(uint8_t *out, size_t len);

/* ------------------------------------------------------------------------ */
/* Encoder                                                                  */
/* ------------------------------------------------------------------------ */

/** An output queue of encoded records. Opaque. */
struct fcgic_encoder;

/**
 * Create an encoder.
 * @param out receives the encoder.
 * @param mem allocator hooks (copied), or NULL for libc.
 * @return 0, FCGIC_E_INVAL (out is NULL) or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_encoder_new(struct fcgic_encoder **out, const struct fcgic_mem *mem);

/** Free an encoder and everything it queued. NULL is a no-op. */
FCGIC_API void fcgic_encoder_free(struct fcgic_encoder *e);

/** Drop everything queued; keeps memory for reuse. */
FCGIC_API void fcgic_encoder_reset(struct fcgic_encoder *e);

/**
 * Queue a BEGIN_REQUEST record.
 * @return 0, FCGIC_E_INVAL (request_id 0), FCGIC_E_BAD_ROLE or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_encoder_begin_request(struct fcgic_encoder *e, uint16_t request_id,
                                          enum fcgic_role role, uint8_t flags);

/**
 * Queue an ABORT_REQUEST record.
 * @return 0, FCGIC_E_INVAL (request_id 0) or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_encoder_abort_request(struct fcgic_encoder *e, uint16_t request_id);

/**
 * Queue an END_REQUEST record (application side; used by test peers).
 * @return 0, FCGIC_E_INVAL (request_id 0) or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_encoder_end_request(struct fcgic_encoder *e, uint16_t request_id,
                                        uint32_t app_status, enum fcgic_protocol_status status);

/**
 * Queue name-value pairs as PARAMS records of request_id (without the
 * terminating empty PARAMS record: queue it with fcgic_encoder_stream(e,
 * FCGIC_TYPE_PARAMS, id, NULL, 0)).
 *
 * Pairs are copied into the encoder, so `params` and the bytes they point at
 * are borrowed only during the call. Pairs are packed into records of up to
 * 65535 content bytes and never straddle two records unless a single pair is
 * larger than one record, in which case it is split across records as the
 * specification allows (some applications, PHP-FPM among them, parse each
 * record on its own, so pairs are kept whole whenever they fit). Lengths use
 * the minimal encoding. Nothing is dropped or truncated.
 *
 * The same function encodes GET_VALUES and GET_VALUES_RESULT bodies when
 * type is FCGIC_TYPE_GET_VALUES / FCGIC_TYPE_GET_VALUES_RESULT and
 * request_id is 0; those must fit one record.
 *
 * @return 0; FCGIC_E_INVAL (bad type/id, NULL pointer with non-zero length);
 *         FCGIC_E_NV_TOO_LONG (a name or value over FCGIC_MAX_NV_LEN);
 *         FCGIC_E_BAD_LENGTH (a management record body over 65535 bytes);
 *         FCGIC_E_NOMEM. On error nothing is queued.
 */
FCGIC_API int fcgic_encoder_pairs(struct fcgic_encoder *e, enum fcgic_type type, uint16_t request_id,
                                  const struct fcgic_param *params, size_t n);

/**
 * Queue stream content (STDIN, DATA, and for test peers STDOUT / STDERR) as
 * records of at most 65535 bytes. The bytes are referenced, not copied: they
 * must stay valid and unchanged until fcgic_encoder_consume() has reported
 * them written (fcgic_encoder_pending() drops below their end) or the encoder
 * is reset or freed. len 0 queues the empty record that ends the stream.
 * @return 0, FCGIC_E_INVAL (bad type, request_id 0, NULL data with len > 0)
 *         or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_encoder_stream(struct fcgic_encoder *e, enum fcgic_type type, uint16_t request_id,
                                   const void *data, size_t len);

/**
 * Queue an UNKNOWN_TYPE management record naming `type`.
 * @return 0 or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_encoder_unknown_type(struct fcgic_encoder *e, uint8_t type);

/**
 * Describe the queued bytes as an I/O vector, oldest first.
 * @param iov receives up to max entries. They point into the encoder and
 *        into callers' stream bytes. The encoder's bytes never move: they
 *        stay valid, whatever is queued meanwhile, until
 *        fcgic_encoder_consume() covers them or fcgic_encoder_reset() /
 *        fcgic_encoder_free() is called, so an asynchronous writer may keep
 *        the entries without copying. Callers' bytes live as long as their
 *        owner keeps them.
 * @return the number of entries filled (0 when nothing is queued).
 */
FCGIC_API size_t fcgic_encoder_iov(const struct fcgic_encoder *e, struct fcgic_iov *iov, size_t max);

/** Bytes queued and not yet consumed. */
FCGIC_API size_t fcgic_encoder_pending(const struct fcgic_encoder *e);

/**
 * Acknowledge that the first n queued bytes were written.
 * @return 0 or FCGIC_E_RANGE (n > fcgic_encoder_pending()).
 */
FCGIC_API int fcgic_encoder_consume(struct fcgic_encoder *e, size_t n);

/* ------------------------------------------------------------------------ */
/* Record decoder                                                           */
/* ------------------------------------------------------------------------ */

/** What fcgic_decoder_next() found. */
enum fcgic_decoder_event_kind {
    /** A record header of a stream or management type (PARAMS, STDIN, STDOUT,
     *  STDERR, DATA, GET_VALUES, GET_VALUES_RESULT). content_length 0 is the
     *  end of a stream. DATA events and then one RECORD_END follow. */
    FCGIC_DEC_HEADER = 1,
    /** A span of the current record's content. */
    FCGIC_DEC_DATA,
    /** The current stream/management record is complete (padding skipped). */
    FCGIC_DEC_RECORD_END,
    /** A whole BEGIN_REQUEST record: role, flags. */
    FCGIC_DEC_BEGIN_REQUEST,
    /** A whole ABORT_REQUEST record. */
    FCGIC_DEC_ABORT_REQUEST,
    /** A whole END_REQUEST record: app_status, protocol_status. */
    FCGIC_DEC_END_REQUEST,
    /** A whole UNKNOWN_TYPE record: unknown_type. */
    FCGIC_DEC_UNKNOWN_TYPE
};

/** One decoder event. Fields not listed for a kind are zero. */
struct fcgic_decoder_event {
    enum fcgic_decoder_event_kind kind;
    uint8_t type;            /**< record type */
    uint16_t request_id;
    uint16_t content_length; /**< HEADER: the record's contentLength */
    uint8_t padding_length;  /**< HEADER: the record's paddingLength */
    /** DATA: bytes inside the buffer passed to fcgic_decoder_next(); valid as
     *  long as that buffer is. */
    const uint8_t *data;
    size_t len;
    uint32_t app_status;     /**< END_REQUEST */
    uint8_t protocol_status; /**< END_REQUEST */
    uint16_t role;           /**< BEGIN_REQUEST */
    uint8_t flags;           /**< BEGIN_REQUEST */
    uint8_t unknown_type;    /**< UNKNOWN_TYPE */
};

/** A streaming record decoder. Opaque. */
struct fcgic_decoder;

/**
 * Create a decoder.
 * @return 0, FCGIC_E_INVAL or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_decoder_new(struct fcgic_decoder **out, const struct fcgic_mem *mem);

/** Free a decoder. NULL is a no-op. */
FCGIC_API void fcgic_decoder_free(struct fcgic_decoder *d);

/** Forget any partial record and any sticky error. */
FCGIC_API void fcgic_decoder_reset(struct fcgic_decoder *d);

/**
 * Decode the next event from buf.
 *
 * Checks, each with its own error: version 1 (FCGIC_E_BAD_VERSION), a known
 * type (FCGIC_E_BAD_TYPE), request id 0 on an application record
 * (FCGIC_E_ZERO_ID), a non-zero id on a management record (FCGIC_E_MGMT_ID),
 * contentLength at least 8 for BEGIN_REQUEST / END_REQUEST / UNKNOWN_TYPE
 * (bytes past the 8 are skipped like padding) and 0 for ABORT_REQUEST
 * (FCGIC_E_BAD_LENGTH). Errors are sticky until reset.
 *
 * @param buf input; may be split anywhere, including inside a header.
 * @param consumed receives how many bytes of buf were used (also on error).
 * @param ev receives the event when 1 is returned.
 * @return 1 an event was produced; 0 buf was used up without completing an
 *         event (feed more); or a negative error.
 */
FCGIC_API int fcgic_decoder_next(struct fcgic_decoder *d, const uint8_t *buf, size_t len,
                                 size_t *consumed, struct fcgic_decoder_event *ev);

/**
 * Tell whether the decoder stands between records (for end-of-stream checks).
 * @return 1 between records, 0 inside one.
 */
FCGIC_API int fcgic_decoder_idle(const struct fcgic_decoder *d);

/* ------------------------------------------------------------------------ */
/* Name-value pair decoder                                                  */
/* ------------------------------------------------------------------------ */

/** A streaming decoder of name-value pairs (PARAMS, GET_VALUES bodies). */
struct fcgic_nv_decoder;

/**
 * Create a name-value decoder.
 * @param max_pair largest name length + value length accepted
 *        (FCGIC_E_NV_TOO_LONG beyond it); 0 means FCGIC_MAX_NV_LEN.
 * @return 0, FCGIC_E_INVAL or FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_nv_decoder_new(struct fcgic_nv_decoder **out, size_t max_pair, const struct fcgic_mem *mem);

/** Free a name-value decoder. NULL is a no-op. */
FCGIC_API void fcgic_nv_decoder_free(struct fcgic_nv_decoder *d);

/** Forget any partial pair and sticky error. */
FCGIC_API void fcgic_nv_decoder_reset(struct fcgic_nv_decoder *d);

/**
 * Decode the next pair.
 * @param consumed receives the bytes of buf used.
 * @param out receives the pair when 1 is returned. Its pointers point into
 *        buf when the whole pair was inside it, else into the decoder; either
 *        way they stay valid until the next call on this decoder (and, for
 *        buf, as long as buf does).
 * @return 1 a pair; 0 need more input; FCGIC_E_NV_TOO_LONG or FCGIC_E_NOMEM
 *         (sticky).
 */
FCGIC_API int fcgic_nv_decoder_next(struct fcgic_nv_decoder *d, const uint8_t *buf, size_t len,
                                    size_t *consumed, struct fcgic_param *out);

/**
 * Declare the end of the pair stream.
 * @return 0 when it ended on a pair boundary, FCGIC_E_NV_OVERRUN when a pair
 *         was cut short.
 */
FCGIC_API int fcgic_nv_decoder_finish(struct fcgic_nv_decoder *d);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_RECORD_H */

/**
 * @file error.h
 * @brief Error codes of libfcgiclient and their messages.
 *
 * Every function that can fail returns 0 or a negative `enum fcgic_error`.
 * The numbers are stable across releases: a code is never renumbered or
 * reused. FastCGI's own protocolStatus and appStatus are not errors; they are
 * results delivered to callbacks.
 */
#ifndef FCGICLIENT_ERROR_H
#define FCGICLIENT_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The error table: X(NAME, number, message). One line per code; the enum and
 * fcgic_strerror() are both generated from it.
 */
#define FCGIC_ERROR_TABLE(X)                                                                   \
    /* general: -1 .. -19 */                                                                   \
    X(NOMEM, -1, "out of memory")                                                              \
    X(INVAL, -2, "invalid argument")                                                           \
    X(STATE, -3, "operation not allowed in the object's current state")                        \
    X(REENTRANT, -4, "object called from inside its own callback in a way that is not allowed") \
    X(RANGE, -5, "value out of range")                                                         \
    X(CLOSED, -6, "connection is closed")                                                      \
    X(NOTSUP, -7, "not supported")                                                             \
    X(BUSY, -8, "no capacity for another request")                                             \
    X(NOT_FOUND, -9, "not found")                                                              \
    X(INTERNAL, -10, "internal error")                                                         \
    X(CALLBACK, -11, "a callback returned an error")                                           \
    X(NOT_BUILT, -12, "feature not built into this library (disabled when it was configured)") \
    /* FastCGI records and name-value pairs: -20 .. -49 */                                     \
    X(BAD_VERSION, -20, "record version is not 1")                                             \
    X(BAD_TYPE, -21, "record type is unknown or not expected from this peer")                  \
    X(ZERO_ID, -22, "application record with request id 0")                                    \
    X(MGMT_ID, -23, "management record with a non-zero request id")                            \
    X(BAD_LENGTH, -24, "record content length is wrong for its type")                          \
    X(UNKNOWN_ID, -25, "record for a request id that is not active")                           \
    X(AFTER_END, -26, "record for a request after its END_REQUEST")                           \
    X(NV_OVERRUN, -27, "name-value pair overruns its record or stream")                        \
    X(NV_TOO_LONG, -28, "name or value longer than 2^31-1 bytes or than the configured cap")  \
    X(PARAMS_TOO_BIG, -29, "PARAMS exceed the configured size cap")                            \
    X(HEADERS_TOO_BIG, -30, "CGI response header block exceeds the configured cap")            \
    X(STDERR_TOO_BIG, -31, "STDERR output exceeds the configured cap")                         \
    X(TRUNCATED, -32, "peer closed the connection in the middle of a record or response")     \
    X(PEER_UNKNOWN_TYPE, -33, "peer answered UNKNOWN_TYPE to a record we sent")                \
    X(BAD_ROLE, -34, "role is not RESPONDER, AUTHORIZER or FILTER")                            \
    X(UNSOLICITED, -35, "management record that answers nothing we asked")                     \
    X(AFTER_STREAM_END, -36, "record for a stream after the end of that stream")               \
    /* CGI response (RFC 3875 section 6): -50 .. -69 */                                        \
    X(CGI_BAD_HEADER, -50, "malformed CGI response header line")                               \
    X(CGI_BAD_STATUS, -51, "malformed CGI Status header")                                      \
    X(CGI_NO_HEADERS, -52, "response ended before the end of the CGI header block")            \
    /* connection engine: -70 .. -89 */                                                        \
    X(TIMEOUT_CONNECT, -70, "timed out connecting to the application")                         \
    X(TIMEOUT_FIRST_BYTE, -71, "timed out waiting for the first response byte")                \
    X(TIMEOUT_IDLE, -72, "timed out waiting between response bytes")                           \
    X(TIMEOUT_TOTAL, -73, "request exceeded its total time limit")                             \
    X(PEER_CLOSED, -74, "application closed the connection before END_REQUEST")               \
    X(ABORTED, -75, "request was aborted")                                                     \
    X(BODY_SOURCE, -76, "request body provider failed")                                        \
    X(CONN_FAILED, -77, "connection failed earlier; its requests cannot complete")             \
    /* POSIX transport and addresses: -90 .. -109 */                                           \
    X(BAD_ADDRESS, -90, "malformed backend address")                                           \
    X(RESOLVE, -91, "backend host name could not be resolved")                                 \
    X(CONNECT, -92, "connection to the application failed")                                    \
    X(IO, -93, "socket read or write failed")                                                  \
    X(TIMEOUT, -94, "operation timed out")                                                     \
    X(SOCKET, -95, "could not create a socket (descriptor limit or unsupported family)")       \
    /* CGI environment builder: -110 .. -139 */                                                \
    X(ENV_PATH_CTL, -110, "decoded path contains NUL, CR or LF")                               \
    X(ENV_BAD_URI, -111, "malformed request target")                                           \
    X(ENV_ENCODED_SLASH, -112, "encoded slash (%2F) in path is not allowed")                   \
    X(ENV_TOO_BIG, -113, "environment exceeds the configured size cap")                        \
    X(ENV_BAD_PATTERN, -114, "invalid mapping pattern")                                        \
    X(ENV_NO_FILE, -115, "no file found for handler mapping")                                  \
    X(ENV_BAD_HEADER, -116, "request header value is not allowed")                             \
    X(ENV_BAD_TARGET, -117, "malformed backend target (fcgi://host:port/path)")                \
    X(ENV_HEADERS_TOO_BIG, -118, "request headers make the environment exceed its size cap")   \
    /* expression engine: -140 .. -169 */                                                      \
    X(EXPR_SYNTAX, -140, "expression syntax error")                                            \
    X(EXPR_UNKNOWN_VAR, -141, "unknown variable in expression")                                \
    X(EXPR_UNKNOWN_FUNC, -142, "unknown function or operator in expression")                   \
    X(EXPR_REGEX, -143, "invalid regular expression")                                          \
    X(EXPR_TOO_DEEP, -144, "expression nested too deeply")                                     \
    X(EXPR_TOO_LONG, -145, "expression or value too long")                                     \
    X(EXPR_EVAL, -146, "expression evaluation failed")                                         \
    X(EXPR_MATCH_LIMIT, -147, "regular expression match limit reached")                        \
    X(EXPR_CONFIG, -148, "invalid override rule")                                              \
    X(EXPR_BAD_ARG, -149, "invalid constant argument to an expression operator")               \
    /* pool and balancer: -170 .. -199 */                                                      \
    X(POOL_QUEUE_FULL, -170, "connection pool queue is full")                                  \
    X(POOL_TIMEOUT, -171, "timed out waiting for a pooled connection")                         \
    X(POOL_CLOSED, -172, "pool is shutting down")                                              \
    X(BAL_ALL_DOWN, -180, "all balancer members are unavailable")                              \
    X(BAL_NO_MEMBER, -181, "no such balancer member")                                          \
    X(BAL_HC_STATUS, -182, "health check answer was not healthy (protocol, app or HTTP status)")

/** Error codes. 0 is success; every error is negative. */
enum fcgic_error {
    FCGIC_OK = 0,
#define FCGIC_X_ENUM(name, num, msg) FCGIC_E_##name = (num),
    FCGIC_ERROR_TABLE(FCGIC_X_ENUM)
#undef FCGIC_X_ENUM
    FCGIC_E__UNUSED = -9999
};

/**
 * Describe an error code.
 * @param err 0, a negative `enum fcgic_error`, or any other int.
 * @return a static NUL-terminated message; never NULL ("unknown error" for
 *         values not in the table).
 */
FCGIC_API const char *fcgic_strerror(int err);

/**
 * The symbolic name of an error code, e.g. "FCGIC_E_TIMEOUT_IDLE".
 * @return a static string; "FCGIC_OK" for 0, "FCGIC_E_UNKNOWN" for values not in
 *         the table; never NULL.
 */
FCGIC_API const char *fcgic_strerror_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_ERROR_H */

/**
 * @file env.h
 * @brief CGI/1.1 environment builder that reproduces what Apache httpd 2.4
 *        mod_proxy_fcgi sends as FastCGI params.
 *
 * Three pieces:
 *  - `struct fcgic_env`, an ordered list of name-value params with, for each
 *    param, where it came from (for "explain" output). Builders, the
 *    ProxyFCGISetEnvIf engine and callers fill and edit it.
 *  - `struct fcgic_env_map`, a mapping compiled once at configuration time:
 *    a ProxyPass prefix, a ProxyPassMatch regex or a SetHandler-style handler,
 *    with its backend target, PATH_INFO strategy, backend profile and the
 *    virtual-host values (server name, document root, ...).
 *  - fcgic_env_build(), which turns one HTTP request plus one mapping into the
 *    params, in Apache's order, reusing the memory of the `fcgic_env`.
 *
 * Names are compared ASCII case-insensitively, as Apache's environment
 * table does; the spelling of the first insertion is kept. Lookups go
 * through a hash keyed per list (getrandom(2) when it answers at once,
 * mixed with addresses), so names a client chooses cannot be made to
 * collide, and a repeated header is merged in time linear in its size.
 *
 * Nothing here does I/O except fcgic_env_stat_posix(), the ready-made
 * filesystem callback, and only when the embedder passes it.
 */
#ifndef FCGICLIENT_ENV_H
#define FCGICLIENT_ENV_H

#include "common.h"
#include "error.h"
#include "expr.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Who set a param; reported by fcgic_env_explain(). */
enum fcgic_env_origin {
    FCGIC_ENV_ORIGIN_RAW = 0,  /**< set by the caller with fcgic_env_set() */
    FCGIC_ENV_ORIGIN_SETENV,   /**< configuration variables (SetEnv, SetEnvIf results) */
    FCGIC_ENV_ORIGIN_HEADER,   /**< an HTTP request header (HTTP_*, CONTENT_TYPE, CONTENT_LENGTH) */
    FCGIC_ENV_ORIGIN_REQUEST,  /**< method, request target, query, protocol */
    FCGIC_ENV_ORIGIN_SERVER,   /**< server / client addresses, names, software, document root */
    FCGIC_ENV_ORIGIN_MAPPING,  /**< the mapping: SCRIPT_FILENAME, SCRIPT_NAME, handler PATH_INFO */
    FCGIC_ENV_ORIGIN_PATHINFO, /**< the PATH_INFO strategy (proxy-fcgi-pathinfo) */
    FCGIC_ENV_ORIGIN_PROFILE,  /**< the backend profile (GENERIC strips proxy:fcgi://) */
    FCGIC_ENV_ORIGIN_OVERRIDE  /**< a ProxyFCGISetEnvIf rule */
};

/**
 * Stable lowercase name of an origin: "raw", "setenv", "header", "request",
 * "server", "mapping", "pathinfo", "profile", "override".
 * @return a static string; "unknown" for values outside the enum; never NULL.
 */
FCGIC_API const char *fcgic_env_origin_name(enum fcgic_env_origin origin);

/** An ordered list of params (opaque). One thread at a time. */
struct fcgic_env;

/** Default cap on the encoded size of all params (names, values, length bytes). */
#define FCGIC_ENV_DEFAULT_MAX_SIZE (256u * 1024u)

/**
 * Create an empty param list.
 * @param out receives the new list; untouched on error.
 * @param mem allocator hooks (copied) or NULL for the C library.
 * @return 0, FCGIC_E_INVAL (out NULL), FCGIC_E_NOMEM.
 */
FCGIC_API int fcgic_env_new(struct fcgic_env **out, const struct fcgic_mem *mem);

/** Free a list and everything it owns. NULL is a no-op. */
FCGIC_API void fcgic_env_free(struct fcgic_env *env);

/** Remove every param but keep the memory for the next request. */
FCGIC_API void fcgic_env_clear(struct fcgic_env *env);

/**
 * Set the cap on the encoded size of the whole list (each pair counts its
 * name and value plus 1 or 4 length bytes each, as FastCGI encodes them).
 * @param max_size bytes, 1 .. 2^31-1 (larger values are clamped). The default
 *        is FCGIC_ENV_DEFAULT_MAX_SIZE. Params already present are not checked.
 * @return 0 or FCGIC_E_INVAL (env NULL or max_size 0).
 */
FCGIC_API int fcgic_env_set_max_size(struct fcgic_env *env, size_t max_size);

/** Encoded size of the current list, as counted against the cap. */
FCGIC_API size_t fcgic_env_size(const struct fcgic_env *env);

/** Number of params. 0 for NULL. */
FCGIC_API size_t fcgic_env_count(const struct fcgic_env *env);

/**
 * The params in send order: fcgic_env_count() elements. Every name and value
 * is owned by the list (or is a static string). The array and the bytes stay
 * valid until the next modification (set, unset, clear, build) or free.
 * @return NULL when the list is empty.
 */
FCGIC_API const struct fcgic_param *fcgic_env_params(const struct fcgic_env *env);

/**
 * Look a param up by name (ASCII case-insensitive).
 * @param value receives the value (may be NULL); valid until the next
 *        modification of the list.
 * @return 0 or FCGIC_E_NOT_FOUND (also for a NULL env or name).
 */
FCGIC_API int fcgic_env_get(const struct fcgic_env *env, const char *name, size_t name_len,
                            struct fcgic_span *value);

/**
 * Set a param. An existing one (same name, ASCII case-insensitive) keeps its
 * position and spelling and takes the new value, origin and rule; a new one is
 * appended. Name, value and rule are copied.
 * @param value may be NULL when value_len is 0.
 * @param origin recorded for fcgic_env_explain().
 * @param rule short human description of what set it, e.g. the
 *        ProxyFCGISetEnvIf line; NUL-terminated; may be NULL.
 * @return 0; FCGIC_E_INVAL (NULL env, empty or NULL name, NULL value with a
 *         length); FCGIC_E_ENV_TOO_BIG (the list would exceed its cap; the
 *         list is unchanged); FCGIC_E_NOMEM (the list is unchanged).
 */
FCGIC_API int fcgic_env_set(struct fcgic_env *env, const char *name, size_t name_len,
                            const char *value, size_t value_len, enum fcgic_env_origin origin,
                            const char *rule);

/**
 * Remove a param; the following ones move up by one. Removing a name that is
 * not there is a no-op that returns 0 (like ProxyFCGISetEnvIf's `!VAR`).
 * @return 0 or FCGIC_E_INVAL (NULL env or name).
 */
FCGIC_API int fcgic_env_unset(struct fcgic_env *env, const char *name, size_t name_len);

/**
 * Why param number i is there.
 * @param origin receives its origin (may be NULL).
 * @param rule receives a NUL-terminated description (may be NULL), never NULL
 *        itself (an empty string when none was given); valid until the next
 *        modification of the list.
 * @return 0 or FCGIC_E_RANGE (i >= count) or FCGIC_E_INVAL (NULL env).
 */
FCGIC_API int fcgic_env_explain(const struct fcgic_env *env, size_t i,
                                enum fcgic_env_origin *origin, const char **rule);

/* ------------------------------------------------------------------------ */
/* Backend target strings                                                    */

/**
 * The parts of a backend target as users write them in Apache:
 * `fcgi://host:port/path`, `fcgi://[::1]:9000/x`,
 * `unix:/run/php/php-fpm.sock|fcgi://localhost/var/www/x`, each optionally
 * preceded by `proxy:` (the SetHandler form). All spans point into the input.
 */
struct fcgic_env_target {
    struct fcgic_span unix_path; /**< socket path after `unix:`, empty for TCP */
    struct fcgic_span host;      /**< host as written, IPv6 without brackets */
    struct fcgic_span port_str;  /**< port digits as written, empty if absent */
    unsigned port;               /**< port number, 0 if absent */
    int ipv6;                    /**< 1 if the host was a bracketed IPv6 literal */
    struct fcgic_span path;      /**< from the `/` after the authority to the end, empty if none */
    struct fcgic_span fcgi_url;  /**< the `fcgi://...` part (after `unix:...|` and `proxy:`) */
};

/**
 * Split a backend target string. Nothing is decoded or allocated. A bare
 * `unix:/path.sock` is taken as `unix:/path.sock|fcgi://localhost` (then
 * fcgi_url and host point to a static "fcgi://localhost").
 * @param s the target, `len` bytes (need not be NUL-terminated).
 * @param out receives spans into `s`; valid as long as `s` is.
 * @return 0; FCGIC_E_INVAL (NULL argument); FCGIC_E_ENV_BAD_TARGET (not
 *         `fcgi://`, empty host, user info, bad port, bad IPv6 brackets,
 *         empty unix path, control bytes or spaces).
 */
FCGIC_API int fcgic_env_parse_target(const char *s, size_t len, struct fcgic_env_target *out);

/* ------------------------------------------------------------------------ */
/* Mappings                                                                  */

/** How a request reaches the backend. */
enum fcgic_env_map_kind {
    /** `ProxyPass match target`: `match` is a URL-path prefix. */
    FCGIC_ENV_MAP_PREFIX = 0,
    /** `ProxyPassMatch match target`: `match` is a PCRE regex on the decoded
     *  path; `$0`..`$9` in the target are replaced; a target without any
     *  substitution gets the whole path appended, as Apache does. */
    FCGIC_ENV_MAP_REGEX,
    /** `SetHandler proxy:target` on files of the document root: the file and
     *  PATH_INFO come from the filesystem (stat callback). `match`, if not
     *  NULL, is a regex the file's base name must match (`<FilesMatch>`). */
    FCGIC_ENV_MAP_HANDLER
};

/** ProxyFCGIBackendType. */
enum fcgic_env_backend {
    FCGIC_ENV_BACKEND_FPM = 0, /**< keep the `proxy:fcgi://host:port` prefix in SCRIPT_FILENAME */
    FCGIC_ENV_BACKEND_GENERIC  /**< SCRIPT_FILENAME is the plain path */
};

/** PATH_INFO strategy, the values of Apache's `proxy-fcgi-pathinfo`. */
enum fcgic_env_pathinfo {
    FCGIC_ENV_PATHINFO_DEFAULT = 0, /**< in a request: use the mapping's; in a mapping: NONE */
    FCGIC_ENV_PATHINFO_NONE,        /**< unset: no PATH_INFO (handler mode: from the filesystem) */
    FCGIC_ENV_PATHINFO_FIRST_DOT,   /**< `first-dot`: split at the first `/` after the first `.` */
    FCGIC_ENV_PATHINFO_LAST_DOT,    /**< `last-dot`: split at the first `/` after the last `.` */
    FCGIC_ENV_PATHINFO_FULL,        /**< `full`: walk the filesystem (stat callback) */
    FCGIC_ENV_PATHINFO_UNESCAPE,    /**< `unescape`: the whole backend path, unescaped */
    FCGIC_ENV_PATHINFO_WHOLE        /**< any other value: the whole backend path, still escaped */
};

/**
 * Parse a `proxy-fcgi-pathinfo` value as Apache does (case-insensitive
 * `full`, `first-dot`, `last-dot`, `unescape`; anything else is WHOLE; an
 * empty or NULL value is NONE).
 */
FCGIC_API enum fcgic_env_pathinfo fcgic_env_pathinfo_parse(const char *value, size_t len);

/** AllowEncodedSlashes. */
enum fcgic_env_encoded_slashes {
    FCGIC_ENV_SLASHES_REJECT = 0, /**< `Off` (default): %2F in the path fails (Apache: 404) */
    FCGIC_ENV_SLASHES_DECODE,     /**< `On`: %2F is decoded like any escape; the `.` and `..`
                                       segments that makes are then removed, as Apache does
                                       ("/a/..%2Fb" is "/b"; above the root: FCGIC_E_ENV_BAD_URI) */
    FCGIC_ENV_SLASHES_NODECODE    /**< `NoDecode`: %2F is accepted and stays encoded ("..%2F.."
                                       is one segment, not a climb) */
};

/** What a path is, as reported by the stat callback. */
enum fcgic_env_file_type {
    FCGIC_ENV_FILE_NONE = 0,  /**< does not exist (or cannot be reached) */
    FCGIC_ENV_FILE_REGULAR,   /**< a regular file */
    FCGIC_ENV_FILE_DIRECTORY, /**< a directory */
    FCGIC_ENV_FILE_OTHER      /**< anything else */
};

/** Mapping flags. */
#define FCGIC_ENV_PASS_AUTH 0x1u      /**< CGIPassAuth On: pass Authorization and Proxy-Authorization */
#define FCGIC_ENV_ALLOW_PATH_CTL 0x2u /**< accept decoded CR/LF in SCRIPT_NAME / PATH_INFO (Apache does) */
#define FCGIC_ENV_REQUIRE_FILE 0x4u   /**< handler mode: a missing file fails (`<If "-f ...">`) */
#define FCGIC_ENV_NO_JIT 0x8u         /**< never JIT-compile the mapping's regex (valgrind cannot follow JIT code) */

/**
 * Configuration of one mapping and of the virtual host it belongs to. Plain
 * value: zero-initialise it, fill what you need; every string is copied by
 * fcgic_env_map_new().
 */
struct fcgic_env_map_config {
    /** 0 or FCGIC_ENV_MAP_CONFIG_VERSION (see "Structs that grow" in common.h). */
    unsigned version;
    enum fcgic_env_map_kind kind;
    /** PREFIX: URL-path prefix; REGEX: the pattern; HANDLER: base-name regex or NULL.
     *  Regexes are PCRE2, JIT-compiled when PCRE2 has a JIT, and every match
     *  runs under the expression engine's default limits (match 100000,
     *  depth 2000, heap 1024 KiB), so that no request target makes a pattern
     *  backtrack for long: a match that hits them fails the build with
     *  FCGIC_E_EXPR_MATCH_LIMIT. */
    const char *match;
    /** Backend target, see fcgic_env_parse_target(). HANDLER: usually without a path.
     *  REGEX: `$0`..`$9` are replaced by the captures. No `..` segment. */
    const char *target;
    enum fcgic_env_backend backend;
    enum fcgic_env_pathinfo pathinfo;
    enum fcgic_env_encoded_slashes encoded_slashes;
    /** FCGIC_ENV_PASS_AUTH | FCGIC_ENV_ALLOW_PATH_CTL | FCGIC_ENV_REQUIRE_FILE | FCGIC_ENV_NO_JIT */
    unsigned flags;

    /* Virtual host. NULL means: see each field. */
    const char *server_name;   /**< ServerName host, used when the request has no Host; NULL = "localhost" */
    unsigned server_port;      /**< port of ServerName, 0 = none (then 80 / 443) */
    const char *server_admin;  /**< SERVER_ADMIN; NULL = "" */
    const char *document_root; /**< DOCUMENT_ROOT, absolute, no `..` segment; required for HANDLER and
                                    PATH_TRANSLATED */
    const char *context_prefix;        /**< CONTEXT_PREFIX; NULL = "" */
    const char *context_document_root; /**< CONTEXT_DOCUMENT_ROOT; NULL = document_root */
    const char *server_software;  /**< SERVER_SOFTWARE; NULL = "libfcgiclient" */
    const char *server_signature; /**< SERVER_SIGNATURE; NULL = "" */
    const char *path_env;         /**< PATH param; NULL = not sent */
    /** DirectoryIndex names tried in order (handler mode and PATH_TRANSLATED). */
    const char *const *directory_index;
    size_t n_directory_index;

    /**
     * Filesystem lookup, needed by HANDLER mappings, the FULL strategy and
     * DirectoryIndex in PATH_TRANSLATED (skipped when NULL). `path` is
     * NUL-terminated, `len` bytes, valid during the call only. Set `*type`
     * and return 0, or return a negative value to fail the build with
     * FCGIC_E_CALLBACK. fcgic_env_stat_posix() is a ready-made one.
     */
    int (*stat)(void *ud, const char *path, size_t len, enum fcgic_env_file_type *type);
    void *stat_ud;
};

#define FCGIC_ENV_MAP_CONFIG_VERSION 1

/**
 * POSIX stat(2) implementation of the stat callback (`ud` is unused).
 * A path that cannot be stat'ed (ENOENT, ENOTDIR, EACCES, ...) is NONE.
 * @return 0 always.
 */
FCGIC_API int fcgic_env_stat_posix(void *ud, const char *path, size_t len,
                                   enum fcgic_env_file_type *type);

/** A compiled mapping (opaque). Immutable after creation: may be shared by threads. */
struct fcgic_env_map;

/**
 * Compile a mapping.
 * @param out receives the mapping; untouched on error.
 * @param cfg configuration; copied, may be freed after the call.
 * @param mem allocator hooks (copied) or NULL.
 * @return 0; FCGIC_E_INVAL (NULL argument, cfg->version newer than this
 *         library knows, missing match/target, HANDLER or
 *         FULL without stat callback or document_root, relative document_root
 *         or one with a `..` segment, enum out of range);
 *         FCGIC_E_ENV_BAD_PATTERN (regex does not compile; prefix not starting
 *         with `/`); FCGIC_E_ENV_BAD_TARGET (see fcgic_env_parse_target(), or
 *         a `..` segment in the target's path); FCGIC_E_NOMEM;
 *         FCGIC_E_NOT_BUILT (a REGEX mapping or a HANDLER base-name pattern
 *         in a library built without PCRE2, `-Dexpr=disabled`).
 */
FCGIC_API int fcgic_env_map_new(struct fcgic_env_map **out, const struct fcgic_env_map_config *cfg,
                                const struct fcgic_mem *mem);

/** Free a mapping. NULL is a no-op. */
FCGIC_API void fcgic_env_map_free(struct fcgic_env_map *map);

/**
 * One HTTP request, as received. Zero-initialise and fill. Every pointer is
 * borrowed for the duration of fcgic_env_build() only.
 */
struct fcgic_env_request {
    /** 0 or FCGIC_ENV_REQUEST_VERSION (see "Structs that grow" in common.h). */
    unsigned version;
    struct fcgic_span method;   /**< e.g. "GET" */
    struct fcgic_span target;   /**< raw request-target: origin form or absolute form */
    struct fcgic_span protocol; /**< e.g. "HTTP/1.1" */
    /** Headers in request order; names and values as received. */
    const struct fcgic_param *headers;
    size_t n_headers;
    /** SetEnv / SetEnvIf results and the like, sent first, in this order. */
    const struct fcgic_param *vars;
    size_t n_vars;
    struct fcgic_span remote_addr; /**< REMOTE_ADDR, e.g. "127.0.0.1" or "::1" */
    unsigned remote_port;          /**< REMOTE_PORT */
    struct fcgic_span server_addr; /**< SERVER_ADDR */
    int https;                     /**< nonzero: REQUEST_SCHEME=https, HTTPS=on, default port 443 */
    enum fcgic_env_pathinfo pathinfo; /**< per-request strategy; DEFAULT = the mapping's */
    /** Nonzero when the whole (de-chunked) body length is known: the first
     *  Transfer-Encoding header is then replaced, in place, by
     *  CONTENT_LENGTH=body_length (Apache does so for bodies < 16 KiB), and
     *  later ones are dropped. Whenever a Transfer-Encoding header is
     *  present, Content-Length headers are dropped (RFC 9112 section 6.3);
     *  without this flag such a request then has no CONTENT_LENGTH. */
    int has_body_length;
    unsigned long long body_length;
    struct fcgic_span remote_user; /**< REMOTE_USER if authenticated (empty = not sent) */
    struct fcgic_span auth_type;   /**< AUTH_TYPE (empty = not sent) */
};

#define FCGIC_ENV_REQUEST_VERSION 1

/**
 * Build the params of one request into `env` (cleared first; its memory is
 * reused). Order: request vars, HTTPS, headers, then PATH, SERVER_SIGNATURE,
 * SERVER_SOFTWARE, SERVER_NAME, SERVER_ADDR, SERVER_PORT, REMOTE_ADDR,
 * DOCUMENT_ROOT, REQUEST_SCHEME, CONTEXT_PREFIX, CONTEXT_DOCUMENT_ROOT,
 * SERVER_ADMIN, SCRIPT_FILENAME, REMOTE_PORT, [REMOTE_USER, AUTH_TYPE,]
 * GATEWAY_INTERFACE, SERVER_PROTOCOL, REQUEST_METHOD, QUERY_STRING,
 * REQUEST_URI, SCRIPT_NAME[, PATH_INFO, PATH_TRANSLATED] — Apache's order.
 * Override rules (ProxyFCGISetEnvIf) are applied afterwards by the caller.
 *
 * No SCRIPT_NAME, SCRIPT_FILENAME, PATH_INFO or PATH_TRANSLATED it emits has
 * a `..` segment or leaves its mapping (the target's path, DOCUMENT_ROOT),
 * whatever the mapping kind, PATH_INFO strategy and AllowEncodedSlashes
 * value: a request that would make one fails with FCGIC_E_ENV_BAD_URI. A
 * backslash is an ordinary byte, as in Apache on Unix.
 *
 * CONTENT_LENGTH, when sent, is one decimal number: from Content-Length
 * headers when there is no Transfer-Encoding (a list or repeated headers of
 * the same number count once, "042, 42" is sent as 42), else from
 * body_length (see struct fcgic_env_request).
 *
 * @return 0;
 *  FCGIC_E_NOT_FOUND: the mapping does not apply (prefix/regex does not
 *    match, handler base name does not match, directory without index);
 *  FCGIC_E_ENV_BAD_URI: malformed target, bad escape, `..` above the root,
 *    also after AllowEncodedSlashes On decoded %2F (Apache: 400), or a
 *    ProxyPassMatch capture that puts a `..` segment into the backend path
 *    ("^/a(.*)$" and "/a../x");
 *  FCGIC_E_ENV_ENCODED_SLASH: %2F with FCGIC_ENV_SLASHES_REJECT (Apache: 404);
 *  FCGIC_E_ENV_PATH_CTL: decoded NUL anywhere in the path, or CR/LF in
 *    SCRIPT_NAME / PATH_INFO / PATH_TRANSLATED without FCGIC_ENV_ALLOW_PATH_CTL;
 *  FCGIC_E_ENV_BAD_HEADER: CR, LF or NUL in a header value, malformed Host,
 *    a Content-Length (without Transfer-Encoding) that is not a decimal
 *    number up to 2^63-1, or Content-Lengths that differ (Apache: 400);
 *  FCGIC_E_ENV_NO_FILE: handler mapping with FCGIC_ENV_REQUIRE_FILE and no file;
 *  FCGIC_E_ENV_HEADERS_TOO_BIG: over the size cap because of the request
 *    headers (a gateway answers 431);
 *  FCGIC_E_ENV_TOO_BIG: over the size cap otherwise (500);
 *  FCGIC_E_EXPR_MATCH_LIMIT: the mapping's regex (ProxyPassMatch pattern or
 *    handler base-name pattern) hit PCRE2's match, depth or heap limit on
 *    this request (a gateway answers 500);
 *  FCGIC_E_CALLBACK: the stat callback failed; FCGIC_E_INVAL (also
 *  req->version newer than this library knows); FCGIC_E_NOMEM.
 *  On error the list is left empty.
 */
FCGIC_API int fcgic_env_build(struct fcgic_env *env, const struct fcgic_env_map *map,
                              const struct fcgic_env_request *req);

/**
 * Describe env as the environment table of the expression engine, so that
 * ProxyFCGISetEnvIf rules (fcgic_setenvif_apply()) and reqenv() read and
 * change it: variables the rules set are recorded with origin
 * FCGIC_ENV_ORIGIN_OVERRIDE and the rule's text for explain.
 * @param env the list; must outlive every use of *out.
 * @param out receives the operations.
 */
FCGIC_API void fcgic_env_expr_env(struct fcgic_env *env, struct fcgic_expr_env *out);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_ENV_H */

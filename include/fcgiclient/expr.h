/**
 * @file expr.h
 * @brief Expression engine compatible with the part of Apache httpd 2.4's
 *        ap_expr used by ProxyFCGISetEnvIf, and the ProxyFCGISetEnvIf
 *        override rules built on it.
 *
 * Compile once at configuration time (fcgic_expr_new(),
 * fcgic_setenvif_add()), evaluate many times, one thread at a time, with an
 * evaluation context (struct fcgic_expr_ctx) that owns every byte of scratch
 * memory. Nothing is allocated while evaluating: the context's buffers are
 * sized once from struct fcgic_expr_limits when it is created, and a value
 * that does not fit is an evaluation error (FCGIC_E_EXPR_TOO_LONG), never a
 * silent truncation. An evaluation error is always returned to the caller; it
 * is never taken as "true" or "false".
 *
 * Values are byte strings with explicit lengths. Request data reaches the
 * engine through two caller-supplied callback tables: struct fcgic_expr_vars
 * (the request: %{HTTP_HOST}, %{HTTP:Header}, note, osenv, file tests) and
 * struct fcgic_expr_env (the CGI environment being built: reqenv(), and the
 * target of ProxyFCGISetEnvIf).
 *
 * The engine needs PCRE2 and can be left out when the library is configured
 * (`-Dexpr=disabled`). In such a library every function here that compiles,
 * creates or evaluates returns FCGIC_E_NOT_BUILT (fcgic_expr_new() and
 * fcgic_setenvif_add() fill `err` with it too), fcgic_expr_var_name() works,
 * and the free functions accept NULL as always.
 */
#ifndef FCGICLIENT_EXPR_H
#define FCGICLIENT_EXPR_H

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Limits                                                                   */
/* ------------------------------------------------------------------------ */

/**
 * Bounds on memory and time. A field left 0 takes the default shown.
 * Initialise with `struct fcgic_expr_limits lim = {0};` and set what you need.
 */
struct fcgic_expr_limits {
    /** 0 or FCGIC_EXPR_LIMITS_VERSION (see "Structs that grow" in common.h). */
    unsigned version;
    /** Longest expression source accepted by compile (default 8192). */
    size_t max_source;
    /** Deepest nesting of the parse tree (parentheses, `!`, `&&`, `||`,
     *  function calls, nested %{..}) (default 32, at most 256). */
    unsigned max_depth;
    /** Evaluation scratch bytes per context: every value computed while
     *  evaluating one expression must fit (default 65536). */
    size_t scratch_size;
    /** Longest subject a capturing regex keeps for $0..$9 (default 16384). */
    size_t max_capture_subject;
    /** PCRE2 match limit (default 100000). */
    uint32_t match_limit;
    /** PCRE2 depth limit (default 2000). */
    uint32_t depth_limit;
    /** PCRE2 heap limit in KiB for the interpreter, and the largest JIT
     *  stack (default 1024). */
    uint32_t heap_limit_kib;
    /** Non-zero: never use PCRE2's JIT (at compile for fcgic_expr_new(), at
     *  match time for a context), e.g. under valgrind, which cannot follow
     *  JIT code. Default 0: JIT when PCRE2 has it. */
    int no_jit;
};

#define FCGIC_EXPR_LIMITS_VERSION 1

/* ------------------------------------------------------------------------ */
/* Compile errors                                                           */
/* ------------------------------------------------------------------------ */

/**
 * What and where a compile error is. Filled by fcgic_expr_new() and
 * fcgic_setenvif_add() when they fail and the caller passed one.
 */
struct fcgic_expr_error {
    /** The returned error code (negative). */
    int code;
    /** Byte offset in the expression source where the problem was found
     *  (for a setenvif argument error: 0). */
    size_t offset;
    /** Which directive argument was at fault for fcgic_setenvif_add():
     *  1 = condition, 2 = variable name, 3 = value; 0 otherwise. */
    int arg;
    /** Apache-compatible message, e.g.
     *  `syntax error, unexpected $end` or `Unterminated string or variable`;
     *  for fcgic_setenvif_add() the full directive message, e.g.
     *  `Could not parse expression "%{HTTP_HOST} ==": syntax error, unexpected $end`.
     *  NUL-terminated, truncated to fit. */
    char message[320];
    /** Up to 40 bytes of source text starting at `offset` (NUL-terminated). */
    char near_text[48];
};

/* ------------------------------------------------------------------------ */
/* Request data                                                             */
/* ------------------------------------------------------------------------ */

/** Where a looked-up value comes from. */
enum fcgic_expr_source {
    /** A fixed variable, %{NAME}; `var` is an enum fcgic_expr_var and
     *  `name` its canonical upper-case name. */
    FCGIC_EXPR_SRC_VAR = 0,
    /** A request header (%{HTTP:h}, req(), http(), req_novary()); `name` is
     *  the header name as written (compare case-insensitively). */
    FCGIC_EXPR_SRC_HEADER = 1,
    /** A response header (resp()); answer FCGIC_E_NOT_FOUND if none. */
    FCGIC_EXPR_SRC_RESP_HEADER = 2,
    /** A request note (note(), and the first place env() looks). */
    FCGIC_EXPR_SRC_NOTE = 3,
    /** The process environment (osenv(), and the last place env() looks).
     *  Answer FCGIC_E_NOTSUP (or leave `lookup` NULL) to use getenv(3). */
    FCGIC_EXPR_SRC_OSENV = 4
};

/** The fixed variables of ap_expr (names are matched case-insensitively).
 *  Answer them as Apache's ap_expr does, which is not always the CGI value:
 *  REQUEST_URI is the decoded path without the query (r->uri), HTTP_HOST and
 *  the other HTTP_* names are the request header, THE_REQUEST the request
 *  line, REQUEST_FILENAME the mapped file name. */
enum fcgic_expr_var {
    FCGIC_EXPR_V_REQUEST_METHOD, FCGIC_EXPR_V_REQUEST_SCHEME, FCGIC_EXPR_V_REQUEST_URI,
    FCGIC_EXPR_V_REQUEST_FILENAME, FCGIC_EXPR_V_REMOTE_HOST, FCGIC_EXPR_V_REMOTE_IDENT,
    FCGIC_EXPR_V_REMOTE_USER, FCGIC_EXPR_V_SERVER_ADMIN, FCGIC_EXPR_V_SERVER_NAME,
    FCGIC_EXPR_V_SERVER_PORT, FCGIC_EXPR_V_SERVER_PROTOCOL, FCGIC_EXPR_V_SCRIPT_FILENAME,
    FCGIC_EXPR_V_PATH_INFO, FCGIC_EXPR_V_QUERY_STRING, FCGIC_EXPR_V_IS_SUBREQ,
    FCGIC_EXPR_V_DOCUMENT_ROOT, FCGIC_EXPR_V_AUTH_TYPE, FCGIC_EXPR_V_THE_REQUEST,
    FCGIC_EXPR_V_CONTENT_TYPE, FCGIC_EXPR_V_HANDLER, FCGIC_EXPR_V_REQUEST_LOG_ID,
    FCGIC_EXPR_V_SCRIPT_USER, FCGIC_EXPR_V_SCRIPT_GROUP, FCGIC_EXPR_V_DOCUMENT_URI,
    FCGIC_EXPR_V_LAST_MODIFIED, FCGIC_EXPR_V_CONTEXT_PREFIX,
    FCGIC_EXPR_V_CONTEXT_DOCUMENT_ROOT, FCGIC_EXPR_V_REQUEST_STATUS,
    FCGIC_EXPR_V_REMOTE_ADDR, FCGIC_EXPR_V_REMOTE_PORT,
    /* request headers by CGI name */
    FCGIC_EXPR_V_HTTP_USER_AGENT, FCGIC_EXPR_V_HTTP_PROXY_CONNECTION,
    FCGIC_EXPR_V_HTTP_REFERER, FCGIC_EXPR_V_HTTP_COOKIE, FCGIC_EXPR_V_HTTP_FORWARDED,
    FCGIC_EXPR_V_HTTP_HOST, FCGIC_EXPR_V_HTTP_ACCEPT,
    /* connection */
    FCGIC_EXPR_V_HTTPS, FCGIC_EXPR_V_IPV6, FCGIC_EXPR_V_CONN_LOG_ID,
    FCGIC_EXPR_V_CONN_REMOTE_ADDR, FCGIC_EXPR_V_HTTP2,
    /* misc */
    FCGIC_EXPR_V_TIME_YEAR, FCGIC_EXPR_V_TIME_MON, FCGIC_EXPR_V_TIME_DAY,
    FCGIC_EXPR_V_TIME_HOUR, FCGIC_EXPR_V_TIME_MIN, FCGIC_EXPR_V_TIME_SEC,
    FCGIC_EXPR_V_TIME_WDAY, FCGIC_EXPR_V_TIME, FCGIC_EXPR_V_SERVER_SOFTWARE,
    FCGIC_EXPR_V_API_VERSION,
    FCGIC_EXPR_V__COUNT
};

/**
 * The canonical name of a fixed variable ("REQUEST_URI").
 * @return a static string, or NULL when `var` is out of range.
 */
FCGIC_API const char *fcgic_expr_var_name(int var);

/**
 * Request data callbacks. The engine copies this struct. Every callback may
 * be NULL. A callback must not call back into the evaluation context.
 */
struct fcgic_expr_vars {
    /** 0 or FCGIC_EXPR_VARS_VERSION (see "Structs that grow" in common.h). */
    unsigned version;
    /** Passed back unchanged. */
    void *ud;
    /**
     * Look up one value without allocating.
     * @param src  an enum fcgic_expr_source
     * @param var  for FCGIC_EXPR_SRC_VAR an enum fcgic_expr_var, else -1
     * @param name the variable, header or note name (not NUL-terminated
     *             for headers/notes: use name_len)
     * @param value out: the value; it must stay valid until the evaluation
     *             call that asked for it returns
     * @return 0; FCGIC_E_NOT_FOUND (the value is the empty string, as in
     *         Apache); FCGIC_E_NOTSUP for OSENV to fall back on getenv(3);
     *         any other negative code fails the evaluation with that code.
     * When `lookup` is NULL every value is empty and osenv uses getenv(3).
     */
    int (*lookup)(void *ud, int src, int var, const char *name, size_t name_len,
                  struct fcgic_span *value);
    /**
     * File and URL tests: `op` is the operator letter ('d', 'e', 'f', 's',
     * 'L', 'h', 'x', 'F', 'U', 'A'), `path` the operand (not NUL-terminated).
     * @return 1 true, 0 false, or a negative code that fails the evaluation.
     * When NULL, such an operator fails the evaluation with FCGIC_E_NOTSUP
     * (the library does no I/O itself, and never guesses).
     */
    int (*file_test)(void *ud, char op, const char *path, size_t path_len);
};

#define FCGIC_EXPR_VARS_VERSION 1

/**
 * POSIX implementation of struct fcgic_expr_vars.file_test, for
 * `<If "-f %{REQUEST_FILENAME}">` and the like, as ap_expr answers them:
 * `-d` a directory, `-e` exists, `-f` (and `-F`, without the sub-request
 * Apache makes) a regular file, `-s` a regular file of non-zero size,
 * `-L` and `-h` a symbolic link (lstat(2)), `-x` a file with the owner's
 * execute bit. The path is used as given (relative to the working
 * directory when not absolute); it is copied, so it need not be
 * NUL-terminated, and it is borrowed for the call only. It calls stat(2),
 * which may block on a slow filesystem. `ud` is unused.
 * @return 1 true; 0 false (also for a path that cannot be reached, an empty
 *         path, one with a NUL byte or one longer than PATH_MAX);
 *         FCGIC_E_NOTSUP for `-U` and `-A` (they need a sub-request) and
 *         for an operator letter it does not know.
 */
FCGIC_API int fcgic_expr_file_test_posix(void *ud, char op, const char *path, size_t path_len);

/**
 * The CGI environment being built, as an ops table (the environment module
 * offers functions that adapt to it in a few lines). Copied by the engine.
 */
struct fcgic_expr_env {
    /** 0 or FCGIC_EXPR_ENV_VERSION (see "Structs that grow" in common.h). */
    unsigned version;
    /** Passed back unchanged. */
    void *ud;
    /** Get a variable. `value` must stay valid until the next set/unset.
     *  @return 0, FCGIC_E_NOT_FOUND, or another negative code (fails). */
    int (*get)(void *ud, const char *name, size_t name_len, struct fcgic_span *value);
    /** Set a variable (copy name and value): a new name is appended, an
     *  existing one keeps its position. `rule` is a NUL-terminated text
     *  naming the rule, borrowed for the duration of the call.
     *  @return 0 or a negative code (fails the apply). */
    int (*set)(void *ud, const char *name, size_t name_len, const char *value,
               size_t value_len, const char *rule);
    /** Remove a variable; removing a missing one is not an error.
     *  @return 0 or a negative code (fails the apply). */
    int (*unset)(void *ud, const char *name, size_t name_len);
};

#define FCGIC_EXPR_ENV_VERSION 1

/* ------------------------------------------------------------------------ */
/* Compiled expressions                                                     */
/* ------------------------------------------------------------------------ */

/** A compiled expression. Immutable after compile; may be shared by threads. */
struct fcgic_expr;

/** Compile flag: the source is a string expression (like ap_expr's
 *  AP_EXPR_FLAG_STRING_RESULT: text with %{..} and $N interpolation). The
 *  default is a boolean condition. */
#define FCGIC_EXPR_STRING 0x1u

/**
 * Compile an expression.
 * @param out    receives the expression (set to NULL on failure)
 * @param src    the source bytes (need not be NUL-terminated); copied
 * @param len    length of src
 * @param flags  0 (condition) or FCGIC_EXPR_STRING
 * @param limits NULL for defaults; copied
 * @param err    NULL, or filled with what and where on failure
 * @param mem    allocator hooks (NULL = libc); copied
 * @return 0; FCGIC_E_INVAL (NULL out/src, limits->version newer than this
 *         library knows); FCGIC_E_NOMEM;
 *         FCGIC_E_EXPR_SYNTAX; FCGIC_E_EXPR_UNKNOWN_VAR;
 *         FCGIC_E_EXPR_UNKNOWN_FUNC (function or operator);
 *         FCGIC_E_EXPR_REGEX; FCGIC_E_EXPR_TOO_DEEP; FCGIC_E_EXPR_TOO_LONG;
 *         FCGIC_E_EXPR_BAD_ARG (e.g. -ipmatch with a non-constant or bad subnet);
 *         FCGIC_E_NOT_BUILT (library built without the engine).
 */
FCGIC_API int fcgic_expr_new(struct fcgic_expr **out, const char *src, size_t len,
                             unsigned flags, const struct fcgic_expr_limits *limits,
                             struct fcgic_expr_error *err, const struct fcgic_mem *mem);

/** Free a compiled expression. NULL is a no-op. */
FCGIC_API void fcgic_expr_free(struct fcgic_expr *e);

/** 1 if the expression was compiled with FCGIC_EXPR_STRING, else 0. */
FCGIC_API int fcgic_expr_is_string(const struct fcgic_expr *e);

/* ------------------------------------------------------------------------ */
/* Evaluation context                                                       */
/* ------------------------------------------------------------------------ */

/** Evaluation scratch and regex capture state. One thread at a time. */
struct fcgic_expr_ctx;

/**
 * Create an evaluation context; all of its memory is allocated here.
 * @param out    receives the context
 * @param limits NULL for defaults; copied (scratch_size, max_capture_subject
 *               and the PCRE2 limits are used)
 * @param mem    allocator hooks (NULL = libc); copied
 * @return 0, FCGIC_E_INVAL (also limits->version newer than this library
 *         knows), FCGIC_E_NOMEM or FCGIC_E_NOT_BUILT.
 */
FCGIC_API int fcgic_expr_ctx_new(struct fcgic_expr_ctx **out,
                                 const struct fcgic_expr_limits *limits,
                                 const struct fcgic_mem *mem);

/** Free a context. NULL is a no-op. */
FCGIC_API void fcgic_expr_ctx_free(struct fcgic_expr_ctx *ctx);

/**
 * Start a new request: bind its data sources and forget regex captures.
 * @param vars NULL (no request data; osenv uses getenv) or callbacks; copied
 * @param env  NULL (reqenv() is empty) or environment ops; copied
 * The `ud` pointers must stay valid while the context is used with them.
 */
FCGIC_API void fcgic_expr_ctx_reset(struct fcgic_expr_ctx *ctx,
                                    const struct fcgic_expr_vars *vars,
                                    const struct fcgic_expr_env *env);

/**
 * Evaluate a condition.
 * A successful `=~`/`!~` whose regex has capture groups replaces the
 * context's $0..$9 (a copy of the subject is kept); a failed one clears them,
 * as Apache does. Captures persist across evaluations until the next reset.
 * @param result out: 1 true, 0 false (untouched on error)
 * @return 0; FCGIC_E_INVAL (NULL argument, or a string expression);
 *         FCGIC_E_EXPR_TOO_LONG (scratch or capture subject exhausted);
 *         FCGIC_E_EXPR_MATCH_LIMIT (PCRE2 match, depth or heap limit);
 *         FCGIC_E_EXPR_EVAL (other regex failure); FCGIC_E_NOTSUP (file
 *         test without callback); FCGIC_E_REENTRANT (called from one of the
 *         context's callbacks); or a code returned by a callback.
 */
FCGIC_API int fcgic_expr_eval_bool(const struct fcgic_expr *e, struct fcgic_expr_ctx *ctx,
                                   int *result);

/**
 * Evaluate a string expression (compiled with FCGIC_EXPR_STRING).
 * @param value out: the result; it points into the context's scratch, the
 *              expression or a callback's value, and stays valid until the
 *              next evaluation or reset on this context
 * @return as fcgic_expr_eval_bool(); FCGIC_E_INVAL for a condition.
 */
FCGIC_API int fcgic_expr_eval_string(const struct fcgic_expr *e, struct fcgic_expr_ctx *ctx,
                                     struct fcgic_span *value);

/* ------------------------------------------------------------------------ */
/* ProxyFCGISetEnvIf rules                                                  */
/* ------------------------------------------------------------------------ */

/** An ordered list of ProxyFCGISetEnvIf rules. Immutable once configured. */
struct fcgic_setenvif;

/**
 * Create an empty rule list.
 * @param limits NULL for defaults; copied and used for every rule compiled
 * @return 0, FCGIC_E_INVAL (also limits->version newer than this library
 *         knows), FCGIC_E_NOMEM or FCGIC_E_NOT_BUILT.
 */
FCGIC_API int fcgic_setenvif_new(struct fcgic_setenvif **out,
                                 const struct fcgic_expr_limits *limits,
                                 const struct fcgic_mem *mem);

/** Free a rule list. NULL is a no-op. */
FCGIC_API void fcgic_setenvif_free(struct fcgic_setenvif *s);

/**
 * Append one directive: `ProxyFCGISetEnvIf cond [!]name [value]`.
 * @param nargs  number of directive arguments (2 or 3); argv[i] are the
 *               argument texts after the config-file quoting was removed,
 *               NUL-terminated, copied
 * @param label  NULL, or a short NUL-terminated description of where the
 *               directive came from (e.g. "httpd.conf:49"); copied and used
 *               in the `rule` text given to the env ops set()
 * @param err    NULL or filled on failure, with Apache's messages:
 *               "ProxyFCGISetEnvIf takes two or three arguments, expr-condition env-name expr-value",
 *               "Could not parse expression \"..\": ..",
 *               "Third argument (\"..\") is not allowed when using ProxyFCGISetEnvIf's unset mode (!X)",
 *               "ProxyFCGISetEnvIf: \"!\" is not a valid variable name"
 * @return 0; FCGIC_E_INVAL (NULL pointers); FCGIC_E_NOMEM;
 *         FCGIC_E_EXPR_CONFIG (argument count, name, unset with value);
 *         or a compile error code of fcgic_expr_new() for the condition or
 *         value (FCGIC_E_NOT_BUILT included). On failure the list is unchanged.
 */
FCGIC_API int fcgic_setenvif_add(struct fcgic_setenvif *s, int nargs, const char *const *argv,
                                 const char *label, struct fcgic_expr_error *err);

/** Number of rules in the list. */
FCGIC_API size_t fcgic_setenvif_count(const struct fcgic_setenvif *s);

/**
 * Apply rule lists in order to the environment bound to `ctx` (see
 * fcgic_expr_ctx_reset(); the env ops get/set/unset are required):
 * `lists[0]` first (e.g. server-level rules), then `lists[1]` (per-location),
 * and so on; NULL entries are skipped. Each rule sees the results of the
 * earlier ones; regex captures of a condition stay visible to later rules'
 * values. A rule whose condition is true sets its variable to its value
 * (empty if it has none) or removes it (`!NAME`).
 * The context's captures are cleared first.
 * @param failed_rule NULL, or receives the 0-based index (counted over all
 *               lists) of the rule that failed
 * @return 0, or the first error: evaluation errors of a condition or value
 *         (see fcgic_expr_eval_bool()) and errors returned by the env ops
 *         stop the apply — the environment then holds the changes made by
 *         the earlier rules, and the caller must fail the request.
 */
FCGIC_API int fcgic_setenvif_apply(const struct fcgic_setenvif *const *lists, size_t nlists,
                                   struct fcgic_expr_ctx *ctx, size_t *failed_rule);

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_EXPR_H */

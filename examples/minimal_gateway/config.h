/**
 * @file config.h
 * @brief minimal_gateway's configuration: an Apache-syntax file read into an
 *        immutable, compiled tree.
 *
 * gw_config_load() reads the main file (and what it includes), checks every
 * directive, and compiles what the request path needs: a `struct
 * fcgic_env_map` per mapping, ProxyFCGISetEnvIf and SetEnvIf rule lists,
 * regexes of `<LocationMatch>` / `<FilesMatch>`, worker and balancer
 * parameters as plain values. Pools and balancers are not created here: the
 * proxy layer builds them from `struct gw_worker` and `struct gw_balancer`.
 *
 * The tree is immutable once loaded and counted: a reload loads a new tree
 * and swaps it; each request takes a reference (gw_config_ref()) and drops it
 * when done (gw_config_unref()). Every pointer reachable from
 * gw_config_server() lives as long as the tree, and the library objects in it
 * (maps, rule lists) may be used by several threads at once, as the library
 * allows for compiled objects. The reference count itself is atomic.
 *
 * Syntax (Apache's): one directive per line; a `\` as the last character of a
 * line joins the next one; `#` starts a comment only as the first non-blank
 * character of a line; arguments are separated by blanks, and "double" or
 * 'single' quotes keep blanks, with `\"` (`\'`) and `\\` as escapes inside,
 * as ap_getword_conf() reads them; `<Section args>` ... `</Section>` nest;
 * directive and section names are case-insensitive.
 *
 * Include and IncludeOptional take a glob(3) pattern (or a directory, whose
 * files are read in name order). Apache resolves a relative path against
 * ServerRoot; the gateway has no ServerRoot and resolves it against the
 * directory of the main configuration file. Includes nest at most
 * GW_CONFIG_MAX_INCLUDE_DEPTH deep; a section opened in a file must be closed
 * in that file, as in Apache.
 *
 * Errors name the file and line of the offending directive (the included
 * file's, when it is in one) and say why, with Apache's wording where Apache
 * has one.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <fcgiclient/balancer.h>
#include <fcgiclient/env.h>
#include <fcgiclient/expr.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Include depth limit (the main file is depth 0). */
#define GW_CONFIG_MAX_INCLUDE_DEPTH 16
/** Longest logical line (continuations joined), in bytes. */
#define GW_CONFIG_MAX_LINE 65536

/** What went wrong and where. */
struct gw_config_error {
    /** File of the offending line (the included file when it is in one);
     *  the name given to gw_config_parse_buffer() for a buffer; "" when the
     *  error is not tied to a file (out of memory). */
    char file[512];
    /** 1-based line of the directive (its first physical line when it was
     *  continued), or 0. */
    unsigned line;
    /** Why, e.g. "RewriteRule is not supported: use ProxyPassMatch". */
    char message[640];
};

/* ------------------------------------------------------------------------ */
/* Plain values of the tree                                                 */
/* ------------------------------------------------------------------------ */

/** Where a directive was written. `file` lives as long as the tree. */
struct gw_origin {
    const char *file;
    unsigned line;
};

/** `Listen [addr:]port [http]`. */
struct gw_listen {
    /** Address as written, IPv6 without brackets; NULL for every address
     *  (`Listen 80`, `Listen *:80`). */
    const char *addr;
    unsigned port;
    int ipv6; /**< 1 when addr was a bracketed IPv6 literal */
    struct gw_origin at;
};

/** HTTP limits (core directives of the same names). */
struct gw_limits {
    unsigned request_line;       /**< LimitRequestLine, default 8190 */
    unsigned request_field_size; /**< LimitRequestFieldSize, default 8190 */
    unsigned request_fields;     /**< LimitRequestFields, default 100; 0 = unlimited */
    uint64_t request_body;       /**< LimitRequestBody, default 1073741824 (1 GiB); 0 = unlimited */
    unsigned max_keepalive_requests; /**< MaxKeepAliveRequests, default 100; 0 = unlimited */
};

/** Timeouts, in nanoseconds. */
struct gw_timeouts {
    uint64_t timeout;        /**< Timeout, default 60 s */
    uint64_t proxy_timeout;  /**< ProxyTimeout, default: Timeout's value */
    uint64_t keepalive;      /**< KeepAliveTimeout, default 5 s (`NNNms` accepted) */
};

/** flushpackets= values. */
enum gw_flush {
    GW_FLUSH_OFF = 0,
    GW_FLUSH_ON,
    GW_FLUSH_AUTO
};

/** Bits of gw_worker_params.set: which parameters were written. */
#define GW_WP_REUSE 0x001u
#define GW_WP_MAX 0x002u
#define GW_WP_MIN 0x004u
#define GW_WP_SMAX 0x008u
#define GW_WP_TTL 0x010u
#define GW_WP_TIMEOUT 0x020u
#define GW_WP_CONNECT_TIMEOUT 0x040u
#define GW_WP_RETRY 0x080u
#define GW_WP_FLUSH 0x100u
#define GW_WP_FLUSH_WAIT 0x200u
#define GW_WP_ACQUIRE 0x400u

/**
 * Apache's worker parameters as plain values, ready for struct
 * fcgic_pool_options (and fcgic_member_options.retry_ns). A parameter not
 * written keeps 0 here (the library's defaults apply) and its bit stays
 * clear in `set`.
 */
struct gw_worker_params {
    unsigned set;           /**< GW_WP_* bits */
    int enable_reuse;       /**< enablereuse=On / disablereuse=Off: 1 */
    unsigned max, min, smax;
    uint64_t ttl_ns;
    uint64_t timeout_ns;          /**< timeout= */
    uint64_t connect_timeout_ns;  /**< connectiontimeout= */
    uint64_t retry_ns;            /**< retry= (retry=0: FCGIC_RETRY_IMMEDIATE) */
    uint64_t acquire_ns;          /**< acquire= (milliseconds in the file) */
    enum gw_flush flush;          /**< flushpackets= */
    uint64_t flush_wait_ns;       /**< flushwait= (milliseconds in the file, 0..1000) */
};

/**
 * A backend address (Apache's worker): one per distinct address used by
 * ProxyPass, ProxyPassMatch, SetHandler or `<Proxy "fcgi://...">`; balancer
 * members are not workers here (see struct gw_member).
 */
struct gw_worker {
    /** Address for fcgic_pool_options.target, without path:
     *  "fcgi://127.0.0.1:9000" or "unix:/run/php.sock|fcgi://localhost". */
    const char *address;
    struct gw_worker_params params;
    struct gw_origin at; /**< first use */
};

/** Member flags from status=: the library's FCGIC_MEMBER_* values
 *  (D DISABLED, H STANDBY, N DRAIN, E ERROR). */
struct gw_member {
    const char *address; /**< as struct gw_worker.address */
    struct gw_worker_params params;
    unsigned lbfactor;   /**< loadfactor=, 1..100, default 1 */
    unsigned lbset;      /**< lbset=, 0..99 */
    unsigned status;     /**< FCGIC_MEMBER_DISABLED | _STANDBY | _DRAIN | _ERROR */
    const char *route;   /**< route=, or NULL */
    struct gw_origin at;
};

/** `<Proxy "balancer://name">` and the BalancerMember / ProxySet lines for it. */
struct gw_balancer {
    const char *name;             /**< "balancer://name" (lower-cased host part) */
    enum fcgic_lb_method method;  /**< lbmethod=, default byrequests */
    const char *sticky_session;   /**< stickysession=, or NULL */
    int nofailover;               /**< nofailover=On */
    int max_attempts_set;         /**< maxattempts= given */
    unsigned max_attempts;        /**< maxattempts= */
    int no_force_recovery;        /**< forcerecovery=Off */
    const struct gw_member *members;
    size_t n_members;             /**< at least 1 */
    struct gw_origin at;
};

/** What a mapping is. */
enum gw_mapping_kind {
    GW_MAP_PROXY_PASS = 0,  /**< ProxyPass path url: `match` is the URL-path prefix */
    GW_MAP_PROXY_PASS_MATCH, /**< ProxyPassMatch regex url: `match` is the regex */
    GW_MAP_HANDLER          /**< SetHandler "proxy:url" in a section (or at server level) */
};

/**
 * One mapping. For a proxy mapping (not `exclude`), exactly one of `worker`
 * and `balancer` is set and `maps` holds its compiled environment maps.
 */
struct gw_mapping {
    enum gw_mapping_kind kind;
    /** PROXY_PASS: the path prefix; PROXY_PASS_MATCH: the regex; HANDLER:
     *  the base-name regex of an enclosing <Files>/<FilesMatch> (a <Files>
     *  wildcard converted to a regex), or NULL. */
    const char *match;
    /** The URL as written: "fcgi://host:port/path", "unix:/s|fcgi://h/p",
     *  "balancer://name/path" (for HANDLER without "proxy:"); NULL when excluded. */
    const char *url;
    /** `ProxyPass /path !` or `ProxyPassMatch regex !`: requests that match
     *  are not proxied by the mappings after it (Apache's exclusion). */
    int exclude;
    const struct gw_worker *worker;
    const struct gw_balancer *balancer;
    /** The section the mapping is written in; NULL at server level. */
    const struct gw_section *section;
    /**
     * Environment maps, compiled with the server's values (ServerName,
     * ServerAdmin, DocumentRoot, DirectoryIndex, AllowEncodedSlashes) and
     * the PATH_INFO strategy of the mapping's scope, one per combination of
     * the per-directory values a Location merge may change:
     * `maps[backend][pass_auth]` with backend an enum fcgic_env_backend and
     * pass_auth 0 or 1 (CGIPassAuth). `maps[backend][pass_auth]` for the
     * mapping's own scope is `map`. For a balancer the target names its
     * first member (SCRIPT_FILENAME's "proxy:fcgi://host:port" prefix with
     * ProxyFCGIBackendType FPM). NULL when excluded.
     */
    const struct fcgic_env_map *maps[2][2];
    const struct fcgic_env_map *map;
    enum fcgic_env_backend backend;   /**< the mapping scope's ProxyFCGIBackendType */
    int pass_auth;                    /**< the mapping scope's CGIPassAuth */
    enum fcgic_env_pathinfo pathinfo; /**< the mapping scope's proxy-fcgi-pathinfo (NONE if unset) */
    struct gw_origin at;
};

/** What SetHandler chose. */
enum gw_handler_kind {
    GW_HANDLER_UNSET = 0, /**< no SetHandler in this scope */
    GW_HANDLER_NONE,      /**< `SetHandler None`: cancels an earlier one */
    GW_HANDLER_PROXY,     /**< "proxy:...": `mapping` */
    GW_HANDLER_STATUS,    /**< server-status */
    GW_HANDLER_METRICS    /**< metrics (Prometheus) */
};

/** Bits of gw_dir_conf.set: which per-directory values the scope sets. */
#define GW_DC_BACKEND 0x01u
#define GW_DC_PASS_AUTH 0x02u
#define GW_DC_PATHINFO 0x04u
#define GW_DC_DIRECTORY_INDEX 0x08u
#define GW_DC_LIMIT_BODY 0x10u
#define GW_DC_REQUIRE 0x20u
#define GW_DC_ERROR_OVERRIDE 0x40u

/** What a `Require` line or container tests. */
enum gw_authz_kind {
    GW_AUTHZ_ALL_GRANTED = 0, /**< Require all granted */
    GW_AUTHZ_ALL_DENIED,      /**< Require all denied */
    GW_AUTHZ_EXPR,            /**< Require ip ... (compiled to `-R` tests), Require expr "..." */
    GW_AUTHZ_ANY,             /**< <RequireAny>, and the lines of one scope */
    GW_AUTHZ_ALL,             /**< <RequireAll> */
    GW_AUTHZ_NONE             /**< <RequireNone> */
};

/** A Require line (`negate`: Require not ...) or a container of them. */
struct gw_require {
    enum gw_authz_kind kind;
    int negate;
    /** GW_AUTHZ_EXPR: true when the line matches (ip lines become
     *  `-R 'net' || -R 'net'`). */
    const struct fcgic_expr *expr;
    const struct gw_require *const *children; /**< containers */
    size_t n_children;
    struct gw_origin at;
};

/** Header / RequestHeader actions (mod_headers). */
enum gw_header_action {
    GW_HDR_SET = 0, GW_HDR_APPEND, GW_HDR_ADD, GW_HDR_MERGE, GW_HDR_UNSET, GW_HDR_EDIT, GW_HDR_EDIT_ALL,
    GW_HDR_SETIFEMPTY
};

/** One Header or RequestHeader line. */
struct gw_header_op {
    enum gw_header_action action;
    int always;              /**< Header always (also on errors the gateway answers) */
    const char *name;
    const char *value;       /**< literal value (`%%` already turned into `%`), or NULL */
    size_t value_len;
    const struct gw_regex *re; /**< EDIT, EDIT_ALL: the pattern */
    const char *replacement;   /**< EDIT, EDIT_ALL: with $0..$9 */
    struct gw_origin at;
};

/** ErrorDocument code text|/local|URL. */
struct gw_error_doc {
    int status;
    enum { GW_ERRDOC_TEXT = 0, GW_ERRDOC_FILE, GW_ERRDOC_REDIRECT } kind;
    const char *text;    /**< TEXT: the message; FILE: the file's bytes (read at load); REDIRECT: the URL */
    size_t len;
    const char *content_type; /**< FILE: from the extension, or NULL */
    const char *path;    /**< FILE: as written */
    struct gw_origin at;
};

/**
 * Per-directory values of one scope (the server, or one section), for the
 * routing layer's merge in Apache's order. Only what `set` says was written
 * here; lists (SetEnv, rules) are this scope's own, in file order.
 */
struct gw_dir_conf {
    unsigned set;                            /**< GW_DC_* */
    enum fcgic_env_backend backend;          /**< ProxyFCGIBackendType */
    int pass_auth;                           /**< CGIPassAuth */
    /** Unused (NONE): as in Apache, `SetEnv proxy-fcgi-pathinfo` comes too
     *  late to choose the strategy and is only sent as a param. SetEnvIf sets
     *  it per request: the routing layer reads the variable after the rules
     *  ran and puts fcgic_env_pathinfo_parse() of it in
     *  fcgic_env_request.pathinfo. */
    enum fcgic_env_pathinfo pathinfo;
    const char *const *directory_index;      /**< DirectoryIndex; `disabled` gives 0 names */
    size_t n_directory_index;
    uint64_t limit_request_body;             /**< LimitRequestBody in a section */
    /** SetEnv NAME [VALUE], in order; names and values NUL-terminated. */
    const struct fcgic_param *setenv;
    size_t n_setenv;
    /**
     * SetEnvIf / SetEnvIfNoCase / BrowserMatch[NoCase] of this scope as
     * setenvif rules, or NULL. Apply them with fcgic_setenvif_apply() to the
     * request's variables (a struct fcgic_env holding the SetEnv values, bound
     * with fcgic_env_expr_env()), then pass those variables as
     * fcgic_env_request.vars. Attributes become: Request_URI %{REQUEST_URI},
     * Request_Method %{REQUEST_METHOD}, Request_Protocol %{SERVER_PROTOCOL},
     * Remote_Addr %{REMOTE_ADDR}, Remote_Host %{REMOTE_HOST}, a header
     * req('Name'), and Server_Addr the note "SERVER_ADDR" (ap_expr has no
     * variable for it: answer FCGIC_EXPR_SRC_NOTE "SERVER_ADDR" in the lookup
     * callback).
     */
    const struct fcgic_setenvif *setenvif;
    /** ProxyFCGISetEnvIf rules of this scope, or NULL; applied after
     *  fcgic_env_build() to the CGI environment (fcgic_env_expr_env()). */
    const struct fcgic_setenvif *fcgi_setenvif;
    enum gw_handler_kind handler;
    const struct gw_mapping *handler_mapping; /**< GW_HANDLER_PROXY: the mapping */
    /** Require lines of this scope (an ANY node), when GW_DC_REQUIRE; a
     *  later scope's replaces it (AuthMerging Off). */
    const struct gw_require *require;
    /** ProxyErrorOverride (GW_DC_ERROR_OVERRIDE): on, and the statuses it
     *  is limited to (none: every 4xx and 5xx). */
    int error_override;
    const int *override_codes;
    size_t n_override_codes;
    /** ErrorDocument lines of this scope. */
    const struct gw_error_doc *error_docs;
    size_t n_error_docs;
    /** Header lines (response) and RequestHeader lines, in file order. */
    const struct gw_header_op *headers;
    size_t n_headers;
    const struct gw_header_op *req_headers;
    size_t n_req_headers;
    /** RequestHeader ... early (server level only): applied to the request
     *  before anything reads its headers (SetEnvIf, <If>, Require). */
    const struct gw_header_op *early_headers;
    size_t n_early_headers;
    /** <If> chains written directly in this scope, in order (each a
     *  GW_SEC_IF section whose `next` is its <ElseIf>/<Else>). */
    const struct gw_section *const *ifs;
    size_t n_ifs;
};

/** Section kinds. */
enum gw_section_kind {
    GW_SEC_LOCATION = 0,   /**< <Location path> */
    GW_SEC_LOCATION_MATCH, /**< <LocationMatch regex>, <Location ~ regex> */
    GW_SEC_FILES,          /**< <Files wildcard> */
    GW_SEC_FILES_MATCH,    /**< <FilesMatch regex>, <Files ~ regex> */
    GW_SEC_DIRECTORY,      /**< <Directory path> (a wildcard path is a regex) */
    GW_SEC_DIRECTORY_MATCH, /**< <DirectoryMatch regex>, <Directory ~ regex> */
    GW_SEC_IF              /**< <If expr>, <ElseIf expr>, <Else> */
};

/** A compiled regex of a section (PCRE2; opaque). */
struct gw_regex;

/**
 * Match a section's regex.
 * @param re the regex (gw_section.regex); may be used by several threads.
 * @param subject the subject, `len` bytes.
 * @return 1 match, 0 no match, or a negative FCGIC_E_* (FCGIC_E_NOMEM,
 *         FCGIC_E_EXPR_MATCH_LIMIT when the pattern hit the expression
 *         engine's default PCRE2 limits: answer 500).
 */
int gw_regex_match(const struct gw_regex *re, const char *subject, size_t len);

/**
 * Match a regex from `start` and report the captures.
 * @param ovec receives start/end offsets, pairs for $0, $1, ...; an unset
 *        group gives (size_t)-1.
 * @param novec room in ovec (twice the groups wanted).
 * @return the number of pairs filled (>= 1) on a match, 0 no match, or a
 *         negative FCGIC_E_* as gw_regex_match().
 */
int gw_regex_exec(const struct gw_regex *re, const char *subject, size_t len, size_t start, size_t *ovec,
                  size_t novec);

/** A <Location>, <LocationMatch>, <Files>, <FilesMatch>, <Directory>,
 *  <DirectoryMatch> or <If> section. */
struct gw_section {
    enum gw_section_kind kind;
    /** The argument as written: a path, wildcard or regex. */
    const char *arg;
    /** Every kind but LOCATION: the regex to match. LOCATION_MATCH: on the
     *  decoded URL-path; FILES_MATCH and FILES: on the file's base name (a
     *  <Files> wildcard is converted to an anchored regex equivalent to
     *  fnmatch(3): `*` and `?` never match '/', `[...]` classes as written).
     *  LOCATION: NULL (match `arg` as a path prefix at segment boundaries,
     *  Apache's rule). */
    const struct gw_regex *regex;
    struct gw_dir_conf conf;
    /** ProxyPass / ProxyPassMatch written inside the section, in order. */
    const struct gw_mapping *const *mappings;
    size_t n_mappings;
    /** GW_SEC_IF: the condition (NULL for <Else>), and the <ElseIf> or
     *  <Else> that follows it, or NULL. */
    const struct fcgic_expr *cond;
    const struct gw_section *next;
    /** GW_SEC_DIRECTORY without wildcard: the path without trailing '/'
     *  and its number of '/' (the sort key). */
    unsigned depth;
    /** <Files>/<FilesMatch> written inside a <Directory> or
     *  <DirectoryMatch>: that section (the Files section applies only where
     *  it does); NULL at server level. */
    const struct gw_section *parent;
    struct gw_origin at;
};

/** ErrorLog destinations. */
enum gw_log_kind {
    GW_LOG_FILE = 0, /**< a path */
    GW_LOG_STDERR,   /**< "/dev/stderr" or unset */
    GW_LOG_SYSLOG    /**< "syslog" or "syslog:facility" */
};

/** LogLevel values, Apache's order. */
enum gw_log_level {
    GW_LOG_EMERG = 0, GW_LOG_ALERT, GW_LOG_CRIT, GW_LOG_ERR, GW_LOG_WARN, GW_LOG_NOTICE,
    GW_LOG_INFO, GW_LOG_DEBUG, GW_LOG_TRACE1, GW_LOG_TRACE2, GW_LOG_TRACE3, GW_LOG_TRACE4,
    GW_LOG_TRACE5, GW_LOG_TRACE6, GW_LOG_TRACE7, GW_LOG_TRACE8
};

/** `LogLevel module:level`. */
struct gw_module_level {
    const char *module; /**< as written, e.g. "proxy_fcgi" */
    enum gw_log_level level;
};

/** `CustomLog file format|nickname [env=[!]var]`. */
struct gw_custom_log {
    const char *path;       /**< as written, absolute or relative to the main file's directory */
    const char *format;     /**< the format string (a nickname resolved through LogFormat) */
    const char *nickname;   /**< the nickname used, or NULL when a format was given */
    const char *env;        /**< env= variable, or NULL */
    int env_negate;         /**< env=!var */
    struct gw_origin at;
};

/** `LogFormat "format" nickname`. "common" and "combined" are predefined. */
struct gw_log_format {
    const char *nickname;
    const char *format;
};

/** Logs. */
struct gw_logs {
    enum gw_log_kind error_log_kind;
    const char *error_log;             /**< path, facility ("" for default), or NULL (stderr) */
    int syslog_facility;               /**< GW_LOG_SYSLOG: the LOG_* facility (default LOG_LOCAL7, as Apache) */
    enum gw_log_level level;           /**< LogLevel, default warn */
    const struct gw_module_level *module_levels;
    size_t n_module_levels;
    const struct gw_custom_log *custom;
    size_t n_custom;
    const struct gw_log_format *formats; /**< predefined first, then LogFormat lines */
    size_t n_formats;
    const char *default_format;          /**< LogFormat without nickname, or the common format */
};

/** The whole server. */
struct gw_server {
    const char *main_file;      /**< path given to gw_config_load() */
    const char *base_dir;       /**< directory relative paths are resolved against */
    const struct gw_listen *listen;
    size_t n_listen;            /**< at least 1 (gw_config_load() refuses none) */
    const char *server_name;    /**< ServerName host, or NULL */
    const char *server_scheme;  /**< "http" or "https" when ServerName had one, else NULL */
    unsigned server_port;       /**< ServerName's port, or 0 */
    const char *server_admin;   /**< ServerAdmin, or NULL */
    const char *document_root;  /**< DocumentRoot without trailing '/', or NULL */
    enum fcgic_env_encoded_slashes encoded_slashes; /**< AllowEncodedSlashes, default Off */
    int keepalive;              /**< KeepAlive, default On (1) */
    unsigned threads;           /**< Threads, default: online processors */
    struct gw_limits limits;
    struct gw_timeouts timeouts;
    /** Server-level per-directory values (SetEnv, rules, backend type, ...). */
    struct gw_dir_conf conf;
    /** Every ProxyPass / ProxyPassMatch, server level and sections alike,
     *  in file order (Apache checks them in that order); each says its
     *  section. Handler mappings are not in this list. */
    const struct gw_mapping *const *proxy_mappings;
    size_t n_proxy_mappings;
    /** <Location> and <LocationMatch> in file order (merged in that order). */
    const struct gw_section *const *locations;
    size_t n_locations;
    /** <Files> and <FilesMatch> in file order. */
    const struct gw_section *const *files;
    size_t n_files;
    /** <Directory> sections, shortest path first (file order among equals),
     *  then <DirectoryMatch> and wildcard ones in file order: Apache's order. */
    const struct gw_section *const *directories;
    size_t n_directories;
    const struct gw_worker *const *workers;
    size_t n_workers;
    const struct gw_balancer *const *balancers;
    size_t n_balancers;
    struct gw_logs logs;
};

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */
/* ------------------------------------------------------------------------ */

/** The loaded tree (opaque; see gw_config_server()). */
struct gw_config;

/** Load flag: never JIT-compile regexes (valgrind cannot follow JIT code). */
#define GW_CONFIG_NO_JIT 0x1u

/**
 * Load and compile a configuration file.
 * @param path the main file; relative Include, CustomLog and ErrorLog paths
 *        are resolved against its directory.
 * @param flags 0 or GW_CONFIG_NO_JIT.
 * @param out receives the tree with one reference; untouched on error.
 * @param err NULL, or filled on error.
 * @return 0; FCGIC_E_INVAL (NULL path or out); FCGIC_E_NOMEM;
 *         FCGIC_E_NOT_FOUND (a file cannot be opened); FCGIC_E_RANGE (line
 *         too long, includes too deep); FCGIC_E_NOTSUP (a refused or unknown
 *         directive); FCGIC_E_EXPR_* (a ProxyFCGISetEnvIf / SetEnvIf rule
 *         that does not compile); FCGIC_E_ENV_* (a mapping the environment
 *         builder refuses); FCGIC_E_INVAL for every other syntax or argument
 *         error. The message says which.
 */
int gw_config_load(const char *path, unsigned flags, struct gw_config **out, struct gw_config_error *err);

/**
 * Parse a configuration held in memory (tests, fuzzing).
 * @param name file name used in errors and origins.
 * @param buf, len the text; NUL bytes are an error.
 * @param base_dir directory Include patterns are confined to (relative
 *        patterns are resolved against it, and absolute ones must lie under
 *        it), or NULL to refuse Include and IncludeOptional.
 * @param flags 0 or GW_CONFIG_NO_JIT.
 * @return as gw_config_load().
 */
int gw_config_parse_buffer(const char *name, const char *buf, size_t len, const char *base_dir,
                           unsigned flags, struct gw_config **out, struct gw_config_error *err);

/** Take a reference. Returns cfg. */
struct gw_config *gw_config_ref(struct gw_config *cfg);

/** Drop a reference; the last one frees the tree. NULL is a no-op. */
void gw_config_unref(struct gw_config *cfg);

/** The tree's root; lives as long as the reference used to reach it. */
const struct gw_server *gw_config_server(const struct gw_config *cfg);

/** Find a balancer by its name ("balancer://x", host part case-insensitive).
 *  @return the balancer or NULL. */
const struct gw_balancer *gw_config_balancer(const struct gw_config *cfg, const char *name);

/** The format string of a LogFormat nickname, or NULL. */
const char *gw_config_log_format(const struct gw_config *cfg, const char *nickname);

#ifdef __cplusplus
}
#endif

#endif /* GW_CONFIG_H */

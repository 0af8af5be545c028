/* Private to the configuration files (config_*.c): the tree's arena, the
 * parser's state, the directive table and small ASCII helpers. */
#ifndef GW_CONFIG_INT_H
#define GW_CONFIG_INT_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* ------------------------------------------------------------------------ */
/* ASCII helpers (never <ctype.h>: the host program's locale changes it)    */

static inline bool gw_isspace(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static inline bool gw_isdigit(int c)
{
    return c >= '0' && c <= '9';
}

static inline bool gw_isalpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int gw_tolower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* ASCII case-insensitive equality of two NUL-terminated strings. */
bool gw_streq_ci(const char *a, const char *b);
/* ASCII case-insensitive: does s start with prefix? */
bool gw_prefix_ci(const char *s, const char *prefix);

/* ------------------------------------------------------------------------ */
/* The tree and its arena                                                   */

struct gw_arena_block;
struct gw_cleanup;

struct gw_config {
    atomic_ulong refs;
    struct gw_arena_block *blocks;
    struct gw_cleanup *cleanups;
    struct gw_server server;
};

/* Zeroed memory that lives as long as the tree; NULL when out of memory. */
void *gw_alloc(struct gw_config *c, size_t n);
char *gw_strndup(struct gw_config *c, const char *s, size_t n);
char *gw_strdup(struct gw_config *c, const char *s);
/* Run fn(obj) when the tree is freed (last first). Returns 0 or
 * FCGIC_E_NOMEM, in which case fn(obj) has been run already. */
int gw_on_free(struct gw_config *c, void (*fn)(void *), void *obj);
struct gw_config *gw_config_new_empty(void);
void gw_config_destroy(struct gw_config *c);

/* A growable array in the arena: a grown array leaves the old one behind
 * (configurations are small; the waste is at most the final size). */
struct gw_vec {
    void *items;
    size_t n, cap;
};
/* Append one zeroed element of `size` bytes; returns it, or NULL. */
void *gw_vec_push(struct gw_config *c, struct gw_vec *v, size_t size);
/* Append a pointer. Returns 0 or FCGIC_E_NOMEM. */
int gw_vec_push_ptr(struct gw_config *c, struct gw_vec *v, const void *ptr);

/* ------------------------------------------------------------------------ */
/* Regexes (config_regex.c)                                                 */

/* Compile a PCRE2 pattern into the tree. On a bad pattern returns
 * FCGIC_E_EXPR_REGEX and writes PCRE2's reason into msg. */
int gw_regex_compile(struct gw_config *c, const char *pattern, bool caseless, const struct gw_regex **out,
                     char *msg, size_t msg_size);
/* Convert a <Files> wildcard into an anchored regex (arena). */
char *gw_wildcard_to_regex(struct gw_config *c, const char *wildcard);

/* ------------------------------------------------------------------------ */
/* Lexer (config_lex.c)                                                     */

struct gw_parser;

/* One source of lines: a file's bytes. */
struct gw_lexer {
    const char *name; /* arena copy */
    const char *buf;
    size_t len, pos;
    unsigned next_line; /* number of the next physical line */
};

/* A logical line: continuations joined, blanks trimmed at both ends,
 * comments and blank lines skipped. `text` points into the parser's line
 * buffer, valid until the next call. */
struct gw_line {
    char *text;
    size_t len;
    unsigned line;
};

/* Next logical line. Returns 1, 0 at the end, or a negative error (set in
 * the parser: NUL byte, line too long). */
int gw_lex_next(struct gw_parser *p, struct gw_lexer *lx, struct gw_line *out);

/* Split s into arguments as ap_getword_conf() does, unescaping in place
 * (s is overwritten). argv has room for max entries. Returns the count, or
 * a negative error (unterminated quote, too many arguments). */
int gw_lex_split(struct gw_parser *p, char *s, char **argv, int max, const struct gw_origin *at);

/* ------------------------------------------------------------------------ */
/* Parser state                                                             */

/* Where a directive stands. */
enum gw_ctx_kind {
    GW_CTX_SERVER = 0x1,
    GW_CTX_SECTION = 0x2, /* Location, LocationMatch, Files, FilesMatch */
    GW_CTX_PROXY = 0x4,   /* <Proxy fcgi://...> or <Proxy balancer://...> */
    GW_CTX_DIRECTORY = 0x8, /* Directory, DirectoryMatch */
    GW_CTX_IF = 0x10,     /* If, ElseIf, Else */
    GW_CTX_AUTHZ = 0x20   /* RequireAll, RequireAny, RequireNone */
};
#define GW_CTX_DIR (GW_CTX_SERVER | GW_CTX_SECTION | GW_CTX_DIRECTORY | GW_CTX_IF)

/* Per-scope values being built (becomes a struct gw_dir_conf). */
struct gw_dir_build {
    struct gw_dir_conf *conf;
    struct gw_vec setenv;  /* struct fcgic_param */
    struct gw_vec dindex;  /* const char * */
    struct fcgic_setenvif *setenvif, *fcgi_setenvif;
    struct gw_vec mappings; /* struct gw_mapping * (sections only) */
    struct gw_require_build *authz; /* this scope's Require lines, or NULL */
    struct gw_vec error_docs;  /* struct gw_error_doc */
    struct gw_vec headers;     /* struct gw_header_op */
    struct gw_vec req_headers; /* struct gw_header_op */
    struct gw_vec early_headers; /* struct gw_header_op: RequestHeader ... early */
    struct gw_vec codes;       /* int: ProxyErrorOverride codes */
    struct gw_vec ifs;         /* struct gw_section * */
};

/* A Require container while it is read. */
struct gw_require_build {
    struct gw_require r; /* first: the public part */
    struct gw_vec children; /* struct gw_require * */
};

/* An open section in the current file. */
struct gw_frame {
    char name[32];            /* canonical spelling, e.g. "Location" */
    struct gw_origin at;
    bool skip;                /* inside a false <IfModule> */
    enum gw_ctx_kind ctx;     /* context for directives inside */
    struct gw_section *section;
    struct gw_dir_build *dir;
    struct gw_worker *worker;
    struct gw_balancer *balancer;
    struct gw_require_build *authz; /* <RequireAll|Any|None> */
};

#define GW_MAX_FRAMES 64
#define GW_MAX_ARGS 256

struct gw_parser {
    struct gw_config *cfg;
    struct gw_config_error *err;
    int code;                /* first error, sticky */
    const char *base_dir;    /* arena */
    bool includes;           /* Include allowed */
    bool no_jit;             /* GW_CONFIG_NO_JIT */
    bool confine;            /* Include confined to base_dir */
    unsigned depth;

    char *line;              /* logical line buffer (malloc) */
    size_t line_cap;

    struct gw_dir_build server_dir;
    struct gw_vec listen;        /* struct gw_listen */
    struct gw_vec proxy_maps;    /* struct gw_mapping_build * */
    struct gw_vec handler_maps;  /* struct gw_mapping_build * */
    struct gw_vec locations;     /* struct gw_section * */
    struct gw_vec files;         /* struct gw_section * */
    struct gw_vec directories;   /* struct gw_section * */
    /* The <If>/<ElseIf> just closed, while the next line may continue its
     * chain; NULL otherwise. */
    struct gw_section *last_if;
    struct gw_vec sections_dir;  /* struct gw_dir_build * for every section */
    struct gw_vec workers;       /* struct gw_worker * */
    struct gw_vec balancers;     /* struct gw_balancer_build * */
    struct gw_vec custom_logs;   /* struct gw_custom_log */
    struct gw_vec formats;       /* struct gw_log_format */
    struct gw_vec module_levels; /* struct gw_module_level */
    bool proxy_timeout_set;
    bool threads_set;

    /* The file being read and its open sections. */
    struct gw_frame frames[GW_MAX_FRAMES];
    unsigned nframes;
};

/* Record the first error (file and line from `at`, or none) and return code. */
int gw_fail(struct gw_parser *p, const struct gw_origin *at, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The innermost frame that is not an <IfModule>, or NULL at server level. */
struct gw_frame *gw_scope(struct gw_parser *p);
/* The per-directory values directives at this point change. */
struct gw_dir_build *gw_scope_dir(struct gw_parser *p);

/* A mapping and what the compile step needs to build its maps. */
struct gw_mapping_build {
    struct gw_mapping m; /* first: the public part */
    struct gw_dir_build *dir; /* the scope it is written in */
    const char *path;         /* the URL's path part ("" if none) */
    const char *match_regex;  /* HANDLER: the base-name regex, or NULL */
};

/* A balancer and its members while they are read. */
struct gw_balancer_build {
    struct gw_balancer b; /* first: the public part */
    struct gw_vec members; /* struct gw_member */
};

/* Read one file (or buffer) into the tree at the current point. */
int gw_parse_lexer(struct gw_parser *p, struct gw_lexer *lx);
int gw_parse_file(struct gw_parser *p, const char *path, const struct gw_origin *from);

/* ------------------------------------------------------------------------ */
/* Directives                                                               */

struct gw_cmd {
    const struct gw_directive *d;
    const char *name; /* as written */
    char **argv;      /* arguments after the name */
    int argc;
    struct gw_origin at;
};

struct gw_directive {
    const char *name;
    unsigned ctx;          /* GW_CTX_* where it is allowed */
    int min_args, max_args; /* max -1: any number */
    const char *usage;     /* Apache's description, for argument-count errors */
    int (*run)(struct gw_parser *p, const struct gw_cmd *cmd);
};

/* Lookup tables (config_table.c). */
const struct gw_directive *gw_directive_find(const char *name);
/* A hint for a known Apache directive or section that is refused, or NULL. */
const char *gw_refused_hint(const char *name);

/* Argument checks shared by the directive files (config_args.c). */
int gw_arg_flag(struct gw_parser *p, const struct gw_cmd *cmd, const char *arg, int *out);
int gw_arg_uint(const char *s, uint64_t max, uint64_t *out);
/* Apache's ap_timeout_parameter_parse(): N with an optional unit ms, s, mi,
 * min, h, hr (default_ms: the unit of a bare number is ms, else s). */
int gw_arg_duration(const char *s, bool default_ms, uint64_t *ns);

/* Directive handlers, by file. */
int gw_dir_listen(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_server_name(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_server_admin(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_document_root(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_directory_index(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_timeout(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_keepalive(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_limit(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_threads(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_encoded_slashes(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_backend_type(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_cgi_pass_auth(struct gw_parser *p, const struct gw_cmd *cmd);

int gw_dir_setenv(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_setenvif(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_fcgi_setenvif(struct gw_parser *p, const struct gw_cmd *cmd);

int gw_dir_proxy_pass(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_set_handler(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_balancer_member(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_proxy_set(struct gw_parser *p, const struct gw_cmd *cmd);
/* <Proxy url>: find or create the worker or balancer the section is about. */
int gw_proxy_section(struct gw_parser *p, const struct gw_origin *at, const char *url, struct gw_frame *f);
/* The key=value parameters on a <Proxy url ...> line, for the section's
 * balancer or worker. */
int gw_proxy_section_params(struct gw_parser *p, const struct gw_origin *at, struct gw_frame *f, char **argv, int argc);
/* After the last line: unix-socket workers take the parameters of their
 * fcgi://host worker (see config_proxy.c). */
void gw_proxy_inherit_unix_params(struct gw_parser *p);

int gw_dir_error_log(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_custom_log(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_log_format(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_log_level(struct gw_parser *p, const struct gw_cmd *cmd);
/* "common" and "combined". */
int gw_log_predefine(struct gw_parser *p);

/* Directory, DirectoryMatch, If/ElseIf/Else, Options, AllowOverride (config_dir.c). */
int gw_open_directory(struct gw_parser *p, struct gw_frame *f, bool match, int argc, char **argv);
int gw_open_if(struct gw_parser *p, struct gw_frame *f, int argc, char **argv);
int gw_dir_options(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_allow_override(struct gw_parser *p, const struct gw_cmd *cmd);
/* Sort <Directory> sections into Apache's order; read ErrorDocument files. */
int gw_directories_finish(struct gw_parser *p);
/* The <Files>/<FilesMatch> section around the current point, or NULL. */
const struct gw_section *gw_enclosing_files(struct gw_parser *p);

/* Require and its containers (config_require.c). */
int gw_dir_require(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_open_authz(struct gw_parser *p, struct gw_frame *f, enum gw_authz_kind kind, int argc);
int gw_close_authz(struct gw_parser *p, struct gw_frame *f);
void gw_authz_finish(struct gw_dir_build *d);

/* Header, RequestHeader, ErrorDocument, ProxyErrorOverride (config_header.c). */
int gw_dir_header(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_error_document(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_dir_error_override(struct gw_parser *p, const struct gw_cmd *cmd);
int gw_error_docs_load(struct gw_parser *p);

/* Compile step (config_compile.c): defaults, env maps, final arrays. */
int gw_compile(struct gw_parser *p);

#endif /* GW_CONFIG_INT_H */

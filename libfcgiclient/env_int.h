/* Private declarations of the CGI environment builder, shared by env.c (the
 * param list), env_path.c (URI and path helpers), env_target.c and
 * env_map.c (mappings and the builder). Not installed. */
#ifndef FCGIC_ENV_INT_H
#define FCGIC_ENV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fcgiclient/env.h"
#ifdef FCGIC_HAVE_PCRE2
#include "regex_int.h"
#endif
#include "util.h"

/* ---- param list (env.c) ---- */

struct fcgic__env_blk;

struct fcgic__env_meta {
    const char *rule; /* static, or in the arena; never NULL */
    uint32_t hash;
    uint32_t value_cap; /* arena bytes reserved for the value (>= value_len) */
    uint8_t origin;
};

struct fcgic_env {
    struct fcgic__alloc alloc;
    struct fcgic_param *params;
    struct fcgic__env_meta *meta;
    size_t count, cap;
    uint32_t *slots; /* open addressing, index + 1, 0 = empty */
    size_t nslots;   /* power of two or 0 */
    struct fcgic__hash_key hash_key; /* this list's own: names cannot be chosen to collide */
    struct fcgic__env_blk *blocks, *cur;
    size_t total, max_total;
    /* builder scratch, reused between requests */
    struct fcgic__buf scratch[6];
#ifdef FCGIC_HAVE_PCRE2
    struct fcgic__regex_matcher rx; /* set up by the first regex mapping */
#endif
};

/* Arena allocation, valid until clear/free. NULL on failure. */
char *fcgic__env_alloc(struct fcgic_env *env, size_t n);
/* Give back the last n bytes returned by fcgic__env_alloc(). */
void fcgic__env_unalloc(struct fcgic_env *env, size_t n);

/* Encoded FastCGI size of one pair. */
static inline size_t fcgic__env_pair_size(size_t n, size_t v)
{
    return n + v + (n < 128 ? 1 : 4) + (v < 128 ? 1 : 4);
}

/* Set with Apache table semantics (existing keeps position). name_static:
 * the name pointer outlives the list and is used as is; otherwise copied.
 * The value is always copied. rule must be static or arena memory.
 * *idx (optional) receives the index. Returns 0, ENV_TOO_BIG, NOMEM, or 1
 * (nothing done) when origin is HEADER and the existing param is a header
 * too: the caller merges it. */
int fcgic__env_put(struct fcgic_env *env, const char *name, size_t nlen, bool name_static,
                   const char *value, size_t vlen, enum fcgic_env_origin origin,
                   const char *rule, size_t *idx, bool header_merge);
/* Append sep + value to the value of param idx, in place when its arena
 * slot has room, else into a slot twice as large: n appends cost O(n) in
 * time and memory, whatever else is allocated in between. Returns 0,
 * ENV_TOO_BIG, NOMEM. */
int fcgic__env_append(struct fcgic_env *env, size_t idx, const char *sep, size_t seplen,
                      const char *value, size_t vlen);
/* Index of name or SIZE_MAX. */
size_t fcgic__env_find(const struct fcgic_env *env, const char *name, size_t nlen);

/* ---- URI and path helpers (env_path.c) ---- */

/* Raw request target split. Spans point into the target. */
struct fcgic__env_uri {
    struct fcgic_span path;  /* encoded path, starts with '/' */
    struct fcgic_span query; /* without '?'; ptr NULL if no '?' */
    struct fcgic_span host;  /* absolute form authority host (no brackets), empty if none */
    struct fcgic_span port;  /* absolute form port digits */
    bool has_authority;
    bool host_ipv6;
};

int fcgic__env_split_target(const char *t, size_t len, struct fcgic__env_uri *u);

/* ap_normalize_path (decode unreserved, merge slashes, dot segments, not
 * above root) then ap_unescape_url per mode, into out (replaced); when a %2F
 * was decoded (DECODE), the dot segments that made are removed too (not
 * above root, slashes kept), as Apache does. Returns 0, ENV_BAD_URI,
 * ENV_ENCODED_SLASH, ENV_PATH_CTL, NOMEM. */
int fcgic__env_decode_path(const struct fcgic__alloc *a, struct fcgic__buf *tmp,
                           struct fcgic__buf *out, const char *p, size_t n,
                           enum fcgic_env_encoded_slashes mode);

/* ap_proxy_canonenc for enc_path, appending to out. noencslash: NoDecode
 * mode (keep %2F, '%' must start an escape). Returns 0, ENV_BAD_URI, NOMEM. */
int fcgic__env_canonenc(const struct fcgic__alloc *a, struct fcgic__buf *out, const char *p,
                        size_t n, bool noencslash);

/* In-place ap_unescape_url_keep2f(s, 0); returns the new length. */
size_t fcgic__env_unescape_keep2f(char *s, size_t n);

/* Literal path normalisation for PATH_TRANSLATED (merge slashes, dot
 * segments). Appends to out. Returns 0, 1 when above the root, NOMEM. */
int fcgic__env_normalize_literal(const struct fcgic__alloc *a, struct fcgic__buf *out,
                                 const char *p, size_t n);

/* Whether p has a ".." segment: between two '/' or the ends (a backslash
 * separates nothing, "%2E" is no dot). */
bool fcgic__env_has_dotdot(const char *p, size_t n);

/* ap_find_path_info: length of SCRIPT_NAME within uri. */
size_t fcgic__env_find_path_info(const char *uri, size_t lu, const char *pi, size_t lp);

/* mod_proxy alias_match: bytes of uri matched by prefix, 0 = no match. */
size_t fcgic__env_alias_match(const char *uri, size_t ulen, const char *alias, size_t alen);

#endif

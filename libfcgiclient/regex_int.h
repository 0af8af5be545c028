/* The one way the library compiles and runs regular expressions (PCRE2,
 * 8-bit code units): JIT-compiled when PCRE2 has a JIT, and every match
 * bounded by PCRE2's match, depth and heap limits (and a JIT stack of the
 * heap limit's size), so that a subject chosen by a client cannot make a
 * pattern backtrack for seconds. Used by the env builder's mappings
 * (ProxyPassMatch, the handler's base-name pattern) and by the expression
 * engine (`=~`, `!~`, hence ProxyFCGISetEnvIf). Not installed. */
#ifndef FCGIC_REGEX_INT_H
#define FCGIC_REGEX_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* Defaults of struct fcgic_expr_limits, and the limits of env mappings. */
#define FCGIC__REGEX_MATCH_LIMIT 100000u
#define FCGIC__REGEX_DEPTH_LIMIT 2000u
#define FCGIC__REGEX_HEAP_LIMIT_KIB 1024u

struct fcgic__regex_limits {
    uint32_t match_limit;
    uint32_t depth_limit;
    uint32_t heap_limit_kib; /* also the size of the JIT stack */
    bool no_jit;             /* never run JIT code (valgrind) */
};

/* The defaults above, JIT allowed. */
void fcgic__regex_limits_default(struct fcgic__regex_limits *lim);

/* Compile `len` bytes of pattern with PCRE2 options `opts`, then JIT-compile
 * it unless `no_jit` (a JIT failure leaves the interpreter). Memory comes
 * from `a`, which must outlive the code (pcre2_code_free()).
 * Returns 0; FCGIC_E_NOMEM; FCGIC_E_INVAL when the pattern does not compile
 * (*erroff, if not NULL, receives PCRE2's offset of the error). */
int fcgic__regex_compile(pcre2_code **out, const struct fcgic__alloc *a, const char *pat, size_t len,
                         uint32_t opts, bool no_jit, size_t *erroff);

/* What a match runs with: contexts with the limits, match data for `pairs`
 * offset pairs. Zero-initialised = not set up (fini is then a no-op). */
struct fcgic__regex_matcher {
    pcre2_general_context *gc;
    pcre2_match_context *mc;
    pcre2_jit_stack *jit_stack;
    pcre2_match_data *md;
    bool no_jit;
};

/* Set up m; memory from `a`, which must outlive m. Returns 0 or
 * FCGIC_E_NOMEM (m is then left as fini leaves it). */
int fcgic__regex_matcher_init(struct fcgic__regex_matcher *m, const struct fcgic__alloc *a,
                              const struct fcgic__regex_limits *lim, uint32_t pairs);
void fcgic__regex_matcher_fini(struct fcgic__regex_matcher *m);

/* Match code against `len` bytes of subj (subj may be NULL when len is 0).
 * Returns the number of offset pairs set (>= 1; all of them when the
 * pattern has more groups than the match data holds), 0 for no match,
 * FCGIC_E_EXPR_MATCH_LIMIT (match, depth, heap or JIT stack limit),
 * FCGIC_E_NOMEM, or FCGIC_E_INTERNAL (any other PCRE2 failure). The offsets
 * are in pcre2_get_ovector_pointer(m->md) until the next match. */
int fcgic__regex_exec(struct fcgic__regex_matcher *m, const pcre2_code *code, const char *subj,
                      size_t len);

#endif

/* Private declarations of the expression engine: the compiled form shared by
 * the parser (expr_parse.c), the evaluator (expr_eval.c), the string
 * functions (expr_func.c) and the ProxyFCGISetEnvIf rules (setenvif.c). */
#ifndef FCGIC_EXPR_INT_H
#define FCGIC_EXPR_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "fcgiclient/expr.h"
#include "regex_int.h"
#include "util.h"

#define FCGIC__EXPR_NONE UINT32_MAX
#define FCGIC__EXPR_MAX_DEPTH_CAP 256u
#define FCGIC__EXPR_NMATCH 10 /* $0..$9, Apache's AP_MAX_REG_MATCH */

enum fcgic__expr_op {
    /* conditions */
    FCGIC__N_TRUE,
    FCGIC__N_FALSE,
    FCGIC__N_NOT,    /* a */
    FCGIC__N_AND,    /* a, b */
    FCGIC__N_OR,     /* a, b */
    FCGIC__N_CMP,    /* aux = enum fcgic__expr_cmp, a, b */
    FCGIC__N_IN,     /* a = word, b = first LIST node */
    FCGIC__N_REG,    /* a = word, aux = regex index, flags & NEG for !~ */
    FCGIC__N_UNARY,  /* aux = operator letter, a = word, off = subnet (for -R) */
    FCGIC__N_BINARY, /* aux = enum fcgic__expr_binop, a, b, off = subnet (ipmatch) */
    /* words */
    FCGIC__N_STR,     /* off/len into strings; flags & DIGIT for a number token */
    FCGIC__N_CONCAT,  /* off = first index in kids, len = count */
    FCGIC__N_VAR,     /* aux = enum fcgic_expr_var */
    FCGIC__N_FUNC,    /* aux = enum fcgic__expr_func, a = argument word */
    FCGIC__N_BACKREF, /* aux = 0..9 */
    FCGIC__N_LIST     /* a = word, b = next LIST node or NONE */
};

#define FCGIC__NF_NEG 0x1u
#define FCGIC__NF_DIGIT 0x2u

enum fcgic__expr_cmp {
    FCGIC__CMP_EQ, FCGIC__CMP_NE, FCGIC__CMP_LT, FCGIC__CMP_LE, FCGIC__CMP_GT, FCGIC__CMP_GE,
    FCGIC__CMP_STR_EQ, FCGIC__CMP_STR_NE, FCGIC__CMP_STR_LT, FCGIC__CMP_STR_LE,
    FCGIC__CMP_STR_GT, FCGIC__CMP_STR_GE
};

enum fcgic__expr_binop {
    FCGIC__BIN_IPMATCH, FCGIC__BIN_FNMATCH, FCGIC__BIN_STRMATCH, FCGIC__BIN_STRCMATCH
};

enum fcgic__expr_func {
    FCGIC__F_OSENV, FCGIC__F_ENV, FCGIC__F_RESP, FCGIC__F_REQ, FCGIC__F_HTTP, FCGIC__F_NOTE,
    FCGIC__F_REQENV, FCGIC__F_REQ_NOVARY, FCGIC__F_TOLOWER, FCGIC__F_TOUPPER,
    FCGIC__F_ESCAPE, FCGIC__F_UNESCAPE, FCGIC__F_BASE64, FCGIC__F_UNBASE64, FCGIC__F_SHA1,
    FCGIC__F_MD5
};

struct fcgic__expr_node {
    uint8_t op;
    uint8_t flags;
    uint16_t aux;
    uint32_t a, b;
    uint32_t off, len;
};

struct fcgic__expr_regex {
    pcre2_code *code;
    uint32_t ncap; /* capture groups (re_nsub) */
};

/* An IPv4 or IPv6 network for -ipmatch / -R; v4 networks also match
 * v4-mapped v6 addresses. */
struct fcgic__expr_subnet {
    int family; /* 4 or 6 */
    uint8_t addr[16];
    uint8_t mask[16];
};

struct fcgic_expr {
    struct fcgic__alloc alloc;
    unsigned flags;
    uint32_t root;
    struct fcgic__expr_node *nodes;
    size_t nnodes, cap_nodes;
    uint32_t *kids;
    size_t nkids, cap_kids;
    struct fcgic__buf strings;
    struct fcgic__expr_regex *regex;
    size_t nregex, cap_regex;
    struct fcgic__expr_subnet *subnets;
    size_t nsubnets, cap_subnets;
};

/* Internal compile entry that also reports which limits are used. */
int fcgic__expr_limits_fill(struct fcgic_expr_limits *dst, const struct fcgic_expr_limits *src);

/* The regex limits of a filled struct fcgic_expr_limits. */
void fcgic__expr_regex_limits(struct fcgic__regex_limits *dst, const struct fcgic_expr_limits *lim);

/* ---- functions (expr_func.c) ---- */

/* Output sizes: the worst-case length of each function's result for an
 * argument of n bytes (SIZE_MAX on overflow). */
size_t fcgic__expr_func_outmax(int func, size_t n);
/* Run a pure string function into out (room for outmax bytes); returns the
 * length written. */
size_t fcgic__expr_func_run(int func, const char *in, size_t n, char *out);

/* apr_fnmatch-compatible matching: flags below. Returns true on match. */
#define FCGIC__FNM_PATHNAME 0x1u
#define FCGIC__FNM_CASE_BLIND 0x2u
bool fcgic__expr_fnmatch(const char *pat, size_t plen, const char *str, size_t slen,
                         unsigned flags);

/* Parse "addr[/mask]" as apr_ipsubnet_create does. 0 or -1. */
int fcgic__expr_subnet_parse(struct fcgic__expr_subnet *sn, const char *s, size_t n);
/* Test an address text against a subnet: true if it parses and matches. */
bool fcgic__expr_subnet_test(const struct fcgic__expr_subnet *sn, const char *s, size_t n);

void fcgic__md5(const void *data, size_t n, uint8_t out[16]);
void fcgic__sha1(const void *data, size_t n, uint8_t out[20]);

#endif

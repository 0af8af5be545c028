/* Regexes of <LocationMatch>, <FilesMatch> and <Files> wildcards: PCRE2,
 * under the expression engine's default limits. The library matches the
 * regexes of mappings and rules itself but has no public matcher for a
 * section's path or file name. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "config_int.h"

/* The expression engine's defaults (expr.h). */
#define GW_MATCH_LIMIT 100000u
#define GW_DEPTH_LIMIT 2000u
#define GW_HEAP_LIMIT_KIB 1024u

struct gw_regex {
    pcre2_code *code;
};

static void regex_free(void *p)
{
    pcre2_code_free(((struct gw_regex *)p)->code);
}

int gw_regex_compile(struct gw_config *c, const char *pattern, bool caseless, const struct gw_regex **out,
                     char *msg, size_t msg_size)
{
    int ec;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, caseless ? PCRE2_CASELESS : 0,
                                     &ec, &off, NULL);
    if (code == NULL) {
        PCRE2_UCHAR buf[200];
        pcre2_get_error_message(ec, buf, sizeof(buf));
        snprintf(msg, msg_size, "%s at offset %zu of \"%s\"", (const char *)buf, (size_t)off, pattern);
        return FCGIC_E_EXPR_REGEX;
    }
    struct gw_regex *re = gw_alloc(c, sizeof(*re));
    if (re == NULL) {
        pcre2_code_free(code);
        snprintf(msg, msg_size, "out of memory");
        return FCGIC_E_NOMEM;
    }
    re->code = code;
    if (gw_on_free(c, regex_free, re) != 0) {
        snprintf(msg, msg_size, "out of memory");
        return FCGIC_E_NOMEM;
    }
    *out = re;
    return 0;
}

int gw_regex_match(const struct gw_regex *re, const char *subject, size_t len)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    int rc = FCGIC_E_NOMEM;
    if (md != NULL && mc != NULL) {
        pcre2_set_match_limit(mc, GW_MATCH_LIMIT);
        pcre2_set_depth_limit(mc, GW_DEPTH_LIMIT);
        pcre2_set_heap_limit(mc, GW_HEAP_LIMIT_KIB);
        int m = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, md, mc);
        if (m >= 0)
            rc = 1;
        else if (m == PCRE2_ERROR_NOMATCH)
            rc = 0;
        else if (m == PCRE2_ERROR_MATCHLIMIT || m == PCRE2_ERROR_DEPTHLIMIT || m == PCRE2_ERROR_HEAPLIMIT)
            rc = FCGIC_E_EXPR_MATCH_LIMIT;
        else
            rc = FCGIC_E_EXPR_EVAL;
    }
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    return rc;
}

char *gw_wildcard_to_regex(struct gw_config *c, const char *w)
{
    size_t n = strlen(w);
    char *out = gw_alloc(c, 6 * n + 3), *d = out;
    if (out == NULL)
        return NULL;
    *d++ = '^';
    for (const char *s = w; *s; s++) {
        if (*s == '*') {
            memcpy(d, "[^/]*", 5);
            d += 5;
        } else if (*s == '?') {
            memcpy(d, "[^/]", 4);
            d += 4;
        } else if (*s == '[' && strchr(s + 1, ']') != NULL) {
            /* a class, copied; fnmatch's [!x] is PCRE's [^x] */
            const char *end = strchr(s + 2, ']') ? strchr(s + 2, ']') : strchr(s + 1, ']');
            *d++ = '[';
            s++;
            if (*s == '!') {
                *d++ = '^';
                s++;
            }
            for (; s < end; s++) {
                if (*s == '\\' || (*s == '[' && s[1] == ':'))
                    *d++ = '\\';
                *d++ = *s;
            }
            *d++ = ']';
        } else if (gw_isalpha((unsigned char)*s) || gw_isdigit((unsigned char)*s) || (unsigned char)*s >= 0x80) {
            *d++ = *s;
        } else {
            *d++ = '\\';
            *d++ = *s;
        }
    }
    *d++ = '$';
    *d = '\0';
    return out;
}

int gw_regex_exec(const struct gw_regex *re, const char *subject, size_t len, size_t start, size_t *ovec,
                  size_t novec)
{
    pcre2_match_data *md = pcre2_match_data_create(10, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    int rc = FCGIC_E_NOMEM;
    if (md != NULL && mc != NULL) {
        pcre2_set_match_limit(mc, GW_MATCH_LIMIT);
        pcre2_set_depth_limit(mc, GW_DEPTH_LIMIT);
        pcre2_set_heap_limit(mc, GW_HEAP_LIMIT_KIB);
        int m = pcre2_match(re->code, (PCRE2_SPTR)subject, len, start, 0, md, mc);
        if (m >= 0) { /* 0: more groups than the 10 kept */
            PCRE2_SIZE *o = pcre2_get_ovector_pointer(md);
            size_t got = m == 0 ? 10 : (size_t)m;
            size_t pairs = got < novec / 2 ? got : novec / 2;
            for (size_t i = 0; i < pairs * 2; i++)
                ovec[i] = o[i] == PCRE2_UNSET ? (size_t)-1 : o[i];
            rc = (int)pairs;
        } else if (m == PCRE2_ERROR_NOMATCH) {
            rc = 0;
        } else if (m == PCRE2_ERROR_MATCHLIMIT || m == PCRE2_ERROR_DEPTHLIMIT || m == PCRE2_ERROR_HEAPLIMIT) {
            rc = FCGIC_E_EXPR_MATCH_LIMIT;
        } else {
            rc = FCGIC_E_EXPR_EVAL;
        }
    }
    pcre2_match_context_free(mc);
    pcre2_match_data_free(md);
    return rc;
}

/* The escaping of the Apache replay vectors (tests/apache-cases/, written by
 * tests/tools/apache-cases-convert.py, whose header documents the format),
 * shared by app-replay (it reads its script and writes its log in it) and
 * tests/test-apache-replay.c. Header-only, as app-common.h.
 *
 * Escapes: \\ \r \n \t \xHH, and \@N,L,UNIT for the L bytes of UNIT repeated
 * N times (UNIT itself holds no \@). Everything else is literal. */
#ifndef FCGIC_TEST_REPLAY_VEC_H
#define FCGIC_TEST_REPLAY_VEC_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "app-common.h"

/* A growing byte buffer, always NUL-terminated after len. */
struct rv_buf {
    char *p;
    size_t len, cap;
};

static inline void rv_reserve(struct rv_buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        abort();
    b->p = p;
    b->cap = cap;
}

static inline void rv_add(struct rv_buf *b, const void *data, size_t len)
{
    rv_reserve(b, len);
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static inline void rv_adds(struct rv_buf *b, const char *s)
{
    rv_add(b, s, strlen(s));
}

static inline void rv_free(struct rv_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Decode one escaped byte at s[*i] (i < n) into *out. Returns 0, -1 on a bad
 * escape. */
static inline int rv_unescape_one(const char *s, size_t n, size_t *i, unsigned char *out)
{
    if (s[*i] != '\\') {
        *out = (unsigned char)s[(*i)++];
        return 0;
    }
    if (*i + 1 >= n)
        return -1;
    char c = s[*i + 1];
    *i += 2;
    switch (c) {
    case '\\':
        *out = '\\';
        return 0;
    case 'r':
        *out = '\r';
        return 0;
    case 'n':
        *out = '\n';
        return 0;
    case 't':
        *out = '\t';
        return 0;
    case 'x':
        if (*i + 2 > n || app_hexval(s[*i]) < 0 || app_hexval(s[*i + 1]) < 0)
            return -1;
        *out = (unsigned char)(app_hexval(s[*i]) * 16 + app_hexval(s[*i + 1]));
        *i += 2;
        return 0;
    default:
        return -1;
    }
}

static inline size_t rv_number(const char *s, size_t n, size_t *i)
{
    size_t v = 0;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9')
        v = v * 10 + (size_t)(s[(*i)++] - '0');
    return v;
}

/* Append the bytes that the escaped text s[0..n) stands for to out. Returns
 * 0, or -1 on a malformed escape. */
static inline int rv_unescape(const char *s, size_t n, struct rv_buf *out)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == '@') {
            i += 2;
            size_t times = rv_number(s, n, &i);
            if (i >= n || s[i++] != ',')
                return -1;
            size_t unit_len = rv_number(s, n, &i);
            if (i >= n || s[i++] != ',' || unit_len == 0 || unit_len > 64)
                return -1;
            unsigned char unit[64];
            for (size_t k = 0; k < unit_len; k++)
                if (i >= n || rv_unescape_one(s, n, &i, &unit[k]) != 0)
                    return -1;
            rv_reserve(out, times * unit_len);
            for (size_t k = 0; k < times; k++)
                rv_add(out, unit, unit_len);
            continue;
        }
        unsigned char c;
        if (rv_unescape_one(s, n, &i, &c) != 0)
            return -1;
        rv_add(out, &c, 1);
    }
    return 0;
}

/* Append data escaped (no repeat compression) to out; a space is kept when
 * keep_space, else written \x20. */
static inline void rv_escape(struct rv_buf *out, const void *data, size_t len, int keep_space)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    rv_reserve(out, len * 4);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        char e[4] = {'\\', 0, 0, 0};
        size_t el = 2;
        if (c == '\\')
            e[1] = '\\';
        else if (c == '\r')
            e[1] = 'r';
        else if (c == '\n')
            e[1] = 'n';
        else if (c == '\t')
            e[1] = 't';
        else if ((c == ' ' && keep_space) || (c > 0x20 && c < 0x7f)) {
            e[0] = (char)c;
            el = 1;
        } else {
            e[1] = 'x';
            e[2] = hex[c >> 4];
            e[3] = hex[c & 15];
            el = 4;
        }
        rv_add(out, e, el);
    }
}

#endif

/* Helpers shared by the test FastCGI applications (app-echo, app-mpx) and by the
 * tests that check their output: the stdin checksum, the deterministic body
 * pattern and QUERY_STRING parsing. Header-only (static functions) so each app
 * stays a single translation unit and app-mpx keeps no link to libfcgi or to
 * libfcgiclient.
 *
 * Checksum: FNV-1a 64-bit (offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3), printed as 16 lowercase hex digits; PHP's
 * hash('fnv1a64', ...) prints the same digits, so the PHP scripts agree.
 *
 * Pattern: byte i of a `size=N` body is app_pattern_byte(i); a period of 64
 * shifted every 64 and 4096 bytes, so a lost or repeated block changes it. */
#ifndef FCGIC_TEST_APP_COMMON_H
#define FCGIC_TEST_APP_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define APP_FNV1A64_INIT 0xcbf29ce484222325ULL

static inline uint64_t app_fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static inline unsigned char app_pattern_byte(uint64_t i)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    return (unsigned char)alphabet[(i + (i >> 6) + (i >> 12)) & 63];
}

static inline int app_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Find the nth (0-based) occurrence of key in a query string ("a=1&b=2"),
 * percent-decode its value ('+' is a space) into out (always NUL-terminated,
 * truncated to outsz - 1). Returns 1 when found, 0 otherwise. A key without
 * '=' has the empty value. qs may be NULL. */
static inline int app_query_get(const char *qs, const char *key, size_t nth, char *out,
                                size_t outsz)
{
    size_t klen = strlen(key);
    const char *p = qs;
    if (outsz > 0)
        out[0] = '\0';
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq ? (size_t)(eq - p) : len;
        if (nlen == klen && memcmp(p, key, klen) == 0) {
            if (nth-- == 0) {
                size_t o = 0;
                const char *v = eq ? eq + 1 : p + len;
                const char *vend = p + len;
                while (v < vend && o + 1 < outsz) {
                    int c = (unsigned char)*v++;
                    if (c == '+') {
                        c = ' ';
                    } else if (c == '%' && vend - v >= 2 && app_hexval(v[0]) >= 0 &&
                               app_hexval(v[1]) >= 0) {
                        c = app_hexval(v[0]) * 16 + app_hexval(v[1]);
                        v += 2;
                    }
                    out[o++] = (char)c;
                }
                if (outsz > 0)
                    out[o] = '\0';
                return 1;
            }
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

/* Numeric query value, or dflt when absent or not a number. */
static inline long long app_query_num(const char *qs, const char *key, long long dflt)
{
    char buf[32];
    char *end;
    if (!app_query_get(qs, key, 0, buf, sizeof(buf)) || buf[0] == '\0')
        return dflt;
    long long v = strtoll(buf, &end, 10);
    return *end == '\0' ? v : dflt;
}

/* Reason phrase for the few statuses the apps are asked for. */
static inline const char *app_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Test";
    }
}

#endif

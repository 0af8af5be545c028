/* Expression engine: string functions (tolower ... md5), wildcard matching
 * as apr_fnmatch does it, IP subnets, and the MD5 / SHA-1 digests. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

static const char hexl[] = "0123456789abcdef";
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Characters ap_escape_uri (ap_os_escape_path, partial) leaves alone. */
static bool uri_keep(unsigned char c)
{
    return fcgic__ascii_isalnum(c) || (c && strchr("$-_.+!*'(),:;@&=/~", c) != NULL);
}

static int b64val(unsigned char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

size_t fcgic__expr_func_outmax(int func, size_t n)
{
    switch (func) {
    case FCGIC__F_TOLOWER:
    case FCGIC__F_TOUPPER:
    case FCGIC__F_UNESCAPE:
    case FCGIC__F_UNBASE64:
        return n;
    case FCGIC__F_ESCAPE:
        return n > SIZE_MAX / 3 ? SIZE_MAX : n * 3;
    case FCGIC__F_BASE64:
        return n > SIZE_MAX / 2 ? SIZE_MAX : (n + 2) / 3 * 4;
    case FCGIC__F_SHA1:
        return 40;
    case FCGIC__F_MD5:
        return 32;
    default:
        return 0;
    }
}

static size_t unescape(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        int h = i + 2 < n ? fcgic__ascii_hexval((unsigned char)in[i + 1]) : -1;
        int l = i + 2 < n ? fcgic__ascii_hexval((unsigned char)in[i + 2]) : -1;
        if (h < 0 || l < 0)
            return 0; /* Apache: bad escape gives "" */
        int v = h * 16 + l;
        if (v == 0)
            return 0; /* %00 is forbidden: "" */
        if (v == '/') { /* %2F is kept encoded */
            out[o++] = in[i];
            out[o++] = in[i + 1];
            out[o++] = in[i + 2];
        } else {
            out[o++] = (char)v;
        }
        i += 2;
    }
    return o;
}

static size_t unbase64(const char *in, size_t n, char *out)
{
    size_t valid = 0, o = 0;
    while (valid < n && b64val((unsigned char)in[valid]) >= 0)
        valid++;
    size_t i = 0;
    while (valid - i >= 4) {
        uint32_t v = (uint32_t)b64val((unsigned char)in[i]) << 18 |
                     (uint32_t)b64val((unsigned char)in[i + 1]) << 12 |
                     (uint32_t)b64val((unsigned char)in[i + 2]) << 6 |
                     (uint32_t)b64val((unsigned char)in[i + 3]);
        out[o++] = (char)(v >> 16);
        out[o++] = (char)(v >> 8);
        out[o++] = (char)v;
        i += 4;
    }
    size_t rest = valid - i;
    if (rest > 1) {
        uint32_t v = (uint32_t)b64val((unsigned char)in[i]) << 18 |
                     (uint32_t)b64val((unsigned char)in[i + 1]) << 12;
        if (rest > 2)
            v |= (uint32_t)b64val((unsigned char)in[i + 2]) << 6;
        out[o++] = (char)(v >> 16);
        if (rest > 2)
            out[o++] = (char)(v >> 8);
    }
    /* Apache's result is a C string: it ends at the first NUL. */
    char *z = memchr(out, '\0', o);
    return z ? (size_t)(z - out) : o;
}

size_t fcgic__expr_func_run(int func, const char *in, size_t n, char *out)
{
    size_t o = 0;
    switch (func) {
    case FCGIC__F_TOLOWER:
        for (size_t i = 0; i < n; i++)
            out[i] = fcgic__ascii_lower(in[i]);
        return n;
    case FCGIC__F_TOUPPER:
        for (size_t i = 0; i < n; i++)
            out[i] = fcgic__ascii_upper(in[i]);
        return n;
    case FCGIC__F_ESCAPE:
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)in[i];
            if (uri_keep(c)) {
                out[o++] = (char)c;
            } else {
                out[o++] = '%';
                out[o++] = hexl[c >> 4];
                out[o++] = hexl[c & 15];
            }
        }
        return o;
    case FCGIC__F_UNESCAPE:
        return unescape(in, n, out);
    case FCGIC__F_BASE64:
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
            if (i + 1 < n)
                v |= (uint32_t)(unsigned char)in[i + 1] << 8;
            if (i + 2 < n)
                v |= (unsigned char)in[i + 2];
            out[o++] = b64[v >> 18];
            out[o++] = b64[(v >> 12) & 63];
            out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
            out[o++] = i + 2 < n ? b64[v & 63] : '=';
        }
        return o;
    case FCGIC__F_UNBASE64:
        return unbase64(in, n, out);
    case FCGIC__F_SHA1: {
        uint8_t d[20];
        fcgic__sha1(in, n, d);
        for (int i = 0; i < 20; i++) {
            out[2 * i] = hexl[d[i] >> 4];
            out[2 * i + 1] = hexl[d[i] & 15];
        }
        return 40;
    }
    case FCGIC__F_MD5: {
        uint8_t d[16];
        fcgic__md5(in, n, d);
        for (int i = 0; i < 16; i++) {
            out[2 * i] = hexl[d[i] >> 4];
            out[2 * i + 1] = hexl[d[i] & 15];
        }
        return 32;
    }
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------------ */
/* Wildcards                                                                */
/* ------------------------------------------------------------------------ */

static int fold(int c, unsigned flags)
{
    return (flags & FCGIC__FNM_CASE_BLIND) ? (unsigned char)fcgic__ascii_lower((char)c) : c;
}

/* Match one bracket expression starting at pat[*pi] == '['. Returns 1 match,
 * 0 no match, -1 not a valid bracket (treat '[' literally). */
static int bracket(const char *pat, size_t plen, size_t *pi, int c, unsigned flags)
{
    size_t i = *pi + 1;
    bool neg = false, ok = false, first = true;
    if (i < plen && (pat[i] == '!' || pat[i] == '^')) {
        neg = true;
        i++;
    }
    c = fold(c, flags);
    while (i < plen && (pat[i] != ']' || first)) {
        first = false;
        int lo = (unsigned char)pat[i];
        if (lo == '\\' && i + 1 < plen)
            lo = (unsigned char)pat[++i];
        i++;
        int hi = lo;
        if (i + 1 < plen && pat[i] == '-' && pat[i + 1] != ']') {
            hi = (unsigned char)pat[i + 1];
            if (hi == '\\' && i + 2 < plen)
                hi = (unsigned char)pat[++i + 1];
            i += 2;
        }
        lo = fold(lo, flags);
        hi = fold(hi, flags);
        if (c >= lo && c <= hi)
            ok = true;
    }
    if (i >= plen)
        return -1;
    *pi = i + 1;
    return ok != neg;
}

bool fcgic__expr_fnmatch(const char *pat, size_t plen, const char *str, size_t slen,
                         unsigned flags)
{
    size_t pi = 0, si = 0;
    size_t star_p = SIZE_MAX, star_s = 0;
    bool path = (flags & FCGIC__FNM_PATHNAME) != 0;
    for (;;) {
        if (pi < plen && pat[pi] == '*') {
            while (pi < plen && pat[pi] == '*')
                pi++;
            star_p = pi;
            star_s = si;
            continue;
        }
        if (pi < plen && si < slen) {
            int c = (unsigned char)str[si];
            int pc = (unsigned char)pat[pi];
            if (pc == '?' && !(path && c == '/')) {
                pi++;
                si++;
                continue;
            }
            if (pc == '[') {
                size_t np = pi;
                int r = (path && c == '/') ? 0 : bracket(pat, plen, &np, c, flags);
                if (r == 1) {
                    pi = np;
                    si++;
                    continue;
                }
                if (r == 0)
                    goto mismatch;
                /* invalid bracket: literal '[' */
            }
            bool esc = false;
            if (pc == '\\' && pi + 1 < plen) {
                pc = (unsigned char)pat[++pi];
                esc = true;
            }
            if ((esc || pc != '?') && fold(pc, flags) == fold(c, flags)) {
                pi++;
                si++;
                if (path && c == '/')
                    star_p = SIZE_MAX; /* a star never crosses a slash */
                continue;
            }
        } else if (pi >= plen && si >= slen) {
            return true;
        }
    mismatch:
        if (star_p != SIZE_MAX && star_s < slen && !(path && str[star_s] == '/')) {
            star_s++;
            si = star_s;
            pi = star_p;
            continue;
        }
        return false;
    }
}

/* ------------------------------------------------------------------------ */
/* Subnets                                                                  */
/* ------------------------------------------------------------------------ */

static bool parse_uint(const char *s, size_t n, unsigned max, unsigned *out)
{
    unsigned v = 0;
    if (n == 0 || n > 3)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* Dotted IPv4, possibly partial ("10.1"); returns the count of parts. */
static int parse_v4_parts(const char *s, size_t n, uint8_t out[4])
{
    int parts = 0;
    size_t i = 0;
    memset(out, 0, 4);
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        unsigned v;
        if (parts == 4 || !parse_uint(s + i, j - i, 255, &v))
            return -1;
        out[parts++] = (uint8_t)v;
        if (j == n)
            break;
        i = j + 1;
        if (i == n)
            return -1;
    }
    return parts;
}

static bool parse_addr(const char *s, size_t n, int *family, uint8_t out[16])
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (memchr(s, ':', n)) {
        *family = 6;
        return inet_pton(AF_INET6, buf, out) == 1;
    }
    *family = 4;
    return inet_pton(AF_INET, buf, out) == 1;
}

int fcgic__expr_subnet_parse(struct fcgic__expr_subnet *sn, const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    size_t an = slash ? (size_t)(slash - s) : n;
    memset(sn, 0, sizeof(*sn));
    if (memchr(s, ':', an)) {
        unsigned bits = 128;
        if (!parse_addr(s, an, &sn->family, sn->addr) || sn->family != 6)
            return -1;
        if (slash && !parse_uint(slash + 1, n - an - 1, 128, &bits))
            return -1;
        if (slash && bits == 0)
            return -1;
        for (unsigned i = 0; i < 16; i++) {
            unsigned b = bits > i * 8 ? bits - i * 8 : 0;
            sn->mask[i] = b >= 8 ? 0xff : (uint8_t)(0xff00u >> b);
        }
    } else {
        sn->family = 4;
        int parts = parse_v4_parts(s, an, sn->addr);
        if (parts < 1)
            return -1;
        if (!slash) {
            memset(sn->mask, 0, 4);
            memset(sn->mask, 0xff, (size_t)parts);
        } else {
            const char *m = slash + 1;
            size_t mn = n - an - 1;
            unsigned bits;
            if (parts != 4)
                return -1;
            if (memchr(m, '.', mn)) {
                if (parse_v4_parts(m, mn, sn->mask) != 4)
                    return -1;
            } else if (parse_uint(m, mn, 32, &bits) && bits > 0) {
                for (unsigned i = 0; i < 4; i++) {
                    unsigned b = bits > i * 8 ? bits - i * 8 : 0;
                    sn->mask[i] = b >= 8 ? 0xff : (uint8_t)(0xff00u >> b);
                }
            } else {
                return -1;
            }
        }
    }
    for (int i = 0; i < 16; i++)
        sn->addr[i] &= sn->mask[i];
    return 0;
}

bool fcgic__expr_subnet_test(const struct fcgic__expr_subnet *sn, const char *s, size_t n)
{
    uint8_t a[16];
    int fam;
    if (!parse_addr(s, n, &fam, a))
        return false;
    const uint8_t *v = a;
    if (sn->family == 4 && fam == 6) {
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(a, mapped, 12) != 0)
            return false;
        v = a + 12;
    } else if (sn->family != fam) {
        return false;
    }
    int len = sn->family == 4 ? 4 : 16;
    for (int i = 0; i < len; i++)
        if ((v[i] & sn->mask[i]) != sn->addr[i])
            return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* MD5 (RFC 1321) and SHA-1 (FIPS 180-4)                                    */
/* ------------------------------------------------------------------------ */

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void md5_block(uint32_t *h, const uint8_t *p)
{
    static const uint32_t K[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391
    };
    static const int R[64] = { 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                               5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                               4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                               6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21 };
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rol(a + f + K[i] + w[g], R[i]);
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

static void sha1_block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = fcgic__get32(p + 4 * i);
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* Merkle-Damgard over 64-byte blocks, as MD5 and SHA-1 both do: the whole
 * blocks, then 0x80, zeros and the message length in bits (little-endian for
 * MD5, big-endian for SHA-1). */
static void md_hash(uint32_t *h, const void *data, size_t n, void (*block)(uint32_t *, const uint8_t *),
                    bool big_endian_length)
{
    const uint8_t *p = data;
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        block(h, p + i);
    uint8_t tail[128] = { 0 };
    size_t r = n - i;
    if (r)
        memcpy(tail, p + i, r);
    tail[r] = 0x80;
    size_t tl = r + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int k = 0; k < 8; k++)
        tail[big_endian_length ? tl - 1 - k : tl - 8 + k] = (uint8_t)(bits >> (8 * k));
    block(h, tail);
    if (tl == 128)
        block(h, tail + 64);
}

void fcgic__md5(const void *data, size_t n, uint8_t out[16])
{
    uint32_t h[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };
    md_hash(h, data, n, md5_block, false);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 4; j++)
            out[4 * k + j] = (uint8_t)(h[k] >> (8 * j));
}

void fcgic__sha1(const void *data, size_t n, uint8_t out[20])
{
    uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
    md_hash(h, data, n, sha1_block, true);
    for (int k = 0; k < 5; k++)
        fcgic__put32(out + 4 * k, h[k]);
}

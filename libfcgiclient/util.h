/* Private helpers shared by the library's modules: allocator hooks, a
 * growable byte buffer and overflow-safe size arithmetic. Not installed. */
#ifndef FCGIC_UTIL_H
#define FCGIC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fcgiclient/common.h"
#include "fcgiclient/error.h"

#define FCGIC__UNUSED(x) ((void)(x))

/* Copy of the caller's hooks with every member filled in. */
struct fcgic__alloc {
    struct fcgic_mem m;
    bool has_realloc;
};

void fcgic__alloc_init(struct fcgic__alloc *a, const struct fcgic_mem *mem);
/* Allocate a zeroed object of `size` bytes with the hooks `mem` (NULL =
 * libc). Its first member must be a struct fcgic__alloc, which is filled in
 * with the hooks. NULL when out of memory. */
void *fcgic__object_new(const struct fcgic_mem *mem, size_t size);
void *fcgic__malloc(const struct fcgic__alloc *a, size_t n);
void *fcgic__calloc(const struct fcgic__alloc *a, size_t n, size_t size);
/* old_n is the old size, needed when the hooks have no realloc. */
void *fcgic__realloc(const struct fcgic__alloc *a, void *p, size_t old_n, size_t n);
void fcgic__free(const struct fcgic__alloc *a, void *p);
char *fcgic__memdup(const struct fcgic__alloc *a, const void *p, size_t n); /* NUL-terminated */

/* Make room for `need` elements of `size` bytes in a growable array:
 * `array` is the address of the array pointer (any element type), `*cap` its
 * capacity in elements. Doubles from `first`. Returns 0, or FCGIC_E_NOMEM
 * with the array untouched. */
int fcgic__array_reserve(const struct fcgic__alloc *a, void *array, size_t *cap, size_t need, size_t size,
                         size_t first);

/* The version of a caller-filled struct (common.h, "Structs that grow"):
 * 0 means 1. Returns it, or 0 when it is newer than `newest`. */
static inline unsigned fcgic__struct_version(unsigned v, unsigned newest)
{
    if (v == 0)
        v = 1;
    return v <= newest ? v : 0;
}

/* Copy a caller's struct of src_size bytes (the size of the version it was
 * built with) into dst of dst_size, zero-filling the members it lacks. */
static inline void fcgic__copy_grown(void *dst, size_t dst_size, const void *src, size_t src_size)
{
    size_t n = src_size < dst_size ? src_size : dst_size;
    memcpy(dst, src, n);
    memset((char *)dst + n, 0, dst_size - n);
}

/* a + b into *out; false on overflow. */
static inline bool fcgic__add_ok(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b)
        return false;
    *out = a + b;
    return true;
}

/* a + b, saturating at UINT64_MAX (deadlines from a clock plus a timeout). */
static inline uint64_t fcgic__add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Growable byte buffer. len <= cap; data may be NULL while cap == 0. */
struct fcgic__buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Make room for `extra` more bytes; returns 0 or FCGIC_E_NOMEM. */
int fcgic__buf_reserve(struct fcgic__buf *b, const struct fcgic__alloc *a, size_t extra);
int fcgic__buf_append(struct fcgic__buf *b, const struct fcgic__alloc *a, const void *p, size_t n);
void fcgic__buf_free(struct fcgic__buf *b, const struct fcgic__alloc *a);

/* Big-endian helpers. */
static inline void fcgic__put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void fcgic__put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline uint16_t fcgic__get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t fcgic__get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ASCII-only byte classes and case mapping. Bytes from the wire are
 * classified with these, never with <ctype.h>, whose answers depend on the
 * host program's locale (setlocale()). Bytes >= 0x80 are in no class and
 * map to themselves. */
static inline bool fcgic__ascii_isdigit(unsigned char c)
{
    return c >= '0' && c <= '9';
}
static inline bool fcgic__ascii_isalpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool fcgic__ascii_isalnum(unsigned char c)
{
    return fcgic__ascii_isdigit(c) || fcgic__ascii_isalpha(c);
}
/* ' ', \t, \n, \v, \f, \r: isspace() in the C locale. */
static inline bool fcgic__ascii_isspace(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}
/* 0x20 .. 0x7e: isprint() in the C locale. */
static inline bool fcgic__ascii_isprint(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}
static inline char fcgic__ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}
static inline char fcgic__ascii_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
}
/* Value of a hex digit, -1 for any other byte. */
static inline int fcgic__ascii_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
/* ASCII case-insensitive equality of two byte strings. */
bool fcgic__ascii_ieq(const char *a, size_t an, const char *b, size_t bn);

/* Key of fcgic__hash_ci(): per object, not guessable from the network. */
struct fcgic__hash_key {
    uint64_t k0, k1;
};

/* A key from the kernel's random pool when it answers without blocking
 * (getrandom(2), GRND_NONBLOCK), mixed with the address of `obj` and of
 * the stack (ASLR) in any case. No global state, no clock. */
void fcgic__hash_key_init(struct fcgic__hash_key *key, const void *obj);

/* Keyed hash of n bytes of s with ASCII letters folded to lower case:
 * names equal under fcgic__ascii_ieq() hash equal, and without the key
 * nobody can choose names that collide. A multiply-mix of 16 bytes per
 * step (wyhash's construction, keyed at every step): a few ns for a header
 * name, where SipHash-1-3 made hashing 40% of an env build. */
uint64_t fcgic__hash_ci(const struct fcgic__hash_key *key, const char *s, size_t n);

#endif

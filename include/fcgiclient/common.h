/**
 * @file common.h
 * @brief Plain value types shared by every libfcgiclient module: allocator
 *        hooks, byte spans, I/O vectors and name-value parameters.
 *
 * Nothing here allocates or keeps state. Every stateful object of the library
 * is opaque and is created with `fcgic_<object>_new()`.
 */
#ifndef FCGICLIENT_COMMON_H
#define FCGICLIENT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a declaration as part of the exported ABI. */
#if defined(FCGIC_BUILDING) && defined(__GNUC__)
#define FCGIC_API __attribute__((visibility("default")))
#else
#define FCGIC_API
#endif

/**
 * Allocator hooks, copied by every `_new()` call that takes them.
 * Pass NULL instead of a struct to use the C library's malloc/realloc/free.
 * `realloc` may be NULL, in which case the library uses malloc + copy + free.
 * `ud` is passed back unchanged to each hook.
 */
struct fcgic_mem {
    void *(*malloc)(size_t size, void *ud);
    void *(*realloc)(void *ptr, size_t size, void *ud);
    void (*free)(void *ptr, void *ud);
    void *ud;
};

/** A borrowed run of bytes. The owner of the memory says how long it lives. */
struct fcgic_span {
    const char *ptr;
    size_t len;
};

/**
 * One element of an output vector. Layout-compatible with POSIX
 * `struct iovec` (pointer, then length), so a list of these can be passed to
 * writev(2) by a cast; the POSIX transport checks this at compile time.
 */
struct fcgic_iov {
    void *base;
    size_t len;
};

/**
 * A FastCGI name-value pair. Names and values are byte strings (they may
 * contain NUL); lengths are authoritative.
 */
struct fcgic_param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/** Convenience initialiser for a pair of NUL-terminated C string literals. */
#define FCGIC_PARAM_LIT(n, v) { (n), sizeof(n) - 1, (v), sizeof(v) - 1 }

/**
 * @name Structs that grow
 * The ABI may gain fields without breaking programs built today:
 *  - A struct the caller fills and the library reads (options, requests,
 *    configurations) starts with `unsigned version`. Zero-initialise it:
 *    0 means version 1. Later releases add members only at the end, raise
 *    the struct's `*_VERSION` macro, and read the new members only when
 *    `version` says they are there; set `version` to the macro to use them.
 *    A version newer than the library knows is FCGIC_E_INVAL.
 *  - A callbacks struct starts with `unsigned version`, which must be set
 *    (1 up to its `*_CALLBACKS_VERSION`); the library copies only the
 *    members that existed in that version and treats the rest as NULL.
 *  - A struct the library fills and hands out (results, events, heads)
 *    gains members only at the end; a program reads the ones it knows.
 * @{
 */
/** "No deadline" value for functions that return a time in nanoseconds. */
#define FCGIC_NO_DEADLINE UINT64_MAX
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* FCGICLIENT_COMMON_H */

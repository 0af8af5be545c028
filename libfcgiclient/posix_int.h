/* Private declarations shared by the POSIX transport's files: resolved
 * socket addresses. Not installed. */
#ifndef FCGIC_POSIX_INT_H
#define FCGIC_POSIX_INT_H

#include <stddef.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "fcgiclient/posix.h"
#include "util.h"

/* One address to try, in connect order. sockaddr_storage also holds a
 * sockaddr_un. */
struct fcgic__sockaddr {
    socklen_t len;
    struct sockaddr_storage ss;
};

/* Parse target and turn it into addresses when that needs no lookup (a
 * unix socket, a numeric address): returns 0 with an array from a's hooks
 * (*out, *n >= 1); 1 when the host name must be looked up (host, at least
 * 254 bytes, receives it NUL-terminated, *port its port); or
 * FCGIC_E_BAD_ADDRESS, FCGIC_E_NOMEM. */
int fcgic__posix_resolve(const struct fcgic__alloc *a, const char *target, struct fcgic__sockaddr **out,
                         size_t *n, char *host, uint16_t *port);

/* Look a host name up with getaddrinfo(3), blocking. Returns 0,
 * FCGIC_E_RESOLVE or FCGIC_E_NOMEM. */
int fcgic__posix_resolve_blocking(const struct fcgic__alloc *a, const char *host, uint16_t port,
                                  struct fcgic__sockaddr **out, size_t *n);

/* ---- asynchronous lookups (posix_resolve.c) ---- */

struct fcgic__dns;

/* The resolver of p: the options' hook, else c-ares when built with it.
 * a must outlive it. Returns 0, FCGIC_E_RESOLVE or FCGIC_E_NOMEM. */
int fcgic__dns_new(struct fcgic__dns **out, const struct fcgic__alloc *a, struct fcgic_posix *p,
                   const struct fcgic_posix_options *o);
/* Cancel pending lookups (no answer is delivered) and free. */
void fcgic__dns_free(struct fcgic__dns *d);
/* Can it look names up without blocking? */
int fcgic__dns_async(const struct fcgic__dns *d);
/* Addresses of host with port set: 0 with *out and *n (a kept answer, or one
 * given at once); 1 when the answer comes later (*wait is the lookup to
 * wait for: fcgic__posix_dns_done() tells); FCGIC_E_RESOLVE or
 * FCGIC_E_NOMEM. */
int fcgic__dns_lookup(struct fcgic__dns *d, const char *host, uint16_t port, uint64_t now,
                      struct fcgic_posix_query **wait, struct fcgic__sockaddr **out, size_t *n);
/* The answer of an ended lookup, port set: 0 with *out and *n, or its error. */
int fcgic__dns_addrs(const struct fcgic__dns *d, const struct fcgic_posix_query *q, uint16_t port,
                     struct fcgic__sockaddr **out, size_t *n);
/* fcgic_posix_resolved(): FCGIC_E_INVAL when q is not pending. */
int fcgic__dns_answer(struct fcgic__dns *d, struct fcgic_posix_query *q, const struct addrinfo *ai, uint64_t ttl_ns,
                      uint64_t now);
/* c-ares sockets and timer. */
int fcgic__dns_owns(const struct fcgic__dns *d, int fd);
size_t fcgic__dns_fds(const struct fcgic__dns *d, int *fds, unsigned *what, size_t max);
/* fd ready for events (fd -1: timeout). */
void fcgic__dns_process(struct fcgic__dns *d, int fd, unsigned events, uint64_t now);
uint64_t fcgic__dns_deadline(const struct fcgic__dns *d);

/* Called by posix_resolve.c (implemented in posix_loop.c): the lookup q
 * ended; connections waiting for it connect or fail. */
void fcgic__posix_dns_done(struct fcgic_posix *p, struct fcgic_posix_query *q, uint64_t now);
/* A resolver socket's interest changed (FCGIC_POSIX_REMOVE: closed). */
void fcgic__posix_dns_socket(struct fcgic_posix *p, int fd, unsigned what);

#endif

/* Private declarations shared by the POSIX transport's files: resolved
 * socket addresses. Not installed. */
#ifndef FCGIC_POSIX_INT_H
#define FCGIC_POSIX_INT_H

#include <stddef.h>
#include <sys/socket.h>

#include "fcgiclient/posix.h"
#include "util.h"

/* One address to try, in connect order. sockaddr_storage also holds a
 * sockaddr_un. */
struct fcgic__sockaddr {
    socklen_t len;
    struct sockaddr_storage ss;
};

/* Parse and resolve target into an array from a's hooks (*out, *n >= 1).
 * Returns 0, FCGIC_E_BAD_ADDRESS, FCGIC_E_RESOLVE or FCGIC_E_NOMEM. Host
 * names go through getaddrinfo(3) and block; numeric addresses do not. */
int fcgic__posix_resolve(const struct fcgic__alloc *a, const char *target, struct fcgic__sockaddr **out,
                         size_t *n);

#endif

/* Backend addresses of the POSIX transport: the syntax users write
 * (fcgi://host:port[/path], unix:/path.sock|fcgi://host/path) and its
 * resolution into socket addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/un.h>

#include "fcgiclient/env.h"
#include "posix_int.h"

#define MAX_HOST 253 /* longest DNS name; longer IPv6 literals do not exist */

static int bad(const char **detail, const char *why)
{
    if (detail)
        *detail = why;
    return FCGIC_E_BAD_ADDRESS;
}

/* The syntax is fcgic_env_parse_target()'s (env_target.c), shared with the
 * CGI environment builder; what only matters for connecting is checked
 * here: a port for TCP, a valid IPv6 literal, lengths that fit. */
int fcgic_posix_addr_parse(const char *target, struct fcgic_posix_addr *out, const char **detail)
{
    if (detail)
        *detail = NULL;
    if (target == NULL || out == NULL)
        return FCGIC_E_INVAL;
    memset(out, 0, sizeof(*out));
    struct fcgic_env_target t;
    int rc = fcgic_env_parse_target(target, strlen(target), &t);
    if (rc == FCGIC_E_NOMEM || rc == FCGIC_E_INVAL)
        return rc;
    if (rc < 0)
        return bad(detail, "malformed backend address: expected fcgi://host:port[/path] or "
                           "unix:/path/to.sock|fcgi://host[/path]");
    out->host = t.host;
    out->path = t.path;
    out->ipv6_literal = t.ipv6;
    if (out->path.ptr == NULL)
        out->path.ptr = t.host.ptr + t.host.len;
    if (t.unix_path.len > 0) {
        out->kind = FCGIC_POSIX_ADDR_UNIX;
        out->socket_path = t.unix_path;
        if (t.unix_path.len >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return bad(detail, "unix socket path is too long for sockaddr_un");
        return 0; /* the fcgi:// part is a name, never connected to */
    }
    out->kind = FCGIC_POSIX_ADDR_TCP;
    out->socket_path.ptr = t.fcgi_url.ptr;
    if (t.ipv6) {
        char tmp[46];
        struct in6_addr a6;
        if (t.host.len >= sizeof(tmp))
            return bad(detail, "text between '[' and ']' is not an IPv6 address");
        memcpy(tmp, t.host.ptr, t.host.len);
        tmp[t.host.len] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1)
            return bad(detail, "text between '[' and ']' is not an IPv6 address");
    } else if (t.host.len > MAX_HOST) {
        return bad(detail, "host name longer than 253 characters");
    }
    if (t.port_str.len == 0)
        return bad(detail, "fcgi:// address needs a port (fcgi://host:port/): there is no default port");
    if (t.port == 0)
        return bad(detail, "port 0 cannot be connected to");
    out->port = (uint16_t)t.port;
    return 0;
}

static int add_numeric(const struct fcgic__alloc *a, const char *host, uint16_t port, struct fcgic__sockaddr **out,
                       size_t *n)
{
    struct in_addr a4;
    struct in6_addr a6;
    struct fcgic__sockaddr *sa;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        sa = fcgic__calloc(a, 1, sizeof(*sa));
        if (sa == NULL)
            return FCGIC_E_NOMEM;
        struct sockaddr_in *sin = (struct sockaddr_in *)&sa->ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr = a4;
        sa->len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, host, &a6) == 1) {
        sa = fcgic__calloc(a, 1, sizeof(*sa));
        if (sa == NULL)
            return FCGIC_E_NOMEM;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sa->ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sin6->sin6_addr = a6;
        sa->len = sizeof(*sin6);
    } else {
        return 1; /* not numeric */
    }
    *out = sa;
    *n = 1;
    return 0;
}

int fcgic__posix_resolve_blocking(const struct fcgic__alloc *a, const char *host, uint16_t port,
                                  struct fcgic__sockaddr **out, size_t *n)
{
    char service[8];
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc == EAI_MEMORY)
        return FCGIC_E_NOMEM;
    if (rc != 0 || res == NULL)
        return FCGIC_E_RESOLVE;
    size_t count = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) && ai->ai_addrlen <= sizeof(struct sockaddr_storage))
            count++;
    if (count == 0) {
        freeaddrinfo(res);
        return FCGIC_E_RESOLVE;
    }
    struct fcgic__sockaddr *sa = fcgic__calloc(a, count, sizeof(*sa));
    if (sa == NULL) {
        freeaddrinfo(res);
        return FCGIC_E_NOMEM;
    }
    size_t i = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) && ai->ai_addrlen <= sizeof(struct sockaddr_storage)) {
            memcpy(&sa[i].ss, ai->ai_addr, ai->ai_addrlen);
            sa[i].len = ai->ai_addrlen;
            i++;
        }
    }
    freeaddrinfo(res);
    *out = sa;
    *n = count;
    return 0;
}

int fcgic__posix_resolve(const struct fcgic__alloc *a, const char *target, struct fcgic__sockaddr **out, size_t *n,
                         char *host, uint16_t *port)
{
    struct fcgic_posix_addr addr;
    int rc = fcgic_posix_addr_parse(target, &addr, NULL);
    if (rc)
        return rc;
    if (addr.kind == FCGIC_POSIX_ADDR_UNIX) {
        struct fcgic__sockaddr *sa = fcgic__calloc(a, 1, sizeof(*sa));
        if (sa == NULL)
            return FCGIC_E_NOMEM;
        struct sockaddr_un *sun = (struct sockaddr_un *)&sa->ss;
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, addr.socket_path.ptr, addr.socket_path.len);
        sa->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + addr.socket_path.len + 1);
        *out = sa;
        *n = 1;
        return 0;
    }
    memcpy(host, addr.host.ptr, addr.host.len); /* len <= MAX_HOST: checked by the parser */
    host[addr.host.len] = '\0';
    *port = addr.port;
    rc = add_numeric(a, host, addr.port, out, n);
    if (rc <= 0)
        return rc;
    if (addr.ipv6_literal)
        return FCGIC_E_BAD_ADDRESS; /* unreachable: the parser checked it */
    return 1;
}

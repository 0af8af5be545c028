/* Backend target strings as written in Apache configuration:
 *   [proxy:]fcgi://host[:port][/path]
 *   [proxy:]fcgi://[v6addr][:port][/path]
 *   [proxy:]unix:/socket/path|fcgi://host[:port][/path]
 *   [proxy:]unix:/socket/path   (the same as ...|fcgi://localhost)
 * Split into spans; shared with the POSIX transport for the connect address. */
#include "env_int.h"

static bool prefix_ci(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && fcgic__ascii_ieq(s, l, lit, l);
}

int fcgic_env_parse_target(const char *s, size_t len, struct fcgic_env_target *out)
{
    if (s == NULL || out == NULL)
        return FCGIC_E_INVAL;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return FCGIC_E_ENV_BAD_TARGET;
    }
    if (prefix_ci(s, len, "proxy:")) {
        s += 6;
        len -= 6;
    }
    if (prefix_ci(s, len, "unix:")) {
        const char *bar = memchr(s, '|', len);
        if (bar == NULL && len > 5) {
            /* A bare socket path, as people type it (and as fcgic's help
             * shows it): Apache's "|fcgi://localhost" is implied. */
            static const char implied[] = "fcgi://localhost";
            out->unix_path.ptr = s + 5;
            out->unix_path.len = len - 5;
            out->fcgi_url.ptr = implied;
            out->fcgi_url.len = sizeof implied - 1;
            out->host.ptr = implied + 7;
            out->host.len = sizeof implied - 8;
            return 0;
        }
        if (bar == NULL || bar == s + 5)
            return FCGIC_E_ENV_BAD_TARGET;
        out->unix_path.ptr = s + 5;
        out->unix_path.len = (size_t)(bar - s) - 5;
        len -= (size_t)(bar - s) + 1;
        s = bar + 1;
    }
    if (!prefix_ci(s, len, "fcgi://"))
        return FCGIC_E_ENV_BAD_TARGET;
    out->fcgi_url.ptr = s;
    out->fcgi_url.len = len;
    const char *a = s + 7;
    size_t rest = len - 7;
    const char *slash = memchr(a, '/', rest);
    size_t alen = slash ? (size_t)(slash - a) : rest;
    if (alen == 0 || memchr(a, '@', alen))
        return FCGIC_E_ENV_BAD_TARGET;
    size_t hend;
    if (a[0] == '[') {
        const char *rb = memchr(a, ']', alen);
        if (rb == NULL || rb == a + 1)
            return FCGIC_E_ENV_BAD_TARGET;
        for (const char *q = a + 1; q < rb; q++)
            if (!(fcgic__ascii_hexval((unsigned char)*q) >= 0 || *q == ':' || *q == '.'))
                return FCGIC_E_ENV_BAD_TARGET;
        out->host.ptr = a + 1;
        out->host.len = (size_t)(rb - a) - 1;
        out->ipv6 = 1;
        hend = (size_t)(rb - a) + 1;
        if (hend < alen && a[hend] != ':')
            return FCGIC_E_ENV_BAD_TARGET;
    } else {
        const char *colon = memchr(a, ':', alen);
        hend = colon ? (size_t)(colon - a) : alen;
        if (hend == 0 || memchr(a, '[', hend) || memchr(a, ']', hend))
            return FCGIC_E_ENV_BAD_TARGET;
        out->host.ptr = a;
        out->host.len = hend;
    }
    if (hend < alen) {
        const char *p = a + hend + 1;
        size_t pl = alen - hend - 1;
        unsigned long v = 0;
        if (pl > 5)
            return FCGIC_E_ENV_BAD_TARGET;
        for (size_t i = 0; i < pl; i++) {
            if (p[i] < '0' || p[i] > '9')
                return FCGIC_E_ENV_BAD_TARGET;
            v = v * 10 + (unsigned long)(p[i] - '0');
        }
        if (v > 65535)
            return FCGIC_E_ENV_BAD_TARGET;
        out->port_str.ptr = p;
        out->port_str.len = pl;
        out->port = (unsigned)v;
    }
    if (slash) {
        out->path.ptr = slash;
        out->path.len = rest - alen;
    }
    return 0;
}

/* URI and path handling of the environment builder: splitting the request
 * target, Apache's path normalisation and unescaping, the re-encoding that
 * mod_proxy applies to backend paths, and the two small matching algorithms
 * (ProxyPass prefix match, SCRIPT_NAME / PATH_INFO split) whose exact
 * behaviour shows in the params. */
#include "env_int.h"

static bool unreserved(unsigned char c)
{
    return fcgic__ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int fcgic__env_split_target(const char *t, size_t len, struct fcgic__env_uri *u)
{
    memset(u, 0, sizeof(*u));
    if (len == 0)
        return FCGIC_E_ENV_BAD_URI;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c == 0x7f)
            return FCGIC_E_ENV_BAD_URI;
    }
    size_t i = 0;
    if (t[0] != '/') {
        /* absolute form: scheme "://" authority [path] */
        size_t s = 0;
        if (!fcgic__ascii_isalpha((unsigned char)t[0]))
            return FCGIC_E_ENV_BAD_URI;
        while (s < len && (fcgic__ascii_isalnum((unsigned char)t[s]) || t[s] == '+' ||
                           t[s] == '-' || t[s] == '.'))
            s++;
        if (len - s < 3 || memcmp(t + s, "://", 3) != 0)
            return FCGIC_E_ENV_BAD_URI;
        size_t a = s + 3, e = a;
        while (e < len && t[e] != '/' && t[e] != '?' && t[e] != '#')
            e++;
        const char *auth = t + a;
        size_t alen = e - a;
        if (memchr(auth, '@', alen))
            return FCGIC_E_ENV_BAD_URI;
        size_t hend;
        if (alen && auth[0] == '[') {
            const char *rb = memchr(auth, ']', alen);
            if (rb == NULL)
                return FCGIC_E_ENV_BAD_URI;
            u->host.ptr = auth + 1;
            u->host.len = (size_t)(rb - auth) - 1;
            u->host_ipv6 = true;
            hend = (size_t)(rb - auth) + 1;
            if (hend < alen && auth[hend] != ':')
                return FCGIC_E_ENV_BAD_URI;
        } else {
            const char *colon = memchr(auth, ':', alen);
            hend = colon ? (size_t)(colon - auth) : alen;
            u->host.ptr = auth;
            u->host.len = hend;
        }
        if (hend < alen) {
            u->port.ptr = auth + hend + 1;
            u->port.len = alen - hend - 1;
        }
        u->has_authority = true;
        i = e;
        if (i >= len || t[i] != '/') {
            u->path.ptr = "/";
            u->path.len = 1;
            goto query;
        }
    }
    {
        size_t p = i;
        while (i < len && t[i] != '?' && t[i] != '#')
            i++;
        u->path.ptr = t + p;
        u->path.len = i - p;
    }
query:
    if (i < len && t[i] == '?') {
        size_t q = ++i;
        while (i < len && t[i] != '#')
            i++;
        u->query.ptr = t + q;
        u->query.len = i - q;
    }
    return 0;
}

/* Remove the segment just written (o[seg_slash..]) according to "." / "..". */
static int dot_segments(struct fcgic__buf *o, size_t seg_slash, bool at_end, bool *above)
{
    size_t seg = seg_slash + 1;
    size_t sl = o->len - seg;
    if (sl == 1 && o->data[seg] == '.') {
        o->len = at_end ? seg : seg_slash;
    } else if (sl == 2 && o->data[seg] == '.' && o->data[seg + 1] == '.') {
        o->len = seg_slash;
        if (o->len == 0) {
            *above = true;
            return 0;
        }
        size_t k = o->len;
        while (k > 0 && o->data[k - 1] != '/')
            k--;
        /* k - 1 is the previous segment's '/' */
        o->len = at_end ? k : k - 1;
    }
    return 0;
}

/* Apache's second ap_normalize_path() (AP_NORMALIZE_KEEP_SLASHES |
 * AP_NORMALIZE_NOT_ABOVE_ROOT), run when AllowEncodedSlashes On has decoded
 * a %2F: the "." and ".." segments that the decoding made ("/.%2F",
 * "/..%2F..%2Fx") are removed, "//" is kept. In place on a path that starts
 * with '/'. Returns false when a ".." would climb above the root. */
static bool renormalize(struct fcgic__buf *o)
{
    char *p = o->data;
    size_t n = o->len, l = 1, w = 1;
    bool ok = true;
    while (l < n) {
        if (p[w - 1] == '/' && p[l] == '.') {
            if (l + 1 == n || p[l + 1] == '/') { /* "." */
                l += l + 1 < n ? 2 : 1;
                continue;
            }
            if (p[l + 1] == '.' && (l + 2 == n || p[l + 2] == '/')) { /* ".." */
                if (w > 1) {
                    do
                        w--;
                    while (p[w - 1] != '/');
                } else {
                    ok = false;
                }
                l += l + 2 < n ? 3 : 2;
                continue;
            }
        }
        p[w++] = p[l++];
    }
    o->len = w;
    return ok;
}

int fcgic__env_decode_path(const struct fcgic__alloc *a, struct fcgic__buf *tmp,
                           struct fcgic__buf *out, const char *p, size_t n,
                           enum fcgic_env_encoded_slashes mode)
{
    tmp->len = 0;
    out->len = 0;
    if (n == 0 || p[0] != '/')
        return FCGIC_E_ENV_BAD_URI;
    /* Worst case the output is as long as the input. */
    int rc = fcgic__buf_reserve(tmp, a, n + 1);
    if (rc)
        return rc;
    size_t i = 0;
    bool above = false;
    while (i < n) {
        while (i < n && p[i] == '/')
            i++;
        size_t seg_slash = tmp->len;
        tmp->data[tmp->len++] = '/';
        while (i < n && p[i] != '/') {
            if (p[i] == '%') {
                int h1 = i + 1 < n ? fcgic__ascii_hexval((unsigned char)p[i + 1]) : -1;
                int h2 = i + 2 < n ? fcgic__ascii_hexval((unsigned char)p[i + 2]) : -1;
                if (h1 < 0 || h2 < 0)
                    return FCGIC_E_ENV_BAD_URI;
                unsigned char c = (unsigned char)(h1 * 16 + h2);
                if (unreserved(c)) {
                    tmp->data[tmp->len++] = (char)c;
                } else {
                    tmp->data[tmp->len++] = '%';
                    tmp->data[tmp->len++] = fcgic__ascii_upper(p[i + 1]);
                    tmp->data[tmp->len++] = fcgic__ascii_upper(p[i + 2]);
                }
                i += 3;
            } else {
                tmp->data[tmp->len++] = p[i++];
            }
        }
        dot_segments(tmp, seg_slash, i >= n, &above);
        if (above)
            return FCGIC_E_ENV_BAD_URI;
    }
    if (tmp->len == 0)
        tmp->data[tmp->len++] = '/';
    rc = fcgic__buf_reserve(out, a, tmp->len + 1);
    if (rc)
        return rc;
    const char *s = tmp->data;
    size_t m = tmp->len;
    bool slash_decoded = false;
    for (size_t k = 0; k < m; k++) {
        if (s[k] != '%') {
            out->data[out->len++] = s[k];
            continue;
        }
        unsigned char c = (unsigned char)(fcgic__ascii_hexval((unsigned char)s[k + 1]) * 16 +
                                          fcgic__ascii_hexval((unsigned char)s[k + 2]));
        if (c == '/') {
            if (mode == FCGIC_ENV_SLASHES_REJECT)
                return FCGIC_E_ENV_ENCODED_SLASH;
            if (mode == FCGIC_ENV_SLASHES_NODECODE) {
                memcpy(out->data + out->len, s + k, 3);
                out->len += 3;
                k += 2;
                continue;
            }
            slash_decoded = true;
        }
        if (c == 0)
            return FCGIC_E_ENV_PATH_CTL;
        out->data[out->len++] = (char)c;
        k += 2;
    }
    if (slash_decoded && !renormalize(out))
        return FCGIC_E_ENV_BAD_URI;
    return 0;
}

static const char path_allowed[] = "~$-_.+!*'(),;:@&=";

int fcgic__env_canonenc(const struct fcgic__alloc *a, struct fcgic__buf *out, const char *p,
                        size_t n, bool noencslash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t need;
    if (n > (SIZE_MAX - 1) / 3)
        return FCGIC_E_NOMEM;
    need = 3 * n + 1;
    int rc = fcgic__buf_reserve(out, a, need);
    if (rc)
        return rc;
    char *y = out->data + out->len;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '/') {
            y[j++] = '/';
            continue;
        }
        if (noencslash && ch == '%') {
            int h1 = i + 1 < n ? fcgic__ascii_hexval((unsigned char)p[i + 1]) : -1;
            int h2 = i + 2 < n ? fcgic__ascii_hexval((unsigned char)p[i + 2]) : -1;
            if (h1 < 0 || h2 < 0)
                return FCGIC_E_ENV_BAD_URI;
            if (h1 * 16 + h2 == '/') {
                y[j++] = p[i];
                y[j++] = p[i + 1];
                y[j++] = p[i + 2];
                i += 2;
                continue;
            }
            /* any other escape: the '%' itself is encoded below */
        }
        if (!fcgic__ascii_isalnum(ch) && (ch == 0 || strchr(path_allowed, ch) == NULL)) {
            y[j++] = '%';
            y[j++] = hex[ch >> 4];
            y[j++] = hex[ch & 15];
        } else {
            y[j++] = (char)ch;
        }
    }
    out->len += j;
    return 0;
}

size_t fcgic__env_unescape_keep2f(char *s, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n) {
            int h1 = fcgic__ascii_hexval((unsigned char)s[i + 1]);
            int h2 = fcgic__ascii_hexval((unsigned char)s[i + 2]);
            if (h1 >= 0 && h2 >= 0) {
                int c = h1 * 16 + h2;
                if (c != '/' && c != 0) {
                    s[j++] = (char)c;
                    i += 2;
                    continue;
                }
            }
        }
        s[j++] = s[i];
    }
    return j;
}

int fcgic__env_normalize_literal(const struct fcgic__alloc *a, struct fcgic__buf *out,
                                 const char *p, size_t n)
{
    size_t base = out->len;
    int rc = fcgic__buf_reserve(out, a, n + 2);
    if (rc)
        return rc;
    /* Work on a sub-buffer view starting at base. */
    struct fcgic__buf v = {out->data + base, 0, out->cap - base};
    size_t i = 0;
    bool above = false;
    if (n == 0 || p[0] != '/')
        v.data[v.len++] = '/';
    while (i < n) {
        while (i < n && p[i] == '/')
            i++;
        size_t seg_slash = v.len;
        v.data[v.len++] = '/';
        while (i < n && p[i] != '/')
            v.data[v.len++] = p[i++];
        dot_segments(&v, seg_slash, i >= n, &above);
        if (above)
            return 1;
    }
    if (v.len == 0)
        v.data[v.len++] = '/';
    out->len = base + v.len;
    return 0;
}

bool fcgic__env_has_dotdot(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '.' && p[i + 1] == '.' && (i == 0 || p[i - 1] == '/') &&
            (i + 2 == n || p[i + 2] == '/'))
            return true;
    return false;
}

size_t fcgic__env_find_path_info(const char *uri, size_t ulen, const char *pi, size_t plen)
{
    /* Apache's ap_find_path_info(): walk both strings backwards while they
     * agree, letting a run of '/' in PATH_INFO match one '/', then extend to
     * the end of the URI segment reached. */
    long lu = (long)ulen, lp = (long)plen;
    while (lu-- && lp-- && uri[lu] == pi[lp]) {
        if (pi[lp] == '/') {
            while (lp && pi[lp - 1] == '/')
                --lp;
        }
    }
    if (lu == -1)
        lu = 0;
    while ((size_t)lu < ulen && uri[lu] != '/')
        ++lu;
    return (size_t)lu;
}

size_t fcgic__env_alias_match(const char *uri, size_t ulen, const char *alias, size_t alen)
{
    const char *ap = alias, *aend = alias + alen;
    const char *up = uri, *uend = uri + ulen;
    if (alen == 0)
        return 0;
    while (ap < aend && up < uend) {
        if (*ap == '/') {
            if (*up != '/')
                return 0;
            while (ap < aend && *ap == '/')
                ++ap;
            while (up < uend && *up == '/')
                ++up;
        } else if (*up++ != *ap++) {
            return 0;
        }
    }
    if (up == uend && ap != aend)
        return 0;
    if (ap[-1] != '/' && up < uend && *up != '/')
        return 0;
    return (size_t)(up - uri);
}

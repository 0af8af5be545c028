/* Mappings (ProxyPass, ProxyPassMatch, SetHandler) and the builder that turns
 * one request into the params Apache httpd 2.4 mod_proxy_fcgi would send.
 *
 * The request path goes through the same steps as in Apache:
 *   raw target -> normalised, unescaped path (r->uri)
 *   mapping    -> backend URL "fcgi://host:port/path"   (proxy_trans)
 *   canon      -> "proxy:fcgi://host[:port]/" + re-encoded path (r->filename)
 *   strategy   -> PATH_INFO (proxy-fcgi-pathinfo)
 *   profile    -> SCRIPT_FILENAME (ProxyFCGIBackendType)
 *   CGI vars   -> SCRIPT_NAME from ap_find_path_info(), PATH_TRANSLATED from
 *                 DOCUMENT_ROOT + PATH_INFO
 * then the params are emitted in the order of ap_add_common_vars() and
 * ap_add_cgi_vars(). */
#include "env_int.h"

#include <stdio.h>

struct fcgic_env_map {
    struct fcgic__alloc alloc;
    enum fcgic_env_map_kind kind;
    enum fcgic_env_backend backend;
    enum fcgic_env_pathinfo pathinfo;
    enum fcgic_env_encoded_slashes slashes;
    unsigned flags;
    char *match;
    size_t match_len;
#ifdef FCGIC_HAVE_PCRE2
    pcre2_code *re;
#else
    void *re; /* always NULL: no regex without PCRE2 */
#endif
    char *target; /* copy of the configured target */
    struct fcgic_span fcgi_url; /* into target */
    /* The target's authority ("fcgi://host[:port]", into target) and its
     * canonical form "proxy:fcgi://host[:port]/", computed once (NULL when
     * the authority holds a substitution or does not parse). */
    struct fcgic_span auth;
    char *canon_auth;
    size_t canon_auth_len;
    char *rule;   /* "ProxyPass /x/ fcgi://..." for explain */
    size_t rule_len;
    struct fcgic_span server_name, server_admin, docroot, ctx_prefix, ctx_docroot, software,
        signature, path_env;
    bool has_docroot, has_path_env;
    unsigned server_port;
    char **dirindex;
    size_t n_dirindex;
    int (*stat)(void *ud, const char *path, size_t len, enum fcgic_env_file_type *type);
    void *stat_ud;
};

enum { S_URI, S_TMP, S_FOUND, S_FILE, S_PI, S_FS };

/* $0..$9, Apache's AP_MAX_REG_MATCH */
#define REGEX_PAIRS 10u

enum fcgic_env_pathinfo fcgic_env_pathinfo_parse(const char *value, size_t len)
{
    if (value == NULL || len == 0)
        return FCGIC_ENV_PATHINFO_NONE;
    if (fcgic__ascii_ieq(value, len, "full", 4))
        return FCGIC_ENV_PATHINFO_FULL;
    if (fcgic__ascii_ieq(value, len, "first-dot", 9))
        return FCGIC_ENV_PATHINFO_FIRST_DOT;
    if (fcgic__ascii_ieq(value, len, "last-dot", 8))
        return FCGIC_ENV_PATHINFO_LAST_DOT;
    if (fcgic__ascii_ieq(value, len, "unescape", 8))
        return FCGIC_ENV_PATHINFO_UNESCAPE;
    return FCGIC_ENV_PATHINFO_WHOLE;
}

static int dup_span(const struct fcgic__alloc *a, struct fcgic_span *dst, const char *s,
                    const char *dflt)
{
    if (s == NULL)
        s = dflt;
    size_t n = strlen(s);
    char *c = fcgic__memdup(a, s, n);
    if (c == NULL)
        return FCGIC_E_NOMEM;
    dst->ptr = c;
    dst->len = n;
    return 0;
}

void fcgic_env_map_free(struct fcgic_env_map *map)
{
    if (map == NULL)
        return;
    const struct fcgic__alloc *a = &map->alloc;
#ifdef FCGIC_HAVE_PCRE2
    pcre2_code_free(map->re);
#endif
    fcgic__free(a, map->match);
    fcgic__free(a, map->target);
    fcgic__free(a, map->canon_auth);
    fcgic__free(a, map->rule);
    struct fcgic_span *spans[] = {&map->server_name, &map->server_admin, &map->docroot,
                                  &map->ctx_prefix, &map->ctx_docroot, &map->software,
                                  &map->signature, &map->path_env};
    for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++)
        fcgic__free(a, (void *)(uintptr_t)spans[i]->ptr);
    if (map->dirindex) {
        for (size_t i = 0; i < map->n_dirindex; i++)
            fcgic__free(a, map->dirindex[i]);
        fcgic__free(a, map->dirindex);
    }
    struct fcgic__alloc copy = *a;
    fcgic__free(&copy, map);
}

#ifdef FCGIC_HAVE_PCRE2
static int compile_re(struct fcgic_env_map *m, const char *pat, size_t len)
{
    int rc = fcgic__regex_compile(&m->re, &m->alloc, pat, len, PCRE2_DOLLAR_ENDONLY,
                                  (m->flags & FCGIC_ENV_NO_JIT) != 0, NULL);
    return rc == FCGIC_E_INVAL ? FCGIC_E_ENV_BAD_PATTERN : rc;
}
#else
/* Built without PCRE2: no regex mapping can be made. */
static int compile_re(struct fcgic_env_map *m, const char *pat, size_t len)
{
    return FCGIC_E_NOT_BUILT;
}
#endif

static const char *const kind_names[] = {"ProxyPass", "ProxyPassMatch", "SetHandler"};

/* Append "proxy:fcgi://host[:port]/" for the authority "fcgi://host[:port]"
 * (s, alen) to o: the host lower-cased, mod_proxy's default port 8000 left
 * out. */
static int canon_authority(const struct fcgic__alloc *a, struct fcgic__buf *o, const char *s, size_t alen)
{
    struct fcgic_env_target t;
    if (fcgic_env_parse_target(s, alen, &t) != 0)
        return FCGIC_E_ENV_BAD_URI;
    int rc = fcgic__buf_append(o, a, "proxy:fcgi://", 13);
    if (rc == 0 && t.ipv6)
        rc = fcgic__buf_append(o, a, "[", 1);
    if (rc == 0)
        rc = fcgic__buf_reserve(o, a, t.host.len);
    if (rc)
        return rc;
    for (size_t i = 0; i < t.host.len; i++)
        o->data[o->len++] = fcgic__ascii_lower(t.host.ptr[i]);
    if (t.ipv6 && (rc = fcgic__buf_append(o, a, "]", 1)) != 0)
        return rc;
    if (t.port_str.len && t.port != 8000) {
        char pb[8];
        int pl = snprintf(pb, sizeof pb, ":%u", t.port);
        if ((rc = fcgic__buf_append(o, a, pb, (size_t)pl)) != 0)
            return rc;
    }
    return fcgic__buf_append(o, a, "/", 1);
}

/* The authority of an fcgi:// URL: up to the first '/' after "fcgi://". */
static size_t authority_len(const char *s, size_t n)
{
    const char *slash = n > 7 ? memchr(s + 7, '/', n - 7) : NULL;
    return slash ? (size_t)(slash - s) : n;
}

int fcgic_env_map_new(struct fcgic_env_map **out, const struct fcgic_env_map_config *cfg,
                      const struct fcgic_mem *mem)
{
    if (out == NULL || cfg == NULL || cfg->target == NULL ||
        !fcgic__struct_version(cfg->version, FCGIC_ENV_MAP_CONFIG_VERSION))
        return FCGIC_E_INVAL;
    if ((unsigned)cfg->kind > FCGIC_ENV_MAP_HANDLER ||
        (unsigned)cfg->backend > FCGIC_ENV_BACKEND_GENERIC ||
        (unsigned)cfg->pathinfo > FCGIC_ENV_PATHINFO_WHOLE ||
        (unsigned)cfg->encoded_slashes > FCGIC_ENV_SLASHES_NODECODE)
        return FCGIC_E_INVAL;
    if (cfg->kind != FCGIC_ENV_MAP_HANDLER && cfg->match == NULL)
        return FCGIC_E_INVAL;
    bool needs_fs = cfg->kind == FCGIC_ENV_MAP_HANDLER || cfg->pathinfo == FCGIC_ENV_PATHINFO_FULL;
    if (needs_fs && cfg->stat == NULL)
        return FCGIC_E_INVAL;
    if (cfg->kind == FCGIC_ENV_MAP_HANDLER && cfg->document_root == NULL)
        return FCGIC_E_INVAL;
    if (cfg->document_root && (cfg->document_root[0] != '/' ||
                               fcgic__env_has_dotdot(cfg->document_root, strlen(cfg->document_root))))
        return FCGIC_E_INVAL;
    if (cfg->n_directory_index && cfg->directory_index == NULL)
        return FCGIC_E_INVAL;
    if (cfg->kind == FCGIC_ENV_MAP_PREFIX && cfg->match[0] != '/')
        return FCGIC_E_ENV_BAD_PATTERN;
    struct fcgic_env_target t;
    int rc = fcgic_env_parse_target(cfg->target, strlen(cfg->target), &t);
    if (rc)
        return rc;
    if (fcgic__env_has_dotdot(t.path.ptr, t.path.len))
        return FCGIC_E_ENV_BAD_TARGET; /* no request could stay under it */

    struct fcgic__alloc a;
    fcgic__alloc_init(&a, mem);
    struct fcgic_env_map *m = fcgic__calloc(&a, 1, sizeof(*m));
    if (m == NULL)
        return FCGIC_E_NOMEM;
    m->alloc = a;
    m->kind = cfg->kind;
    m->backend = cfg->backend;
    m->pathinfo = cfg->pathinfo == FCGIC_ENV_PATHINFO_DEFAULT ? FCGIC_ENV_PATHINFO_NONE
                                                             : cfg->pathinfo;
    m->slashes = cfg->encoded_slashes;
    m->flags = cfg->flags;
    m->server_port = cfg->server_port;
    m->stat = cfg->stat;
    m->stat_ud = cfg->stat_ud;
    rc = FCGIC_E_NOMEM;
    size_t tlen = strlen(cfg->target);
    m->target = fcgic__memdup(&a, cfg->target, tlen);
    if (m->target == NULL)
        goto fail;
    /* A bare "unix:/path" target implies "fcgi://localhost", which
     * fcgic_env_parse_target() hands out as static storage, not a span of
     * the target. */
    bool url_in_target = t.fcgi_url.ptr >= cfg->target && t.fcgi_url.ptr < cfg->target + tlen;
    m->fcgi_url.ptr = url_in_target ? m->target + (t.fcgi_url.ptr - cfg->target) : t.fcgi_url.ptr;
    m->fcgi_url.len = t.fcgi_url.len;
    m->auth.ptr = m->fcgi_url.ptr;
    m->auth.len = authority_len(m->fcgi_url.ptr, m->fcgi_url.len);
    if (memchr(m->auth.ptr, '$', m->auth.len) == NULL) {
        struct fcgic__buf cb = {NULL, 0, 0};
        if (canon_authority(&a, &cb, m->auth.ptr, m->auth.len) == 0) {
            m->canon_auth = cb.data;
            m->canon_auth_len = cb.len;
        } else {
            fcgic__buf_free(&cb, &a);
        }
    }
    if (cfg->match) {
        m->match_len = strlen(cfg->match);
        m->match = fcgic__memdup(&a, cfg->match, m->match_len);
        if (m->match == NULL)
            goto fail;
        if (cfg->kind != FCGIC_ENV_MAP_PREFIX && (rc = compile_re(m, m->match, m->match_len)) != 0)
            goto fail;
        rc = FCGIC_E_NOMEM;
    }
    {
        const char *k = kind_names[cfg->kind];
        const char *mt = cfg->match ? cfg->match : "";
        size_t rl = strlen(k) + strlen(mt) + tlen + 16;
        m->rule = fcgic__malloc(&a, rl);
        if (m->rule == NULL)
            goto fail;
        if (cfg->kind == FCGIC_ENV_MAP_HANDLER)
            snprintf(m->rule, rl, "%s proxy:%s%s%s", k, cfg->target, *mt ? " for " : "", mt);
        else
            snprintf(m->rule, rl, "%s \"%s\" \"%s\"", k, mt, cfg->target);
        m->rule_len = strlen(m->rule);
    }
    if (dup_span(&a, &m->server_name, cfg->server_name, "localhost") ||
        dup_span(&a, &m->server_admin, cfg->server_admin, "") ||
        dup_span(&a, &m->docroot, cfg->document_root, "") ||
        dup_span(&a, &m->ctx_prefix, cfg->context_prefix, "") ||
        dup_span(&a, &m->ctx_docroot, cfg->context_document_root,
                 cfg->document_root ? cfg->document_root : "") ||
        dup_span(&a, &m->software, cfg->server_software, "libfcgiclient") ||
        dup_span(&a, &m->signature, cfg->server_signature, "") ||
        dup_span(&a, &m->path_env, cfg->path_env, ""))
        goto fail;
    m->has_docroot = cfg->document_root != NULL;
    m->has_path_env = cfg->path_env != NULL;
    /* Apache drops a trailing '/' of DocumentRoot. */
    while (m->docroot.len > 1 && m->docroot.ptr[m->docroot.len - 1] == '/')
        m->docroot.len--;
    if (cfg->n_directory_index) {
        m->dirindex = fcgic__calloc(&a, cfg->n_directory_index, sizeof(char *));
        if (m->dirindex == NULL)
            goto fail;
        m->n_dirindex = cfg->n_directory_index;
        for (size_t i = 0; i < cfg->n_directory_index; i++) {
            const char *d = cfg->directory_index[i] ? cfg->directory_index[i] : "";
            if ((m->dirindex[i] = fcgic__memdup(&a, d, strlen(d))) == NULL)
                goto fail;
        }
    }
    *out = m;
    return 0;
fail:
    fcgic_env_map_free(m);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* building */

struct build {
    struct fcgic_env *env;
    const struct fcgic_env_map *map;
    const struct fcgic_env_request *req;
    enum fcgic_env_pathinfo strategy;
    const char *map_rule; /* arena copy */
    /* results of the mapping step */
    const char *file_rule;
    enum fcgic_env_origin file_origin;
    bool has_pi;
    const char *pi_rule;
    enum fcgic_env_origin pi_origin;
    size_t canon_path_off; /* where the re-encoded path starts in S_FILE */
    size_t header_bytes;
    /* body framing headers */
    bool has_te;                 /* the request has a Transfer-Encoding */
    bool cl_done;                /* CONTENT_LENGTH was emitted from a header */
    unsigned long long cl_value; /* its value */
};

static struct fcgic__buf *SB(struct build *b, int i)
{
    return &b->env->scratch[i];
}

static int do_stat(struct build *b, struct fcgic__buf *buf, size_t len,
                   enum fcgic_env_file_type *type)
{
    /* NUL-terminate at len temporarily (the buffer always has room: we
     * reserve one extra byte before walking). */
    char saved = buf->data[len];
    buf->data[len] = '\0';
    *type = FCGIC_ENV_FILE_NONE;
    int rc = b->map->stat(b->map->stat_ud, buf->data, len, type);
    buf->data[len] = saved;
    return rc < 0 ? FCGIC_E_CALLBACK : 0;
}

/* Apache's directory walk over buf[0..len) from offset `from` (at a '/'):
 * stops at the first component that is not a directory. *end receives the
 * end of that component (len when everything is a directory). */
static int walk(struct build *b, struct fcgic__buf *buf, size_t from, size_t len,
                enum fcgic_env_file_type *type, size_t *end)
{
    int rc = fcgic__buf_reserve(buf, &b->env->alloc, 1);
    if (rc)
        return rc;
    size_t i = from;
    while (i < len) {
        size_t s = i + 1, e = s;
        while (e < len && buf->data[e] != '/')
            e++;
        if (e == s) {
            i = e;
            continue;
        }
        enum fcgic_env_file_type t;
        if ((rc = do_stat(b, buf, e, &t)) != 0)
            return rc;
        if (t != FCGIC_ENV_FILE_DIRECTORY) {
            *type = t == FCGIC_ENV_FILE_REGULAR ? t : FCGIC_ENV_FILE_NONE;
            *end = e;
            return 0;
        }
        i = e;
    }
    *type = FCGIC_ENV_FILE_DIRECTORY;
    *end = len;
    return 0;
}

/* mod_proxy_fcgi canon: "fcgi://host[:port]/path" in S_FOUND ->
 * "proxy:fcgi://host[:port]/" + canonenc(path) in S_FILE. */
static int canon(struct build *b)
{
    struct fcgic__buf *f = SB(b, S_FOUND), *o = SB(b, S_FILE);
    const struct fcgic__alloc *a = &b->env->alloc;
    const struct fcgic_env_map *m = b->map;
    o->len = 0;
    const char *s = f->data;
    size_t n = f->len;
    size_t alen = authority_len(s, n);
    int rc;
    if (m->canon_auth && alen == m->auth.len && memcmp(s, m->auth.ptr, alen) == 0)
        rc = fcgic__buf_append(o, a, m->canon_auth, m->canon_auth_len);
    else
        rc = canon_authority(a, o, s, alen);
    if (rc)
        return rc;
    b->canon_path_off = o->len;
    if (alen < n)
        rc = fcgic__env_canonenc(a, o, s + alen + 1, n - alen - 1, m->slashes == FCGIC_ENV_SLASHES_NODECODE);
    return rc;
}

#ifdef FCGIC_HAVE_PCRE2
static int app(struct build *b, int i, const char *p, size_t n)
{
    return fcgic__buf_append(SB(b, i), &b->env->alloc, p, n);
}

/* ap_pregsub of the target with the captures of uri; Apache appends the whole
 * URI when nothing was substituted. */
static int regex_target(struct build *b, const char *uri, size_t ulen, bool *matched)
{
    struct fcgic_env *env = b->env;
    const struct fcgic_env_map *m = b->map;
    if (env->rx.md == NULL) {
        struct fcgic__regex_limits lim;
        fcgic__regex_limits_default(&lim);
        int rc = fcgic__regex_matcher_init(&env->rx, &env->alloc, &lim, REGEX_PAIRS);
        if (rc)
            return rc;
    }
    /* more groups than pairs: every pair is filled (Apache too) */
    int r = fcgic__regex_exec(&env->rx, m->re, uri, ulen);
    if (r < 0)
        return r;
    *matched = r > 0;
    if (r == 0 || b->map->kind == FCGIC_ENV_MAP_HANDLER)
        return 0;
    uint32_t pairs = pcre2_get_ovector_count(env->rx.md);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(env->rx.md);
    const char *src = m->fcgi_url.ptr, *end = src + m->fcgi_url.len;
    struct fcgic__buf *f = SB(b, S_FOUND);
    f->len = 0;
    int rc = 0;
    while (src < end && rc == 0) {
        char c = *src++;
        if (c == '$' && src < end && *src >= '0' && *src <= '9') {
            uint32_t no = (uint32_t)(*src++ - '0');
            if (no < (uint32_t)r && no < pairs && ov[2 * no] != PCRE2_UNSET)
                rc = app(b, S_FOUND, uri + ov[2 * no], ov[2 * no + 1] - ov[2 * no]);
            continue;
        }
        if (c == '\\' && src < end)
            c = *src++;
        rc = app(b, S_FOUND, &c, 1);
    }
    if (rc)
        return rc;
    if (f->len == m->fcgi_url.len && memcmp(f->data, m->fcgi_url.ptr, f->len) == 0)
        rc = app(b, S_FOUND, uri, ulen);
    return rc;
}
#else
/* Never reached: a map with a regex cannot be made without PCRE2. */
static int regex_target(struct build *b, const char *uri, size_t ulen, bool *matched)
{
    *matched = false;
    return FCGIC_E_NOT_BUILT;
}
#endif

/* CR, LF or NUL anywhere (memchr is vectorised: three passes beat one
 * byte loop for header-sized values) */
static bool has_crlf(const char *p, size_t n)
{
    return n && (memchr(p, '\r', n) || memchr(p, '\n', n) || memchr(p, '\0', n));
}

static const char *strategy_rule(enum fcgic_env_pathinfo s)
{
    switch (s) {
    case FCGIC_ENV_PATHINFO_FIRST_DOT:
        return "proxy-fcgi-pathinfo=first-dot: split at the first '/' after the first '.'";
    case FCGIC_ENV_PATHINFO_LAST_DOT:
        return "proxy-fcgi-pathinfo=last-dot: split at the first '/' after the last '.'";
    case FCGIC_ENV_PATHINFO_FULL:
        return "proxy-fcgi-pathinfo=full: filesystem walk of the backend path";
    case FCGIC_ENV_PATHINFO_UNESCAPE:
        return "proxy-fcgi-pathinfo=unescape: whole backend path, unescaped";
    case FCGIC_ENV_PATHINFO_WHOLE:
        return "proxy-fcgi-pathinfo=<other>: whole backend path, escaped";
    default:
        return "";
    }
}

/* Handler mode: DOCUMENT_ROOT + uri walked on the filesystem. Fills S_FOUND
 * with target + file, S_PI with the path info, may extend S_URI. */
static int map_handler(struct build *b)
{
    const struct fcgic_env_map *m = b->map;
    const struct fcgic__alloc *a = &b->env->alloc;
    struct fcgic__buf *fs = SB(b, S_FS), *uri = SB(b, S_URI);
    fs->len = 0;
    int rc = fcgic__buf_append(fs, a, m->docroot.ptr, m->docroot.len);
    if (rc == 0)
        rc = fcgic__buf_append(fs, a, uri->data, uri->len);
    if (rc)
        return rc;
    enum fcgic_env_file_type type;
    size_t end;
    if ((rc = walk(b, fs, m->docroot.len, fs->len, &type, &end)) != 0)
        return rc;
    if (type == FCGIC_ENV_FILE_DIRECTORY) {
        /* mod_dir: only "dir/" is served, through DirectoryIndex */
        if (uri->data[uri->len - 1] != '/')
            return FCGIC_E_NOT_FOUND;
        size_t base = fs->len;
        bool found = false;
        for (size_t i = 0; i < m->n_dirindex && !found; i++) {
            size_t dl = strlen(m->dirindex[i]);
            fs->len = base;
            if ((rc = fcgic__buf_append(fs, a, m->dirindex[i], dl)) != 0 ||
                (rc = fcgic__buf_reserve(fs, a, 1)) != 0)
                return rc;
            enum fcgic_env_file_type t;
            if ((rc = do_stat(b, fs, fs->len, &t)) != 0)
                return rc;
            if (t == FCGIC_ENV_FILE_REGULAR) {
                found = true;
                if ((rc = fcgic__buf_append(uri, a, m->dirindex[i], dl)) != 0)
                    return rc;
            }
        }
        if (!found)
            return FCGIC_E_NOT_FOUND;
        type = FCGIC_ENV_FILE_REGULAR;
        end = fs->len;
    }
    /* <FilesMatch>: the base name of the file */
    if (m->re) {
        size_t s = end;
        while (s > 0 && fs->data[s - 1] != '/')
            s--;
        bool matched;
        if ((rc = regex_target(b, fs->data + s, end - s, &matched)) != 0)
            return rc;
        if (!matched)
            return FCGIC_E_NOT_FOUND;
    }
    if (type != FCGIC_ENV_FILE_REGULAR && (m->flags & FCGIC_ENV_REQUIRE_FILE))
        return FCGIC_E_ENV_NO_FILE;
    struct fcgic__buf *pi = SB(b, S_PI);
    pi->len = 0;
    if ((rc = fcgic__buf_append(pi, a, fs->data + end, fs->len - end)) != 0)
        return rc;
    b->has_pi = pi->len > 0;
    b->pi_rule = "filesystem: the part of the path after the file";
    b->pi_origin = FCGIC_ENV_ORIGIN_MAPPING;
    struct fcgic__buf *f = SB(b, S_FOUND);
    f->len = 0;
    if ((rc = fcgic__buf_append(f, a, m->fcgi_url.ptr, m->fcgi_url.len)) != 0)
        return rc;
    return fcgic__buf_append(f, a, fs->data, end);
}

/* PATH_INFO strategy on the canonical filename (S_FILE) or the filesystem. */
static int apply_strategy(struct build *b)
{
    const struct fcgic__alloc *a = &b->env->alloc;
    struct fcgic__buf *file = SB(b, S_FILE), *pi = SB(b, S_PI);
    const char *cp = file->data + b->canon_path_off;
    size_t cl = file->len - b->canon_path_off;
    int rc = 0;
    switch (b->strategy) {
    case FCGIC_ENV_PATHINFO_FIRST_DOT:
    case FCGIC_ENV_PATHINFO_LAST_DOT: {
        const char *dot = NULL;
        for (size_t i = 0; i < cl; i++)
            if (cp[i] == '.') {
                dot = cp + i;
                if (b->strategy == FCGIC_ENV_PATHINFO_FIRST_DOT)
                    break;
            }
        if (dot == NULL)
            return 0;
        const char *sl = memchr(dot, '/', (size_t)(cp + cl - dot));
        if (sl == NULL)
            return 0;
        pi->len = 0;
        if ((rc = fcgic__buf_append(pi, a, sl, (size_t)(cp + cl - sl))) != 0)
            return rc;
        pi->len = fcgic__env_unescape_keep2f(pi->data, pi->len);
        break;
    }
    case FCGIC_ENV_PATHINFO_UNESCAPE:
    case FCGIC_ENV_PATHINFO_WHOLE:
        pi->len = 0;
        if ((rc = fcgic__buf_append(pi, a, "/", 1)) != 0 ||
            (rc = fcgic__buf_append(pi, a, cp, cl)) != 0)
            return rc;
        if (b->strategy == FCGIC_ENV_PATHINFO_UNESCAPE)
            pi->len = fcgic__env_unescape_keep2f(pi->data, pi->len);
        break;
    case FCGIC_ENV_PATHINFO_FULL: {
        if (b->map->kind == FCGIC_ENV_MAP_HANDLER) {
            /* Apache's extra walk runs on the "proxy:..." filename, finds
             * no file, and leaves no path info: no PATH_INFO, no
             * PATH_TRANSLATED, SCRIPT_NAME is the whole decoded path. */
            pi->len = 0;
            b->has_pi = false;
            return 0;
        }
        /* walk the plain backend path of the backend URL */
        struct fcgic__buf *w = SB(b, S_TMP);
        w->len = 0;
        struct fcgic__buf *f = SB(b, S_FOUND);
        const char *sl = f->len > 7 ? memchr(f->data + 7, '/', f->len - 7) : NULL;
        if (sl == NULL)
            return 0;
        if ((rc = fcgic__buf_append(w, a, sl, (size_t)(f->data + f->len - sl))) != 0)
            return rc;
        enum fcgic_env_file_type type;
        size_t end;
        if ((rc = walk(b, w, 0, w->len, &type, &end)) != 0)
            return rc;
        if (type != FCGIC_ENV_FILE_REGULAR)
            return 0;
        pi->len = 0;
        if ((rc = fcgic__buf_append(pi, a, w->data + end, w->len - end)) != 0)
            return rc;
        file->len = 0;
        if ((rc = fcgic__buf_append(file, a, w->data, end)) != 0)
            return rc;
        b->canon_path_off = 0;
        b->file_origin = FCGIC_ENV_ORIGIN_PATHINFO;
        b->file_rule = strategy_rule(b->strategy);
        break;
    }
    default:
        return 0;
    }
    b->has_pi = pi->len > 0;
    b->pi_rule = strategy_rule(b->strategy);
    b->pi_origin = FCGIC_ENV_ORIGIN_PATHINFO;
    return 0;
}

/* The backend path (S_FOUND after the authority) stays under the mapping:
 * the request path is normalised and the target and DocumentRoot have no
 * ".." segment, so only a ProxyPassMatch capture that starts inside a
 * segment can make one ("^/a(.*)$", "fcgi://h/srv/$1" and "/a../etc"). */
static int check_backend_path(struct build *b)
{
    const struct fcgic__buf *f = SB(b, S_FOUND);
    size_t alen = authority_len(f->data, f->len);
    if (fcgic__env_has_dotdot(f->data + alen, f->len - alen))
        return FCGIC_E_ENV_BAD_URI;
    return 0;
}

static int map_request(struct build *b)
{
    const struct fcgic_env_map *m = b->map;
    const struct fcgic__alloc *a = &b->env->alloc;
    struct fcgic__buf *uri = SB(b, S_URI), *f = SB(b, S_FOUND);
    int rc;
    b->has_pi = false;
    SB(b, S_PI)->len = 0;
    b->file_origin = FCGIC_ENV_ORIGIN_MAPPING;
    b->file_rule = b->map_rule;
    switch (m->kind) {
    case FCGIC_ENV_MAP_PREFIX: {
        size_t l = fcgic__env_alias_match(uri->data, uri->len, m->match, m->match_len);
        if (l == 0)
            return FCGIC_E_NOT_FOUND;
        f->len = 0;
        if ((rc = fcgic__buf_append(f, a, m->fcgi_url.ptr, m->fcgi_url.len)) != 0 ||
            (rc = fcgic__buf_append(f, a, uri->data + l, uri->len - l)) != 0)
            return rc;
        break;
    }
    case FCGIC_ENV_MAP_REGEX: {
        bool matched;
        if ((rc = regex_target(b, uri->data, uri->len, &matched)) != 0)
            return rc;
        if (!matched)
            return FCGIC_E_NOT_FOUND;
        break;
    }
    default:
        if ((rc = map_handler(b)) != 0)
            return rc;
        break;
    }
    if ((rc = check_backend_path(b)) != 0 || (rc = canon(b)) != 0)
        return rc;
    if ((rc = apply_strategy(b)) != 0)
        return rc;
    struct fcgic__buf *file = SB(b, S_FILE);
    if (m->backend == FCGIC_ENV_BACKEND_GENERIC && file->len >= 13 &&
        memcmp(file->data, "proxy:fcgi://", 13) == 0) {
        const char *sl = memchr(file->data + 13, '/', file->len - 13);
        size_t off = sl ? (size_t)(sl - file->data) : file->len;
        memmove(file->data, file->data + off, file->len - off);
        file->len -= off;
        b->file_origin = FCGIC_ENV_ORIGIN_PROFILE;
        b->file_rule = "ProxyFCGIBackendType GENERIC: proxy:fcgi://host:port removed";
    }
    return 0;
}

/* ---- emitting ---- */

static int too_big(struct build *b, bool is_header, size_t add)
{
    struct fcgic_env *env = b->env;
    size_t hdr = b->header_bytes + (is_header ? add : 0);
    size_t other = env->total - b->header_bytes + (is_header ? 0 : add);
    if (hdr > 0 && other <= env->max_total)
        return FCGIC_E_ENV_HEADERS_TOO_BIG;
    return FCGIC_E_ENV_TOO_BIG;
}

static int put(struct build *b, const char *name, size_t nlen, const char *v, size_t vlen,
               enum fcgic_env_origin o, const char *rule)
{
    int rc = fcgic__env_put(b->env, name, nlen, true, v, vlen, o, rule, NULL, false);
    if (rc == FCGIC_E_ENV_TOO_BIG)
        rc = too_big(b, false, fcgic__env_pair_size(nlen, vlen));
    return rc;
}

#define PUT(b, lit, v, vl, o, r) put((b), (lit), sizeof(lit) - 1, (v), (vl), (o), (r))

static size_t fmt_ull(char *buf, unsigned long long v)
{
    char t[24];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = t[n - 1 - i];
    return n;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Header name byte -> CGI name byte: letters upper-cased, digits kept,
 * '-' -> '_', anything else 0 (Apache drops such headers). */
static const unsigned char hdr_name_map[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 95, 0, 0,
    48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 0, 0, 0, 0, 0, 0,
    0, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79,
    80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 0, 0, 0, 0, 0,
    0, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79,
    80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* A Content-Length value: one decimal number, or a list of equal ones
 * ("42, 42", RFC 9110 section 8.6), at most 2^63-1. */
static bool parse_content_length(const char *v, size_t vl, unsigned long long *out)
{
    size_t i = 0;
    bool first = true;
    unsigned long long value = 0;
    for (;;) {
        while (i < vl && is_ows(v[i]))
            i++;
        size_t s = i;
        unsigned long long n = 0;
        for (; i < vl && fcgic__ascii_isdigit((unsigned char)v[i]); i++) {
            if (n > (0x7fffffffffffffffull - (unsigned)(v[i] - '0')) / 10)
                return false;
            n = n * 10 + (unsigned)(v[i] - '0');
        }
        if (i == s || (!first && n != value))
            return false;
        value = n;
        first = false;
        while (i < vl && is_ows(v[i]))
            i++;
        if (i == vl) {
            *out = value;
            return true;
        }
        if (v[i++] != ',')
            return false;
    }
}

/* Content-Length and Transfer-Encoding (RFC 9112 section 6.3). With a
 * Transfer-Encoding every Content-Length is dropped, and when the caller
 * knows the de-chunked length the first Transfer-Encoding becomes
 * CONTENT_LENGTH. Without one, Content-Length headers must agree on one
 * number, sent once as plain decimal. Returns 0 (emit *name = *v), 1 (drop
 * this header) or ENV_BAD_HEADER (malformed or differing Content-Length). */
static int body_framing(struct build *b, bool is_cl, const char **name, size_t *name_len,
                        const char **v, size_t *vl, char *numbuf)
{
    unsigned long long n;
    if (!is_cl) {
        if (!b->req->has_body_length)
            return 0; /* HTTP_TRANSFER_ENCODING */
        if (b->cl_done)
            return 1;
        n = b->req->body_length;
        *name = "CONTENT_LENGTH";
        *name_len = 14;
    } else {
        if (b->has_te)
            return 1;
        if (!parse_content_length(*v, *vl, &n))
            return FCGIC_E_ENV_BAD_HEADER;
        if (b->cl_done)
            return n == b->cl_value ? 1 : FCGIC_E_ENV_BAD_HEADER;
    }
    b->cl_done = true;
    b->cl_value = n;
    *v = numbuf;
    *vl = fmt_ull(numbuf, n);
    return 0;
}

static bool has_transfer_encoding(const struct fcgic_env_request *r)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (r->headers[i].name &&
            fcgic__ascii_ieq(r->headers[i].name, r->headers[i].name_len, "Transfer-Encoding", 17))
            return true;
    return false;
}

/* One request header: Apache's ap_add_common_vars() rules. */
static int emit_header(struct build *b, const struct fcgic_param *h, char *numbuf,
                       struct fcgic_span *host)
{
    struct fcgic_env *env = b->env;
    const char *v = h->value;
    size_t vl = h->value_len;
    if (h->name == NULL || h->name_len == 0 || (v == NULL && vl))
        return h->name_len ? FCGIC_E_INVAL : 0;
    while (vl && is_ows(v[0]))
        v++, vl--;
    while (vl && is_ows(v[vl - 1]))
        vl--;
    if (has_crlf(v, vl))
        return FCGIC_E_ENV_BAD_HEADER;
    const char *n = h->name;
    size_t nl = h->name_len;
    if (nl > 0x7fffffff - 5)
        return too_big(b, true, nl);
    /* HTTP_ + converted name, written straight into the arena */
    char *c = fcgic__env_alloc(env, nl + 5);
    if (c == NULL)
        return FCGIC_E_NOMEM;
    memcpy(c, "HTTP_", 5);
    unsigned char bad = 1;
    for (size_t i = 0; i < nl; i++) {
        unsigned char m = hdr_name_map[(unsigned char)n[i]];
        bad &= (unsigned char)(m != 0);
        c[5 + i] = (char)m;
    }
    if (!bad) {
        fcgic__env_unalloc(env, nl + 5);
        return 0; /* dropped, as Apache does */
    }
    const char *name = c;
    size_t name_len = nl + 5;
    const char *u = c + 5;
    switch (nl) {
    case 12:
        if (memcmp(u, "CONTENT_TYPE", 12) == 0)
            name = u, name_len = 12;
        break;
    case 14:
    case 17:
        if ((nl == 14 && memcmp(u, "CONTENT_LENGTH", 14) == 0) ||
            (nl == 17 && memcmp(u, "TRANSFER_ENCODING", 17) == 0)) {
            if (nl == 14)
                name = u, name_len = 14;
            int f = body_framing(b, nl == 14, &name, &name_len, &v, &vl, numbuf);
            if (f != 0) {
                fcgic__env_unalloc(env, nl + 5);
                return f < 0 ? f : 0;
            }
        }
        break;
    case 5:
        if (memcmp(u, "PROXY", 5) == 0)
            return 0; /* httpoxy */
        break;
    case 13:
    case 19:
        if ((nl == 13 && memcmp(u, "AUTHORIZATION", 13) == 0) ||
            (nl == 19 && memcmp(u, "PROXY_AUTHORIZATION", 19) == 0)) {
            if (!(b->map->flags & FCGIC_ENV_PASS_AUTH))
                return 0;
        }
        break;
    case 4:
        if (memcmp(u, "HOST", 4) == 0 && host->ptr == NULL) {
            host->ptr = v;
            host->len = vl;
        }
        break;
    default:
        break;
    }
    const bool static_name = true; /* static or already in the arena */
    size_t before = env->total;
    size_t i;
    int rc = fcgic__env_put(env, name, name_len, static_name, v, vl, FCGIC_ENV_ORIGIN_HEADER,
                            "request header", &i, true);
    if (rc == FCGIC_E_ENV_TOO_BIG)
        return too_big(b, true, fcgic__env_pair_size(name_len, vl));
    if (rc == 1) {
        /* repeated header: merged with ", " where it first appeared */
        rc = fcgic__env_append(env, i, ", ", 2, v, vl);
        if (rc == FCGIC_E_ENV_TOO_BIG)
            return too_big(b, true, vl + 2);
        if (rc == 0 && name_len == 9 && memcmp(name, "HTTP_HOST", 9) == 0) {
            host->ptr = env->params[i].value;
            host->len = env->params[i].value_len;
        }
    }
    if (rc == 0 && env->total > before)
        b->header_bytes += env->total - before;
    return rc;
}

/* Host (or absolute-form authority) -> SERVER_NAME / SERVER_PORT, as
 * Apache's fix_hostname() with UseCanonicalName Off. */
static int server_name_port(struct build *b, struct fcgic_span host, struct fcgic_span port,
                            bool ipv6, char *namebuf, size_t *namelen, unsigned *portno)
{
    size_t hl = host.len;
    if (ipv6) {
        if (hl == 0 || hl > 250)
            return FCGIC_E_ENV_BAD_HEADER;
        for (size_t i = 0; i < hl; i++)
            if (!(fcgic__ascii_hexval((unsigned char)host.ptr[i]) >= 0 || host.ptr[i] == ':' ||
                  host.ptr[i] == '.'))
                return FCGIC_E_ENV_BAD_HEADER;
        namebuf[0] = '[';
        for (size_t i = 0; i < hl; i++)
            namebuf[1 + i] = fcgic__ascii_lower(host.ptr[i]);
        namebuf[1 + hl] = ']';
        *namelen = hl + 2;
    } else {
        while (hl && host.ptr[hl - 1] == '.')
            hl--;
        if (hl == 0 || hl > 255)
            return FCGIC_E_ENV_BAD_HEADER;
        for (size_t i = 0; i < hl; i++) {
            char c = host.ptr[i];
            if (!(fcgic__ascii_isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.'))
                return FCGIC_E_ENV_BAD_HEADER;
            if (c == '.' && i + 1 < hl && host.ptr[i + 1] == '.')
                return FCGIC_E_ENV_BAD_HEADER;
            namebuf[i] = fcgic__ascii_lower(c);
        }
        *namelen = hl;
    }
    if (port.len) {
        unsigned long p = 0;
        if (port.len > 5)
            return FCGIC_E_ENV_BAD_HEADER;
        for (size_t i = 0; i < port.len; i++) {
            if (port.ptr[i] < '0' || port.ptr[i] > '9')
                return FCGIC_E_ENV_BAD_HEADER;
            p = p * 10 + (unsigned long)(port.ptr[i] - '0');
        }
        if (p > 65535)
            return FCGIC_E_ENV_BAD_HEADER;
        *portno = (unsigned)p;
    }
    (void)b;
    return 0;
}

static int split_host(struct fcgic_span h, struct fcgic_span *host, struct fcgic_span *port,
                      bool *ipv6)
{
    port->ptr = NULL;
    port->len = 0;
    *ipv6 = false;
    if (h.len && h.ptr[0] == '[') {
        const char *rb = memchr(h.ptr, ']', h.len);
        if (rb == NULL)
            return FCGIC_E_ENV_BAD_HEADER;
        host->ptr = h.ptr + 1;
        host->len = (size_t)(rb - h.ptr) - 1;
        *ipv6 = true;
        size_t rest = h.len - (size_t)(rb - h.ptr) - 1;
        if (rest) {
            if (rb[1] != ':')
                return FCGIC_E_ENV_BAD_HEADER;
            port->ptr = rb + 2;
            port->len = rest - 1;
        }
        return 0;
    }
    const char *colon = memchr(h.ptr, ':', h.len);
    host->ptr = h.ptr;
    host->len = colon ? (size_t)(colon - h.ptr) : h.len;
    if (colon) {
        port->ptr = colon + 1;
        port->len = h.len - host->len - 1;
    }
    return 0;
}

static int check_ctl(const struct build *b, const char *p, size_t n)
{
    if (memchr(p, '\0', n))
        return FCGIC_E_ENV_PATH_CTL;
    if (!(b->map->flags & FCGIC_ENV_ALLOW_PATH_CTL) && has_crlf(p, n))
        return FCGIC_E_ENV_PATH_CTL;
    return 0;
}

static int path_translated(struct build *b, struct fcgic__buf *out, bool *ok)
{
    const struct fcgic_env_map *m = b->map;
    const struct fcgic__alloc *a = &b->env->alloc;
    struct fcgic__buf *pi = SB(b, S_PI);
    *ok = false;
    if (!m->has_docroot)
        return 0;
    out->len = 0;
    int rc = fcgic__buf_append(out, a, m->docroot.ptr, m->docroot.len);
    if (rc)
        return rc;
    size_t base = out->len;
    rc = fcgic__env_normalize_literal(a, out, pi->data, pi->len);
    if (rc == 1)
        return 0; /* above the root: Apache's sub-request fails, no PATH_TRANSLATED */
    if (rc)
        return rc;
    if (m->docroot.len == 1) { /* DocumentRoot "/" */
        memmove(out->data, out->data + 1, out->len - 1);
        out->len--;
    }
    (void)base;
    *ok = true;
    /* DirectoryIndex through the sub-request: "dir/" becomes "dir/index" */
    if (m->stat && m->n_dirindex && out->data[out->len - 1] == '/') {
        enum fcgic_env_file_type t;
        if ((rc = fcgic__buf_reserve(out, a, 1)) != 0 || (rc = do_stat(b, out, out->len, &t)))
            return rc;
        if (t != FCGIC_ENV_FILE_DIRECTORY)
            return 0;
        size_t dl0 = out->len;
        for (size_t i = 0; i < m->n_dirindex; i++) {
            out->len = dl0;
            if ((rc = fcgic__buf_append(out, a, m->dirindex[i], strlen(m->dirindex[i]))) != 0 ||
                (rc = fcgic__buf_reserve(out, a, 1)) != 0 ||
                (rc = do_stat(b, out, out->len, &t)) != 0)
                return rc;
            if (t == FCGIC_ENV_FILE_REGULAR)
                return 0;
        }
        out->len = dl0;
    }
    return 0;
}

static int build(struct build *b)
{
    struct fcgic_env *env = b->env;
    const struct fcgic_env_map *m = b->map;
    const struct fcgic_env_request *r = b->req;
    const struct fcgic__alloc *a = &env->alloc;
    int rc;

    struct fcgic__env_uri u;
    if ((rc = fcgic__env_split_target(r->target.ptr, r->target.len, &u)) != 0)
        return rc;
    if ((rc = fcgic__env_decode_path(a, SB(b, S_TMP), SB(b, S_URI), u.path.ptr, u.path.len,
                                     m->slashes)) != 0)
        return rc;
    char *mr = fcgic__env_alloc(env, m->rule_len + 1);
    if (mr == NULL)
        return FCGIC_E_NOMEM;
    memcpy(mr, m->rule, m->rule_len + 1);
    b->map_rule = mr;
    if ((rc = map_request(b)) != 0)
        return rc;

    /* 1. variables set earlier (SetEnv, SetEnvIf, ...) */
    for (size_t i = 0; i < r->n_vars; i++) {
        const struct fcgic_param *p = &r->vars[i];
        if (p->name == NULL || p->name_len == 0 || (p->value == NULL && p->value_len))
            return FCGIC_E_INVAL;
        rc = fcgic__env_put(env, p->name, p->name_len, false, p->value, p->value_len,
                            FCGIC_ENV_ORIGIN_SETENV, "configuration variable (SetEnv/SetEnvIf)",
                            NULL, false);
        if (rc == FCGIC_E_ENV_TOO_BIG)
            rc = too_big(b, false, 0);
        if (rc)
            return rc;
    }
    if (r->https && (rc = PUT(b, "HTTPS", "on", 2, FCGIC_ENV_ORIGIN_SERVER, "TLS connection")))
        return rc;

    /* 2. headers */
    char numbuf[24];
    struct fcgic_span host = {NULL, 0};
    b->has_te = has_transfer_encoding(r);
    for (size_t i = 0; i < r->n_headers; i++)
        if ((rc = emit_header(b, &r->headers[i], numbuf, &host)) != 0)
            return rc;

    /* 3. ap_add_common_vars() */
    char namebuf[260];
    size_t namelen = 0;
    unsigned portno = m->server_port ? m->server_port : (r->https ? 443u : 80u);
    {
        struct fcgic_span hn = {NULL, 0}, hp = {NULL, 0};
        bool v6 = false;
        if (u.has_authority) {
            hn = u.host;
            hp = u.port;
            v6 = u.host_ipv6;
        } else if (host.ptr && host.len) {
            if ((rc = split_host(host, &hn, &hp, &v6)) != 0)
                return rc;
        }
        if (hn.ptr) {
            if ((rc = server_name_port(b, hn, hp, v6, namebuf, &namelen, &portno)) != 0)
                return rc;
        } else {
            size_t l = m->server_name.len < 255 ? m->server_name.len : 255;
            memcpy(namebuf, m->server_name.ptr, l);
            namelen = l;
        }
    }
    const char *srv = "server configuration";
    const char *conn = "connection";
    if (m->has_path_env && (rc = PUT(b, "PATH", m->path_env.ptr, m->path_env.len,
                                     FCGIC_ENV_ORIGIN_SERVER, srv)))
        return rc;
    char portbuf[24], rportbuf[24];
    size_t portlen = fmt_ull(portbuf, portno);
    size_t rportlen = fmt_ull(rportbuf, r->remote_port);
    if ((rc = PUT(b, "SERVER_SIGNATURE", m->signature.ptr, m->signature.len,
                  FCGIC_ENV_ORIGIN_SERVER, srv)) ||
        (rc = PUT(b, "SERVER_SOFTWARE", m->software.ptr, m->software.len,
                  FCGIC_ENV_ORIGIN_SERVER, srv)) ||
        (rc = PUT(b, "SERVER_NAME", namebuf, namelen, FCGIC_ENV_ORIGIN_SERVER,
                  host.ptr || u.has_authority ? "Host header, lower-cased" : srv)) ||
        (rc = PUT(b, "SERVER_ADDR", r->server_addr.ptr, r->server_addr.len,
                  FCGIC_ENV_ORIGIN_SERVER, conn)) ||
        (rc = PUT(b, "SERVER_PORT", portbuf, portlen, FCGIC_ENV_ORIGIN_SERVER,
                  "port of the Host header, else of ServerName, else of the scheme")) ||
        (rc = PUT(b, "REMOTE_ADDR", r->remote_addr.ptr, r->remote_addr.len,
                  FCGIC_ENV_ORIGIN_SERVER, conn)) ||
        (rc = PUT(b, "DOCUMENT_ROOT", m->docroot.ptr, m->docroot.len, FCGIC_ENV_ORIGIN_SERVER,
                  srv)) ||
        (rc = PUT(b, "REQUEST_SCHEME", r->https ? "https" : "http", r->https ? 5 : 4,
                  FCGIC_ENV_ORIGIN_REQUEST, conn)) ||
        (rc = PUT(b, "CONTEXT_PREFIX", m->ctx_prefix.ptr, m->ctx_prefix.len,
                  FCGIC_ENV_ORIGIN_SERVER, srv)) ||
        (rc = PUT(b, "CONTEXT_DOCUMENT_ROOT", m->ctx_docroot.ptr, m->ctx_docroot.len,
                  FCGIC_ENV_ORIGIN_SERVER, srv)) ||
        (rc = PUT(b, "SERVER_ADMIN", m->server_admin.ptr, m->server_admin.len,
                  FCGIC_ENV_ORIGIN_SERVER, srv)) ||
        (rc = PUT(b, "SCRIPT_FILENAME", SB(b, S_FILE)->data, SB(b, S_FILE)->len,
                  b->file_origin, b->file_rule)) ||
        (rc = PUT(b, "REMOTE_PORT", rportbuf, rportlen, FCGIC_ENV_ORIGIN_SERVER, conn)))
        return rc;
    if (r->remote_user.len && (rc = PUT(b, "REMOTE_USER", r->remote_user.ptr,
                                        r->remote_user.len, FCGIC_ENV_ORIGIN_REQUEST,
                                        "authenticated user")))
        return rc;
    if (r->auth_type.len && (rc = PUT(b, "AUTH_TYPE", r->auth_type.ptr, r->auth_type.len,
                                      FCGIC_ENV_ORIGIN_REQUEST, "authentication scheme")))
        return rc;

    /* 4. ap_add_cgi_vars() */
    const char *rl = "request line";
    struct fcgic__buf *uri = SB(b, S_URI), *pi = SB(b, S_PI);
    size_t snlen = uri->len;
    if (b->has_pi)
        snlen = fcgic__env_find_path_info(uri->data, uri->len, pi->data, pi->len);
    if ((rc = check_ctl(b, uri->data, snlen)) != 0 ||
        (b->has_pi && (rc = check_ctl(b, pi->data, pi->len)) != 0))
        return rc;
    if ((rc = PUT(b, "GATEWAY_INTERFACE", "CGI/1.1", 7, FCGIC_ENV_ORIGIN_SERVER, "CGI/1.1")) ||
        (rc = PUT(b, "SERVER_PROTOCOL", r->protocol.ptr, r->protocol.len,
                  FCGIC_ENV_ORIGIN_REQUEST, rl)) ||
        (rc = PUT(b, "REQUEST_METHOD", r->method.ptr, r->method.len, FCGIC_ENV_ORIGIN_REQUEST,
                  rl)) ||
        (rc = PUT(b, "QUERY_STRING", u.query.ptr, u.query.len, FCGIC_ENV_ORIGIN_REQUEST,
                  "request target after '?'")) ||
        (rc = PUT(b, "REQUEST_URI", r->target.ptr, r->target.len, FCGIC_ENV_ORIGIN_REQUEST,
                  "request target as received")) ||
        (rc = PUT(b, "SCRIPT_NAME", uri->data, snlen,
                  b->has_pi ? b->pi_origin : FCGIC_ENV_ORIGIN_MAPPING,
                  b->has_pi ? "decoded path minus PATH_INFO" : "decoded, normalised path")))
        return rc;
    if (b->has_pi) {
        if ((rc = PUT(b, "PATH_INFO", pi->data, pi->len, b->pi_origin, b->pi_rule)) != 0)
            return rc;
        struct fcgic__buf *pt = SB(b, S_TMP);
        bool ok;
        if ((rc = path_translated(b, pt, &ok)) != 0)
            return rc;
        if (ok) {
            if ((rc = check_ctl(b, pt->data, pt->len)) != 0 ||
                (rc = PUT(b, "PATH_TRANSLATED", pt->data, pt->len, b->pi_origin,
                          "DOCUMENT_ROOT + PATH_INFO")) != 0)
                return rc;
        }
    }
    return 0;
}

int fcgic_env_build(struct fcgic_env *env, const struct fcgic_env_map *map,
                    const struct fcgic_env_request *req)
{
    if (env == NULL || map == NULL || req == NULL || req->target.ptr == NULL ||
        !fcgic__struct_version(req->version, FCGIC_ENV_REQUEST_VERSION) ||
        (req->n_headers && req->headers == NULL) || (req->n_vars && req->vars == NULL) ||
        (unsigned)req->pathinfo > FCGIC_ENV_PATHINFO_WHOLE)
        return FCGIC_E_INVAL;
    static const struct fcgic_span empty = {"", 0};
    struct fcgic_env_request r = *req;
    if (r.method.ptr == NULL)
        r.method = empty;
    if (r.protocol.ptr == NULL)
        r.protocol = empty;
    if (r.remote_addr.ptr == NULL)
        r.remote_addr = empty;
    if (r.server_addr.ptr == NULL)
        r.server_addr = empty;
    struct build b;
    memset(&b, 0, sizeof b);
    b.env = env;
    b.map = map;
    b.req = &r;
    b.strategy = req->pathinfo != FCGIC_ENV_PATHINFO_DEFAULT ? req->pathinfo : map->pathinfo;
    if (b.strategy == FCGIC_ENV_PATHINFO_FULL && map->stat == NULL)
        return FCGIC_E_INVAL;
    fcgic_env_clear(env);
    int rc = build(&b);
    if (rc)
        fcgic_env_clear(env);
    return rc;
}

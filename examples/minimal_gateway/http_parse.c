/* Request parsing: a scanner that finds the end of the head and enforces
 * CRLF framing and size limits before llhttp sees a byte, llhttp (strict
 * mode, no lenient flag) for the grammar, and the checks llhttp leaves to
 * its user: one Content-Length of digits only, Transfer-Encoding with
 * chunked as the only and final coding, Host, Expect, the request-target's
 * bytes and form, the version, body and chunk-extension limits. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "http_int.h"

#define GW_MAX_CHUNK_SIZE (UINT64_C(1) << 53) /* larger chunk sizes are refused: no body is that big */
#define GW_MAX_CHUNK_EXT 4096                 /* chunk-extension bytes per body */

/* ASCII classes (never <ctype.h>: the host's locale changes those) ------------ */

static char ascii_lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
}

/* a[0, alen) equals the lower-case b[0, blen), ignoring ASCII case */
bool gw__ascii_ieq_n(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (ascii_lower(a[i]) != b[i])
            return false;
    return true;
}

static bool is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* bytes allowed in a header value: HTAB, SP, VCHAR, obs-text */
static bool is_field_vchar(unsigned char ch)
{
    return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

bool gw__field_value_ok(const char *v, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, v + i, 8);
        uint64_t del = w ^ (0x7f * ones);
        if ((((w - 0x20 * ones) & ~w) | ((del - ones) & ~del)) & high)
            for (size_t k = i; k < i + 8; k++)
                if (!is_field_vchar((unsigned char)v[k]))
                    return false;
    }
    for (; i < n; i++)
        if (!is_field_vchar((unsigned char)v[i]))
            return false;
    return true;
}

/* bytes allowed in a Host value: reg-name, IP literals, port */
static bool is_host_char(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit((char)ch))
        return true;
    return ch != 0 && strchr("-._~!$&'()*+,;=:[]%", ch) != NULL;
}

static struct gw__rblock *rb_of(llhttp_t *p)
{
    return ((struct gw_http_conn *)p->data)->rb;
}

/* The status for a head over LimitRequestFields / LimitRequestFieldSize. */
static int field_limit(const struct gw_http_conn *c)
{
    return c->s->set.field_limit_status ? c->s->set.field_limit_status : 431;
}

static int fail(llhttp_t *p, int status)
{
    struct gw__rblock *rb = rb_of(p);
    if (rb->error == 0)
        rb->error = status;
    return -1;
}

/* Head scanner -------------------------------------------------------------------- */

static int scan_line_end(struct gw_http_conn *c, size_t lf)
{
    struct gw__rblock *rb = c->rb;
    const struct gw_http_settings *set = &c->s->set;
    size_t line_len = lf - 1 - rb->line; /* without CRLF */
    if (line_len == 0) {
        if (rb->nlines == 0) { /* empty lines before the request line are ignored (RFC 9112 2.2) */
            rb->pos = lf + 1;
            return 0;
        }
        rb->head_end = lf + 1;
        return 1;
    }
    if (rb->nlines == 0) {
        if (line_len > set->max_request_line)
            return 414;
    } else {
        if (is_ows(rb->buf[rb->line])) /* obs-fold, or whitespace before the first field */
            return 400;
        if (line_len > set->max_header_field_size)
            return field_limit(c);
        if (rb->nlines > set->max_header_fields)
            return field_limit(c);
    }
    rb->nlines++;
    return 0;
}

int gw__head_scan(struct gw_http_conn *c)
{
    struct gw__rblock *rb = c->rb;
    const struct gw_http_settings *set = &c->s->set;
    if (rb->scan < rb->pos)
        rb->scan = rb->line = rb->pos;
    /* A line at a time: the bytes [i, end) before the next LF (or the end of
     * what was read) fail at the first of a byte after a bare CR, a NUL, or
     * the byte that makes the line too long; at the same byte, 400 first. */
    const char *b = rb->buf;
    for (size_t i = rb->scan; i < rb->len;) {
        const char *lf = memchr(b + i, '\n', rb->len - i);
        size_t end = lf ? (size_t)(lf - b) : rb->len;
        size_t bad = SIZE_MAX; /* the first byte that fails with 400 */
        size_t from = i > rb->line ? i - 1 : i; /* a CR that ended the previous read */
        const char *cr = end > from ? memchr(b + from, '\r', end - from) : NULL;
        if (cr && (size_t)(cr - b) + 1 < end)
            bad = (size_t)(cr - b) + 1; /* bare CR: the byte after it is not LF */
        const char *nul = end > i ? memchr(b + i, '\0', end - i) : NULL;
        if (nul && (size_t)(nul - b) < bad)
            bad = (size_t)(nul - b);
        size_t limit = rb->nlines == 0 ? set->max_request_line : set->max_header_field_size;
        size_t too_long = rb->line + limit + 1; /* line_len = j + 1 - line > limit + 1 */
        if (too_long >= i && too_long < end && too_long < bad)
            return rb->nlines == 0 ? 414 : field_limit(c);
        if (bad != SIZE_MAX)
            return 400;
        if (lf == NULL)
            break;
        if (end == rb->line || b[end - 1] != '\r')
            return 400; /* bare LF */
        int r = scan_line_end(c, end);
        rb->line = end + 1;
        rb->scan = end + 1;
        if (r != 0)
            return r;
        i = end + 1;
    }
    rb->scan = rb->len;
    if (rb->pos == rb->len) /* only empty lines so far */
        rb->len = rb->pos = rb->scan = rb->line = 0;
    if (rb->len == rb->cap && rb->pos == 0)
        return rb->nlines == 0 ? 414 : field_limit(c); /* the head does not fit the read buffer */
    return 0;
}

/* llhttp callbacks ------------------------------------------------------------------ */

static int on_method(llhttp_t *p, const char *at, size_t len)
{
    struct gw__rblock *rb = rb_of(p);
    rb->req.method = at;
    rb->req.method_len = len;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct gw__rblock *rb = rb_of(p);
    rb->req.target = at;
    rb->req.target_len = len;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct gw_http_conn *c = p->data;
    struct gw__rblock *rb = c->rb;
    if (rb->in_trailers) { /* trailers are ignored, their size is capped */
        rb->ext_bytes += len;
        return rb->ext_bytes > c->s->set.max_header_field_size ? fail(p, field_limit(c)) : 0;
    }
    if (rb->nheaders >= c->s->set.max_header_fields)
        return fail(p, field_limit(c));
    rb->headers[rb->nheaders++] = (struct gw_http_header){.name = at, .name_len = len, .value = at + len};
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct gw_http_conn *c = p->data;
    struct gw__rblock *rb = c->rb;
    if (rb->in_trailers) {
        rb->ext_bytes += len;
        return rb->ext_bytes > c->s->set.max_header_field_size ? fail(p, field_limit(c)) : 0;
    }
    struct gw_http_header *h = &rb->headers[rb->nheaders - 1];
    if (h->value_len == 0)
        h->value = at;
    h->value_len = (size_t)(at + len - h->value);
    return 0;
}

static int check_content_length(llhttp_t *p, const struct gw_http_header *h)
{
    struct gw__rblock *rb = rb_of(p);
    if (++rb->ncl > 1 || h->value_len == 0 || h->value_len > 18)
        return fail(p, 400);
    int64_t v = 0;
    for (size_t i = 0; i < h->value_len; i++) {
        if (!is_digit(h->value[i]))
            return fail(p, 400);
        v = v * 10 + (h->value[i] - '0');
    }
    rb->content_length = v;
    return 0;
}

static int check_transfer_encoding(llhttp_t *p, const struct gw_http_header *h)
{
    struct gw__rblock *rb = rb_of(p);
    rb->nte++;
    size_t i = 0;
    while (i < h->value_len) {
        size_t start = i;
        while (i < h->value_len && h->value[i] != ',')
            i++;
        size_t end = i++;
        while (start < end && is_ows(h->value[start]))
            start++;
        while (end > start && is_ows(h->value[end - 1]))
            end--;
        if (start == end)
            continue;
        bool chunked = gw__ascii_ieq(h->value + start, end - start, "chunked");
        if (chunked && ++rb->te_chunks > 1)
            return fail(p, 400);
        if (!chunked)
            rb->te_other = true;
        rb->te_last_chunked = chunked;
    }
    return 0;
}

static int check_host(llhttp_t *p, const struct gw_http_header *h)
{
    struct gw__rblock *rb = rb_of(p);
    if (++rb->nhost > 1)
        return fail(p, 400);
    for (size_t i = 0; i < h->value_len; i++)
        if (!is_host_char((unsigned char)h->value[i]))
            return fail(p, 400);
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct gw__rblock *rb = rb_of(p);
    if (rb->in_trailers)
        return 0;
    struct gw_http_header *h = &rb->headers[rb->nheaders - 1];
    while (h->value_len > 0 && is_ows(h->value[h->value_len - 1]))
        h->value_len--;
    while (h->value_len > 0 && is_ows(h->value[0])) {
        h->value++;
        h->value_len--;
    }
    if (!gw__field_value_ok(h->value, h->value_len))
        return fail(p, 400);
    if (gw__ascii_ieq(h->name, h->name_len, "content-length"))
        return check_content_length(p, h);
    if (gw__ascii_ieq(h->name, h->name_len, "transfer-encoding"))
        return check_transfer_encoding(p, h);
    if (gw__ascii_ieq(h->name, h->name_len, "host"))
        return check_host(p, h);
    if (gw__ascii_ieq(h->name, h->name_len, "expect")) {
        if (!gw__ascii_ieq(h->value, h->value_len, "100-continue"))
            return fail(p, 417);
        rb->expect_continue = true;
    }
    return 0;
}

/* The request-target: visible ASCII only; origin-form, absolute-form with
 * an http(s) scheme, or "*" for OPTIONS. Fills path, query, host. */
static int split_target(struct gw__rblock *rb)
{
    struct gw_http_request *r = &rb->req;
    const char *t = r->target;
    size_t n = r->target_len, i = 0;
    if (n == 0)
        return 400;
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)t[k] <= 0x20 || (unsigned char)t[k] >= 0x7f || t[k] == '#')
            return 400;
    if (n == 1 && t[0] == '*') {
        if (!gw__ascii_ieq(r->method, r->method_len, "options"))
            return 400;
        r->path = t;
        r->path_len = 1;
        return 0;
    }
    if (t[0] != '/') {
        size_t skip;
        if (n > 7 && gw__ascii_ieq(t, 7, "http://"))
            skip = 7;
        else if (n > 8 && gw__ascii_ieq(t, 8, "https://"))
            skip = 8;
        else
            return 400;
        size_t a = skip;
        while (a < n && t[a] != '/' && t[a] != '?')
            a++;
        if (a == skip)
            return 400;
        for (size_t k = skip; k < a; k++)
            if (!is_host_char((unsigned char)t[k]))
                return 400; /* userinfo ('@') included */
        r->host = t + skip;
        r->host_len = a - skip;
        r->absolute_form = true;
        i = a;
    }
    size_t q = i;
    while (q < n && t[q] != '?')
        q++;
    if (q > i) {
        r->path = t + i;
        r->path_len = q - i;
    } else {
        r->path = "/"; /* "http://host" or "http://host?q" */
        r->path_len = 1;
    }
    if (q < n) {
        r->query = t + q + 1;
        r->query_len = n - q - 1;
    }
    return 0;
}

/* The request line has single spaces: "METHOD SP target SP HTTP/x.y". */
static bool request_line_ok(const struct gw__rblock *rb)
{
    const struct gw_http_request *r = &rb->req;
    if (r->method == NULL || r->target == NULL || r->method != rb->buf + rb->pos)
        return false;
    if (r->target != r->method + r->method_len + 1)
        return false;
    const char *after = r->target + r->target_len;
    return after + 6 <= rb->buf + rb->head_end && memcmp(after, " HTTP/", 6) == 0;
}

static int check_framing(llhttp_t *p, struct gw__rblock *rb)
{
    const struct gw_http_settings *set = &((struct gw_http_conn *)p->data)->s->set;
    if (rb->nte > 0) {
        if (rb->ncl > 0 || p->http_minor == 0)
            return 400; /* CL with TE; TE in HTTP/1.0: framing cannot be trusted */
        if (!rb->te_last_chunked)
            return 400;
        if (rb->te_other)
            return 501;
        return 0;
    }
    if (set->max_body && rb->ncl && (uint64_t)rb->content_length > set->max_body)
        return 413;
    return 0;
}

/* Dotted-quad text of an IPv4 address (what inet_ntop writes, without its
 * sprintf: this runs twice per request). */
static void fmt_ipv4(const struct in_addr *in, char *out)
{
    const unsigned char *b = (const unsigned char *)&in->s_addr;
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        if (i)
            out[n++] = '.';
        n += gw_fmt_uint(out + n, b[i], 10);
    }
    out[n] = '\0';
}

static void fill_addresses(struct gw_http_conn *c, struct gw_http_request *r)
{
    struct gw__rblock *rb = c->rb;
    const union gw__addr *a[2] = {&c->peer, &c->local};
    char *txt[2] = {rb->client_ip, rb->server_ip};
    uint16_t port[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        txt[k][0] = '\0';
        if (a[k]->sa.sa_family == AF_INET) {
            fmt_ipv4(&a[k]->in.sin_addr, txt[k]);
            port[k] = ntohs(a[k]->in.sin_port);
        } else if (a[k]->sa.sa_family == AF_INET6) {
            inet_ntop(AF_INET6, &a[k]->in6.sin6_addr, txt[k], sizeof rb->client_ip);
            port[k] = ntohs(a[k]->in6.sin6_port);
        }
    }
    r->client_addr = &c->peer.sa;
    r->client_addr_len = c->peer.sa.sa_family == AF_INET6 ? sizeof c->peer.in6 : sizeof c->peer.in;
    r->server_addr = &c->local.sa;
    r->server_addr_len = c->local.sa.sa_family == AF_INET6 ? sizeof c->local.in6 : sizeof c->local.in;
    r->client_ip = rb->client_ip;
    r->client_port = port[0];
    r->server_ip = rb->server_ip;
    r->server_port = port[1];
}

static int on_headers_complete(llhttp_t *p)
{
    struct gw_http_conn *c = p->data;
    struct gw__rblock *rb = c->rb;
    struct gw_http_request *r = &rb->req;
    p->upgrade = 0; /* Upgrade is not supported: the request is an ordinary one */
    if (p->http_major != 1 || p->http_minor > 1)
        return fail(p, 505);
    if (!request_line_ok(rb))
        return fail(p, 400);
    if (p->method == HTTP_CONNECT)
        return fail(p, 405);
    int st = split_target(rb);
    if (st == 0)
        st = check_framing(p, rb);
    if (st == 0 && p->http_minor == 1 && rb->nhost == 0)
        st = 400;
    if (st != 0)
        return fail(p, st);
    r->version = p->http_minor == 1 ? 11 : 10;
    r->head = p->method == HTTP_HEAD;
    if (!r->absolute_form) {
        for (size_t i = 0; i < rb->nheaders; i++) {
            if (gw__ascii_ieq(rb->headers[i].name, rb->headers[i].name_len, "host")) {
                r->host = rb->headers[i].value;
                r->host_len = rb->headers[i].value_len;
            }
        }
    }
    r->headers = rb->headers;
    r->nheaders = rb->nheaders;
    r->chunked = rb->nte > 0;
    r->content_length = r->chunked || rb->ncl == 0 ? -1 : rb->content_length;
    r->has_body = r->chunked || r->content_length > 0;
    r->expect_continue = rb->expect_continue && r->version == 11 && r->has_body;
    r->keep_alive = llhttp_should_keep_alive(p) != 0;
    r->seq = c->nreq + 1;
    fill_addresses(c, r);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct gw_http_conn *c = p->data;
    struct gw__rblock *rb = c->rb;
    rb->body_seen += len;
    if (c->state == GW_ST_DISCARD) {
        c->discarded += len;
        return c->discarded > c->s->set.discard_max ? -1 : 0;
    }
    c->body_held += len;
    if (c->s->h.on_body)
        c->s->h.on_body(c, at, len, c->s->h.ud);
    return c->body_paused || c->resp_ended || c->gone || c->state != GW_ST_REQUEST ? HPE_PAUSED : 0;
}

static int on_chunk_header(llhttp_t *p)
{
    struct gw_http_conn *c = p->data;
    struct gw__rblock *rb = c->rb;
    if (p->content_length >= GW_MAX_CHUNK_SIZE) {
        rb->gone = GW_HTTP_GONE_BAD_BODY;
        return -1;
    }
    uint64_t max = c->s->set.max_body;
    if (max && c->state == GW_ST_REQUEST && (rb->body_seen > max || p->content_length > max - rb->body_seen)) {
        rb->gone = GW_HTTP_GONE_BODY_LIMIT;
        return -1;
    }
    if (p->content_length == 0)
        rb->in_trailers = true;
    return 0;
}

static int on_chunk_ext(llhttp_t *p, const char *at, size_t len)
{
    struct gw__rblock *rb = rb_of(p);
    rb->ext_bytes += len;
    if (rb->ext_bytes > GW_MAX_CHUNK_EXT) {
        rb->gone = GW_HTTP_GONE_BAD_BODY;
        return -1;
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    rb_of(p)->msg_done = true;
    return HPE_PAUSED; /* stop at the end of this request: the next one waits its turn */
}

static const llhttp_settings_t parser_settings = {
    .on_method = on_method,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_chunk_extension_name = on_chunk_ext,
    .on_chunk_extension_value = on_chunk_ext,
    .on_message_complete = on_message_complete,
};

void gw__rblock_reset_request(struct gw_http_conn *c)
{
    struct gw__rblock *rb = c->rb;
    llhttp_init(&rb->parser, HTTP_REQUEST, &parser_settings);
    rb->parser.data = c;
    memset(&rb->req, 0, sizeof rb->req);
    rb->nheaders = 0;
    rb->nlines = 0;
    rb->scan = rb->line = rb->pos;
    rb->head_end = 0;
    rb->error = rb->gone = 0;
    rb->ncl = rb->nte = rb->nhost = rb->te_chunks = 0;
    rb->te_last_chunked = rb->te_other = rb->expect_continue = false;
    rb->content_length = -1;
    rb->in_trailers = rb->msg_done = false;
    rb->body_seen = 0;
    rb->ext_bytes = 0;
}

/* The status for a parser error the callbacks did not decide. */
static int status_for(llhttp_errno_t e)
{
    switch (e) {
    case HPE_INVALID_METHOD:
        return 501;
    case HPE_INVALID_VERSION:
        return 505;
    default:
        return 400;
    }
}

int gw__head_parse(struct gw_http_conn *c)
{
    struct gw__rblock *rb = c->rb;
    const char *start = rb->buf + rb->pos;
    llhttp_errno_t e = llhttp_execute(&rb->parser, start, rb->head_end - rb->pos);
    if (rb->error)
        return rb->error;
    if (e == HPE_PAUSED) {
        if (!rb->msg_done)
            return 400;
        llhttp_resume(&rb->parser);
    } else if (e != HPE_OK) {
        return status_for(e);
    }
    if (rb->req.method == NULL || rb->req.target == NULL || rb->req.version == 0)
        return 400; /* on_headers_complete never ran */
    rb->pos = rb->head_end;
    return 0;
}

size_t gw__body_feed(struct gw_http_conn *c)
{
    struct gw__rblock *rb = c->rb;
    const char *start = rb->buf + rb->pos;
    size_t n = rb->len - rb->pos;
    llhttp_errno_t e = llhttp_execute(&rb->parser, start, n);
    if (e == HPE_OK)
        return n;
    if (e == HPE_PAUSED) {
        size_t used = (size_t)(llhttp_get_error_pos(&rb->parser) - start);
        llhttp_resume(&rb->parser);
        return used;
    }
    if (rb->gone == 0)
        rb->gone = rb->error == 413 ? GW_HTTP_GONE_BODY_LIMIT : GW_HTTP_GONE_BAD_BODY;
    return 0;
}

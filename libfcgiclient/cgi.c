/* Streaming CGI response parser (RFC 3875 section 6). */
#include "fcgiclient/cgi.h"

#include "cgi_int.h"
#include "fcgiclient/error.h"
#include "util.h"

enum cgi_state { CGI_HEAD, CGI_BODY, CGI_FINISHED };

struct fcgic_cgi_parser {
    struct fcgic__alloc a;
    struct fcgic_cgi_options o;
    enum cgi_state state;
    /* End-of-block scanner: 0 = inside a line, 1 = just after a line end,
     * 2 = after line end + CR. Starts at 0: a blank first line does not end
     * the block (as in Apache). */
    int scan;
    struct fcgic__buf hbuf; /* header bytes that straddled calls */
    struct fcgic_header *hdrs;
    size_t nhdrs, cap_hdrs;
    size_t nvars;
    struct fcgic_response_head head;
    bool finish_body_sent;
    int error;
};

int fcgic_cgi_parser_new(struct fcgic_cgi_parser **out, const struct fcgic_cgi_options *opts,
                         const struct fcgic_mem *mem)
{
    if (out == NULL || (opts && !fcgic__struct_version(opts->version, FCGIC_CGI_OPTIONS_VERSION)))
        return FCGIC_E_INVAL;
    struct fcgic_cgi_parser *p = fcgic__object_new(mem, sizeof *p);
    if (p == NULL)
        return FCGIC_E_NOMEM;
    if (opts)
        p->o = *opts;
    if (p->o.max_header_bytes == 0)
        p->o.max_header_bytes = 32768;
    if (p->o.max_headers == 0)
        p->o.max_headers = 256;
    *out = p;
    return 0;
}

void fcgic_cgi_parser_free(struct fcgic_cgi_parser *p)
{
    if (p == NULL)
        return;
    fcgic__buf_free(&p->hbuf, &p->a);
    fcgic__free(&p->a, p->hdrs);
    fcgic__free(&p->a, p);
}

void fcgic_cgi_parser_reset(struct fcgic_cgi_parser *p)
{
    p->state = CGI_HEAD;
    p->scan = 0;
    p->hbuf.len = 0;
    p->nhdrs = p->nvars = 0;
    p->finish_body_sent = false;
    p->error = 0;
    memset(&p->head, 0, sizeof p->head);
}

void fcgic__cgi_parser_set_authorizer(struct fcgic_cgi_parser *p, bool on)
{
    p->o.authorizer = on;
}

int fcgic_cgi_parser_head_done(const struct fcgic_cgi_parser *p)
{
    return p->state != CGI_HEAD;
}

/* RFC 9110 token characters. */
static const uint8_t tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
    ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static bool is_tchar(unsigned char c)
{
    return tchar[c] != 0;
}

/* A field name against a lower-case literal, ASCII case-insensitively. */
static bool ieq(const char *a, size_t alen, const char *lit)
{
    return fcgic__ascii_ieq(a, alen, lit, strlen(lit));
}

static int parse_status(struct fcgic_cgi_parser *p, const char *v, size_t n)
{
    if (n < 3 || v[0] < '2' || v[0] > '5' || v[1] < '0' || v[1] > '9' || v[2] < '0' || v[2] > '9')
        return FCGIC_E_CGI_BAD_STATUS;
    if (n > 3 && v[3] != ' ' && v[3] != '\t')
        return FCGIC_E_CGI_BAD_STATUS;
    p->head.status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    p->head.status_explicit = 1;
    size_t r = 3;
    while (r < n && (v[r] == ' ' || v[r] == '\t'))
        r++;
    p->head.reason.ptr = v + r;
    p->head.reason.len = n - r;
    return 0;
}

/* Reserve header slots (regular + variables share one array: variables are
 * stored from the end). */
static int hdr_slot(struct fcgic_cgi_parser *p)
{
    if (p->nhdrs + p->nvars >= p->o.max_headers)
        return FCGIC_E_HEADERS_TOO_BIG;
    if (p->nhdrs + p->nvars < p->cap_hdrs)
        return 0;
    size_t cap = p->cap_hdrs ? p->cap_hdrs * 2 : 16;
    if (cap > p->o.max_headers)
        cap = p->o.max_headers;
    struct fcgic_header *h = fcgic__realloc(&p->a, p->hdrs, p->cap_hdrs * sizeof *h, cap * sizeof *h);
    if (h == NULL)
        return FCGIC_E_NOMEM;
    /* variables live at the end: move them */
    if (p->nvars)
        memmove(h + cap - p->nvars, h + p->cap_hdrs - p->nvars, p->nvars * sizeof *h);
    p->hdrs = h;
    p->cap_hdrs = cap;
    return 0;
}

/* Parse a complete header block [blk, blk+n) (including the final blank
 * line) into p->head. */
static int parse_block(struct fcgic_cgi_parser *p, const char *blk, size_t n)
{
    size_t i = 0;
    p->nhdrs = p->nvars = 0;
    memset(&p->head, 0, sizeof p->head);
    while (i < n) {
        size_t s = i;
        const char *nl = memchr(blk + i, '\n', n - i);
        i = nl ? (size_t)(nl - blk) : n;
        size_t e = i; /* line is [s, e) */
        i++;          /* skip LF */
        if (e > s && blk[e - 1] == '\r')
            e--;
        if (e == s)
            continue; /* blank line: the leading one Apache tolerates, or the end */
        const char *line = blk + s;
        size_t len = e - s;
        if (line[0] == ' ' || line[0] == '\t')
            return FCGIC_E_CGI_BAD_HEADER; /* folded line */
        size_t c = 0;
        while (c < len && is_tchar((unsigned char)line[c]))
            c++;
        if (c == 0 || c == len || line[c] != ':')
            return FCGIC_E_CGI_BAD_HEADER;
        size_t vs = c + 1, ve = len;
        while (vs < ve && (line[vs] == ' ' || line[vs] == '\t'))
            vs++;
        while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
            ve--;
        if (ve > vs && (memchr(line + vs, '\r', ve - vs) || memchr(line + vs, '\0', ve - vs)))
            return FCGIC_E_CGI_BAD_HEADER;
        struct fcgic_header h = {line, c, line + vs, ve - vs};
        int rc = hdr_slot(p);
        if (rc)
            return rc;
        if (p->o.authorizer && c > 9 && ieq(line, 9, "variable-")) {
            h.name += 9;
            h.name_len -= 9;
            p->nvars++;
            p->hdrs[p->cap_hdrs - p->nvars] = h;
            continue;
        }
        if (ieq(line, c, "status")) {
            if (p->head.status_explicit)
                return FCGIC_E_CGI_BAD_STATUS; /* two Status headers */
            rc = parse_status(p, h.value, h.value_len);
            if (rc)
                return rc;
        } else if (ieq(line, c, "location")) {
            p->head.location.ptr = h.value;
            p->head.location.len = h.value_len;
            p->head.location_local = h.value_len > 0 && h.value[0] == '/';
        }
        p->hdrs[p->nhdrs++] = h;
    }
    if (!p->head.status_explicit)
        p->head.status = (p->head.location.len && !p->head.location_local) ? 302 : 200;
    /* Variables were stored from the end in reverse; put them in order
     * right after the regular headers. */
    for (size_t k = 0; k < p->nvars / 2; k++) {
        struct fcgic_header t = p->hdrs[p->cap_hdrs - 1 - k];
        p->hdrs[p->cap_hdrs - 1 - k] = p->hdrs[p->cap_hdrs - p->nvars + k];
        p->hdrs[p->cap_hdrs - p->nvars + k] = t;
    }
    p->head.headers = p->hdrs;
    p->head.nheaders = p->nhdrs;
    p->head.variables = p->nvars ? p->hdrs + p->cap_hdrs - p->nvars : NULL;
    p->head.nvariables = p->nvars;
    return 0;
}

/* Scan buf for the end of the header block; returns the index just past the
 * blank line, or 0 if not found (state kept in p->scan). */
static size_t scan_end(struct fcgic_cgi_parser *p, const char *buf, size_t len)
{
    int st = p->scan;
    size_t i = 0;
    while (i < len) {
        if (st == 0) {
            /* Inside a line: jump to its end. */
            const char *nl = memchr(buf + i, '\n', len - i);
            if (nl == NULL)
                break;
            i = (size_t)(nl - buf) + 1;
            st = 1;
            continue;
        }
        char ch = buf[i++];
        if (ch == '\n') {
            p->scan = 0;
            return i;
        }
        st = (ch == '\r' && st == 1) ? 2 : 0;
    }
    p->scan = st;
    return 0;
}

int fcgic_cgi_parser_next(struct fcgic_cgi_parser *p, const char *buf, size_t len, size_t *consumed,
                          struct fcgic_cgi_event *ev)
{
    *consumed = 0;
    if (p->error)
        return p->error;
    if (p->state == CGI_FINISHED)
        return FCGIC_E_STATE;
    if (len == 0)
        return 0;
    if (p->state == CGI_BODY) {
        ev->kind = FCGIC_CGI_BODY;
        ev->head = NULL;
        ev->data = buf;
        ev->len = len;
        *consumed = len;
        return 1;
    }
    size_t end = scan_end(p, buf, len);
    size_t take = end ? end : len;
    if (p->hbuf.len + take > p->o.max_header_bytes) {
        *consumed = take;
        return p->error = FCGIC_E_HEADERS_TOO_BIG;
    }
    int rc;
    if (end == 0) {
        rc = fcgic__buf_append(&p->hbuf, &p->a, buf, len);
        *consumed = len;
        if (rc)
            p->error = rc;
        return rc;
    }
    const char *blk = buf;
    if (p->hbuf.len) {
        rc = fcgic__buf_append(&p->hbuf, &p->a, buf, end);
        if (rc) {
            *consumed = end;
            return p->error = rc;
        }
        blk = p->hbuf.data;
    }
    rc = parse_block(p, blk, p->hbuf.len ? p->hbuf.len : end);
    *consumed = end;
    if (rc)
        return p->error = rc;
    p->state = CGI_BODY;
    ev->kind = FCGIC_CGI_HEAD;
    ev->head = &p->head;
    ev->data = NULL;
    ev->len = 0;
    return 1;
}

int fcgic_cgi_parser_finish(struct fcgic_cgi_parser *p, struct fcgic_cgi_event *ev)
{
    if (p->error)
        return p->error;
    if (p->state == CGI_HEAD) {
        if (!p->o.lenient_header_block)
            return p->error = FCGIC_E_CGI_NO_HEADERS;
        memset(&p->head, 0, sizeof p->head);
        p->head.status = 200;
        p->head.no_header_block = 1;
        p->nhdrs = p->nvars = 0;
        p->state = CGI_FINISHED;
        p->finish_body_sent = p->hbuf.len == 0;
        ev->kind = FCGIC_CGI_HEAD;
        ev->head = &p->head;
        ev->data = NULL;
        ev->len = 0;
        return 1;
    }
    if (p->state == CGI_FINISHED && !p->finish_body_sent) {
        p->finish_body_sent = true;
        ev->kind = FCGIC_CGI_BODY;
        ev->head = NULL;
        ev->data = p->hbuf.data;
        ev->len = p->hbuf.len;
        return 1;
    }
    p->state = CGI_FINISHED;
    p->finish_body_sent = true; /* over: a later call yields nothing */
    return 0;
}

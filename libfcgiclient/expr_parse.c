/* Expression engine: scanner and parser (ap_expr 2.4 syntax) producing the
 * compiled node array of struct fcgic_expr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

/* ------------------------------------------------------------------------ */
/* Tokens                                                                   */
/* ------------------------------------------------------------------------ */

enum tok {
    T_END, T_ERROR, T_TRUE, T_FALSE, T_DIGIT, T_ID, T_STRING, T_REGEX, T_REGEX_I,
    T_REGEX_BACKREF, T_OP_UNARY, T_OP_BINARY, T_STR_BEGIN, T_STR_END, T_VAR_BEGIN,
    T_VAR_END, T_OP_EQ, T_OP_NE, T_OP_LT, T_OP_LE, T_OP_GT, T_OP_GE, T_OP_REG, T_OP_NRE,
    T_OP_IN, T_OP_STR_EQ, T_OP_STR_NE, T_OP_STR_LT, T_OP_STR_LE, T_OP_STR_GT, T_OP_STR_GE,
    T_OP_CONCAT, T_OP_OR, T_OP_AND, T_OP_NOT, T_LPAREN, T_RPAREN, T_LBRACE, T_RBRACE,
    T_COMMA, T_COLON
};

/* Bison's names, for Apache-identical "unexpected X" messages. */
static const char *const tok_names[] = {
    "$end", "T_ERROR", "T_TRUE", "T_FALSE", "T_DIGIT", "T_ID", "T_STRING", "T_REGEX",
    "T_REGEX_I", "T_REGEX_BACKREF", "T_OP_UNARY", "T_OP_BINARY", "T_STR_BEGIN", "T_STR_END",
    "T_VAR_BEGIN", "T_VAR_END", "T_OP_EQ", "T_OP_NE", "T_OP_LT", "T_OP_LE", "T_OP_GT",
    "T_OP_GE", "T_OP_REG", "T_OP_NRE", "T_OP_IN", "T_OP_STR_EQ", "T_OP_STR_NE",
    "T_OP_STR_LT", "T_OP_STR_LE", "T_OP_STR_GT", "T_OP_STR_GE", "T_OP_CONCAT", "T_OP_OR",
    "T_OP_AND", "T_OP_NOT", "'('", "')'", "'{'", "'}'", "','", "':'"
};

enum lexstate { S_EXPR, S_STR, S_VAR, S_VARARG };

struct token {
    enum tok type;
    size_t pos;      /* offset of the first byte */
    size_t tlen;     /* text length (ID, DIGIT, OP names) or value length (STRING, REGEX) */
    const char *text; /* ID/DIGIT/OP_*ARY: into the source; STRING/REGEX: into p->sbuf */
    int num;          /* backref digit */
    const char *errmsg; /* T_ERROR */
};

struct parser {
    struct fcgic_expr *e;
    const char *src;
    size_t len, pos;
    bool string_mode;
    unsigned max_depth, depth;
    bool no_jit;
    /* scanner */
    enum lexstate state;
    enum lexstate stack[FCGIC__EXPR_MAX_DEPTH_CAP + 2];
    unsigned sp;
    char del;
    struct fcgic__buf sbuf; /* current string / regex text */
    char errbuf[96];
    struct token tok;
    bool have_tok;
    /* errors */
    int code;        /* fatal: stop now */
    char msg[256];
    size_t err_pos;
    int sem_code; /* Apache's error2: last lookup failure, parse continues */
    char sem_msg[200];
    size_t sem_pos;
    struct fcgic_expr_error *err;
};

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

static void fatal(struct parser *p, int code, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fatal(struct parser *p, int code, size_t pos, const char *fmt, ...)
{
    va_list ap;
    if (p->code)
        return;
    p->code = code;
    p->err_pos = pos;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
}

static void semantic(struct parser *p, int code, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void semantic(struct parser *p, int code, size_t pos, const char *fmt, ...)
{
    va_list ap;
    p->sem_code = code;
    p->sem_pos = pos;
    va_start(ap, fmt);
    vsnprintf(p->sem_msg, sizeof(p->sem_msg), fmt, ap);
    va_end(ap);
}

static void nomem(struct parser *p)
{
    p->code = 0;
    fatal(p, FCGIC_E_NOMEM, p->pos, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* Scanner                                                                  */
/* ------------------------------------------------------------------------ */

static bool is_id_start(int c)
{
    return c >= 0 && fcgic__ascii_isalpha((unsigned char)c);
}

static bool is_id_char(int c)
{
    return c >= 0 && (fcgic__ascii_isalnum((unsigned char)c) || c == '_');
}

static int peekc(const struct parser *p, size_t ahead)
{
    return p->pos + ahead < p->len ? (unsigned char)p->src[p->pos + ahead] : -1;
}

static void set_tok(struct parser *p, enum tok t, size_t start)
{
    p->tok.type = t;
    p->tok.pos = start;
    p->tok.text = p->src + start;
    p->tok.tlen = p->pos - start;
}

static void tok_error(struct parser *p, size_t start, const char *msg)
{
    p->tok.type = T_ERROR;
    p->tok.pos = start;
    p->tok.text = p->src + start;
    p->tok.tlen = 1;
    p->tok.errmsg = msg;
}

static bool push_state(struct parser *p, enum lexstate s)
{
    if (p->sp >= p->max_depth + 1) {
        fatal(p, FCGIC_E_EXPR_TOO_DEEP, p->pos, "Expression nested too deeply");
        return false;
    }
    p->stack[p->sp++] = p->state;
    p->state = s;
    return true;
}

static void pop_state(struct parser *p)
{
    p->state = p->sp ? p->stack[--p->sp] : S_EXPR;
}

static void str_token(struct parser *p, size_t start)
{
    p->tok.type = T_STRING;
    p->tok.pos = start;
    p->tok.text = p->sbuf.data ? p->sbuf.data : "";
    p->tok.tlen = p->sbuf.len;
}

static bool sbuf_add(struct parser *p, char c)
{
    if (fcgic__buf_append(&p->sbuf, &p->e->alloc, &c, 1) < 0) {
        nomem(p);
        return false;
    }
    return true;
}

/* A backslash escape inside a string or variable argument, at p->pos. Returns
 * false (with the error token set) on a bad escape. */
static bool scan_escape(struct parser *p)
{
    size_t start = p->pos;
    size_t d = 0, o = 0;
    int c = peekc(p, 1);
    if (c < 0) {
        p->pos++;
        tok_error(p, start, "Unterminated string or variable");
        return false;
    }
    while (peekc(p, 1 + d) >= '0' && peekc(p, 1 + d) <= '9')
        d++;
    while (o < 3 && o < d && peekc(p, 1 + o) >= '0' && peekc(p, 1 + o) <= '7')
        o++;
    if (d > 0) {
        if (d > o) {
            p->pos += 1 + d;
            tok_error(p, start, "Bad escape sequence");
            return false;
        }
        unsigned v = 0;
        for (size_t i = 0; i < o; i++)
            v = v * 8 + (unsigned)(peekc(p, 1 + i) - '0');
        p->pos += 1 + o;
        if (v > 0xff) {
            tok_error(p, start, "Escape sequence out of bound");
            return false;
        }
        return sbuf_add(p, (char)v);
    }
    p->pos += 2;
    switch (c) {
    case 'n': return sbuf_add(p, '\n');
    case 'r': return sbuf_add(p, '\r');
    case 't': return sbuf_add(p, '\t');
    case 'b': return sbuf_add(p, '\b');
    case 'f': return sbuf_add(p, '\f');
    default: return sbuf_add(p, (char)c);
    }
}

/* String or variable-argument text. */
static void scan_text(struct parser *p)
{
    bool arg = p->state == S_VARARG;
    size_t start = p->pos;
    p->sbuf.len = 0;
    for (;;) {
        int c = peekc(p, 0);
        if (p->code)
            return;
        if (c < 0) {
            if (!arg && p->string_mode) {
                str_token(p, start);
                p->state = S_EXPR;
                return;
            }
            tok_error(p, start, "Unterminated string or variable");
            return;
        }
        if (!arg && (c == '"' || c == '\'')) {
            if (c != (unsigned char)p->del || p->string_mode) {
                p->pos++;
                sbuf_add(p, (char)c);
                continue;
            }
            if (p->sbuf.len) {
                str_token(p, start);
                return;
            }
            p->pos++;
            p->state = S_EXPR;
            set_tok(p, T_STR_END, start);
            return;
        }
        if (arg && (c == '"' || c == '\'')) {
            p->pos++;
            snprintf(p->errbuf, sizeof(p->errbuf), "Invalid character in variable argument '%c'",
                     c);
            tok_error(p, p->pos - 1, p->errbuf);
            return;
        }
        if (c == '\n') {
            tok_error(p, p->pos, "Unterminated string or variable");
            p->pos++;
            return;
        }
        if (c == '\\') {
            if (!scan_escape(p))
                return;
            continue;
        }
        if (c == '$' && peekc(p, 1) >= '0' && peekc(p, 1) <= '9') {
            if (p->sbuf.len) {
                str_token(p, start);
                return;
            }
            p->pos += 2;
            set_tok(p, T_REGEX_BACKREF, start);
            p->tok.num = p->src[p->pos - 1] - '0';
            return;
        }
        if (c == '%' && peekc(p, 1) == '{') {
            if (p->sbuf.len) {
                str_token(p, start);
                return;
            }
            p->pos += 2;
            if (!push_state(p, S_VAR))
                return;
            set_tok(p, T_VAR_BEGIN, start);
            return;
        }
        if (arg && c == '}') {
            if (p->sbuf.len) {
                str_token(p, start);
                return;
            }
            p->pos++;
            pop_state(p);
            set_tok(p, T_VAR_END, start);
            return;
        }
        p->pos++;
        if (!sbuf_add(p, (char)c))
            return;
    }
}

static void scan_var(struct parser *p)
{
    size_t start = p->pos;
    int c = peekc(p, 0);
    if (c < 0 || c == '\n') {
        if (c >= 0)
            p->pos++;
        tok_error(p, start, "Unterminated string or variable");
        return;
    }
    if (is_id_start(c)) {
        while (is_id_char(peekc(p, 0)))
            p->pos++;
        set_tok(p, T_ID, start);
        return;
    }
    p->pos++;
    if (c == '}') {
        pop_state(p);
        set_tok(p, T_VAR_END, start);
        return;
    }
    if (c == ':') {
        p->state = S_VARARG;
        set_tok(p, T_COLON, start);
        return;
    }
    if (fcgic__ascii_isprint((unsigned char)c))
        snprintf(p->errbuf, sizeof(p->errbuf), "Invalid character in variable name '%c'", c);
    else
        snprintf(p->errbuf, sizeof(p->errbuf), "Invalid character in variable name '\\x%02X'",
                 (unsigned)c);
    tok_error(p, start, p->errbuf);
}

static bool is_regex_delim(int c)
{
    return c >= 0 && c != 0 && strchr("/#$%^,;:_?|-!.'\"", c) != NULL;
}

static void scan_regex(struct parser *p, size_t start, char del)
{
    p->sbuf.len = 0;
    for (;;) {
        int c = peekc(p, 0);
        if (c < 0) {
            /* flex has no EOF rule in this state: the scanner just ends */
            p->tok.type = T_END;
            p->tok.pos = p->pos;
            p->tok.text = p->src + p->pos;
            p->tok.tlen = 0;
            return;
        }
        p->pos++;
        if (c == (unsigned char)del)
            break;
        if (!sbuf_add(p, (char)c))
            return;
        if (p->sbuf.len >= 8192) {
            tok_error(p, start, "Regexp too long");
            return;
        }
    }
    p->tok.type = T_REGEX;
    if (peekc(p, 0) == 'i') {
        p->pos++;
        p->tok.type = T_REGEX_I;
    }
    p->tok.pos = start;
    p->tok.text = p->sbuf.data ? p->sbuf.data : "";
    p->tok.tlen = p->sbuf.len;
}

struct kw {
    const char *s;
    enum tok t;
};

static const struct kw words_kw[] = {
    { "and", T_OP_AND }, { "or", T_OP_OR }, { "not", T_OP_NOT }, { "lt", T_OP_LT },
    { "le", T_OP_LE }, { "gt", T_OP_GT }, { "ge", T_OP_GE }, { "ne", T_OP_NE },
    { "eq", T_OP_EQ }, { "in", T_OP_IN }, { "true", T_TRUE }, { "false", T_FALSE },
};

static const struct kw dash_kw[] = {
    { "in", T_OP_IN }, { "eq", T_OP_EQ }, { "ne", T_OP_NE }, { "ge", T_OP_GE },
    { "le", T_OP_LE }, { "gt", T_OP_GT }, { "lt", T_OP_LT },
};

static bool kw_eq(const char *kw, const char *s, size_t n)
{
    return strlen(kw) == n && memcmp(kw, s, n) == 0;
}

static void scan_expr(struct parser *p)
{
    int c;
    while ((c = peekc(p, 0)) == ' ' || c == '\t' || c == '\n')
        p->pos++;
    size_t start = p->pos;
    if (c < 0) {
        set_tok(p, T_END, start);
        return;
    }
    int c1 = peekc(p, 1);
    if (c == '"' || c == '\'') {
        p->pos++;
        p->del = (char)c;
        p->state = S_STR;
        set_tok(p, T_STR_BEGIN, start);
        return;
    }
    if (c == '%' && c1 == '{') {
        p->pos += 2;
        if (push_state(p, S_VAR))
            set_tok(p, T_VAR_BEGIN, start);
        return;
    }
    if (c == '$' && c1 >= '0' && c1 <= '9') {
        p->pos += 2;
        set_tok(p, T_REGEX_BACKREF, start);
        p->tok.num = c1 - '0';
        return;
    }
    if (c == 'm' && is_regex_delim(c1) && !(c1 == '_' && is_id_char(peekc(p, 2)))) {
        p->pos += 2;
        scan_regex(p, start, (char)c1);
        return;
    }
    if (c == '/') {
        p->pos++;
        scan_regex(p, start, '/');
        return;
    }
    static const struct {
        const char s[3];
        enum tok t;
    } ops2[] = {
        { "==", T_OP_STR_EQ }, { "=~", T_OP_REG }, { "!=", T_OP_STR_NE }, { "!~", T_OP_NRE },
        { "<=", T_OP_STR_LE }, { ">=", T_OP_STR_GE }, { "&&", T_OP_AND }, { "||", T_OP_OR },
    };
    for (size_t i = 0; i < sizeof(ops2) / sizeof(ops2[0]); i++) {
        if (c == ops2[i].s[0] && c1 == ops2[i].s[1]) {
            p->pos += 2;
            set_tok(p, ops2[i].t, start);
            return;
        }
    }
    enum tok one = T_ERROR;
    switch (c) {
    case '=': one = T_OP_STR_EQ; break;
    case '<': one = T_OP_STR_LT; break;
    case '>': one = T_OP_STR_GT; break;
    case '!': one = T_OP_NOT; break;
    case '.': one = T_OP_CONCAT; break;
    case '(': one = T_LPAREN; break;
    case ')': one = T_RPAREN; break;
    case '{': one = T_LBRACE; break;
    case '}': one = T_RBRACE; break;
    case ',': one = T_COMMA; break;
    case ':': one = T_COLON; break;
    default: break;
    }
    if (one != T_ERROR) {
        p->pos++;
        set_tok(p, one, start);
        return;
    }
    if (c == '-' && (c1 == '_' || is_id_start(c1))) {
        p->pos += 2;
        while (is_id_char(peekc(p, 0)))
            p->pos++;
        const char *name = p->src + start + 1;
        size_t n = p->pos - start - 1;
        for (size_t i = 0; i < sizeof(dash_kw) / sizeof(dash_kw[0]); i++) {
            if (kw_eq(dash_kw[i].s, name, n)) {
                set_tok(p, dash_kw[i].t, start);
                return;
            }
        }
        set_tok(p, n == 1 ? T_OP_UNARY : T_OP_BINARY, start);
        p->tok.text = name;
        p->tok.tlen = n;
        return;
    }
    if ((c >= '0' && c <= '9') || (c == '-' && c1 >= '0' && c1 <= '9')) {
        p->pos++;
        while (peekc(p, 0) >= '0' && peekc(p, 0) <= '9')
            p->pos++;
        set_tok(p, T_DIGIT, start);
        return;
    }
    if (is_id_start(c)) {
        while (is_id_char(peekc(p, 0)))
            p->pos++;
        set_tok(p, T_ID, start);
        for (size_t i = 0; i < sizeof(words_kw) / sizeof(words_kw[0]); i++) {
            if (kw_eq(words_kw[i].s, p->tok.text, p->tok.tlen)) {
                p->tok.type = words_kw[i].t;
                break;
            }
        }
        return;
    }
    p->pos++;
    if (fcgic__ascii_isprint((unsigned char)c))
        snprintf(p->errbuf, sizeof(p->errbuf), "Parse error near '%c'", c);
    else
        snprintf(p->errbuf, sizeof(p->errbuf), "Parse error near '\\x%02X'", (unsigned)c);
    tok_error(p, start, p->errbuf);
}

static void scan(struct parser *p)
{
    p->tok.errmsg = NULL;
    p->tok.num = 0;
    switch (p->state) {
    case S_EXPR: scan_expr(p); break;
    case S_STR:
    case S_VARARG: scan_text(p); break;
    case S_VAR: scan_var(p); break;
    }
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                   */
/* ------------------------------------------------------------------------ */

static const struct token *cur(struct parser *p)
{
    if (!p->have_tok && !p->code) {
        scan(p);
        p->have_tok = true;
    }
    return &p->tok;
}

static void advance(struct parser *p)
{
    p->have_tok = false;
}

/* A syntax error at the current token, worded as bison does. A scanner
 * error where the grammar allows T_ERROR is reported as the scanner's own
 * message (allowed = true). */
static void syntax_error(struct parser *p, bool error_allowed, const char *expecting)
{
    const struct token *t = &p->tok;
    if (p->code)
        return;
    if (t->type == T_ERROR && error_allowed) {
        fatal(p, FCGIC_E_EXPR_SYNTAX, t->pos, "%s", t->errmsg);
        return;
    }
    char base[128];
    snprintf(base, sizeof(base), "syntax error, unexpected %s%s%s", tok_names[t->type],
             expecting ? ", expecting " : "", expecting ? expecting : "");
    if (t->type == T_ERROR)
        fatal(p, FCGIC_E_EXPR_SYNTAX, t->pos, "%s: %s", base, t->errmsg);
    else if (p->sem_code)
        fatal(p, FCGIC_E_EXPR_SYNTAX, t->pos, "%s: %s", base, p->sem_msg);
    else
        fatal(p, FCGIC_E_EXPR_SYNTAX, t->pos, "%s", base);
}

static uint32_t new_node(struct parser *p, uint8_t op)
{
    struct fcgic_expr *e = p->e;
    if (p->code)
        return FCGIC__EXPR_NONE;
    if (fcgic__array_reserve(&e->alloc, &e->nodes, &e->cap_nodes, e->nnodes + 1, sizeof(*e->nodes), 16)) {
        nomem(p);
        return FCGIC__EXPR_NONE;
    }
    struct fcgic__expr_node *nd = &e->nodes[e->nnodes];
    memset(nd, 0, sizeof(*nd));
    nd->op = op;
    nd->a = nd->b = FCGIC__EXPR_NONE;
    return (uint32_t)e->nnodes++;
}

static struct fcgic__expr_node *node(struct parser *p, uint32_t i)
{
    return &p->e->nodes[i];
}

static uint32_t str_node(struct parser *p, const char *s, size_t n, uint8_t flags)
{
    uint32_t i = new_node(p, FCGIC__N_STR);
    if (i == FCGIC__EXPR_NONE)
        return i;
    size_t off = p->e->strings.len;
    if (n && fcgic__buf_append(&p->e->strings, &p->e->alloc, s, n) < 0) {
        nomem(p);
        return FCGIC__EXPR_NONE;
    }
    node(p, i)->off = (uint32_t)off;
    node(p, i)->len = (uint32_t)n;
    node(p, i)->flags = flags;
    return i;
}

static bool enter(struct parser *p)
{
    if (++p->depth > p->max_depth) {
        fatal(p, FCGIC_E_EXPR_TOO_DEEP, cur(p)->pos, "Expression nested too deeply");
        return false;
    }
    return true;
}

static void leave(struct parser *p)
{
    p->depth--;
}

/* Build a CONCAT node from a list of part indexes. */
static uint32_t concat_node(struct parser *p, const uint32_t *parts, size_t n)
{
    struct fcgic_expr *e = p->e;
    if (n == 1)
        return parts[0];
    uint32_t i = new_node(p, FCGIC__N_CONCAT);
    if (i == FCGIC__EXPR_NONE)
        return i;
    if (e->nkids + n > e->cap_kids) {
        size_t nc = e->cap_kids ? e->cap_kids : 16;
        while (nc < e->nkids + n)
            nc *= 2;
        void *k = fcgic__realloc(&e->alloc, e->kids, e->cap_kids * sizeof(*e->kids),
                                 nc * sizeof(*e->kids));
        if (!k) {
            nomem(p);
            return FCGIC__EXPR_NONE;
        }
        e->kids = k;
        e->cap_kids = nc;
    }
    node(p, i)->off = (uint32_t)e->nkids;
    node(p, i)->len = (uint32_t)n;
    memcpy(e->kids + e->nkids, parts, n * sizeof(*parts));
    e->nkids += n;
    return i;
}

struct partlist {
    uint32_t small[16];
    uint32_t *v;
    size_t n, cap;
};

static bool parts_add(struct parser *p, struct partlist *pl, uint32_t x)
{
    if (pl->n == pl->cap) {
        size_t nc = pl->cap * 2;
        uint32_t *nv = fcgic__malloc(&p->e->alloc, nc * sizeof(*nv));
        if (!nv) {
            nomem(p);
            return false;
        }
        memcpy(nv, pl->v, pl->n * sizeof(*nv));
        if (pl->v != pl->small)
            fcgic__free(&p->e->alloc, pl->v);
        pl->v = nv;
        pl->cap = nc;
    }
    pl->v[pl->n++] = x;
    return true;
}

static void parts_init(struct partlist *pl)
{
    pl->v = pl->small;
    pl->n = 0;
    pl->cap = sizeof(pl->small) / sizeof(pl->small[0]);
}

static void parts_free(struct parser *p, struct partlist *pl)
{
    if (pl->v != pl->small)
        fcgic__free(&p->e->alloc, pl->v);
}

static uint32_t parse_word(struct parser *p);
static uint32_t parse_string(struct parser *p, bool start_allows_error);

struct fdesc {
    const char *name;
    int id; /* enum fcgic__expr_func, or -1 unsupported */
};

static const struct fdesc funcs[] = {
    { "osenv", FCGIC__F_OSENV }, { "env", FCGIC__F_ENV }, { "resp", FCGIC__F_RESP },
    { "req", FCGIC__F_REQ }, { "http", FCGIC__F_HTTP }, { "note", FCGIC__F_NOTE },
    { "reqenv", FCGIC__F_REQENV }, { "req_novary", FCGIC__F_REQ_NOVARY },
    { "tolower", FCGIC__F_TOLOWER }, { "toupper", FCGIC__F_TOUPPER },
    { "escape", FCGIC__F_ESCAPE }, { "unescape", FCGIC__F_UNESCAPE }, { "file", -1 },
    { "filesize", -1 }, { "base64", FCGIC__F_BASE64 }, { "unbase64", FCGIC__F_UNBASE64 },
    { "sha1", FCGIC__F_SHA1 }, { "md5", FCGIC__F_MD5 }, { "ldap", -1 },
};

/* A table name (NUL-terminated) against n bytes of the source. */
static bool ci_eq(const char *a, const char *b, size_t n)
{
    return fcgic__ascii_ieq(a, strlen(a), b, n);
}

static uint32_t func_node(struct parser *p, const char *name, size_t n, size_t pos, uint32_t arg)
{
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
        if (!ci_eq(funcs[i].name, name, n))
            continue;
        if (funcs[i].id < 0) {
            semantic(p, FCGIC_E_EXPR_UNKNOWN_FUNC, pos,
                     "Function '%.*s' is not supported by libfcgiclient", (int)n, name);
            return FCGIC__EXPR_NONE;
        }
        uint32_t x = new_node(p, FCGIC__N_FUNC);
        if (x != FCGIC__EXPR_NONE) {
            node(p, x)->aux = (uint16_t)funcs[i].id;
            node(p, x)->a = arg;
        }
        return x;
    }
    semantic(p, FCGIC_E_EXPR_UNKNOWN_FUNC, pos, "Function '%.*s' does not exist", (int)n, name);
    return FCGIC__EXPR_NONE;
}

/* var : T_VAR_BEGIN T_ID T_VAR_END | T_VAR_BEGIN T_ID ':' string T_VAR_END
 * The current token is T_VAR_BEGIN. */
static uint32_t parse_var(struct parser *p)
{
    uint32_t r = FCGIC__EXPR_NONE;
    if (!enter(p))
        return r;
    advance(p);
    const struct token *t = cur(p);
    if (t->type != T_ID) {
        syntax_error(p, false, "T_ID");
        goto out;
    }
    const char *name = t->text;
    size_t nlen = t->tlen, npos = t->pos;
    advance(p);
    t = cur(p);
    if (t->type == T_VAR_END) {
        advance(p);
        for (int v = 0; v < FCGIC_EXPR_V__COUNT; v++) {
            if (ci_eq(fcgic_expr_var_name(v), name, nlen)) {
                r = new_node(p, FCGIC__N_VAR);
                if (r != FCGIC__EXPR_NONE)
                    node(p, r)->aux = (uint16_t)v;
                goto out;
            }
        }
        semantic(p, FCGIC_E_EXPR_UNKNOWN_VAR, npos, "Variable '%.*s' does not exist", (int)nlen,
                 name);
        goto out;
    }
    if (t->type != T_COLON) {
        syntax_error(p, false, "T_VAR_END or ':'");
        goto out;
    }
    advance(p);
    uint32_t arg = parse_string(p, true);
    if (p->code)
        goto out;
    t = cur(p);
    if (t->type != T_VAR_END) {
        syntax_error(p, false, NULL);
        goto out;
    }
    advance(p);
    if (arg != FCGIC__EXPR_NONE)
        r = func_node(p, name, nlen, npos, arg);
    else
        r = FCGIC__EXPR_NONE;
out:
    leave(p);
    return r;
}

static uint32_t backref_node(struct parser *p, int n)
{
    uint32_t r = new_node(p, FCGIC__N_BACKREF);
    if (r != FCGIC__EXPR_NONE)
        node(p, r)->aux = (uint16_t)n;
    return r;
}

/* string : strpart+ ; strpart : T_STRING | var | backref. Stops at any other
 * token. Returns NONE after a lookup failure inside (Apache's NULL node). */
static uint32_t parse_string(struct parser *p, bool start_allows_error)
{
    struct partlist pl;
    bool broken = false;
    parts_init(&pl);
    for (;;) {
        const struct token *t = cur(p);
        uint32_t x;
        if (p->code)
            break;
        if (t->type == T_STRING) {
            x = (t->tlen == 0 && pl.n) ? FCGIC__EXPR_NONE : str_node(p, t->text, t->tlen, 0);
            advance(p);
        } else if (t->type == T_REGEX_BACKREF) {
            x = backref_node(p, t->num);
            advance(p);
        } else if (t->type == T_VAR_BEGIN) {
            x = parse_var(p);
            if (x == FCGIC__EXPR_NONE)
                broken = true;
        } else {
            if (pl.n == 0 && !broken)
                syntax_error(p, start_allows_error, NULL);
            break;
        }
        if (p->code)
            break;
        if (x != FCGIC__EXPR_NONE && !parts_add(p, &pl, x))
            break;
    }
    uint32_t r = FCGIC__EXPR_NONE;
    if (!p->code && !broken && pl.n)
        r = concat_node(p, pl.v, pl.n);
    parts_free(p, &pl);
    return r;
}

/* One word without '.' concatenation. */
static uint32_t parse_atom(struct parser *p)
{
    const struct token *t = cur(p);
    uint32_t r = FCGIC__EXPR_NONE;
    switch (t->type) {
    case T_DIGIT:
        r = str_node(p, t->text, t->tlen, FCGIC__NF_DIGIT);
        advance(p);
        return r;
    case T_VAR_BEGIN:
        return parse_var(p);
    case T_REGEX_BACKREF:
        r = backref_node(p, t->num);
        advance(p);
        return r;
    case T_STR_BEGIN:
        advance(p);
        if (cur(p)->type == T_STR_END) {
            advance(p);
            return str_node(p, "", 0, 0);
        }
        r = parse_string(p, true);
        if (p->code)
            return FCGIC__EXPR_NONE;
        if (cur(p)->type != T_STR_END) {
            syntax_error(p, false, NULL);
            return FCGIC__EXPR_NONE;
        }
        advance(p);
        return r;
    case T_ID: {
        const char *name = t->text;
        size_t nlen = t->tlen, npos = t->pos;
        advance(p);
        if (cur(p)->type != T_LPAREN) {
            syntax_error(p, false, "'('");
            return FCGIC__EXPR_NONE;
        }
        advance(p);
        if (!enter(p))
            return FCGIC__EXPR_NONE;
        uint32_t arg = parse_word(p);
        leave(p);
        if (p->code)
            return FCGIC__EXPR_NONE;
        if (cur(p)->type != T_RPAREN) {
            syntax_error(p, false, NULL);
            return FCGIC__EXPR_NONE;
        }
        advance(p);
        if (arg == FCGIC__EXPR_NONE)
            return FCGIC__EXPR_NONE;
        return func_node(p, name, nlen, npos, arg);
    }
    default:
        syntax_error(p, false, NULL);
        return FCGIC__EXPR_NONE;
    }
}

/* word : atom ('.' atom)* */
static uint32_t parse_word(struct parser *p)
{
    struct partlist pl;
    bool broken = false;
    parts_init(&pl);
    for (;;) {
        uint32_t x = parse_atom(p);
        if (p->code)
            break;
        if (x == FCGIC__EXPR_NONE)
            broken = true;
        else if (!parts_add(p, &pl, x))
            break;
        if (cur(p)->type != T_OP_CONCAT)
            break;
        advance(p);
    }
    uint32_t r = FCGIC__EXPR_NONE;
    if (!p->code && !broken && pl.n)
        r = concat_node(p, pl.v, pl.n);
    parts_free(p, &pl);
    return r;
}

static bool is_word_start(enum tok t)
{
    return t == T_DIGIT || t == T_VAR_BEGIN || t == T_REGEX_BACKREF || t == T_STR_BEGIN ||
           t == T_ID;
}

static uint32_t compile_regex(struct parser *p, const struct token *t)
{
    struct fcgic_expr *e = p->e;
    uint32_t opts = PCRE2_DUPNAMES | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY;
    if (t->type == T_REGEX_I)
        opts |= PCRE2_CASELESS;
    if (fcgic__array_reserve(&e->alloc, &e->regex, &e->cap_regex, e->nregex + 1, sizeof(*e->regex), 4)) {
        nomem(p);
        return FCGIC__EXPR_NONE;
    }
    pcre2_code *code = NULL;
    size_t eo = 0;
    int rc = fcgic__regex_compile(&code, &e->alloc, t->text, t->tlen, opts, p->no_jit, &eo);
    if (rc == FCGIC_E_NOMEM) {
        nomem(p);
        return FCGIC__EXPR_NONE;
    }
    if (rc) {
        /* Apache: YYERROR with this message, parse stops. */
        size_t pos = t->pos + (p->src[t->pos] == 'm' ? 2 : 1) + eo;
        if (pos > p->len)
            pos = p->len;
        fatal(p, FCGIC_E_EXPR_REGEX, pos, "Failed to compile regular expression");
        return FCGIC__EXPR_NONE;
    }
    uint32_t ncap = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &ncap);
    e->regex[e->nregex].code = code;
    e->regex[e->nregex].ncap = ncap;
    return (uint32_t)e->nregex++;
}

static bool subnet_add(struct parser *p, uint32_t arg, const char *opname, size_t pos,
                       uint32_t *out)
{
    struct fcgic_expr *e = p->e;
    if (arg == FCGIC__EXPR_NONE)
        return false;
    struct fcgic__expr_node *a = node(p, arg);
    if (a->op != FCGIC__N_STR || (a->flags & FCGIC__NF_DIGIT)) {
        semantic(p, FCGIC_E_EXPR_BAD_ARG, pos, "-%s requires subnet/netmask as constant argument",
                 opname);
        return false;
    }
    struct fcgic__expr_subnet sn;
    if (fcgic__expr_subnet_parse(&sn, e->strings.data ? e->strings.data + a->off : "", a->len)) {
        semantic(p, FCGIC_E_EXPR_BAD_ARG, pos, "parsing of subnet/netmask failed");
        return false;
    }
    if (fcgic__array_reserve(&e->alloc, &e->subnets, &e->cap_subnets, e->nsubnets + 1, sizeof(*e->subnets), 2)) {
        nomem(p);
        return false;
    }
    e->subnets[e->nsubnets] = sn;
    *out = (uint32_t)e->nsubnets++;
    return true;
}

static uint32_t parse_or(struct parser *p);

static const char unary_ops[] = "nzRTdefsLhxFUA";

static uint32_t parse_unary(struct parser *p)
{
    const struct token *t = cur(p);
    char opc = t->text[0];
    size_t pos = t->pos;
    advance(p);
    uint32_t arg = parse_word(p);
    if (p->code)
        return FCGIC__EXPR_NONE;
    if (!strchr(unary_ops, opc)) {
        semantic(p, FCGIC_E_EXPR_UNKNOWN_FUNC, pos, "Unary operator '-%c' does not exist", opc);
        return FCGIC__EXPR_NONE;
    }
    uint32_t sub = 0;
    if (opc == 'R' && !subnet_add(p, arg, "R", pos, &sub))
        return FCGIC__EXPR_NONE;
    if (arg == FCGIC__EXPR_NONE)
        return FCGIC__EXPR_NONE;
    uint32_t r = new_node(p, FCGIC__N_UNARY);
    if (r != FCGIC__EXPR_NONE) {
        node(p, r)->aux = (uint16_t)(unsigned char)opc;
        node(p, r)->a = arg;
        node(p, r)->off = sub;
    }
    return r;
}

static const struct {
    const char *name;
    int id;
} binops[] = {
    { "ipmatch", FCGIC__BIN_IPMATCH }, { "fnmatch", FCGIC__BIN_FNMATCH },
    { "strmatch", FCGIC__BIN_STRMATCH }, { "strcmatch", FCGIC__BIN_STRCMATCH },
};

/* comparison | word T_OP_BINARY word, after the first word was parsed. */
static uint32_t parse_comparison(struct parser *p, uint32_t lhs)
{
    const struct token *t = cur(p);
    enum tok op = t->type;
    int cmp = -1;
    switch (op) {
    case T_OP_EQ: cmp = FCGIC__CMP_EQ; break;
    case T_OP_NE: cmp = FCGIC__CMP_NE; break;
    case T_OP_LT: cmp = FCGIC__CMP_LT; break;
    case T_OP_LE: cmp = FCGIC__CMP_LE; break;
    case T_OP_GT: cmp = FCGIC__CMP_GT; break;
    case T_OP_GE: cmp = FCGIC__CMP_GE; break;
    case T_OP_STR_EQ: cmp = FCGIC__CMP_STR_EQ; break;
    case T_OP_STR_NE: cmp = FCGIC__CMP_STR_NE; break;
    case T_OP_STR_LT: cmp = FCGIC__CMP_STR_LT; break;
    case T_OP_STR_LE: cmp = FCGIC__CMP_STR_LE; break;
    case T_OP_STR_GT: cmp = FCGIC__CMP_STR_GT; break;
    case T_OP_STR_GE: cmp = FCGIC__CMP_STR_GE; break;
    default: break;
    }
    if (cmp >= 0) {
        advance(p);
        uint32_t rhs = parse_word(p);
        if (p->code || lhs == FCGIC__EXPR_NONE || rhs == FCGIC__EXPR_NONE)
            return FCGIC__EXPR_NONE;
        uint32_t r = new_node(p, FCGIC__N_CMP);
        if (r != FCGIC__EXPR_NONE) {
            node(p, r)->aux = (uint16_t)cmp;
            node(p, r)->a = lhs;
            node(p, r)->b = rhs;
        }
        return r;
    }
    if (op == T_OP_REG || op == T_OP_NRE) {
        advance(p);
        t = cur(p);
        if (t->type != T_REGEX && t->type != T_REGEX_I) {
            syntax_error(p, false, "T_REGEX or T_REGEX_I");
            return FCGIC__EXPR_NONE;
        }
        uint32_t rx = compile_regex(p, t);
        advance(p);
        if (p->code || lhs == FCGIC__EXPR_NONE)
            return FCGIC__EXPR_NONE;
        uint32_t r = new_node(p, FCGIC__N_REG);
        if (r != FCGIC__EXPR_NONE) {
            node(p, r)->aux = (uint16_t)rx;
            node(p, r)->a = lhs;
            node(p, r)->flags = op == T_OP_NRE ? FCGIC__NF_NEG : 0;
        }
        return r;
    }
    if (op == T_OP_IN) {
        advance(p);
        t = cur(p);
        if (t->type == T_ID) {
            /* lstfunccall: no list-returning functions exist in the core */
            const char *name = t->text;
            size_t nlen = t->tlen, npos = t->pos;
            advance(p);
            if (cur(p)->type != T_LPAREN) {
                syntax_error(p, false, "'('");
                return FCGIC__EXPR_NONE;
            }
            advance(p);
            (void)parse_word(p);
            if (p->code)
                return FCGIC__EXPR_NONE;
            if (cur(p)->type != T_RPAREN) {
                syntax_error(p, false, NULL);
                return FCGIC__EXPR_NONE;
            }
            advance(p);
            semantic(p, FCGIC_E_EXPR_UNKNOWN_FUNC, npos,
                     "List-returning function '%.*s' does not exist", (int)nlen, name);
            return FCGIC__EXPR_NONE;
        }
        if (t->type != T_LBRACE) {
            syntax_error(p, false, "T_ID or '{'");
            return FCGIC__EXPR_NONE;
        }
        advance(p);
        uint32_t first = FCGIC__EXPR_NONE, last = FCGIC__EXPR_NONE;
        bool broken = false;
        for (;;) {
            uint32_t w = parse_word(p);
            if (p->code)
                return FCGIC__EXPR_NONE;
            if (w == FCGIC__EXPR_NONE) {
                broken = true;
            } else {
                uint32_t le = new_node(p, FCGIC__N_LIST);
                if (le == FCGIC__EXPR_NONE)
                    return le;
                node(p, le)->a = w;
                if (last == FCGIC__EXPR_NONE)
                    first = le;
                else
                    node(p, last)->b = le;
                last = le;
            }
            t = cur(p);
            if (t->type == T_COMMA) {
                advance(p);
                continue;
            }
            if (t->type == T_RBRACE) {
                advance(p);
                break;
            }
            syntax_error(p, false, NULL);
            return FCGIC__EXPR_NONE;
        }
        if (broken || lhs == FCGIC__EXPR_NONE)
            return FCGIC__EXPR_NONE;
        uint32_t r = new_node(p, FCGIC__N_IN);
        if (r != FCGIC__EXPR_NONE) {
            node(p, r)->a = lhs;
            node(p, r)->b = first;
        }
        return r;
    }
    if (op == T_OP_BINARY) {
        const char *name = t->text;
        size_t nlen = t->tlen, pos = t->pos;
        advance(p);
        uint32_t rhs = parse_word(p);
        if (p->code)
            return FCGIC__EXPR_NONE;
        int id = -1;
        for (size_t i = 0; i < sizeof(binops) / sizeof(binops[0]); i++)
            if (ci_eq(binops[i].name, name, nlen))
                id = binops[i].id;
        if (id < 0) {
            semantic(p, FCGIC_E_EXPR_UNKNOWN_FUNC, pos, "Binary operator '-%.*s' does not exist",
                     (int)nlen, name);
            return FCGIC__EXPR_NONE;
        }
        uint32_t sub = 0;
        if (id == FCGIC__BIN_IPMATCH && !subnet_add(p, rhs, "ipmatch", pos, &sub))
            return FCGIC__EXPR_NONE;
        if (lhs == FCGIC__EXPR_NONE || rhs == FCGIC__EXPR_NONE)
            return FCGIC__EXPR_NONE;
        uint32_t r = new_node(p, FCGIC__N_BINARY);
        if (r != FCGIC__EXPR_NONE) {
            node(p, r)->aux = (uint16_t)id;
            node(p, r)->a = lhs;
            node(p, r)->b = rhs;
            node(p, r)->off = sub;
        }
        return r;
    }
    syntax_error(p, false, NULL);
    return FCGIC__EXPR_NONE;
}

/* The operand of !, &&, ||: everything that binds tighter than AND. */
static uint32_t parse_primary(struct parser *p)
{
    uint32_t r = FCGIC__EXPR_NONE;
    if (!enter(p))
        return r;
    const struct token *t = cur(p);
    switch (t->type) {
    case T_TRUE:
    case T_FALSE:
        r = new_node(p, t->type == T_TRUE ? FCGIC__N_TRUE : FCGIC__N_FALSE);
        advance(p);
        break;
    case T_OP_NOT: {
        advance(p);
        uint32_t a = parse_primary(p);
        if (a != FCGIC__EXPR_NONE) {
            r = new_node(p, FCGIC__N_NOT);
            if (r != FCGIC__EXPR_NONE)
                node(p, r)->a = a;
        }
        break;
    }
    case T_LPAREN:
        advance(p);
        r = parse_or(p);
        if (p->code)
            break;
        if (cur(p)->type != T_RPAREN) {
            syntax_error(p, false, NULL);
            r = FCGIC__EXPR_NONE;
            break;
        }
        advance(p);
        break;
    case T_OP_UNARY:
        r = parse_unary(p);
        break;
    default:
        if (is_word_start(t->type)) {
            uint32_t lhs = parse_word(p);
            if (!p->code)
                r = parse_comparison(p, lhs);
        } else {
            syntax_error(p, true, NULL);
        }
        break;
    }
    leave(p);
    return r;
}

/* expr (T_OP_OR | T_OP_AND) expr, both right-associative, AND binding
 * tighter. Built without recursion over the chain length. */
static uint32_t parse_binary_chain(struct parser *p, bool is_or)
{
    struct partlist pl;
    bool broken = false;
    parts_init(&pl);
    for (;;) {
        uint32_t a = is_or ? parse_binary_chain(p, false) : parse_primary(p);
        if (p->code)
            break;
        if (a == FCGIC__EXPR_NONE)
            broken = true;
        else if (!parts_add(p, &pl, a))
            break;
        if (cur(p)->type != (is_or ? T_OP_OR : T_OP_AND))
            break;
        advance(p);
    }
    uint32_t r = FCGIC__EXPR_NONE;
    if (!p->code && !broken && pl.n) {
        r = pl.v[pl.n - 1];
        for (size_t k = pl.n - 1; k-- > 0 && r != FCGIC__EXPR_NONE;) {
            uint32_t x = new_node(p, is_or ? FCGIC__N_OR : FCGIC__N_AND);
            if (x != FCGIC__EXPR_NONE) {
                node(p, x)->a = pl.v[k];
                node(p, x)->b = r;
            }
            r = x;
        }
    }
    parts_free(p, &pl);
    return r;
}

static uint32_t parse_or(struct parser *p)
{
    return parse_binary_chain(p, true);
}

/* ------------------------------------------------------------------------ */
/* Compile                                                                  */
/* ------------------------------------------------------------------------ */

int fcgic__expr_limits_fill(struct fcgic_expr_limits *dst, const struct fcgic_expr_limits *src)
{
    memset(dst, 0, sizeof(*dst));
    if (src && !fcgic__struct_version(src->version, FCGIC_EXPR_LIMITS_VERSION))
        return FCGIC_E_INVAL;
    if (src)
        *dst = *src;
    if (!dst->max_source)
        dst->max_source = 8192;
    if (!dst->max_depth)
        dst->max_depth = 32;
    if (dst->max_depth > FCGIC__EXPR_MAX_DEPTH_CAP)
        dst->max_depth = FCGIC__EXPR_MAX_DEPTH_CAP;
    if (!dst->scratch_size)
        dst->scratch_size = 65536;
    if (!dst->max_capture_subject)
        dst->max_capture_subject = 16384;
    if (!dst->match_limit)
        dst->match_limit = FCGIC__REGEX_MATCH_LIMIT;
    if (!dst->depth_limit)
        dst->depth_limit = FCGIC__REGEX_DEPTH_LIMIT;
    if (!dst->heap_limit_kib)
        dst->heap_limit_kib = FCGIC__REGEX_HEAP_LIMIT_KIB;
    return 0;
}

void fcgic__expr_regex_limits(struct fcgic__regex_limits *dst, const struct fcgic_expr_limits *lim)
{
    dst->match_limit = lim->match_limit;
    dst->depth_limit = lim->depth_limit;
    dst->heap_limit_kib = lim->heap_limit_kib;
    dst->no_jit = lim->no_jit != 0;
}

void fcgic_expr_free(struct fcgic_expr *e)
{
    if (!e)
        return;
    struct fcgic__alloc a = e->alloc;
    for (size_t i = 0; i < e->nregex; i++)
        pcre2_code_free(e->regex[i].code);
    fcgic__free(&a, e->regex);
    fcgic__free(&a, e->subnets);
    fcgic__free(&a, e->nodes);
    fcgic__free(&a, e->kids);
    fcgic__buf_free(&e->strings, &a);
    fcgic__free(&a, e);
}

int fcgic_expr_is_string(const struct fcgic_expr *e)
{
    return e && (e->flags & FCGIC_EXPR_STRING) ? 1 : 0;
}

static void fill_error(struct fcgic_expr_error *err, int code, size_t pos, const char *msg,
                       const char *src, size_t len)
{
    if (!err)
        return;
    memset(err, 0, sizeof(*err));
    err->code = code;
    err->offset = pos;
    snprintf(err->message, sizeof(err->message), "%s", msg);
    if (pos <= len) {
        size_t n = len - pos;
        if (n > 40)
            n = 40;
        memcpy(err->near_text, src + pos, n);
        err->near_text[n] = '\0';
    }
}

int fcgic_expr_new(struct fcgic_expr **out, const char *src, size_t len, unsigned flags,
                   const struct fcgic_expr_limits *limits, struct fcgic_expr_error *err,
                   const struct fcgic_mem *mem)
{
    struct fcgic_expr_limits lim;
    if (err)
        memset(err, 0, sizeof(*err));
    if (!out || (!src && len))
        return FCGIC_E_INVAL;
    *out = NULL;
    if (!src)
        src = "";
    if (fcgic__expr_limits_fill(&lim, limits) != 0)
        return FCGIC_E_INVAL;
    if (len > lim.max_source) {
        fill_error(err, FCGIC_E_EXPR_TOO_LONG, lim.max_source, "Expression too long", src, len);
        return FCGIC_E_EXPR_TOO_LONG;
    }
    const char *nul = memchr(src, '\0', len);
    if (nul) {
        fill_error(err, FCGIC_E_EXPR_SYNTAX, (size_t)(nul - src),
                   "Invalid NUL byte in expression", src, len);
        return FCGIC_E_EXPR_SYNTAX;
    }

    struct fcgic__alloc a;
    fcgic__alloc_init(&a, mem);
    struct fcgic_expr *e = fcgic__calloc(&a, 1, sizeof(*e));
    if (!e) {
        fill_error(err, FCGIC_E_NOMEM, 0, "out of memory", src, len);
        return FCGIC_E_NOMEM;
    }
    e->alloc = a;
    e->flags = flags & FCGIC_EXPR_STRING;

    struct parser *p = fcgic__calloc(&a, 1, sizeof(*p));
    if (!p) {
        fcgic_expr_free(e);
        fill_error(err, FCGIC_E_NOMEM, 0, "out of memory", src, len);
        return FCGIC_E_NOMEM;
    }
    p->e = e;
    p->src = src;
    p->len = len;
    p->string_mode = (e->flags & FCGIC_EXPR_STRING) != 0;
    p->max_depth = lim.max_depth;
    p->no_jit = lim.no_jit != 0;
    p->state = p->string_mode ? S_STR : S_EXPR;
    p->del = '\0';

    uint32_t root;
    if (p->string_mode)
        root = parse_string(p, true);
    else
        root = parse_or(p);
    if (!p->code && cur(p)->type != T_END)
        syntax_error(p, false, NULL);

    int rc = 0;
    if (p->code) {
        rc = p->code;
        fill_error(err, rc, p->err_pos, p->msg, src, len);
    } else if (p->sem_code) {
        rc = p->sem_code;
        fill_error(err, rc, p->sem_pos, p->sem_msg, src, len);
    } else if (root == FCGIC__EXPR_NONE) {
        rc = FCGIC_E_EXPR_SYNTAX;
        fill_error(err, rc, 0, "syntax error", src, len);
    }
    fcgic__buf_free(&p->sbuf, &a);
    fcgic__free(&a, p);
    if (rc) {
        fcgic_expr_free(e);
        return rc;
    }
    e->root = root;
    *out = e;
    return 0;
}

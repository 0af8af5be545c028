/* The lexer: logical lines as Apache's ap_cfg_getline() makes them, and
 * arguments as ap_getword_conf() reads them. */
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

static int line_reserve(struct gw_parser *p, size_t need)
{
    if (need <= p->line_cap)
        return 0;
    size_t cap = p->line_cap ? p->line_cap : 256;
    while (cap < need)
        cap *= 2;
    char *n = realloc(p->line, cap);
    if (n == NULL)
        return FCGIC_E_NOMEM;
    p->line = n;
    p->line_cap = cap;
    return 0;
}

/* One physical line: its bytes without the line end, and whether it asks
 * for a continuation ("\" last, but not "\\"). */
static int physical_line(struct gw_parser *p, struct gw_lexer *lx, const char **s, size_t *n, bool *cont)
{
    const char *start = lx->buf + lx->pos;
    size_t rest = lx->len - lx->pos;
    const char *nl = memchr(start, '\n', rest);
    size_t len = nl ? (size_t)(nl - start) : rest;
    if (memchr(start, '\0', len) != NULL) {
        struct gw_origin at = {lx->name, lx->next_line};
        return gw_fail(p, &at, FCGIC_E_INVAL, "NUL byte in the configuration");
    }
    lx->pos += nl ? len + 1 : len;
    lx->next_line++;
    if (len > 0 && start[len - 1] == '\r')
        len--;
    *cont = len > 0 && start[len - 1] == '\\' && !(len > 1 && start[len - 2] == '\\');
    if (*cont)
        len--;
    *s = start;
    *n = len;
    return 0;
}

/* Join physical lines into p->line until one does not continue. */
static int logical_line(struct gw_parser *p, struct gw_lexer *lx, size_t *len_out)
{
    size_t len = 0;
    bool cont = true;
    unsigned first = lx->next_line;
    while (cont && lx->pos < lx->len) {
        const char *s = NULL;
        size_t n = 0;
        int rc = physical_line(p, lx, &s, &n, &cont);
        if (rc != 0)
            return rc;
        if (len + n >= GW_CONFIG_MAX_LINE) {
            struct gw_origin at = {lx->name, first};
            return gw_fail(p, &at, FCGIC_E_RANGE, "line longer than %u bytes", GW_CONFIG_MAX_LINE);
        }
        if (line_reserve(p, len + n + 1) != 0)
            return gw_fail(p, NULL, FCGIC_E_NOMEM, "out of memory");
        memcpy(p->line + len, s, n);
        len += n;
    }
    if (line_reserve(p, len + 1) != 0)
        return gw_fail(p, NULL, FCGIC_E_NOMEM, "out of memory");
    p->line[len] = '\0';
    *len_out = len;
    return 0;
}

int gw_lex_next(struct gw_parser *p, struct gw_lexer *lx, struct gw_line *out)
{
    while (lx->pos < lx->len) {
        unsigned first = lx->next_line;
        size_t len = 0;
        int rc = logical_line(p, lx, &len);
        if (rc != 0)
            return rc;
        char *s = p->line;
        while (gw_isspace((unsigned char)*s))
            s++;
        len -= (size_t)(s - p->line);
        while (len > 0 && gw_isspace((unsigned char)s[len - 1]))
            len--;
        s[len] = '\0';
        if (len == 0 || s[0] == '#')
            continue;
        out->text = s;
        out->len = len;
        out->line = first;
        return 1;
    }
    return 0;
}

/* One quoted word at *r (opening quote included), unescaped to *w. Only
 * the quote and the backslash are escapable, as in ap_getword_conf(). */
static bool quoted_word(char **r, char **w)
{
    char quote = **r;
    char *s = *r + 1, *d = *w;
    while (*s && *s != quote) {
        if (s[0] == '\\' && (s[1] == quote || s[1] == '\\')) {
            *d++ = s[1];
            s += 2;
        } else {
            *d++ = *s++;
        }
    }
    if (*s != quote)
        return false;
    *r = s + 1;
    *w = d;
    return true;
}

/* One unquoted word: up to a blank; "\\" is one backslash. */
static void plain_word(char **r, char **w)
{
    char *s = *r, *d = *w;
    while (*s && !gw_isspace((unsigned char)*s)) {
        if (s[0] == '\\' && s[1] == '\\')
            s++;
        *d++ = *s++;
    }
    *r = s;
    *w = d;
}

int gw_lex_split(struct gw_parser *p, char *s, char **argv, int max, const struct gw_origin *at)
{
    char *r = s, *w = s;
    int argc = 0;
    for (;;) {
        while (gw_isspace((unsigned char)*r))
            r++;
        if (*r == '\0')
            return argc;
        if (argc == max)
            return gw_fail(p, at, FCGIC_E_RANGE, "more than %d arguments", max);
        char *word = w;
        if (*r == '"' || *r == '\'') {
            char q = *r;
            if (!quoted_word(&r, &w))
                return gw_fail(p, at, FCGIC_E_INVAL, "unterminated %s-quoted argument",
                               q == '"' ? "double" : "single");
        } else {
            plain_word(&r, &w);
        }
        /* w <= r: the terminator overwrites at most a byte already read,
         * so remember what r points at before writing it. */
        char next = *r;
        *w++ = '\0';
        if (next != '\0' && w > r)
            r = w;
        argv[argc++] = word;
        if (next == '\0')
            return argc;
    }
}

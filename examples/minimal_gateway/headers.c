/* Header and RequestHeader actions on a header list (headers.h), with
 * apr_table's semantics: names compare case-insensitively, "append" and
 * "merge" join with ", " into the first header of the name. */
#include "headers.h"

#include <string.h>
#include <strings.h>

#include <fcgiclient/error.h>

static bool same_name(const struct gw_http_header *h, const char *name, size_t len)
{
    return h->name_len == len && strncasecmp(h->name, name, len) == 0;
}

static size_t find(const struct gw_hdr_list *l, const char *name, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (same_name(&l->h[i], name, len))
            return i;
    return (size_t)-1;
}

static void remove_all(struct gw_hdr_list *l, const char *name, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!same_name(&l->h[i], name, len))
            l->h[o++] = l->h[i];
    l->n = o;
}

static int add(struct gw_hdr_list *l, const char *name, size_t nlen, const char *v, size_t vlen)
{
    if (l->n == l->cap)
        return FCGIC_E_RANGE;
    l->h[l->n++] = (struct gw_http_header){name, nlen, v, vlen};
    return 0;
}

/* Room in the list's storage for n bytes, or NULL. */
static char *reserve(struct gw_hdr_list *l, size_t n)
{
    if (n > l->cap_buf - l->used)
        return NULL;
    char *p = l->buf + l->used;
    l->used += n;
    return p;
}

/* h's value + ", " + v. */
static int join(struct gw_hdr_list *l, struct gw_http_header *h, const char *v, size_t vlen)
{
    char *p = reserve(l, h->value_len + 2 + vlen);
    if (p == NULL)
        return FCGIC_E_RANGE;
    memcpy(p, h->value, h->value_len);
    memcpy(p + h->value_len, ", ", 2);
    memcpy(p + h->value_len + 2, v, vlen);
    h->value = p;
    h->value_len += 2 + vlen;
    return 0;
}

/* Is v one of the comma-separated tokens of h's value (mod_headers' merge)? */
static bool has_token(const struct gw_http_header *h, const char *v, size_t vlen)
{
    const char *s = h->value, *end = h->value + h->value_len;
    while (s < end) {
        while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
            s++;
        const char *t = s;
        while (t < end && *t != ',')
            t++;
        const char *e = t;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == vlen && memcmp(s, v, vlen) == 0)
            return true;
        s = t;
    }
    return false;
}

/* Append the replacement with $0..$9 expanded. */
static int expand(struct gw_hdr_list *l, const char *subj, const size_t *ov, int pairs, const char *rep)
{
    for (const char *r = rep; *r; r++) {
        if (*r == '$' && r[1] >= '0' && r[1] <= '9') {
            int g = r[1] - '0';
            r++;
            if (g >= pairs || ov[2 * g] == (size_t)-1)
                continue;
            size_t n = ov[2 * g + 1] - ov[2 * g];
            char *p = reserve(l, n);
            if (p == NULL)
                return FCGIC_E_RANGE;
            memcpy(p, subj + ov[2 * g], n);
            continue;
        }
        if (*r == '\\' && r[1] != '\0')
            r++;
        char *p = reserve(l, 1);
        if (p == NULL)
            return FCGIC_E_RANGE;
        *p = *r;
    }
    return 0;
}

/* edit / edit*: the value rebuilt in the storage. */
static int edit(struct gw_hdr_list *l, struct gw_http_header *h, const struct gw_header_op *op)
{
    size_t start = l->used, pos = 0, ov[20];
    bool all = op->action == GW_HDR_EDIT_ALL;
    int pairs;
    while (pos <= h->value_len && (pairs = gw_regex_exec(op->re, h->value, h->value_len, pos, ov, 20)) != 0) {
        if (pairs < 0)
            return pairs;
        char *p = reserve(l, ov[0] - pos);
        if (p == NULL)
            return FCGIC_E_RANGE;
        memcpy(p, h->value + pos, ov[0] - pos);
        int rc = expand(l, h->value, ov, pairs, op->replacement);
        if (rc != 0)
            return rc;
        pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
        if (ov[1] == ov[0] && ov[0] < h->value_len) { /* empty match: keep one byte */
            char *c = reserve(l, 1);
            if (c == NULL)
                return FCGIC_E_RANGE;
            *c = h->value[ov[0]];
        }
        if (!all)
            break;
    }
    if (pos < h->value_len) {
        char *p = reserve(l, h->value_len - pos);
        if (p == NULL)
            return FCGIC_E_RANGE;
        memcpy(p, h->value + pos, h->value_len - pos);
    }
    h->value = l->buf + start;
    h->value_len = l->used - start;
    return 0;
}

static int apply_one(struct gw_hdr_list *l, const struct gw_header_op *op)
{
    size_t nlen = strlen(op->name), i = find(l, op->name, nlen);
    bool present = i != (size_t)-1;
    switch (op->action) {
    case GW_HDR_SET:
        remove_all(l, op->name, nlen);
        return add(l, op->name, nlen, op->value, op->value_len);
    case GW_HDR_SETIFEMPTY:
        return present ? 0 : add(l, op->name, nlen, op->value, op->value_len);
    case GW_HDR_ADD:
        return add(l, op->name, nlen, op->value, op->value_len);
    case GW_HDR_APPEND:
        return present ? join(l, &l->h[i], op->value, op->value_len) : add(l, op->name, nlen, op->value, op->value_len);
    case GW_HDR_MERGE:
        if (present && has_token(&l->h[i], op->value, op->value_len))
            return 0;
        return present ? join(l, &l->h[i], op->value, op->value_len) : add(l, op->name, nlen, op->value, op->value_len);
    case GW_HDR_UNSET:
        remove_all(l, op->name, nlen);
        return 0;
    case GW_HDR_EDIT:
    case GW_HDR_EDIT_ALL:
        for (size_t k = 0; k < l->n; k++)
            if (same_name(&l->h[k], op->name, nlen)) {
                int rc = edit(l, &l->h[k], op);
                if (rc != 0)
                    return rc;
            }
        return 0;
    }
    return 0;
}

int gw_headers_apply(struct gw_hdr_list *l, const struct gw_header_op *ops, size_t n_ops, bool always_only)
{
    for (size_t i = 0; i < n_ops; i++) {
        if (always_only && !ops[i].always)
            continue;
        int rc = apply_one(l, &ops[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

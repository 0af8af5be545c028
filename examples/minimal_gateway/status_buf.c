/* Text building for the status formats (status_int.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status_int.h"

static bool reserve(struct gw_sbuf *b, size_t more)
{
    if (b->failed)
        return false;
    if (b->n + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void gw_sbuf_add(struct gw_sbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void gw_sbuf_printf(struct gw_sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        gw_sbuf_add(b, tmp, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void gw_sbuf_json_str(struct gw_sbuf *b, const char *s)
{
    gw_sbuf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            gw_sbuf_add(b, e, 2);
        } else if (c < 0x20) {
            gw_sbuf_printf(b, "\\u%04x", c);
        } else {
            gw_sbuf_add(b, s, 1);
        }
    }
    gw_sbuf_add(b, "\"", 1);
}

void gw_sbuf_label(struct gw_sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            gw_sbuf_add(b, "\\", 1);
        if (*s == '\n')
            gw_sbuf_add(b, "\\n", 2);
        else
            gw_sbuf_add(b, s, 1);
    }
}

void gw_sbuf_seconds(struct gw_sbuf *b, uint64_t ns)
{
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%llu.%09llu", (unsigned long long)(ns / 1000000000ull),
                     (unsigned long long)(ns % 1000000000ull));
    while (n > 0 && tmp[n - 1] == '0')
        n--;
    if (n > 0 && tmp[n - 1] == '.')
        n--;
    gw_sbuf_add(b, tmp, (size_t)n);
}

static const struct {
    unsigned flag;
    const char *name;
} flags[GW_MEMBER_FLAGS] = {
    {FCGIC_MEMBER_DISABLED, "disabled"}, {FCGIC_MEMBER_STANDBY, "standby"}, {FCGIC_MEMBER_DRAIN, "drain"},
    {FCGIC_MEMBER_ERROR, "error"},       {FCGIC_MEMBER_HCFAIL, "hcfail"},
};

unsigned gw_member_flag(unsigned i)
{
    return i < GW_MEMBER_FLAGS ? flags[i].flag : 0;
}

const char *gw_member_flag_name(unsigned i)
{
    return i < GW_MEMBER_FLAGS ? flags[i].name : "";
}

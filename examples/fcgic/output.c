/* fcgic: messages, explain output (text and JSON) and small printing
 * helpers. */
#include "fcgic.h"

#include <stdarg.h>
#include <string.h>

static char last_msg[1024];

void msg_error(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    if (cli == NULL || !cli->silent || cli->show_error)
        fprintf(stderr, "fcgic: %s\n", last_msg);
}

const char *msg_last(void)
{
    return last_msg;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        if (s[0] == 0xe0)
            lo = 0xa0; /* overlong */
        else if (s[0] == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        if (s[0] == 0xf0)
            lo = 0x90; /* overlong */
        else if (s[0] == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    return n;
}

void json_string(FILE *f, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); continue;
        case '\\': fputs("\\\\", f); continue;
        case '\n': fputs("\\n", f); continue;
        case '\r': fputs("\\r", f); continue;
        case '\t': fputs("\\t", f); continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
            continue;
        }
        if (c < 0x80) {
            fputc(c, f);
            continue;
        }
        /* Pass valid UTF-8 through; a byte that is not part of a valid
         * sequence is written as the code point of the same value (U+0080..
         * U+00FF), so every byte string has a JSON form. */
        size_t n = utf8_len((const unsigned char *)s + i, len - i);
        int ok = n > 0;
        if (ok) {
            fwrite(s + i, 1, n, f);
            i += n - 1;
        } else
            fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
    }
    fputc('"', f);
}

/* Text form of a value: printable as is, the rest as C escapes. */
static void text_value(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            fputs("\\\\", f);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

void explain_text(FILE *f, const struct fcgic_env *env)
{
    size_t n = fcgic_env_count(env);
    const struct fcgic_param *p = fcgic_env_params(env);
    for (size_t i = 0; i < n; i++) {
        enum fcgic_env_origin o = FCGIC_ENV_ORIGIN_RAW;
        const char *rule = "";
        fcgic_env_explain(env, i, &o, &rule);
        fprintf(f, "%-8s ", fcgic_env_origin_name(o));
        text_value(f, p[i].name, p[i].name_len);
        fputc('=', f);
        text_value(f, p[i].value, p[i].value_len);
        if (rule && *rule)
            fprintf(f, "   <- %s", rule);
        fputc('\n', f);
    }
}

void explain_json_params(FILE *f, const struct fcgic_env *env)
{
    size_t n = fcgic_env_count(env);
    const struct fcgic_param *p = fcgic_env_params(env);
    fputs("  \"params\": [", f);
    for (size_t i = 0; i < n; i++) {
        enum fcgic_env_origin o = FCGIC_ENV_ORIGIN_RAW;
        const char *rule = "";
        fcgic_env_explain(env, i, &o, &rule);
        fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
        json_string(f, p[i].name, p[i].name_len);
        fputs(", \"value\": ", f);
        json_string(f, p[i].value, p[i].value_len);
        fprintf(f, ", \"origin\": \"%s\", \"rule\": ", fcgic_env_origin_name(o));
        json_string(f, rule ? rule : "", rule ? strlen(rule) : 0);
        fputc('}', f);
    }
    fputs(n ? "\n  ],\n" : "],\n", f);
}

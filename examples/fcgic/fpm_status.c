/* fcgic: reading PHP-FPM's "?json" status page. */
#include "fpm_status.h"

#include <stdio.h>
#include <string.h>

int fpm_status_field(const char *body, const char *key, char *out, size_t size)
{
    char pat[64];
    if (size == 0 || (size_t)snprintf(pat, sizeof pat, "\"%s\":", key) >= sizeof pat)
        return -1;
    const char *p = strstr(body, pat);
    if (p == NULL)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && n + 1 < size)
            out[n++] = *p++;
    } else {
        while (*p && *p != ',' && *p != '}' && n + 1 < size)
            out[n++] = *p++;
    }
    out[n] = '\0';
    return 0;
}

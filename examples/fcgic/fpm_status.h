/* fcgic: reading PHP-FPM's "?json" status page (bytes from the application). */
#ifndef FCGIC_TOOL_FPM_STATUS_H
#define FCGIC_TOOL_FPM_STATUS_H

#include <stddef.h>

/* The value of "key": in the status page `body` (NUL-terminated, any other
 * bytes), as text without quotes, into out (size >= 1; always
 * NUL-terminated, cut at size - 1 bytes). Returns 0, or -1 when the key is
 * absent. */
int fpm_status_field(const char *body, const char *key, char *out, size_t size);

#endif

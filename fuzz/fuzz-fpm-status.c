/* Fuzz target: fcgic's reader of PHP-FPM's "?json" status page, which reads
 * bytes the application sent. Invariants: no crash, every value
 * NUL-terminated inside its buffer, small buffers honoured. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/fcgic/fpm_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size + 1);
    if (body == NULL)
        return 0;
    memcpy(body, data, size);
    body[size] = '\0';
    static const char *const keys[] = {"pool", "process manager", "start time", "accepted conn", "listen queue",
                                       "idle processes", "active processes", "total processes",
                                       "max children reached", "slow requests", ""};
    static const size_t sizes[] = {1, 2, 8, 64, 256};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            char out[256 + 1];
            out[sizes[s]] = 'Z'; /* a canary just past the buffer */
            if (fpm_status_field(body, keys[k], out, sizes[s]) == 0) {
                if (memchr(out, '\0', sizes[s]) == NULL || out[sizes[s]] != 'Z')
                    abort();
            }
        }
    }
    free(body);
    return 0;
}

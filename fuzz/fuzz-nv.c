/* Fuzz target: the name-value pair decoder, input split at a point chosen by
 * the first byte, with a small pair cap. */
#include <stdint.h>
#include <stdlib.h>

#include "fcgiclient/error.h"
#include "fcgiclient/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] % 16 + 1;
    data++;
    size--;
    struct fcgic_nv_decoder *d;
    if (fcgic_nv_decoder_new(&d, 65536, NULL) != 0)
        return 0;
    size_t pos = 0, total = 0;
    while (pos < size) {
        size_t n = size - pos < split ? size - pos : split, used;
        struct fcgic_param p;
        int r = fcgic_nv_decoder_next(d, data + pos, n, &used, &p);
        if (used > n)
            abort();
        pos += used;
        if (r < 0)
            break;
        if (r == 1) {
            if (p.name_len + p.value_len > 65536)
                abort();
            /* touch both ends of both spans: ASan checks they are readable */
            if (p.name_len && p.name[0] == p.name[p.name_len - 1])
                total++;
            if (p.value_len && p.value[0] == p.value[p.value_len - 1])
                total++;
        }
    }
    int f = fcgic_nv_decoder_finish(d);
    if (f != 0 && f != FCGIC_E_NV_OVERRUN && f != FCGIC_E_NV_TOO_LONG && f != FCGIC_E_NOMEM)
        abort();
    fcgic_nv_decoder_free(d);
    return 0;
}

/**
 * @file headers.h
 * @brief Header and RequestHeader at request time: mod_headers' actions on
 *        a list of HTTP headers.
 */
#ifndef GW_HEADERS_H
#define GW_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "http.h"

/**
 * A header list being edited. `h` has room for `cap` entries; values made
 * by the actions are kept in `buf` (`cap_buf` bytes), so every span stays
 * valid as long as the list's storage does.
 */
struct gw_hdr_list {
    struct gw_http_header *h;
    size_t n, cap;
    char *buf;
    size_t used, cap_buf;
};

/**
 * Apply ops in order. `always_only`: only the `Header always` ones (for an
 * error the gateway answers itself).
 * @return 0; FCGIC_E_RANGE (the list or its storage is full: the remaining
 *         ops are not applied); an edit's regex error.
 */
int gw_headers_apply(struct gw_hdr_list *l, const struct gw_header_op *ops, size_t n_ops, bool always_only);

#endif /* GW_HEADERS_H */

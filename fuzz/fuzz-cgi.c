/* Fuzz target: the CGI response parser, input split at a point chosen by the
 * first byte. Invariants: header spans are tokens / contain no CR, LF or NUL;
 * status within 100..599; body bytes add up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiclient/cgi.h"
#include "fcgiclient/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_head(const struct fcgic_response_head *h)
{
    if (h->status < 100 || h->status > 599)
        abort();
    for (size_t i = 0; i < h->nheaders; i++) {
        const struct fcgic_header *x = &h->headers[i];
        if (x->name_len == 0 || memchr(x->name, ':', x->name_len) || memchr(x->value, '\n', x->value_len) ||
            memchr(x->value, '\r', x->value_len) || memchr(x->value, '\0', x->value_len))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = data[0] % 32 + 1;
    struct fcgic_cgi_options o = {0};
    o.authorizer = data[0] & 0x40;
    o.max_header_bytes = 2048;
    data++;
    size--;
    struct fcgic_cgi_parser *p;
    if (fcgic_cgi_parser_new(&p, &o, NULL) != 0)
        return 0;
    size_t pos = 0, body = 0;
    int rc = 0;
    while (pos < size && rc >= 0) {
        size_t n = size - pos < split ? size - pos : split, off = 0;
        while (off < n) {
            struct fcgic_cgi_event ev;
            size_t used;
            rc = fcgic_cgi_parser_next(p, (const char *)data + pos + off, n - off, &used, &ev);
            if (rc < 0)
                break;
            off += used;
            if (rc == 1 && ev.kind == FCGIC_CGI_HEAD)
                check_head(ev.head);
            if (rc == 1 && ev.kind == FCGIC_CGI_BODY)
                body += ev.len;
            if (rc == 0 && used == 0)
                break;
        }
        pos += n;
    }
    if (rc >= 0) {
        struct fcgic_cgi_event ev;
        while ((rc = fcgic_cgi_parser_finish(p, &ev)) > 0) {
            if (ev.kind == FCGIC_CGI_HEAD)
                check_head(ev.head);
            else
                body += ev.len;
        }
        if (rc == 0 && body > size)
            abort();
    }
    fcgic_cgi_parser_free(p);
    return 0;
}

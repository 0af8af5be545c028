/* A program that uses libfcgiclient the way a consumer's build finds it
 * (meson subproject, CMake with pkg-config): encodes a request through a
 * connection engine, checks the byte count and reports the version. */
#include <fcgiclient/fcgiclient.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    const char *v;
    if (fcgic_version(&v) != FCGIC_VERSION_NUMBER || strcmp(v, FCGIC_VERSION_STRING) != 0) {
        fprintf(stderr, "header version %s, library %s\n", FCGIC_VERSION_STRING, v);
        return 1;
    }
    struct fcgic_conn_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    struct fcgic_conn *c;
    if (fcgic_conn_new(&c, NULL, &cb, NULL, NULL) != 0)
        return 1;
    struct fcgic_param p = FCGIC_PARAM_LIT("REQUEST_METHOD", "GET");
    struct fcgic_request req;
    memset(&req, 0, sizeof req);
    req.params = &p;
    req.nparams = 1;
    int rc = fcgic_conn_submit(c, &req, NULL, NULL, 0);
    size_t n = fcgic_conn_out_pending(c);
    fcgic_conn_free(c);
    if (rc != 0 || n != 16 + 8 + 19 + 8 + 8) {
        fprintf(stderr, "submit: %s, %zu bytes\n", fcgic_strerror(rc), n);
        return 1;
    }
    printf("consumer built against libfcgiclient %s: %zu bytes queued\n", v, n);
    return 0;
}

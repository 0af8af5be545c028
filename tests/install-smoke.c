/* Built against an installed libfcgiclient with pkg-config only: encodes a
 * request through a connection engine and checks the bytes. */
#include <fcgiclient/fcgiclient.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    const char *v;
    if (fcgic_version(&v) != FCGIC_VERSION_NUMBER || strcmp(v, FCGIC_VERSION_STRING) != 0)
        return 1;
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
    if (fcgic_conn_submit(c, &req, NULL, NULL, 0) != 0)
        return 1;
    size_t n = fcgic_conn_out_pending(c);
    fcgic_conn_free(c);
    if (n != 16 + 8 + 19 + 8 + 8)
        return 1;
    printf("libfcgiclient %s: %s\n", v, fcgic_strerror(FCGIC_E_TIMEOUT_IDLE));
    return 0;
}

/* The smallest complete use of libfcgiclient: one request to a FastCGI
 * application with the blocking helper of the POSIX transport.
 *
 *   simple-request 'fcgi://127.0.0.1:9000' /var/www/html/index.php
 *   simple-request 'unix:/run/php/php-fpm.sock|fcgi://localhost' /var/www/html/index.php
 */
#include <fcgiclient/fcgiclient.h>
#include <stdio.h>
#include <string.h>

static int on_head(struct fcgic_conn *c, void *ud, const struct fcgic_response_head *head)
{
    (void)c;
    (void)ud;
    printf("status %d\n", head->status);
    for (size_t i = 0; i < head->nheaders; i++)
        printf("%.*s: %.*s\n", (int)head->headers[i].name_len, head->headers[i].name,
               (int)head->headers[i].value_len, head->headers[i].value);
    printf("\n");
    return 0;
}

static int on_body(struct fcgic_conn *c, void *ud, const char *data, size_t len)
{
    (void)c;
    (void)ud;
    fwrite(data, 1, len, stdout);
    return 0;
}

static int on_stderr(struct fcgic_conn *c, void *ud, const char *line, size_t len)
{
    (void)c;
    (void)ud;
    fprintf(stderr, "application: %.*s\n", (int)len, line);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s BACKEND SCRIPT_FILENAME\n", argv[0]);
        return 2;
    }
    struct fcgic_param params[] = {
        FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),
        FCGIC_PARAM_LIT("GATEWAY_INTERFACE", "CGI/1.1"),
        FCGIC_PARAM_LIT("SERVER_PROTOCOL", "HTTP/1.1"),
        {"SCRIPT_FILENAME", 15, argv[2], strlen(argv[2])},
    };
    struct fcgic_request req;
    memset(&req, 0, sizeof req);
    req.params = params;
    req.nparams = sizeof params / sizeof params[0];
    req.timeouts.total = 10ull * 1000000000; /* 10 s */

    struct fcgic_conn_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_head = on_head;
    cb.on_body = on_body;
    cb.on_stderr = on_stderr;

    struct fcgic_conn_options opts;
    memset(&opts, 0, sizeof opts);
    opts.connect_timeout_ns = 2ull * 1000000000;

    struct fcgic_result res;
    int rc = fcgic_posix_request(argv[1], &opts, &req, &cb, NULL, &res, NULL);
    if (rc != 0) {
        fprintf(stderr, "%s: %s (%s)\n", argv[1], fcgic_strerror(rc), fcgic_strerror_name(rc));
        return 1;
    }
    fprintf(stderr, "appStatus %u, protocolStatus %d\n", (unsigned)res.app_status, (int)res.protocol_status);
    return res.app_status == 0 ? 0 : 1;
}

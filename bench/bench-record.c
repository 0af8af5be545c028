/* Codec benchmark: a typical 30-variable request encoded and a 1 KiB
 * response decoded through the connection engine, and a 1 MiB STDOUT stream
 * through the record decoder, each next to memcpy of the same bytes measured
 * in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgiclient/conn.h"
#include "fcgiclient/record.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile size_t sink;

static int on_body(struct fcgic_conn *c, void *ud, const char *d, size_t n)
{
    (void)c;
    (void)ud;
    sink += n + (size_t)d[0];
    return 0;
}

static int on_head(struct fcgic_conn *c, void *ud, const struct fcgic_response_head *h)
{
    (void)c;
    (void)ud;
    sink += h->nheaders;
    return 0;
}

static const struct fcgic_param params[30] = {
    FCGIC_PARAM_LIT("HTTP_HOST", "www.example.test"),
    FCGIC_PARAM_LIT("HTTP_USER_AGENT", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
    FCGIC_PARAM_LIT("HTTP_ACCEPT", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    FCGIC_PARAM_LIT("HTTP_ACCEPT_LANGUAGE", "en-US,en;q=0.5"),
    FCGIC_PARAM_LIT("HTTP_ACCEPT_ENCODING", "gzip, deflate, br"),
    FCGIC_PARAM_LIT("HTTP_CONNECTION", "keep-alive"),
    FCGIC_PARAM_LIT("HTTP_COOKIE", "session=0123456789abcdef0123456789abcdef; theme=dark"),
    FCGIC_PARAM_LIT("HTTP_UPGRADE_INSECURE_REQUESTS", "1"),
    FCGIC_PARAM_LIT("HTTP_SEC_FETCH_DEST", "document"),
    FCGIC_PARAM_LIT("HTTP_SEC_FETCH_MODE", "navigate"),
    FCGIC_PARAM_LIT("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    FCGIC_PARAM_LIT("SERVER_SIGNATURE", ""),
    FCGIC_PARAM_LIT("SERVER_SOFTWARE", "libfcgiclient"),
    FCGIC_PARAM_LIT("SERVER_NAME", "www.example.test"),
    FCGIC_PARAM_LIT("SERVER_ADDR", "127.0.0.1"),
    FCGIC_PARAM_LIT("SERVER_PORT", "80"),
    FCGIC_PARAM_LIT("REMOTE_ADDR", "127.0.0.1"),
    FCGIC_PARAM_LIT("DOCUMENT_ROOT", "/var/www/html"),
    FCGIC_PARAM_LIT("REQUEST_SCHEME", "http"),
    FCGIC_PARAM_LIT("CONTEXT_PREFIX", "/app/"),
    FCGIC_PARAM_LIT("CONTEXT_DOCUMENT_ROOT", "/var/www/app/"),
    FCGIC_PARAM_LIT("SERVER_ADMIN", "webmaster@example.test"),
    FCGIC_PARAM_LIT("SCRIPT_FILENAME", "proxy:fcgi://127.0.0.1:9000/var/www/app/index.php"),
    FCGIC_PARAM_LIT("REMOTE_PORT", "54321"),
    FCGIC_PARAM_LIT("GATEWAY_INTERFACE", "CGI/1.1"),
    FCGIC_PARAM_LIT("SERVER_PROTOCOL", "HTTP/1.1"),
    FCGIC_PARAM_LIT("REQUEST_METHOD", "GET"),
    FCGIC_PARAM_LIT("QUERY_STRING", "page=2&sort=desc"),
    FCGIC_PARAM_LIT("REQUEST_URI", "/app/index.php?page=2&sort=desc"),
    FCGIC_PARAM_LIT("SCRIPT_NAME", "/app/index.php"),
};

static size_t app_record(unsigned char *out, int type, const char *content, size_t clen)
{
    fcgic_record_header_encode(out, (enum fcgic_type)type, 1, (uint16_t)clen, 0);
    memcpy(out + 8, content, clen);
    return 8 + clen;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    /* Application answer: CGI headers + 1 KiB body, empty STDOUT, END_REQUEST. */
    static char resp[2048];
    int hl = snprintf(resp, sizeof resp, "Content-Type: text/html; charset=UTF-8\r\nCache-Control: no-store\r\n\r\n");
    memset(resp + hl, 'x', 1024);
    static unsigned char answer[4096];
    size_t alen = app_record(answer, FCGIC_TYPE_STDOUT, resp, (size_t)hl + 1024);
    alen += app_record(answer + alen, FCGIC_TYPE_STDOUT, "", 0);
    fcgic_record_header_encode(answer + alen, FCGIC_TYPE_END_REQUEST, 1, 8, 0);
    memset(answer + alen + 8, 0, 8);
    alen += 16;

    struct fcgic_conn_callbacks cb = {0};
    cb.version = FCGIC_CONN_CALLBACKS_VERSION;
    cb.on_head = on_head;
    cb.on_body = on_body;
    struct fcgic_conn_options o = {0};
    o.keep_conn = 1;
    struct fcgic_conn *c;
    if (fcgic_conn_new(&c, &o, &cb, NULL, NULL) != 0)
        return 1;
    struct fcgic_request req = {0};
    req.params = params;
    req.nparams = 30;
    static unsigned char wire[8192];
    size_t req_bytes = 0;
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        if (fcgic_conn_submit(c, &req, NULL, NULL, 0) != 0)
            return 1;
        struct fcgic_iov iov[8];
        size_t n = fcgic_conn_out_iov(c, iov, 8), w = 0;
        for (size_t k = 0; k < n; k++)
            w += iov[k].len;
        req_bytes = w;
        fcgic_conn_out_done(c, w, 0);
        size_t used;
        if (fcgic_conn_recv(c, answer, alen, &used, 0) != 0)
            return 1;
    }
    double t_conn = (now_ns() - t0) / (double)iters;
    /* Baseline: memcpy of the same bytes (request and response wire bytes). */
    static unsigned char dst[8192];
    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        memcpy(dst, wire, req_bytes);
        memcpy(dst + req_bytes, answer, alen);
        sink += dst[i & 1023];
    }
    double t_copy = (now_ns() - t0) / (double)iters;
    printf("request+response (30 params, %zu B request, 1 KiB body): %.0f ns; memcpy of the %zu bytes: %.0f ns; "
           "ratio %.1fx\n",
           req_bytes, t_conn, req_bytes + alen, t_copy, t_conn / t_copy);
    fcgic_conn_free(c);

    /* 1 MiB STDOUT stream in 65535-byte records through the decoder. */
    size_t mib = 1u << 20, nrec = mib / 65535 + 1;
    unsigned char *stream = malloc(mib + nrec * 8);
    unsigned char *copy = malloc(mib + nrec * 8);
    size_t slen = 0, left = mib;
    while (left) {
        size_t k = left < 65535 ? left : 65535;
        fcgic_record_header_encode(stream + slen, FCGIC_TYPE_STDOUT, 1, (uint16_t)k, 0);
        memset(stream + slen + 8, 'y', k);
        slen += 8 + k;
        left -= k;
    }
    struct fcgic_decoder *d;
    fcgic_decoder_new(&d, NULL);
    long reps = iters / 200 + 50;
    t0 = now_ns();
    for (long r = 0; r < reps; r++) {
        size_t pos = 0, got = 0;
        for (;;) {
            struct fcgic_decoder_event ev;
            size_t used;
            int rc = fcgic_decoder_next(d, stream + pos, slen - pos, &used, &ev);
            pos += used;
            if (rc <= 0)
                break;
            if (ev.kind == FCGIC_DEC_DATA)
                got += ev.len;
        }
        if (got != mib)
            return 1;
    }
    double t_dec = (now_ns() - t0) / (double)reps;
    t0 = now_ns();
    for (long r = 0; r < reps; r++) {
        memcpy(copy, stream, slen);
        sink += copy[r & 4095];
    }
    double t_mc = (now_ns() - t0) / (double)reps;
    printf("decode 1 MiB STDOUT: %.1f us (%.2f GB/s); memcpy 1 MiB: %.1f us (%.2f GB/s); ratio %.2fx\n", t_dec / 1e3,
           (double)mib / t_dec, t_mc / 1e3, (double)mib / t_mc, t_dec / t_mc);
    fcgic_decoder_free(d);

    /* The same 1 MiB as a response through the engine: CGI header block,
     * body spans to on_body, END_REQUEST. */
    size_t hl2 = (size_t)snprintf((char *)copy, 64, "Content-Type: application/octet-stream\r\n\r\n");
    unsigned char *resp1m = malloc(slen + 64 + 32);
    size_t rlen = 0;
    fcgic_record_header_encode(resp1m, FCGIC_TYPE_STDOUT, 1, (uint16_t)hl2, 0);
    memcpy(resp1m + 8, copy, hl2);
    rlen = 8 + hl2;
    memcpy(resp1m + rlen, stream, slen);
    rlen += slen;
    fcgic_record_header_encode(resp1m + rlen, FCGIC_TYPE_STDOUT, 1, 0, 0);
    rlen += 8;
    fcgic_record_header_encode(resp1m + rlen, FCGIC_TYPE_END_REQUEST, 1, 8, 0);
    memset(resp1m + rlen + 8, 0, 8);
    rlen += 16;
    if (fcgic_conn_new(&c, &o, &cb, NULL, NULL) != 0)
        return 1;
    struct fcgic_request small = {0};
    t0 = now_ns();
    for (long r = 0; r < reps; r++) {
        if (fcgic_conn_submit(c, &small, NULL, NULL, 0) != 0)
            return 1;
        struct fcgic_iov iov[8];
        size_t n = fcgic_conn_out_iov(c, iov, 8), w = 0;
        for (size_t k = 0; k < n; k++)
            w += iov[k].len;
        fcgic_conn_out_done(c, w, 0);
        size_t used;
        /* fed in 64 KiB reads, as a socket would deliver it */
        for (size_t pos = 0; pos < rlen; pos += used)
            if (fcgic_conn_recv(c, resp1m + pos, rlen - pos < 65536 ? rlen - pos : 65536, &used, 0) != 0)
                return 1;
    }
    double t_engine = (now_ns() - t0) / (double)reps;
    printf("1 MiB response through the engine (CGI headers, on_body, 64 KiB reads): %.1f us (%.2f GB/s); "
           "ratio to memcpy %.2fx\n",
           t_engine / 1e3, (double)mib / t_engine, t_engine / t_mc);
    fcgic_conn_free(c);
    free(resp1m);
    free(stream);
    free(copy);
    return 0;
}

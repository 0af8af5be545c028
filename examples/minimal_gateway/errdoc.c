/* Errors the gateway answers itself after routing (errdoc.h). */
#include "errdoc.h"

#include <stdio.h>
#include <string.h>

#include <fcgiclient/http.h>

#include "headers.h"

/* The last ErrorDocument for status over the merged scopes (later ones
 * win; `ErrorDocument N default` gives NULL back). */
static const struct gw_error_doc *find_doc(const struct gw_route_out *ro, int status)
{
    const struct gw_error_doc *doc = NULL;
    for (size_t s = 0; ro != NULL && s < ro->n_scopes; s++)
        for (size_t i = 0; i < ro->scopes[s]->n_error_docs; i++)
            if (ro->scopes[s]->error_docs[i].status == status)
                doc = &ro->scopes[s]->error_docs[i];
    return doc && (doc->kind != GW_ERRDOC_TEXT || doc->text) ? doc : NULL;
}

bool gw_errdoc_override(const struct gw_route_out *ro, int status)
{
    const struct gw_dir_conf *c = NULL;
    for (size_t s = 0; ro != NULL && s < ro->n_scopes; s++)
        if (ro->scopes[s]->set & GW_DC_ERROR_OVERRIDE)
            c = ro->scopes[s];
    if (c == NULL || !c->error_override || status < 400 || status > 599)
        return false;
    if (c->n_override_codes == 0)
        return true;
    for (size_t i = 0; i < c->n_override_codes; i++)
        if (c->override_codes[i] == status)
            return true;
    return false;
}

/* Apache's canned explanations (http_protocol.c), for the common statuses. */
static const char *canned(int status)
{
    switch (status) {
    case 400:
        return "<p>Your browser sent a request that this server could not understand.<br />\n</p>\n";
    case 401:
        return "<p>This server could not verify that you\nare authorized to access the document\nrequested.  "
               "Either you supplied the wrong\ncredentials (e.g., bad password), or your\nbrowser doesn't "
               "understand how to supply\nthe credentials required.</p>\n";
    case 403:
        return "<p>You don't have permission to access this resource.</p>\n";
    case 404:
        return "<p>The requested URL was not found on this server.</p>\n";
    case 413:
        return "The requested resource does not allow request data with the requested method or the amount "
               "of data provided in\nthe request exceeds the capacity limit.\n";
    case 500:
        return "<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\n"
               "your request.</p>\n<p>More information about this error may be available\nin the server "
               "error log.</p>\n";
    case 502:
        return "<p>The proxy server received an invalid\nresponse from an upstream server.<br />\n</p>\n";
    case 503:
        return "<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or "
               "capacity\nproblems. Please try again later.</p>\n";
    case 504:
        return "<p>The gateway did not receive a timely response\nfrom the upstream server or application.</p>\n";
    default:
        return "";
    }
}

static size_t apache_page(char *buf, size_t cap, int status, const char *url)
{
    const char *reason = fcgic_http_reason(status);
    int n;
    if (url != NULL)
        n = snprintf(buf, cap,
                     "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>%d %s</title>\n"
                     "</head><body>\n<h1>%s</h1>\n<p>The document has moved <a href=\"%s\">here</a>.</p>\n"
                     "</body></html>\n",
                     status, reason, reason, url);
    else
        n = snprintf(buf, cap,
                     "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>%d %s</title>\n"
                     "</head><body>\n<h1>%s</h1>\n%s</body></html>\n",
                     status, reason, reason, canned(status));
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* A URL is written into HTML and a header: no quote, angle bracket or
 * control byte (ErrorDocument URLs come from the configuration). */
static bool url_safe(const char *u)
{
    for (; *u; u++)
        if ((unsigned char)*u < 0x21 || *u == '"' || *u == '<' || *u == '>' || *u == 0x7f)
            return false;
    return true;
}

/* The `Header always` lines of the merged scopes on top of `l`. */
static void always_headers(struct gw_hdr_list *l, const struct gw_route_out *ro)
{
    for (size_t s = 0; ro != NULL && s < ro->n_scopes; s++)
        if (gw_headers_apply(l, ro->scopes[s]->headers, ro->scopes[s]->n_headers, true) != 0)
            return;
}

static bool has_always(const struct gw_route_out *ro)
{
    for (size_t s = 0; ro != NULL && s < ro->n_scopes; s++)
        for (size_t i = 0; i < ro->scopes[s]->n_headers; i++)
            if (ro->scopes[s]->headers[i].always)
                return true;
    return false;
}

int gw_errdoc_respond(struct gw_http_conn *c, int status, const struct gw_route_out *ro, bool want_page,
                      size_t *body_len)
{
    const struct gw_error_doc *doc = find_doc(ro, status);
    *body_len = 0;
    if (doc == NULL && !want_page && !has_always(ro)) {
        gw_http_response_error(c, status);
        *body_len = gw_http_error_body_len(status);
        return status;
    }
    static __thread char page[2048], store[8192], text[64];
    static __thread struct gw_http_header hv[64];
    struct gw_hdr_list l = {hv, 0, 64, store, 0, sizeof store};
    const char *body = page, *type = "text/html; charset=iso-8859-1";
    size_t len;
    if (doc != NULL && doc->kind == GW_ERRDOC_REDIRECT && url_safe(doc->text)) {
        status = 302;
        len = apache_page(page, sizeof page, status, doc->text);
        hv[l.n++] = (struct gw_http_header){"Location", 8, doc->text, doc->len};
    } else if (doc != NULL && doc->kind != GW_ERRDOC_REDIRECT) {
        body = doc->text;
        len = doc->len;
        type = doc->kind == GW_ERRDOC_FILE ? doc->content_type : type;
    } else if (want_page || doc != NULL) {
        len = apache_page(page, sizeof page, status, NULL);
    } else {
        int n = snprintf(text, sizeof text, "%d %s\n", status, fcgic_http_reason(status));
        body = text;
        len = n > 0 ? (size_t)n : 0;
        type = "text/plain";
    }
    if (type != NULL)
        hv[l.n++] = (struct gw_http_header){"Content-Type", 12, type, strlen(type)};
    always_headers(&l, ro);
    if (gw_http_response_head(c, status, NULL, l.h, l.n, (long long)len) != 0) {
        gw_http_response_error(c, status);
        *body_len = gw_http_error_body_len(status);
        return status;
    }
    *body_len = len;
    if (len > 0 && gw_http_response_write(c, body, len) < 0) {
        gw_http_response_abort(c);
        return status;
    }
    if (gw_http_response_end(c) != 0)
        gw_http_response_abort(c);
    return status;
}

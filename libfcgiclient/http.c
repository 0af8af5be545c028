/* HTTP statuses and reason phrases for gateways (http.h). */
#include "fcgiclient/http.h"

#include "fcgiclient/error.h"

int fcgic_http_status_for_error(int err)
{
    switch (err) {
    case 0: return 0;
    case FCGIC_E_TIMEOUT_CONNECT:
    case FCGIC_E_TIMEOUT_FIRST_BYTE:
    case FCGIC_E_TIMEOUT_IDLE:
    case FCGIC_E_TIMEOUT_TOTAL:
    case FCGIC_E_TIMEOUT:
    case FCGIC_E_POOL_TIMEOUT: return 504;
    case FCGIC_E_CONNECT:
    case FCGIC_E_RESOLVE:
    case FCGIC_E_SOCKET:
    case FCGIC_E_BAL_ALL_DOWN:
    case FCGIC_E_POOL_QUEUE_FULL:
    case FCGIC_E_POOL_CLOSED: return 503;
    case FCGIC_E_ENV_BAD_URI:
    case FCGIC_E_ENV_PATH_CTL:
    case FCGIC_E_ENV_BAD_HEADER:
    case FCGIC_E_BODY_SOURCE: return 400;
    case FCGIC_E_ENV_ENCODED_SLASH:
    case FCGIC_E_ENV_NO_FILE: return 404;
    case FCGIC_E_ENV_HEADERS_TOO_BIG: return 431;
    case FCGIC_E_ABORTED: return 499;
    default: break;
    }
    /* The record layer (-20 .. -49), CGI responses (-50 .. -69), and the
     * connection failing under the request. */
    if ((err <= -20 && err > -70) || err == FCGIC_E_PEER_CLOSED || err == FCGIC_E_CONN_FAILED ||
        err == FCGIC_E_IO)
        return err == FCGIC_E_PARAMS_TOO_BIG || err == FCGIC_E_NV_TOO_LONG || err == FCGIC_E_BAD_ROLE ? 500 : 502;
    return 500;
}

int fcgic_http_status_for_result(const struct fcgic_result *r)
{
    if (r == NULL)
        return 500;
    if (r->error)
        return fcgic_http_status_for_error(r->error);
    switch (r->protocol_status) {
    case FCGIC_REQUEST_COMPLETE: return 0;
    case FCGIC_OVERLOADED: return 503;
    default: return 502;
    }
}

const char *fcgic_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

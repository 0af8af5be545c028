/* The hostile-application matrix: every case is a script for
 * tests/apps/app-hostile (the QUERY_STRING key `do`) and the outcome the
 * client side must show, and every case runs three ways:
 *
 *   fcgic    examples/fcgic as a subprocess (--json: exit code, error name,
 *            status; -o: the body), then a second fcgic run that must be
 *            answered with its own body;
 *   pool     a pool on the POSIX transport in this process (enable_reuse,
 *            one connection), then a second request on the same pool, on
 *            the kept connection when it is clean, else on a fresh one;
 *   gateway  examples/minimal_gateway, started once per TCase in front of
 *            the same app with enablereuse=on, over a real client socket:
 *            the HTTP status, the body, or a visible truncation (closed
 *            before the end of a chunked body); then a second request on
 *            the same client connection when it stayed open (a new one
 *            otherwise), which must start with its own status line.
 *
 * Every body carries a marker of its own ('@' in a script becomes
 * "k<case>", the second request answers "n<case><way>"), so a byte of one
 * response that reaches another request shows. Cases run concurrently in
 * a few threads; failures are collected and reported together. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcgiclient/fcgiclient.h"
#include "gwtest.h"
#include "harness.h"
#include "testutil.h"

#define SEC 1000000000ull
#define POST_LEN (16u << 20) /* more than the socket buffers hold */
#define THREADS 8

/* ---- the cases ---- */

enum {
    F_SLOW = 1 << 0,  /* the app stalls: short timeouts (slow_secs()), the gateway's /s/ route */
    F_HEAD = 1 << 1,  /* HEAD request */
    F_POST = 1 << 2,  /* POST with a 16 MiB body (POST_LEN) */
    F_MPX = 1 << 3,   /* the pool runs a second request beside it on one connection */
    F_TRUNC = 1 << 4, /* gateway: head sent, then the response is cut (no clean end) */
    F_RETRY = 1 << 5, /* pool way, F_MPX: the second request runs again on a new connection */
    F_PROMPT = 1 << 6, /* the app stays silent (and the socket open) for 15 s after its answer: the
                          answer must be complete long before that (5 s) */
};

struct hcase {
    const char *name;
    const char *script;   /* value of do=, URL-ready; '@' becomes the case's marker */
    int err;              /* library error (fcgic JSON, pool result); 0 none */
    int ps;               /* protocolStatus expected when err is 0 */
    unsigned app;         /* appStatus expected when err is 0 */
    int st;               /* status of the head (0: 200) */
    const char *body;     /* body of a complete response ('@' as in script) */
    size_t fill;          /* ... followed by this many 'x' */
    int gw;               /* gateway status; 0: derived from err / ps / st */
    unsigned flags;
    int fields;           /* X-Fill-* header fields the response must carry (hdrfill=) */
    /* F_MPX, pool way only: results of this request and of the one beside it */
    int mpx_err;          /* this request */
    int mpx_b_err;        /* the other one: error, */
    int mpx_b_ps;         /* protocolStatus */
    const char *mpx_b_body;
};

#define E(x) FCGIC_E_##x
#define HD "out=Status:%20200\\r\\nContent-Type:%20text/plain\\r\\n\\r\\n"
#define HDB HD "@"
#define FIN ";outeof;end"
#define OK(n, s) {.name = n, .script = s, .body = "@"}
#define BAD(n, s, e) {.name = n, .script = s, .err = E(e)}
#define CUT(n, s, e) {.name = n, .script = s, .err = E(e), .body = "@", .flags = F_TRUNC}
#define Z8 "\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"

static const struct hcase cases[] = {
    /* a well-behaved answer: the baseline every way must pass */
    OK("plain", HDB FIN),
    /* record version */
    BAD("version-0", "vhdr=0,6,cur,5,0;raw=hello" FIN, BAD_VERSION),
    BAD("version-2", "vhdr=2,6,cur,19,0;raw=Status:%20200\\r\\n\\r\\nab" FIN, BAD_VERSION),
    CUT("version-255-after-head", HDB ";vhdr=255,6,cur,1,0;raw=x" FIN, BAD_VERSION),
    BAD("version-2-end-request", "vhdr=2,3,cur,8,0;raw=" Z8, BAD_VERSION),
    /* request ids */
    BAD("id-zero-stdout", "rec=6,0,Status:%20200\\r\\n\\r\\n@" FIN, ZERO_ID),
    BAD("id-zero-stderr", "rec=7,0,oops\\n;" HDB FIN, ZERO_ID),
    CUT("id-zero-end-request", HDB ";outeof;rec=3,0," Z8, ZERO_ID),
    BAD("id-unknown-stdout", "rec=6,cur%2B1,Status:%20200\\r\\n\\r\\n@" FIN, UNKNOWN_ID),
    BAD("id-unknown-far", "rec=6,cur%2B1000,Status:%20200\\r\\n\\r\\n@" FIN, UNKNOWN_ID),
    BAD("id-65535", "rec=6,65535,Status:%20200\\r\\n\\r\\n@" FIN, UNKNOWN_ID),
    CUT("id-unknown-mid-body", HDB ";rec=6,cur%2B1,more" FIN, UNKNOWN_ID),
    CUT("id-unknown-end-request", HDB ";outeof;rec=3,cur%2B1," Z8, UNKNOWN_ID),
    BAD("id-unknown-stderr", "rec=7,cur%2B1,oops\\n;" HDB FIN, UNKNOWN_ID),
    /* management records in the middle of a response */
    BAD("mgmt-values-result-unsolicited", "rec=10,0,\\x0e\\x02FCGI_MAX_CONNS10;" HDB FIN, UNSOLICITED),
    CUT("mgmt-values-result-mid-body", HDB ";rec=10,0,\\x0e\\x02FCGI_MAX_CONNS10" FIN, UNSOLICITED),
    BAD("mgmt-values-result-nonzero-id", "rec=10,cur,\\x0e\\x02FCGI_MAX_CONNS10;" HDB FIN, MGMT_ID),
    BAD("mgmt-get-values-from-app", "rec=9,0,\\x0e\\x00FCGI_MAX_CONNS;" HDB FIN, BAD_TYPE),
    CUT("mgmt-get-values-mid-body", HDB ";rec=9,0," FIN, BAD_TYPE),
    BAD("mgmt-unknown-type-answer", "rec=11,0,\\x01" "\\x00\\x00\\x00\\x00\\x00\\x00\\x00;" HDB FIN, PEER_UNKNOWN_TYPE),
    CUT("mgmt-unknown-type-mid-body", HDB ";rec=11,0,\\x09" "\\x00\\x00\\x00\\x00\\x00\\x00\\x00" FIN,
        PEER_UNKNOWN_TYPE),
    BAD("mgmt-unknown-type-short", "rec=11,0,\\x01;" HDB FIN, BAD_LENGTH),
    /* record types an application never sends, and types nobody knows */
    BAD("type-0", "rec=0,cur,x;" HDB FIN, BAD_TYPE),
    BAD("type-begin-request", "rec=1,cur,\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00;" HDB FIN, BAD_TYPE),
    BAD("type-abort-request", "rec=2,cur,;" HDB FIN, BAD_TYPE),
    BAD("type-abort-request-with-content", "rec=2,cur,abc;" HDB FIN, BAD_LENGTH),
    BAD("type-params", "rec=4,cur,\\x01\\x01ab;" HDB FIN, BAD_TYPE),
    BAD("type-stdin", "rec=5,cur,data;" HDB FIN, BAD_TYPE),
    BAD("type-data", "rec=8,cur,data;" HDB FIN, BAD_TYPE),
    BAD("type-12-small", "rec=12,cur,x;" HDB FIN, BAD_TYPE),
    BAD("type-12-id-0", "rec=12,0,;" HDB FIN, BAD_TYPE),
    BAD("type-200-64k", "fill=200,cur,65535,255;" HDB FIN, BAD_TYPE),
    BAD("type-255-64k-id-0", "fill=255,0,65535,0;" HDB FIN, BAD_TYPE),
    CUT("type-12-mid-body", HDB ";rec=12,cur,x" FIN, BAD_TYPE),
    CUT("type-99-64k-mid-body", HDB ";fill=99,cur,65535,255" FIN, BAD_TYPE),
    /* lengths and padding at their limits */
    {.name = "content-65535-pad-255", .script = HD ";fill=6,cur,65535,255" FIN, .fill = 65535},
    {.name = "content-65535-x3", .script = HD ";fill=6,cur,65535,0;fill=6,cur,65535,7;fill=6,cur,65535,255" FIN,
     .fill = 3 * 65535},
    {.name = "stderr-65535-pad-255", .script = "fill=7,cur,65535,255,e;" HD ";fill=6,cur,10,255" FIN, .fill = 10},
    OK("pad-255-every-record", "recpad=6,cur,255,Status:%20200\\r\\n\\r\\n@;recpad=7,cur,255,e\\n;recpad=6,cur,255,;"
                               "recpad=3,cur,255," Z8),
    OK("pad-1-every-record", "recpad=6,cur,1,Status:%20200\\r\\n\\r\\n@;recpad=6,cur,1,;recpad=3,cur,1," Z8),
    OK("pad-late", "hdr=6,cur,15,200;raw=Status:%20200\\r\\n\\r\\n;sleep=50;pad=100;sleep=50;pad=100;out=@" FIN),
    OK("pad-late-by-bytes", HD ";hdr=6,cur,4,255;raw=@;sleep=30;pad=1;sleep=30;pad=254;rec=6,cur,;end"),
    OK("pad-end-request-255", HDB ";outeof;recpad=3,cur,255," Z8),
    OK("end-request-16-bytes", HDB ";outeof;rec=3,cur," Z8 "\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08"),
    CUT("end-request-4-bytes", HDB ";outeof;rec=3,cur,\\x00\\x00\\x00\\x00", BAD_LENGTH),
    CUT("end-request-empty", HDB ";outeof;rec=3,cur,", BAD_LENGTH),
    OK("empty-records-between", "rec=7,cur,;" HD ";erreof;rec=6,cur,@" FIN),
    /* content shorter or longer than declared; cut record headers */
    BAD("content-longer-than-declared", "hdr=6,cur,8,0;raw=Status:%20200\\r\\n\\r\\n@" FIN, BAD_VERSION),
    {.name = "content-longer-after-head", .script = HDB ";hdr=6,cur,2,0;raw=abcdefghij" FIN, .err = E(BAD_VERSION),
     .body = "@ab", .flags = F_TRUNC},
    CUT("content-shorter-then-close", "hdr=6,cur,100,0;raw=Status:%20200\\r\\n\\r\\n@;close", TRUNCATED),
    BAD("content-shorter-in-head-then-close", "hdr=6,cur,100,0;raw=Status:;close", TRUNCATED),
    BAD("record-header-3-bytes-then-close", "raw=\\x01\\x06\\x00;close", TRUNCATED),
    BAD("record-header-7-bytes-then-close", "raw=\\x01\\x06\\x00\\x01\\x00\\x10\\x00;close", TRUNCATED),
    CUT("record-header-cut-after-head", HDB ";raw=\\x01\\x06;close", TRUNCATED),
    BAD("padding-cut-then-close", "hdr=6,cur,1,200;raw=x;close", TRUNCATED),
    CUT("end-request-cut-then-close", HDB ";outeof;hdr=3,cur,8,0;raw=\\x00\\x00\\x00;close", TRUNCATED),
    {.name = "content-shorter-then-silence", .script = "hdr=6,cur,100,0;raw=Status:%20200\\r\\n\\r\\n@;hang",
     .err = E(TIMEOUT_TOTAL), .body = "@", .flags = F_SLOW | F_TRUNC},
    /* trickled bytes: record headers, contents and padding cut anywhere */
    OK("trickle-1-byte", "trickle=1,0;recpad=6,cur,3,Status:%20200\\r\\n\\r\\n@;recpad=6,cur,5,;end"),
    OK("trickle-1-byte-slow", "trickle=1,1;" HDB FIN),
    OK("trickle-3-bytes", "trickle=3,1;recpad=6,cur,7,Status:%20200\\r\\nX-A:%201\\r\\n\\r\\n@;recpad=3,cur,2," Z8),
    OK("trickle-7-bytes-stderr", "trickle=7,0;err=line%20one\\nline%20two\\n;" HDB ";erreof" FIN),
    {.name = "trickle-1000-bytes-64k", .script = "trickle=1000,0;" HD ";fill=6,cur,65535,255" FIN, .fill = 65535},
    OK("record-header-in-3-byte-writes", "trickle=3,30;hdr=6,cur,15,0;trickle=0,0;raw=Status:%20200\\r\\n\\r\\n;out=@" FIN),
    /* records after END_REQUEST or after the end of a stream */
    CUT("stdout-after-stdout-eof", HDB ";outeof;out=late;end", AFTER_STREAM_END),
    OK("stdout-after-end-request", HDB FIN ";out=X-Injected:%201\\r\\n\\r\\nstray"),
    OK("stdout-after-end-request-kept", HDB FIN ";out=X-Injected:%201\\r\\n\\r\\nstray;keep"),
    OK("stdout-after-end-request-late-kept", HDB FIN ";sleep=200;out=X-Injected:%201\\r\\n\\r\\nstray;keep"),
    OK("end-request-twice-kept", HDB FIN ";end;keep"),
    OK("end-request-twice-late-kept", HDB FIN ";sleep=200;end;keep"),
    OK("garbage-after-end-request-kept", HDB FIN ";raw=0123456789abcdef;keep"),
    OK("garbage-after-end-request-late-kept", HDB FIN ";sleep=200;raw=HTTP/1.1%20200%20OK\\r\\n\\r\\n;keep"),
    OK("stderr-after-end-request-kept", HDB FIN ";err=late\\n;keep"),
    OK("values-result-after-end-request-kept", HDB FIN ";rec=10,0,\\x0e\\x02FCGI_MAX_CONNS10;keep"),
    OK("values-result-after-end-request-late-kept", HDB FIN ";sleep=200;rec=10,0,\\x0e\\x02FCGI_MAX_CONNS10;keep"),
    OK("unknown-type-after-end-request-late-kept", HDB FIN ";sleep=200;rec=11,0,\\x09" "\\x00\\x00\\x00\\x00\\x00\\x00\\x00;keep"),
    OK("zero-id-after-end-request-late-kept", HDB FIN ";sleep=200;rec=6,0,x;keep"),
    OK("stderr-after-stdout-eof", HDB ";outeof;err=after%20eof\\n;end"),
    BAD("stderr-after-stderr-eof", "err=a\\n;erreof;err=b\\n;" HDB FIN, AFTER_STREAM_END),
    OK("next-id-after-end-request-kept", "cork;" HDB FIN ";rec=6,cur%2B1,Status:%20200\\r\\n\\r\\nINJECTED;uncork;keep"),
    /* END_REQUEST without output, and each protocolStatus */
    BAD("end-request-only", "end", CGI_NO_HEADERS),
    BAD("outeof-end-request", "outeof;end", CGI_NO_HEADERS),
    BAD("stderr-only", "err=only%20stderr\\n;erreof;end", CGI_NO_HEADERS),
    {.name = "cant-mpx-conn", .script = "end=0,1", .ps = FCGIC_CANT_MPX_CONN},
    {.name = "overloaded", .script = "end=0,2", .ps = FCGIC_OVERLOADED, .gw = 503},
    {.name = "unknown-role", .script = "end=0,3", .ps = FCGIC_UNKNOWN_ROLE},
    {.name = "protocol-status-4", .script = "end=0,4", .ps = 4},
    {.name = "protocol-status-255", .script = "end=9,255", .ps = 255, .app = 9},
    {.name = "overloaded-after-output", .script = HDB ";outeof;end=0,2", .ps = FCGIC_OVERLOADED, .body = "@", .flags = F_TRUNC},
    {.name = "unknown-role-after-output", .script = HDB ";outeof;end=0,3", .ps = FCGIC_UNKNOWN_ROLE,
     .body = "@", .flags = F_TRUNC},
    {.name = "app-status-1", .script = HDB ";outeof;end=1,0", .app = 1, .body = "@"},
    {.name = "app-status-max", .script = HDB ";outeof;end=4294967295,0", .app = 4294967295u, .body = "@"},
    OK("end-request-without-outeof", HDB ";end"),
    /* header blocks: never ended, over the cap, split anywhere */
    BAD("head-never-ended", "out=Status:%20200\\r\\nX-A:%201" FIN, CGI_NO_HEADERS),
    BAD("head-never-ended-close", "out=Status:%20200\\r\\nX-A:%201\\r\\n;close", PEER_CLOSED),
    BAD("head-70k", "hdrfill=71680,200;out=\\r\\n@" FIN, HEADERS_TOO_BIG),
    BAD("head-one-40k-line", "hdrfill=40960,40960;out=\\r\\n@" FIN, HEADERS_TOO_BIG),
    BAD("head-1m-never-ended", "hdrfill=1048576,1000" FIN, HEADERS_TOO_BIG),
    BAD("head-300-fields", "hdrfill=6000,20;out=\\r\\n@" FIN, HEADERS_TOO_BIG),
    {.name = "head-30k", .script = "hdrfill=30000,1000;out=\\r\\n@" FIN, .body = "@", .fields = 30},
    {.name = "head-200-fields", .script = "hdrfill=4000,20;out=\\r\\n@" FIN, .body = "@", .fields = 200},
    OK("head-1-byte-per-record", "outsplit=1,Status:%20200\\r\\nX-A:%201\\r\\n\\r\\n@" FIN),
    OK("head-1-byte-per-record-padded", "trickle=9,0;outsplit=1,Status:%20200\\r\\n\\r\\n;out=@" FIN),
    OK("terminator-split-cr-lf", "out=Status:%20200\\r\\n\\r;out=\\n@" FIN),
    OK("terminator-split-lf-cr", "out=Status:%20200\\r\\n;out=\\r\\n@" FIN),
    OK("terminator-split-cr-lfcrlf", "out=Status:%20200\\r;out=\\n\\r\\n@" FIN),
    OK("terminator-split-lf-lf", "out=Status:%20200\\n;out=\\n@" FIN),
    OK("terminator-split-late", "out=Status:%20200\\r\\n\\r;sleep=50;out=\\n;sleep=50;out=@" FIN),
    OK("terminator-split-by-stderr", "out=Status:%20200\\r\\n;err=between\\n;out=\\r\\n@" FIN),
    OK("terminator-split-padded", "recpad=6,cur,255,Status:%20200\\r\\n\\r;recpad=6,cur,255,\\n@" FIN),
    OK("head-lf-only", "out=Status:%20200\\nX-A:%201\\n\\n@" FIN),
    OK("head-leading-blank-line", "out=\\r\\nStatus:%20200\\r\\n\\r\\n@" FIN),
    OK("head-empty-value", "out=X-Empty:\\r\\n\\r\\n@" FIN),
    OK("head-8bit-value", "out=X-A:%20\\xc3\\xa9\\xff\\r\\n\\r\\n@" FIN),
    /* bytes that never belong in a header */
    BAD("head-nul-in-value", "out=X-A:%20a\\x00b\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    BAD("head-nul-in-name", "out=X\\x00A:%201\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    BAD("head-bare-cr-in-value", "out=X-A:%20a\\rb\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    BAD("head-bare-cr-line-end", "out=X-A:%201\\rX-B:%202\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    BAD("head-obs-fold-space", "out=X-A:%201\\r\\n%20folded\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    BAD("head-obs-fold-tab", "out=X-A:%201\\r\\n\\tfolded\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    BAD("head-no-colon", "out=Bad%20Line\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    BAD("head-empty-name", "out=:%20x\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    BAD("head-space-before-colon", "out=X-A%20:%201\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    BAD("head-bad-name-char", "out=X(A):%201\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    BAD("head-bad-then-silence", "out=Bad%20Line\\r\\n\\r\\n;hang", CGI_BAD_HEADER),
    BAD("head-response-splitting", "out=X-A:%20a\\r\\nHTTP/1.1%20200%20OK\\r\\n\\r\\n@" FIN, CGI_BAD_HEADER),
    /* Status */
    BAD("status-100", "out=Status:%20100\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-101-upgrade", "out=Status:%20101\\r\\nUpgrade:%20websocket\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-103-then-200", "out=Status:%20103\\r\\nLink:%20</a>\\r\\n\\r\\nStatus:%20200\\r\\n\\r\\n@" FIN,
        CGI_BAD_STATUS),
    BAD("status-199", "out=Status:%20199\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-600", "out=Status:%20600\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-999", "out=Status:%20999%20Odd\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-abc", "out=Status:%20abc\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-2-digits", "out=Status:%2020\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-4-digits", "out=Status:%202000\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-negative", "out=Status:%20-200\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-empty", "out=Status:\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-twice", "out=Status:%20200\\r\\nStatus:%20404\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    BAD("status-000", "out=Status:%20000\\r\\n\\r\\n@" FIN, CGI_BAD_STATUS),
    {.name = "status-599", .script = "out=Status:%20599\\r\\n\\r\\n@" FIN, .st = 599, .body = "@"},
    {.name = "status-lower-case-name", .script = "out=status:%20201%20Made\\r\\n\\r\\n@" FIN, .st = 201,
     .body = "@"},
    {.name = "location-absolute", .script = "out=Location:%20http://example.com/x\\r\\n\\r\\n@" FIN, .st = 302,
     .body = "@"},
    {.name = "location-local", .script = "out=Location:%20/elsewhere\\r\\n\\r\\n@" FIN, .body = "@", .gw = 302},
    /* bodies the client must never see: HEAD, 204, 304 */
    {.name = "head-method-with-body", .script = HDB FIN, .body = "@", .flags = F_HEAD},
    {.name = "head-method-with-64k-body", .script = HD ";fill=6,cur,65535,0" FIN, .fill = 65535, .flags = F_HEAD},
    {.name = "head-method-content-length", .script = "out=Content-Length:%205\\r\\n\\r\\n@12345" FIN,
     .body = "@12345", .flags = F_HEAD},
    {.name = "head-method-chunked", .script = "out=Transfer-Encoding:%20chunked\\r\\n\\r\\n5\\r\\nhello\\r\\n0\\r\\n\\r\\n" FIN,
     .body = "5\r\nhello\r\n0\r\n\r\n", .flags = F_HEAD},
    {.name = "status-204-with-body", .script = "out=Status:%20204\\r\\n\\r\\n@HTTP/1.1%20200%20OK\\r\\n\\r\\n" FIN,
     .st = 204, .body = "@HTTP/1.1 200 OK\r\n\r\n"},
    {.name = "status-204-content-length", .script = "out=Status:%20204\\r\\nContent-Length:%2010\\r\\n\\r\\n@" FIN,
     .st = 204, .body = "@"},
    {.name = "status-304-with-body", .script = "out=Status:%20304\\r\\n\\r\\n@" FIN, .st = 304, .body = "@"},
    {.name = "status-304-chunked", .script = "out=Status:%20304\\r\\nTransfer-Encoding:%20chunked\\r\\n\\r\\n@" FIN,
     .st = 304, .body = "@"},
    {.name = "status-304-64k-body", .script = "out=Status:%20304\\r\\n\\r\\n;fill=6,cur,65535,0" FIN, .st = 304,
     .fill = 65535},
    /* framing headers from the application */
    {.name = "content-length-too-small", .script = "out=Content-Length:%202\\r\\n\\r\\n@-and-more" FIN,
     .body = "@-and-more"},
    OK("content-length-too-big", "out=Content-Length:%20100000\\r\\n\\r\\n@" FIN),
    OK("content-length-twice", "out=Content-Length:%201\\r\\nContent-Length:%202\\r\\n\\r\\n@" FIN),
    OK("content-length-negative", "out=Content-Length:%20-1\\r\\n\\r\\n@" FIN),
    OK("transfer-encoding-chunked-plain-body", "out=Transfer-Encoding:%20chunked\\r\\n\\r\\n@" FIN),
    {.name = "transfer-encoding-chunked-chunked-body",
     .script = "out=Transfer-Encoding:%20chunked\\r\\n\\r\\n3\\r\\n@\\r\\n0\\r\\n\\r\\nHTTP/1.1%20200%20OK\\r\\n\\r\\n" FIN,
     .body = "3\r\n@\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"},
    OK("transfer-encoding-and-content-length", "out=Transfer-Encoding:%20chunked\\r\\nContent-Length:%203\\r\\n\\r\\n@" FIN),
    OK("connection-close-from-app", "out=Connection:%20close\\r\\n\\r\\n@" FIN),
    OK("upgrade-from-app", "out=Upgrade:%20h2c\\r\\nConnection:%20Upgrade\\r\\n\\r\\n@" FIN),
    OK("keep-alive-from-app", "out=Keep-Alive:%20timeout=1\\r\\n\\r\\n@" FIN),
    /* STDERR */
    BAD("stderr-10m-before-head", "big=7,cur,10485760;" HDB FIN, STDERR_TOO_BIG),
    OK("stderr-3m-before-head", "big=7,cur,3145728;" HDB FIN),
    OK("stderr-100k-line", "big=7,cur,102400;err=\\n;" HDB FIN),
    OK("stderr-control-bytes", "err=a\\x00b\\rc\\x1b[31m\\n;" HDB FIN),
    OK("stderr-interleaved", "out=Status:%20200\\r\\n;err=e1\\n;out=\\r\\n;err=e2;out=@;err=\\n" FIN),
    /* the request body */
    {.name = "post-body-never-read", .script = "early;" HDB ";outeof;end;sleep=300;close", .body = "@",
     .flags = F_POST},
    {.name = "post-body-never-read-close-at-once", .script = "early;" HDB ";outeof;end;close", .body = "@",
     .flags = F_POST},
    {.name = "post-body-never-read-kept", .script = "early;" HDB ";outeof;end;sleep=300;keep", .body = "@",
     .flags = F_POST},
    {.name = "post-answer-then-read", .script = "early;" HDB FIN, .body = "@", .flags = F_POST},
    {.name = "post-answer-head-then-read", .script = "early;" HD ";sleep=100;out=@" FIN, .body = "@",
     .flags = F_POST},
    {.name = "post-read-then-answer", .script = HDB FIN, .body = "@", .flags = F_POST},
    {.name = "post-body-never-read-open", .script = "early;" HDB ";outeof;end;stall=15000", .body = "@",
     .flags = F_POST | F_PROMPT},
    {.name = "post-answer-then-stall", .script = "early;out=Status:%20413\\r\\n\\r\\n@;outeof;end;stall=15000",
     .st = 413, .body = "@", .flags = F_POST | F_PROMPT},
    {.name = "post-body-never-read-silence", .script = "early;hang", .err = E(TIMEOUT_TOTAL),
     .flags = F_POST | F_SLOW},
    {.name = "post-overloaded-early", .script = "early;end=0,2", .ps = FCGIC_OVERLOADED, .gw = 503,
     .flags = F_POST},
    /* silence, closes, resets */
    {.name = "never-answers", .script = "hang", .err = E(TIMEOUT_TOTAL), .flags = F_SLOW},
    {.name = "head-then-silence", .script = HDB ";hang", .err = E(TIMEOUT_TOTAL), .body = "@",
     .flags = F_SLOW | F_TRUNC},
    {.name = "stderr-then-silence", .script = "err=working\\n;hang", .err = E(TIMEOUT_TOTAL), .flags = F_SLOW},
    {.name = "half-head-then-silence", .script = "out=Status:%20200\\r\\n;hang", .err = E(TIMEOUT_TOTAL),
     .flags = F_SLOW},
    BAD("close-at-once", "close", PEER_CLOSED),
    BAD("half-close-at-once", "shutwr", PEER_CLOSED),
    CUT("close-mid-body", HDB ";close", PEER_CLOSED),
    CUT("close-after-outeof", HDB ";outeof;close", PEER_CLOSED),
    BAD("reset-at-once", "rst", IO),
    CUT("reset-mid-body", HDB ";sleep=20;rst", IO),
    OK("reset-after-end-request", HDB FIN ";sleep=20;rst"),
    OK("close-after-end-request-kept", HDB FIN ";close"),
    OK("slow-body", HD ";sleep=100;out=@;sleep=100" FIN),
    /* a second request multiplexed on the connection (pool way; the others
     * have none, so `oth` is an id never handed out) */
    {.name = "mpx-interleaved",
     .script = "mpx;" HD ";rec=6,oth,Status:%20200\\r\\n\\r\\nB-;out=@;rec=6,oth,@;rec=6,oth,;rec=3,oth," Z8 FIN,
     .err = E(UNKNOWN_ID), .body = "@", .mpx_b_body = "B-@", .flags = F_MPX | F_TRUNC},
    {.name = "mpx-other-first", .script = "mpx;rec=6,oth,Status:%20200\\r\\n\\r\\nB@;rec=6,oth,;rec=3,oth," Z8
                                          ";" HDB FIN,
     .err = E(UNKNOWN_ID), .body = "@", .mpx_b_body = "B@", .flags = F_MPX},
    {.name = "mpx-unknown-id", .script = "mpx;" HDB ";rec=6,oth%2B1,X" FIN, .err = E(UNKNOWN_ID),
     .mpx_err = E(UNKNOWN_ID), .mpx_b_body = "not-this", .body = "@", .flags = F_MPX | F_TRUNC | F_RETRY},
    {.name = "mpx-other-after-its-end",
     .script = "mpx;rec=6,oth,Status:%20200\\r\\n\\r\\nB@;rec=3,oth," Z8 ";rec=6,oth,late;" HDB FIN,
     .err = E(UNKNOWN_ID), .mpx_err = E(AFTER_END), .mpx_b_body = "B@", .flags = F_MPX},
    {.name = "mpx-other-end-only", .script = "mpx;rec=3,oth," Z8 ";" HDB FIN, .err = E(UNKNOWN_ID),
     .mpx_b_err = E(CGI_NO_HEADERS), .body = "@", .flags = F_MPX},
    {.name = "mpx-other-overloaded", .script = "mpx;rec=3,oth,\\x00\\x00\\x00\\x00\\x02\\x00\\x00\\x00;" HDB FIN,
     .err = E(UNKNOWN_ID), .mpx_b_ps = FCGIC_OVERLOADED, .body = "@", .flags = F_MPX},
};

#define NCASES (sizeof cases / sizeof cases[0])

/* ---- shared state ---- */

enum way { WAY_FCGIC, WAY_POOL, WAY_GATEWAY, NWAYS };
static const char way_name[NWAYS][8] = {"fcgic", "pool", "gateway"};

/* The same program three times: the gateway's timeout is per address, and
 * the POST cases get an instance of their own. Some cases close or reset a
 * kept connection after a complete answer (reset-after-end-request waits
 * 20 ms first: the app's right, as an HTTP server may close an idle
 * connection). A request handed that connection before the close arrives
 * is run again on a new one when it can be (no body, or a body within
 * replay_max); the gateway looks for a close before it hands a kept
 * connection to a body it cannot replay, but a close that comes later
 * cannot be seen, and a 16 MiB streamed body then rightly gets 502. So the
 * POST cases are kept out of that race. */
static struct harness_app *app, *slow_app, *post_app;
static struct gwt_gateway gw; /* its dir holds fcgic's files too */
static char post_path[128];
static char *post_body;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static size_t next_job;
static char *failures;
static size_t failures_len, nfailures;
static bool gw_failed[NCASES]; /* cases that failed the gateway way: their error-log lines are shown */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void hfail(size_t ci, enum way w, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&mu);
    nfailures++;
    if (w == WAY_GATEWAY)
        gw_failed[ci] = true;
    char line[1300];
    int n = snprintf(line, sizeof line, "%s [%s]: %s\n", cases[ci].name, way_name[w], msg);
    if (failures_len < 60000 && n > 0) {
        char *f = realloc(failures, failures_len + (size_t)n + 1);
        if (f) {
            memcpy(f + failures_len, line, (size_t)n + 1);
            failures = f;
            failures_len += (size_t)n;
        }
    }
    pthread_mutex_unlock(&mu);
}

/* The script with '@' replaced by the case's marker. */
static char *expand(const char *s, const char *marker)
{
    size_t ml = strlen(marker), n = 0;
    for (const char *p = s; *p; p++)
        n += *p == '@' ? ml : 1;
    char *out = malloc(n + 1);
    if (out == NULL)
        abort();
    char *o = out;
    for (const char *p = s; *p; p++) {
        if (*p == '@') {
            memcpy(o, marker, ml);
            o += ml;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

/* The body a complete response of case ci carries (NUL-free). */
static char *want_body(size_t ci, size_t *len)
{
    char marker[16];
    snprintf(marker, sizeof marker, "k%03zu", ci);
    char *b = expand(cases[ci].body ? cases[ci].body : "", marker);
    size_t bl = strlen(b);
    b = realloc(b, bl + cases[ci].fill + 1);
    if (b == NULL)
        abort();
    memset(b + bl, 'x', cases[ci].fill);
    b[bl + cases[ci].fill] = '\0';
    *len = bl + cases[ci].fill;
    return b;
}

static void case_marker(size_t ci, char *buf, size_t n)
{
    snprintf(buf, n, "k%03zu", ci);
}

static void next_marker(size_t ci, enum way w, char *buf, size_t n)
{
    snprintf(buf, n, "n%03zu%c", ci, way_name[w][0]);
}

#define FOLLOW_SCRIPT_FMT "out=Status:%%20200\\r\\nContent-Type:%%20text/plain\\r\\n\\r\\n%s;outeof;end"

static int is_timeout(int err)
{
    return err == FCGIC_E_TIMEOUT_TOTAL || err == FCGIC_E_TIMEOUT_IDLE || err == FCGIC_E_TIMEOUT_FIRST_BYTE;
}

static int expect_complete(const struct hcase *c)
{
    return c->err == 0 && c->ps == 0;
}

static const char *ps_name(int ps)
{
    switch (ps) {
    case FCGIC_REQUEST_COMPLETE: return "REQUEST_COMPLETE";
    case FCGIC_CANT_MPX_CONN: return "CANT_MPX_CONN";
    case FCGIC_OVERLOADED: return "OVERLOADED";
    case FCGIC_UNKNOWN_ROLE: return "UNKNOWN_ROLE";
    default: return "UNKNOWN";
    }
}

/* F_PROMPT: the request took at most 5 s (9 s under valgrind), while the
 * application stays silent for 15 s and the old wait lasted until the
 * request's 10 s timeout. */
static void check_prompt(size_t ci, enum way w, uint64_t ms)
{
    if ((cases[ci].flags & F_PROMPT) && ms > (getenv("FCGIC_UNDER_VALGRIND") ? 9000u : 5000u))
        hfail(ci, w, "the answer took %llu ms", (unsigned long long)ms);
}

static uint64_t ms_since(uint64_t t0)
{
    return (fcgic_posix_now() - t0) / 1000000;
}

/* The timeout of F_SLOW cases in every way: 1 s, 3 s under valgrind (a
 * cold gateway under valgrind takes more than a second to pass on an
 * answer that came at once). */
static int slow_secs(void)
{
    return getenv("FCGIC_UNDER_VALGRIND") ? 3 : 1;
}

/* ---- way 1: fcgic ---- */

static char *slurp_path(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    if (b == NULL)
        abort();
    ssize_t r;
    while (fd >= 0 && (r = read(fd, b + n, cap - n)) > 0) {
        n += (size_t)r;
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap + 1);
            if (b == NULL)
                abort();
        }
    }
    if (fd >= 0)
        close(fd);
    b[n] = '\0';
    *len = n;
    return b;
}

/* Run fcgic (under valgrind too when the test is and `checked`); returns
 * its exit status (128 + signal when killed). */
static int run_fcgic(const char *const *args, const char *out_path, int checked)
{
    static const char *const vg[] = {"valgrind", "--error-exitcode=99", "--leak-check=full",
                                     "--errors-for-leak-kinds=definite,indirect", "--quiet"};
    size_t nvg = checked && getenv("FCGIC_UNDER_VALGRIND") ? sizeof vg / sizeof vg[0] : 0;
    const char *argv[32];
    size_t k = 0;
    for (size_t i = 0; i < nvg; i++)
        argv[k++] = vg[i];
    argv[k++] = getenv("FCGIC_EXE");
    for (size_t i = 0; args[i] && k < 31; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nul = open("/dev/null", O_RDWR);
        if (o < 0 || nul < 0)
            _exit(127);
        dup2(nul, 0);
        dup2(o, 1);
        dup2(nul, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid < 0)
        return 127;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int exit_for(const struct hcase *c)
{
    if (is_timeout(c->err))
        return 5;
    if (c->err)
        return 6;
    if (c->ps)
        return 6;
    return c->app ? 7 : 0;
}

/* fcgic's exit code, --json document j and body b against the table. */
static void fcgic_check_case(size_t ci, int code, const char *j, const char *b, size_t bl)
{
    const struct hcase *c = &cases[ci];
    size_t wl;
    char *want = want_body(ci, &wl);
    if (code != exit_for(c))
        hfail(ci, WAY_FCGIC, "exit %d, want %d: %.300s", code, exit_for(c), j);
    char s[160];
    if (c->err) {
        snprintf(s, sizeof s, "\"error\": {\"name\": \"%s\"", fcgic_strerror_name(c->err));
        if (strstr(j, s) == NULL)
            hfail(ci, WAY_FCGIC, "no %s in %.400s", s, j);
    } else if (c->ps) {
        snprintf(s, sizeof s, "\"protocol_status\": \"%s\"", ps_name(c->ps));
        if (strstr(j, s) == NULL || strstr(j, "\"name\": \"PROTOCOL_STATUS\"") == NULL)
            hfail(ci, WAY_FCGIC, "no %s in %.400s", s, j);
    } else {
        snprintf(s, sizeof s, "\"status\": %d, ", c->st ? c->st : 200);
        if (strstr(j, s) == NULL || strstr(j, "\"error\": null, \"retries\"") == NULL)
            hfail(ci, WAY_FCGIC, "want %s and no error in %.400s", s, j);
        if (bl != wl || memcmp(b, want, wl) != 0)
            hfail(ci, WAY_FCGIC, "body %zu bytes \"%.80s\", want %zu \"%.80s\"", bl, b, wl, want);
    }
    if ((c->err || c->ps) && (bl > wl || memcmp(b, want, bl) != 0)) /* only what the app sent as body */
        hfail(ci, WAY_FCGIC, "body \"%.80s\" on a failed request, not a prefix of \"%.80s\"", b, want);
    free(want);
}

static void way_fcgic(size_t ci)
{
    const struct hcase *c = &cases[ci];
    char marker[16], url[1 << 16], json[256], bodyf[256], data[160], slow[16];
    case_marker(ci, marker, sizeof marker);
    char *script = expand(c->script, marker);
    snprintf(url, sizeof url, "http://localhost/%s.php?do=%s", c->name, script);
    free(script);
    snprintf(json, sizeof json, "%s/f%03zu.json", gw.dir, ci);
    snprintf(bodyf, sizeof bodyf, "%s/f%03zu.body", gw.dir, ci);
    snprintf(data, sizeof data, "@%s", post_path);
    snprintf(slow, sizeof slow, "%d", slow_secs());
    const char *args[16];
    size_t k = 0;
    args[k++] = "--json";
    args[k++] = "-o";
    args[k++] = bodyf;
    args[k++] = "--max-time";
    args[k++] = c->flags & F_SLOW ? slow : getenv("FCGIC_UNDER_VALGRIND") ? "60" : "10";
    if (c->flags & F_HEAD) {
        args[k++] = "-X";
        args[k++] = "HEAD";
    }
    if (c->flags & F_POST) {
        args[k++] = "-d";
        args[k++] = data;
    }
    args[k++] = app->url;
    args[k++] = url;
    args[k] = NULL;
    int code = run_fcgic(args, json, 1);
    size_t jl, bl;
    char *j = slurp_path(json, &jl);
    const char *tm = strstr(j, "\"time_ms\": "); /* from submit to the end, without process start-up */
    check_prompt(ci, WAY_FCGIC, tm ? (uint64_t)atof(tm + 11) : 0);
    char *b = slurp_path(bodyf, &bl);
    fcgic_check_case(ci, code, j, b, bl);
    free(j);
    free(b);
    /* the next run is answered with its own body */
    char next[16], fs[256];
    next_marker(ci, WAY_FCGIC, next, sizeof next);
    snprintf(fs, sizeof fs, FOLLOW_SCRIPT_FMT, next);
    snprintf(url, sizeof url, "http://localhost/next.php?do=%s", fs);
    const char *args2[] = {"-o", bodyf, "--max-time", "10", app->url, url, NULL};
    code = run_fcgic(args2, json, 0); /* it checks the application and its connections, not fcgic */
    b = slurp_path(bodyf, &bl);
    if (code != 0 || strcmp(b, next) != 0)
        hfail(ci, WAY_FCGIC, "next request: exit %d, body \"%.80s\"", code, b);
    free(b);
    unlink(json);
    unlink(bodyf);
}

/* ---- way 2: a pool in this process ---- */

struct preq {
    int heads, status, ended, fields;
    char *body;
    size_t blen, bcap;
    struct fcgic_result res;
};

static int p_head(void *ud, const struct fcgic_response_head *h)
{
    struct preq *r = ud;
    r->heads++;
    r->status = h->status;
    for (size_t i = 0; i < h->nheaders; i++)
        r->fields += h->headers[i].name_len > 7 && memcmp(h->headers[i].name, "X-Fill-", 7) == 0;
    return 0;
}

static int p_body(void *ud, const char *data, size_t len)
{
    struct preq *r = ud;
    if (r->blen + len + 1 > r->bcap) {
        size_t cap = r->bcap ? r->bcap : 4096;
        while (cap < r->blen + len + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (b == NULL)
            return -1;
        r->body = b;
        r->bcap = cap;
    }
    memcpy(r->body + r->blen, data, len);
    r->blen += len;
    r->body[r->blen] = '\0';
    return 0;
}

static void p_end(void *ud, const struct fcgic_result *res)
{
    struct preq *r = ud;
    r->ended++;
    r->res = *res;
}

struct pwait {
    struct preq *r[3];
    int n;
};

static int p_done(void *ud)
{
    struct pwait *w = ud;
    for (int i = 0; i < w->n; i++)
        if (!w->r[i]->ended)
            return 0;
    return 1;
}

static int p_submit(struct fcgic_pool *pool, const struct hcase *c, const char *script, struct preq *r)
{
    char qs[1 << 16];
    snprintf(qs, sizeof qs, "do=%s", script);
    const char *method = c && (c->flags & F_HEAD) ? "HEAD" : c && (c->flags & F_POST) ? "POST" : "GET";
    char cl[24];
    snprintf(cl, sizeof cl, "%u", POST_LEN);
    int post = c && (c->flags & F_POST);
    struct fcgic_param params[] = {
        {"REQUEST_METHOD", 14, method, strlen(method)},
        {"QUERY_STRING", 12, qs, strlen(qs)},
        FCGIC_PARAM_LIT("SCRIPT_FILENAME", "/srv/hostile.php"),
        FCGIC_PARAM_LIT("SERVER_PROTOCOL", "HTTP/1.1"),
        {"CONTENT_LENGTH", 14, cl, strlen(cl)},
    };
    struct fcgic_request req;
    memset(&req, 0, sizeof req);
    req.params = params;
    req.nparams = post ? 5 : 4;
    if (post) {
        req.stdin_mode = FCGIC_BODY_BUFFER;
        req.stdin_data = post_body;
        req.stdin_len = POST_LEN;
    }
    req.timeouts.total = c && (c->flags & F_SLOW) ? (uint64_t)slow_secs() * SEC : 10 * SEC;
    if (!(c && (c->flags & F_SLOW)) && getenv("FCGIC_UNDER_VALGRIND"))
        req.timeouts.total = 60 * SEC; /* megabytes of STDERR through valgrind take a while */
    return fcgic_pool_submit(pool, &req, r, NULL, fcgic_posix_now());
}

static void p_check(size_t ci, const char *what, struct preq *r, int err, int ps, unsigned appst, int st,
                    const char *body, size_t blen)
{
    if (r->ended != 1) {
        hfail(ci, WAY_POOL, "%s: on_end ran %d times", what, r->ended);
        return;
    }
    if (r->res.error != err)
        hfail(ci, WAY_POOL, "%s: error %s, want %s", what, fcgic_strerror_name(r->res.error),
             fcgic_strerror_name(err));
    if (err)
        return;
    if ((int)r->res.protocol_status != ps || r->res.app_status != appst)
        hfail(ci, WAY_POOL, "%s: protocolStatus %d appStatus %u, want %d %u", what, (int)r->res.protocol_status,
             (unsigned)r->res.app_status, ps, appst);
    if (ps)
        return;
    if (r->heads != 1 || r->status != st)
        hfail(ci, WAY_POOL, "%s: %d heads, status %d, want %d", what, r->heads, r->status, st);
    if (r->blen != blen || (blen && memcmp(r->body, body, blen) != 0))
        hfail(ci, WAY_POOL, "%s: body %zu bytes \"%.80s\", want %zu \"%.80s\"", what, r->blen,
             r->body ? r->body : "", blen, body);
}

/* A pool of one kept connection on its own POSIX loop (two requests at once
 * for F_MPX). Returns 0, or -1 with nothing left allocated. */
static int pool_open(size_t ci, struct fcgic_posix **px, struct fcgic_pool **pool)
{
    *px = NULL;
    *pool = NULL;
    if (fcgic_posix_new(px, NULL, NULL) != 0) {
        hfail(ci, WAY_POOL, "fcgic_posix_new");
        return -1;
    }
    struct fcgic_transport tr;
    fcgic_posix_transport(*px, &tr);
    struct fcgic_pool_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.version = FCGIC_POOL_CALLBACKS_VERSION;
    cb.on_head = p_head;
    cb.on_body = p_body;
    cb.on_end = p_end;
    struct fcgic_pool_options po;
    memset(&po, 0, sizeof po);
    po.target = app->url;
    po.enable_reuse = 1;
    po.max = 1;
    po.mpx = cases[ci].flags & F_MPX ? 2 : 0;
    if (fcgic_pool_new(pool, &po, &tr, &cb, NULL, NULL) != 0 || fcgic_posix_attach_pool(*px, *pool) != 0) {
        hfail(ci, WAY_POOL, "fcgic_pool_new");
        fcgic_pool_free(*pool);
        fcgic_posix_free(*px);
        return -1;
    }
    return 0;
}

static void pool_close(struct fcgic_posix *px, struct fcgic_pool *pool)
{
    fcgic_posix_detach_pool(px, pool);
    fcgic_pool_free(pool);
    fcgic_posix_free(px);
}

/* The case's request a (and the multiplexed b) against the table. */
static void pool_check_case(size_t ci, struct fcgic_pool *pool, struct preq *a, struct preq *b)
{
    const struct hcase *c = &cases[ci];
    size_t wl;
    char *want = want_body(ci, &wl);
    if (c->flags & F_MPX) {
        struct fcgic_pool_stats stats;
        fcgic_pool_get_stats(pool, &stats);
        if (stats.conns_created != (c->flags & F_RETRY ? 2u : 1u))
            hfail(ci, WAY_POOL, "%llu connections for two multiplexed requests",
                  (unsigned long long)stats.conns_created);
        p_check(ci, "request", a, c->mpx_err, 0, 0, 200, want, wl);
        char marker[16];
        case_marker(ci, marker, sizeof marker);
        char *bw = expand(c->mpx_b_body ? c->mpx_b_body : "", marker);
        p_check(ci, "second request", b, c->mpx_b_err, c->mpx_b_ps, 0, 200, bw, strlen(bw));
        free(bw);
    } else {
        p_check(ci, "request", a, c->err, c->ps, c->app, c->st ? c->st : 200, want, wl);
        if (a->fields != c->fields)
            hfail(ci, WAY_POOL, "%d X-Fill fields, want %d", a->fields, c->fields);
        if ((c->err || c->ps) && (a->blen > wl || (a->blen && memcmp(a->body, want, a->blen) != 0)))
            hfail(ci, WAY_POOL, "body \"%.80s\" on a failed request, not a prefix of \"%.80s\"", a->body, want);
    }
    free(want);
}

/* The next request on the same pool: on the kept connection when it is
 * clean, else on a fresh one; answered with its own body. */
static void pool_next(size_t ci, struct fcgic_posix *px, struct fcgic_pool *pool)
{
    char next[16], fs[256];
    next_marker(ci, WAY_POOL, next, sizeof next);
    snprintf(fs, sizeof fs, FOLLOW_SCRIPT_FMT, next);
    struct preq n;
    memset(&n, 0, sizeof n);
    struct pwait w = {{&n}, 1};
    int rc;
    if (p_submit(pool, NULL, fs, &n) != 0)
        hfail(ci, WAY_POOL, "submit (next)");
    else if ((rc = fcgic_posix_run_until(px, p_done, &w, 20 * SEC)) != 0)
        hfail(ci, WAY_POOL, "run (next): %s", fcgic_strerror_name(rc));
    else
        p_check(ci, "next request", &n, 0, 0, 0, 200, next, strlen(next));
    free(n.body);
}

static void way_pool(size_t ci)
{
    const struct hcase *c = &cases[ci];
    struct fcgic_posix *px;
    struct fcgic_pool *pool;
    if (pool_open(ci, &px, &pool) != 0)
        return;
    char marker[16], fs[256];
    case_marker(ci, marker, sizeof marker);
    char *script = expand(c->script, marker);
    struct preq a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    struct pwait w = {{&a, &b}, 1};
    if (p_submit(pool, c, script, &a) != 0)
        hfail(ci, WAY_POOL, "submit");
    else if (c->flags & F_MPX) {
        /* the second request runs beside it; the case's script answers for both */
        snprintf(fs, sizeof fs, FOLLOW_SCRIPT_FMT, "not-this");
        if (p_submit(pool, NULL, fs, &b) != 0)
            hfail(ci, WAY_POOL, "submit (second)");
        w.n = 2;
    }
    uint64_t t0 = fcgic_posix_now();
    int rc = fcgic_posix_run_until(px, p_done, &w, 20 * SEC);
    if (rc != 0)
        hfail(ci, WAY_POOL, "run: %s", fcgic_strerror_name(rc));
    check_prompt(ci, WAY_POOL, ms_since(t0));
    pool_check_case(ci, pool, &a, &b);
    pool_next(ci, px, pool);
    pool_close(px, pool);
    free(a.body);
    free(b.body);
    free(script);
}

/* ---- way 3: minimal_gateway ---- */

struct gconn {
    int fd;
    char *buf;
    size_t len, cap;
    int eof;
};

struct gresp {
    int status, complete, truncated, close, fields;
    char *body;
    size_t blen;
};

static int gw_connect(struct gconn *g)
{
    memset(g, 0, sizeof *g);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    g->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (g->fd < 0)
        return -1;
    if (connect(g->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        close(g->fd);
        g->fd = -1;
        return -1;
    }
    return 0;
}

static void gw_close(struct gconn *g)
{
    if (g->fd >= 0)
        close(g->fd);
    free(g->buf);
    memset(g, 0, sizeof *g);
    g->fd = -1;
}

static const char *find_header(const char *head, size_t hl, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = head; p && p < head + hl; p = memchr(p, '\n', (size_t)(head + hl - p))) {
        if (*p == '\n')
            p++;
        if ((size_t)(head + hl - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ')
                p++;
            return p;
        }
    }
    return NULL;
}

/* The first CR LF in b[from, n), or NULL. */
static const char *crlf(const char *b, size_t from, size_t n)
{
    for (size_t i = from; i + 1 < n; i++)
        if (b[i] == '\r' && b[i + 1] == '\n')
            return b + i;
    return NULL;
}

/* Parse one response from g->buf. Returns 1 complete (*used bytes), 0 not
 * yet, -1 malformed (not a status line where one must start). */
static int parse_response(struct gconn *g, int head_req, struct gresp *r, size_t *used)
{
    const char *b = g->buf;
    size_t n = g->len;
    free(r->body); /* from the previous try */
    memset(r, 0, sizeof *r);
    if (b == NULL)
        return 0; /* nothing read yet */
    if (n >= 9 && memcmp(b, "HTTP/1.1 ", 9) != 0)
        return -1;
    const char *end = n >= 4 ? memmem(b, n, "\r\n\r\n", 4) : NULL;
    if (end == NULL)
        return 0;
    size_t hl = (size_t)(end - b) + 4;
    r->status = atoi(b + 9);
    const char *v = find_header(b, hl, "Connection");
    r->close = v && strncasecmp(v, "close", 5) == 0;
    for (const char *p = b; (p = memmem(p, hl - (size_t)(p - b), "\nX-Fill-", 8)) != NULL; p++)
        r->fields++;
    if (head_req || r->status == 204 || r->status == 304) {
        *used = hl;
        r->complete = 1;
        return 1;
    }
    const char *te = find_header(b, hl, "Transfer-Encoding");
    const char *cl = find_header(b, hl, "Content-Length");
    r->body = malloc(n - hl + 1);
    if (r->body == NULL)
        abort();
    if (te) {
        size_t i = hl;
        for (;;) {
            const char *eol = crlf(b, i, n);
            if (eol == NULL)
                return 0;
            size_t sz = strtoul(b + i, NULL, 16);
            i = (size_t)(eol - b) + 2;
            r->body[r->blen] = '\0';
            if (sz == 0) {
                if (n - i < 2)
                    return 0;
                *used = i + 2;
                r->complete = 1;
                return 1;
            }
            if (n - i < sz + 2) {
                memcpy(r->body + r->blen, b + i, n - i < sz ? n - i : sz);
                r->blen += n - i < sz ? n - i : sz;
                r->body[r->blen] = '\0';
                return 0;
            }
            memcpy(r->body + r->blen, b + i, sz);
            r->blen += sz;
            i += sz + 2;
        }
    }
    size_t want = cl ? strtoul(cl, NULL, 10) : SIZE_MAX;
    size_t have = n - hl < want ? n - hl : want;
    memcpy(r->body, b + hl, have);
    r->blen = have;
    r->body[have] = '\0';
    if (have < want)
        return 0;
    *used = hl + want;
    r->complete = 1;
    return 1;
}

/* Send req (and body) and read one response, both at once: a gateway may
 * answer before it has read the body. Returns 0, or -1 with a message. */
static int gw_exchange(struct gconn *g, const char *req, size_t rlen, const char *body, size_t blen, int head_req,
                       struct gresp *r, int *sent_all, char *err, size_t errsz)
{
    size_t off = 0, total = rlen + blen;
    int wclosed = 0;
    memset(r, 0, sizeof *r);
    for (;;) {
        size_t used = 0;
        int rc = parse_response(g, head_req, r, &used);
        if (rc < 0) {
            snprintf(err, errsz, "not a status line: \"%.60s\"", g->buf);
            return -1;
        }
        if (rc == 1) {
            memmove(g->buf, g->buf + used, g->len - used);
            g->len -= used;
            *sent_all = off == total;
            return 0;
        }
        if (g->eof) {
            if (g->len == 0) {
                snprintf(err, errsz, "closed without a response");
                return -1;
            }
            r->truncated = 1;
            *sent_all = off == total;
            return 0;
        }
        struct pollfd pfd = {g->fd, (short)(POLLIN | (off < total && !wclosed ? POLLOUT : 0)), 0};
        int pr = poll(&pfd, 1, 20000);
        if (pr == 0) {
            snprintf(err, errsz, "no answer in 20 s (have %zu bytes)", g->len);
            return -1;
        }
        if (pr < 0 && errno == EINTR)
            continue;
        if ((pfd.revents & POLLOUT) && off < total) {
            const char *p = off < rlen ? req + off : body + (off - rlen);
            size_t k = off < rlen ? rlen - off : total - off;
            ssize_t wr = send(g->fd, p, k > 65536 ? 65536 : k, MSG_NOSIGNAL);
            if (wr > 0)
                off += (size_t)wr;
            else if (wr < 0 && errno != EAGAIN && errno != EINTR)
                wclosed = 1;
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (g->len + 65536 > g->cap) {
                g->cap = g->cap ? g->cap * 2 : 131072;
                g->buf = realloc(g->buf, g->cap + 1);
                if (g->buf == NULL)
                    abort();
            }
            ssize_t rd = recv(g->fd, g->buf + g->len, g->cap - g->len, 0);
            if (rd > 0) {
                g->len += (size_t)rd;
                g->buf[g->len] = '\0';
            } else if (rd == 0 || (errno != EAGAIN && errno != EINTR)) {
                g->eof = 1;
                wclosed = 1;
            }
        }
    }
}

static int gw_status_for(const struct hcase *c)
{
    if (c->gw)
        return c->gw;
    if (expect_complete(c) || (c->flags & F_TRUNC))
        return c->st ? c->st : 200;
    if (is_timeout(c->err))
        return 504;
    if (c->err == 0 && c->ps == FCGIC_OVERLOADED)
        return 503;
    return 502;
}

/* The case's request: method, route (/s/ for the stalling cases), script. */
static char *gw_case_request(size_t ci, int *len)
{
    const struct hcase *c = &cases[ci];
    char marker[16];
    case_marker(ci, marker, sizeof marker);
    char *script = expand(c->script, marker);
    size_t cap = strlen(script) + 512;
    char *req = malloc(cap);
    if (req == NULL)
        abort();
    const char *method = c->flags & F_HEAD ? "HEAD" : c->flags & F_POST ? "POST" : "GET";
    int n = snprintf(req, cap, "%s /%s/%s.php?do=%s HTTP/1.1\r\nHost: localhost\r\n", method,
                     c->flags & F_SLOW ? "s" : c->flags & F_POST ? "p" : "h", c->name, script);
    if (c->flags & F_POST)
        n += snprintf(req + n, cap - (size_t)n, "Content-Length: %u\r\n", POST_LEN);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    free(script);
    *len = n;
    return req;
}

/* What the client saw of the case's response. */
static void gw_check_case(size_t ci, const struct gresp *r)
{
    const struct hcase *c = &cases[ci];
    size_t wl;
    char *want = want_body(ci, &wl);
    int st = gw_status_for(c);
    if (r->status != st)
        hfail(ci, WAY_GATEWAY, "status %d, want %d", r->status, st);
    if (expect_complete(c) && r->fields != c->fields)
        hfail(ci, WAY_GATEWAY, "%d X-Fill fields, want %d", r->fields, c->fields);
    if (c->flags & F_TRUNC) {
        if (!r->truncated)
            hfail(ci, WAY_GATEWAY, "complete response (%zu bytes of body), want a visible truncation", r->blen);
    } else if (r->truncated) {
        hfail(ci, WAY_GATEWAY, "truncated response, want a complete one");
    } else if (expect_complete(c)) {
        size_t el = (c->flags & F_HEAD) || st == 204 || st == 304 ? 0 : wl; /* no body may reach the client */
        if (r->blen != el || (el && memcmp(r->body, want, el) != 0))
            hfail(ci, WAY_GATEWAY, "body %zu bytes \"%.80s\", want %zu", r->blen, r->body ? r->body : "", el);
    }
    if (r->truncated && r->blen && (r->blen > wl || memcmp(r->body, want, r->blen) != 0))
        hfail(ci, WAY_GATEWAY, "body \"%.80s\" before the truncation, not a prefix of \"%.80s\"", r->body, want);
    free(want);
}

/* The next request, on g: answered with its own body, nothing after it. */
static void gw_next(size_t ci, struct gconn *g)
{
    char next[16], fs[256], req[512], err[256];
    next_marker(ci, WAY_GATEWAY, next, sizeof next);
    snprintf(fs, sizeof fs, FOLLOW_SCRIPT_FMT, next);
    int n = snprintf(req, sizeof req, "GET /h/next.php?do=%s HTTP/1.1\r\nHost: localhost\r\n\r\n", fs);
    struct gresp r;
    int sent_all;
    if (gw_exchange(g, req, (size_t)n, NULL, 0, 0, &r, &sent_all, err, sizeof err) != 0)
        hfail(ci, WAY_GATEWAY, "next request: %s", err);
    else if (r.status != 200 || r.truncated || r.blen != strlen(next) || memcmp(r.body, next, r.blen) != 0)
        hfail(ci, WAY_GATEWAY, "next request: status %d%s, body \"%.80s\"", r.status,
              r.truncated ? " (truncated)" : "", r.body ? r.body : "");
    else if (g->len > 0)
        hfail(ci, WAY_GATEWAY, "next request: %zu bytes after it", g->len);
    free(r.body);
}

static void way_gateway(size_t ci)
{
    const struct hcase *c = &cases[ci];
    struct gconn g;
    if (gw_connect(&g) != 0) {
        hfail(ci, WAY_GATEWAY, "cannot connect");
        return;
    }
    int rlen;
    char *req = gw_case_request(ci, &rlen);
    struct gresp r;
    int sent_all = 0;
    char err[256];
    uint64_t t0 = fcgic_posix_now();
    if (gw_exchange(&g, req, (size_t)rlen, c->flags & F_POST ? post_body : NULL, c->flags & F_POST ? POST_LEN : 0,
                    (c->flags & F_HEAD) != 0, &r, &sent_all, err, sizeof err) != 0) {
        hfail(ci, WAY_GATEWAY, "%s", err);
        r.truncated = 1;
    } else {
        check_prompt(ci, WAY_GATEWAY, ms_since(t0));
        gw_check_case(ci, &r);
    }
    free(r.body);
    free(req);
    /* the next request: on this client connection when it stayed open */
    if (r.truncated || r.close || !sent_all || g.eof) {
        if (g.len > 0 && !r.truncated)
            hfail(ci, WAY_GATEWAY, "%zu bytes after the response: \"%.60s\"", g.len, g.buf);
        gw_close(&g);
        if (gw_connect(&g) != 0) {
            hfail(ci, WAY_GATEWAY, "cannot connect (next)");
            return;
        }
    }
    gw_next(ci, &g);
    gw_close(&g);
}

/* ---- running the matrix ---- */

/* Jobs are (case, way); the ones that wait for timeouts or silence go
 * first, so the quick ones fill the time. HOSTILE_ONLY=name runs one case
 * (every way). Under valgrind, where every process is some 30 times
 * slower, each case runs one way, case i way i mod 3, so every way still
 * sees a third of the cases and every case runs once. */
static void *worker(void *arg)
{
    (void)arg;
    const char *only = getenv("HOSTILE_ONLY");
    int sampled = getenv("FCGIC_UNDER_VALGRIND") != NULL;
    for (;;) {
        pthread_mutex_lock(&mu);
        size_t j = next_job++;
        pthread_mutex_unlock(&mu);
        if (j >= 2 * NCASES * NWAYS)
            return NULL;
        int waits_first = j < NCASES * NWAYS;
        size_t ci = j % NCASES;
        enum way w = (enum way)(j / NCASES % NWAYS);
        if (waits_first != ((cases[ci].flags & (F_SLOW | F_PROMPT)) != 0))
            continue;
        if (only && strcmp(only, cases[ci].name) != 0)
            continue;
        if (sampled && !only && (size_t)w != ci % NWAYS)
            continue; /* under valgrind: each case one way, the ways in turn */
        switch (w) {
        case WAY_FCGIC: way_fcgic(ci); break;
        case WAY_POOL: way_pool(ci); break;
        default: way_gateway(ci); break;
        }
    }
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("FCGIC_UNDER_VALGRIND")) {
        setenv("FCGIC_NO_JIT", "1", 1);
        setenv("GW_NO_JIT", "1", 1);
    }
    ck_assert_int_eq(gwt_gateway_init(&gw), 0);
    ck_assert_int_eq(harness_app_start(&app, HARNESS_TCP, "app-hostile", NULL), 0);
    ck_assert_int_eq(harness_app_start(&slow_app, HARNESS_TCP, "app-hostile", NULL), 0);
    ck_assert_int_eq(harness_app_start(&post_app, HARNESS_TCP, "app-hostile", NULL), 0);
    post_body = malloc(POST_LEN);
    ck_assert_ptr_nonnull(post_body);
    for (size_t i = 0; i < POST_LEN; i++)
        post_body[i] = (char)('a' + i % 26);
    snprintf(post_path, sizeof post_path, "%s/post.bin", gw.dir);
    ck_assert_int_eq(gwt_write_file(post_path, post_body, POST_LEN), 0);
    char conf[2048];
    snprintf(conf, sizeof conf,
             "ServerName localhost\n"
             "Threads 2\n"
             "Timeout 20\n"
             "ErrorLog error.log\n"
             "LogLevel error\n"
             "ProxyPass \"/h/\" \"fcgi://127.0.0.1:%d/srv/h/\" enablereuse=on max=16 timeout=10\n"
             "ProxyPass \"/s/\" \"fcgi://127.0.0.1:%d/srv/s/\" enablereuse=on max=16 timeout=%d\n"
             "ProxyPass \"/p/\" \"fcgi://127.0.0.1:%d/srv/p/\" enablereuse=on max=16 timeout=10\n",
             app->port, slow_app->port, slow_secs(), post_app->port);
    ck_assert_int_eq(gwt_gateway_write_conf(&gw, conf), 0);
    int rc = gwt_gateway_run(&gw);
    ck_assert_msg(rc == 0, "minimal_gateway did not start listening: %d", rc);
}

static void teardown(void)
{
    int rc = gwt_gateway_stop(&gw);
    harness_app_stop(app);
    harness_app_stop(slow_app);
    harness_app_stop(post_app);
    app = slow_app = post_app = NULL;
    free(post_body);
    post_body = NULL;
    ck_assert_msg(rc == 0, "minimal_gateway exited with %d", rc);
}

/* The gateway's error-log lines about the cases that failed its way (the
 * request line names the case: /<route>/<name>.php), so a failure that does not
 * reproduce still says what the gateway saw. */
static void show_gateway_log(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/error.log", gw.dir);
    char *log = gwt_slurp(path, NULL);
    if (log == NULL)
        return;
    for (size_t ci = 0; ci < NCASES; ci++) {
        if (!gw_failed[ci])
            continue;
        char key[128];
        snprintf(key, sizeof key, "/%s.php", cases[ci].name);
        int shown = 0;
        for (char *l = log; *l && shown < 20;) {
            char *e = strchr(l, '\n');
            size_t n = e ? (size_t)(e - l) : strlen(l);
            if (memmem(l, n, key, strlen(key)) != NULL) {
                fprintf(stderr, "error.log: %.*s\n", (int)(n < 600 ? n : 600), l);
                shown++;
            }
            l += n + (e != NULL);
        }
        if (shown == 0)
            fprintf(stderr, "error.log: nothing about %s\n", cases[ci].name);
    }
    free(log);
}

START_TEST(test_matrix)
{
    pthread_t th[THREADS];
    next_job = 0;
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    if (nfailures) {
        fprintf(stderr, "%s", failures);
        show_gateway_log();
    }
    ck_assert_msg(nfailures == 0, "%zu failures in %zu cases x %d ways (listed above)", nfailures, NCASES,
                  (int)NWAYS);
    free(failures);
    failures = NULL;
}
END_TEST

int main(void)
{
    if (getenv("GW_EXE") == NULL || getenv("FCGIC_EXE") == NULL) {
        fprintf(stderr, "GW_EXE and FCGIC_EXE must be set\n");
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("matrix");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_matrix);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

/* HTTP statuses and reason phrases for gateways (http.h). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiclient/error.h"
#include "fcgiclient/http.h"
#include "testutil.h"

START_TEST(test_status_for_error)
{
    static const struct {
        int err, status;
    } cases[] = {
        {0, 0},
        {FCGIC_E_TIMEOUT_CONNECT, 504},
        {FCGIC_E_TIMEOUT_FIRST_BYTE, 504},
        {FCGIC_E_TIMEOUT_IDLE, 504},
        {FCGIC_E_TIMEOUT_TOTAL, 504},
        {FCGIC_E_POOL_TIMEOUT, 504},
        {FCGIC_E_CONNECT, 503},
        {FCGIC_E_RESOLVE, 503},
        {FCGIC_E_BAL_ALL_DOWN, 503},
        {FCGIC_E_POOL_QUEUE_FULL, 503},
        {FCGIC_E_BAD_VERSION, 502},
        {FCGIC_E_AFTER_END, 502},
        {FCGIC_E_UNSOLICITED, 502},
        {FCGIC_E_HEADERS_TOO_BIG, 502},
        {FCGIC_E_STDERR_TOO_BIG, 502},
        {FCGIC_E_CGI_BAD_HEADER, 502},
        {FCGIC_E_CGI_BAD_STATUS, 502},
        {FCGIC_E_CGI_NO_HEADERS, 502},
        {FCGIC_E_PEER_CLOSED, 502},
        {FCGIC_E_TRUNCATED, 502},
        {FCGIC_E_IO, 502},
        {FCGIC_E_PARAMS_TOO_BIG, 500},
        {FCGIC_E_ENV_BAD_URI, 400},
        {FCGIC_E_ENV_PATH_CTL, 400},
        {FCGIC_E_BODY_SOURCE, 400},
        {FCGIC_E_ENV_ENCODED_SLASH, 404},
        {FCGIC_E_ENV_NO_FILE, 404},
        {FCGIC_E_ENV_HEADERS_TOO_BIG, 431},
        {FCGIC_E_ENV_TOO_BIG, 500},
        {FCGIC_E_ABORTED, 499},
        {FCGIC_E_NOMEM, 500},
        {FCGIC_E_CALLBACK, 500},
        {-9998, 500},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(fcgic_http_status_for_error(cases[i].err) == cases[i].status, "%s gave %d",
                      fcgic_strerror_name(cases[i].err), fcgic_http_status_for_error(cases[i].err));
}
END_TEST

START_TEST(test_status_for_result)
{
    struct fcgic_result r;
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(fcgic_http_status_for_result(&r), 0);
    r.got_end_request = 1;
    r.protocol_status = FCGIC_OVERLOADED;
    ck_assert_int_eq(fcgic_http_status_for_result(&r), 503);
    r.protocol_status = FCGIC_CANT_MPX_CONN;
    ck_assert_int_eq(fcgic_http_status_for_result(&r), 502);
    r.protocol_status = FCGIC_UNKNOWN_ROLE;
    ck_assert_int_eq(fcgic_http_status_for_result(&r), 502);
    r.error = FCGIC_E_TIMEOUT_TOTAL;
    ck_assert_int_eq(fcgic_http_status_for_result(&r), 504);
    ck_assert_int_eq(fcgic_http_status_for_result(NULL), 500);
}
END_TEST

START_TEST(test_reason)
{
    ck_assert_str_eq(fcgic_http_reason(200), "OK");
    ck_assert_str_eq(fcgic_http_reason(413), "Content Too Large");
    ck_assert_str_eq(fcgic_http_reason(431), "Request Header Fields Too Large");
    ck_assert_str_eq(fcgic_http_reason(502), "Bad Gateway");
    ck_assert_str_eq(fcgic_http_reason(599), "");
    ck_assert_str_eq(fcgic_http_reason(-1), "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("status");
    tcase_add_test(tc, test_status_for_error);
    tcase_add_test(tc, test_status_for_result);
    suite_add_tcase(s, tc);
    tc = tcase_create("reason");
    tcase_add_test(tc, test_reason);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

/* Error table and version: every code has a distinct message and name,
 * fcgic_strerror() never returns NULL. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fcgiclient/error.h"
#include "fcgiclient/version.h"
#include "testutil.h"

static const int all_codes[] = {
#define X(name, num, msg) num,
    FCGIC_ERROR_TABLE(X)
#undef X
};
#define NCODES (sizeof(all_codes) / sizeof(all_codes[0]))

START_TEST(test_messages_distinct)
{
    for (size_t i = 0; i < NCODES; i++) {
        ck_assert_int_lt(all_codes[i], 0);
        const char *m = fcgic_strerror(all_codes[i]);
        ck_assert_ptr_nonnull(m);
        ck_assert_str_ne(m, "unknown error");
        ck_assert_str_ne(fcgic_strerror_name(all_codes[i]), "FCGIC_E_UNKNOWN");
        for (size_t j = i + 1; j < NCODES; j++) {
            ck_assert_int_ne(all_codes[i], all_codes[j]);
            ck_assert_str_ne(m, fcgic_strerror(all_codes[j]));
        }
    }
}
END_TEST

START_TEST(test_unknown_never_null)
{
    const int odd[] = {1, 42, -1000, -19, 0x7fffffff, -0x7fffffff - 1};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        ck_assert_str_eq(fcgic_strerror(odd[i]), "unknown error");
        ck_assert_str_eq(fcgic_strerror_name(odd[i]), "FCGIC_E_UNKNOWN");
    }
    ck_assert_str_eq(fcgic_strerror(0), "success");
    ck_assert_str_eq(fcgic_strerror_name(FCGIC_E_TIMEOUT_IDLE), "FCGIC_E_TIMEOUT_IDLE");
    ck_assert_int_eq(FCGIC_E_NOMEM, -1);
    ck_assert_int_eq(FCGIC_E_NOT_BUILT, -12);
    ck_assert_str_eq(fcgic_strerror_name(FCGIC_E_NOT_BUILT), "FCGIC_E_NOT_BUILT");
}
END_TEST

START_TEST(test_version)
{
    const char *s = NULL;
    ck_assert_int_eq(fcgic_version(&s), FCGIC_VERSION_NUMBER);
    ck_assert_str_eq(s, FCGIC_VERSION_STRING);
    ck_assert_int_eq(fcgic_version(NULL), FCGIC_VERSION_NUMBER);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("strerror");
    tcase_add_test(tc, test_messages_distinct);
    tcase_add_test(tc, test_unknown_never_null);
    suite_add_tcase(s, tc);
    tc = tcase_create("version");
    tcase_add_test(tc, test_version);
    suite_add_tcase(s, tc);
    return testutil_run(s);
}

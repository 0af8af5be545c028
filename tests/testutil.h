/* Test helpers shared by the Check programs. */
#ifndef FCGIC_TEST_TESTUTIL_H
#define FCGIC_TEST_TESTUTIL_H

#include <check.h>

/* Run every test of s (the runner takes ownership of s) and turn the result
 * into the program's exit status: EXIT_SUCCESS when nothing failed. */
int testutil_run(Suite *s);

#endif

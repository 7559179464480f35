/* cmocka glue: every test executable runs the one test named on its command
 * line (so each is its own ctest entry), or all of them without one. */
#ifndef ZB_TEST_CMOCKA_H
#define ZB_TEST_CMOCKA_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>

#define ZB_RUN_TESTS(tests, argc, argv)                                                                               \
    do {                                                                                                               \
        if (sodium_init() < 0)                                                                                         \
            return 1;                                                                                                  \
        if ((argc) > 1)                                                                                                \
            cmocka_set_test_filter((argv)[1]);                                                                         \
        return cmocka_run_group_tests(tests, NULL, NULL);                                                              \
    } while (0)

#endif

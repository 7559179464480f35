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

#define ZB_RUN_TESTS(tests, argc, argv)                                                                                \
    do {                                                                                                               \
        if (sodium_init() < 0)                                                                                         \
            return 1;                                                                                                  \
        if ((argc) > 1)                                                                                                \
            cmocka_set_test_filter((argv)[1]);                                                                         \
        return cmocka_run_group_tests(tests, NULL, NULL);                                                              \
    } while (0)

/* The main of every unit test file: ZB_TEST_MAIN(first_test, second_test, ...). */
#define ZB_TEST_ONE(name) cmocka_unit_test(name)
#define ZB_TEST_MAIN(...)                                                                                              \
    int main(int argc, char **argv)                                                                                    \
    {                                                                                                                  \
        const struct CMUnitTest tests[] = {ZB_TEST_MAP_(__VA_ARGS__)};                                                 \
        ZB_RUN_TESTS(tests, argc, argv);                                                                               \
    }

/* ZB_TEST_MAP_(a, b, c) -> cmocka_unit_test(a), cmocka_unit_test(b), ...
 * for up to 16 tests a file. */
#define ZB_TEST_NTH_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, N, ...) N
#define ZB_TEST_MAP_(...)                                                                                              \
    ZB_TEST_NTH_(__VA_ARGS__, ZB_T16_, ZB_T15_, ZB_T14_, ZB_T13_, ZB_T12_, ZB_T11_, ZB_T10_, ZB_T9_, ZB_T8_, ZB_T7_,   \
                 ZB_T6_, ZB_T5_, ZB_T4_, ZB_T3_, ZB_T2_, ZB_T1_, 0)                                                    \
    (__VA_ARGS__)
#define ZB_T1_(a)       ZB_TEST_ONE(a)
#define ZB_T2_(a, ...)  ZB_TEST_ONE(a), ZB_T1_(__VA_ARGS__)
#define ZB_T3_(a, ...)  ZB_TEST_ONE(a), ZB_T2_(__VA_ARGS__)
#define ZB_T4_(a, ...)  ZB_TEST_ONE(a), ZB_T3_(__VA_ARGS__)
#define ZB_T5_(a, ...)  ZB_TEST_ONE(a), ZB_T4_(__VA_ARGS__)
#define ZB_T6_(a, ...)  ZB_TEST_ONE(a), ZB_T5_(__VA_ARGS__)
#define ZB_T7_(a, ...)  ZB_TEST_ONE(a), ZB_T6_(__VA_ARGS__)
#define ZB_T8_(a, ...)  ZB_TEST_ONE(a), ZB_T7_(__VA_ARGS__)
#define ZB_T9_(a, ...)  ZB_TEST_ONE(a), ZB_T8_(__VA_ARGS__)
#define ZB_T10_(a, ...) ZB_TEST_ONE(a), ZB_T9_(__VA_ARGS__)
#define ZB_T11_(a, ...) ZB_TEST_ONE(a), ZB_T10_(__VA_ARGS__)
#define ZB_T12_(a, ...) ZB_TEST_ONE(a), ZB_T11_(__VA_ARGS__)
#define ZB_T13_(a, ...) ZB_TEST_ONE(a), ZB_T12_(__VA_ARGS__)
#define ZB_T14_(a, ...) ZB_TEST_ONE(a), ZB_T13_(__VA_ARGS__)
#define ZB_T15_(a, ...) ZB_TEST_ONE(a), ZB_T14_(__VA_ARGS__)
#define ZB_T16_(a, ...) ZB_TEST_ONE(a), ZB_T15_(__VA_ARGS__)

#endif

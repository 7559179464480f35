/* Undefined behaviour on purpose, built with the fuzz build's flags: the
 * smoke tests count on a UBSan report ending the process (a report that only
 * prints lets the fuzzer run on and the test pass), and this proves it does.
 * The overflow depends on argc so that the compiler cannot fold it away. */
#include <limits.h>

int main(int argc, char **argv)
{
    (void)argv;
    int x = INT_MAX - 1 + argc;
    x += argc;
    return x == 0;
}

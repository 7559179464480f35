/* Included first in every translation unit (through the compiler's -include):
 * keeps the unsafe string calls out of the code base for good. */
#ifndef ZB_COMMON_BUILD_H
#define ZB_COMMON_BUILD_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#pragma GCC poison sprintf vsprintf strcpy strcat gets

#define ZB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif

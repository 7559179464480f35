#include "zakpos_backup/command/table.h"

#include <malloc.h>

/* glibc gives a block of more than 128 KiB its own mapping, returned to the
 * system when freed, but after the first such free it raises that threshold
 * to the freed block's size (up to 32 MiB): the 4 MiB table chunks and the
 * large buffers then come from the heaps, where freed ones stay resident
 * (each thread's arena keeping its own). A fixed threshold keeps each large
 * block in its own mapping for its lifetime: a restore of the bench dataset
 * peaks 4 to 8 MB lower (docs/BENCHMARKS.md), for a few page faults a MiB. */
#define LARGE_BLOCK_BYTES (1024 * 1024)

int main(int argc, char **argv)
{
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES);
#endif
    return zb_command_main(argc, argv);
}

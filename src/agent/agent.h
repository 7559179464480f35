/* zb-volume-agent: the program the tool runs inside a helper container to
 * read or write a Docker volume it cannot reach from its own host, with
 * every attribute the volume's file system holds. It speaks pax
 * (POSIX.1-2001 tar with extended headers) on stdin/stdout, which the tool
 * reads and writes with libarchive; messages go to stderr, one per line.
 * Static, on glibc alone: no library of the tool is linked in. */
#ifndef ZB_AGENT_AGENT_H
#define ZB_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define AGENT_BLOCK    512
#define AGENT_IO_BYTES (1u << 20)

/* A growable byte buffer (the agent's own: the tool's is in its library). */
typedef struct abuf {
    char *data;
    size_t len, cap;
} abuf;

int abuf_append(abuf *b, const void *data, size_t len);
int abuf_printf(abuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void abuf_free(abuf *b);

/* "error: ..." / "warning: ..." on stderr; agent_fail returns -1. */
int agent_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int agent_fail_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#if defined(__clang_analyzer__) && !defined(AGENT_DEFINES_FAIL)
/* For the static analyzer only: the same calls, with the -1 they return
 * written out, so it follows the failure paths as they run. */
#define agent_fail(...)       (agent_fail(__VA_ARGS__), -1)
#define agent_fail_errno(...) (agent_fail_errno(__VA_ARGS__), -1)

#endif
void agent_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int agent_write_all(int fd, const void *data, size_t len);

/* An xattr path short enough at any depth: the folder's descriptor in /proc. */
void agent_proc_path(char *out, size_t size, int dir_fd, const char *name);

/* Writes the tree below root_fd as a pax stream to out_fd. */
int agent_backup(int root_fd, int out_fd);
/* Writes the pax stream read from in_fd into the folder root_fd; with
 * names, each entry's name goes there; with written, *written counts them. */
int agent_restore(int root_fd, int in_fd, FILE *names, uint64_t *written);
/* Removes everything below the folder dir_fd (never through a link). */
int agent_remove_below(int dir_fd);
/* Entries below and including root_fd (sockets apart), by a walk of its own. */
int agent_count(int root_fd, uint64_t *entries, uint64_t *sockets);

/* The names a restore wrote, in a file without a name of its own (NULL
 * where none can be made); on a short count, "absent NAME" on stderr for
 * each name the folder lacks, up to limit. */
FILE *agent_names_open(int root_fd);
int agent_names_add(FILE *names, const char *name);
void agent_names_report_absent(FILE *names, int root_fd, size_t limit);

#endif

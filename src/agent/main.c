/* zb-volume-agent backup|restore DIR, copy FROM TO: see agent.h. The last line on stderr
 * of a run that succeeded is "count ENTRIES SOCKETS", a walk of the folder
 * made apart from the stream, which the tool checks against what it read
 * or wrote; a restore whose count falls short of the entries it wrote
 * names those the folder lacks first, one "absent NAME" line each, and so
 * does a copy whose TO falls short of FROM (copy_tree). */
#define AGENT_DEFINES_FAIL /* the definitions below, not the analyzer's models */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* as many as the tool names for a folder it counts itself */
#define ABSENT_NAMED_MAX 10

int abuf_append(abuf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return agent_fail("out of memory");
        b->data = grown, b->cap = cap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int abuf_printf(abuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return agent_fail("cannot format a value");
    if ((size_t)n < sizeof(small))
        return abuf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return agent_fail("out of memory");
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = abuf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

void abuf_free(abuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

__attribute__((format(printf, 3, 0))) static void say(const char *level, int err, const char *fmt, va_list ap)
{
    char text[2048];
    vsnprintf(text, sizeof(text), fmt, ap);
    /* one line per message: a name with a newline must not split it */
    for (char *p = text; *p; p++)
        if (*p == '\n')
            *p = '?';
    if (err)
        fprintf(stderr, "%s: %s: %s\n", level, text, strerror(err));
    else
        fprintf(stderr, "%s: %s\n", level, text);
}

int agent_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("error", 0, fmt, ap);
    va_end(ap);
    return -1;
}

int agent_fail_errno(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("error", err, fmt, ap);
    va_end(ap);
    return -1;
}

void agent_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("warning", 0, fmt, ap);
    va_end(ap);
}

int agent_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return agent_fail_errno(errno, "cannot write the stream");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void agent_proc_path(char *out, size_t size, int dir_fd, const char *name)
{
    if (name)
        snprintf(out, size, "/proc/self/fd/%d/%s", dir_fd, name);
    else
        snprintf(out, size, "/proc/self/fd/%d", dir_fd);
}

/* Waits for the tool's word on stdin (a line, or its end): the tool hears
 * that the copy is written before the agent walks what it wrote. */
static void wait_for_tool(void)
{
    char c;
    ssize_t n;
    while ((n = read(STDIN_FILENO, &c, 1)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && c == '\n')
            break;
}

/* A copy is proven before FROM loses anything: TO must hold every entry
 * written into it, and as many as a walk of FROM made before the copy
 * counted (sockets apart, as everywhere), else the entries TO lacks are
 * named and the copy fails. */
static int check_copy(int to, FILE *names, uint64_t expected, uint64_t written)
{
    uint64_t entries = 0, sockets = 0;
    int rc = agent_count(to, &entries, &sockets);
    if (rc == 0 && (written < expected || entries < written)) {
        if (names && entries < written)
            agent_names_report_absent(names, to, ABSENT_NAMED_MAX);
        rc = agent_fail("the copy is short: %llu entries in the source, %llu written, %llu found in the copy",
                        (unsigned long long)expected, (unsigned long long)written, (unsigned long long)entries);
    }
    return rc;
}

/* copy FROM TO [--remove]: the writer in a child process, the reader here,
 * a pipe between (the two folders are two mounts: no rename between
 * them). Entries already in TO are replaced, so a copy cut short is
 * finished by running it again; --remove then empties FROM, which a
 * cut leaves partly emptied, with everything it lost already in TO.
 * "copied N" on stderr says the copy is written; the agent then waits for
 * the tool's line on stdin and checks the copy (check_copy) before FROM
 * is emptied. */
static int copy_tree(int from, int to, int remove)
{
    uint64_t expected = 0, sockets = 0, written = 0;
    if (agent_count(from, &expected, &sockets) < 0)
        return -1;
    FILE *names = agent_names_open(to);
    if (!names)
        fprintf(stderr, "the names written cannot be kept: a short copy will name none\n");
    int fds[2];
    if (pipe(fds) < 0) {
        if (names)
            fclose(names);
        return agent_fail_errno(errno, "cannot make a pipe");
    }
    pid_t child = fork();
    if (child < 0) {
        close(fds[0]), close(fds[1]);
        if (names)
            fclose(names);
        return agent_fail_errno(errno, "cannot fork");
    }
    if (child == 0) {
        close(fds[0]);
        _exit(agent_backup(from, fds[1]) == 0 ? 0 : 1);
    }
    close(fds[1]);
    int rc = agent_restore(to, fds[0], names, &written);
    close(fds[0]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        rc = agent_fail("reading the source folder failed");
    if (rc == 0) {
        fprintf(stderr, "copied %llu\n", (unsigned long long)written);
        fflush(stderr);
        wait_for_tool();
        rc = check_copy(to, names, expected, written);
    }
    if (names)
        fclose(names);
    if (rc == 0 && remove)
        rc = agent_remove_below(from);
    return rc;
}

static int open_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        agent_fail_errno(errno, "cannot open %s", path);
    return fd;
}

/* The stream's own socket, which the tool listens on in a folder of its
 * host bound into this container: a direct path, where stdin and stdout
 * take every byte through containerd's shim and dockerd in small frames.
 * Where it cannot be reached (the folder bound is not the tool's: another
 * host or mount namespace), "data stdio" on stderr tells the tool the
 * stream takes stdin/stdout after all. */
static int open_data(const char *path, int stdio_fd)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = -1;
    if (path && strlen(path) < sizeof(addr.sun_path)) {
        memcpy(addr.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) {
        int bytes = (int)AGENT_IO_BYTES * 4; /* the kernel caps it at its own maximum */
        setsockopt(fd, SOL_SOCKET, stdio_fd == STDOUT_FILENO ? SO_SNDBUF : SO_RCVBUF, &bytes, sizeof(bytes));
        return fd;
    }
    if (path)
        fprintf(stderr, "data stdio\n");
    return stdio_fd;
}

/* Reads to the end of the stream (the tool shuts its side down). */
static void drain(int fd)
{
    char rest[AGENT_BLOCK * 8];
    ssize_t n;
    while ((n = read(fd, rest, sizeof(rest))) > 0 || (n < 0 && errno == EINTR))
        ;
}

int main(int argc, char **argv)
{
    int copy = argc >= 4 && strcmp(argv[1], "copy") == 0;
    const char *socket_path = NULL;
    if (!copy && argc == 5 && strcmp(argv[3], "--socket") == 0)
        socket_path = argv[4], argc = 3;
    if (!(copy && (argc == 4 || (argc == 5 && strcmp(argv[4], "--remove") == 0))) &&
        (argc != 3 ||
         (strcmp(argv[1], "backup") != 0 && strcmp(argv[1], "restore") != 0 && strcmp(argv[1], "count") != 0))) {
        fprintf(stderr,
                "usage: zb-volume-agent backup|restore DIR [--socket PATH]\n"
                "       zb-volume-agent count DIR\n"
                "       zb-volume-agent copy FROM TO [--remove]\n");
        return 2;
    }
    /* modes and owners come from the stream, not from a mask */
    umask(0);
    signal(SIGPIPE, SIG_DFL);
    int root = open_dir(argv[copy ? 3 : 2]);
    int from = copy ? open_dir(argv[2]) : -1;
    if (root < 0 || (copy && from < 0))
        return 1;
    int rc = 0, data = -1;
    FILE *names = NULL;   /* a restore's: to name what a short count lacks */
    uint64_t written = 0; /* entries a restore wrote */
    if (copy) {
        rc = copy_tree(from, root, argc == 5);
    } else if (strcmp(argv[1], "backup") == 0) {
        data = open_data(socket_path, STDOUT_FILENO);
        rc = agent_backup(root, data);
    } else if (strcmp(argv[1], "restore") == 0) {
        data = open_data(socket_path, STDIN_FILENO);
        if (!(names = agent_names_open(root)))
            fprintf(stderr, "the names written cannot be kept: a short count will name none\n");
        rc = agent_restore(root, data, names, &written);
        /* the stream ends with the end marker, which may still be arriving
         * (its second block): closing the socket before the tool's end
         * would fail the tool's last write */
        if (rc == 0 && data > STDERR_FILENO)
            drain(data);
    }
    /* the end of the stream before the count: the tool reads on meanwhile */
    if (data > STDERR_FILENO)
        close(data);
    uint64_t entries = 0, sockets = 0;
    if (rc == 0)
        rc = agent_count(root, &entries, &sockets);
    if (rc == 0 && names && entries < written)
        agent_names_report_absent(names, root, ABSENT_NAMED_MAX);
    if (names)
        fclose(names);
    close(root);
    if (from >= 0)
        close(from);
    if (rc < 0)
        return 1;
    fprintf(stderr, "count %llu %llu\n", (unsigned long long)entries, (unsigned long long)sockets);
    return 0;
}

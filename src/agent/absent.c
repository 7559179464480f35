/* The names a restore wrote, kept so that a count of the folder that falls
 * short can name the entries it lacks, as the tool does for a folder it
 * counts itself. They wait in a file that has no name (so no walk ever
 * counts it) and are read back only then: memory does not grow with the
 * volume. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *agent_names_open(int root_fd)
{
    FILE *f = tmpfile(); /* the container's /tmp, where its image has one */
    if (f)
        return f;
    /* the agent's own image has no /tmp: the volume's file system, linked nowhere */
    int fd = openat(root_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 && !(f = fdopen(fd, "w+")))
        close(fd);
    return f;
}

int agent_names_add(FILE *names, const char *name)
{
    if (names && fwrite(name, strlen(name) + 1, 1, names) != 1)
        return agent_fail_errno(errno, "cannot keep the name of %s", name);
    return 0;
}

/* lstat of a name below the folder, one component at a time (a path of
 * any length, no link followed): 1 when it is there. */
static int present(int root_fd, const char *name)
{
    struct stat st;
    if (strcmp(name, ".") == 0)
        return 1;
    char part[NAME_MAX + 1];
    int fd = root_fd, found = 0;
    for (const char *p = name; fd >= 0;) {
        size_t n = strcspn(p, "/");
        if (n > NAME_MAX)
            break;
        memcpy(part, p, n);
        part[n] = '\0';
        if (p[n] == '\0') {
            found = fstatat(fd, part, &st, AT_SYMLINK_NOFOLLOW) == 0;
            break;
        }
        int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd != root_fd)
            close(fd);
        fd = next;
        p += n + 1;
    }
    if (fd >= 0 && fd != root_fd)
        close(fd);
    return found;
}

void agent_names_report_absent(FILE *names, int root_fd, size_t limit)
{
    char *name = NULL;
    size_t cap = 0, reported = 0;
    rewind(names);
    while (reported < limit && getdelim(&name, &cap, '\0', names) > 0) {
        if (present(root_fd, name))
            continue;
        /* one line per name; a deep path by its ends, as the tool names one */
        for (char *c = name; *c; c++)
            if (*c == '\n')
                *c = '?';
        size_t n = strlen(name);
        if (n <= 240)
            fprintf(stderr, "absent %s\n", name);
        else
            fprintf(stderr, "absent %.100s...%s (%zu bytes)\n", name, name + n - 120, n);
        reported++;
    }
    free(name);
}

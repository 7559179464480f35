#include "zakpos_backup/common/secret.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* The variables taken, and the variable naming the file a child reads each
 * one from instead. PGPASSWORD goes down as a password file: libpq consults
 * one only when no password is set otherwise, which is also PGPASSWORD's
 * precedence, so the child connects exactly as the parent would. */
static const struct {
    const char *name;
    const char *file_name;
    int pgpass_line;
} secret_vars[] = {
    {"ZAKPOS_BACKUP_PASSPHRASE", "ZAKPOS_BACKUP_PASSPHRASE_FILE", 0},
    {"PGPASSWORD", "PGPASSFILE", 1},
};

static char *taken[ZB_ARRAY_LEN(secret_vars)];
static int env_taken;

void zb_secret_protect_process(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    /* Not dumpable: no core file, no ptrace or /proc/PID/mem by other
     * processes of the same user; the core limit covers core helpers too. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
}

int zb_secret_env_take(void)
{
    env_taken = 1;
    for (size_t i = 0; i < ZB_ARRAY_LEN(secret_vars); i++) {
        char *value = getenv(secret_vars[i].name);
        if (!value)
            continue;
        size_t len = strlen(value);
        taken[i] = sodium_malloc(len + 1);
        if (!taken[i])
            return zb_error_set(ZB_ENOMEM, "cannot allocate protected memory");
        memcpy(taken[i], value, len + 1);
        /* getenv points into the environment block itself (for the variables
         * the process started with, the block /proc/PID/environ shows) */
        sodium_memzero(value, len);
        unsetenv(secret_vars[i].name);
        zb_secret_protect_process();
    }
    return 0;
}

const char *zb_secret_env_get(const char *name)
{
    for (size_t i = 0; env_taken && i < ZB_ARRAY_LEN(secret_vars); i++)
        if (strcmp(secret_vars[i].name, name) == 0)
            return taken[i];
    return getenv(name);
}

/* "*:*:*:*:" and the password with ':' and '\\' escaped, as .pgpass has it. */
static int write_pgpass_line(int fd, const char *password)
{
    int rc = zb_fs_write_all(fd, "*:*:*:*:", 8, "a password file");
    for (const char *p = password; rc == 0 && *p; p++) {
        char escaped[2] = {'\\', *p};
        int special = *p == ':' || *p == '\\';
        rc = zb_fs_write_all(fd, special ? escaped : p, special ? 2 : 1, "a password file");
    }
    return rc == 0 ? zb_fs_write_all(fd, "\n", 1, "a password file") : rc;
}

int zb_secret_env_hand_down(void)
{
    for (size_t i = 0; i < ZB_ARRAY_LEN(secret_vars); i++) {
        if (!taken[i] || (!secret_vars[i].pgpass_line && getenv(secret_vars[i].file_name)))
            continue;
        int fd = memfd_create("zakpos-backup-secret", MFD_ALLOW_SEALING); /* no CLOEXEC: the child inherits it */
        if (fd < 0)
            return zb_error_errno(ZB_EIO, errno, "cannot make a memory file for %s", secret_vars[i].name);
        int rc = secret_vars[i].pgpass_line ? write_pgpass_line(fd, taken[i])
                                            : zb_fs_write_all(fd, taken[i], strlen(taken[i]), secret_vars[i].name);
        if (rc < 0) {
            close(fd);
            return rc;
        }
        fchmod(fd, 0400); /* libpq ignores a password file others may read */
        fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (setenv(secret_vars[i].file_name, path, 1) < 0)
            return zb_error_errno(ZB_ENOMEM, errno, "cannot set %s", secret_vars[i].file_name);
    }
    return 0;
}

int zb_secret_check_file_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "cannot open %s", path);
    if (S_ISREG(st.st_mode) && (st.st_mode & 077)) {
        zb_error_set(ZB_EKEY, "secret key file %s is accessible by others (mode %04o); refused", path,
                     (unsigned)(st.st_mode & 07777));
        return zb_error_hint("chmod 600 %s (only its owner may read a secret key)", path);
    }
    return 0;
}

#include "zakpos_backup/source/docker/record.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/place.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/source/docker/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define STATE_LOCK_NAME    "holds.lock"
/* The single record of versions before per-run records: read once, for an
 * upgrade over a killed run of the old version. */
#define LEGACY_RECORD_NAME "stopped-containers.json"
#define LOCK_POLL_NS       (20 * 1000 * 1000)

static struct {
    char id[33];
    int fd;
    pid_t pid;
    int exit_hook;
} self = {"", -1, 0, 0};

static const char *state_dir(void) { return zb_place_state_dir(); }

/* <state>/runs/<name><suffix>, or <state>/<name> when suffix is NULL. */
static int state_path(char *out, size_t size, const char *name, const char *suffix)
{
    int n = suffix ? snprintf(out, size, "%s/" ZB_RECORD_DIR "/%s%s", state_dir(), name, suffix)
                   : snprintf(out, size, "%s/%s", state_dir(), name);
    if (n < 0 || (size_t)n >= size)
        return zb_error_set(ZB_EUSAGE, "state folder path too long: %s", state_dir());
    return 0;
}

static int is_run_id(const char *s, size_t len)
{
    if (len != 32)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* At a normal exit the lock file goes unless a record is left: holds that
 * could not be put back stay for the next command, whose recovery needs to
 * see this run as dead (its lock is free once the process is gone). */
static void forget_self_at_exit(void)
{
    if (self.fd < 0 || self.pid != getpid())
        return;
    char json[PATH_MAX], lock[PATH_MAX];
    if (state_path(json, sizeof(json), self.id, ".json") == 0 && access(json, F_OK) != 0 &&
        state_path(lock, sizeof(lock), self.id, ".lock") == 0)
        unlink(lock);
}

int zb_record_self(const char **run_id)
{
    if (self.fd >= 0 && self.pid == getpid()) {
        *run_id = self.id;
        return 0;
    }
    if (self.fd >= 0)
        close(self.fd); /* a forked child: the parent keeps its own lock */
    self.fd = -1;
    unsigned char raw[16];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(self.id, sizeof(self.id), raw, sizeof(raw));
    char dir[PATH_MAX], temp[PATH_MAX], final[PATH_MAX];
    int rc = state_path(dir, sizeof(dir), ZB_RECORD_DIR, NULL);
    if (rc == 0)
        rc = zb_fs_mkdir_p(dir, 0700);
    if (rc == 0)
        rc = state_path(temp, sizeof(temp), self.id, ".new");
    if (rc == 0)
        rc = state_path(final, sizeof(final), self.id, ".lock");
    if (rc < 0)
        return zb_error_context("cannot keep run records in %s", state_dir());
    /* locked before it gets its name: a lock file is never seen unlocked
     * while its run lives */
    int fd = open(temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot create %s", temp);
    char pid[24];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 || write(fd, pid, (size_t)len) != len || rename(temp, final) < 0) {
        rc = zb_error_errno(ZB_EIO, errno, "cannot register this run in %s", dir);
        unlink(temp);
        close(fd);
        return rc;
    }
    self.fd = fd;
    self.pid = getpid();
    if (!self.exit_hook)
        self.exit_hook = atexit(forget_self_at_exit) == 0;
    *run_id = self.id;
    return 0;
}

int zb_record_lock(int *fd)
{
    char path[PATH_MAX];
    *fd = -1;
    int rc = state_path(path, sizeof(path), STATE_LOCK_NAME, NULL);
    if (rc == 0)
        rc = zb_fs_mkdir_p(state_dir(), 0700);
    if (rc < 0)
        return rc;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (f < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot open %s", path);
    /* Polled, so that work stops on a signal and cleanup after one waits
     * no longer than its budget. */
    int interrupted_at_start = zb_interrupted();
    while (flock(f, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            rc = zb_error_errno(ZB_EIO, errno, "cannot lock %s", path);
            break;
        }
        if (!interrupted_at_start && (rc = zb_check_interrupt()) < 0)
            break;
        if (zb_cleanup_seconds_left() <= 0) {
            rc = zb_error_set(ZB_EINTR, "another run holds %s past the time left for cleanup", path);
            break;
        }
        nanosleep(&(struct timespec){0, LOCK_POLL_NS}, NULL);
    }
    if (rc < 0) {
        close(f);
        return rc;
    }
    *fd = f;
    return 0;
}

void zb_record_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

int zb_record_save(json_t *entries)
{
    const char *id;
    char path[PATH_MAX];
    int rc = zb_record_self(&id);
    if (rc == 0)
        rc = state_path(path, sizeof(path), id, ".json");
    if (rc < 0)
        return rc;
    if (json_array_size(entries) == 0) {
        if (unlink(path) < 0 && errno != ENOENT)
            return zb_error_errno(ZB_EIO, errno, "cannot remove %s", path);
        return 0;
    }
    json_t *doc = json_pack("{s:i, s:s, s:O}", "pid", (int)getpid(), "run", id, "containers", entries);
    rc = zb_json_write_file(path, doc, JSON_INDENT(1), 0600);
    json_decref(doc);
    return rc;
}

/* 1: the run's lock file exists and nobody holds it; 0: alive or unknown. */
static int run_dead(const char *id)
{
    if (self.fd >= 0 && self.pid == getpid() && strcmp(id, self.id) == 0)
        return 0;
    char path[PATH_MAX];
    if (state_path(path, sizeof(path), id, ".lock") < 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int dead = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return dead;
}

int zb_record_run_dead(const char *run_id) { return run_id && is_run_id(run_id, strlen(run_id)) && run_dead(run_id); }

/* A record whose lock file is gone is a dead run's too (its exit or a
 * sweep removed the lock while holds were left). */
static int record_owner_dead(const char *id)
{
    char path[PATH_MAX];
    if (state_path(path, sizeof(path), id, ".lock") < 0)
        return 0;
    return access(path, F_OK) != 0 || run_dead(id);
}

int zb_record_run_gone(const char *run_id)
{
    return run_id && is_run_id(run_id, strlen(run_id)) && record_owner_dead(run_id);
}

typedef int (*record_visit_fn)(const char *id, const char *path, void *payload);

/* Every runs/<id><suffix> but this run's own. */
static int each_record(const char *suffix, record_visit_fn visit, void *payload)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (state_path(dir, sizeof(dir), ZB_RECORD_DIR, NULL) < 0)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int rc = 0;
    size_t suffix_len = strlen(suffix);
    while (rc == 0 && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= suffix_len || strcmp(e->d_name + n - suffix_len, suffix) != 0 || !is_run_id(e->d_name, n - suffix_len))
            continue;
        char id[33];
        memcpy(id, e->d_name, 32);
        id[32] = '\0';
        if (self.fd >= 0 && self.pid == getpid() && strcmp(id, self.id) == 0)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
            continue;
        rc = visit(id, path, payload);
    }
    closedir(d);
    return rc;
}

static int collect_live(const char *id, const char *path, void *payload)
{
    json_t *all = payload;
    if (record_owner_dead(id))
        return 0;
    json_t *doc = json_load_file(path, 0, NULL);
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(doc, "containers"), i, c) {
        const char *cid = json_string_value(json_object_get(c, "id"));
        if (cid && !json_object_get(all, cid)) {
            json_object_set_new(c, "pid", json_incref(json_object_get(doc, "pid")));
            json_object_set(all, cid, c);
        }
    }
    json_decref(doc);
    return 0;
}

int zb_record_live_holds(json_t **all)
{
    *all = json_object();
    if (!*all)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    return each_record(".json", collect_live, *all);
}

json_t *zb_record_find(json_t *all, const char *id) { return id ? json_object_get(all, id) : NULL; }

typedef struct recover_walk {
    zb_record_fix_fn fix;
    void *payload;
    int failed;
    zb_error_saved first;
} recover_walk;

static void recover_one(recover_walk *w, const char *id, const char *path, json_t *doc)
{
    json_t *entries = json_object_get(doc, "containers");
    int rc = w->fix(id, entries ? entries : json_array(), w->payload);
    if (rc == 0 && unlink(path) < 0 && errno != ENOENT)
        rc = zb_error_errno(ZB_EIO, errno, "cannot remove %s", path);
    if (rc < 0 && !w->failed) {
        w->failed = 1;
        zb_error_save(&w->first);
    }
}

static int recover_visit(const char *id, const char *path, void *payload)
{
    if (!record_owner_dead(id))
        return 0;
    json_t *doc = json_load_file(path, 0, NULL);
    recover_one(payload, id, path, doc);
    json_decref(doc);
    return 0;
}

int zb_record_recover(zb_record_fix_fn fix, void *payload)
{
    int lock = -1;
    int rc = zb_record_lock(&lock);
    if (rc < 0)
        return rc;
    recover_walk w = {fix, payload, 0, {0, "", ""}};
    each_record(".json", recover_visit, &w);
    char legacy[PATH_MAX];
    json_t *doc =
        state_path(legacy, sizeof(legacy), LEGACY_RECORD_NAME, NULL) == 0 ? json_load_file(legacy, 0, NULL) : NULL;
    pid_t pid = (pid_t)json_integer_value(json_object_get(doc, "pid"));
    if (doc && (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH)))
        recover_one(&w, "", legacy, doc);
    json_decref(doc);
    zb_record_unlock(lock);
    return w.failed ? zb_error_raise(&w.first) : 0;
}

static int found_one(const char *id, const char *path, void *payload)
{
    (void)id, (void)path;
    *(int *)payload = 1;
    return 1;
}

int zb_record_any(void)
{
    int found = 0;
    each_record(".json", found_one, &found);
    char legacy[PATH_MAX];
    return found || (state_path(legacy, sizeof(legacy), LEGACY_RECORD_NAME, NULL) == 0 && access(legacy, F_OK) == 0);
}

static int forget_visit(const char *id, const char *path, void *payload)
{
    (void)payload;
    char json[PATH_MAX];
    if (state_path(json, sizeof(json), id, ".json") == 0 && access(json, F_OK) != 0 && run_dead(id))
        unlink(path);
    return 0;
}

void zb_record_forget_dead(void)
{
    int lock = -1;
    if (zb_record_lock(&lock) < 0)
        return;
    each_record(".lock", forget_visit, NULL);
    zb_record_unlock(lock);
}

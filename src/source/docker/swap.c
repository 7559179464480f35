#include "zakpos_backup/source/docker/swap.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/docker/agent.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/docker/quiesce.h"
#include "zakpos_backup/source/docker/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define RECORD_PREFIX "restore-"
#define RECORD_SUFFIX ".json"

/* Phases, in the order a replacement goes through them. Until "holding"
 * the target is untouched (a failure rolls back); from "holding" on, the
 * stage is complete and verified, so the replacement is finished. */
#define PHASE_STAGING "staging"
#define PHASE_HOLDING "holding"
#define PHASE_PLACING "placing"
#define PHASE_CLEANUP "cleanup"

struct zb_swap {
    zb_docker *d;
    char *target, *stage, *holding;
    char record_path[PATH_MAX];
    int api;
    int agent; /* entries are moved by the volume agent even where the folders are reachable */
    int stage_created;
    int past_staging;              /* the target may have changed: the record stays on failure */
    struct timespec root_times[2]; /* the stage root's, taken before entries leave it (which changes them) */
    int root_times_set;
};

/* ------------------------------------------------------------ the record */

static int write_record(const zb_swap *s, const char *phase)
{
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:b, s:b}", "pid", (int)getpid(), "target", s->target, "stage",
                            s->stage, "holding", s->holding, "phase", phase, "api", s->api, "agent", s->agent);
    if (doc && s->root_times_set)
        json_object_set_new(doc, "root_times",
                            json_pack("[I,I,I,I]", (json_int_t)s->root_times[0].tv_sec,
                                      (json_int_t)s->root_times[0].tv_nsec, (json_int_t)s->root_times[1].tv_sec,
                                      (json_int_t)s->root_times[1].tv_nsec));
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    int rc = text ? zb_fs_write_file_atomic(s->record_path, text, strlen(text), 0600)
                  : zb_error_set(ZB_ENOMEM, "out of memory");
    free(text);
    json_decref(doc);
    return rc;
}

static int record_path_for(char *out, size_t size, const char *target)
{
    zb_buf file = ZB_BUF_INIT;
    int rc = zb_buf_printf(&file, RECORD_PREFIX "%s" RECORD_SUFFIX, target);
    if (rc == 0)
        rc = zb_docker_state_path(out, size, file.data);
    zb_buf_free(&file);
    return rc;
}

/* Whether the run that wrote a record still runs (then its record is its own
 * business). */
static int owner_alive(json_t *record)
{
    long pid = (long)json_integer_value(json_object_get(record, "pid"));
    return pid > 0 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* ------------------------------------------------------ volumes, folders */

static int create_plain_volume(zb_docker *d, const char *name, const char *target)
{
    json_t *body = json_pack("{s:s, s:s, s:{s:s}}", "Name", name, "Driver", "local", "Labels", ZB_STAGE_LABEL, target);
    int rc = body ? zb_docker_json(d, "POST", "/volumes/create", body, NULL, NULL)
                  : zb_error_set(ZB_ENOMEM, "out of memory");
    json_decref(body);
    return rc < 0 ? zb_error_context("cannot create volume %s", name) : 0;
}

/* The folder of a volume if reachable from here (allocated), else NULL. */
static char *volume_folder(zb_docker *d, const char *name)
{
    char *folder = NULL;
    zb_volume_folder(d, name, &folder);
    return folder;
}

/* Moves every entry of one folder into another with rename(2): each entry is
 * wholly in one place or the other at every instant, so a move cut short is
 * finished by running it again. A folder is read again until a pass finds
 * nothing left, as entries renamed away during readdir may hide others. */
static int move_entries_direct(const char *from, const char *to, const char *phase)
{
    (void)phase; /* named only at a fault point, which the shipped build leaves out */
    int to_fd = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (to_fd < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot open %s", to);
    int rc = 0, moved = 1;
    while (rc == 0 && moved) {
        moved = 0;
        DIR *dir = opendir(from);
        if (!dir) {
            rc = zb_error_errno(ZB_EIO, errno, "cannot open %s", from);
            break;
        }
        struct dirent *e;
        while (rc == 0 && (e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (renameat(dirfd(dir), e->d_name, to_fd, e->d_name) < 0)
                rc = zb_error_errno(ZB_EIO, errno, "cannot move %s/%s to %s", from, e->d_name, to);
            moved = 1;
            ZB_FAULT_POINT("volume-swap-moved", phase); /* a signal with entries in both places */
        }
        closedir(dir);
    }
    if (rc == 0 && (fsync(to_fd) < 0 || zb_fs_fsync_dir(from) < 0))
        rc = rc == 0 ? zb_error_errno(ZB_EIO, errno, "cannot sync %s", to) : rc;
    close(to_fd);
    return rc;
}

/* The volume's own folder keeps its inode (a container mounts that folder),
 * so owner, mode, times, extended attributes and ACLs of the restored root
 * are copied onto it. */
static int copy_root_attributes(const char *from, const char *to, const struct timespec times[2])
{
    struct stat st;
    if (lstat(from, &st) < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot stat %s", from);
    char names[65536], value[65536];
    ssize_t n = llistxattr(to, names, sizeof(names));
    for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1)
        lremovexattr(to, names + i);
    n = llistxattr(from, names, sizeof(names));
    for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1) {
        ssize_t len = lgetxattr(from, names + i, value, sizeof(value));
        if (len >= 0 && lsetxattr(to, names + i, value, (size_t)len, 0) < 0)
            return zb_error_errno(ZB_EIO, errno, "cannot set %s on %s", names + i, to);
    }
    if (lchown(to, st.st_uid, st.st_gid) < 0 || chmod(to, st.st_mode & 07777) < 0 ||
        utimensat(AT_FDCWD, to, times, 0) < 0)
        return zb_error_errno(ZB_EIO, errno, "cannot set the owner, mode and times of %s", to);
    return 0;
}

/* The same through a busybox helper container, for volumes whose folders
 * this host cannot reach when the volume agent is not installed (or with
 * --volume-api): owners, modes and whole-second times only; entry by
 * entry, a copy that a cut leaves half done is made again from the start
 * before its original is removed. */
static int move_entries_api(zb_docker *d, const char *from, const char *to, int copy_root)
{
    static const char script[] =
        "/busybox touch -r /from /tmp-times 2>/dev/null; cd /from || exit 1\n"
        "for e in * .[!.]* ..?*; do\n"
        "  [ -e \"$e\" ] || [ -L \"$e\" ] || continue\n"
        "  /busybox rm -rf \"/to/$e\" && /busybox cp -a \"$e\" \"/to/$e\" && /busybox rm -rf \"$e\" || exit 1\n"
        "done\n";
    static const char root[] =
        "/busybox chown \"$(/busybox stat -c %u:%g /from)\" /to && "
        "/busybox chmod \"$(/busybox stat -c %a /from)\" /to && /busybox touch -r /tmp-times /to\n";
    zb_buf text = ZB_BUF_INIT, what = ZB_BUF_INIT;
    json_t *mounts = json_pack("{s:s, s:s}", from, "/from", to, "/to");
    int rc =
        mounts ? zb_buf_printf(&text, "%s%s", script, copy_root ? root : "") : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_buf_printf(&what, "moving the content of volume %s into volume %s", from, to);
    if (rc == 0)
        rc = zb_helper_run_script(d, mounts, text.data, what.data);
    json_decref(mounts);
    zb_buf_free(&text);
    zb_buf_free(&what);
    return rc;
}

/* Moves every entry of volume `from` into volume `to` (copy_root: the root's
 * owner, mode and times too). */
static int move_entries(zb_swap *s, const char *from, const char *to, int copy_root)
{
    zb_docker *d = s->d;
    int api = s->api;
    char *from_dir = api || s->agent ? NULL : volume_folder(d, from);
    char *to_dir = api || s->agent ? NULL : volume_folder(d, to);
    struct stat a, b;
    int rc;
    /* rename(2) needs one file system; else the helper copies */
    if (from_dir && to_dir && stat(from_dir, &a) == 0 && stat(to_dir, &b) == 0 && a.st_dev == b.st_dev) {
        rc = 0;
        if (copy_root && !s->root_times_set) { /* a first run: the stage root is as restored */
            s->root_times[0] = a.st_atim, s->root_times[1] = a.st_mtim;
            s->root_times_set = 1;
            rc = write_record(s, PHASE_PLACING);
        }
        if (rc == 0)
            rc = move_entries_direct(from_dir, to_dir, copy_root ? PHASE_PLACING : PHASE_HOLDING);
        if (rc == 0 && copy_root)
            rc = copy_root_attributes(from_dir, to_dir, s->root_times);
    } else if (!api && zb_agent_binary()) {
        /* every attribute, the root's included; the stage is dropped at
         * cleanup, so only the target's entries need removing */
        rc = zb_agent_copy(d, from, to, !copy_root);
    } else {
        rc = move_entries_api(d, from, to, copy_root);
    }
    free(from_dir);
    free(to_dir);
    return rc;
}

/* ------------------------------------------------------------ the phases */

/* From "holding" on: the stage is complete, so the replacement goes to its
 * end. Each step can be run again after a cut. */
static int run_phases(zb_swap *s, const char *phase)
{
    int rc = 0;
    if (strcmp(phase, PHASE_HOLDING) == 0) {
        json_t *info = NULL;
        if (zb_volume_inspect(s->d, s->holding, &info) == ZB_ENOTFOUND)
            rc = create_plain_volume(s->d, s->holding, s->target);
        json_decref(info);
        if (rc == 0)
            rc = move_entries(s, s->target, s->holding, 0);
        if (rc == 0 && (rc = write_record(s, PHASE_PLACING)) == 0)
            phase = PHASE_PLACING;
    }
    if (rc == 0 && strcmp(phase, PHASE_PLACING) == 0) {
        rc = move_entries(s, s->stage, s->target, 1);
        if (rc == 0 && (rc = write_record(s, PHASE_CLEANUP)) == 0)
            phase = PHASE_CLEANUP;
    }
    if (rc == 0 && strcmp(phase, PHASE_CLEANUP) == 0) {
        /* the previous content is dropped only now that the new one is in place */
        if ((rc = zb_volume_remove(s->d, s->stage)) == 0)
            rc = zb_volume_remove(s->d, s->holding);
        if (rc == 0 && unlink(s->record_path) < 0 && errno != ENOENT)
            rc = zb_error_errno(ZB_EIO, errno, "cannot remove %s", s->record_path);
    }
    return rc;
}

/* The free bytes of a stage's file system, or UINT64_MAX when unknown; the
 * test build may say how many (a full disk cannot be made on demand). */
static uint64_t free_bytes(const char *folder)
{
    const char *told = ZB_FAULT_VALUE("docker-stage-free-bytes");
    if (told)
        return strtoull(told, NULL, 10);
    struct statvfs fs;
    return statvfs(folder, &fs) == 0 ? (uint64_t)fs.f_bavail * fs.f_frsize : UINT64_MAX;
}

static int check_free_space(const zb_swap *s, uint64_t bytes_needed)
{
    char *folder = s->api ? NULL : volume_folder(s->d, s->stage);
    uint64_t available = folder ? free_bytes(folder) : UINT64_MAX;
    int rc = 0;
    if (!folder) {
        zb_log_detail("volume %s: the free space for the copy cannot be checked from here", s->target);
    } else if (available < bytes_needed) {
        rc = zb_error_set(ZB_EIO,
                          "not enough free space to copy the new content into volume %s: %llu bytes needed, %llu free; "
                          "nothing was changed",
                          s->target, (unsigned long long)bytes_needed, (unsigned long long)available);
        zb_error_hint(
            "free space on the Docker host's volume file system, or restore into a new volume (--volume NAME=NEWNAME)");
    }
    free(folder);
    return rc;
}

int zb_swap_begin(zb_swap **out, zb_docker *d, const char *target, int api, int agent)
{
    *out = NULL;
    zb_swap *s = calloc(1, sizeof(*s));
    char id[9];
    snprintf(id, sizeof(id), "%08x", randombytes_random());
    zb_buf stage = ZB_BUF_INIT, holding = ZB_BUF_INIT;
    int rc = s ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0 && (rc = zb_buf_printf(&stage, "%s.zb-new-%s", target, id)) == 0)
        rc = zb_buf_printf(&holding, "%s.zb-old-%s", target, id);
    if (rc == 0) {
        s->d = d;
        s->api = api;
        s->agent = agent;
        s->target = zb_strdup(target);
        s->stage = zb_buf_detach(&stage);
        s->holding = zb_buf_detach(&holding);
        if (!s->target || !s->stage || !s->holding)
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    }
    if (rc == 0)
        rc = record_path_for(s->record_path, sizeof(s->record_path), target);
    json_t *other = rc == 0 ? json_load_file(s->record_path, 0, NULL) : NULL;
    if (rc == 0 && other && owner_alive(other)) {
        rc = zb_error_set(ZB_ELOCKED,
                          "another run (pid %lld) is replacing the content of volume %s; nothing was changed",
                          (long long)json_integer_value(json_object_get(other, "pid")), target);
    } else if (rc == 0 && other) {
        rc = zb_swap_recover(d); /* a killed run's: its work is finished or undone first */
    }
    json_decref(other);
    if (rc == 0 && (rc = write_record(s, PHASE_STAGING)) == 0 && (rc = create_plain_volume(d, s->stage, target)) == 0)
        s->stage_created = 1;
    zb_buf_free(&stage);
    zb_buf_free(&holding);
    if (rc < 0) {
        zb_swap_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

const char *zb_swap_stage(const zb_swap *s) { return s->stage; }

/* Whether the swap copies entries (as move_entries decides) rather than
 * renaming them within one file system, which takes no space. */
static int swap_copies(zb_swap *s)
{
    if (s->api || s->agent)
        return 1;
    char *stage_dir = volume_folder(s->d, s->stage);
    char *target_dir = volume_folder(s->d, s->target);
    struct stat a, b;
    int copies =
        !stage_dir || !target_dir || stat(stage_dir, &a) < 0 || stat(target_dir, &b) < 0 || a.st_dev != b.st_dev;
    free(stage_dir);
    free(target_dir);
    return copies;
}

int zb_swap_finish(zb_swap *s, uint64_t new_bytes)
{
    /* the size of the new content is known only now (the manifest ends the
     * archive); a stage that did not fit failed while it was written, and
     * the target was not touched either way */
    zb_quiesce held;
    memset(&held, 0, sizeof(held));
    int rc = swap_copies(s) ? check_free_space(s, new_bytes) : 0;
    int holding = rc == 0;
    if (holding)
        rc = zb_quiesce_hold(&held, s->d, s->target, NULL, 1);
    /* nothing from here on looks at signals: a swap runs to its end (a
     * kill leaves the record, and the next command finishes it) */
    if (rc == 0 && (rc = write_record(s, PHASE_HOLDING)) == 0) {
        s->past_staging = 1;
        rc = run_phases(s, PHASE_HOLDING);
    }
    if (rc < 0 && s->past_staging) {
        zb_error_context("replacing the content of volume %s", s->target);
        zb_error_hint("the next zakpos-backup command finishes the replacement (record %s)", s->record_path);
    }
    zb_error_saved failure;
    zb_error_save(&failure);
    int released = holding ? zb_quiesce_release(&held, s->d) : 0;
    if (rc < 0)
        zb_error_raise(&failure);
    else
        rc = released;
    if (rc == 0 || s->past_staging)
        s->stage_created = 0; /* removed, or left to the record */
    return rc;
}

void zb_swap_free(zb_swap *s)
{
    if (!s)
        return;
    if (s->stage_created && !s->past_staging) {
        zb_error_saved failure;
        zb_error_save(&failure);
        if (zb_volume_remove(s->d, s->stage) < 0)
            zb_log_warn("the stage volume %s could not be removed: %s", s->stage, zb_error_message());
        else
            zb_log_detail("removed the stage volume %s; volume %s was not changed", s->stage, s->target);
        zb_error_raise(&failure);
    }
    if (!s->past_staging && s->record_path[0])
        unlink(s->record_path);
    free(s->target);
    free(s->stage);
    free(s->holding);
    free(s);
}

/* ------------------------------------------------------------- recovery */

static int recover_one(zb_docker *d, const char *path, json_t *record)
{
    zb_swap s;
    memset(&s, 0, sizeof(s));
    s.d = d;
    s.target = (char *)json_string_value(json_object_get(record, "target"));
    s.stage = (char *)json_string_value(json_object_get(record, "stage"));
    s.holding = (char *)json_string_value(json_object_get(record, "holding"));
    s.api = json_is_true(json_object_get(record, "api"));
    s.agent = json_is_true(json_object_get(record, "agent"));
    json_t *times = json_object_get(record, "root_times");
    if (json_array_size(times) == 4) {
        s.root_times[0].tv_sec = (time_t)json_integer_value(json_array_get(times, 0));
        s.root_times[0].tv_nsec = (long)json_integer_value(json_array_get(times, 1));
        s.root_times[1].tv_sec = (time_t)json_integer_value(json_array_get(times, 2));
        s.root_times[1].tv_nsec = (long)json_integer_value(json_array_get(times, 3));
        s.root_times_set = 1;
    }
    const char *phase = json_string_value(json_object_get(record, "phase"));
    if (!s.target || !s.stage || !s.holding || !phase)
        return zb_error_set(ZB_EFORMAT, "%s is not a valid restore record", path);
    snprintf(s.record_path, sizeof(s.record_path), "%s", path);
    if (strcmp(phase, PHASE_STAGING) == 0) {
        int rc = zb_volume_remove(d, s.stage);
        if (rc == 0 && unlink(path) < 0 && errno != ENOENT)
            rc = zb_error_errno(ZB_EIO, errno, "cannot remove %s", path);
        if (rc == 0)
            zb_log_warn(
                "a restore into volume %s was interrupted before it changed the volume: it is as it was; "
                "removed the partial copy %s",
                s.target, s.stage);
        return rc;
    }
    int rc = run_phases(&s, phase);
    if (rc == 0)
        zb_log_warn(
            "finished replacing the content of volume %s, which an interrupted restore had begun: it holds the "
            "archive's content; removed %s and %s",
            s.target, s.stage, s.holding);
    return rc;
}

int zb_swap_recover(zb_docker *given)
{
    char folder[PATH_MAX];
    if (zb_docker_state_path(folder, sizeof(folder), "") < 0)
        return zb_error_code();
    DIR *dir = opendir(folder);
    if (!dir)
        return 0;
    zb_docker *d = given;
    int rc = 0, swept = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, RECORD_PREFIX, strlen(RECORD_PREFIX)) != 0 || n < strlen(RECORD_SUFFIX) ||
            strcmp(e->d_name + n - strlen(RECORD_SUFFIX), RECORD_SUFFIX) != 0)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s%s", folder, e->d_name) >= (int)sizeof(path))
            continue;
        json_t *record = json_load_file(path, 0, NULL);
        if (record && !owner_alive(record)) {
            if (!d)
                rc = zb_docker_open(&d, NULL);
            /* the killed run's helper (its agent) may still hold the stage
             * or holding volume, which Docker would not remove */
            if (rc == 0 && !swept)
                swept = zb_helper_sweep(d) == 0;
            if (rc == 0)
                rc = recover_one(d, path, record);
        }
        json_decref(record);
    }
    closedir(dir);
    if (d != given)
        zb_docker_close(d);
    return rc;
}

#include "zakpos_backup/command/recover_parts.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/place.h"
#include "zakpos_backup/source/docker/volume.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int start_new(zb_recover_journal *j, const char *archive_name)
{
    j->doc = json_pack("{s:s, s:{}, s:[], s:[]}", "archive", archive_name, "parts", "containers", "roles_created");
    return j->doc ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

int zb_recover_journal_open(zb_recover_journal *j, const char *archive_name, int *resumed)
{
    memset(j, 0, sizeof(*j));
    *resumed = 0;
    zb_buf path = ZB_BUF_INIT;
    int rc = zb_buf_printf(&path, "%s/%s", zb_place_state_dir(), ZB_RECOVER_JOURNAL_NAME);
    if (rc < 0)
        return rc;
    j->path = zb_buf_detach(&path);
    json_error_t jerr;
    j->doc = json_load_file(j->path, 0, &jerr);
    if (!j->doc) {
        if (access(j->path, F_OK) == 0)
            return zb_error_set(ZB_EIO, "cannot read the unfinished recovery's journal %s: %s", j->path, jerr.text);
        return start_new(j, archive_name);
    }
    const char *recorded = json_string_value(json_object_get(j->doc, "archive"));
    if (!recorded || !json_is_object(json_object_get(j->doc, "parts")) ||
        !json_is_array(json_object_get(j->doc, "containers")))
        return zb_error_set(ZB_EIO, "the recovery journal %s is not one this version wrote", j->path);
    if (strcmp(recorded, archive_name) != 0) {
        zb_error_set(ZB_EEXIST, "an unfinished recovery from %s is recorded in %s; this one is from %s", recorded,
                     j->path, archive_name);
        return zb_error_hint("finish it with 'zakpos-backup recover' of %s, or remove %s to start over", recorded,
                             j->path);
    }
    if (!json_is_array(json_object_get(j->doc, "roles_created")))
        json_object_set_new(j->doc, "roles_created", json_array());
    *resumed = 1;
    zb_log_info("finishing the unfinished recovery from %s recorded in %s", recorded, j->path);
    return 0;
}

int zb_recover_journal_save(zb_recover_journal *j)
{
    int rc = zb_fs_mkdir_p(zb_place_state_dir(), 0700);
    if (rc == 0)
        rc = zb_json_write_file(j->path, j->doc, JSON_INDENT(1) | JSON_SORT_KEYS, 0600);
    if (rc < 0)
        zb_error_context("cannot write the recovery journal");
    return rc;
}

static int part_key(zb_buf *key, const char *kind, const char *name) { return zb_buf_printf(key, "%s/%s", kind, name); }

const char *zb_recover_journal_part(const zb_recover_journal *j, const char *kind, const char *name)
{
    zb_buf key = ZB_BUF_INIT;
    const char *state = part_key(&key, kind, name) == 0
                            ? json_string_value(json_object_get(json_object_get(j->doc, "parts"), key.data))
                            : NULL;
    zb_buf_free(&key);
    return state;
}

int zb_recover_journal_set_part(zb_recover_journal *j, const char *kind, const char *name, const char *state)
{
    zb_buf key = ZB_BUF_INIT;
    int rc = part_key(&key, kind, name);
    if (rc == 0 && json_object_set_new(json_object_get(j->doc, "parts"), key.data, json_string(state)) != 0)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    zb_buf_free(&key);
    return rc == 0 ? zb_recover_journal_save(j) : rc;
}

int zb_recover_journal_finish(zb_recover_journal *j)
{
    if (unlink(j->path) < 0 && errno != ENOENT)
        return zb_error_errno(ZB_EIO, errno, "cannot remove the recovery journal %s", j->path);
    return 0;
}

void zb_recover_journal_free(zb_recover_journal *j)
{
    if (!j)
        return;
    free(j->path);
    json_decref(j->doc);
    memset(j, 0, sizeof(*j));
}

#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/source/path/check.h"
#include "zakpos_backup/source/path/path.h"
#include "zakpos_backup/source/source.h"

#include <stdlib.h>

/* Host paths behind the source interface (source/source.h). */

static int selected(const zb_source_selection *sel) { return sel->path_count > 0; }

static int backup(zb_archive_writer *w, const zb_source_selection *sel)
{
    for (size_t i = 0; i < sel->path_count; i++) {
        char *name = NULL, *dir = NULL;
        int rc = zb_path_parse_spec(&name, &dir, sel->paths[i]);
        if (rc == 0) {
            zb_log_detail("backing up path %s (%s)", name, dir);
            rc = zb_path_backup(w, name, dir);
        }
        free(name);
        free(dir);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int restore_begin(void **state, const char *name, const char *target, const zb_source_restore_options *opts)
{
    zb_path_restore *p = NULL;
    int rc = zb_path_restore_begin(&p, name, target, opts->force);
    *state = p;
    return rc;
}

ZB_SOURCE_RESTORE_WRAPPERS(zb_path_restore, zb_path_restore)

static int scratch_target(zb_source_scratch *s, const char *name, char **target, zb_source_restore_options *opts)
{
    zb_buf b = ZB_BUF_INIT;
    int rc = zb_source_scratch_folder(s);
    if (rc == 0)
        rc = zb_buf_printf(&b, "%s/%s", s->folder, name);
    if (rc == 0)
        *target = zb_buf_detach(&b);
    zb_buf_free(&b);
    opts->force = 0;
    return rc;
}

static int add_folder(zb_tree_check *c, const char *target, void *payload)
{
    (void)payload;
    return zb_tree_check_add_folder(c, target);
}

static int verify(zb_source_scratch *s, void *restore_state, zb_archive_reader *r, const char *name, const char *target,
                  size_t limit, zb_source_check *out)
{
    (void)s, (void)restore_state;
    return zb_tree_check_source(r, ZB_SOURCE_PATH, name, NULL, target, add_folder, NULL, limit, out);
}

static int scratch_remove(zb_source_scratch *s, const char *target)
{
    (void)s;
    return zb_fs_remove_tree(target);
}

const zb_source_ops zb_source_path = {
    .kind = ZB_SOURCE_PATH,
    .reading = "reading folders",
    .selected = selected,
    .backup = backup,
    .restore_begin = restore_begin,
    .restore_entry = zb_path_restore_entry_op,
    .restore_finish = zb_path_restore_finish_op,
    .restore_target = zb_path_restore_target_op,
    .restore_free = zb_path_restore_free_op,
    .scratch_target = scratch_target,
    .verify = verify,
    .scratch_remove = scratch_remove,
};

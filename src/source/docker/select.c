#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"

#include <stdlib.h>
#include <string.h>

static int add_name(char ***names, size_t *count, const char *name)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp((*names)[i], name) == 0)
            return 0;
    char **grown = realloc(*names, (*count + 1) * sizeof(char *));
    if (!grown)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    *names = grown;
    if (!(grown[*count] = zb_strdup(name)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    (*count)++;
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int volumes_with_label(char ***names, size_t *count, zb_docker *d, const char *label, int pg_named)
{
    json_t *answer = NULL;
    int rc = zb_docker_list_filtered(d, "/volumes?filters=", "label", label, &answer);
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(answer, "Volumes"), i, v) {
        const char *name = json_string_value(json_object_get(v, "Name"));
        if (rc < 0 || !name)
            continue;
        if (strcmp(name, ZB_DEFAULT_PG_VOLUME) == 0 && !pg_named) {
            zb_log_info(
                "leaving out volume %s (PostgreSQL's data files): the database snapshot (--pg) covers it; "
                "name it with --volume to copy its files too",
                name);
            continue;
        }
        rc = add_name(names, count, name);
    }
    json_decref(answer);
    return rc;
}

int zb_volume_select(char ***names, size_t *count, zb_docker *d, const char *const *names_given,
                     const char *const *labels, const char *const *projects)
{
    *names = NULL;
    *count = 0;
    int rc = 0, pg_named = 0;
    for (const char *const *n = names_given; rc == 0 && n && *n; n++) {
        json_t *info = NULL;
        pg_named |= strcmp(*n, ZB_DEFAULT_PG_VOLUME) == 0;
        if ((rc = zb_volume_inspect(d, *n, &info)) == 0)
            rc = add_name(names, count, *n);
        json_decref(info);
    }
    for (const char *const *l = labels; rc == 0 && l && *l; l++)
        rc = volumes_with_label(names, count, d, *l, pg_named);
    for (const char *const *p = projects; rc == 0 && p && *p; p++) {
        zb_buf label = ZB_BUF_INIT;
        rc = zb_buf_printf(&label, "com.docker.compose.project=%s", *p);
        if (rc == 0)
            rc = volumes_with_label(names, count, d, label.data, pg_named);
        zb_buf_free(&label);
    }
    if (rc < 0) {
        zb_volume_names_free(*names, *count);
        *names = NULL;
        *count = 0;
        return rc;
    }
    if (*count > 1) /* qsort with a NULL base is undefined even for no elements */
        qsort(*names, *count, sizeof(char *), by_name);
    return 0;
}

void zb_volume_names_free(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

#include "zakpos_backup/source/source.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const zb_source_ops *const zb_source_kinds[] = {&zb_source_volume, &zb_source_pg, &zb_source_path, NULL};

const zb_source_ops *zb_source_find(const char *kind)
{
    for (const zb_source_ops *const *k = zb_source_kinds; kind && *k; k++)
        if (strcmp((*k)->kind, kind) == 0)
            return *k;
    return NULL;
}

int zb_source_scratch_docker(zb_source_scratch *s)
{
    return s->docker ? 0 : zb_docker_open(&s->docker, s->docker_host);
}

int zb_source_scratch_folder(zb_source_scratch *s)
{
    if (s->folder)
        return 0;
    const char *parent = s->scratch_dir ? s->scratch_dir : getenv("TMPDIR");
    zb_buf b = ZB_BUF_INIT;
    int rc = zb_buf_printf(&b, "%s/zakpos-backup-verify-%s", parent && *parent ? parent : "/tmp", s->id);
    if (rc == 0 && mkdir(b.data, 0700) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot make the scratch folder %s", b.data);
    if (rc == 0)
        s->folder = zb_buf_detach(&b);
    zb_buf_free(&b);
    return rc;
}

void zb_source_scratch_free(zb_source_scratch *s)
{
    if (!s)
        return;
    zb_docker_close(s->docker);
    free(s->folder);
    s->docker = NULL;
    s->folder = NULL;
}

static int push(char ***list, size_t *count, const char *text)
{
    char *copy = zb_strdup(text);
    char **grown = copy ? realloc(*list, (*count + 1) * sizeof(*grown)) : NULL;
    if (!grown) {
        free(copy);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    grown[(*count)++] = copy;
    *list = grown;
    return 0;
}

int zb_source_check_add_difference(zb_source_check *c, const char *text)
{
    return push(&c->differences, &c->kept, text);
}

int zb_source_check_add_not_verified(zb_source_check *c, const char *text)
{
    return push(&c->not_verified, &c->not_verified_count, text);
}

int zb_source_check_take_differences(zb_source_check *c, json_t *differences, size_t count)
{
    size_t i;
    json_t *d;
    c->count = count;
    json_array_foreach (differences, i, d) {
        int rc = zb_source_check_add_difference(c, json_string_value(d));
        if (rc < 0)
            return rc;
    }
    return 0;
}

void zb_source_check_free(zb_source_check *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->kept; i++)
        free(c->differences[i]);
    for (size_t i = 0; i < c->not_verified_count; i++)
        free(c->not_verified[i]);
    free(c->differences);
    free(c->not_verified);
    memset(c, 0, sizeof(*c));
}

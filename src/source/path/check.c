#include "zakpos_backup/source/path/check.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/source/path/fine.h"
#include "zakpos_backup/source/source.h"
#include "zakpos_backup/stream/hash.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What is compared of each entry, as the manifest names the fields. The
 * name itself is the key; a hard link is compared as "same file as". */
enum { F_TYPE, F_SIZE, F_HASH, F_MODE, F_UID, F_GID, F_MTIME, F_LINK, FIELD_COUNT };
static const char *const field_names[FIELD_COUNT] = {"type", "size", "hash", "mode", "uid", "gid", "mtime", "link"};

/* A restored entry reduced to digests: enough to tell equal from different
 * and to say which field differs, small enough for millions of entries. The
 * name itself waits in a temporary file, read back only to report it. */
typedef struct entry_rec {
    uint64_t path;
    uint64_t file_id; /* same value for names of one file; 0: unknown */
    uint64_t name_at; /* offset of the name in the names file */
    uint32_t field[FIELD_COUNT];
    zb_fine_attrs fine; /* compared where the restore recorded the archive's */
    unsigned char used, seen;
} entry_rec;

struct zb_tree_check {
    entry_rec *slots; /* open addressing on the path digest */
    size_t capacity, count;
    FILE *names;
    const zb_tree_fine *fine; /* NULL: the read-back cannot carry them */
    uint64_t next_file_id;
    unsigned char key[crypto_shorthash_KEYBYTES]; /* zero: digests need not be secret, only stable */
};

#define INITIAL_CAPACITY 1024

int zb_tree_check_new(zb_tree_check **out)
{
    zb_tree_check *c = calloc(1, sizeof(*c));
    if (c) {
        c->capacity = INITIAL_CAPACITY;
        c->slots = calloc(c->capacity, sizeof(*c->slots));
        c->names = tmpfile();
        c->next_file_id = 1;
    }
    if (!c || !c->slots || !c->names) {
        zb_tree_check_free(c);
        return zb_error_set(ZB_ENOMEM, "cannot set up the comparison of restored entries");
    }
    *out = c;
    return 0;
}

void zb_tree_check_free(zb_tree_check *c)
{
    if (!c)
        return;
    if (c->names)
        fclose(c->names);
    free(c->slots);
    free(c);
}

size_t zb_tree_check_count(const zb_tree_check *c) { return c->count; }

void zb_tree_check_set_fine(zb_tree_check *c, const zb_tree_fine *fine) { c->fine = fine; }

static uint64_t digest_bytes(const zb_tree_check *c, const void *data, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t d;
    crypto_shorthash(out, data, len, c->key);
    memcpy(&d, out, sizeof(d));
    return d;
}

/* A manifest name field ("path" or "link") as raw bytes: names that are not
 * UTF-8 are stored as "<key>_hex". *out is allocated. */
static int raw_name(char **out, size_t *len, json_t *entry, const char *key)
{
    json_t *text = json_object_get(entry, key);
    *out = NULL, *len = 0;
    if (text) {
        *len = json_string_length(text);
        *out = malloc(*len + 1);
        if (*out)
            memcpy(*out, json_string_value(text), *len + 1);
        return *out ? 1 : zb_error_set(ZB_ENOMEM, "out of memory");
    }
    char hex_key[32];
    snprintf(hex_key, sizeof(hex_key), "%s_hex", key);
    const char *hex = json_string_value(json_object_get(entry, hex_key));
    if (!hex)
        return 0;
    size_t max = strlen(hex) / 2;
    if (!(*out = malloc(max + 1)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    if (sodium_hex2bin((unsigned char *)*out, max, hex, strlen(hex), NULL, len, NULL) != 0)
        *len = 0;
    (*out)[*len] = '\0';
    return 1;
}

static uint32_t field_digest(const zb_tree_check *c, json_t *entry, int field)
{
    const char *key = field_names[field];
    json_t *v = json_object_get(entry, key);
    char text[32];
    if (v && json_is_integer(v)) {
        int n = snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
        return (uint32_t)digest_bytes(c, text, (size_t)n) | 1u;
    }
    char *raw;
    size_t len;
    if (raw_name(&raw, &len, entry, key) <= 0)
        return 0; /* absent (or no memory: then it shows as a difference) */
    uint32_t d = (uint32_t)digest_bytes(c, raw, len) | 1u;
    free(raw);
    return d;
}

static entry_rec *find_slot(zb_tree_check *c, uint64_t path)
{
    size_t i = (size_t)(path % c->capacity);
    while (c->slots[i].used && c->slots[i].path != path)
        i = (i + 1) % c->capacity;
    return &c->slots[i];
}

static int grow(zb_tree_check *c)
{
    entry_rec *old = c->slots;
    size_t old_capacity = c->capacity;
    entry_rec *slots = calloc(old_capacity * 2, sizeof(*slots));
    if (!slots)
        return zb_error_set(ZB_ENOMEM, "out of memory comparing restored entries");
    c->slots = slots;
    c->capacity = old_capacity * 2;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].used)
            *find_slot(c, old[i].path) = old[i];
    free(old);
    return 0;
}

static const entry_rec *lookup(zb_tree_check *c, const char *name, size_t len)
{
    entry_rec *slot = find_slot(c, digest_bytes(c, name, len));
    return slot->used ? slot : NULL;
}

/* Content hash of a regular file, gaps of a sparse file counted as zeros. */
static int hash_data(struct archive *in, struct archive_entry *e, const char *relative, uint64_t *size,
                     char hex[ZB_HASH_HEX_BYTES])
{
    zb_hash h;
    zb_hash_init(&h);
    const void *buf;
    size_t len;
    la_int64_t offset;
    int64_t pos = 0;
    int ar, rc = 0;
    while ((ar = archive_read_data_block(in, &buf, &len, &offset)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
        if (offset > pos)
            zb_hash_update_zeros(&h, (uint64_t)(offset - pos));
        zb_hash_update(&h, buf, len);
        pos = offset + (la_int64_t)len;
        if ((rc = zb_check_interrupt()) < 0)
            break;
    }
    if (rc == 0 && ar != ARCHIVE_EOF)
        rc = zb_error_set(ZB_EIO, "cannot read the restored %s: %s", relative, archive_error_string(in));
    if (rc < 0) {
        zb_hash_free(&h);
        return rc;
    }
    if (pos < archive_entry_size(e)) {
        zb_hash_update_zeros(&h, (uint64_t)(archive_entry_size(e) - pos));
        pos = archive_entry_size(e);
    }
    *size = (uint64_t)pos;
    zb_hash_final_hex(&h, hex);
    return 0;
}

int zb_tree_check_add(zb_tree_check *c, struct archive *in, struct archive_entry *e, const char *relative,
                      const char *hardlink_relative)
{
    if (archive_entry_filetype(e) == AE_IFSOCK)
        return 0; /* never backed up: a socket has no content */
    if ((c->count + 1) * 4 > c->capacity * 3) {
        int rc = grow(c);
        if (rc < 0)
            return rc;
    }
    size_t len = strlen(relative);
    entry_rec rec;
    memset(&rec, 0, sizeof(rec));
    rec.path = digest_bytes(c, relative, len);
    long at = ftell(c->names);
    if (at < 0 || fwrite(relative, 1, len + 1, c->names) != len + 1)
        return zb_error_errno(ZB_EIO, errno, "cannot write a temporary file");
    rec.name_at = (uint64_t)at;
    rec.used = 1;
    const entry_rec *target = hardlink_relative ? lookup(c, hardlink_relative, strlen(hardlink_relative)) : NULL;
    if (target) {
        /* one file under two names: same content and metadata as the first */
        memcpy(rec.field, target->field, sizeof(rec.field));
        rec.fine = target->fine;
        rec.file_id = target->file_id;
    } else {
        char hex[ZB_HASH_HEX_BYTES];
        uint64_t size = 0;
        int is_data = archive_entry_filetype(e) == AE_IFREG && !hardlink_relative;
        if (is_data) {
            int rc = hash_data(in, e, relative, &size, hex);
            if (rc < 0)
                return rc;
        }
        zb_fine_attrs_of(e, &rec.fine);
        json_t *m = zb_manifest_entry_new(e, relative, NULL, size, is_data ? hex : NULL);
        if (!m)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        for (int f = 0; f < FIELD_COUNT; f++)
            rec.field[f] = field_digest(c, m, f);
        json_decref(m);
        rec.file_id = archive_entry_ino_is_set(e) ? archive_entry_ino64(e) ^ ((uint64_t)archive_entry_dev(e) << 40)
                                                  : c->next_file_id++;
        if (rec.file_id == 0)
            rec.file_id = c->next_file_id++;
    }
    entry_rec *slot = find_slot(c, rec.path);
    if (!slot->used)
        c->count++;
    *slot = rec;
    return 0;
}

typedef struct compare_run {
    zb_tree_check *check;
    const char *prefix;
    json_t *differences;
    size_t limit, count;
} compare_run;

static void add_difference(compare_run *run, const char *name, const char *what)
{
    if (run->count++ < run->limit) {
        zb_buf b = ZB_BUF_INIT;
        if (zb_buf_printf(&b, "%s: %s", name, what) == 0)
            json_array_append_new(run->differences, json_string(b.data));
        zb_buf_free(&b);
    }
}

/* A manifest name made relative to the restored tree: prefix itself is
 * ".", names below it lose "prefix/"; 0 for names outside it. */
static int strip_prefix(const char *prefix, char *name, size_t *len)
{
    if (!prefix)
        return 1;
    size_t n = strlen(prefix);
    if (*len == n && memcmp(name, prefix, n) == 0) {
        memcpy(name, ".", 2);
        *len = 1;
        return 1;
    }
    if (*len > n && memcmp(name, prefix, n) == 0 && name[n] == '/') {
        memmove(name, name + n + 1, *len - n);
        *len -= n + 1;
        return 1;
    }
    return 0;
}

static void compare_fields(compare_run *run, const char *name, size_t len, json_t *want, const entry_rec *got)
{
    zb_buf which = ZB_BUF_INIT;
    zb_fine_attrs fine;
    for (int f = 0; f < FIELD_COUNT; f++)
        if (field_digest(run->check, want, f) != got->field[f])
            zb_buf_printf(&which, "%s%s", which.len ? ", " : "", field_names[f]);
    if (run->check->fine && zb_tree_fine_find(run->check->fine, name, len, &fine)) {
        if (fine.mtime_nsec != got->fine.mtime_nsec)
            zb_buf_printf(&which, "%smtime nanoseconds", which.len ? ", " : "");
        if (fine.xattrs != got->fine.xattrs)
            zb_buf_printf(&which, "%sxattrs", which.len ? ", " : "");
    }
    if (which.len) {
        zb_buf msg = ZB_BUF_INIT;
        zb_buf_printf(&msg, "%s %s from the backup", which.data, strchr(which.data, ',') ? "differ" : "differs");
        add_difference(run, name, msg.data ? msg.data : "differs");
        zb_buf_free(&msg);
    }
    zb_buf_free(&which);
}

static int compare_one(json_t *want, void *payload)
{
    compare_run *run = payload;
    char *name = NULL, *link = NULL;
    size_t len, link_len;
    int rc = raw_name(&name, &len, want, "path");
    if (rc <= 0 || !strip_prefix(run->prefix, name, &len)) {
        free(name);
        return rc < 0 ? rc : 0;
    }
    entry_rec *got = find_slot(run->check, digest_bytes(run->check, name, len));
    const char *type = json_string_value(json_object_get(want, "type"));
    if (!got->used) {
        add_difference(run, name, "missing from the restored data");
    } else if (type && strcmp(type, "hardlink") == 0) {
        got->seen = 1;
        const entry_rec *first = NULL;
        if ((rc = raw_name(&link, &link_len, want, "link")) > 0 && strip_prefix(run->prefix, link, &link_len))
            first = lookup(run->check, link, link_len);
        if (rc >= 0 && (!first || first->file_id != got->file_id)) {
            zb_buf msg = ZB_BUF_INIT;
            zb_buf_printf(&msg, "no longer the same file as %s (a hard link in the backup)", link ? link : "?");
            add_difference(run, name, msg.data ? msg.data : "hard link lost");
            zb_buf_free(&msg);
        }
    } else {
        got->seen = 1;
        compare_fields(run, name, len, want, got);
    }
    free(name);
    free(link);
    return rc < 0 ? rc : zb_check_interrupt();
}

/* Restored entries the backup did not have. */
static int report_extra(compare_run *run)
{
    zb_tree_check *c = run->check;
    char name[PATH_MAX + 1];
    for (size_t i = 0; i < c->capacity; i++) {
        if (!c->slots[i].used || c->slots[i].seen)
            continue;
        size_t n = 0;
        if (fseek(c->names, (long)c->slots[i].name_at, SEEK_SET) != 0)
            return zb_error_errno(ZB_EIO, errno, "cannot read a temporary file");
        int ch;
        while (n < PATH_MAX && (ch = fgetc(c->names)) != EOF && ch != '\0')
            name[n++] = (char)ch;
        name[n] = '\0';
        add_difference(run, name, "restored but not in the backup");
    }
    return fseek(c->names, 0, SEEK_END) == 0 ? 0 : zb_error_errno(ZB_EIO, errno, "cannot write a temporary file");
}

int zb_tree_check_compare(zb_tree_check *c, zb_archive_reader *r, const char *kind, const char *name,
                          const char *prefix, json_t *differences, size_t limit, size_t *count)
{
    compare_run run = {c, prefix, differences, limit, 0};
    for (size_t i = 0; i < c->capacity; i++)
        c->slots[i].seen = 0;
    int rc = zb_archive_reader_each_entry(r, kind, name, compare_one, &run);
    if (rc == 0)
        rc = report_extra(&run);
    *count = run.count;
    return rc;
}

/* The name below root ("." for root itself). */
static const char *below(const char *full, const char *root, size_t root_len)
{
    if (strncmp(full, root, root_len) != 0)
        return NULL;
    const char *rest = full + root_len;
    while (*rest == '/')
        rest++;
    return *rest ? rest : ".";
}

int zb_tree_check_add_folder(zb_tree_check *c, const char *dir)
{
    char root[PATH_MAX];
    if (!realpath(dir, root))
        return zb_error_errno(ZB_EIO, errno, "cannot resolve %s", dir);
    struct archive *disk = archive_read_disk_new();
    struct archive_entry *e = archive_entry_new();
    int rc = disk && e ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0) {
        archive_read_disk_set_standard_lookup(disk);
        archive_read_disk_set_behavior(disk, 0);
        if (archive_read_disk_open(disk, root) != ARCHIVE_OK)
            rc = zb_error_set(ZB_EIO, "cannot open %s: %s", root, archive_error_string(disk));
    }
    size_t root_len = strlen(root);
    while (rc == 0) {
        archive_entry_clear(e);
        int ar = archive_read_next_header2(disk, e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
            rc = zb_error_set(ZB_EIO, "cannot read %s: %s", root, archive_error_string(disk));
            break;
        }
        archive_read_disk_descend(disk);
        const char *relative = below(archive_entry_pathname(e), root, root_len);
        rc = relative ? zb_tree_check_add(c, disk, e, relative, NULL)
                      : zb_error_set(ZB_EFAIL, "%s is not below %s", archive_entry_pathname(e), root);
    }
    archive_entry_free(e);
    if (disk)
        archive_read_free(disk);
    return rc;
}

int zb_tree_check_source(zb_archive_reader *r, const char *kind, const char *name, const char *prefix,
                         const char *target, zb_tree_fill_fn fill, void *payload, size_t limit, zb_source_check *out)
{
    zb_tree_check *check = NULL;
    json_t *differences = json_array();
    size_t count = 0;
    ZB_FAULT_POINT("before-read-back", target);
    int rc = differences ? zb_tree_check_new(&check) : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = fill(check, target, payload);
    if (rc == 0)
        rc = zb_tree_check_compare(check, r, kind, name, prefix, differences, limit, &count);
    if (rc == 0) {
        out->amount = (long long)zb_tree_check_count(check);
        out->has_amount = 1;
    }
    int taken = zb_source_check_take_differences(out, differences, count);
    rc = rc < 0 ? rc : taken;
    json_decref(differences);
    zb_tree_check_free(check);
    return rc;
}

#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/error.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
    const char *kind;
    const char *prefix;
} kinds[] = {
    {ZB_SOURCE_PG, "pg"},
    {ZB_SOURCE_VOLUME, "volumes"},
    {ZB_SOURCE_PATH, "paths"},
};

const char *zb_manifest_kind_prefix(const char *kind)
{
    for (size_t i = 0; i < ZB_ARRAY_LEN(kinds); i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            return kinds[i].prefix;
    return NULL;
}

const char *zb_manifest_prefix_kind(const char *prefix, size_t len)
{
    for (size_t i = 0; i < ZB_ARRAY_LEN(kinds); i++)
        if (strlen(kinds[i].prefix) == len && memcmp(kinds[i].prefix, prefix, len) == 0)
            return kinds[i].kind;
    return NULL;
}

int zb_manifest_check_source_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return zb_error_set(ZB_EUSAGE, "'%s' is not a valid source name", name);
    for (const char *p = name; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._@+=-", c);
        if (!ok)
            return zb_error_set(ZB_EUSAGE, "source name '%s' has the character '%c'; use letters, digits and ._@+=-",
                                name, c);
    }
    return 0;
}

int zb_manifest_check_relative(const char *relative, const char *what)
{
    if (strcmp(relative, ".") == 0)
        return 0;
    if (relative[0] == '\0')
        return zb_error_set(ZB_EUNSAFE, "%s: empty entry name", what);
    if (relative[0] == '/')
        return zb_error_set(ZB_EUNSAFE, "%s: absolute entry name '%s'", what, relative);
    const char *p = relative;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if ((n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.'))
            return zb_error_set(ZB_EUNSAFE, "%s: entry name '%s' has a '%.*s' component", what, relative, (int)n, p);
        if (n == 0 && slash && slash[1] != '\0')
            return zb_error_set(ZB_EUNSAFE, "%s: entry name '%s' has an empty component", what, relative);
        if (!slash)
            break;
        p = slash + 1;
    }
    return 0;
}

const char *zb_manifest_type_name(mode_t filetype)
{
    switch (filetype) {
    case AE_IFREG: return "file";
    case AE_IFDIR: return "dir";
    case AE_IFLNK: return "symlink";
    case AE_IFCHR: return "char";
    case AE_IFBLK: return "block";
    case AE_IFIFO: return "fifo";
    case AE_IFSOCK: return "socket";
    default: return "unknown";
    }
}

/* JSON strings are UTF-8, file names are any bytes: a name that is not valid
 * UTF-8 is stored as "<key>_hex" instead of "<key>". */
static void set_name(json_t *o, const char *key, const char *name)
{
    json_t *text = json_string(name);
    if (text) {
        json_object_set_new(o, key, text);
        return;
    }
    size_t n = strlen(name);
    char *hex = malloc(n * 2 + 1);
    char hex_key[32];
    if (!hex)
        return;
    sodium_bin2hex(hex, n * 2 + 1, (const unsigned char *)name, n);
    snprintf(hex_key, sizeof(hex_key), "%s_hex", key);
    json_object_set_new(o, hex_key, json_string(hex));
    free(hex);
}

json_t *zb_manifest_entry_new(struct archive_entry *entry, const char *relative, const char *hardlink_relative,
                              uint64_t content_bytes, const char *hash_hex)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    const char *type = hardlink_relative ? "hardlink" : zb_manifest_type_name(archive_entry_filetype(entry));
    set_name(o, "path", relative);
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "size", json_integer((json_int_t)content_bytes));
    json_object_set_new(o, "mode", json_integer(archive_entry_perm(entry)));
    json_object_set_new(o, "uid", json_integer(archive_entry_uid(entry)));
    json_object_set_new(o, "gid", json_integer(archive_entry_gid(entry)));
    json_object_set_new(o, "mtime", json_integer(archive_entry_mtime(entry)));
    if (hardlink_relative)
        set_name(o, "link", hardlink_relative);
    else if (archive_entry_filetype(entry) == AE_IFLNK && archive_entry_symlink(entry))
        set_name(o, "link", archive_entry_symlink(entry));
    if (hash_hex)
        json_object_set_new(o, "hash", json_string(hash_hex));
    return o;
}

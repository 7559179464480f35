#include "zakpos_backup/source/docker/acl.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ACL_ACCESS       "system.posix_acl_access"
#define ACL_DEFAULT      "system.posix_acl_default"
#define ACL_VERSION      2
#define ACL_MAX_ITEMS    512
#define ACL_UNDEFINED_ID 0xFFFFFFFFu

/* The kernel's form: a version, then entries of tag, permissions and id,
 * sorted by tag then id; little-endian, as on the hosts Docker runs on. */
typedef struct acl_item {
    uint16_t tag, perm;
    uint32_t id;
} acl_item;

static const struct {
    uint16_t kernel;
    int archive;
} tags[] = {
    {0x01, ARCHIVE_ENTRY_ACL_USER_OBJ}, {0x02, ARCHIVE_ENTRY_ACL_USER}, {0x04, ARCHIVE_ENTRY_ACL_GROUP_OBJ},
    {0x08, ARCHIVE_ENTRY_ACL_GROUP},    {0x10, ARCHIVE_ENTRY_ACL_MASK}, {0x20, ARCHIVE_ENTRY_ACL_OTHER},
};

static int compare_items(const void *a, const void *b)
{
    const acl_item *x = a, *y = b;
    return x->tag != y->tag ? (x->tag < y->tag ? -1 : 1) : x->id < y->id ? -1 : x->id > y->id;
}

static int add_from_xattr(struct archive_entry *e, int type, const unsigned char *value, size_t len)
{
    uint32_t version;
    if (len < 4 || (len - 4) % 8 != 0)
        return zb_error_set(ZB_EFORMAT, "%s: an ACL xattr of %zu bytes is malformed", archive_entry_pathname(e), len);
    memcpy(&version, value, 4);
    if (version != ACL_VERSION)
        return zb_error_set(ZB_EFORMAT, "%s: ACL xattr version %u is not known", archive_entry_pathname(e), version);
    for (size_t at = 4; at < len; at += 8) {
        acl_item item;
        memcpy(&item.tag, value + at, 2);
        memcpy(&item.perm, value + at + 2, 2);
        memcpy(&item.id, value + at + 4, 4);
        int tag = 0;
        for (size_t i = 0; i < ZB_ARRAY_LEN(tags); i++)
            if (tags[i].kernel == item.tag)
                tag = tags[i].archive;
        if (!tag)
            return zb_error_set(ZB_EFORMAT, "%s: ACL tag %u is not known", archive_entry_pathname(e), item.tag);
        int perm = ((item.perm & 4) ? ARCHIVE_ENTRY_ACL_READ : 0) | ((item.perm & 2) ? ARCHIVE_ENTRY_ACL_WRITE : 0) |
                   ((item.perm & 1) ? ARCHIVE_ENTRY_ACL_EXECUTE : 0);
        int qualified = tag == ARCHIVE_ENTRY_ACL_USER || tag == ARCHIVE_ENTRY_ACL_GROUP;
        if (archive_entry_acl_add_entry(e, type, perm, tag, qualified ? (int)item.id : -1, NULL) != ARCHIVE_OK)
            return zb_error_set(ZB_EFORMAT, "%s: an ACL entry libarchive refuses", archive_entry_pathname(e));
    }
    return 0;
}

int zb_acl_from_xattrs(struct archive_entry *e)
{
    const char *name;
    const void *value;
    size_t size;
    int found = 0;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
        found |= strcmp(name, ACL_ACCESS) == 0 || strcmp(name, ACL_DEFAULT) == 0;
    if (!found)
        return 0;
    /* the others are kept: copied out, the list cleared, added back */
    struct archive_entry *copy = archive_entry_clone(e);
    if (!copy)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    archive_entry_xattr_clear(e);
    int rc = 0;
    archive_entry_xattr_reset(copy);
    while (rc == 0 && archive_entry_xattr_next(copy, &name, &value, &size) == ARCHIVE_OK) {
        if (strcmp(name, ACL_ACCESS) == 0)
            rc = add_from_xattr(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, value, size);
        else if (strcmp(name, ACL_DEFAULT) == 0)
            rc = add_from_xattr(e, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, value, size);
        else
            archive_entry_xattr_add_entry(e, name, value, size);
    }
    archive_entry_free(copy);
    return rc;
}

static int to_xattr(struct archive_entry *e, int type, const char *xattr)
{
    acl_item items[ACL_MAX_ITEMS];
    size_t count = 0;
    int entry_type, permset, tag, id;
    const char *name;
    if (archive_entry_acl_reset(e, type) == 0)
        return 0;
    while (archive_entry_acl_next(e, type, &entry_type, &permset, &tag, &id, &name) == ARCHIVE_OK) {
        uint16_t kernel = 0;
        for (size_t i = 0; i < ZB_ARRAY_LEN(tags); i++)
            if (tags[i].archive == tag)
                kernel = tags[i].kernel;
        if (!kernel || count == ACL_MAX_ITEMS)
            return zb_error_set(ZB_EFORMAT, "%s: an ACL the volume agent cannot set", archive_entry_pathname(e));
        uint16_t perm =
            (uint16_t)(((permset & ARCHIVE_ENTRY_ACL_READ) ? 4 : 0) | ((permset & ARCHIVE_ENTRY_ACL_WRITE) ? 2 : 0) |
                       ((permset & ARCHIVE_ENTRY_ACL_EXECUTE) ? 1 : 0));
        int qualified = kernel == 0x02 || kernel == 0x08;
        items[count++] = (acl_item){kernel, perm, qualified ? (uint32_t)id : ACL_UNDEFINED_ID};
    }
    qsort(items, count, sizeof(*items), compare_items);
    unsigned char value[4 + ACL_MAX_ITEMS * 8];
    uint32_t version = ACL_VERSION;
    memcpy(value, &version, 4);
    for (size_t i = 0; i < count; i++) {
        memcpy(value + 4 + i * 8, &items[i].tag, 2);
        memcpy(value + 6 + i * 8, &items[i].perm, 2);
        memcpy(value + 8 + i * 8, &items[i].id, 4);
    }
    archive_entry_xattr_add_entry(e, xattr, value, 4 + count * 8);
    return 0;
}

int zb_acl_to_xattrs(struct archive_entry *e)
{
    int has_access = 0, has_default = 0;
    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        has_access |= strcmp(name, ACL_ACCESS) == 0;
        has_default |= strcmp(name, ACL_DEFAULT) == 0;
    }
    int rc = has_access ? 0 : to_xattr(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, ACL_ACCESS);
    if (rc == 0 && !has_default)
        rc = to_xattr(e, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, ACL_DEFAULT);
    archive_entry_acl_clear(e);
    return rc;
}

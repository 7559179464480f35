#include "zakpos_backup/source/path/fine.h"
#include "zakpos_backup/common/error.h"

#include <archive.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_CAPACITY 1024
#define XATTRS_MAX       256

typedef struct fine_slot {
    uint64_t path; /* digest of the name; 0: free */
    zb_fine_attrs attrs;
} fine_slot;

struct zb_tree_fine {
    fine_slot *slots; /* open addressing on the name's digest */
    size_t capacity, count;
};

static uint64_t name_digest(const char *name, size_t len)
{
    static const unsigned char key[crypto_shorthash_KEYBYTES]; /* stable, need not be secret */
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t d;
    crypto_shorthash(out, (const unsigned char *)name, len, key);
    memcpy(&d, out, sizeof(d));
    return d ? d : 1;
}

typedef struct xattr_ref {
    const char *name;
    const void *value;
    size_t size;
} xattr_ref;

static int compare_xattr_names(const void *a, const void *b)
{
    return strcmp(((const xattr_ref *)a)->name, ((const xattr_ref *)b)->name);
}

/* ACLs are compared as ACLs, not as the xattrs some readers show them as,
 * and a SELinux label is the restoring host's, not the backup's. */
static int compared_xattr(const char *name)
{
    return strncmp(name, "system.posix_acl_", 17) != 0 && strcmp(name, "security.selinux") != 0;
}

void zb_fine_attrs_of(struct archive_entry *e, zb_fine_attrs *out)
{
    out->mtime_nsec = archive_entry_mtime_is_set(e) ? (uint32_t)archive_entry_mtime_nsec(e) : 0;
    out->xattrs = 0;
    xattr_ref refs[XATTRS_MAX];
    size_t n = 0;
    const char *name;
    const void *value;
    size_t size;
    /* in name order: readers list them in the order the file system keeps */
    archive_entry_xattr_reset(e);
    while (n < XATTRS_MAX && archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
        if (name && compared_xattr(name))
            refs[n++] = (xattr_ref){name, value, size};
    if (n == 0)
        return;
    qsort(refs, n, sizeof(refs[0]), compare_xattr_names);
    crypto_generichash_state st;
    unsigned char digest[8];
    crypto_generichash_init(&st, NULL, 0, sizeof(digest));
    for (size_t i = 0; i < n; i++) {
        /* a pax reader may list one xattr twice (from its LIBARCHIVE. and
         * its SCHILY. record) */
        if (i > 0 && strcmp(refs[i].name, refs[i - 1].name) == 0)
            continue;
        uint64_t len = refs[i].size;
        crypto_generichash_update(&st, (const unsigned char *)refs[i].name, strlen(refs[i].name) + 1);
        crypto_generichash_update(&st, (const unsigned char *)&len, sizeof(len));
        if (refs[i].size)
            crypto_generichash_update(&st, refs[i].value, refs[i].size);
    }
    crypto_generichash_final(&st, digest, sizeof(digest));
    memcpy(&out->xattrs, digest, sizeof(out->xattrs));
    out->xattrs |= 1u;
}

int zb_tree_fine_new(zb_tree_fine **out)
{
    zb_tree_fine *f = calloc(1, sizeof(*f));
    if (f && !(f->slots = calloc(INITIAL_CAPACITY, sizeof(*f->slots)))) {
        free(f);
        f = NULL;
    }
    *out = f;
    if (!f)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    f->capacity = INITIAL_CAPACITY;
    return 0;
}

void zb_tree_fine_free(zb_tree_fine *f)
{
    if (!f)
        return;
    free(f->slots);
    free(f);
}

static fine_slot *find_slot(fine_slot *slots, size_t capacity, uint64_t path)
{
    size_t i = (size_t)(path % capacity);
    while (slots[i].path && slots[i].path != path)
        i = (i + 1) % capacity;
    return &slots[i];
}

static int grow(zb_tree_fine *f)
{
    fine_slot *slots = calloc(f->capacity * 2, sizeof(*slots));
    if (!slots)
        return zb_error_set(ZB_ENOMEM, "out of memory recording restored entries");
    for (size_t i = 0; i < f->capacity; i++)
        if (f->slots[i].path)
            *find_slot(slots, f->capacity * 2, f->slots[i].path) = f->slots[i];
    free(f->slots);
    f->slots = slots;
    f->capacity *= 2;
    return 0;
}

int zb_tree_fine_add(zb_tree_fine *f, const char *relative, struct archive_entry *e)
{
    if ((f->count + 1) * 4 > f->capacity * 3 && grow(f) < 0)
        return zb_error_code();
    uint64_t path = name_digest(relative, strlen(relative));
    fine_slot *slot = find_slot(f->slots, f->capacity, path);
    if (!slot->path)
        f->count++;
    slot->path = path;
    zb_fine_attrs_of(e, &slot->attrs);
    return 0;
}

int zb_tree_fine_find(const zb_tree_fine *f, const char *relative, size_t len, zb_fine_attrs *out)
{
    const fine_slot *slot = find_slot(f->slots, f->capacity, name_digest(relative, len));
    if (!slot->path)
        return 0;
    *out = slot->attrs;
    return 1;
}

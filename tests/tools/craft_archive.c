/* Test tool: writes an archive holding exactly the tar entries named on the
 * command line, bypassing the writer's checks, so tests can prove the reader
 * and restore refuse what a hostile archive could contain.
 *
 *   zb-craft-archive [PROTECTION] [SIGNING] [--format 1|2] --out FILE ENTRY...
 *   ENTRY: file:NAME:CONTENT | dir:NAME | symlink:NAME:TARGET | hardlink:NAME:TARGET
 *
 * or copies a real archive entry by entry (a valid archive under a new
 * header), optionally with one manifest value changed, so the archive is
 * intact but records something its data does not match:
 *
 *   zb-craft-archive ... --out FILE --copy ARCHIVE KEY|-
 *   zb-craft-archive ... --out FILE --rewrite ARCHIVE KEY --alter-row-hash SCHEMA.TABLE
 *
 * PROTECTION: --recipient PUB (a key file), --recipient-from ARCHIVE (the
 * recipient key read from another archive's plain header, as anyone holding
 * one archive can), or --no-encryption.
 * SIGNING (format 2, recipients only): --sign FILE.sign, --no-sign; by default
 * FILE.sign beside --recipient FILE.pub when it exists, else unsigned.
 * Format 1 archives are never signed. */
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/stream/seal.h"
#include "zakpos_backup/stream/stage.h"
#include "zakpos_backup/stream/zstd.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static la_ssize_t push(struct archive *a, void *client, const void *buf, size_t len)
{
    (void)a;
    return zb_stage_write(client, buf, len) < 0 ? -1 : (la_ssize_t)len;
}

static int add_entry(struct archive *tar, const char *spec)
{
    char *copy = strdup(spec);
    char *kind = strtok(copy, ":");
    char *name = strtok(NULL, ":");
    char *arg = strtok(NULL, "");
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_entry_set_perm(e, 0644);
    size_t len = 0;
    if (strcmp(kind, "file") == 0) {
        archive_entry_set_filetype(e, AE_IFREG);
        len = arg ? strlen(arg) : 0;
        archive_entry_set_size(e, (la_int64_t)len);
    } else if (strcmp(kind, "dir") == 0) {
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0755);
    } else if (strcmp(kind, "symlink") == 0) {
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, arg);
    } else if (strcmp(kind, "hardlink") == 0) {
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, arg);
    }
    int ok = archive_write_header(tar, e) == ARCHIVE_OK && (len == 0 || archive_write_data(tar, arg, len) == (la_ssize_t)len);
    archive_entry_free(e);
    free(copy);
    return ok ? 0 : -1;
}

/* Every entry of the archive at path, then its manifest with the row hash
 * of one table replaced. */
static int rewrite(struct archive *tar, const char *path, const char *key_file, const char *table)
{
    zb_read_keys keys = {0};
    keys.key_file = strcmp(key_file, "-") == 0 ? NULL : key_file;
    keys.allow_untrusted = 1; /* copies what it is given: an attacker's tool */
    zb_archive_reader *r = NULL;
    struct archive_entry *e;
    zb_entry_info info;
    static char buf[65536];
    int rc = zb_archive_reader_open(&r, path, &keys);
    if (rc == 0)
        zb_archive_reader_keep_entries(r);
    while (rc == 0 && (rc = zb_archive_reader_next(r, &e, &info)) > 0) {
        rc = archive_write_header(tar, e) == ARCHIVE_OK ? 0 : -1;
        ssize_t n;
        while (rc == 0 && (n = zb_archive_reader_read(r, buf, sizeof(buf))) > 0)
            rc = archive_write_data(tar, buf, (size_t)n) == n ? 0 : -1;
    }
    if (rc < 0) {
        fprintf(stderr, "cannot copy %s: %s %s\n", path, zb_error_message(), archive_error_string(tar));
        zb_archive_reader_free(r);
        return -1;
    }
    size_t i, j;
    json_t *source, *t;
    int altered = table == NULL;
    json_array_foreach(json_object_get(zb_archive_reader_manifest(r), "sources"), i, source)
        json_array_foreach(json_object_get(json_object_get(source, "summary"), "tables"), j, t)
            if (table && strcmp(json_string_value(json_object_get(t, "table")), table) == 0)
                altered = !json_object_set_new(t, "rowset", json_string("0123456789abcdef0123456789abcdef"));
    char *text = json_dumps(zb_archive_reader_manifest(r), JSON_COMPACT);
    zb_archive_reader_free(r);
    if (!altered || !text) {
        fprintf(stderr, "no table %s in the manifest\n", table);
        free(text);
        return -1;
    }
    e = archive_entry_new();
    archive_entry_set_pathname(e, ZB_MANIFEST_NAME);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    archive_entry_set_size(e, (la_int64_t)strlen(text));
    rc = archive_write_header(tar, e) == ARCHIVE_OK && archive_write_data(tar, text, strlen(text)) == (la_ssize_t)strlen(text) ? 0 : -1;
    archive_entry_free(e);
    free(text);
    return rc;
}

typedef struct craft {
    const char *recipient, *recipient_from, *sign, *out, *copy, *copy_key, *alter_table;
    int no_encryption, no_sign, format, first_entry;
} craft;

static int usage(void)
{
    fprintf(stderr, "usage: zb-craft-archive (--recipient PUB | --recipient-from ARCHIVE | --no-encryption)\n"
                    "           [--sign FILE | --no-sign] [--format 1|2] --out FILE\n"
                    "           (ENTRY... | --copy ARCHIVE KEY | --rewrite ARCHIVE KEY --alter-row-hash TABLE)\n");
    return 2;
}

static int parse(craft *c, int argc, char **argv)
{
    c->format = ZB_ARCHIVE_FORMAT_VERSION;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--no-encryption") == 0) c->no_encryption = 1;
        else if (strcmp(o, "--no-sign") == 0) c->no_sign = 1;
        else if (!v) return -1;
        else if (strcmp(o, "--recipient") == 0) c->recipient = v, i++;
        else if (strcmp(o, "--recipient-from") == 0) c->recipient_from = v, i++;
        else if (strcmp(o, "--sign") == 0) c->sign = v, i++;
        else if (strcmp(o, "--out") == 0) c->out = v, i++;
        else if (strcmp(o, "--format") == 0) c->format = atoi(v), i++;
        else if ((strcmp(o, "--copy") == 0 || strcmp(o, "--rewrite") == 0) && i + 2 < argc) {
            c->copy = v, c->copy_key = argv[i + 2], i += 2;
            if (strcmp(o, "--rewrite") == 0) {
                if (i + 2 >= argc || strcmp(argv[i + 1], "--alter-row-hash") != 0)
                    return -1;
                c->alter_table = argv[i + 2], i += 2;
            }
        } else return -1;
    }
    c->first_entry = i;
    int protections = !!c->recipient + !!c->recipient_from + c->no_encryption;
    if (!c->out || protections != 1 || (c->format != 1 && c->format != 2) || (c->copy && i < argc))
        return -1;
    return 0;
}

static int recipient_key(unsigned char pk[ZB_KEY_PUBLIC_BYTES], const craft *c)
{
    if (c->recipient)
        return zb_keys_load_public(pk, c->recipient);
    static zb_archive_header other;
    int fd = open(c->recipient_from, O_RDONLY);
    int rc = fd < 0 ? -1 : zb_archive_header_read(&other, fd, c->recipient_from);
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; rc == 0 && i < other.slot_count; i++)
        if (other.slots[i].type == ZB_SLOT_X25519) {
            memcpy(pk, other.slots[i].body, ZB_KEY_PUBLIC_BYTES);
            return 0;
        }
    return -1;
}

/* The signing key: --sign, else FILE.sign beside --recipient FILE.pub. */
static int sign_header(zb_archive_header *h, const craft *c)
{
    char path[4096] = "";
    if (c->sign)
        snprintf(path, sizeof(path), "%s", c->sign);
    else if (c->recipient && strlen(c->recipient) > 4 && strcmp(c->recipient + strlen(c->recipient) - 4, ".pub") == 0)
        snprintf(path, sizeof(path), "%.*s.sign", (int)strlen(c->recipient) - 4, c->recipient);
    if (c->no_sign || c->format < 2 || !path[0] || access(path, F_OK) != 0)
        return c->sign ? -1 : zb_archive_header_encode(h);
    unsigned char *sk = NULL, pk[ZB_SIGN_PUBLIC_BYTES];
    int rc = zb_sign_load_secret(&sk, pk, path);
    if (rc == 0)
        rc = zb_header_sign(h, sk, pk);
    sodium_free(sk);
    return rc;
}

static int build_header(zb_archive_header *h, void **state, const craft *c)
{
    unsigned char pk[ZB_KEY_PUBLIC_BYTES], key[ZB_SEAL_KEY_BYTES];
    h->version = (uint16_t)c->format;
    h->compression = ZB_COMPRESSION_ZSTD;
    if (c->no_encryption) {
        h->protection = ZB_PROTECTION_NONE;
        return zb_archive_header_encode(h);
    }
    h->protection = ZB_PROTECTION_SECRETSTREAM;
    h->chunk_size = ZB_SEAL_DEFAULT_CHUNK;
    crypto_secretstream_xchacha20poly1305_keygen(key);
    h->slot_count = 1;
    if (recipient_key(pk, c) < 0 || zb_slot_wrap_recipient(&h->slots[0], key, pk) < 0 ||
        zb_seal_begin(h->stream_header, key, state) < 0)
        return -1;
    return sign_header(h, c);
}

int main(int argc, char **argv)
{
    craft c = {0};
    if (sodium_init() < 0 || parse(&c, argc, argv) < 0)
        return usage();
    static zb_archive_header h;
    void *state = NULL;
    if (build_header(&h, &state, &c) < 0) {
        fprintf(stderr, "cannot build the header: %s\n", zb_error_message());
        return 1;
    }
    int fd = open(c.out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    zb_stage *file = NULL, *seal = NULL, *zstd = NULL;
    if (fd < 0 || zb_fs_write_all(fd, h.raw, h.raw_len, c.out) < 0 || zb_stage_fd_new(&file, fd, c.out) < 0 ||
        (state && zb_stage_seal_new(&seal, state, h.chunk_size, h.raw, h.raw_len, file) < 0) ||
        zb_stage_zstd_new(&zstd, 3, 0, seal ? seal : file) < 0)
        return 1;
    struct archive *tar = archive_write_new();
    archive_write_set_format_pax_restricted(tar);
    archive_write_open2(tar, zstd, NULL, push, NULL, NULL);
    if (c.copy && rewrite(tar, c.copy, c.copy_key, c.alter_table) < 0)
        return 1;
    for (int i = c.first_entry; !c.copy && i < argc; i++)
        if (add_entry(tar, argv[i]) < 0) {
            fprintf(stderr, "cannot add %s: %s\n", argv[i], archive_error_string(tar));
            return 1;
        }
    int rc = archive_write_close(tar) == ARCHIVE_OK && zb_stage_close(zstd) == 0 ? 0 : 1;
    archive_write_free(tar);
    zb_stage_free_chain(zstd);
    close(fd);
    return rc;
}

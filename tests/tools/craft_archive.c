/* Test tool: writes an encrypted archive holding exactly the tar entries named
 * on the command line, bypassing the writer's checks, so tests can prove the
 * reader and restore refuse what a hostile archive could contain.
 *
 *   zb-craft-archive --recipient PUB --out FILE ENTRY...
 *   ENTRY: file:NAME:CONTENT | dir:NAME | symlink:NAME:TARGET | hardlink:NAME:TARGET
 *
 * or copies a real archive entry by entry with one manifest value changed,
 * so the archive is intact but records something its data does not match:
 *
 *   zb-craft-archive --recipient PUB --out FILE --rewrite ARCHIVE KEY --alter-row-hash SCHEMA.TABLE
 */
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/keys.h"
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
    zb_read_keys keys = {key_file, NULL};
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
    int altered = 0;
    json_array_foreach(json_object_get(zb_archive_reader_manifest(r), "sources"), i, source)
        json_array_foreach(json_object_get(json_object_get(source, "summary"), "tables"), j, t)
            if (strcmp(json_string_value(json_object_get(t, "table")), table) == 0)
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

int main(int argc, char **argv)
{
    if (sodium_init() < 0 || argc < 5 || strcmp(argv[1], "--recipient") != 0 || strcmp(argv[3], "--out") != 0) {
        fprintf(stderr, "usage: zb-craft-archive --recipient PUB --out FILE ENTRY...\n");
        return 2;
    }
    unsigned char pk[ZB_KEY_PUBLIC_BYTES], key[ZB_SEAL_KEY_BYTES];
    static zb_archive_header h;
    void *state = NULL;
    if (zb_keys_load_public(pk, argv[2]) < 0) {
        fprintf(stderr, "%s\n", zb_error_message());
        return 1;
    }
    h.version = ZB_ARCHIVE_FORMAT_VERSION;
    h.protection = ZB_PROTECTION_SECRETSTREAM;
    h.compression = ZB_COMPRESSION_ZSTD;
    h.chunk_size = ZB_SEAL_DEFAULT_CHUNK;
    crypto_secretstream_xchacha20poly1305_keygen(key);
    h.slot_count = 1;
    if (zb_slot_wrap_recipient(&h.slots[0], key, pk) < 0 || zb_seal_begin(h.stream_header, key, &state) < 0 ||
        zb_archive_header_encode(&h) < 0)
        return 1;
    int fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    zb_stage *file = NULL, *seal = NULL, *zstd = NULL;
    if (fd < 0 || zb_fs_write_all(fd, h.raw, h.raw_len, argv[4]) < 0 || zb_stage_fd_new(&file, fd, argv[4]) < 0 ||
        zb_stage_seal_new(&seal, state, h.chunk_size, h.raw, h.raw_len, file) < 0 ||
        zb_stage_zstd_new(&zstd, 3, 0, seal) < 0)
        return 1;
    struct archive *tar = archive_write_new();
    archive_write_set_format_pax_restricted(tar);
    archive_write_open2(tar, zstd, NULL, push, NULL, NULL);
    int rewriting = argc > 5 && strcmp(argv[5], "--rewrite") == 0;
    if (rewriting && (argc != 10 || strcmp(argv[8], "--alter-row-hash") != 0)) {
        fprintf(stderr, "usage: zb-craft-archive --recipient PUB --out FILE --rewrite ARCHIVE KEY --alter-row-hash TABLE\n");
        return 2;
    }
    if (rewriting && rewrite(tar, argv[6], argv[7], argv[9]) < 0)
        return 1;
    for (int i = 5; !rewriting && i < argc; i++)
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

/* Test tool: writes archives the real writer refuses to write, so tests can
 * prove the reader, restore and verification refuse them or find what is
 * wrong. It has its own tar -> zstd -> seal path (buffered in memory: test
 * archives are small), so a defect in the real writer's stages cannot hide
 * in the archives the tests compare it with.
 *
 *   zb-craft-archive (--recipient PUB | --no-encryption) --out FILE [OPTION...] [ENTRY...]
 *
 *   ENTRY: file:NAME:CONTENT | dir:NAME | symlink:NAME:TARGET | hardlink:NAME:TARGET
 *          (written after the copied entries, before the manifest if any)
 *   --rewrite ARCHIVE KEY        copy a real archive entry by entry, then its manifest
 *   --alter-row-hash S.T         ... with the row hash of table S.T replaced
 *   --set-summary NAME KEY JSON  ... with summary KEY of source NAME set to JSON
 *   --set-toc NAME FILE          ... with pg/NAME/toc.json replaced by FILE's content
 *                                (the manifest records the new entry's size and hash)
 *   --no-checksum                a zstd frame without its content checksum
 *   --one-chunk                  the chunk size of the archive is the size of its
 *                                compressed stream, so the FINAL chunk is a full one
 */
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/stream/hash.h"
#include "zakpos_backup/stream/seal.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

typedef struct craft {
    const char *recipient;
    const char *out;
    const char *rewrite_archive, *rewrite_key;
    const char *row_hash_table;
    const char *summary_source, *summary_key, *summary_json;
    const char *toc_source, *toc_file;
    int no_checksum;
    int one_chunk;
    char **entries;
    int entry_count;
} craft;

static la_ssize_t push(struct archive *a, void *client, const void *buf, size_t len)
{
    (void)a;
    return zb_buf_append(client, buf, len) < 0 ? -1 : (la_ssize_t)len;
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

static json_t *source_named(json_t *manifest, const char *name)
{
    size_t i;
    json_t *source;
    json_array_foreach(json_object_get(manifest, "sources"), i, source)
        if (strcmp(json_string_value(json_object_get(source, "name")) ?: "", name) == 0)
            return source;
    return NULL;
}

/* The manifest entry of relative path `path` in source `source`. */
static json_t *manifest_entry(json_t *source, const char *path)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(source, "entries"), i, e)
        if (strcmp(json_string_value(json_object_get(e, "path")) ?: "", path) == 0)
            return e;
    return NULL;
}

static int read_file(zb_buf *out, const char *path)
{
    FILE *f = fopen(path, "rb");
    char block[65536];
    size_t n;
    if (!f)
        return -1;
    while ((n = fread(block, 1, sizeof(block), f)) > 0)
        zb_buf_append(out, block, n);
    fclose(f);
    return 0;
}

static void content_hash(char hex[ZB_HASH_HEX_BYTES], const zb_buf *content)
{
    zb_hash h;
    zb_hash_init(&h);
    zb_hash_update(&h, content->data, content->len);
    zb_hash_final_hex(&h, hex);
}

/* Every entry of the archive, the toc of --set-toc replaced; *manifest is
 * the archive's manifest, recording the replaced toc's size and hash. */
static int copy_entries(struct archive *tar, zb_archive_reader *r, const craft *c, json_t **manifest)
{
    struct archive_entry *e;
    zb_entry_info info;
    static char buf[65536];
    zb_buf toc = ZB_BUF_INIT;
    int rc = 0;
    if (c->toc_file && read_file(&toc, c->toc_file) < 0) {
        fprintf(stderr, "cannot read %s\n", c->toc_file);
        return -1;
    }
    while (rc == 0 && (rc = zb_archive_reader_next(r, &e, &info)) > 0) {
        if (c->toc_file && strcmp(info.source_kind, "pg") == 0 && strcmp(info.source_name, c->toc_source) == 0 &&
            strcmp(info.relative, "toc.json") == 0) {
            archive_entry_set_size(e, (la_int64_t)toc.len);
            rc = archive_write_header(tar, e) == ARCHIVE_OK &&
                         archive_write_data(tar, toc.data, toc.len) == (la_ssize_t)toc.len
                     ? 0
                     : -1;
            continue;
        }
        rc = archive_write_header(tar, e) == ARCHIVE_OK ? 0 : -1;
        ssize_t n;
        while (rc == 0 && (n = zb_archive_reader_read(r, buf, sizeof(buf))) > 0)
            rc = archive_write_data(tar, buf, (size_t)n) == n ? 0 : -1;
    }
    *manifest = json_incref(zb_archive_reader_manifest(r));
    json_t *want = c->toc_file ? manifest_entry(source_named(*manifest, c->toc_source), "toc.json") : NULL;
    if (want) {
        char hex[ZB_HASH_HEX_BYTES];
        content_hash(hex, &toc);
        json_object_set_new(want, "size", json_integer((json_int_t)toc.len));
        json_object_set_new(want, "hash", json_string(hex));
    } else if (rc == 0 && c->toc_file) {
        fprintf(stderr, "no toc.json of source %s\n", c->toc_source);
        rc = -1;
    }
    zb_buf_free(&toc);
    return rc;
}

static int alter_manifest(json_t *manifest, const craft *c)
{
    if (c->row_hash_table) {
        int altered = 0;
        size_t i, j;
        json_t *source, *t;
        json_array_foreach(json_object_get(manifest, "sources"), i, source)
            json_array_foreach(json_object_get(json_object_get(source, "summary"), "tables"), j, t)
                if (strcmp(json_string_value(json_object_get(t, "table")), c->row_hash_table) == 0)
                    altered = !json_object_set_new(t, "rowset", json_string("0123456789abcdef0123456789abcdef"));
        if (!altered) {
            fprintf(stderr, "no table %s in the manifest\n", c->row_hash_table);
            return -1;
        }
    }
    if (c->summary_source) {
        json_t *source = source_named(manifest, c->summary_source);
        json_t *value = json_loads(c->summary_json, JSON_DECODE_ANY, NULL);
        if (!source || !value || json_object_set_new(json_object_get(source, "summary"), c->summary_key, value) < 0) {
            fprintf(stderr, "cannot set %s of source %s\n", c->summary_key, c->summary_source);
            return -1;
        }
    }
    return 0;
}

static int write_manifest(struct archive *tar, json_t *manifest)
{
    char *text = json_dumps(manifest, JSON_COMPACT);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, ZB_MANIFEST_NAME);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    archive_entry_set_size(e, (la_int64_t)strlen(text));
    int rc = archive_write_header(tar, e) == ARCHIVE_OK &&
                     archive_write_data(tar, text, strlen(text)) == (la_ssize_t)strlen(text)
                 ? 0
                 : -1;
    archive_entry_free(e);
    free(text);
    return rc;
}

/* The tar stream as one zstd frame, with or without its content checksum. */
static int compress(zb_buf *out, const zb_buf *tar, int checksum)
{
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    size_t cap = ZSTD_compressBound(tar->len);
    if (!cctx || zb_buf_reserve(out, cap) < 0)
        return -1;
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum);
    size_t n = ZSTD_compress2(cctx, out->data, cap, tar->data, tar->len);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(n))
        return -1;
    out->len = n;
    return 0;
}

static int write_archive(const craft *c, const zb_buf *body)
{
    static zb_archive_header h;
    unsigned char key[ZB_SEAL_KEY_BYTES], pk[ZB_KEY_PUBLIC_BYTES];
    void *state = NULL;
    h.version = ZB_ARCHIVE_FORMAT_VERSION;
    h.compression = ZB_COMPRESSION_ZSTD;
    if (c->recipient) {
        if (zb_keys_load_public(pk, c->recipient) < 0)
            return -1;
        h.protection = ZB_PROTECTION_SECRETSTREAM;
        h.chunk_size = c->one_chunk ? (uint32_t)body->len : ZB_SEAL_DEFAULT_CHUNK;
        if (c->one_chunk && (body->len < ZB_SEAL_MIN_CHUNK || body->len > ZB_SEAL_MAX_CHUNK)) {
            fprintf(stderr, "--one-chunk: the compressed stream is %zu bytes, outside the chunk sizes\n", body->len);
            return -1;
        }
        crypto_secretstream_xchacha20poly1305_keygen(key);
        h.slot_count = 1;
        if (zb_slot_wrap_recipient(&h.slots[0], key, pk) < 0 || zb_seal_begin(h.stream_header, key, &state) < 0)
            return -1;
    }
    if (zb_archive_header_encode(&h) < 0)
        return -1;
    int fd = open(c->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    zb_stage *file = NULL, *seal = NULL, *first;
    int rc = fd < 0 || zb_fs_write_all(fd, h.raw, h.raw_len, c->out) < 0 || zb_stage_fd_new(&file, fd, c->out) < 0 ? -1 : 0;
    first = file;
    if (rc == 0 && state) {
        rc = zb_stage_seal_new(&seal, state, h.chunk_size, h.raw, h.raw_len, file);
        first = seal;
    }
    if (rc == 0)
        rc = zb_stage_write(first, body->data, body->len) < 0 || zb_stage_close(first) < 0 ? -1 : 0;
    zb_stage_free_chain(first);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: zb-craft-archive (--recipient PUB | --no-encryption) --out FILE [--rewrite ARCHIVE KEY]\n"
                    "       [--alter-row-hash S.T] [--set-summary NAME KEY JSON] [--set-toc NAME FILE]\n"
                    "       [--no-checksum] [--one-chunk] [ENTRY...]\n");
    return 2;
}

static int parse(craft *c, int argc, char **argv)
{
    int unencrypted = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int left = argc - i - 1;
        if (strcmp(a, "--recipient") == 0 && left >= 1)
            c->recipient = argv[++i];
        else if (strcmp(a, "--no-encryption") == 0)
            unencrypted = 1;
        else if (strcmp(a, "--out") == 0 && left >= 1)
            c->out = argv[++i];
        else if (strcmp(a, "--rewrite") == 0 && left >= 2)
            c->rewrite_archive = argv[i + 1], c->rewrite_key = argv[i + 2], i += 2;
        else if (strcmp(a, "--alter-row-hash") == 0 && left >= 1)
            c->row_hash_table = argv[++i];
        else if (strcmp(a, "--set-summary") == 0 && left >= 3)
            c->summary_source = argv[i + 1], c->summary_key = argv[i + 2], c->summary_json = argv[i + 3], i += 3;
        else if (strcmp(a, "--set-toc") == 0 && left >= 2)
            c->toc_source = argv[i + 1], c->toc_file = argv[i + 2], i += 2;
        else if (strcmp(a, "--no-checksum") == 0)
            c->no_checksum = 1;
        else if (strcmp(a, "--one-chunk") == 0)
            c->one_chunk = 1;
        else if (strncmp(a, "--", 2) == 0)
            return -1;
        else
            c->entries = argv + i, c->entry_count = argc - i, i = argc;
    }
    int altering = c->row_hash_table || c->summary_source || c->toc_file;
    return c->out && (!c->recipient != !unencrypted) && (!altering || c->rewrite_archive) ? 0 : -1;
}

int main(int argc, char **argv)
{
    craft c;
    memset(&c, 0, sizeof(c));
    if (sodium_init() < 0 || parse(&c, argc, argv) < 0)
        return usage();
    zb_buf tar_bytes = ZB_BUF_INIT, body = ZB_BUF_INIT;
    json_t *manifest = NULL;
    zb_archive_reader *r = NULL;
    struct archive *tar = archive_write_new();
    archive_write_set_format_pax_restricted(tar);
    archive_write_set_bytes_in_last_block(tar, 1);
    archive_write_open2(tar, &tar_bytes, NULL, push, NULL, NULL);
    int rc = 0;
    if (c.rewrite_archive) {
        zb_read_keys keys = {c.rewrite_key, NULL};
        rc = zb_archive_reader_open(&r, c.rewrite_archive, &keys);
        if (rc == 0)
            zb_archive_reader_keep_entries(r);
        if (rc == 0)
            rc = copy_entries(tar, r, &c, &manifest);
        if (rc < 0)
            fprintf(stderr, "cannot copy %s: %s %s\n", c.rewrite_archive, zb_error_message(), archive_error_string(tar));
        if (rc == 0)
            rc = alter_manifest(manifest, &c);
    }
    for (int i = 0; rc == 0 && i < c.entry_count; i++)
        if ((rc = add_entry(tar, c.entries[i])) < 0)
            fprintf(stderr, "cannot add %s: %s\n", c.entries[i], archive_error_string(tar));
    if (rc == 0 && manifest)
        rc = write_manifest(tar, manifest);
    if (rc == 0)
        rc = archive_write_close(tar) == ARCHIVE_OK ? 0 : -1;
    if (rc == 0 && (rc = compress(&body, &tar_bytes, !c.no_checksum)) < 0)
        fprintf(stderr, "cannot compress\n");
    if (rc == 0 && (rc = write_archive(&c, &body)) < 0)
        fprintf(stderr, "cannot write %s: %s\n", c.out, zb_error_message());
    archive_write_free(tar);
    zb_archive_reader_free(r);
    json_decref(manifest);
    zb_buf_free(&tar_bytes);
    zb_buf_free(&body);
    return rc < 0 ? 1 : 0;
}

/* Test tool: writes an encrypted archive holding exactly the tar entries named
 * on the command line, bypassing the writer's checks, so tests can prove the
 * reader and restore refuse what a hostile archive could contain.
 *
 *   zb-craft-archive (--recipient PUB | --no-encryption) [--window-log N] [--manifest] --out FILE ENTRY...
 *   ENTRY: file:NAME:CONTENT | dir:NAME | symlink:NAME:TARGET | hardlink:NAME:TARGET
 *        | zeros:NAME:BYTES (a file of zeros) | bomb:NAME:BYTES (one JSON line of that size)
 *
 * --manifest appends the manifest the entries call for, so the archive
 * verifies; --window-log sets the zstd frame's window (2^N bytes).
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
#include <zstd.h>

static la_ssize_t push(struct archive *a, void *client, const void *buf, size_t len)
{
    (void)a;
    return zb_stage_write(client, buf, len) < 0 ? -1 : (la_ssize_t)len;
}

/* The manifest --manifest appends: one source object per kind/name, in order. */
static json_t *crafted_sources;

static int record_for_manifest(struct archive_entry *e, const char *name, const char *link, const char *data,
                               uint64_t zeros, size_t len)
{
    char kind_prefix[64], source[256], link_source[256], hex[ZB_HASH_HEX_BYTES];
    const char *rel = "", *link_rel = NULL;
    int parts = sscanf(name, "%63[^/]/%255[^/]/", kind_prefix, source);
    const char *kind = parts == 2 ? zb_manifest_prefix_kind(kind_prefix, strlen(kind_prefix)) : NULL;
    if (!kind)
        return -1;
    rel = name + strlen(kind_prefix) + 1 + strlen(source) + (name[strlen(kind_prefix) + 1 + strlen(source)] ? 1 : 0);
    char *relative = strdup(*rel ? rel : ".");
    size_t n = strlen(relative);
    while (n > 1 && relative[n - 1] == '/')
        relative[--n] = '\0';
    if (link && sscanf(link, "%63[^/]/%255[^/]/", kind_prefix, link_source) == 2)
        link_rel = link + strlen(kind_prefix) + 1 + strlen(link_source) + 1;
    int is_data = archive_entry_filetype(e) == AE_IFREG && !link;
    if (is_data) {
        zb_hash h;
        zb_hash_init(&h);
        zb_hash_update(&h, data, len);
        zb_hash_update_zeros(&h, zeros);
        zb_hash_final_hex(&h, hex);
    }
    json_t *entry = zb_manifest_entry_new(e, relative, link_rel, is_data ? len + zeros : 0, is_data ? hex : NULL);
    free(relative);
    json_t *last = json_array_get(crafted_sources, json_array_size(crafted_sources) - 1);
    if (!last || strcmp(json_string_value(json_object_get(last, "kind")), kind) != 0 ||
        strcmp(json_string_value(json_object_get(last, "name")), source) != 0) {
        last = json_pack("{s:s, s:s, s:[]}", "kind", kind, "name", source, "entries");
        json_array_append_new(crafted_sources, last);
    }
    return entry ? json_array_append_new(json_object_get(last, "entries"), entry) : -1;
}

static int write_manifest(struct archive *tar)
{
    json_t *doc = json_pack("{s:i, s:O}", "format", ZB_MANIFEST_FORMAT, "sources", crafted_sources);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, ZB_MANIFEST_NAME);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)strlen(text));
    int rc = archive_write_header(tar, e) == ARCHIVE_OK &&
                     archive_write_data(tar, text, strlen(text)) == (la_ssize_t)strlen(text) ? 0 : -1;
    archive_entry_free(e);
    free(text);
    return rc;
}

/* BYTES of zeros, or one JSON line of BYTES that opens like a manifest. */
static int write_filler(struct archive *tar, uint64_t bytes, int bomb)
{
    static const char head[] = "{\"format\":1,\"sources\":[],\"pad\":\"";
    static char block[65536];
    uint64_t left = bytes;
    if (bomb) {
        memset(block, 'a', sizeof(block));
        if (archive_write_data(tar, head, strlen(head)) != (la_ssize_t)strlen(head))
            return -1;
        left -= strlen(head) + 2;
    }
    while (left > 0) {
        size_t n = left < sizeof(block) ? (size_t)left : sizeof(block);
        if (archive_write_data(tar, block, n) != (la_ssize_t)n)
            return -1;
        left -= n;
    }
    return bomb && archive_write_data(tar, "\"}", 2) != 2 ? -1 : 0;
}

/* A zstd stage with a chosen window (the library's stage takes only a level):
 * a frame that asks the reader for more memory than it allows. */
typedef struct window_stage {
    zb_stage base;
    ZSTD_CCtx *cctx;
    unsigned char out[1 << 17];
} window_stage;

static int window_pump(window_stage *w, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    for (;;) {
        ZSTD_outBuffer o = {w->out, sizeof(w->out), 0};
        size_t left = ZSTD_compressStream2(w->cctx, &o, in, mode);
        if (ZSTD_isError(left) || (o.pos && zb_stage_write(w->base.next, w->out, o.pos) < 0))
            return -1;
        if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size)
            return 0;
    }
}

static int window_write(zb_stage *s, const void *data, size_t len)
{
    ZSTD_inBuffer in = {data, len, 0};
    return window_pump((window_stage *)s, &in, ZSTD_e_continue);
}

static int window_close(zb_stage *s)
{
    ZSTD_inBuffer in = {NULL, 0, 0};
    return window_pump((window_stage *)s, &in, ZSTD_e_end) < 0 ? -1 : zb_stage_close(s->next);
}

static void window_free(zb_stage *s)
{
    ZSTD_freeCCtx(((window_stage *)s)->cctx);
    free(s);
}

static zb_stage *window_stage_new(int window_log, zb_stage *next)
{
    window_stage *w = calloc(1, sizeof(*w));
    w->base.write = window_write;
    w->base.close = window_close;
    w->base.free = window_free;
    w->base.next = next;
    w->cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_windowLog, window_log);
    return &w->base;
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
    uint64_t filler = 0;
    int bomb = strcmp(kind, "bomb") == 0;
    if (bomb || strcmp(kind, "zeros") == 0) {
        filler = strtoull(arg, NULL, 10);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, (la_int64_t)filler);
    }
    int ok = archive_write_header(tar, e) == ARCHIVE_OK && (len == 0 || archive_write_data(tar, arg, len) == (la_ssize_t)len) &&
             (filler == 0 || write_filler(tar, filler, bomb) == 0);
    if (ok && crafted_sources && !bomb)
        ok = record_for_manifest(e, name, archive_entry_hardlink(e), len ? arg : "", filler, len) == 0;
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
    const char *recipient = NULL, *out = NULL;
    int no_encryption = 0, window_log = 0, arg = 1;
    for (; arg < argc && strncmp(argv[arg], "--", 2) == 0 && strcmp(argv[arg], "--rewrite") != 0; arg++) {
        if (strcmp(argv[arg], "--recipient") == 0 && arg + 1 < argc)
            recipient = argv[++arg];
        else if (strcmp(argv[arg], "--out") == 0 && arg + 1 < argc)
            out = argv[++arg];
        else if (strcmp(argv[arg], "--window-log") == 0 && arg + 1 < argc)
            window_log = atoi(argv[++arg]);
        else if (strcmp(argv[arg], "--no-encryption") == 0)
            no_encryption = 1;
        else if (strcmp(argv[arg], "--manifest") == 0)
            crafted_sources = json_array();
        else
            break;
    }
    if (sodium_init() < 0 || !out || !recipient == !no_encryption) {
        fprintf(stderr, "usage: zb-craft-archive (--recipient PUB | --no-encryption) [--window-log N] [--manifest] --out FILE ENTRY...\n");
        return 2;
    }
    unsigned char pk[ZB_KEY_PUBLIC_BYTES], key[ZB_SEAL_KEY_BYTES];
    static zb_archive_header h;
    void *state = NULL;
    if (recipient && zb_keys_load_public(pk, recipient) < 0) {
        fprintf(stderr, "%s\n", zb_error_message());
        return 1;
    }
    h.version = ZB_ARCHIVE_FORMAT_VERSION;
    h.protection = no_encryption ? ZB_PROTECTION_NONE : ZB_PROTECTION_SECRETSTREAM;
    h.compression = ZB_COMPRESSION_ZSTD;
    if (!no_encryption) {
        h.chunk_size = ZB_SEAL_DEFAULT_CHUNK;
        crypto_secretstream_xchacha20poly1305_keygen(key);
        h.slot_count = 1;
        if (zb_slot_wrap_recipient(&h.slots[0], key, pk) < 0 || zb_seal_begin(h.stream_header, key, &state) < 0)
            return 1;
    }
    if (zb_archive_header_encode(&h) < 0)
        return 1;
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    zb_stage *file = NULL, *seal = NULL, *zstd = NULL;
    if (fd < 0 || zb_fs_write_all(fd, h.raw, h.raw_len, out) < 0 || zb_stage_fd_new(&file, fd, out) < 0 ||
        (!no_encryption && zb_stage_seal_new(&seal, state, h.chunk_size, h.raw, h.raw_len, file) < 0) ||
        (window_log ? !(zstd = window_stage_new(window_log, no_encryption ? file : seal))
                    : zb_stage_zstd_new(&zstd, 3, 0, no_encryption ? file : seal) < 0))
        return 1;
    struct archive *tar = archive_write_new();
    archive_write_set_format_pax_restricted(tar);
    archive_write_open2(tar, zstd, NULL, push, NULL, NULL);
    int rewriting = arg < argc && strcmp(argv[arg], "--rewrite") == 0;
    if (rewriting && (argc != arg + 5 || strcmp(argv[arg + 3], "--alter-row-hash") != 0)) {
        fprintf(stderr, "usage: zb-craft-archive --recipient PUB --out FILE --rewrite ARCHIVE KEY --alter-row-hash TABLE\n");
        return 2;
    }
    if (rewriting && rewrite(tar, argv[arg + 1], argv[arg + 2], argv[arg + 4]) < 0)
        return 1;
    for (int i = arg; !rewriting && i < argc; i++)
        if (add_entry(tar, argv[i]) < 0) {
            fprintf(stderr, "cannot add %s: %s\n", argv[i], archive_error_string(tar));
            return 1;
        }
    if (crafted_sources && write_manifest(tar) < 0) {
        fprintf(stderr, "cannot add the manifest: %s\n", archive_error_string(tar));
        return 1;
    }
    json_decref(crafted_sources);
    int rc = archive_write_close(tar) == ARCHIVE_OK && zb_stage_close(zstd) == 0 ? 0 : 1;
    archive_write_free(tar);
    zb_stage_free_chain(zstd);
    close(fd);
    return rc;
}

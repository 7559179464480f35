/* Test tool: writes archives the real writer refuses to write, so tests can
 * prove the reader, restore and verification refuse them or find what is
 * wrong. It has its own tar -> zstd -> seal path (its own zstd stage, not the
 * writer's), so a defect in the real writer's stages cannot hide in the
 * archives the tests compare it with. Everything is streamed: a 100 MiB
 * entry is never held in memory (only --one-chunk keeps the compressed
 * stream, at most one chunk).
 *
 *   zb-craft-archive PROTECTION [SIGNING] [--format 1|2] --out FILE [OPTION...] [ENTRY...]
 *
 *   PROTECTION: --recipient PUB (a key file) | --recipient-from ARCHIVE (the
 *          recipient key read from another archive's plain header, as anyone
 *          holding one archive can) | --no-encryption
 *   SIGNING (format 2, recipients only): --sign FILE.sign | --no-sign; by
 *          default FILE.sign beside --recipient FILE.pub when it exists, else
 *          unsigned. Format 1 archives are never signed.
 *   ENTRY: file:NAME:CONTENT | dir:NAME | symlink:NAME:TARGET | hardlink:NAME:TARGET
 *        | zeros:NAME:BYTES (a file of zeros) | bomb:NAME:BYTES (one JSON line
 *          of that size, opening like a manifest)
 *          (written after the copied entries, before the manifest if any)
 *   --rewrite ARCHIVE KEY|-|""   copy a real archive entry by entry, then its manifest
 *   --copy ARCHIVE KEY|-|""      the same (no key: an unencrypted archive)
 *   --alter-row-hash S.T         ... with the row hash of table S.T replaced
 *   --set-summary NAME KEY JSON  ... with summary KEY of source NAME set to JSON
 *   --set-toc NAME FILE          ... with pg/NAME/toc.json replaced by FILE's content
 *                                (the manifest records the new entry's size and hash)
 *   --manifest                   append the manifest the ENTRYs call for (bomb
 *                                entries excepted), so the archive verifies
 *   --window-log N               the zstd frame asks for a 2^N byte window
 *   --no-checksum                a zstd frame without its content checksum
 *   --one-chunk                  the chunk size of the archive is the size of its
 *                                compressed stream, so the FINAL chunk is a full one
 */
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/stream/hash.h"
#include "zakpos_backup/stream/seal.h"
#include "zakpos_backup/stream/stage.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

typedef struct craft {
    const char *recipient, *recipient_from, *sign;
    const char *out;
    const char *rewrite_archive, *rewrite_key;
    const char *row_hash_table;
    const char *summary_source, *summary_key, *summary_json;
    const char *toc_source, *toc_file;
    int no_encryption, no_sign, format;
    int no_checksum, one_chunk, window_log;
    json_t *crafted_sources; /* --manifest: one source object per kind/name, in order */
    char **entries;
    int entry_count;
} craft;

/* ---- zstd: the tool's own compression stage -------------------------------
 * Not the writer's stage: it takes a window and a checksum flag the writer
 * never varies, and a writer defect must not shape the crafted frames. */
typedef struct zstd_stage {
    zb_stage base;
    ZSTD_CCtx *cctx;
    unsigned char out[1 << 17];
} zstd_stage;

static int zstd_pump(zstd_stage *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    for (;;) {
        ZSTD_outBuffer o = {z->out, sizeof(z->out), 0};
        size_t left = ZSTD_compressStream2(z->cctx, &o, in, mode);
        if (ZSTD_isError(left)) {
            fprintf(stderr, "zstd: %s\n", ZSTD_getErrorName(left));
            return -1;
        }
        if (o.pos && zb_stage_write(z->base.next, z->out, o.pos) < 0)
            return -1;
        if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size)
            return 0;
    }
}

static int zstd_write(zb_stage *s, const void *data, size_t len)
{
    ZSTD_inBuffer in = {data, len, 0};
    return zstd_pump((zstd_stage *)s, &in, ZSTD_e_continue);
}

static int zstd_close(zb_stage *s)
{
    ZSTD_inBuffer in = {NULL, 0, 0};
    return zstd_pump((zstd_stage *)s, &in, ZSTD_e_end) < 0 ? -1 : zb_stage_close(s->next);
}

static void zstd_free(zb_stage *s)
{
    ZSTD_freeCCtx(((zstd_stage *)s)->cctx);
    free(s);
}

/* window_log 0: zstd's own choice for level 3. */
static zb_stage *zstd_stage_new(int checksum, int window_log, zb_stage *next)
{
    zstd_stage *z = calloc(1, sizeof(*z));
    if (!z || !(z->cctx = ZSTD_createCCtx())) {
        free(z);
        return NULL;
    }
    z->base = (zb_stage){.write = zstd_write, .close = zstd_close, .free = zstd_free, .next = next};
    ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, checksum);
    if (window_log && ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_windowLog, window_log))) {
        fprintf(stderr, "--window-log %d: out of zstd's range\n", window_log);
        zstd_free(&z->base);
        return NULL;
    }
    return &z->base;
}

/* ---- a stage keeping the compressed stream, for --one-chunk ---------------
 * The chunk size is in the header, which comes first, so the stream's size
 * must be known before anything is sealed. Bounded by the largest chunk. */
typedef struct keep_stage {
    zb_stage base;
    zb_buf kept;
} keep_stage;

static int keep_write(zb_stage *s, const void *data, size_t len)
{
    keep_stage *k = (keep_stage *)s;
    if (k->kept.len + len > ZB_SEAL_MAX_CHUNK) {
        fprintf(stderr, "--one-chunk: the compressed stream is over %d bytes, the largest chunk\n", ZB_SEAL_MAX_CHUNK);
        return -1;
    }
    return zb_buf_append(&k->kept, data, len);
}

static int keep_close(zb_stage *s)
{
    (void)s;
    return 0;
}

static void keep_free(zb_stage *s)
{
    zb_buf_free(&((keep_stage *)s)->kept);
    free(s);
}

static zb_stage *keep_stage_new(void)
{
    keep_stage *k = calloc(1, sizeof(*k));
    if (k)
        k->base = (zb_stage){.write = keep_write, .close = keep_close, .free = keep_free};
    return k ? &k->base : NULL;
}

/* ---- the plain header: recipient, data key, signature --------------------- */
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
    fprintf(stderr, "no recipient key in the header of %s\n", c->recipient_from);
    return -1;
}

/* Signs and encodes h with --sign, else FILE.sign beside --recipient
 * FILE.pub when it exists (how keygen lays the files out), else only
 * encodes it. Format 1 has no signature slot. */
static int sign_header(zb_archive_header *h, const craft *c)
{
    char path[4096] = "";
    size_t n = c->recipient ? strlen(c->recipient) : 0;
    if (c->sign)
        snprintf(path, sizeof(path), "%s", c->sign);
    else if (n > 4 && strcmp(c->recipient + n - 4, ".pub") == 0)
        snprintf(path, sizeof(path), "%.*s.sign", (int)n - 4, c->recipient);
    if (c->format < 2 && c->sign) {
        fprintf(stderr, "--sign: format 1 archives are never signed\n");
        return -1;
    }
    if (c->no_sign || c->format < 2 || !path[0] || (!c->sign && access(path, F_OK) != 0))
        return zb_archive_header_encode(h);
    unsigned char *sk = NULL, pk[ZB_SIGN_PUBLIC_BYTES];
    int rc = zb_sign_load_secret(&sk, pk, path);
    if (rc == 0)
        rc = zb_header_sign(h, sk, pk);
    sodium_free(sk);
    return rc;
}

/* h for a stream sealed in chunk_size chunks; *state the seal state (NULL
 * when unencrypted). */
static int build_header(zb_archive_header *h, void **state, const craft *c, uint32_t chunk_size)
{
    unsigned char pk[ZB_KEY_PUBLIC_BYTES], key[ZB_SEAL_KEY_BYTES];
    memset(h, 0, sizeof(*h));
    h->version = (uint16_t)c->format;
    h->compression = ZB_COMPRESSION_ZSTD;
    if (c->no_encryption) {
        h->protection = ZB_PROTECTION_NONE;
        return zb_archive_header_encode(h);
    }
    h->protection = ZB_PROTECTION_SECRETSTREAM;
    h->chunk_size = chunk_size;
    crypto_secretstream_xchacha20poly1305_keygen(key);
    h->slot_count = 1;
    int rc = recipient_key(pk, c) < 0 || zb_slot_wrap_recipient(&h->slots[0], key, pk) < 0 ||
                     zb_seal_begin(h->stream_header, key, state) < 0
                 ? -1
                 : sign_header(h, c);
    sodium_memzero(key, sizeof(key));
    return rc;
}

/* ---- the output file: header, then seal -> file --------------------------- */
typedef struct output {
    int fd;
    zb_stage *first; /* seal -> file, or file */
} output;

static int output_open(output *o, const craft *c, uint32_t chunk_size)
{
    static zb_archive_header h;
    void *state = NULL;
    zb_stage *file = NULL, *seal = NULL;
    o->first = NULL;
    if (build_header(&h, &state, c, chunk_size) < 0) {
        fprintf(stderr, "cannot build the header\n");
        return -1;
    }
    o->fd = open(c->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o->fd < 0 || zb_fs_write_all(o->fd, h.raw, h.raw_len, c->out) < 0 || zb_stage_fd_new(&file, o->fd, c->out) < 0)
        return -1;
    o->first = file;
    if (state && zb_stage_seal_new(&seal, state, h.chunk_size, h.raw, h.raw_len, file) < 0)
        return -1;
    if (seal)
        o->first = seal;
    return 0;
}

static void output_close(output *o)
{
    zb_stage_free_chain(o->first);
    if (o->fd >= 0)
        close(o->fd);
}

/* ---- entries named on the command line ------------------------------------ */

/* The relative path of NAME ("KIND/SOURCE/REL") inside its source, "." for
 * the source root, without trailing slashes; *kind and source are set. */
static char *split_name(const char **kind, char source[256], const char *name)
{
    char prefix[64];
    if (sscanf(name, "%63[^/]/%255[^/]", prefix, source) != 2 ||
        !(*kind = zb_manifest_prefix_kind(prefix, strlen(prefix))))
        return NULL;
    const char *rel = name + strlen(prefix) + 1 + strlen(source);
    rel += *rel == '/';
    char *relative = strdup(*rel ? rel : ".");
    size_t n = strlen(relative);
    while (n > 1 && relative[n - 1] == '/')
        relative[--n] = '\0';
    return relative;
}

/* Adds the manifest entry of a crafted entry (content: len bytes of data,
 * then zeros bytes of zeros) to c->crafted_sources. */
static int record_for_manifest(craft *c, struct archive_entry *e, const char *name, const char *data, size_t len,
                               uint64_t zeros)
{
    const char *kind = NULL, *link = archive_entry_hardlink(e), *link_rel = NULL;
    char source[256], link_source[256], prefix[64], hex[ZB_HASH_HEX_BYTES];
    char *relative = split_name(&kind, source, name);
    if (!relative) {
        fprintf(stderr, "--manifest: %s is not KIND/SOURCE/PATH\n", name);
        return -1;
    }
    if (link && sscanf(link, "%63[^/]/%255[^/]/", prefix, link_source) == 2)
        link_rel = link + strlen(prefix) + 1 + strlen(link_source) + 1;
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
    json_t *last = json_array_get(c->crafted_sources, json_array_size(c->crafted_sources) - 1);
    if (!last || strcmp(json_string_value(json_object_get(last, "kind")), kind) != 0 ||
        strcmp(json_string_value(json_object_get(last, "name")), source) != 0) {
        last = json_pack("{s:s, s:s, s:[]}", "kind", kind, "name", source, "entries");
        json_array_append_new(c->crafted_sources, last);
    }
    return entry ? json_array_append_new(json_object_get(last, "entries"), entry) : -1;
}

/* BYTES of zeros, or one JSON line of BYTES that opens like a manifest,
 * written block by block: the tests ask for 100 MiB. */
static int write_filler(struct archive *tar, uint64_t bytes, int bomb)
{
    static const char head[] = "{\"format\":1,\"sources\":[],\"pad\":\"";
    static char block[65536];
    uint64_t left = bytes;
    if (bomb) {
        if (bytes < sizeof(head) + 1) {
            fprintf(stderr, "a bomb is at least %zu bytes\n", sizeof(head) + 1);
            return -1;
        }
        memset(block, 'a', sizeof(block));
        if (archive_write_data(tar, head, strlen(head)) != (la_ssize_t)strlen(head))
            return -1;
        left -= strlen(head) + 2;
    } else
        memset(block, 0, sizeof(block));
    while (left > 0) {
        size_t n = left < sizeof(block) ? (size_t)left : sizeof(block);
        if (archive_write_data(tar, block, n) != (la_ssize_t)n)
            return -1;
        left -= n;
    }
    return bomb && archive_write_data(tar, "\"}", 2) != 2 ? -1 : 0;
}

/* Sets the type (and size) of e from KIND; -1 for an unknown kind. */
static int entry_type(struct archive_entry *e, const char *kind, const char *arg, size_t *len, uint64_t *filler)
{
    *len = 0, *filler = 0;
    if (strcmp(kind, "file") == 0) {
        archive_entry_set_filetype(e, AE_IFREG);
        *len = arg ? strlen(arg) : 0;
        archive_entry_set_size(e, (la_int64_t)*len);
    } else if (strcmp(kind, "dir") == 0) {
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0755);
    } else if (strcmp(kind, "symlink") == 0) {
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, arg);
    } else if (strcmp(kind, "hardlink") == 0) {
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, arg);
    } else if (strcmp(kind, "zeros") == 0 || strcmp(kind, "bomb") == 0) {
        *filler = arg ? strtoull(arg, NULL, 10) : 0;
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, (la_int64_t)*filler);
    } else
        return -1;
    return 0;
}

static int add_entry(craft *c, struct archive *tar, const char *spec)
{
    char *copy = strdup(spec);
    char *kind = strtok(copy, ":");
    char *name = strtok(NULL, ":");
    char *arg = strtok(NULL, "");
    struct archive_entry *e = archive_entry_new();
    size_t len;
    uint64_t filler;
    int ok = kind && name;
    if (ok) {
        archive_entry_set_pathname(e, name);
        archive_entry_set_mtime(e, 1700000000, 0);
        archive_entry_set_perm(e, 0644);
        ok = entry_type(e, kind, arg, &len, &filler) == 0;
    }
    int bomb = ok && strcmp(kind, "bomb") == 0;
    ok = ok && archive_write_header(tar, e) == ARCHIVE_OK &&
         (len == 0 || archive_write_data(tar, arg, len) == (la_ssize_t)len) &&
         (filler == 0 || write_filler(tar, filler, bomb) == 0);
    /* a bomb is no content a manifest could list: it stands for the manifest */
    if (ok && c->crafted_sources && !bomb)
        ok = record_for_manifest(c, e, name, len ? arg : "", len, filler) == 0;
    archive_entry_free(e);
    free(copy);
    return ok ? 0 : -1;
}

/* ---- copying a real archive ------------------------------------------------ */
/* The object of `array` whose string `key` is `value`. */
static json_t *element_with(json_t *array, const char *key, const char *value)
{
    size_t i;
    json_t *element;
    json_array_foreach (array, i, element)
        if (strcmp(json_string_value(json_object_get(element, key)) ?: "", value) == 0)
            return element;
    return NULL;
}

static json_t *source_named(json_t *manifest, const char *name)
{
    return element_with(json_object_get(manifest, "sources"), "name", name);
}

/* The manifest entry of relative path `path` in source `source`. */
static json_t *manifest_entry(json_t *source, const char *path)
{
    return element_with(json_object_get(source, "entries"), "path", path);
}

static int read_file(zb_buf *out, const char *path)
{
    FILE *f = fopen(path, "rb");
    char block[65536];
    size_t n;
    int rc = 0;
    if (!f)
        return -1;
    while (rc == 0 && (n = fread(block, 1, sizeof(block), f)) > 0)
        rc = zb_buf_append(out, block, n);
    fclose(f);
    return rc;
}

static void content_hash(char hex[ZB_HASH_HEX_BYTES], const zb_buf *content)
{
    zb_hash h;
    zb_hash_init(&h);
    zb_hash_update(&h, content->data, content->len);
    zb_hash_final_hex(&h, hex);
}

static int is_replaced_toc(const craft *c, const zb_entry_info *info)
{
    return c->toc_file && strcmp(info->source_kind, "pg") == 0 && strcmp(info->source_name, c->toc_source) == 0 &&
           strcmp(info->relative, "toc.json") == 0;
}

static int copy_data(struct archive *tar, zb_archive_reader *r)
{
    static char buf[65536];
    ssize_t n;
    while ((n = zb_archive_reader_read(r, buf, sizeof(buf))) > 0)
        if (archive_write_data(tar, buf, (size_t)n) != n)
            return -1;
    return n < 0 ? -1 : 0;
}

/* Every entry of the archive, the toc of --set-toc replaced by toc; the
 * reader's manifest then lists every entry (keep_entries). */
static int copy_entries(struct archive *tar, zb_archive_reader *r, const craft *c, const zb_buf *toc)
{
    struct archive_entry *e;
    zb_entry_info info;
    int rc = 0;
    while (rc == 0 && (rc = zb_archive_reader_next(r, &e, &info)) > 0) {
        if (is_replaced_toc(c, &info)) {
            archive_entry_set_size(e, (la_int64_t)toc->len);
            rc = archive_write_header(tar, e) == ARCHIVE_OK &&
                         archive_write_data(tar, toc->data, toc->len) == (la_ssize_t)toc->len
                     ? 0
                     : -1;
            continue;
        }
        rc = archive_write_header(tar, e) == ARCHIVE_OK ? copy_data(tar, r) : -1;
    }
    return rc;
}

/* The manifest records the replaced toc's size and hash. */
static int record_toc(json_t *manifest, const craft *c, const zb_buf *toc)
{
    json_t *want = manifest_entry(source_named(manifest, c->toc_source), "toc.json");
    char hex[ZB_HASH_HEX_BYTES];
    if (!want) {
        fprintf(stderr, "no toc.json of source %s\n", c->toc_source);
        return -1;
    }
    content_hash(hex, toc);
    json_object_set_new(want, "size", json_integer((json_int_t)toc->len));
    json_object_set_new(want, "hash", json_string(hex));
    return 0;
}

static int alter_row_hash(json_t *manifest, const char *table)
{
    int altered = 0;
    size_t i, j;
    json_t *source, *t;
    json_array_foreach (json_object_get(manifest, "sources"), i, source)
        json_array_foreach (json_object_get(json_object_get(source, "summary"), "tables"), j, t)
            if (strcmp(json_string_value(json_object_get(t, "table")) ?: "", table) == 0)
                altered = !json_object_set_new(t, "rowset", json_string("0123456789abcdef0123456789abcdef"));
    if (!altered)
        fprintf(stderr, "no table %s in the manifest\n", table);
    return altered ? 0 : -1;
}

static int alter_manifest(json_t *manifest, const craft *c)
{
    if (c->row_hash_table && alter_row_hash(manifest, c->row_hash_table) < 0)
        return -1;
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

/* Copies --rewrite/--copy ARCHIVE into tar; *manifest its manifest, altered
 * as asked. The key may be "" or "-": an unencrypted archive. Read as an
 * attacker would: whoever signed it, or nobody. */
static int copy_archive(struct archive *tar, const craft *c, json_t **manifest)
{
    zb_read_keys keys;
    zb_archive_reader *r = NULL;
    zb_buf toc = ZB_BUF_INIT;
    memset(&keys, 0, sizeof(keys));
    keys.key_file = c->rewrite_key[0] && strcmp(c->rewrite_key, "-") != 0 ? c->rewrite_key : NULL;
    keys.allow_untrusted = 1;
    if (c->toc_file && read_file(&toc, c->toc_file) < 0) {
        fprintf(stderr, "cannot read %s\n", c->toc_file);
        zb_buf_free(&toc);
        return -1;
    }
    int rc = zb_archive_reader_open(&r, c->rewrite_archive, &keys);
    if (rc == 0) {
        zb_archive_reader_keep_entries(r);
        rc = copy_entries(tar, r, c, &toc);
    }
    if (rc < 0)
        fprintf(stderr, "cannot copy %s: %s %s\n", c->rewrite_archive, zb_error_message(),
                archive_error_string(tar) ?: "");
    if (rc == 0)
        *manifest = json_deep_copy(zb_archive_reader_manifest(r));
    if (rc == 0 && c->toc_file)
        rc = record_toc(*manifest, c, &toc);
    if (rc == 0)
        rc = alter_manifest(*manifest, c);
    zb_archive_reader_free(r);
    zb_buf_free(&toc);
    return rc;
}

static int write_manifest(struct archive *tar, json_t *manifest, int mode)
{
    char *text = json_dumps(manifest, JSON_COMPACT);
    struct archive_entry *e = archive_entry_new();
    size_t len = text ? strlen(text) : 0;
    archive_entry_set_pathname(e, ZB_MANIFEST_NAME);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, mode);
    archive_entry_set_size(e, (la_int64_t)len);
    int rc = text && archive_write_header(tar, e) == ARCHIVE_OK && archive_write_data(tar, text, len) == (la_ssize_t)len
                 ? 0
                 : -1;
    archive_entry_free(e);
    free(text);
    return rc;
}

/* ---- the tar stream --------------------------------------------------------- */
static la_ssize_t push(struct archive *a, void *client, const void *buf, size_t len)
{
    (void)a;
    return zb_stage_write(client, buf, len) < 0 ? -1 : (la_ssize_t)len;
}

/* The copied entries, the named entries, then the manifest (the copied
 * archive's, or the one --manifest builds), as tar into first. */
static int write_tar(craft *c, zb_stage *first)
{
    json_t *manifest = NULL;
    struct archive *tar = archive_write_new();
    archive_write_set_format_pax_restricted(tar);
    archive_write_set_bytes_in_last_block(tar, 1);
    int rc = archive_write_open2(tar, first, NULL, push, NULL, NULL) == ARCHIVE_OK ? 0 : -1;
    if (rc == 0 && c->rewrite_archive)
        rc = copy_archive(tar, c, &manifest);
    for (int i = 0; rc == 0 && i < c->entry_count; i++)
        if ((rc = add_entry(c, tar, c->entries[i])) < 0)
            fprintf(stderr, "cannot add %s: %s\n", c->entries[i], archive_error_string(tar) ?: "bad entry");
    if (rc == 0 && c->crafted_sources)
        manifest = json_pack("{s:i, s:O}", "format", ZB_MANIFEST_FORMAT, "sources", c->crafted_sources);
    if (rc == 0 && manifest && (rc = write_manifest(tar, manifest, c->rewrite_archive ? 0600 : 0644)) < 0)
        fprintf(stderr, "cannot add the manifest: %s\n", archive_error_string(tar));
    if (rc == 0)
        rc = archive_write_close(tar) == ARCHIVE_OK ? 0 : -1;
    archive_write_free(tar);
    json_decref(manifest);
    return rc;
}

/* The stream compressed straight into the sealed file. */
static int craft_streamed(craft *c)
{
    output o = {-1, NULL};
    zb_stage *zstd = NULL;
    int rc = output_open(&o, c, ZB_SEAL_DEFAULT_CHUNK);
    if (rc == 0 && !(zstd = zstd_stage_new(!c->no_checksum, c->window_log, o.first)))
        rc = -1;
    if (rc == 0)
        rc = write_tar(c, zstd) < 0 || zb_stage_close(zstd) < 0 ? -1 : 0;
    if (zstd) /* frees the chain behind it */
        o.first = zstd;
    output_close(&o);
    return rc;
}

/* --one-chunk: the compressed stream first, then one chunk of its size. */
static int craft_one_chunk(craft *c)
{
    output o = {-1, NULL};
    zb_stage *keep = keep_stage_new(), *zstd = keep ? zstd_stage_new(!c->no_checksum, c->window_log, keep) : NULL;
    zb_buf *body = keep ? &((keep_stage *)keep)->kept : NULL;
    int rc = zstd ? 0 : -1;
    if (rc == 0)
        rc = write_tar(c, zstd) < 0 || zb_stage_close(zstd) < 0 ? -1 : 0;
    if (rc == 0 && body->len < ZB_SEAL_MIN_CHUNK) {
        fprintf(stderr, "--one-chunk: the compressed stream is %zu bytes, under the smallest chunk\n", body->len);
        rc = -1;
    }
    if (rc == 0)
        rc = output_open(&o, c, (uint32_t)body->len);
    if (rc == 0)
        rc = zb_stage_write(o.first, body->data, body->len) < 0 || zb_stage_close(o.first) < 0 ? -1 : 0;
    output_close(&o);
    zb_stage_free_chain(zstd ? zstd : keep);
    return rc;
}

/* ---- command line ------------------------------------------------------------- */
static int usage(void)
{
    fprintf(stderr,
            "usage: zb-craft-archive (--recipient PUB | --recipient-from ARCHIVE | --no-encryption)\n"
            "           [--sign FILE | --no-sign] [--format 1|2] --out FILE\n"
            "           [--rewrite ARCHIVE KEY | --copy ARCHIVE KEY] [--alter-row-hash S.T]\n"
            "           [--set-summary NAME KEY JSON] [--set-toc NAME FILE] [--manifest]\n"
            "           [--window-log N] [--no-checksum] [--one-chunk] [ENTRY...]\n");
    return 2;
}

/* Every option in one table: a flag sets an int to 1; the others take their
 * values from the arguments that follow, strings as given, numbers as int. */
enum option_kind { FLAG, STRINGS, NUMBER };
#define AT(field) offsetof(craft, field)
static const struct craft_option {
    const char *name;
    enum option_kind kind;
    int values;
    size_t at[3];
} craft_options[] = {
    {"--no-encryption", FLAG, 0, {AT(no_encryption)}},
    {"--no-sign", FLAG, 0, {AT(no_sign)}},
    {"--no-checksum", FLAG, 0, {AT(no_checksum)}},
    {"--one-chunk", FLAG, 0, {AT(one_chunk)}},
    {"--recipient", STRINGS, 1, {AT(recipient)}},
    {"--recipient-from", STRINGS, 1, {AT(recipient_from)}},
    {"--sign", STRINGS, 1, {AT(sign)}},
    {"--out", STRINGS, 1, {AT(out)}},
    {"--alter-row-hash", STRINGS, 1, {AT(row_hash_table)}},
    {"--rewrite", STRINGS, 2, {AT(rewrite_archive), AT(rewrite_key)}},
    {"--copy", STRINGS, 2, {AT(rewrite_archive), AT(rewrite_key)}},
    {"--set-toc", STRINGS, 2, {AT(toc_source), AT(toc_file)}},
    {"--set-summary", STRINGS, 3, {AT(summary_source), AT(summary_key), AT(summary_json)}},
    {"--format", NUMBER, 1, {AT(format)}},
    {"--window-log", NUMBER, 1, {AT(window_log)}},
};
#undef AT

/* One option at argv[*i]; 0 when known and its values present. */
static int parse_option(craft *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "--manifest") == 0) {
        c->crafted_sources = c->crafted_sources ?: json_array();
        return 0;
    }
    for (size_t k = 0; k < sizeof(craft_options) / sizeof(craft_options[0]); k++) {
        const struct craft_option *o = &craft_options[k];
        if (strcmp(a, o->name) != 0 || argc - *i - 1 < o->values)
            continue;
        char *base = (char *)c;
        if (o->kind == FLAG)
            *(int *)(base + o->at[0]) = 1;
        for (int v = 0; o->kind != FLAG && v < o->values; v++) {
            if (o->kind == NUMBER)
                *(int *)(base + o->at[v]) = atoi(argv[*i + 1 + v]);
            else
                *(const char **)(base + o->at[v]) = argv[*i + 1 + v];
        }
        *i += o->values;
        return 0;
    }
    return -1;
}

/* Options, then entries (the first argument not starting with "--"). */
static int parse(craft *c, int argc, char **argv)
{
    c->format = ZB_ARCHIVE_FORMAT_VERSION;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) {
            c->entries = argv + i, c->entry_count = argc - i;
            break;
        }
        if (parse_option(c, argc, argv, &i) < 0)
            return -1;
    }
    int protections = !!c->recipient + !!c->recipient_from + c->no_encryption;
    int altering = c->row_hash_table || c->summary_source || c->toc_file;
    int signing_ok = !(c->sign && (c->no_sign || c->no_encryption));
    /* a copied archive brings its own manifest: --manifest would make a second */
    int manifest_ok = !(c->crafted_sources && c->rewrite_archive);
    return c->out && protections == 1 && (c->format == 1 || c->format == 2) && (!altering || c->rewrite_archive) &&
                   signing_ok && manifest_ok
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    craft c;
    memset(&c, 0, sizeof(c));
    if (sodium_init() < 0 || parse(&c, argc, argv) < 0) {
        json_decref(c.crafted_sources);
        return usage();
    }
    /* one chunk matters only when the stream is sealed */
    int rc = c.one_chunk && !c.no_encryption ? craft_one_chunk(&c) : craft_streamed(&c);
    if (rc < 0) {
        const char *why = zb_error_message();
        fprintf(stderr, "cannot write %s%s%s\n", c.out, why && *why ? ": " : "", why && *why ? why : "");
        unlink(c.out); /* no half-written archive a test could take for a crafted one */
    }
    json_decref(c.crafted_sources);
    return rc < 0 ? 1 : 0;
}

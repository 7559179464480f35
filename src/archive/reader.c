#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/archive/summary_tables.h"
#include "zakpos_backup/archive/trust.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/json.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/stream/hash.h"
#include "zakpos_backup/stream/seal.h"
#include "zakpos_backup/stream/zstd.h"

#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BLOCK (128 * 1024)

typedef struct detached_tables {
    json_t *summary; /* borrowed from the manifest */
    long offset;     /* of the list in manifest_file; -1 once put back */
} detached_tables;
#define MANIFEST_MAX (1024ull * 1024 * 1024)

struct zb_archive_reader {
    int fd;
    char *path;
    zb_archive_header *header;
    zb_reader *chain;
    zb_reader *fd_reader;
    struct archive *tar;
    unsigned char *block;
    FILE *seen;       /* one line per entry read: what the manifest must say */
    json_t *manifest; /* without entries unless keep_entries */
    FILE *manifest_file;
    /* Summaries whose "tables" list is null in the manifest: the list waits
     * in manifest_file until asked for (summary_tables.h). */
    struct detached_tables *detached;
    size_t detached_count, detached_capacity;
    int keep_entries;
    int done;
    int chain_failed; /* a layer below libarchive failed: its message stands */
    uint64_t progress_mark;
    /* The current entry. */
    struct archive_entry *entry;
    int entry_open;
    int entry_is_data;
    int64_t entry_size;
    int64_t hashed; /* logical bytes hashed so far (gaps included) */
    zb_hash hash;
    char *kind_owned;
    char *name_owned;
    char *relative_owned;
    char *hardlink_owned;
    /* A block handed out by read_block but only partly consumed by read(). */
    const unsigned char *pending;
    size_t pending_len;
    int64_t pending_offset;
    int64_t logical_pos;
    int data_eof;
};

static la_ssize_t tar_read_cb(struct archive *a, void *client, const void **buf)
{
    zb_archive_reader *r = client;
    ssize_t n = zb_reader_read(r->chain, r->block, READ_BLOCK);
    if (n < 0) {
        r->chain_failed = 1;
        archive_set_error(a, EIO, "%s", zb_error_message());
        return -1;
    }
    /* Progress counts archive-file bytes, so a bar can use the file size as its total. */
    uint64_t consumed = zb_reader_fd_bytes(r->fd_reader);
    zb_progress_add(consumed - r->progress_mark);
    r->progress_mark = consumed;
    *buf = r->block;
    return n;
}

static int unwrap_key(unsigned char key[ZB_SEAL_KEY_BYTES], const zb_archive_reader *r, const zb_read_keys *keys)
{
    int rc;
    if (keys->key_file) {
        unsigned char *sk = NULL, pk[ZB_KEY_PUBLIC_BYTES];
        if ((rc = zb_keys_load_secret(&sk, pk, keys->key_file)) < 0)
            return rc;
        rc = zb_slots_unwrap_with_key(key, r->header, sk, pk);
        sodium_free(sk);
        if (rc == 1)
            return 0;
        if (rc < 0)
            return rc;
        char fp[64];
        zb_keys_fingerprint(fp, sizeof(fp), pk);
        zb_error_set(ZB_EKEY, "%s was not encrypted for key %s (%s)", r->path, fp, keys->key_file);
        zb_buf who = ZB_BUF_INIT;
        for (size_t i = 0; i < r->header->slot_count; i++) {
            const zb_key_slot *s = &r->header->slots[i];
            if (s->type == ZB_SLOT_X25519) {
                zb_keys_fingerprint(fp, sizeof(fp), s->body);
                zb_buf_printf(&who, "%s%s", who.len ? ", " : "", fp);
            } else if (s->type == ZB_SLOT_ARGON2ID) {
                zb_buf_printf(&who, "%sa passphrase", who.len ? ", " : "");
            }
        }
        zb_error_hint("the archive opens with: %s", who.data ? who.data : "nothing");
        zb_buf_free(&who);
        return ZB_EKEY;
    }
    if (!keys->passphrase_file && !zb_keys_env_has_passphrase())
        return zb_error_set(ZB_EKEY, "%s is encrypted and no key was given", r->path)
                   ? zb_error_hint("give --key SECRETKEYFILE or --passphrase-file FILE (or set %s)",
                                   ZB_ENV_PASSPHRASE_FILE)
                   : 0;
    char *pass = NULL;
    size_t pass_len = 0;
    if ((rc = zb_keys_load_passphrase(&pass, &pass_len, keys->passphrase_file)) < 0)
        return rc;
    rc = zb_slots_unwrap_with_passphrase(key, r->header, pass, pass_len);
    zb_fs_secret_free(pass, pass_len);
    if (rc == 0)
        return zb_error_set(ZB_EKEY, "%s is not protected by a passphrase", r->path)
                   ? zb_error_hint("open it with --key SECRETKEYFILE")
                   : 0;
    if (rc < 0)
        return zb_error_context("%s", r->path);
    return 0;
}

static int open_chain(zb_archive_reader *r, const zb_read_keys *keys)
{
    int rc;
    /* Who wrote the archive and how it is protected are settled on the plain
     * header, before a key is unwrapped or an entry read. */
    if ((rc = zb_trust_check(r->header, r->path, keys)) < 0)
        return rc;
    if ((rc = zb_reader_fd_new(&r->fd_reader, r->fd, r->path)) < 0)
        return rc;
    r->chain = r->fd_reader;
    if (r->header->protection == ZB_PROTECTION_SECRETSTREAM) {
        unsigned char *key = sodium_malloc(ZB_SEAL_KEY_BYTES);
        if (!key)
            return zb_error_set(ZB_ENOMEM, "cannot allocate protected memory");
        zb_reader *unseal = NULL;
        rc = unwrap_key(key, r, keys);
        if (rc == 0)
            rc = zb_reader_unseal_new(&unseal, key, r->header->stream_header, r->header->chunk_size, r->header->raw,
                                      r->header->raw_len, r->chain);
        sodium_free(key);
        if (rc < 0)
            return rc;
        r->chain = unseal;
    }
    zb_reader *zstd = NULL;
    if ((rc = zb_reader_zstd_new(&zstd, r->chain)) < 0)
        return rc;
    r->chain = zstd;
    return 0;
}

int zb_archive_reader_open(zb_archive_reader **out, const char *path, const zb_read_keys *keys)
{
    *out = NULL;
    zb_archive_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    r->fd = -1;
    int rc = 0;
    r->path = zb_strdup(path);
    r->header = malloc(sizeof(*r->header));
    r->block = malloc(READ_BLOCK);
    r->seen = tmpfile();
    if (!r->path || !r->header || !r->block || !r->seen) {
        rc = zb_error_set(ZB_ENOMEM, "cannot set up the archive reader");
        goto done;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = zb_error_errno(errno == ENOENT ? ZB_ENOTFOUND : ZB_EIO, errno, "cannot open %s", path);
        goto done;
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if ((rc = zb_archive_header_read(r->header, r->fd, path)) < 0 || (rc = open_chain(r, keys)) < 0)
        goto done;
    r->tar = archive_read_new();
    if (!r->tar || archive_read_support_format_tar(r->tar) != ARCHIVE_OK ||
        archive_read_open2(r->tar, r, NULL, tar_read_cb, NULL, NULL) != ARCHIVE_OK) {
        rc = r->chain_failed ? zb_error_context("%s", path) /* the layer below says why */
                             : zb_error_set(ZB_EINTEGRITY, "%s: cannot read the tar stream: %s", path,
                                            r->tar ? archive_error_string(r->tar) : "out of memory");
        goto done;
    }
    *out = r;
done:
    if (rc < 0)
        zb_archive_reader_free(r);
    return rc;
}

int zb_archive_reader_is_encrypted(const zb_archive_reader *r) { return r->header->protection != ZB_PROTECTION_NONE; }
uint64_t zb_archive_reader_bytes_in(const zb_archive_reader *r) { return zb_reader_fd_bytes(r->fd_reader); }
static detached_tables *find_detached(zb_archive_reader *r, const json_t *summary)
{
    for (size_t i = 0; summary && i < r->detached_count; i++)
        if (r->detached[i].summary == summary && r->detached[i].offset >= 0)
            return &r->detached[i];
    return NULL;
}

/* Puts a summary's table list back in the manifest, for the callers that
 * read the manifest as JSON. A failure leaves the list null, which they
 * report as missing: never a list shorter than the archive's. */
static void attach_tables(zb_archive_reader *r, json_t *summary)
{
    detached_tables *d = find_detached(r, summary);
    json_t *tables = NULL;
    if (!d)
        return;
    if (zb_summary_tables_load(&tables, r->manifest_file, d->offset) < 0)
        zb_log_warn("%s: %s", r->path, zb_error_message());
    else
        json_object_set_new(summary, "tables", tables);
    d->offset = -1;
}

json_t *zb_archive_reader_manifest(zb_archive_reader *r)
{
    for (size_t i = 0; i < r->detached_count; i++)
        attach_tables(r, r->detached[i].summary);
    return r->manifest;
}

void zb_archive_reader_keep_entries(zb_archive_reader *r) { r->keep_entries = 1; }

static json_t *find_source(zb_archive_reader *r, const char *kind, const char *name)
{
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get(r->manifest, "sources"), i, s) {
        if (strcmp(json_string_value(json_object_get(s, "kind")) ?: "", kind) == 0 &&
            strcmp(json_string_value(json_object_get(s, "name")) ?: "", name) == 0)
            return s;
    }
    return NULL;
}

json_t *zb_archive_reader_manifest_source(zb_archive_reader *r, const char *kind, const char *name)
{
    json_t *s = find_source(r, kind, name);
    if (s)
        attach_tables(r, json_object_get(s, "summary"));
    return s;
}

int zb_archive_reader_each_summary_table(zb_archive_reader *r, const char *kind, const char *name,
                                         zb_entry_visit_fn visit, void *payload)
{
    json_t *summary = json_object_get(find_source(r, kind, name), "summary");
    const detached_tables *d = find_detached(r, summary);
    if (d) {
        int rc = zb_summary_tables_each(r->manifest_file, d->offset, visit, payload);
        return rc < 0 ? rc : 1;
    }
    json_t *tables = json_object_get(summary, "tables");
    if (!json_is_array(tables))
        return 0;
    size_t i;
    json_t *record;
    json_array_foreach (tables, i, record) {
        int rc = visit(record, payload);
        if (rc < 0)
            return rc;
    }
    return 1;
}

static int tar_failure(zb_archive_reader *r, const char *doing)
{
    /* A failure in the layers below (decryption, zstd, the file) carries the real cause. */
    if (r->chain_failed)
        return zb_error_context("%s", r->path);
    return zb_error_set(ZB_EINTEGRITY, "%s: %s: %s", r->path, doing, archive_error_string(r->tar));
}

/* Splits "paths/name/rel" into kind, name and relative; "paths/name/" is the source root ".". */
static int split_name(zb_archive_reader *r, const char *full, char **kind, char **name, char **relative)
{
    const char *slash1 = strchr(full, '/');
    const char *k = slash1 ? zb_manifest_prefix_kind(full, (size_t)(slash1 - full)) : NULL;
    if (!k)
        return zb_error_set(ZB_EUNSAFE, "%s: entry '%s' is outside every source", r->path, full);
    const char *name_start = slash1 + 1;
    const char *slash2 = strchr(name_start, '/');
    size_t name_len = slash2 ? (size_t)(slash2 - name_start) : strlen(name_start);
    *kind = zb_strdup(k);
    *name = strndup(name_start, name_len);
    const char *rel = slash2 ? slash2 + 1 : "";
    size_t rel_len = strlen(rel);
    while (rel_len > 0 && rel[rel_len - 1] == '/')
        rel_len--; /* directories may end in '/' */
    *relative = rel_len ? strndup(rel, rel_len) : zb_strdup(".");
    if (!*kind || !*name || !*relative)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = zb_manifest_check_source_name(*name);
    if (rc < 0)
        return zb_error_set(ZB_EUNSAFE, "%s: entry '%s' has an invalid source name", r->path, full);
    return zb_manifest_check_relative(*relative, r->path);
}

static void clear_current(zb_archive_reader *r)
{
    zb_hash_free(&r->hash);
    free(r->kind_owned);
    free(r->name_owned);
    free(r->relative_owned);
    free(r->hardlink_owned);
    r->kind_owned = r->name_owned = r->relative_owned = r->hardlink_owned = NULL;
    r->entry_open = 0;
}

/* Appends what this entry turned out to be, for the comparison with the manifest. */
static int record_entry(zb_archive_reader *r)
{
    char hex[ZB_HASH_HEX_BYTES];
    if (r->entry_is_data)
        zb_hash_final_hex(&r->hash, hex);
    json_t *e = zb_manifest_entry_new(r->entry, r->relative_owned, r->hardlink_owned,
                                      r->entry_is_data ? (uint64_t)r->hashed : 0, r->entry_is_data ? hex : NULL);
    json_t *line = e ? json_pack("{s:s, s:s, s:o}", "kind", r->kind_owned, "name", r->name_owned, "entry", e) : NULL;
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (!text)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int bad = fprintf(r->seen, "%s\n", text) < 0;
    free(text);
    return bad ? zb_error_errno(ZB_EIO, errno, "cannot write a temporary file") : 0;
}

int zb_archive_reader_read_block(zb_archive_reader *r, const void **data, size_t *len, int64_t *offset)
{
    if (!r->entry_open || !r->entry_is_data || r->data_eof)
        return 0;
    la_int64_t off = 0;
    int rc = archive_read_data_block(r->tar, data, len, &off);
    if (rc == ARCHIVE_EOF) {
        if (r->hashed < r->entry_size)
            zb_hash_update_zeros(&r->hash, (uint64_t)(r->entry_size - r->hashed)); /* a trailing hole */
        r->hashed = r->entry_size;
        r->data_eof = 1;
        return 0;
    }
    if (rc < ARCHIVE_WARN)
        return tar_failure(r, "cannot read entry data");
    if (off < r->hashed)
        return zb_error_set(ZB_EINTEGRITY, "%s: data blocks of %s go backwards", r->path, r->relative_owned);
    if (off > r->hashed)
        zb_hash_update_zeros(&r->hash, (uint64_t)(off - r->hashed));
    zb_hash_update(&r->hash, *data, *len);
    r->hashed = off + (int64_t)*len;
    *offset = off;
    return (rc = zb_check_interrupt()) < 0 ? rc : 1;
}

ssize_t zb_archive_reader_read(zb_archive_reader *r, void *buf, size_t len)
{
    unsigned char *out = buf;
    size_t filled = 0;
    while (filled < len) {
        if (r->pending_len == 0) {
            if (r->data_eof) {
                if (r->logical_pos >= r->entry_size)
                    break;
                size_t zeros = (size_t)(r->entry_size - r->logical_pos) < len - filled
                                   ? (size_t)(r->entry_size - r->logical_pos)
                                   : len - filled;
                memset(out + filled, 0, zeros);
                filled += zeros;
                r->logical_pos += (int64_t)zeros;
                continue;
            }
            const void *d;
            size_t n;
            int64_t off;
            int rc = zb_archive_reader_read_block(r, &d, &n, &off);
            if (rc < 0)
                return rc;
            if (rc == 0 && !r->data_eof)
                break; /* an entry without data (a folder, a link) */
            if (rc == 0)
                continue; /* the end: a trailing hole is read as zeros above */
            r->pending = d;
            r->pending_len = n;
            r->pending_offset = off;
        }
        if (r->pending_offset > r->logical_pos) { /* a hole before the block */
            size_t gap = (size_t)(r->pending_offset - r->logical_pos);
            if (gap > len - filled)
                gap = len - filled;
            memset(out + filled, 0, gap);
            filled += gap;
            r->logical_pos += (int64_t)gap;
            continue;
        }
        size_t n = r->pending_len < len - filled ? r->pending_len : len - filled;
        memcpy(out + filled, r->pending, n);
        r->pending += n;
        r->pending_len -= n;
        r->pending_offset += (int64_t)n;
        r->logical_pos += (int64_t)n;
        filled += n;
    }
    return (ssize_t)filled;
}

static int finish_current(zb_archive_reader *r)
{
    if (!r->entry_open)
        return 0;
    const void *d;
    size_t n;
    int64_t off;
    int rc;
    while ((rc = zb_archive_reader_read_block(r, &d, &n, &off)) > 0)
        ;
    if (rc == 0)
        rc = record_entry(r);
    clear_current(r);
    return rc;
}

/* getline with a ceiling: a crafted manifest may hold one line of a
 * gigabyte, which must not become a gigabyte of memory. The length, -1 at
 * the end, or an error code (never -1). */
static ssize_t read_line(char **line, size_t *cap, FILE *f, const char *path)
{
    size_t len = 0;
    int c;
    /* byte by byte: a line may hold NUL bytes, which fgets would hide */
    while ((c = getc_unlocked(f)) != EOF) {
        if (len + 2 > *cap) {
            if (*cap >= ZB_JSON_MAX_TEXT + 2)
                return zb_error_set(ZB_EUNSAFE, "%s: a manifest line is longer than %u MiB; refused", path,
                                    ZB_JSON_MAX_TEXT >> 20);
            size_t grown = *cap ? *cap * 2 : 4096;
            if (grown > ZB_JSON_MAX_TEXT + 2)
                grown = ZB_JSON_MAX_TEXT + 2;
            char *bigger = realloc(*line, grown);
            if (!bigger)
                return zb_error_set(ZB_ENOMEM, "out of memory");
            *line = bigger;
            *cap = grown;
        }
        (*line)[len++] = (char)c;
        if (c == '\n')
            break;
    }
    if (ferror(f))
        return zb_error_errno(ZB_EIO, errno, "cannot read a temporary file");
    if (len == 0)
        return -1;
    (*line)[len] = '\0';
    return (ssize_t)len;
}

/* A line of the manifest (or of what was read) as JSON, within the limits. */
static int parse_line(json_t **out, const char *line, size_t len, const zb_archive_reader *r)
{
    char what[512];
    snprintf(what, sizeof(what), "%s: a manifest line", r->path);
    return zb_json_parse_limited(out, line, len, what);
}

/* Compares one manifest entry with the next entry that was read. */
static int compare_entry(zb_archive_reader *r, const char *kind, const char *name, json_t *want, char **line,
                         size_t *cap)
{
    const char *path = json_string_value(json_object_get(want, "path"));
    ssize_t n = read_line(line, cap, r->seen, r->path);
    if (n == -1)
        return zb_error_set(ZB_EINTEGRITY, "%s: entry %s/%s listed in the manifest is missing from the archive",
                            r->path, name ? name : "?", path ? path : "?");
    json_t *got = NULL;
    int rc = n < 0 ? (int)n : parse_line(&got, *line, (size_t)n, r);
    if (rc < 0)
        return rc;
    json_t *got_entry = json_object_get(got, "entry");
    const char *got_path = json_string_value(json_object_get(got_entry, "path"));
    int same_source = kind && name && strcmp(json_string_value(json_object_get(got, "kind")) ?: "", kind) == 0 &&
                      strcmp(json_string_value(json_object_get(got, "name")) ?: "", name) == 0;
    if (!same_source || !json_equal(got_entry, want)) {
        const char *what =
            !same_source                                                                     ? "its place"
            : !json_equal(json_object_get(got_entry, "hash"), json_object_get(want, "hash")) ? "content hash"
            : !json_equal(json_object_get(got_entry, "size"), json_object_get(want, "size")) ? "size"
                                                                                             : "metadata";
        rc = zb_error_set(ZB_EINTEGRITY, "%s: entry %s/%s does not match the manifest (%s differs)", r->path,
                          name ? name : "?", got_path ? got_path : (path ? path : "?"), what);
    }
    json_decref(got);
    return rc;
}

static int no_entries_left(zb_archive_reader *r, char **line, size_t *cap)
{
    ssize_t n = read_line(line, cap, r->seen, r->path);
    if (n < -1)
        return (int)n;
    if (n >= 0)
        return zb_error_set(ZB_EINTEGRITY, "%s: the archive holds entries the manifest does not list: %.200s", r->path,
                            *line);
    return 0;
}

static int rewind_seen(zb_archive_reader *r)
{
    if (fflush(r->seen) != 0 || fseek(r->seen, 0, SEEK_SET) != 0)
        return zb_error_errno(ZB_EIO, errno, "cannot read a temporary file");
    return 0;
}

/* The manifest as a whole JSON document: any valid layout, memory in
 * proportion to the number of entries. Used when the streaming pass below
 * does not recognise the layout. */
static int compare_whole_document(zb_archive_reader *r)
{
    int rc;
    long size;
    if (fseek(r->manifest_file, 0, SEEK_END) != 0 || (size = ftell(r->manifest_file)) < 0 ||
        fseek(r->manifest_file, 0, SEEK_SET) != 0)
        return zb_error_errno(ZB_EIO, errno, "cannot read a temporary file");
    if ((unsigned long)size > ZB_JSON_MAX_TEXT)
        return zb_error_set(ZB_EUNSAFE, "%s: the manifest (%ld bytes) is too large to be read as one document", r->path,
                            size)
                   ? zb_error_hint(
                         "only the writer's line-per-entry layout is streamed; `show --entries --json` holds the whole manifest, up to %u MiB",
                         ZB_JSON_MAX_TEXT >> 20)
                   : 0;
    char *text = malloc((size_t)size + 1);
    if (!text)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    if (fread(text, 1, (size_t)size, r->manifest_file) != (size_t)size) {
        free(text);
        return zb_error_errno(ZB_EIO, errno, "cannot read a temporary file");
    }
    json_decref(r->manifest);
    r->manifest = NULL;
    char what[512];
    snprintf(what, sizeof(what), "%s: the manifest", r->path);
    rc = zb_json_parse_limited(&r->manifest, text, (size_t)size, what);
    free(text);
    if (rc == ZB_EFORMAT)
        return zb_error_set(ZB_EINTEGRITY, "%s: the manifest is not valid (%s)", r->path, zb_error_message());
    if (rc < 0)
        return rc;
    if (!json_is_array(json_object_get(r->manifest, "sources")))
        return zb_error_set(ZB_EINTEGRITY, "%s: the manifest is not valid (no sources)", r->path);
    if ((rc = rewind_seen(r)) < 0)
        return rc;
    char *line = NULL;
    size_t cap = 0, i, j;
    json_t *source, *want;
    json_array_foreach (json_object_get(r->manifest, "sources"), i, source) {
        const char *kind = json_string_value(json_object_get(source, "kind"));
        const char *name = json_string_value(json_object_get(source, "name"));
        json_array_foreach (json_object_get(source, "entries"), j, want) {
            if ((rc = compare_entry(r, kind, name, want, &line, &cap)) < 0)
                goto done;
        }
        if (!r->keep_entries)
            json_object_del(source, "entries");
    }
    rc = no_entries_left(r, &line, &cap);
done:
    free(line);
    return rc;
}

/* Parses "head" completed with "]}" (a document or source head whose entry
 * list follows on the next lines). 0 and *out (NULL if it is not JSON), or
 * <0 past a limit. */
static int parse_head(json_t **out, const char *line, size_t len, const zb_archive_reader *r)
{
    zb_buf b = ZB_BUF_INIT;
    *out = NULL;
    int rc = zb_buf_append(&b, line, len);
    if (rc == 0 && (rc = zb_buf_puts(&b, "]}")) == 0)
        rc = parse_line(out, b.data, b.len, r);
    zb_buf_free(&b);
    return rc == ZB_EFORMAT ? 0 : rc;
}

/* A source head, its summary's table list left in the file (at
 * *tables_at, else -1) with null in its place when the list is well formed
 * (summary_tables.h): a database's holds a record per table. */
static int parse_source_head(json_t **out, long *tables_at, const char *line, size_t len, long line_offset,
                             const zb_archive_reader *r)
{
    char what[512];
    size_t start = 0, end = 0;
    *tables_at = -1;
    snprintf(what, sizeof(what), "%s: a manifest line", r->path);
    int found = zb_summary_tables_find(&start, &end, line, len, what);
    if (found < 0)
        return found;
    if (found) {
        zb_buf b = ZB_BUF_INIT;
        int rc = zb_buf_append(&b, line, start);
        if (rc == 0 && (rc = zb_buf_puts(&b, "null")) == 0)
            rc = zb_buf_append(&b, line + end, len - end);
        if (rc == 0)
            rc = parse_head(out, b.data, b.len, r);
        zb_buf_free(&b);
        if (rc < 0)
            return rc;
        if (*out && json_is_null(json_object_get(json_object_get(*out, "summary"), "tables"))) {
            *tables_at = line_offset + (long)start;
            return 0;
        }
        json_decref(*out);
    }
    return parse_head(out, line, len, r);
}

static int note_detached(detached_tables **list, size_t *count, size_t *capacity, json_t *source, long tables_at)
{
    if (tables_at < 0)
        return 0;
    int rc = zb_array_reserve((void **)list, capacity, *count, sizeof(**list), 4);
    if (rc == 0)
        (*list)[(*count)++] = (detached_tables){json_object_get(source, "summary"), tables_at};
    return rc;
}

/* The streaming pass over the layout the writer produces (docs/FORMAT.md):
 * a document head line ending in "sources":[, per source a head line ending
 * in "entries":[, one entry object per line, and "]}" lines closing them.
 * Only the heads are kept; 1 = done, 0 = layout not recognised. */
static int compare_streaming(zb_archive_reader *r)
{
    char *line = NULL, *seen_line = NULL;
    size_t cap = 0, seen_cap = 0;
    ssize_t n = 0;
    int rc = 0, layout_ok = 1, depth = 0; /* 0: before the head, 1: in sources, 2: in entries */
    json_t *doc = NULL, *source = NULL;
    detached_tables *detached = NULL;
    size_t detached_count = 0, detached_capacity = 0;
    long line_offset = 0;
    if (fseek(r->manifest_file, 0, SEEK_SET) != 0 || (rc = rewind_seen(r)) < 0) {
        rc = rc < 0 ? rc : zb_error_errno(ZB_EIO, errno, "cannot read a temporary file");
        goto done;
    }
    while (layout_ok && (line_offset = ftell(r->manifest_file)) >= 0 &&
           (n = read_line(&line, &cap, r->manifest_file, r->path)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ',' || line[n - 1] == ' '))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (depth == 0) {
            if ((rc = parse_head(&doc, line, (size_t)n, r)) < 0)
                goto done;
            layout_ok = doc != NULL && json_is_array(json_object_get(doc, "sources"));
            depth = 1;
        } else if (depth == 1 && strcmp(line, "]}") == 0) {
            depth = 3; /* the document is closed */
        } else if (depth == 1) {
            long tables_at = -1;
            if ((rc = parse_source_head(&source, &tables_at, line, (size_t)n, line_offset, r)) < 0)
                goto done;
            layout_ok = source && json_is_array(json_object_get(source, "entries"));
            if (layout_ok) {
                json_object_del(source, "entries");
                json_array_append(json_object_get(doc, "sources"), source);
                if ((rc = note_detached(&detached, &detached_count, &detached_capacity, source, tables_at)) < 0)
                    goto done;
                depth = 2;
            }
        } else if (depth == 2 && strcmp(line, "]}") == 0) {
            json_decref(source);
            source = NULL;
            depth = 1;
        } else if (depth == 2) {
            json_t *want = NULL;
            if ((rc = parse_line(&want, line, (size_t)n, r)) < 0 && rc != ZB_EFORMAT)
                goto done;
            rc = 0;
            layout_ok = want != NULL;
            if (want)
                rc = compare_entry(r, json_string_value(json_object_get(source, "kind")),
                                   json_string_value(json_object_get(source, "name")), want, &seen_line, &seen_cap);
            json_decref(want);
            if (rc < 0)
                goto done;
        } else {
            layout_ok = 0; /* something after the document */
        }
    }
    if (n < -1) {
        rc = (int)n;
        goto done;
    }
    layout_ok = layout_ok && depth == 3;
    if (layout_ok && (rc = no_entries_left(r, &seen_line, &seen_cap)) < 0)
        goto done;
    if (layout_ok) {
        json_decref(r->manifest);
        r->manifest = doc;
        doc = NULL;
        free(r->detached);
        r->detached = detached;
        r->detached_count = detached_count;
        r->detached_capacity = detached_capacity;
        detached = NULL;
    }
    rc = layout_ok;
done:
    free(detached);
    json_decref(source);
    json_decref(doc);
    free(line);
    free(seen_line);
    return rc;
}

int zb_archive_reader_each_entry(zb_archive_reader *r, const char *kind, const char *name, zb_entry_visit_fn visit,
                                 void *payload)
{
    if (!r->done)
        return zb_error_set(ZB_EFAIL, "%s: the archive was not read to its end", r->path);
    int rc = rewind_seen(r);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (rc == 0 && (n = read_line(&line, &cap, r->seen, r->path)) != -1) {
        json_t *got = NULL;
        if (n < 0 || (rc = parse_line(&got, line, (size_t)n, r)) < 0) {
            rc = n < 0 ? (int)n : rc;
            break;
        }
        if (strcmp(json_string_value(json_object_get(got, "kind")) ?: "", kind) == 0 &&
            strcmp(json_string_value(json_object_get(got, "name")) ?: "", name) == 0)
            rc = visit(json_object_get(got, "entry"), payload);
        json_decref(got);
    }
    free(line);
    return rc;
}

static int compare_with_manifest(zb_archive_reader *r)
{
    int rc = r->keep_entries ? 0 : compare_streaming(r);
    if (rc == 0)
        rc = compare_whole_document(r);
    if (rc < 0)
        return rc;
    if (json_integer_value(json_object_get(r->manifest, "format")) != ZB_MANIFEST_FORMAT)
        return zb_error_set(ZB_EFORMAT, "%s: manifest format %lld is not supported", r->path,
                            (long long)json_integer_value(json_object_get(r->manifest, "format")));
    return 0;
}

/* The manifest goes to a temporary file as it is read: its size follows the
 * number of entries, which must not decide the reader's memory. */
static int read_manifest(zb_archive_reader *r)
{
    int64_t size = archive_entry_size(r->entry);
    if (archive_entry_filetype(r->entry) != AE_IFREG || size <= 0 || (uint64_t)size > MANIFEST_MAX)
        return zb_error_set(ZB_EINTEGRITY, "%s: the manifest entry is malformed", r->path);
    if (!(r->manifest_file = tmpfile()))
        return zb_error_errno(ZB_EIO, errno, "cannot create a temporary file for the manifest");
    const void *d;
    size_t n;
    la_int64_t off;
    int ar;
    while ((ar = archive_read_data_block(r->tar, &d, &n, &off)) == ARCHIVE_OK)
        if (n && fwrite(d, 1, n, r->manifest_file) != n)
            return zb_error_errno(ZB_EIO, errno, "cannot write a temporary file for the manifest");
    if (ar != ARCHIVE_EOF)
        return tar_failure(r, "cannot read the manifest");
    if (fflush(r->manifest_file) != 0)
        return zb_error_errno(ZB_EIO, errno, "cannot write a temporary file for the manifest");
    /* The manifest is the last entry: anything after it was not written by us. */
    struct archive_entry *after = NULL;
    ar = archive_read_next_header(r->tar, &after);
    if (ar == ARCHIVE_OK)
        return zb_error_set(ZB_EINTEGRITY, "%s: an entry follows the manifest", r->path);
    if (ar != ARCHIVE_EOF)
        return tar_failure(r, "cannot read past the manifest");
    /* Drain the end-of-archive padding through every layer so that the zstd
     * and secretstream ends (and anything after them) are checked. */
    unsigned char sink[4096];
    ssize_t got;
    while ((got = zb_reader_read(r->chain, sink, sizeof(sink))) > 0)
        ;
    if (got < 0)
        return zb_error_context("%s", r->path);
    return compare_with_manifest(r);
}

int zb_archive_reader_next(zb_archive_reader *r, struct archive_entry **entry, zb_entry_info *info)
{
    int rc;
    if (r->done)
        return 0;
    if ((rc = finish_current(r)) < 0 || (rc = zb_check_interrupt()) < 0)
        return rc;
    int ar = archive_read_next_header(r->tar, &r->entry);
    if (ar == ARCHIVE_EOF)
        return zb_error_set(ZB_EINTEGRITY, "%s ends without a manifest (it is truncated)", r->path);
    if (ar < ARCHIVE_WARN)
        return tar_failure(r, "cannot read the next entry");
    const char *full = archive_entry_pathname(r->entry);
    if (!full)
        return zb_error_set(ZB_EINTEGRITY, "%s: an entry has no name", r->path);
    if (strcmp(full, ZB_MANIFEST_NAME) == 0) {
        if ((rc = read_manifest(r)) < 0)
            return rc;
        r->done = 1;
        return 0;
    }
    if ((rc = split_name(r, full, &r->kind_owned, &r->name_owned, &r->relative_owned)) < 0) {
        clear_current(r);
        return rc;
    }
    const char *link = archive_entry_hardlink(r->entry);
    if (link) {
        char *lk = NULL, *ln = NULL;
        rc = split_name(r, link, &lk, &ln, &r->hardlink_owned);
        if (rc == 0 && (strcmp(lk, r->kind_owned) != 0 || strcmp(ln, r->name_owned) != 0))
            rc = zb_error_set(ZB_EUNSAFE, "%s: hard link %s points into another source (%s)", r->path, full, link);
        free(lk);
        free(ln);
        if (rc < 0) {
            clear_current(r);
            return rc;
        }
    }
    r->entry_open = 1;
    r->entry_is_data = archive_entry_filetype(r->entry) == AE_IFREG && !link;
    r->entry_size = r->entry_is_data ? archive_entry_size(r->entry) : 0;
    r->hashed = 0;
    r->pending = NULL;
    r->pending_len = 0;
    r->logical_pos = 0;
    r->data_eof = 0;
    zb_hash_init(&r->hash);
    *entry = r->entry;
    info->source_kind = r->kind_owned;
    info->source_name = r->name_owned;
    info->relative = r->relative_owned;
    info->hardlink_relative = r->hardlink_owned;
    return 1;
}

void zb_archive_reader_free(zb_archive_reader *r)
{
    if (!r)
        return;
    clear_current(r);
    if (r->tar)
        archive_read_free(r->tar);
    zb_reader_free_chain(r->chain ? r->chain : r->fd_reader);
    if (r->fd >= 0)
        close(r->fd);
    if (r->seen)
        fclose(r->seen);
    if (r->manifest_file)
        fclose(r->manifest_file);
    json_decref(r->manifest);
    free(r->detached);
    free(r->header);
    free(r->block);
    free(r->path);
    free(r);
}

int zb_archive_reader_read_all(zb_archive_reader *r, uint64_t *entries)
{
    struct archive_entry *e;
    zb_entry_info info;
    uint64_t count = 0;
    int rc;
    while ((rc = zb_archive_reader_next(r, &e, &info)) > 0)
        count++;
    if (entries)
        *entries = count;
    return rc;
}

int zb_archive_describe_header(json_t **out, const char *path)
{
    *out = NULL;
    zb_archive_header *h = malloc(sizeof(*h));
    if (!h)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = zb_archive_header_read_file(h, path);
    struct stat st;
    if (rc == 0 && stat(path, &st) < 0)
        rc = zb_error_errno(ZB_EIO, errno, "cannot stat %s", path);
    if (rc != 0) {
        free(h);
        return rc;
    }
    json_t *slots = json_array(), *signer = json_null();
    for (size_t i = 0; i < h->slot_count; i++) {
        const zb_key_slot *s = &h->slots[i];
        if (s->type == ZB_SLOT_SIGNATURE) {
            char fp[64];
            zb_sign_fingerprint(fp, sizeof(fp), s->body);
            json_decref(signer);
            signer = json_string(fp); /* as the header claims it: readers check it */
        } else if (s->type == ZB_SLOT_X25519) {
            char fp[64];
            zb_keys_fingerprint(fp, sizeof(fp), s->body);
            json_array_append_new(slots, json_pack("{s:s, s:s}", "type", "recipient", "key", fp));
        } else {
            uint64_t ops = 0, mem = 0;
            zb_slot_kdf_params(s, &ops, &mem);
            json_array_append_new(slots, json_pack("{s:s, s:s, s:I, s:I}", "type", "passphrase", "kdf", "argon2id",
                                                   "opslimit", (json_int_t)ops, "memlimit", (json_int_t)mem));
        }
    }
    *out = json_pack("{s:s, s:i, s:s, s:s, s:i, s:o, s:I}", "archive", path, "format_version", h->version, "protection",
                     zb_archive_protection_name(h->protection), "compression", "zstd", "chunk_size", (int)h->chunk_size,
                     "key_slots", slots, "size", (json_int_t)st.st_size);
    if (*out)
        json_object_set_new(*out, "signed_by", signer);
    else
        json_decref(signer);
    free(h);
    return *out ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
}

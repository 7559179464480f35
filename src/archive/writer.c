#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fault.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/stream/spool.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/stream/async.h"
#include "zakpos_backup/stream/hash.h"
#include "zakpos_backup/stream/seal.h"
#include "zakpos_backup/stream/zstd.h"

#include <archive.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One source's place in the manifest spool: its entries are the bytes
 * [spool_start, spool_end) of the spool file. */
typedef struct writer_source {
    char *kind;
    char *name;
    json_t *meta;
    json_t *summary;
    char *summary_text; /* the summary as compact JSON text, when given so (parsed into summary on demand) */
    long spool_start;
    long spool_end;
    uint64_t entry_count;
    uint64_t content_bytes;
} writer_source;

struct zb_archive_writer {
    zb_atomic_file *file;
    zb_stage *chain;    /* async -> zstd -> async -> [seal ->] fd */
    zb_stage *fd_stage; /* the chain's last stage, to count output bytes */
    struct archive *tar;
    FILE *spool; /* manifest entries, one JSON object a line */
    writer_source *sources;
    size_t source_count;
    size_t source_cap;
    writer_source *current;
    /* The entry being written. */
    int in_entry;
    int entry_is_data;
    int64_t entry_size;
    int64_t entry_written;
    char *entry_relative;
    char *entry_hardlink;
    struct archive_entry *entry;
    zb_hash hash;
    uint64_t bytes_in;
    int encrypted;
    int failed;       /* a layer failed: the stream is unusable */
    int stage_failed; /* the failure was below libarchive: its message stands */
    int discarding;   /* being freed: libarchive's final flush goes nowhere */
    int closed;
    time_t created;
};

static int tar_error(zb_archive_writer *w, const char *doing)
{
    w->failed = 1;
    /* When a stage below libarchive failed, its message is the useful one. */
    if (w->stage_failed)
        return zb_error_context("%s", doing);
    return zb_error_set(ZB_EIO, "%s: %s", doing, archive_error_string(w->tar));
}

static la_ssize_t tar_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
    zb_archive_writer *w = client;
    if (w->discarding)
        return (la_ssize_t)len;
    int rc = zb_stage_write(w->chain, buf, len);
    if (rc < 0) {
        w->stage_failed = 1;
        archive_set_error(a, EIO, "%s", zb_error_message());
        return -1;
    }
    return (la_ssize_t)len;
}

/* Archives for recipient keys carry their writer's signature over the whole
 * header: a recipient key is public, so the key slots alone prove nothing
 * about who wrote the archive (docs/SECURITY.md). */
static int sign_header(zb_archive_header *h, const zb_write_keys *keys)
{
    zb_buf path = ZB_BUF_INIT;
    unsigned char *sk = NULL, pk[ZB_SIGN_PUBLIC_BYTES];
    int rc = zb_sign_key_path(&path, keys->signing_key_file, keys->recipient_files[0]);
    if (rc == 0)
        rc = zb_sign_load_secret(&sk, pk, path.data);
    if (rc == 0)
        rc = zb_header_sign(h, sk, pk);
    if (rc == 0) {
        char fingerprint[64];
        zb_sign_fingerprint(fingerprint, sizeof(fingerprint), pk);
        zb_log_detail("the archive is signed by %s (%s)", fingerprint, path.data);
    }
    sodium_free(sk);
    zb_buf_free(&path);
    return rc;
}

static int build_header(zb_archive_header *h, unsigned char data_key[ZB_SEAL_KEY_BYTES], void **seal_state,
                        const zb_archive_write_options *opts)
{
    memset(h, 0, sizeof(*h) - sizeof(h->raw));
    h->version = ZB_ARCHIVE_FORMAT_VERSION;
    h->compression = ZB_COMPRESSION_ZSTD;
    const zb_write_keys *keys = &opts->keys;
    if (keys->no_encryption) {
        h->protection = ZB_PROTECTION_NONE;
        return zb_archive_header_encode(h);
    }
    h->protection = ZB_PROTECTION_SECRETSTREAM;
    h->chunk_size = (uint32_t)(opts->chunk_size ? opts->chunk_size : ZB_SEAL_DEFAULT_CHUNK);
    if (h->chunk_size < ZB_SEAL_MIN_CHUNK || h->chunk_size > ZB_SEAL_MAX_CHUNK)
        return zb_error_set(ZB_EUSAGE, "chunk size %u is out of range (%d to %d)", (unsigned)h->chunk_size,
                            ZB_SEAL_MIN_CHUNK, ZB_SEAL_MAX_CHUNK);
    crypto_secretstream_xchacha20poly1305_keygen(data_key);
    int rc;
    for (size_t i = 0; i < keys->recipient_count; i++) {
        unsigned char pk[ZB_KEY_PUBLIC_BYTES];
        if (h->slot_count == ZB_ARCHIVE_MAX_SLOTS)
            return zb_error_set(ZB_EUSAGE, "at most %d recipients", ZB_ARCHIVE_MAX_SLOTS);
        if ((rc = zb_keys_load_public(pk, keys->recipient_files[i])) < 0 ||
            (rc = zb_slot_wrap_recipient(&h->slots[h->slot_count++], data_key, pk)) < 0)
            return rc;
    }
    if (keys->passphrase_file || keys->use_env_passphrase) {
        char *pass = NULL;
        size_t pass_len = 0;
        if ((rc = zb_keys_load_passphrase(&pass, &pass_len, keys->passphrase_file)) < 0)
            return rc;
        rc = zb_slot_wrap_passphrase(&h->slots[h->slot_count++], data_key, pass, pass_len,
                                     keys->kdf_opslimit ? keys->kdf_opslimit : ZB_KDF_DEFAULT_OPSLIMIT,
                                     keys->kdf_memlimit ? keys->kdf_memlimit : ZB_KDF_DEFAULT_MEMLIMIT);
        zb_fs_secret_free(pass, pass_len);
        if (rc < 0)
            return rc;
    }
    if (h->slot_count == 0)
        return zb_error_set(ZB_EUSAGE, "no way to protect the archive was given")
                   ? zb_error_hint(
                         "give --recipient KEY.pub (or --passphrase-file FILE); --no-encryption writes an unencrypted archive")
                   : 0;
    if ((rc = zb_seal_begin(h->stream_header, data_key, seal_state)) < 0)
        return rc;
    if (keys->recipient_count > 0)
        return sign_header(h, keys);
    return zb_archive_header_encode(h);
}

/* The rings of the two async stages: 4 x 256 KiB each overlap the threads
 * as well as 4 x 1 MiB did (a hand-over costs a lock and a wake-up, a few
 * thousand a GiB) for 6 MiB less resident memory (docs/BENCHMARKS.md). */
#define RING_BUFFER_BYTES (256 * 1024)
#define RING_DEPTH        4

static int open_chain(zb_archive_writer *w, const zb_archive_header *h, void *seal_state,
                      const zb_archive_write_options *opts)
{
    int rc;
    zb_stage *fd = NULL, *seal = NULL;
    if ((rc = zb_stage_fd_new(&fd, zb_atomic_file_fd(w->file), zb_atomic_file_temp_path(w->file))) < 0) {
        if (seal_state)
            sodium_free(seal_state);
        return rc;
    }
    w->fd_stage = fd;
    zb_stage_fd_flush_behind(fd);
    zb_stage *below = fd;
    if (seal_state) {
        if ((rc = zb_stage_seal_new(&seal, seal_state, h->chunk_size, h->raw, h->raw_len, fd)) < 0) {
            zb_stage_free_chain(fd);
            w->fd_stage = NULL;
            return rc;
        }
        below = seal;
    }
    /* Encryption and writing run on their own thread, overlapping with the
     * reading, hashing and compressing upstream. */
    zb_stage *async = NULL;
    if ((rc = zb_stage_async_new(&async, RING_BUFFER_BYTES, RING_DEPTH, below)) < 0) {
        zb_stage_free_chain(below);
        w->fd_stage = NULL;
        return rc;
    }
    below = async;
    int workers = opts->zstd_workers;
    if (workers < 0)
        workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    zb_stage *zstd = NULL;
    if ((rc = zb_stage_zstd_new(&zstd, opts->zstd_level ? opts->zstd_level : ZB_ZSTD_DEFAULT_LEVEL, workers, below)) <
        0) {
        zb_stage_free_chain(below);
        w->fd_stage = NULL;
        return rc;
    }
    /* Compression runs on a thread of its own too: a zstd call can wait for
     * a worker's job (seconds at level 19), and the thread that reads the
     * sources must see a signal within ZB_STOP_SECONDS. */
    if ((rc = zb_stage_async_new(&w->chain, RING_BUFFER_BYTES, RING_DEPTH, zstd)) < 0) {
        zb_stage_free_chain(zstd);
        w->fd_stage = NULL;
        return rc;
    }
    return 0;
}

static int open_tar(zb_archive_writer *w)
{
    w->tar = archive_write_new();
    if (!w->tar)
        return zb_error_set(ZB_ENOMEM, "cannot create a tar writer");
    /* pax: plain ustar headers where they suffice, pax extensions (long
     * names, big files, sub-second and pre-1970 times, xattrs) only where
     * needed. Not "pax restricted": it drops sub-second mtimes unless an
     * entry needs an extension for something else. Entries carry no atime
     * nor ctime (see begin_entry), so whole-second entries stay plain. */
    if (archive_write_set_format_pax(w->tar) != ARCHIVE_OK || archive_write_add_filter_none(w->tar) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(w->tar, 0) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(w->tar, 1) != ARCHIVE_OK ||
        archive_write_open2(w->tar, w, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK)
        return tar_error(w, "cannot start the tar stream");
    return 0;
}

int zb_archive_writer_open(zb_archive_writer **out, const char *final_path, const zb_archive_write_options *opts)
{
    *out = NULL;
    zb_archive_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    w->created = time(NULL);
    w->encrypted = !opts->keys.no_encryption;
    zb_archive_header *h = malloc(sizeof(*h));
    unsigned char *data_key = sodium_malloc(ZB_SEAL_KEY_BYTES);
    void *seal_state = NULL;
    int rc = 0;
    if (!h || !data_key) {
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = build_header(h, data_key, &seal_state, opts)) < 0)
        goto done;
    if ((rc = zb_atomic_file_open(&w->file, final_path, 0600)) < 0)
        goto done;
    if ((rc = zb_fs_write_all(zb_atomic_file_fd(w->file), h->raw, h->raw_len, zb_atomic_file_temp_path(w->file))) < 0)
        goto done;
    rc = open_chain(w, h, seal_state, opts);
    seal_state = NULL; /* owned by the chain now, freed on every path */
    if (rc < 0)
        goto done;
    w->spool = tmpfile();
    if (!w->spool) {
        rc = zb_error_errno(ZB_EIO, errno, "cannot create a temporary file for the manifest");
        goto done;
    }
    if ((rc = open_tar(w)) < 0)
        goto done;
    *out = w;
done:
    if (seal_state)
        sodium_free(seal_state);
    if (data_key)
        sodium_free(data_key);
    free(h);
    if (rc < 0)
        zb_archive_writer_free(w);
    return rc;
}

static int check_state(zb_archive_writer *w, const char *doing)
{
    if (w->failed)
        return zb_error_set(ZB_EFAIL, "cannot %s: the archive stream already failed", doing);
    if (w->closed)
        return zb_error_set(ZB_EFAIL, "cannot %s: the archive is closed", doing);
    return zb_check_interrupt();
}

int zb_archive_writer_begin_source(zb_archive_writer *w, const char *kind, const char *name, json_t *meta)
{
    int rc = check_state(w, "begin a source");
    if (rc == 0 && w->current)
        rc = zb_error_set(ZB_EFAIL, "source %s is still open", w->current->name);
    if (rc == 0 && !zb_manifest_kind_prefix(kind))
        rc = zb_error_set(ZB_EFAIL, "unknown source kind '%s'", kind);
    if (rc == 0)
        rc = zb_manifest_check_source_name(name);
    for (size_t i = 0; rc == 0 && i < w->source_count; i++)
        if (strcmp(w->sources[i].kind, kind) == 0 && strcmp(w->sources[i].name, name) == 0)
            rc = zb_error_set(ZB_EUSAGE, "%s source '%s' is named twice", kind, name);
    if (rc == 0 && w->source_count == w->source_cap) {
        size_t cap = w->source_cap ? w->source_cap * 2 : 8;
        writer_source *grown = realloc(w->sources, cap * sizeof(*grown));
        if (!grown)
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
        else {
            w->sources = grown;
            w->source_cap = cap;
        }
    }
    if (rc < 0) {
        json_decref(meta);
        return rc;
    }
    writer_source *s = &w->sources[w->source_count++];
    memset(s, 0, sizeof(*s));
    s->kind = zb_strdup(kind);
    s->name = zb_strdup(name);
    s->meta = meta ? meta : json_object();
    s->spool_start = s->spool_end = ftell(w->spool);
    w->current = s;
    if (!s->kind || !s->name)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    return 0;
}

int zb_archive_writer_end_source(zb_archive_writer *w, json_t *summary)
{
    if (!w->current || w->in_entry) {
        json_decref(summary);
        return zb_error_set(ZB_EFAIL, "no source to end (or an entry is still open)");
    }
    w->current->summary = summary;
    w->current->spool_end = ftell(w->spool);
    w->current = NULL;
    return 0;
}

int zb_archive_writer_end_source_text(zb_archive_writer *w, char *summary)
{
    if (!summary)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    writer_source *s = w->current;
    int rc = zb_archive_writer_end_source(w, NULL);
    if (rc < 0)
        free(summary);
    else
        s->summary_text = summary;
    return rc;
}

static char *prefixed_name(const writer_source *s, const char *relative)
{
    zb_buf b = ZB_BUF_INIT;
    const char *prefix = zb_manifest_kind_prefix(s->kind);
    int rc = strcmp(relative, ".") == 0 ? zb_buf_printf(&b, "%s/%s/", prefix, s->name)
                                        : zb_buf_printf(&b, "%s/%s/%s", prefix, s->name, relative);
    if (rc < 0) {
        zb_buf_free(&b);
        return NULL;
    }
    return zb_buf_detach(&b);
}

static void clear_entry(zb_archive_writer *w)
{
    zb_hash_free(&w->hash);
    archive_entry_free(w->entry);
    w->entry = NULL;
    free(w->entry_relative);
    free(w->entry_hardlink);
    w->entry_relative = w->entry_hardlink = NULL;
    w->in_entry = 0;
}

int zb_archive_writer_begin_entry(zb_archive_writer *w, struct archive_entry *entry)
{
    int rc = check_state(w, "add an entry");
    if (rc < 0)
        return rc;
    if (!w->current || w->in_entry)
        return zb_error_set(ZB_EFAIL, "an entry was added outside a source or inside another entry");
    const char *relative = archive_entry_pathname(entry);
    const char *hardlink = archive_entry_hardlink(entry);
    if (!relative)
        return zb_error_set(ZB_EFAIL, "an entry of %s has no name", w->current->name);
    if ((rc = zb_manifest_check_relative(relative, w->current->name)) < 0 ||
        (hardlink && (rc = zb_manifest_check_relative(hardlink, w->current->name)) < 0))
        return rc;
    w->entry = archive_entry_clone(entry);
    w->entry_relative = zb_strdup(relative);
    w->entry_hardlink = hardlink ? zb_strdup(hardlink) : NULL;
    char *full = prefixed_name(w->current, relative);
    char *full_link = hardlink ? prefixed_name(w->current, hardlink) : NULL;
    if (!w->entry || !w->entry_relative || !full || (hardlink && (!w->entry_hardlink || !full_link))) {
        free(full);
        free(full_link);
        clear_entry(w);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    archive_entry_set_pathname(w->entry, full);
    /* access and change times are not restored; kept out, they would give
     * every entry a pax extension */
    archive_entry_unset_atime(w->entry);
    archive_entry_unset_ctime(w->entry);
    archive_entry_unset_birthtime(w->entry);
    if (full_link)
        archive_entry_set_hardlink(w->entry, full_link);
    free(full);
    free(full_link);
    w->in_entry = 1;
    /* A hard link carries no data of its own: its first name did. */
    w->entry_is_data = archive_entry_filetype(w->entry) == AE_IFREG && !hardlink;
    w->entry_size = w->entry_is_data ? archive_entry_size(w->entry) : 0;
    if (!w->entry_is_data)
        archive_entry_set_size(w->entry, 0);
    w->entry_written = 0;
    zb_hash_init(&w->hash);
    if (archive_write_header(w->tar, w->entry) < ARCHIVE_WARN)
        return tar_error(w, "cannot write a tar header");
    return 0;
}

/* Checks that len more bytes fit the entry's declared size. */
static int check_room(zb_archive_writer *w, uint64_t len)
{
    if (!w->in_entry || !w->entry_is_data)
        return zb_error_set(ZB_EFAIL, "data written outside a regular-file entry");
    if (len > (uint64_t)(w->entry_size - w->entry_written))
        return zb_error_set(ZB_EINTEGRITY, "%s/%s grew while being read (more than its %lld bytes)", w->current->name,
                            w->entry_relative, (long long)w->entry_size);
    return 0;
}

/* Hands bytes to libarchive; the caller has hashed them. */
static int write_unhashed(zb_archive_writer *w, const void *data, size_t len)
{
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        la_ssize_t n = archive_write_data(w->tar, p, left);
        if (n <= 0)
            return tar_error(w, "cannot write entry data");
        p += n;
        left -= (size_t)n;
    }
    w->entry_written += (int64_t)len;
    w->bytes_in += len;
    zb_progress_add(len);
    return 0;
}

int zb_archive_writer_write(zb_archive_writer *w, const void *data, size_t len)
{
    int rc = check_room(w, len);
    if (rc < 0)
        return rc;
    zb_hash_update(&w->hash, data, len);
    return write_unhashed(w, data, len);
}

int zb_archive_writer_write_zeros(zb_archive_writer *w, uint64_t count)
{
    static const unsigned char zeros[64 * 1024];
    int rc = check_room(w, count);
    if (rc < 0)
        return rc;
    zb_hash_update_zeros(&w->hash, count); /* whole zero blocks cost one small hash each */
    while (count > 0) {
        size_t n = count < sizeof(zeros) ? (size_t)count : sizeof(zeros);
        if ((rc = write_unhashed(w, zeros, n)) < 0)
            return rc;
        count -= n;
    }
    return 0;
}

static int spool_entry(zb_archive_writer *w, const char *hash_hex)
{
    json_t *o =
        zb_manifest_entry_new(w->entry, w->entry_relative, w->entry_hardlink, (uint64_t)w->entry_written, hash_hex);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return zb_error_set(ZB_ENOMEM, "cannot describe %s in the manifest", w->entry_relative);
    int bad = fprintf(w->spool, "%s%s", w->current->entry_count ? ",\n" : "\n", text) < 0;
    free(text);
    if (bad)
        return zb_error_errno(ZB_EIO, errno, "cannot write the manifest spool");
    w->current->entry_count++;
    w->current->content_bytes += (uint64_t)w->entry_written;
    return 0;
}

int zb_archive_writer_end_entry(zb_archive_writer *w)
{
    if (!w->in_entry)
        return zb_error_set(ZB_EFAIL, "no entry to end");
    int rc = 0;
    if (w->entry_written != w->entry_size) {
        rc = zb_error_set(ZB_EINTEGRITY, "%s/%s shrank while being read (%lld of %lld bytes)", w->current->name,
                          w->entry_relative, (long long)w->entry_written, (long long)w->entry_size);
        w->failed = 1;
        goto done;
    }
    if (archive_write_finish_entry(w->tar) < ARCHIVE_WARN) {
        rc = tar_error(w, "cannot finish a tar entry");
        goto done;
    }
    char hex[ZB_HASH_HEX_BYTES];
    zb_hash_final_hex(&w->hash, hex);
    rc = spool_entry(w, w->entry_is_data ? hex : NULL);
done:
    clear_entry(w);
    return rc;
}

int zb_archive_writer_add_file(zb_archive_writer *w, const char *name, const void *data, size_t len, mode_t mode)
{
    return zb_archive_writer_add_parts(w, name, &data, &len, 1, mode);
}

/* A regular file's entry of len bytes, begun. */
static int begin_file(zb_archive_writer *w, const char *name, size_t len, mode_t mode)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, mode);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, w->created, 0);
    int rc = zb_archive_writer_begin_entry(w, e);
    archive_entry_free(e);
    return rc;
}

/* Ends a file begun by begin_file, or drops it when writing it failed. */
static int end_file(zb_archive_writer *w, int rc)
{
    if (rc == 0)
        return zb_archive_writer_end_entry(w);
    if (w->in_entry)
        clear_entry(w);
    return rc;
}

int zb_archive_writer_add_parts(zb_archive_writer *w, const char *name, const void *const *parts, const size_t *lens,
                                size_t count, mode_t mode)
{
    size_t len = 0;
    for (size_t i = 0; i < count; i++)
        len += lens[i];
    int rc = begin_file(w, name, len, mode);
    for (size_t i = 0; rc == 0 && i < count; i++)
        if (lens[i])
            rc = zb_archive_writer_write(w, parts[i], lens[i]);
    return end_file(w, rc);
}

int zb_archive_writer_add_spool(zb_archive_writer *w, const char *name, zb_spool *text, mode_t mode)
{
    char *block = malloc(64 * 1024);
    int rc = block ? begin_file(w, name, (size_t)zb_spool_size(text), mode) : zb_error_set(ZB_ENOMEM, "out of memory");
    ssize_t n = 0;
    while (rc == 0 && (n = zb_spool_read(text, block, 64 * 1024)) > 0)
        rc = zb_archive_writer_write(w, block, (size_t)n);
    if (rc == 0 && n < 0)
        rc = (int)n;
    free(block);
    /* a short entry is refused by end_entry */
    return end_file(w, rc);
}

uint64_t zb_archive_writer_bytes_in(const zb_archive_writer *w) { return w->bytes_in; }

/* The manifest is assembled from pieces so that entries stream from the spool:
 * the document head, then per source its head, its spooled entries and "]}",
 * then the document tail. */
static char *source_head(const writer_source *s, int first)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:I, s:I}", "kind", s->kind, "name", s->name, "prefix",
                          zb_manifest_kind_prefix(s->kind), "meta", s->meta, "entry_count", (json_int_t)s->entry_count,
                          "bytes", (json_int_t)s->content_bytes);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return NULL;
    zb_buf b = ZB_BUF_INIT;
    text[strlen(text) - 1] = '\0'; /* drop the closing brace: the summary and entries follow */
    int rc =
        zb_buf_printf(&b, "%s%s%s", first ? "\n" : ",\n", text, s->summary || s->summary_text ? ",\"summary\":" : "");
    free(text);
    if (rc < 0) {
        zb_buf_free(&b);
        return NULL;
    }
    return zb_buf_detach(&b);
}

static char *document_head(const zb_archive_writer *w)
{
    char created[32], host[256] = "";
    zb_time_format_iso(created, sizeof(created), w->created);
    gethostname(host, sizeof(host) - 1);
    json_t *o =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:b}", "format", ZB_MANIFEST_FORMAT, "tool", "zakpos-backup " ZB_VERSION,
                  "created", created, "host", host, "hash", ZB_HASH_NAME, "encrypted", w->encrypted);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        return NULL;
    zb_buf b = ZB_BUF_INIT;
    text[strlen(text) - 1] = '\0';
    int rc = zb_buf_printf(&b, "%s,\"sources\":[", text);
    free(text);
    if (rc < 0) {
        zb_buf_free(&b);
        return NULL;
    }
    return zb_buf_detach(&b);
}

static int write_raw(zb_archive_writer *w, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        la_ssize_t n = archive_write_data(w->tar, p, len);
        if (n <= 0)
            return tar_error(w, "cannot write the manifest");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int copy_spool_range(zb_archive_writer *w, long start, long end)
{
    char buf[64 * 1024];
    if (fseek(w->spool, start, SEEK_SET) != 0)
        return zb_error_errno(ZB_EIO, errno, "cannot read the manifest spool");
    long left = end - start;
    while (left > 0) {
        size_t want = left < (long)sizeof(buf) ? (size_t)left : sizeof(buf);
        size_t got = fread(buf, 1, want, w->spool);
        if (got != want)
            return zb_error_set(ZB_EIO, "cannot read the manifest spool");
        int rc = write_raw(w, buf, got);
        if (rc < 0)
            return rc;
        left -= (long)got;
    }
    return 0;
}

/* A source's summary as text: the text it was given, or its JSON encoded
 * (*owned: to free). "" when it has none. */
static const char *summary_text(const writer_source *s, char **owned)
{
    *owned = NULL;
    if (s->summary_text)
        return s->summary_text;
    if (!s->summary)
        return "";
    *owned = json_dumps(s->summary, JSON_COMPACT | JSON_PRESERVE_ORDER);
    return *owned;
}

static int write_manifest(zb_archive_writer *w)
{
    static const char source_tail[] = "\n]}";
    static const char doc_tail[] = "\n]}\n";
    static const char entries_head[] = ",\"entries\":[";
    int rc = 0;
    char *doc = document_head(w);
    char **heads = calloc(w->source_count + 1, sizeof(char *));
    char **owned = calloc(w->source_count + 1, sizeof(char *));
    const char **summaries = calloc(w->source_count + 1, sizeof(char *));
    struct archive_entry *e = archive_entry_new();
    if (!doc || !heads || !owned || !summaries || !e) {
        rc = zb_error_set(ZB_ENOMEM, "cannot build the manifest");
        goto done;
    }
    if (fflush(w->spool) != 0) {
        rc = zb_error_errno(ZB_EIO, errno, "cannot write the manifest spool");
        goto done;
    }
    uint64_t total = strlen(doc) + strlen(doc_tail);
    for (size_t i = 0; i < w->source_count; i++) {
        heads[i] = source_head(&w->sources[i], i == 0);
        summaries[i] = summary_text(&w->sources[i], &owned[i]);
        if (!heads[i] || !summaries[i]) {
            rc = zb_error_set(ZB_ENOMEM, "cannot build the manifest");
            goto done;
        }
        total += strlen(heads[i]) + strlen(summaries[i]) + strlen(entries_head) +
                 (uint64_t)(w->sources[i].spool_end - w->sources[i].spool_start) + strlen(source_tail);
    }
    archive_entry_set_pathname(e, ZB_MANIFEST_NAME);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)total);
    archive_entry_set_mtime(e, w->created, 0);
    if (archive_write_header(w->tar, e) < ARCHIVE_WARN) {
        rc = tar_error(w, "cannot write the manifest header");
        goto done;
    }
    if ((rc = write_raw(w, doc, strlen(doc))) < 0)
        goto done;
    for (size_t i = 0; i < w->source_count; i++) {
        if ((rc = write_raw(w, heads[i], strlen(heads[i]))) < 0 ||
            (rc = write_raw(w, summaries[i], strlen(summaries[i]))) < 0 ||
            (rc = write_raw(w, entries_head, strlen(entries_head))) < 0 ||
            (rc = copy_spool_range(w, w->sources[i].spool_start, w->sources[i].spool_end)) < 0 ||
            (rc = write_raw(w, source_tail, strlen(source_tail))) < 0)
            goto done;
    }
    if ((rc = write_raw(w, doc_tail, strlen(doc_tail))) < 0)
        goto done;
    if (archive_write_finish_entry(w->tar) < ARCHIVE_WARN)
        rc = tar_error(w, "cannot finish the manifest");
done:
    for (size_t i = 0; heads && owned && i < w->source_count; i++) {
        free(heads[i]);
        free(owned[i]);
    }
    free(heads);
    free(owned);
    free(summaries);
    free(doc);
    archive_entry_free(e);
    return rc;
}

int zb_archive_writer_close(zb_archive_writer *w)
{
    int rc = check_state(w, "close the archive");
    if (rc < 0)
        return rc;
    if (w->current || w->in_entry)
        return zb_error_set(ZB_EFAIL, "cannot close the archive with source %s still open",
                            w->current ? w->current->name : "?");
    if ((rc = write_manifest(w)) < 0)
        return rc;
    if (archive_write_close(w->tar) != ARCHIVE_OK)
        return tar_error(w, "cannot finish the tar stream");
    if (zb_stage_close(w->chain) < 0) {
        w->failed = 1;
        return zb_error_context("cannot finish the archive");
    }
    ZB_FAULT_POINT("final-flush", zb_atomic_file_temp_path(w->file));
    /* A signal that arrived during the final flush still wins: the run was
     * asked to stop, so nothing is published. */
    if ((rc = zb_check_interrupt()) < 0)
        return rc;
    if ((rc = zb_atomic_file_commit(w->file)) < 0)
        return rc;
    w->closed = 1;
    return 0;
}

void zb_archive_writer_free(zb_archive_writer *w)
{
    if (!w)
        return;
    clear_entry(w);
    w->discarding = 1;
    if (w->tar)
        archive_write_free(w->tar); /* does not call our close: nothing more is written */
    int abandoned = zb_stage_async_abandon(w->chain);
    zb_stage_free_chain(w->chain ? w->chain : w->fd_stage);
    if (abandoned)
        zb_atomic_file_abandon(w->file);
    else
        zb_atomic_file_abort(w->file);
    if (w->spool)
        fclose(w->spool);
    for (size_t i = 0; i < w->source_count; i++) {
        free(w->sources[i].kind);
        free(w->sources[i].name);
        json_decref(w->sources[i].meta);
        json_decref(w->sources[i].summary);
        free(w->sources[i].summary_text);
    }
    free(w->sources);
    free(w);
}

uint64_t zb_archive_writer_source_entries(const zb_archive_writer *w)
{
    return w->current ? w->current->entry_count : 0;
}

json_t *zb_archive_writer_source_summary(const zb_archive_writer *w, const char *kind, const char *name)
{
    for (size_t i = 0; i < w->source_count; i++) {
        writer_source *s = &w->sources[i];
        if (strcmp(s->kind, kind) != 0 || strcmp(s->name, name) != 0)
            continue;
        if (!s->summary && s->summary_text)
            s->summary = json_loads(s->summary_text, 0, NULL);
        return s->summary;
    }
    return NULL;
}

json_t *zb_archive_writer_sources(const zb_archive_writer *w)
{
    json_t *all = json_array();
    for (size_t i = 0; all && i < w->source_count; i++)
        json_array_append_new(all, json_pack("{s:s, s:s, s:I, s:I, s:O*}", "kind", w->sources[i].kind, "name",
                                             w->sources[i].name, "entries", (json_int_t)w->sources[i].entry_count,
                                             "bytes", (json_int_t)w->sources[i].content_bytes, "position",
                                             json_object_get(w->sources[i].meta, "position")));
    return all;
}

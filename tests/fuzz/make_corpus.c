/* Writes seed inputs for the reader's fuzz targets into a folder: a small
 * valid archive as a whole file (selector 1) and its plaintext tar stream
 * (selector 0), so fuzzing starts from inputs that pass every check. With a
 * second folder, also the keyed target's seeds: the same tar stream for each
 * slot kind (selectors 0 and 2) and whole archives sealed with the fuzz keys
 * (selectors 1 and 3). */
#include "fuzz_keys.h"

#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static int save(const char *dir, const char *name, unsigned char selector, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputc(selector, f);
    fwrite(data, 1, len, f);
    return fclose(f);
}

/* The keyed target's seeds for one slot kind. */
static int save_keyed(const char *dir, enum fuzz_slot slot, const void *plain, size_t len)
{
    fuzz_sealer sealer;
    char path[4096];
    snprintf(path, sizeof(path), "%s/sealed.tmp", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    char *file = NULL;
    size_t file_len = 0;
    int rc = fd < 0 || fuzz_sealer_init(&sealer, slot) < 0 || fuzz_seal(fd, &sealer, plain, len) < 0 ? -1 : 0;
    if (fd >= 0)
        close(fd);
    if (rc == 0)
        rc = zb_fs_read_file(&file, &file_len, path, 1 << 20);
    remove(path);
    unsigned char selector = slot == FUZZ_SLOT_PASSPHRASE ? 2 : 0;
    if (rc == 0)
        rc = save(dir, slot == FUZZ_SLOT_PASSPHRASE ? "pass-tar" : "key-tar", selector, plain, len);
    if (rc == 0)
        rc = save(dir, slot == FUZZ_SLOT_PASSPHRASE ? "pass-archive" : "key-archive", selector | 1, file, file_len);
    free(file);
    return rc;
}

int main(int argc, char **argv)
{
    if ((argc != 2 && argc != 3) || sodium_init() < 0) {
        fprintf(stderr, "usage: zb-fuzz-corpus DIR [KEYED_DIR]\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/seed.zbk", argv[1]);
    zb_archive_write_options opts = {0};
    opts.keys.no_encryption = 1;
    zb_archive_writer *w = NULL;
    struct archive_entry *e = archive_entry_new();
    int rc = zb_archive_writer_open(&w, path, &opts);
    if (rc == 0)
        rc = zb_archive_writer_begin_source(w, ZB_SOURCE_PATH, "cfg", NULL);
    if (rc == 0)
        rc = zb_archive_writer_add_file(w, "redis.conf", "save 60 1\n", 10, 0644);
    archive_entry_set_pathname(e, "link");
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_symlink(e, "redis.conf");
    if (rc == 0 && (rc = zb_archive_writer_begin_entry(w, e)) == 0)
        rc = zb_archive_writer_end_entry(w);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "hard");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_hardlink(e, "redis.conf");
    if (rc == 0 && (rc = zb_archive_writer_begin_entry(w, e)) == 0)
        rc = zb_archive_writer_end_entry(w);
    if (rc == 0)
        rc = zb_archive_writer_end_source(w, NULL);
    if (rc == 0)
        rc = zb_archive_writer_begin_source(w, ZB_SOURCE_VOLUME, "data", NULL);
    if (rc == 0)
        rc = zb_archive_writer_add_file(w, "data/db.sqlite", "SQLite format 3", 15, 0600);
    if (rc == 0)
        rc = zb_archive_writer_end_source(w, NULL);
    if (rc == 0)
        rc = zb_archive_writer_close(w);
    zb_archive_writer_free(w);
    archive_entry_free(e);
    char *file = NULL;
    if (rc < 0 || zb_fs_read_text(&file, path, 1 << 20) < 0) {
        fprintf(stderr, "%s\n", zb_error_message());
        return 1;
    }
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    unsigned char *raw = (unsigned char *)file;
    size_t header_len = (size_t)(raw[10] | (raw[11] << 8));
    unsigned long long plain_len = ZSTD_getFrameContentSize(raw + header_len, (size_t)size - header_len);
    if (plain_len == ZSTD_CONTENTSIZE_UNKNOWN || plain_len == ZSTD_CONTENTSIZE_ERROR)
        plain_len = 1 << 20;
    void *plain = malloc(plain_len);
    size_t n = ZSTD_decompress(plain, plain_len, raw + header_len, (size_t)size - header_len);
    if (ZSTD_isError(n) || save(argv[1], "seed-archive", 1, raw, (size_t)size) < 0 ||
        save(argv[1], "seed-tar", 0, plain, n) < 0)
        return 1;
    if (argc == 3 && (save_keyed(argv[2], FUZZ_SLOT_RECIPIENT, plain, n) < 0 ||
                      save_keyed(argv[2], FUZZ_SLOT_PASSPHRASE, plain, n) < 0)) {
        fprintf(stderr, "cannot write the keyed seeds: %s\n", zb_error_message());
        return 1;
    }
    remove(path);
    free(plain);
    free(file);
    return 0;
}

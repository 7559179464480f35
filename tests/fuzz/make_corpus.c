/* Writes seed inputs for the reader's fuzz target into a folder: a small
 * valid archive as a whole file (selector 1) and its plaintext tar stream
 * (selector 0), so fuzzing starts from inputs that pass every check. */
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

int main(int argc, char **argv)
{
    if (argc != 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: zb-fuzz-corpus DIR\n");
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
    remove(path);
    free(plain);
    free(file);
    return 0;
}

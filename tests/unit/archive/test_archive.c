#include "zb_cmocka.h"

#include "zakpos_backup/archive/header.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/archive/writer.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

static void relative_names_are_checked(void **state)
{
    (void)state;
    assert_int_equal(zb_manifest_check_relative(".", "t"), 0);
    assert_int_equal(zb_manifest_check_relative("a/b c/d", "t"), 0);
    assert_int_equal(zb_manifest_check_relative("dir/", "t"), 0);
    assert_int_equal(zb_manifest_check_relative("..a/b..", "t"), 0);
    const char *bad[] = {"", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "./a", "a/./b", "a//b"};
    for (size_t i = 0; i < ZB_ARRAY_LEN(bad); i++)
        assert_int_equal(zb_manifest_check_relative(bad[i], "t"), ZB_EUNSAFE);
    assert_int_equal(zb_manifest_check_source_name("redis_data-1"), 0);
    assert_int_equal(zb_manifest_check_source_name("a/b"), ZB_EUSAGE);
    assert_int_equal(zb_manifest_check_source_name(".."), ZB_EUSAGE);
}

static void header_round_trip_through_a_file(void **state)
{
    (void)state;
    static zb_archive_header h, back;
    unsigned char key[ZB_SEAL_KEY_BYTES], pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(pk, sk);
    crypto_secretstream_xchacha20poly1305_keygen(key);
    h.version = ZB_ARCHIVE_FORMAT_VERSION;
    h.protection = ZB_PROTECTION_SECRETSTREAM;
    h.compression = ZB_COMPRESSION_ZSTD;
    h.chunk_size = 65536;
    h.slot_count = 2;
    assert_int_equal(zb_slot_wrap_recipient(&h.slots[0], key, pk), 0);
    /* The writer's floors: a derivation this cheap makes a passphrase cheap to guess. */
    assert_int_equal(zb_slot_wrap_passphrase(&h.slots[1], key, "pw", 2, 1, ZB_KDF_MIN_MEMLIMIT), ZB_EUSAGE);
    assert_int_equal(
        zb_slot_wrap_passphrase(&h.slots[1], key, "pw", 2, ZB_KDF_MIN_OPSLIMIT, crypto_pwhash_MEMLIMIT_MIN), ZB_EUSAGE);
    assert_int_equal(zb_slot_wrap_passphrase(&h.slots[1], key, "pw", 2, ZB_KDF_MIN_OPSLIMIT, ZB_KDF_MIN_MEMLIMIT), 0);
    assert_int_equal(zb_archive_header_encode(&h), 0);
    FILE *f = tmpfile();
    fwrite(h.raw, 1, h.raw_len, f);
    fflush(f);
    lseek(fileno(f), 0, SEEK_SET);
    assert_int_equal(zb_archive_header_read(&back, fileno(f), "t"), 0);
    fclose(f);
    assert_int_equal(back.raw_len, h.raw_len);
    assert_memory_equal(back.raw, h.raw, h.raw_len);
    assert_int_equal(back.chunk_size, 65536);
    unsigned char out[ZB_SEAL_KEY_BYTES];
    assert_int_equal(zb_slots_unwrap_with_key(out, &back, sk, pk), 1);
    assert_memory_equal(out, key, sizeof(key));
    memset(out, 0, sizeof(out));
    assert_int_equal(zb_slots_unwrap_with_passphrase(out, &back, "pw", 2), 1);
    assert_memory_equal(out, key, sizeof(key));
    assert_int_equal(zb_slots_unwrap_with_passphrase(out, &back, "px", 2), ZB_EKEY);
    unsigned char other_pk[crypto_box_PUBLICKEYBYTES], other_sk[crypto_box_SECRETKEYBYTES];
    crypto_box_keypair(other_pk, other_sk);
    assert_int_equal(zb_slots_unwrap_with_key(out, &back, other_sk, other_pk), 0);
}

static void write_sample(const char *path, const zb_archive_write_options *opts)
{
    zb_archive_writer *w = NULL;
    assert_int_equal(zb_archive_writer_open(&w, path, opts), 0);
    assert_int_equal(zb_archive_writer_begin_source(w, ZB_SOURCE_PATH, "cfg", NULL), 0);
    assert_int_equal(zb_archive_writer_add_file(w, "redis.conf", "save 60 1\n", 10, 0644), 0);
    assert_int_equal(zb_archive_writer_add_file(w, "empty", "", 0, 0600), 0);
    /* Writing more than the declared size is refused, not truncated silently. */
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "grows");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, 2);
    assert_int_equal(zb_archive_writer_begin_entry(w, e), 0);
    assert_int_equal(zb_archive_writer_write(w, "abc", 3), ZB_EINTEGRITY);
    assert_int_equal(zb_archive_writer_write(w, "ab", 2), 0);
    assert_int_equal(zb_archive_writer_end_entry(w), 0);
    archive_entry_set_pathname(e, "../escape");
    assert_int_equal(zb_archive_writer_begin_entry(w, e), ZB_EUNSAFE);
    archive_entry_free(e);
    assert_int_equal(zb_archive_writer_end_source(w, json_pack("{s:i}", "files", 3)), 0);
    assert_int_equal(zb_archive_writer_begin_source(w, ZB_SOURCE_PATH, "cfg", NULL), ZB_EUSAGE);
    assert_int_equal(zb_archive_writer_close(w), 0);
    zb_archive_writer_free(w);
}

/* Every byte before the signature is covered: a change anywhere makes the
 * header unreadable or the signature fail; the signature names its signer. */
static void header_signature_covers_every_byte(void **state)
{
    (void)state;
    static zb_archive_header h, back;
    unsigned char key[ZB_SEAL_KEY_BYTES], pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    unsigned char spk[ZB_SIGN_PUBLIC_BYTES], ssk[ZB_SIGN_SECRET_BYTES], signer[ZB_SIGN_PUBLIC_BYTES];
    crypto_box_keypair(pk, sk);
    crypto_sign_keypair(spk, ssk);
    crypto_secretstream_xchacha20poly1305_keygen(key);
    h.version = ZB_ARCHIVE_FORMAT_VERSION;
    h.protection = ZB_PROTECTION_SECRETSTREAM;
    h.compression = ZB_COMPRESSION_ZSTD;
    h.chunk_size = 65536;
    h.slot_count = 1;
    assert_int_equal(zb_slot_wrap_recipient(&h.slots[0], key, pk), 0);
    assert_int_equal(zb_header_sign(&h, ssk, spk), 0);
    int valid = 0;
    for (size_t at = 0; at <= h.raw_len; at++) {
        FILE *f = tmpfile();
        fwrite(h.raw, 1, h.raw_len, f);
        if (at < h.raw_len) {
            fseek(f, (long)at, SEEK_SET);
            fputc(h.raw[at] ^ 0x01, f);
        }
        fflush(f);
        lseek(fileno(f), 0, SEEK_SET);
        int rc = zb_archive_header_read(&back, fileno(f), "t");
        fclose(f);
        if (rc < 0)
            continue; /* the flip broke the layout: refused before any signature */
        rc = zb_header_signature(signer, &valid, &back, "/nonexistent/t");
        if (at == h.raw_len) {
            assert_int_equal(rc, 1); /* unchanged: valid, by this signer */
            assert_true(valid);
            assert_memory_equal(signer, spk, sizeof(spk));
        } else {
            assert_true(rc == 1 && !valid);
        }
    }
    /* A format-1 header cannot carry a signature slot. */
    h.version = 1;
    h.slot_count = 1;
    assert_int_equal(zb_header_sign(&h, ssk, spk), 0);
    FILE *f = tmpfile();
    fwrite(h.raw, 1, h.raw_len, f);
    fflush(f);
    lseek(fileno(f), 0, SEEK_SET);
    assert_int_equal(zb_archive_header_read(&back, fileno(f), "t"), ZB_EFORMAT);
    fclose(f);
}

static void writer_and_reader_round_trip(void **state)
{
    (void)state;
    char dir[] = "/tmp/zbunit.XXXXXX", path[128], pass[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/a.zbk", dir);
    snprintf(pass, sizeof(pass), "%s/pass", dir);
    assert_int_equal(zb_fs_write_file_atomic(pass, "secret\n", 7, 0600), 0);
    zb_archive_write_options opts = {0};
    opts.keys.passphrase_file = pass;
    opts.keys.kdf_opslimit = ZB_KDF_MIN_OPSLIMIT;
    opts.keys.kdf_memlimit = ZB_KDF_MIN_MEMLIMIT;
    opts.chunk_size = 4096;
    write_sample(path, &opts);

    zb_read_keys keys = {0};
    keys.passphrase_file = pass;
    zb_archive_reader *r = NULL;
    assert_int_equal(zb_archive_reader_open(&r, path, &keys), 0);
    struct archive_entry *e;
    zb_entry_info info;
    assert_int_equal(zb_archive_reader_next(r, &e, &info), 1);
    assert_string_equal(info.source_kind, ZB_SOURCE_PATH);
    assert_string_equal(info.source_name, "cfg");
    assert_string_equal(info.relative, "redis.conf");
    char buf[64];
    assert_int_equal(zb_archive_reader_read(r, buf, sizeof(buf)), 10);
    assert_memory_equal(buf, "save 60 1\n", 10);
    assert_int_equal(zb_archive_reader_read(r, buf, sizeof(buf)), 0);
    assert_int_equal(zb_archive_reader_next(r, &e, &info), 1);
    assert_string_equal(info.relative, "empty");
    assert_int_equal(zb_archive_reader_next(r, &e, &info), 1);
    assert_string_equal(info.relative, "grows");
    assert_int_equal(zb_archive_reader_next(r, &e, &info), 0); /* manifest reached and matched */
    json_t *src = zb_archive_reader_manifest_source(r, ZB_SOURCE_PATH, "cfg");
    assert_non_null(src);
    assert_int_equal(json_integer_value(json_object_get(src, "entry_count")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(src, "summary"), "files")), 3);
    zb_archive_reader_free(r);
    assert_int_equal(zb_fs_remove_tree(dir), 0);
}

static void reader_reports_each_kind_of_damage(void **state)
{
    (void)state;
    char dir[] = "/tmp/zbunit.XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/plain.zbk", dir);
    zb_archive_write_options opts = {0};
    opts.keys.no_encryption = 1;
    write_sample(path, &opts);
    zb_read_keys keys = {0};
    zb_archive_reader *r = NULL;
    uint64_t n = 0;
    assert_int_equal(zb_archive_reader_open(&r, path, &keys), 0);
    assert_int_equal(zb_archive_reader_read_all(r, &n), 0);
    assert_int_equal(n, 3);
    assert_false(zb_archive_reader_is_encrypted(r));
    zb_archive_reader_free(r);

    /* The last byte (zstd checksum) flipped: unencrypted archives still catch it. */
    int fd = open(path, O_RDWR);
    off_t end = lseek(fd, 0, SEEK_END);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, end - 1), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, end - 1), 1);
    close(fd);
    /* A small archive may be decoded whole while opening: either step may report it. */
    int rc = zb_archive_reader_open(&r, path, &keys);
    if (rc == 0)
        rc = zb_archive_reader_read_all(r, &n);
    assert_int_equal(rc, ZB_EINTEGRITY);
    zb_archive_reader_free(r);
    r = NULL;

    assert_int_equal(zb_archive_reader_open(&r, "/nonexistent.zbk", &keys), ZB_ENOTFOUND);
    assert_int_equal(zb_archive_reader_open(&r, "/etc/hostname", &keys), ZB_EFORMAT);
    assert_int_equal(zb_fs_remove_tree(dir), 0);
}

/* Changes "save 60 1" to "save 61 1" inside an unencrypted archive and
 * re-compresses it with a valid checksum: only the manifest can tell. */
static void manifest_catches_changed_content(void **state)
{
    (void)state;
    char dir[] = "/tmp/zbunit.XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/plain.zbk", dir);
    zb_archive_write_options opts = {0};
    opts.keys.no_encryption = 1;
    opts.zstd_workers = 0;
    write_sample(path, &opts);
    FILE *f = fopen(path, "rb");
    static unsigned char file[1 << 20], plain[1 << 20];
    size_t size = fread(file, 1, sizeof(file), f);
    fclose(f);
    size_t header_len = (size_t)(file[10] | (file[11] << 8));
    size_t plain_len = ZSTD_decompress(plain, sizeof(plain), file + header_len, size - header_len);
    assert_false(ZSTD_isError(plain_len));
    unsigned char *hit = memmem(plain, plain_len, "save 60 1", 9);
    assert_non_null(hit);
    hit[6] = '1';
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    size_t clen = ZSTD_compress2(cctx, file + header_len, sizeof(file) - header_len, plain, plain_len);
    ZSTD_freeCCtx(cctx);
    assert_false(ZSTD_isError(clen));
    f = fopen(path, "wb");
    fwrite(file, 1, header_len + clen, f);
    fclose(f);
    zb_read_keys keys = {0};
    zb_archive_reader *r = NULL;
    assert_int_equal(zb_archive_reader_open(&r, path, &keys), 0);
    assert_int_equal(zb_archive_reader_read_all(r, NULL), ZB_EINTEGRITY);
    assert_non_null(strstr(zb_error_message(), "cfg/redis.conf does not match the manifest (content hash differs)"));
    zb_archive_reader_free(r);
    assert_int_equal(zb_fs_remove_tree(dir), 0);
}

ZB_TEST_MAIN(relative_names_are_checked, header_round_trip_through_a_file, header_signature_covers_every_byte,
             writer_and_reader_round_trip, reader_reports_each_kind_of_damage, manifest_catches_changed_content)

/* libFuzzer target for the decrypting reader: every input is read with a
 * known secret key or passphrase (tests/fuzz/fuzz_keys.h), so the fuzzer gets
 * past key unwrapping and authentication into the zstd, tar, name and
 * manifest checks behind them. The first input byte picks what the rest is:
 *   bit 0 clear: a plaintext tar stream, compressed and sealed here under a
 *                valid header, so every mutation reaches the parsers;
 *   bit 0 set:   a whole archive file, header and ciphertext, read as is;
 *   bit 1:       clear = the X25519 key slot and --key, set = the Argon2id
 *                slot and --passphrase-file.
 * Whatever the input, the reader must return an error or success, never crash,
 * hang or leak. */
#include "fuzz_keys.h"
#include "zakpos_backup/common/log.h"

#include "fuzz_read.h"

#include <stdint.h>
#include <sys/mman.h>

/* Argon2id costs a whole-file input may ask for here: the reader's own caps
 * (header.h) allow far more than a fuzzer can spend on one input. */
#define FUZZ_MAX_KDF_OPS ZB_KDF_MIN_OPSLIMIT
#define FUZZ_MAX_KDF_MEM ZB_KDF_MIN_MEMLIMIT

static char key_path[4096], pass_path[4096], dir[64];
static fuzz_sealer sealers[2];

static void remove_key_files(void)
{
    unlink(key_path);
    unlink(pass_path);
    rmdir(dir);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zb-fuzz-keys-XXXXXX");
    if (sodium_init() < 0 || !mkdtemp(dir) || fuzz_write_key_files(dir, key_path, pass_path, sizeof(key_path)) < 0 ||
        fuzz_sealer_init(&sealers[FUZZ_SLOT_RECIPIENT], FUZZ_SLOT_RECIPIENT) < 0 ||
        fuzz_sealer_init(&sealers[FUZZ_SLOT_PASSPHRASE], FUZZ_SLOT_PASSPHRASE) < 0)
        abort();
    /* every input is read with --allow-untrusted, whose warning would be
     * written once per execution: errors only */
    zb_log_setup(ZB_LOG_ERROR, ZB_LOG_FORMAT_TEXT);
    atexit(remove_key_files);
}

/* 1 if a whole-file input asks for Argon2id work beyond the fuzzing budget. */
static int too_costly(int fd)
{
    static zb_archive_header h;
    int costly = 0;
    if (zb_archive_header_read(&h, fd, "fuzz") == 0)
        for (size_t i = 0; i < h.slot_count; i++) {
            uint64_t ops = 0, mem = 0;
            if (h.slots[i].type == ZB_SLOT_ARGON2ID && zb_slot_kdf_params(&h.slots[i], &ops, &mem) == 0 &&
                (ops > FUZZ_MAX_KDF_OPS || mem > FUZZ_MAX_KDF_MEM))
                costly = 1;
        }
    return lseek(fd, 0, SEEK_SET) < 0 || costly;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size == 0)
        return 0;
    int whole_file = data[0] & 1;
    enum fuzz_slot slot = (data[0] & 2) ? FUZZ_SLOT_PASSPHRASE : FUZZ_SLOT_RECIPIENT;
    int fd = memfd_create("zb-fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    int rc = whole_file ? zb_fs_write_all(fd, data + 1, size - 1, "fuzz")
                        : fuzz_seal(fd, &sealers[slot], data + 1, size - 1);
    if (rc < 0 || lseek(fd, 0, SEEK_SET) < 0 || (whole_file && slot == FUZZ_SLOT_PASSPHRASE && too_costly(fd))) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    zb_read_keys keys = {0};
    /* the harness's archives carry no writer signature: the trust check
     * still parses every header (and warns), and everything after it is
     * reached, which is what this target is for */
    keys.allow_untrusted = 1;
    if (slot == FUZZ_SLOT_RECIPIENT)
        keys.key_file = key_path;
    else
        keys.passphrase_file = pass_path;
    fuzz_read_archive(path, &keys);
    close(fd);
    return 0;
}

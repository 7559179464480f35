#include "zakpos_backup/command/verify.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/timeutil.h"

#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>

static const char help[] =
    "usage: zakpos-backup verify (--key FILE | --passphrase-file FILE) ARCHIVE\n"
    "\n"
    "Reads the whole archive: checks the header, every encrypted chunk's\n"
    "authentication tag, the compressed stream's checksum, and every entry's\n"
    "size, metadata and content hash against the manifest. Exits 0 only if\n"
    "everything is intact; otherwise names what failed (exit 6 for damage,\n"
    "7 for a wrong key or passphrase, 5 for a file that is not an archive).\n"
    "\n"
    "  --key FILE               the secret key (from keygen) the archive was made for\n"
    "  --passphrase-file FILE   the passphrase; also ZAKPOS_BACKUP_PASSPHRASE_FILE\n"
    "                           or ZAKPOS_BACKUP_PASSPHRASE\n"
    "\n"
    "On success prints one line on stdout: verified ARCHIVE (N entries, SIZE).\n";

int zb_cmd_verify(int argc, char **argv)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, ZB_OPT_KEY},
        {"passphrase-file", required_argument, NULL, ZB_OPT_PASSPHRASE_FILE},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    zb_read_keys keys = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_OPT_KEY: keys.key_file = optarg; break;
        case ZB_OPT_PASSPHRASE_FILE: keys.passphrase_file = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("verify", argv);
        }
    }
    if (optind != argc - 1)
        return zb_cli_usage_error("verify", "give exactly one ARCHIVE");
    const char *path = argv[optind];
    double started = zb_time_monotonic();
    struct stat st;
    zb_archive_reader *r = NULL;
    uint64_t entries = 0;
    zb_progress_begin("verify", stat(path, &st) == 0 ? (uint64_t)st.st_size : 0);
    int rc = zb_archive_reader_open(&r, path, &keys);
    if (rc == 0)
        rc = zb_archive_reader_read_all(r, &entries);
    zb_progress_end();
    if (rc == 0) {
        char size[32], took[32];
        zb_format_bytes(size, sizeof(size), zb_archive_reader_bytes_in(r));
        zb_format_duration(took, sizeof(took), zb_time_monotonic() - started);
        zb_log_detail("verified in %s", took);
        printf("verified %s (%llu entries, %s)\n", path, (unsigned long long)entries, size);
    } else {
        zb_error_context("verify failed");
    }
    zb_archive_reader_free(r);
    return rc;
}

#include "zakpos_backup/command/sign.h"
#include "zakpos_backup/archive/reader.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: zakpos-backup sign --key FILE --signing-key FILE.sign ARCHIVE...\n"
    "\n"
    "Vouches for archives written before archives were signed (format 1), so\n"
    "that verify, restore, drill and scheduled verifications accept them: each\n"
    "ARCHIVE is read whole with the secret key and verified as verify does, and\n"
    "only then is a detached signature of its header written beside it as\n"
    "ARCHIVE.sig. A signature says 'this is mine': sign only archives you know\n"
    "your own hosts wrote (a recipient key is public, so anyone could have\n"
    "written one for it). An archive that already carries a signature is left\n"
    "as it is.\n"
    "\n"
    "  --key FILE           the secret key the archives were made for\n"
    "  --signing-key FILE   the signing key to vouch with (keygen's FILE.sign; a\n"
    "                       reader trusts it when its key file was made with it,\n"
    "                       or through --trust FILE.signer)\n"
    "\n"
    "Prints one line per archive on stdout: signed ARCHIVE by SIGNER, or\n"
    "already signed ARCHIVE by SIGNER.\n";

static int has_recipient_slot(const zb_archive_header *h)
{
    for (size_t i = 0; i < h->slot_count; i++)
        if (h->slots[i].type == ZB_SLOT_X25519)
            return 1;
    return 0;
}

/* Verifies the whole archive, then signs the very header that was verified. */
static int sign_one(const char *path, const char *key_file, const unsigned char *sk, const unsigned char *pk)
{
    zb_archive_header *before = malloc(sizeof(*before)), *after = malloc(sizeof(*after));
    zb_archive_reader *r = NULL;
    unsigned char signer[ZB_SIGN_PUBLIC_BYTES];
    char fingerprint[64];
    int valid = 0, rc = before && after ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    if (rc == 0)
        rc = zb_archive_header_read_file(before, path);
    if (rc == 0 && (before->protection == ZB_PROTECTION_NONE || !has_recipient_slot(before)))
        rc = zb_error_set(ZB_EUSAGE, "%s is not encrypted for a recipient key: there is nothing to vouch for", path)
                 ? zb_error_hint(
                       "an unencrypted archive proves nothing about its writer; a passphrase archive is "
                       "authenticated by the passphrase itself")
                 : 0;
    if (rc == 0 && (rc = zb_header_signature(signer, &valid, before, path)) == 1 && valid) {
        zb_sign_fingerprint(fingerprint, sizeof(fingerprint), signer);
        printf("already signed %s by %s\n", path, fingerprint);
        rc = 0;
        goto done;
    }
    if (rc < 0)
        goto done;
    zb_read_keys keys = {0};
    keys.key_file = key_file;
    keys.vouching = 1;
    if ((rc = zb_archive_reader_open(&r, path, &keys)) < 0 || (rc = zb_archive_reader_read_all(r, NULL)) < 0)
        goto done;
    if ((rc = zb_archive_header_read_file(after, path)) < 0)
        goto done;
    if (after->raw_len != before->raw_len || memcmp(after->raw, before->raw, before->raw_len) != 0) {
        rc = zb_error_set(ZB_EINTEGRITY, "%s changed while it was verified; it was not signed", path);
        goto done;
    }
    if ((rc = zb_header_sign_detached(path, before, sk, pk)) < 0)
        goto done;
    zb_sign_fingerprint(fingerprint, sizeof(fingerprint), pk);
    printf("signed %s by %s\n", path, fingerprint);
done:
    if (rc < 0)
        zb_error_context("cannot sign %s", path);
    zb_archive_reader_free(r);
    free(before);
    free(after);
    return rc;
}

int zb_cmd_sign(zb_context *ctx, int argc, char **argv)
{
    enum { OPT_SIGNING_KEY = ZB_OPT_COMMAND_BASE };
    static const struct option local[] = {
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "sign", local) < 0)
        return zb_error_code();
    zb_sign_request req = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_KEY_FILE): req.key_file = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_SIGNING_KEY_FILE): req.signing_key_file = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("sign", argv);
        }
    }
    req.archives = (const char *const *)argv + optind;
    req.archive_count = (size_t)(argc - optind);
    return zb_sign_run(ctx, &req);
}

int zb_sign_run(zb_context *ctx, const zb_sign_request *req)
{
    (void)ctx; /* signing reads no configuration */
    if (!req->key_file || !req->signing_key_file)
        return zb_cli_usage_error("sign", "--key FILE and --signing-key FILE.sign are required");
    if (req->archive_count == 0)
        return zb_cli_usage_error("sign", "give at least one ARCHIVE");
    unsigned char *sk = NULL, pk[ZB_SIGN_PUBLIC_BYTES];
    int rc = zb_sign_load_secret(&sk, pk, req->signing_key_file);
    for (size_t i = 0; rc == 0 && i < req->archive_count; i++)
        rc = sign_one(req->archives[i], req->key_file, sk, pk);
    sodium_free(sk);
    return rc;
}

#include "zakpos_backup/command/keygen.h"
#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"

#include <getopt.h>
#include <stdio.h>

static const char help[] =
    "usage: zakpos-backup keygen --out FILE\n"
    "       zakpos-backup keygen --add-signing-key FILE\n"
    "\n"
    "Creates the keys of one backup host and the place that restores its archives:\n"
    "  FILE         restore side (mode 0600): the secret key that opens the\n"
    "               archives, and the signer it trusts (FILE.sign's public half)\n"
    "  FILE.pub     backup host: the recipient key archives are encrypted for\n"
    "  FILE.sign    backup host (mode 0600): the key it signs its archives with\n"
    "  FILE.signer  the signer's public key, for --trust / repository.trust on\n"
    "               readers whose key file was made with another signer\n"
    "Copy FILE.pub and FILE.sign to the backup host; keep FILE elsewhere: it is\n"
    "what opens the archives. Existing files are never overwritten.\n"
    "\n"
    "--add-signing-key FILE gives a key pair made before archives were signed a\n"
    "signing key: it writes FILE.sign and FILE.signer and adds the signer line\n"
    "to FILE (rewritten atomically, mode 0600).\n"
    "\n"
    "On success prints the path of the public key (with --add-signing-key: of\n"
    "the signing key) on stdout.\n";

static int add_signing_key(const char *secret_path)
{
    int rc = zb_keys_add_signing_key(secret_path);
    if (rc < 0)
        return rc;
    char sign_path[4096];
    snprintf(sign_path, sizeof(sign_path), "%s.sign", secret_path);
    zb_log_info("added a signing key to %s: copy %s to the backup host", secret_path, sign_path);
    printf("%s\n", sign_path);
    return 0;
}

int zb_cmd_keygen(zb_context *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},
        {"add-signing-key", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    zb_keygen_request req = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
        switch (opt) {
        case 'o': req.out = optarg; break;
        case 'a': req.add_signing_key_to = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("keygen", argv);
        }
    }
    if (optind < argc)
        return zb_cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
    return zb_keygen_run(ctx, &req);
}

int zb_keygen_run(zb_context *ctx, const zb_keygen_request *req)
{
    const char *out = req->out, *add_to = req->add_signing_key_to;
    if (out && add_to)
        return zb_cli_usage_error("keygen", "give --out FILE or --add-signing-key FILE, not both");
    if (add_to)
        return add_signing_key(add_to);
    if (!out)
        return zb_cli_usage_error("keygen", "--out FILE is required");
    int rc = zb_keys_generate(out);
    if (rc < 0)
        return rc;
    unsigned char pk[ZB_KEY_PUBLIC_BYTES];
    char pub_path[4096], fingerprint[64];
    snprintf(pub_path, sizeof(pub_path), "%s.pub", out);
    if ((rc = zb_keys_load_public(pk, pub_path)) < 0)
        return rc;
    zb_keys_fingerprint(fingerprint, sizeof(fingerprint), pk);
    zb_log_info("created key %s: secret key %s, public key %s, signing key %s.sign (signer %s.signer)", fingerprint,
                out, pub_path, out, out);
    zb_context_print(ctx, "%s\n", pub_path);
    return 0;
}

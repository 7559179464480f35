#include "zakpos_backup/command/keygen.h"
#include "zakpos_backup/archive/keys.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"

#include <getopt.h>
#include <stdio.h>

static const char help[] =
    "usage: zakpos-backup keygen --out FILE\n"
    "\n"
    "Creates an X25519 key pair: FILE holds the secret key (mode 0600) and\n"
    "FILE.pub the public key. Give FILE.pub to `backup --recipient` on the\n"
    "backup host; keep FILE somewhere else: it is what opens the archives.\n"
    "Existing files are never overwritten.\n"
    "\n"
    "On success prints the path of the public key on stdout.\n";

int zb_cmd_keygen(int argc, char **argv)
{
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("keygen", argv);
        }
    }
    if (optind < argc)
        return zb_cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
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
    zb_log_info("created key %s: secret key %s, public key %s", fingerprint, out, pub_path);
    printf("%s\n", pub_path);
    return 0;
}

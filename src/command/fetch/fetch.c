#include "zakpos_backup/command/fetch.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/archive/trust.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/remote/copy.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: zakpos-backup fetch --remote NAME [--out DIR] (ARCHIVE | latest)\n"
    "\n"
    "Downloads an archive from a configured remote ([remote NAME] in the\n"
    "configuration) into DIR (default: the current folder) and prints its path.\n"
    "The file appears under its name only once complete; an existing file is\n"
    "never replaced (exit 9). 'latest' is the newest archive on the remote.\n"
    "\n"
    "verify, restore, show and drill also read an ARCHIVE given as remote:NAME/ARCHIVE\n"
    "or remote:NAME/latest, through a temporary download ($TMPDIR, else /var/tmp).\n"
    "\n"
    "The download's header is checked as verify checks it, without decrypting\n"
    "anything, before the file appears: with --key FILE (or repository.key_file)\n"
    "or --trust FILE (or repository.trust), an archive that no trusted writer\n"
    "signed is refused and nothing is left (exit 16). With neither, nothing can\n"
    "be checked and fetch refuses too (exit 16); --allow-untrusted downloads\n"
    "it unchecked, with a warning. A detached signature (ARCHIVE.sig) on the\n"
    "remote comes down beside the archive.\n"
    "\n"
    "  --remote NAME   the remote to read from\n"
    "  --out DIR       where to put the archive (created if missing)\n"
    "  --key FILE      the secret key file: its signer is trusted\n" ZB_READ_KEYS_HELP;

static int check_download(const char *downloaded, const char *local_path, void *payload)
{
    return zb_trust_check_copy(downloaded, local_path, payload);
}

int zb_cmd_fetch(zb_context *ctx, int argc, char **argv)
{
    static const struct option local[] = {
        {"remote", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "fetch", local) < 0)
        return zb_error_code();
    zb_fetch_request req = {.out = "."};
    int opt, taken;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'r': req.remote = optarg; break;
        case 'o': req.out = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        case ZB_SETTING_OPT(ZB_SET_KEY_FILE): req.keys.key_file = optarg; break;
        default:
            if ((taken = zb_cli_read_keys_option(&req.keys, opt, optarg)) < 0)
                return taken;
            if (taken == 0)
                return zb_cli_bad_option("fetch", argv);
        }
    }
    if (!req.remote)
        return zb_cli_usage_error("fetch", "--remote NAME is required");
    if (optind != argc - 1)
        return zb_cli_usage_error("fetch", "give exactly one ARCHIVE (or latest)");
    req.archive = argv[optind];
    return zb_fetch_run(ctx, &req);
}

int zb_fetch_run(zb_context *ctx, const zb_fetch_request *req)
{
    const char *remote = req->remote, *out = req->out;
    zb_read_keys keys = req->keys;
    const zb_config *config = NULL;
    zb_remote *r = NULL;
    char *name = NULL;
    zb_buf path = ZB_BUF_INIT, sig = ZB_BUF_INIT;
    int rc = zb_context_config(&config, ctx);
    if (rc == 0)
        rc = zb_remote_open_configured(&r, config, remote);
    if (rc == 0)
        rc = zb_remote_resolve(&name, r, req->archive);
    if (rc == 0)
        rc = zb_fs_mkdir_p(out, 0700);
    if (rc == 0)
        rc = zb_buf_printf(&path, "%s/%s", out, name);
    if (rc == 0 && access(path.data, F_OK) == 0)
        rc = zb_error_set(ZB_EEXIST, "%s already exists; it was not replaced", path.data);
    /* a signature left beside would vouch for whatever comes down */
    if (rc == 0 && (rc = zb_buf_printf(&sig, "%s%s", path.data, ZB_DETACHED_SIGNATURE_SUFFIX)) == 0 &&
        access(sig.data, F_OK) == 0)
        rc = zb_error_set(ZB_EEXIST, "%s already exists; it was not replaced", sig.data);
    if (rc == 0 && !keys.key_file && config->key_file && *config->key_file)
        keys.key_file = config->key_file;
    if (rc == 0)
        rc = zb_cli_read_trust_configured(ctx, &keys);
    /* Checked before it is published: nothing is read from the archive until then. */
    if (rc == 0)
        rc = zb_remote_download_checked(r, name, path.data, check_download, &keys);
    if (rc == 0)
        zb_context_print(ctx, "%s\n", path.data);
    zb_buf_free(&path);
    zb_buf_free(&sig);
    free(name);
    zb_remote_close(r);
    return rc;
}

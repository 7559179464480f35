#include "zakpos_backup/command/fetch.h"
#include "zakpos_backup/cli/options.h"
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
    "  --remote NAME   the remote to read from\n"
    "  --out DIR       where to put the archive (created if missing)\n";

int zb_cmd_fetch(int argc, char **argv)
{
    static const struct option options[] = {
        {"remote", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *remote = NULL, *out = ".";
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'r': remote = optarg; break;
        case 'o': out = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("fetch", argv);
        }
    }
    if (!remote)
        return zb_cli_usage_error("fetch", "--remote NAME is required");
    if (optind != argc - 1)
        return zb_cli_usage_error("fetch", "give exactly one ARCHIVE (or latest)");
    zb_config config;
    zb_remote *r = NULL;
    char *name = NULL;
    zb_buf path = ZB_BUF_INIT;
    int rc = zb_remote_open_configured(&r, &config, remote);
    if (rc == 0)
        rc = zb_remote_resolve(&name, r, argv[optind]);
    if (rc == 0)
        rc = zb_fs_mkdir_p(out, 0700);
    if (rc == 0)
        rc = zb_buf_printf(&path, "%s/%s", out, name);
    if (rc == 0 && access(path.data, F_OK) == 0)
        rc = zb_error_set(ZB_EEXIST, "%s already exists; it was not replaced", path.data);
    if (rc == 0)
        rc = zb_remote_download(r, name, path.data);
    if (rc == 0)
        printf("%s\n", path.data);
    zb_buf_free(&path);
    free(name);
    zb_remote_close(r);
    zb_config_free(&config);
    return rc;
}

/* The options verify --restore and drill share: where the scratch targets
 * go and what the restore leaves out, with defaults from the configuration
 * (the source server of [postgres], the Docker host of [docker]). */
#ifndef ZB_CLI_REHEARSAL_H
#define ZB_CLI_REHEARSAL_H

#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/restore/rehearse.h"

#include <getopt.h>

/* Beside the settings table's --pg-target, --pg-password-file, --jobs and
 * --docker-host (keys of [verify], [postgres] and [docker]). */
#define ZB_REHEARSAL_LONG_OPTIONS                                                                                      \
    {"no-owner", no_argument, NULL, ZB_OPT_NO_OWNER}, {"no-acl", no_argument, NULL, ZB_OPT_NO_ACL},                    \
        {"keep", no_argument, NULL, ZB_OPT_KEEP},                                                                      \
    {                                                                                                                  \
        "scratch-dir", required_argument, NULL, ZB_OPT_SCRATCH_DIR                                                     \
    }

#define ZB_REHEARSAL_HELP                                                                                              \
    "  --pg-target CONNINFO     the server for the scratch database (default: the\n"                                   \
    "                           source server of the configuration's [postgres], else\n"                               \
    "                           DATABASE_URL / PG* variables); the database is always\n"                               \
    "                           zakpos_backup_verify_<id>\n"                                                           \
    "  --pg-password-file FILE  the password for that server, read from FILE\n"                                        \
    "  --docker-host URL        the Docker engine for scratch volumes <name>_verify_<id>\n"                            \
    "                           (default: [docker] host of the configuration, DOCKER_HOST)\n"                          \
    "  --scratch-dir DIR        parent folder of scratch folders for path sources\n"                                   \
    "                           (default: TMPDIR or /tmp)\n"                                                           \
    "  --jobs N                 parallel connections for the database (default: cores)\n"                              \
    "  --no-owner, --no-acl     leave owners / privileges out (a server without the\n"                                 \
    "                           source's roles) and do not compare them\n"                                             \
    "  --keep                   keep the scratch targets for inspection\n"

/* 1: opt was one of the shared options (taken), 0: it was not, <0: bad value. */
int zb_cli_rehearsal_option(zb_rehearse_options *o, int opt, const char *arg);
/* What was not given on the command line, from the configuration c. */
void zb_cli_rehearsal_defaults(zb_rehearse_options *o, const zb_config *c);

#endif

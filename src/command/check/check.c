#include "zakpos_backup/command/check.h"
#include "zakpos_backup/cli/options.h"
#include "zakpos_backup/config/settings.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pitr/chain.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char help[] =
    "usage: zakpos-backup check [--pg CONNINFO] [--pg-password-file FILE]\n"
    "\n"
    "Checks that the database can be reached the way a backup reaches it:\n"
    "connects, applies the backup session settings, and prints one line on\n"
    "stdout with the server version, database, user, encoding and size.\n"
    "Exit 10 with the server's own message (and a hint) if it cannot.\n"
    "A second line says whether `follow` can stream its changes (wal_level=logical),\n"
    "and if not, what to change in the compose file.\n"
    "\n"
    "  --pg CONNINFO             libpq connection string or URI (default:\n"
    "                            postgres.conninfo, ZAKPOS_BACKUP_PG_CONNINFO or DATABASE_URL)\n"
    "  --pg-password-file FILE   the password (default: postgres.password_file,\n"
    "                            ZAKPOS_BACKUP_PG_PASSWORD_FILE; PGPASSWORD and ~/.pgpass work too)\n"
    "The password is never taken from the command line.\n";

static int report(PGconn *conn)
{
    PGresult *res = PQexec(conn,
                           "SELECT pg_catalog.current_setting('server_version'), pg_catalog.current_database(), "
                           "current_user, pg_catalog.pg_encoding_to_char(d.encoding), "
                           "pg_catalog.pg_database_size(d.oid) FROM pg_catalog.pg_database d "
                           "WHERE d.datname = pg_catalog.current_database()");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        int rc = zb_pg_result_error(conn, res, "cannot read the database's description");
        PQclear(res);
        return rc;
    }
    char size[32], where[512];
    zb_format_bytes(size, sizeof(size), strtoull(PQgetvalue(res, 0, 4), NULL, 10));
    printf("postgresql: ok: PostgreSQL %s at %s, database %s, user %s, encoding %s, %s\n", PQgetvalue(res, 0, 0),
           zb_pg_describe(conn, where, sizeof(where)), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
           PQgetvalue(res, 0, 3), size);
    PQclear(res);
    return 0;
}

int zb_cmd_check(zb_context *ctx, int argc, char **argv)
{
    static const struct option local[] = {
        {"help", no_argument, NULL, ZB_OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    struct option options[64];
    if (zb_settings_options(options, ZB_ARRAY_LEN(options), "check", local) < 0)
        return zb_error_code();
    zb_check_request req = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case ZB_SETTING_OPT(ZB_SET_PG_CONNINFO): req.conninfo = optarg; break;
        case ZB_SETTING_OPT(ZB_SET_PG_PASSWORD_FILE): req.password_file = optarg; break;
        case ZB_OPT_HELP: fputs(help, stdout); return 0;
        default: return zb_cli_bad_option("check", argv);
        }
    }
    if (optind < argc)
        return zb_cli_usage_error("check", "unexpected argument '%s'", argv[optind]);
    return zb_check_run(ctx, &req);
}

int zb_check_run(zb_context *ctx, const zb_check_request *req)
{
    const char *conninfo = req->conninfo, *password_file = req->password_file;
    const zb_config *config = NULL;
    int rc = zb_context_config(&config, ctx);
    if (rc < 0)
        return rc;
    PGconn *conn = NULL;
    rc = zb_pg_connect(&conn, conninfo ? conninfo : config->pg_conninfo,
                       password_file ? password_file : (*config->pg_password_file ? config->pg_password_file : NULL));
    if (rc == 0)
        rc = report(conn);
    /* backups work without it: said, not failed */
    if (rc == 0)
        printf("follow: %s\n", zb_pitr_check_server(conn) == 0 ? "ok: wal_level=logical" : zb_error_message());
    PQfinish(conn);
    return rc;
}

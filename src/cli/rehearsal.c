#include "zakpos_backup/cli/rehearsal.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/config/settings.h"

int zb_cli_rehearsal_option(zb_rehearse_options *o, int opt, const char *arg)
{
    switch (opt) {
    case ZB_SETTING_OPT(ZB_SET_VERIFY_PG_CONNINFO): o->pg_conninfo = arg; return 1;
    case ZB_SETTING_OPT(ZB_SET_VERIFY_PG_PASSWORD_FILE): o->pg_password_file = arg; return 1;
    case ZB_SETTING_OPT(ZB_SET_PG_JOBS): {
        int rc = zb_cli_parse_int(&o->pg_jobs, arg, "--jobs", 1, 64);
        return rc < 0 ? rc : 1;
    }
    case ZB_OPT_NO_OWNER: o->no_owner = 1; return 1;
    case ZB_OPT_NO_ACL: o->no_acl = 1; return 1;
    case ZB_SETTING_OPT(ZB_SET_DOCKER_HOST): o->docker_host = arg; return 1;
    case ZB_OPT_KEEP: o->keep = 1; return 1;
    case ZB_OPT_SCRATCH_DIR: o->scratch_dir = arg; return 1;
    default: return 0;
    }
}

/* Values only from a file or the environment: the built-in defaults name the
 * zakpos stack's hosts, which a machine without that stack cannot reach.
 * The verification's own server and role (verify.pg_conninfo) come before
 * the production server's: a restore runs the archive's SQL. */
void zb_cli_rehearsal_defaults(zb_rehearse_options *o, const zb_config *c)
{
    if (!o->pg_conninfo && zb_config_is_set(c, "verify", "pg_conninfo")) {
        o->pg_conninfo = c->verify_pg_conninfo;
        if (!o->pg_password_file && c->verify_pg_password_file && *c->verify_pg_password_file)
            o->pg_password_file = c->verify_pg_password_file;
    } else if (!o->pg_conninfo && zb_config_is_set(c, "postgres", "conninfo")) {
        o->pg_conninfo = c->pg_conninfo;
        if (!o->pg_password_file && c->pg_password_file && *c->pg_password_file)
            o->pg_password_file = c->pg_password_file;
        zb_log_info(
            "restoring into the production server (postgres.conninfo) to verify: the archive's SQL runs "
            "there; set verify.pg_conninfo to a scratch server and role (docs/SECURITY.md)");
    }
    if (!o->docker_host && zb_config_is_set(c, "docker", "host"))
        o->docker_host = c->docker_host;
    if (!o->pg_jobs && c->pg_jobs > 0)
        o->pg_jobs = c->pg_jobs;
}

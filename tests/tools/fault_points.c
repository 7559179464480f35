/* zb_fault_point for zakpos-backup-faults, the test build of the tool. At
 * the point named by ZB_FAULT_AT it says so on stderr (so a test knows the
 * point was reached), then raises the signal numbered ZB_FAULT_SIGNAL, or
 * runs the shell command ZB_FAULT_RUN with ZB_FAULT_DETAIL set to the
 * point's detail (a failing command ends the process with status 99).
 * ZB_FAULT_AT=NAME:DETAIL acts only where the point's detail is DETAIL (the
 * kind of target a restore finishes next, say).
 * zb_fault_value gives a fault value from the environment variable the
 * tests set for it. */
#include "zakpos_backup/common/fault.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zb_fault_point(const char *name, const char *detail)
{
    const char *at = getenv("ZB_FAULT_AT");
    const char *colon = at ? strchr(at, ':') : NULL;
    size_t n = colon ? (size_t)(colon - at) : at ? strlen(at) : 0;
    if (!at || strlen(name) != n || strncmp(at, name, n) != 0 || (colon && (!detail || strcmp(colon + 1, detail) != 0)))
        return;
    const char *sig = getenv("ZB_FAULT_SIGNAL");
    const char *run = getenv("ZB_FAULT_RUN");
    fprintf(stderr, "fault point %s reached (%s)\n", name, detail ? detail : "-");
    if (sig)
        raise(atoi(sig));
    if (run) {
        setenv("ZB_FAULT_DETAIL", detail ? detail : "", 1);
        if (system(run) != 0) {
            fprintf(stderr, "fault point %s: the command failed\n", name);
            exit(99);
        }
    }
}

const char *zb_fault_value(const char *name)
{
    static const struct {
        const char *name, *variable;
    } values[] = {
        {"pg-toc-format", "ZAKPOS_BACKUP_TEST_PG_TOC_FORMAT"},    /* the toc format a backup writes */
        {"pg-before-compare-sql", "ZAKPOS_BACKUP_TEST_HOOK_SQL"}, /* run in a restored database before comparing */
        {"pg-unsupported",
         "ZAKPOS_BACKUP_TEST_PG_UNSUPPORTED"}, /* base types and window functions taken as unsupported */
        {"docker-volume-unreachable", "ZAKPOS_BACKUP_TEST_VOLUME_UNREACHABLE"}, /* every volume's folder out of reach */
        {"docker-stage-free-bytes",
         "ZAKPOS_BACKUP_TEST_STAGE_FREE_BYTES"}, /* the free bytes a --force swap that copies is told it has */
        {"docker-agent-socket",
         "ZAKPOS_BACKUP_TEST_AGENT_SOCKET"}, /* "elsewhere": the agent is sent to a socket nobody listens on */
        {"pitr-replay-lose-change",
         "ZAKPOS_BACKUP_TEST_PITR_LOSE_CHANGE"}, /* schema.name: replay skips its first insert */
        {"pitr-replay-lose-update",
         "ZAKPOS_BACKUP_TEST_PITR_LOSE_UPDATE"}, /* schema.name: replay skips its first update */
    };
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        if (strcmp(values[i].name, name) == 0)
            return getenv(values[i].variable);
    fprintf(stderr, "unknown fault value %s\n", name);
    abort();
}

#include "zakpos_backup/command/daemon_follower.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/secret.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/notify/metrics.h"
#include "zakpos_backup/notify/webhook.h"
#include "zakpos_backup/source/pg/conn.h"
#include "zakpos_backup/source/pg/pitr/chain.h"
#include "zakpos_backup/source/pg/pitr/follow.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pid_t zb_daemon_spawn(const char *self, const char *config_file, const char *const *args, int random_delay)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (random_delay > 0)
        sleep((unsigned)(rand() % (random_delay + 1)));
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)self;
    if (config_file)
        argv[n++] = "--config", argv[n++] = (char *)config_file;
    /* the children log as the daemon does (a child's stderr is no terminal) */
    argv[n++] = "--log-format", argv[n++] = zb_log_is_json() ? "json" : "text";
    for (; *args && n < (int)ZB_ARRAY_LEN(argv) - 1; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    /* secrets taken from the daemon's environment reach the child through
     * memory files, never through its environment */
    if (zb_secret_env_hand_down() < 0) {
        zb_log_last_error();
        _exit(1);
    }
    execv("/proc/self/exe", argv);
    _exit(127);
}

void zb_follower_service_init(zb_follower_service *s, const char *self, const char *config_file)
{
    memset(s, 0, sizeof(*s));
    s->self = self;
    s->config_file = config_file;
}

static void start(zb_follower_service *s, double now)
{
    static const char *const args[] = {"follow", NULL};
    s->pid = zb_daemon_spawn(s->self, s->config_file, args, 0);
    s->started = now;
    if (s->pid < 0) {
        s->pid = 0;
        s->next_start = now + zb_pitr_reconnect_delay(s->failures++);
        zb_log_error("follower: cannot start it: %s", strerror(errno));
    } else {
        zb_log_info("follower started (pid %d)", (int)s->pid);
    }
}

/* The webhook hears of a dropped slot as of a failed job: it is one. */
static void notify_dropped(const zb_config *c, const char *slot, const char *why)
{
    if (!c->webhook_url || !*c->webhook_url)
        return;
    char host[256] = "", when[32];
    gethostname(host, sizeof(host) - 1);
    zb_time_format_iso(when, sizeof(when), time(NULL));
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "tool", "zakpos-backup", "job", "follow", "event",
                             "slot-dropped", "host", host, "time", when, "status", "failure", "error", why);
    if (body && zb_webhook_post(c->webhook_url, body, 0) < 0)
        zb_log_warn("cannot notify the webhook: %s", zb_error_message());
    json_decref(body);
}

static void stop_follower(zb_follower_service *s, int sig)
{
    if (!s->pid)
        return;
    kill(s->pid, sig);
    kill(s->pid, SIGCONT); /* a follower stopped by SIGSTOP would never see sig */
    double deadline = zb_time_monotonic() + ZB_FOLLOWER_STOP_SECONDS;
    int status;
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        if (zb_time_monotonic() >= deadline) {
            zb_log_warn("follower (pid %d) did not stop within %ds: killed", (int)s->pid, ZB_FOLLOWER_STOP_SECONDS);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            break;
        }
        usleep(100 * 1000);
    }
    s->pid = 0;
}

/* Past a limit: the follower (if any) stops, the slot goes, and the next
 * follower starts a new chain from a fresh snapshot. */
static void drop_slot(zb_follower_service *s, PGconn *conn, const char *slot, const char *why)
{
    zb_log_error(
        "follower: %s; dropping replication slot %s to protect the database server (the next follower "
        "starts a new chain; recovery across the break stops at the end of the old one)",
        why, slot);
    stop_follower(s, SIGTERM);
    if (zb_pitr_slot_drop(conn, slot) < 0) {
        zb_log_error("follower: cannot drop replication slot %s: %s", slot, zb_error_message());
        return;
    }
    zb_log_info("follower: replication slot %s dropped", slot);
    notify_dropped(s->config, slot, why);
    s->failures = 0;
    s->next_start = 0;
    memset(&s->watch, 0, sizeof(s->watch));
}

static void record(const zb_follower_service *s, const zb_pitr_slot_status *st, double lag, double now)
{
    const zb_config *c = s->config;
    if (zb_pitr_watch_record(c->state_dir, c->follow_slot, st, lag, now) < 0)
        zb_log_warn("follower: %s", zb_error_message());
    zb_metrics_slot m = {
        c->follow_slot, st->exists, (double)st->lag_bytes, lag, (double)st->confirmed_lsn, (double)st->retained_bytes};
    if (zb_metrics_record_slot(c->metrics_file, c->state_dir, &m) < 0)
        zb_log_warn("follower: %s", zb_error_message());
}

static void watch(zb_follower_service *s)
{
    const zb_config *c = s->config;
    PGconn *conn = NULL;
    zb_pitr_slot_status st;
    char slot[64];
    snprintf(slot, sizeof(slot), "%s", c->follow_slot);
    /* each chain has its own slot: the one the repository's state names
     * (records and metrics keep follow.slot's name, one series for all) */
    if (zb_pitr_current_slot(slot, sizeof(slot), c->repo, c->follow_slot) < 0 ||
        zb_pg_connect(&conn, c->pg_conninfo, c->pg_password_file && *c->pg_password_file ? c->pg_password_file : NULL) <
            0 ||
        zb_pitr_slot_status_read(&st, conn, slot) < 0) {
        zb_log_warn("follower: cannot watch replication slot %s: %s", slot, zb_error_message());
        PQfinish(conn);
        return;
    }
    double now = (double)time(NULL);
    double lag = zb_pitr_watch_update(&s->watch, &st, now);
    record(s, &st, lag, now);
    char why[256], size[32], limit[32];
    switch (zb_pitr_watch_verdict(&st, lag, c->follow_slot_max_wal_bytes, c->follow_slot_max_age_seconds)) {
    case ZB_PITR_SLOT_OK: break;
    case ZB_PITR_SLOT_TOO_MUCH_WAL:
        zb_format_bytes(size, sizeof(size), st.retained_bytes);
        zb_format_bytes(limit, sizeof(limit), (uint64_t)c->follow_slot_max_wal_bytes);
        snprintf(why, sizeof(why), "the slot holds %s of WAL on the server (follow.slot_max_wal_size %s)", size, limit);
        drop_slot(s, conn, slot, why);
        break;
    case ZB_PITR_SLOT_TOO_OLD:
        zb_format_duration(size, sizeof(size), lag);
        zb_format_duration(limit, sizeof(limit), c->follow_slot_max_age_seconds);
        snprintf(why, sizeof(why), "the slot's oldest unconfirmed change is %s old (follow.slot_max_age %s)", size,
                 limit);
        drop_slot(s, conn, slot, why);
        break;
    }
    PQfinish(conn);
}

void zb_follower_service_tick(zb_follower_service *s)
{
    if (!s->config || !s->config->follow_enabled)
        return;
    double now = zb_time_monotonic();
    /* first the watcher: a slot past its limits goes before a follower
     * would start reading it */
    if (now >= s->next_watch) {
        s->next_watch = now + ZB_FOLLOWER_WATCH_SECONDS;
        watch(s);
    }
    if (!s->pid && now >= s->next_start)
        start(s, now);
}

int zb_follower_service_reaped(zb_follower_service *s, pid_t pid, int status)
{
    if (!s->pid || pid != s->pid)
        return 0;
    s->pid = 0;
    double now = zb_time_monotonic();
    /* a follower that ran for a while failed afresh: the backoff starts over */
    if (now - s->started >= 60)
        s->failures = 0;
    int delay = zb_pitr_reconnect_delay(s->failures++);
    s->next_start = now + delay;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    zb_log_error("follower (pid %d) exited with status %d; restarting it in %ds", (int)pid, code, delay);
    return 1;
}

void zb_follower_service_reload(zb_follower_service *s, const zb_config *config)
{
    s->config = config;
    s->next_watch = 0; /* new limits apply at once */
    if (!s->pid)
        return;
    zb_log_info(config->follow_enabled ? "follower: restarting it to read the new configuration"
                                       : "follower: follow.enabled is no: stopping it");
    stop_follower(s, SIGTERM);
    s->failures = 0;
    s->next_start = 0;
}

void zb_follower_service_stop(zb_follower_service *s)
{
    if (s->pid)
        zb_log_info("stopping the follower");
    stop_follower(s, SIGTERM);
}

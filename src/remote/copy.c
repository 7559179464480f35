#include "zakpos_backup/remote/copy.h"
#include "zakpos_backup/archive/sign.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/timeutil.h"
#include "zakpos_backup/remote/sync.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const zb_config_remote *find(const zb_config *c, const char *name)
{
    for (size_t i = 0; i < c->remote_count; i++)
        if (strcmp(c->remotes[i].name, name) == 0)
            return &c->remotes[i];
    zb_buf names = ZB_BUF_INIT;
    for (size_t i = 0; i < c->remote_count; i++)
        zb_buf_printf(&names, "%s%s", i ? ", " : "", c->remotes[i].name);
    zb_error_set(ZB_ECONFIG, "no remote named '%s' in the configuration%s%s", name, c->file ? " " : "",
                 c->file ? c->file : "");
    if (names.data)
        zb_error_hint("the remotes are: %s", names.data);
    else
        zb_error_hint("add a [remote %s] section (docs/CONFIG.md)", name);
    zb_buf_free(&names);
    return NULL;
}

int zb_remote_open_configured(zb_remote **out, const zb_config *config, const char *name)
{
    *out = NULL;
    const zb_config_remote *conf = find(config, name);
    return conf ? zb_remote_open(out, conf) : zb_error_code();
}

/* ---- backup: copies to the remotes ---- */

struct zb_remote_plan {
    const zb_config *config;
    const zb_config_remote *targets[ZB_CONFIG_MAX_REMOTES];
    size_t count;
};

void zb_remote_plan_free(zb_remote_plan *p)
{
    if (!p)
        return;
    free(p);
}

int zb_remote_plan_new(zb_remote_plan **out, const zb_config *config, const char *const *names, size_t count, int none)
{
    *out = NULL;
    zb_remote_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    int rc = 0;
    p->config = config;
    if (!none) {
        for (size_t i = 0; rc == 0 && i < count; i++) {
            const zb_config_remote *r = find(config, names[i]);
            int twice = 0;
            for (size_t k = 0; r && k < p->count; k++)
                twice |= p->targets[k] == r;
            if (!r)
                rc = zb_error_code();
            else if (!twice)
                p->targets[p->count++] = r;
        }
        for (size_t i = 0; rc == 0 && count == 0 && i < config->remote_count; i++)
            p->targets[p->count++] = &config->remotes[i];
    }
    if (rc < 0) {
        zb_remote_plan_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* The new archive first; then what the remote still lacks of what its
 * retention keeps (earlier copies that failed), unfinished uploads left by
 * killed runs, and the retention itself. */
static int copy_one(zb_remote_plan *p, const zb_config_remote *conf, const char *archive_path)
{
    zb_remote *r = NULL;
    const zb_retention_policy *policy = zb_config_remote_policy(conf, &p->config->keep);
    long long pending = 1; /* at least the new archive, until it is there */
    char repo[PATH_MAX];
    const char *slash = strrchr(archive_path, '/');
    snprintf(repo, sizeof(repo), "%.*s", slash ? (int)(slash - archive_path) : 1, slash ? archive_path : ".");
    int rc = zb_remote_open(&r, conf);
    if (rc == 0)
        rc = zb_remote_upload(r, archive_path);
    if (rc == 0 && !zb_retention_is_empty(policy) && (rc = zb_remote_sync_missing(r, policy, repo, NULL, &pending)) < 0)
        zb_error_context("sending what remote %s lacks", conf->name);
    zb_remote_pending_note(conf->name, rc == 0 ? 0 : pending);
    if (rc == 0 && (rc = zb_remote_clean_unfinished(r, NULL)) < 0)
        zb_error_context("remote %s", conf->name);
    if (rc == 0 && conf->prune && !zb_retention_is_empty(policy) && (rc = zb_remote_prune(r, policy, 0, NULL)) < 0)
        zb_error_context("retention on remote %s", conf->name);
    zb_remote_close(r);
    return rc;
}

int zb_remote_plan_copy(zb_remote_plan *p, const char *archive_path)
{
    zb_error_saved first;
    int first_rc = 0;
    size_t failed = 0;
    for (size_t i = 0; i < p->count; i++) {
        int rc = copy_one(p, p->targets[i], archive_path);
        if (rc == 0)
            continue;
        failed++;
        if (rc == ZB_EINTR)
            return rc;
        if (first_rc == 0) {
            first_rc = rc;
            zb_error_save(&first);
        } else {
            zb_log_last_error(); /* the first failure is the command's error; the others are logged here */
        }
    }
    if (first_rc == 0)
        return 0;
    zb_error_raise(&first);
    if (failed > 1)
        zb_error_context("%zu of %zu remotes failed, the first", failed, p->count);
    if (!zb_error_hint_text()[0])
        zb_error_hint("the archive stays in the repository: 'zakpos-backup remote push %s %s' copies it again",
                      p->targets[0]->name, archive_path);
    return first_rc;
}

/* ---- verify, restore, show: remote:NAME/ARCHIVE ---- */

#define PREFIX "remote:"

struct zb_remote_fetched {
    char *dir;
    char **paths;
    size_t count;
    /* the last download's origin and all downloads' time, for the reports
     * (a drill's recovery time starts with fetching the archive) */
    char from[512];
    double seconds;
};

void zb_remote_fetched_free(zb_remote_fetched *f)
{
    if (!f)
        return;
    zb_buf sig = ZB_BUF_INIT;
    for (size_t i = 0; i < f->count; i++) {
        unlink(f->paths[i]);
        zb_buf_reset(&sig);
        if (zb_buf_printf(&sig, "%s%s", f->paths[i], ZB_DETACHED_SIGNATURE_SUFFIX) == 0)
            unlink(sig.data); /* downloaded with it, when the remote held one */
        free(f->paths[i]);
    }
    zb_buf_free(&sig);
    if (f->dir)
        rmdir(f->dir);
    free(f->paths);
    free(f->dir);
    free(f);
}

static int make_dir(zb_remote_fetched *f)
{
    const char *tmp = getenv("TMPDIR");
    zb_buf b = ZB_BUF_INIT;
    /* /var/tmp: an archive may be larger than a memory-backed /tmp */
    int rc = zb_buf_printf(&b, "%s/zakpos-backup-fetch.XXXXXX", tmp && *tmp ? tmp : "/var/tmp");
    if (rc == 0 && !mkdtemp(b.data))
        rc = zb_error_errno(ZB_EIO, errno, "cannot create a folder for the download (%s)", b.data);
    if (rc == 0)
        f->dir = zb_buf_detach(&b);
    zb_buf_free(&b);
    return rc;
}

const char *zb_remote_fetched_from(const zb_remote_fetched *f) { return f && f->from[0] ? f->from : NULL; }
double zb_remote_fetched_seconds(const zb_remote_fetched *f) { return f ? f->seconds : 0; }

int zb_remote_is_archive_spec(const char *arg) { return strncmp(arg, PREFIX, strlen(PREFIX)) == 0; }

/* Keeps path in f; *local points to the kept copy. */
static int keep_path(zb_remote_fetched *f, zb_buf *path, const char **local)
{
    char **grown = realloc(f->paths, (f->count + 1) * sizeof(*grown));
    if (!grown)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    f->paths = grown;
    f->paths[f->count++] = zb_buf_detach(path);
    *local = f->paths[f->count - 1];
    return 0;
}

static int fetch_one(zb_remote_fetched *f, const zb_config *config, const char *arg, const char **local)
{
    double started = zb_time_monotonic();
    char *spec = zb_strdup(arg + strlen(PREFIX));
    char *slash = spec ? strchr(spec, '/') : NULL;
    if (!spec)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    if (!slash || slash == spec || !slash[1] || strchr(slash + 1, '/')) {
        free(spec);
        zb_error_set(ZB_EUSAGE, "'%s' is not remote:NAME/ARCHIVE", arg);
        return zb_error_hint("for example remote:offsite/latest or remote:offsite/zakpos-20261124T020000Z.zbk");
    }
    *slash = '\0';
    zb_remote *r = NULL;
    char *name = NULL;
    zb_buf path = ZB_BUF_INIT;
    int rc = zb_remote_open_configured(&r, config, spec);
    if (rc == 0)
        rc = zb_remote_resolve(&name, r, slash + 1);
    if (rc == 0 && !f->dir)
        rc = make_dir(f);
    if (rc == 0)
        rc = zb_buf_printf(&path, "%s/%s", f->dir, name);
    if (rc == 0)
        rc = zb_remote_download(r, name, path.data);
    if (rc == 0)
        rc = keep_path(f, &path, local);
    if (rc == 0) {
        zb_log_detail("reading %s%s/%s from %s", PREFIX, spec, name, *local);
        snprintf(f->from, sizeof(f->from), "%s%s/%s", PREFIX, spec, name);
        f->seconds += zb_time_monotonic() - started;
    }
    zb_buf_free(&path);
    free(name);
    zb_remote_close(r);
    free(spec);
    return rc;
}

int zb_remote_fetch_archive(zb_remote_fetched **f, const zb_config *config, const char *spec, const char **local)
{
    if (!*f && !(*f = calloc(1, sizeof(**f))))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    return fetch_one(*f, config, spec, local);
}

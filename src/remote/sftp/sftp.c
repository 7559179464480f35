#include "zakpos_backup/remote/sftp.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/remote/transfer.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sftp {
    const zb_config_remote *conf;
    zb_transfer t;
    char *dir_url;  /* sftp://[user@]host[:port]/folder/ */
    char *dir_path; /* /folder/ on the server, for rename and rm */
    char *known_hosts;
    char *public_key; /* key_file.pub when present, else "" (libssh2 derives it) */
    zb_http_ssh ssh;
} sftp;

static void sftp_close(void *state)
{
    sftp *s = state;
    if (!s)
        return;
    zb_transfer_close(&s->t);
    free(s->dir_url);
    free(s->dir_path);
    free(s->known_hosts);
    free(s->public_key);
    free(s);
}

static int hex_value(char c) { return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10); }

/* The URL's path, percent-decoded: the folder as the server names it. */
static int server_path(zb_buf *out, const char *url)
{
    const char *host = strstr(url, "://") + 3;
    const char *path = strchr(host, '/');
    int rc = zb_buf_puts(out, path ? "" : "/");
    for (const char *p = path; rc == 0 && p && *p; p++) {
        if (*p == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
            char c = (char)(hex_value(p[1]) * 16 + hex_value(p[2]));
            rc = zb_buf_append(out, &c, 1);
            p += 2;
        } else {
            rc = zb_buf_append(out, p, 1);
        }
    }
    if (rc == 0 && out->data[out->len - 1] != '/')
        rc = zb_buf_puts(out, "/");
    return rc;
}

static int sftp_open(void **state, char **where, const zb_config_remote *conf)
{
    *state = NULL;
    sftp *s = calloc(1, sizeof(*s));
    if (!s)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    s->conf = conf;
    zb_buf url = ZB_BUF_INIT, path = ZB_BUF_INIT, hosts = ZB_BUF_INIT, pub = ZB_BUF_INIT;
    size_t n = strlen(conf->url);
    int rc = zb_buf_printf(&url, "%s%s", conf->url, n && conf->url[n - 1] == '/' ? "" : "/");
    if (rc == 0)
        rc = server_path(&path, conf->url);
    if (rc == 0 && conf->known_hosts && *conf->known_hosts)
        rc = zb_buf_puts(&hosts, conf->known_hosts);
    else if (rc == 0)
        rc = zb_buf_printf(&hosts, "%s/.ssh/known_hosts", getenv("HOME") ? getenv("HOME") : "");
    if (rc == 0 && access(conf->key_file, R_OK) != 0) {
        rc = zb_error_errno(ZB_ECONFIG, errno, "cannot read the private key %s", conf->key_file);
        zb_error_hint("key_file names an unencrypted private key (ssh-keygen -t ed25519 -N '' -f FILE), mode 0600");
    }
    if (rc == 0 && access(hosts.data, R_OK) != 0) {
        rc = zb_error_errno(ZB_ECONFIG, errno, "cannot read the known hosts file %s", hosts.data);
        zb_error_hint(
            "the server's host key must be known: add it with ssh-keyscan (and check its fingerprint), "
            "or name the file with known_hosts");
    }
    if (rc == 0) {
        rc = zb_buf_printf(&pub, "%s.pub", conf->key_file);
        if (rc == 0 && access(pub.data, R_OK) != 0)
            zb_buf_reset(&pub);
    }
    if (rc == 0)
        rc = zb_transfer_open(&s->t, conf);
    if (rc == 0) {
        s->dir_url = zb_buf_detach(&url);
        s->dir_path = zb_buf_detach(&path);
        s->known_hosts = zb_buf_detach(&hosts);
        s->public_key = zb_buf_detach(&pub);
        if (!(*where = zb_strdup(s->dir_url)))
            rc = zb_error_set(ZB_ENOMEM, "out of memory");
    }
    zb_buf_free(&url);
    zb_buf_free(&path);
    zb_buf_free(&hosts);
    zb_buf_free(&pub);
    if (rc < 0)
        sftp_close(s);
    else
        *state = s;
    return rc;
}

/* Key authentication only, and a server whose key is not in known_hosts
 * (or differs from it) is refused: libcurl rejects any key that does not
 * match when no key callback is set. */
static void begin(sftp *s, const char *url)
{
    zb_transfer_begin(&s->t, url);
    s->ssh =
        (zb_http_ssh){.private_key = s->conf->key_file, .public_key = s->public_key, .known_hosts = s->known_hosts};
    s->t.req.ssh = &s->ssh;
    s->t.req.user = s->conf->user;
}

static int perform(sftp *s, const char *what, int *permanent)
{
    int rc = zb_transfer_perform(&s->t, what, permanent);
    if (rc == ZB_EREMOTE && s->t.failure == ZB_HTTP_PEER_REJECTED)
        zb_error_hint("the server's host key is not in %s, or differs from the one there", s->known_hosts);
    else if (rc == ZB_EREMOTE && s->t.failure == ZB_HTTP_LOGIN_DENIED)
        zb_error_hint("the server refused the key %s for this user", s->conf->key_file);
    return rc;
}

/* "path" quoted for libcurl's SFTP commands. */
static int quoted(zb_buf *out, const char *dir, const char *name)
{
    int rc = zb_buf_puts(out, "\"");
    for (const char *p = dir; rc == 0 && *p; p++)
        rc = zb_buf_printf(out, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
    for (const char *p = name; rc == 0 && *p; p++)
        rc = zb_buf_printf(out, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
    return rc == 0 ? zb_buf_puts(out, "\"") : rc;
}

/* A command (rename, rm) on the folder, without a transfer. */
static int command(sftp *s, const char *text, const char *what, int *permanent)
{
    begin(s, s->dir_url);
    s->ssh.command = text;
    s->t.req.no_body = 1;
    s->t.req.list_only = 1;
    return perform(s, what, permanent);
}

typedef struct job {
    sftp *s;
    const char *name;
    int fd;
    uint64_t size;
    zb_buf partial; /* .NAME.partial */
    zb_buf text;
} job;

static int put_attempt(void *arg, int *permanent)
{
    job *j = arg;
    zb_buf url = ZB_BUF_INIT;
    int rc = zb_buf_printf(&url, "%s%s", j->s->dir_url, j->partial.data);
    if (rc == 0) {
        begin(j->s, url.data);
        zb_transfer_body_from_fd(&j->s->t, j->fd, 0, j->size);
        rc = perform(j->s, "uploading", permanent);
    }
    zb_buf_free(&url);
    return rc;
}

static int rename_attempt(void *arg, int *permanent)
{
    job *j = arg;
    zb_buf_reset(&j->text);
    /* the server's rename refuses to replace an existing file (OpenSSH) */
    int rc = zb_buf_puts(&j->text, "rename ");
    if (rc == 0)
        rc = quoted(&j->text, j->s->dir_path, j->partial.data);
    if (rc == 0)
        rc = zb_buf_puts(&j->text, " ");
    if (rc == 0)
        rc = quoted(&j->text, j->s->dir_path, j->name);
    return rc < 0 ? rc : command(j->s, j->text.data, "renaming the uploaded file into place", permanent);
}

static int rm_attempt(void *arg, int *permanent)
{
    job *j = arg;
    zb_buf_reset(&j->text);
    int rc = zb_buf_puts(&j->text, "rm ");
    if (rc == 0)
        rc = quoted(&j->text, j->s->dir_path, j->name);
    return rc < 0 ? rc : command(j->s, j->text.data, "removing", permanent);
}

static int sftp_upload(void *state, int fd, uint64_t size, const char *name)
{
    sftp *s = state;
    job j = {s, name, fd, size, ZB_BUF_INIT, ZB_BUF_INIT};
    int rc = zb_buf_printf(&j.partial, ".%s.partial", name);
    if (rc == 0)
        rc = zb_remote_retry(s->conf, "the upload", put_attempt, &j);
    if (rc == 0)
        rc = zb_remote_retry(s->conf, "the rename", rename_attempt, &j);
    if (rc < 0 && j.partial.len) {
        /* leave no partial file behind; tried once, even after Ctrl-C */
        zb_error_saved saved;
        zb_error_save(&saved);
        job rm = {s, j.partial.data, -1, 0, ZB_BUF_INIT, ZB_BUF_INIT};
        int permanent = 0;
        s->t.cleanup = 1;
        if (rm_attempt(&rm, &permanent) < 0)
            zb_log_detail("cannot remove %s%s: %s", s->dir_path, j.partial.data, zb_error_message());
        s->t.cleanup = 0;
        zb_buf_free(&rm.text);
        zb_error_raise(&saved);
    }
    zb_buf_free(&j.partial);
    zb_buf_free(&j.text);
    return rc;
}

static int list_attempt(void *arg, int *permanent)
{
    sftp *s = arg;
    begin(s, s->dir_url);
    s->t.req.list_only = 1;
    return perform(s, "listing the folder", permanent);
}

static int sftp_list(void *state, zb_remote_each_fn each, void *payload)
{
    sftp *s = state;
    int rc = zb_remote_retry(s->conf, "the listing", list_attempt, s);
    if (rc == ZB_ENOTFOUND) /* nothing uploaded yet */
        return 0;
    char *line = s->t.body.data, *save = NULL;
    for (char *name = line ? strtok_r(line, "\r\n", &save) : NULL; rc == 0 && name;
         name = strtok_r(NULL, "\r\n", &save))
        rc = each(name, -1, payload);
    return rc;
}

static int get_attempt(void *arg, int *permanent)
{
    job *j = arg;
    zb_buf url = ZB_BUF_INIT;
    int rc = zb_buf_printf(&url, "%s%s", j->s->dir_url, j->name);
    if (rc == 0) {
        begin(j->s, url.data);
        if ((rc = zb_transfer_body_to_fd(&j->s->t, j->fd)) < 0)
            *permanent = 1;
        else
            rc = perform(j->s, "downloading", permanent);
    }
    zb_buf_free(&url);
    return rc;
}

static int sftp_download(void *state, const char *name, int fd)
{
    job j = {state, name, fd, 0, ZB_BUF_INIT, ZB_BUF_INIT};
    return zb_remote_retry(((sftp *)state)->conf, "the download", get_attempt, &j);
}

static int sftp_remove(void *state, const char *name)
{
    job j = {state, name, -1, 0, ZB_BUF_INIT, ZB_BUF_INIT};
    int rc = zb_remote_retry(((sftp *)state)->conf, "the removal", rm_attempt, &j);
    zb_buf_free(&j.text);
    return rc;
}

typedef struct modified_job {
    sftp *s;
    const char *name;
    time_t when;
} modified_job;

static int modified_attempt(void *arg, int *permanent)
{
    modified_job *j = arg;
    zb_buf url = ZB_BUF_INIT;
    int rc = zb_buf_printf(&url, "%s%s", j->s->dir_url, j->name);
    if (rc == 0) {
        begin(j->s, url.data);
        j->s->t.req.no_body = 1;
        j->s->t.req.want_filetime = 1;
        rc = perform(j->s, "reading the time of a file", permanent);
    }
    if (rc == 0 && j->s->t.filetime >= 0)
        j->when = (time_t)j->s->t.filetime;
    zb_buf_free(&url);
    return rc;
}

static int sftp_modified(void *state, const char *name, time_t *when)
{
    modified_job j = {state, name, 0};
    int rc = zb_remote_retry(((sftp *)state)->conf, "reading the time of a file", modified_attempt, &j);
    *when = j.when;
    return rc;
}

const zb_remote_driver zb_remote_sftp = {"sftp",      sftp_open,  sftp_upload, sftp_list, sftp_download,
                                         sftp_remove, sftp_close, NULL,        NULL,      sftp_modified};

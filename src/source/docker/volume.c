#include "zakpos_backup/source/docker/volume.h"
#include "zakpos_backup/archive/manifest.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/fs.h"
#include "zakpos_backup/common/log.h"
#include "zakpos_backup/common/progress.h"
#include "zakpos_backup/common/signal.h"
#include "zakpos_backup/common/walk.h"
#include "zakpos_backup/source/docker/acl.h"
#include "zakpos_backup/source/docker/agent.h"
#include "zakpos_backup/source/docker/helper.h"
#include "zakpos_backup/source/docker/quiesce.h"
#include "zakpos_backup/source/path/path.h"
#include "zakpos_backup/source/path/prefetch.h"
#include "zakpos_backup/stream/handoff.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libcurl hands Docker's body over in pieces of about 16 KiB (its chunked
 * encoding's): gathered into buffers this large, the reader wakes up a
 * sixteenth as often, which costs far more than the copy on a virtual
 * machine. Four of them: 1 MiB on its way, as much as the pipe held that
 * the buffers replaced. */
#define BATCH_BYTES   (256 * 1024)
#define BATCH_BUFFERS 4
#define DATA_DIR      "data"
#define META_NAME     "volume.json"

/* ------------------------------------------------------------- backup */

/* Docker's tar stream reaches libarchive through a handoff of buffers: a
 * thread runs the request and copies the body in, libarchive reads each
 * buffer in place. */
typedef struct archive_fetch {
    zb_docker *d;
    char *path;
    zb_agent *agent; /* the stream comes from the volume agent instead */
    uint64_t agent_entries;
    zb_handoff *handoff;
    pthread_t thread;
    int failed;
    zb_error_saved error;
} archive_fetch;

static int to_handoff(const void *data, size_t len, void *payload)
{
    archive_fetch *f = payload;
    return zb_handoff_write(f->handoff, data, len);
}

/* The agent's stdout into the handoff, then its exit status and count. */
static int agent_fetch(archive_fetch *f)
{
    enum { CHUNK = 256 * 1024 };
    char *buf = malloc(CHUNK);
    ssize_t n = buf ? 0 : zb_error_set(ZB_ENOMEM, "out of memory");
    while (buf && (n = zb_agent_read(f->agent, buf, CHUNK)) > 0 && to_handoff(buf, (size_t)n, f) == 0)
        ;
    free(buf);
    if (n > 0)
        return zb_error_code(); /* the stream's reader stopped */
    return n < 0 ? (int)n : zb_agent_finish(f->agent, &f->agent_entries);
}

static void *fetch_main(void *arg)
{
    archive_fetch *f = arg;
    if ((f->agent ? agent_fetch(f) : zb_docker_get_stream(f->d, f->path, to_handoff, f, NULL)) < 0) {
        f->failed = 1;
        zb_error_save(&f->error);
    }
    zb_handoff_end(f->handoff);
    return NULL;
}

static la_ssize_t read_handoff(struct archive *a, void *payload, const void **data)
{
    (void)a;
    return zb_handoff_read(payload, data);
}

static int strip_dot(const char *name, const char **relative)
{
    if (strcmp(name, "./") == 0 || strcmp(name, ".") == 0) {
        *relative = ".";
        return 0;
    }
    if (strncmp(name, "./", 2) != 0)
        return zb_error_set(ZB_EUNSAFE, "Docker sent an entry outside the volume: %s", name);
    *relative = name + 2;
    return 0;
}

/* One entry of Docker's stream with its names inside the volume ("." the
 * root); a regular file's data is read from `in`. */
typedef int (*entry_visit_fn)(struct archive *in, struct archive_entry *e, const char *relative,
                              const char *link_relative, void *payload);

static int visit_entry(struct archive *in, struct archive_entry *e, char *last_name, size_t last_size,
                       entry_visit_fn visit, void *payload)
{
    const char *relative = NULL, *link_relative = NULL;
    char *name = zb_strdup(archive_entry_pathname(e));
    if (!name)
        return zb_error_set(ZB_ENOMEM, "out of memory");
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '/')
        name[n - 1] = '\0';
    int rc = strip_dot(name, &relative);
    snprintf(last_name, last_size, "%s", relative ? relative : name);
    if (rc == 0 && archive_entry_hardlink(e))
        rc = strip_dot(archive_entry_hardlink(e), &link_relative);
    if (rc == 0)
        rc = visit(in, e, relative, link_relative, payload);
    free(name);
    return rc;
}

/* Names Docker's stream holds, read a second time (names only) when the
 * counts disagree, so the error can say what is missing. */
typedef struct name_list {
    char **items;
    size_t count, cap;
} name_list;

static int collect_name(struct archive *in, struct archive_entry *e, const char *relative, const char *link_relative,
                        void *payload)
{
    (void)in, (void)e, (void)link_relative;
    name_list *l = payload;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **grown = realloc(l->items, cap * sizeof(*grown));
        if (!grown)
            return zb_error_set(ZB_ENOMEM, "out of memory");
        l->items = grown, l->cap = cap;
    }
    return (l->items[l->count] = zb_strdup(relative)) != NULL ? (l->count++, 0)
                                                              : zb_error_set(ZB_ENOMEM, "out of memory");
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void name_list_free(name_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
}

/* Copies one entry from Docker's stream into the archive. */
static int copy_entry(struct archive *in, struct archive_entry *e, const char *relative, const char *link_relative,
                      void *payload)
{
    zb_archive_writer *w = payload;
    zb_buf stored = ZB_BUF_INIT, stored_link = ZB_BUF_INIT;
    /* content lives under data/, beside volume.json */
    int rc =
        strcmp(relative, ".") == 0 ? zb_buf_puts(&stored, DATA_DIR) : zb_buf_printf(&stored, DATA_DIR "/%s", relative);
    /* ACLs are stored as the direct reader stores them (the agent sends
     * them as xattrs, which libarchive's disk writer would skip) */
    if (rc == 0)
        rc = zb_acl_from_xattrs(e);
    if (rc == 0 && link_relative)
        rc = zb_buf_printf(&stored_link, DATA_DIR "/%s", link_relative);
    if (rc == 0) {
        archive_entry_set_pathname(e, stored.data);
        if (link_relative)
            archive_entry_set_hardlink(e, stored_link.data);
        rc = zb_archive_writer_begin_entry(w, e);
    }
    zb_buf_free(&stored);
    zb_buf_free(&stored_link);
    const void *buf;
    size_t len;
    la_int64_t offset, pos = 0;
    int ar = ARCHIVE_EOF;
    while (rc == 0 && archive_entry_filetype(e) == AE_IFREG && !link_relative &&
           ((ar = archive_read_data_block(in, &buf, &len, &offset)) == ARCHIVE_OK || ar == ARCHIVE_WARN)) {
        if (offset > pos)
            rc = zb_archive_writer_write_zeros(w, (uint64_t)(offset - pos));
        if (rc == 0 && len)
            rc = zb_archive_writer_write(w, buf, len);
        pos = offset + (la_int64_t)len;
        if (rc == 0)
            rc = zb_check_interrupt();
    }
    if (rc == 0 && ar != ARCHIVE_EOF)
        rc = zb_error_set(ZB_EDOCKER, "the stream broke inside %s: %s", relative, archive_error_string(in));
    if (rc == 0 && pos < archive_entry_size(e) && archive_entry_filetype(e) == AE_IFREG && !link_relative)
        rc = zb_archive_writer_write_zeros(w, (uint64_t)(archive_entry_size(e) - pos));
    if (rc == 0)
        rc = zb_archive_writer_end_entry(w);
    return rc;
}

/* One read of the volume (through the helper container), entry by entry.
 * *stream_broke tells a retryable failure (Docker's stream ended early or
 * was malformed) from one of the visitor's (the archive writer, an
 * interrupt). When the volume's folder is on this host (local_folder), a
 * read-ahead thread walks it in Docker's order a window ahead of the
 * stream, so Docker, which reads one file after another, finds them in
 * the page cache. */
static int read_volume_once(zb_docker *d, const char *helper, zb_agent *agent, const char *local_folder,
                            entry_visit_fn visit, void *payload, int *stream_broke, char *last_name, size_t last_size,
                            uint64_t *agent_entries)
{
    *stream_broke = 0;
    archive_fetch f = {d, NULL, agent, 0, NULL, 0, 0, {0, "", ""}};
    zb_buf path = ZB_BUF_INIT;
    int rc = agent ? 0 : zb_docker_api_path(&path, "/containers/", helper, "/archive?path=" ZB_HELPER_MOUNT_POINT "/.");
    f.path = path.data;
    if (rc == 0)
        rc = zb_handoff_new(&f.handoff, BATCH_BYTES, BATCH_BUFFERS);
    if (rc == 0 && pthread_create(&f.thread, NULL, fetch_main, &f) != 0)
        rc = zb_error_set(ZB_EFAIL, "cannot start the stream thread");
    if (rc < 0) {
        zb_handoff_free(f.handoff);
        zb_buf_free(&path);
        return rc;
    }
    zb_prefetch *prefetch = NULL;
    if (local_folder)
        zb_prefetch_start(&prefetch, local_folder, ZB_PREFETCH_WINDOW, 1);
    struct archive *in = archive_read_new();
    archive_read_support_format_tar(in);
    int ar = archive_read_open2(in, f.handoff, NULL, read_handoff, NULL, NULL);
    struct archive_entry *e;
    int ours = 0;
    /* a warning is a name libarchive cannot convert to this locale: the raw
     * bytes are kept, as the path source keeps them */
    while (rc == 0 && ar == ARCHIVE_OK &&
           ((ar = archive_read_next_header(in, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN)) {
        ar = ARCHIVE_OK;
        if ((rc = visit_entry(in, e, last_name, last_size, visit, payload)) < 0)
            ours = zb_error_code() != ZB_EDOCKER;
        else if (archive_entry_filetype(e) == AE_IFREG)
            zb_prefetch_advance(prefetch, (uint64_t)archive_entry_size(e));
    }
    zb_prefetch_stop(prefetch);
    if (rc == 0 && ar != ARCHIVE_EOF)
        rc =
            zb_error_set(ZB_EDOCKER, "Docker's tar stream is broken after %s: %s", last_name, archive_error_string(in));
    archive_read_free(in);
    zb_handoff_stop(f.handoff); /* a thread still writing fails and stops */
    pthread_join(f.thread, NULL);
    zb_handoff_free(f.handoff);
    if (f.failed && !ours) {
        zb_error_raise(&f.error);
        rc = ZB_EDOCKER;
    }
    if (rc < 0 && zb_interrupted())
        rc = zb_check_interrupt(); /* a stream cut short by the signal is not a broken one */
    *stream_broke = rc < 0 && !ours && rc != ZB_EINTR;
    if (agent_entries)
        *agent_entries = f.agent_entries;
    zb_buf_free(&path);
    return rc;
}

static json_t *volume_meta(json_t *info);

/* No entry is dropped silently: what reached the archive is checked against
 * an independent count of the volume's folder (sockets aside: no tar holds
 * them); when Docker's stream left entries out, a second read of its names
 * says which. helper NULL: the folder was read directly. */
static int cross_check(zb_docker *d, const char *name, const char *helper, const char *folder, uint64_t stored,
                       int *mismatch)
{
    *mismatch = 0;
    zb_walk_count counted;
    int rc = zb_walk_count_tree(&counted, folder);
    if (rc < 0)
        return zb_error_context("volume %s: cannot count its entries", name);
    if (counted.sockets)
        zb_log_info("volume %s: %llu socket(s) left out: a socket has no content to back up", name,
                    (unsigned long long)counted.sockets);
    if (counted.entries <= stored)
        return 0;
    *mismatch = 1;
    zb_buf missing = ZB_BUF_INIT;
    uint64_t missing_count = 0;
    name_list names = {NULL, 0, 0};
    char last[1024] = "";
    int broke = 0;
    if (helper &&
        read_volume_once(d, helper, NULL, NULL, collect_name, &names, &broke, last, sizeof(last), NULL) == 0) {
        if (names.count > 1) /* items is NULL when the volume listed nothing */
            qsort(names.items, names.count, sizeof(*names.items), compare_names);
        zb_walk_list_missing(&missing, &missing_count, folder, names.items, names.count, 10);
    }
    zb_error_set(helper ? ZB_EDOCKER : ZB_EIO, "volume %s holds %llu entries but only %llu reached the archive%s%s",
                 name, (unsigned long long)counted.entries, (unsigned long long)stored, missing.len ? "; missing:" : "",
                 missing.len ? missing.data : "");
    if (helper)
        zb_error_hint(
            "Docker's archive stream leaves out paths longer than 4096 bytes; run the backup on the Docker host "
            "(as root) so the volume's folder is read directly");
    name_list_free(&names);
    zb_buf_free(&missing);
    return zb_error_code();
}

static int can_read_directly(json_t *info) { return zb_volume_reachable_folder(info) != NULL; }

/* volume.json comes first, so a restore can create the volume as it was
 * before the content arrives. */
static int write_meta(zb_archive_writer *w, json_t *info)
{
    json_t *meta = volume_meta(info);
    json_object_set(meta, "name", json_object_get(info, "Name"));
    char *text = meta ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int rc = text ? zb_archive_writer_add_file(w, META_NAME, text, strlen(text), 0600)
                  : zb_error_set(ZB_ENOMEM, "out of memory");
    free(text);
    json_decref(meta);
    return rc;
}

static json_t *volume_meta(json_t *info)
{
    return json_pack("{s:O?, s:O?, s:O?, s:O?}", "driver", json_object_get(info, "Driver"), "labels",
                     json_object_get(info, "Labels"), "options", json_object_get(info, "Options"), "scope",
                     json_object_get(info, "Scope"));
}

/* A stream that breaks off (a file changed while Docker read it) cannot be
 * taken back out of an archive already being written, so the caller is told
 * (*retry) and writes the whole archive again, a bounded number of times. */
int zb_volume_backup(zb_archive_writer *w, zb_docker *d, const char *name, const zb_volume_backup_options *opts,
                     int *retry)
{
    *retry = 0;
    json_t *info = NULL;
    char *helper = NULL;
    char last_name[1024] = "(start of the volume)";
    zb_quiesce h;
    memset(&h, 0, sizeof(h));
    int rc = zb_volume_inspect(d, name, &info);
    /* direct whenever this host can: only the folder itself carries every
     * attribute (Docker's tar has no sub-second times nor most xattrs);
     * else the volume agent, which carries them too */
    int reachable = rc == 0 && can_read_directly(info);
    zb_volume_mode mode =
        rc == 0 ? zb_volume_choose_mode(name, reachable, opts ? opts->api : 0, opts ? opts->agent : 0) : ZB_VOLUME_API;
    if (mode == ZB_VOLUME_ERROR)
        rc = zb_error_code();
    int direct = mode == ZB_VOLUME_DIRECT;
    zb_agent *agent = NULL;
    uint64_t agent_entries = 0;
    if (rc == 0 && mode == ZB_VOLUME_API)
        rc = zb_helper_create(d, name, 1, &helper);
    int held = 0;
    if (rc == 0)
        rc = zb_quiesce_hold(&h, d, name, opts, 0), held = 1;
    if (rc == 0) {
        json_t *meta = volume_meta(info);
        json_object_set_new(meta, "read", json_string(zb_volume_mode_name(mode)));
        rc = zb_archive_writer_begin_source(w, ZB_SOURCE_VOLUME, name, meta);
    }
    if (rc == 0)
        rc = write_meta(w, info);
    int broke = 0;
    const char *mountpoint = json_string_value(json_object_get(info, "Mountpoint"));
    uint64_t before = zb_archive_writer_source_entries(w);
    if (rc == 0 && direct) {
        zb_log_detail("reading volume %s directly from %s", name, mountpoint);
        rc = zb_path_add_tree(w, mountpoint, DATA_DIR);
    } else if (rc == 0) {
        if (mode == ZB_VOLUME_AGENT)
            rc = zb_agent_start(&agent, d, name, 0);
        if (rc == 0)
            rc = read_volume_once(d, helper, agent, reachable ? mountpoint : NULL, copy_entry, w, &broke, last_name,
                                  sizeof(last_name), &agent_entries);
    }
    int mismatch = 0;
    uint64_t stored = zb_archive_writer_source_entries(w) - before;
    if (rc == 0 && reachable)
        rc = cross_check(d, name, mode == ZB_VOLUME_API ? helper : NULL, mountpoint, stored, &mismatch);
    else if (rc == 0 && mode == ZB_VOLUME_AGENT && agent_entries > stored)
        rc = zb_error_set(
            ZB_EDOCKER, "volume %s holds %llu entries (the volume agent's own count) but only %llu reached the archive",
            name, (unsigned long long)agent_entries, (unsigned long long)stored),
        mismatch = 1;
    else if (rc == 0)
        zb_log_detail("volume %s: its folder is not reachable from here, so its entries cannot be counted apart", name);
    /* read directly or by the agent, nothing but a service writing meanwhile
     * explains a missing entry: the archive is written again, as for a
     * broken stream */
    if (mismatch && mode != ZB_VOLUME_API)
        broke = 1;
    if (rc == 0)
        rc = zb_archive_writer_end_source(w, NULL);
    if (held) {
        int released = zb_quiesce_release(&h, d);
        if (rc == 0)
            rc = released;
    }
    *retry = rc < 0 && broke;
    if (rc < 0 && broke) {
        zb_error_context("volume %s could not be read consistently (last file: %s)", name, last_name);
        zb_error_hint(
            "files change while they are read; stop or pause the service during the backup with the label " ZB_LABEL_STOP
            "=true (or =pause), or flush it with " ZB_LABEL_EXEC_PRE);
    } else if (rc < 0) {
        zb_error_context("backup of volume %s", name);
    }
    zb_agent_free(agent);
    zb_helper_remove(d, helper);
    free(helper);
    json_decref(info);
    return rc;
}

zb_volume_mode zb_volume_choose_mode(const char *name, int reachable, int api, int agent)
{
    if (api) {
        /* the user's choice, but never a silent loss: where the folder is
         * out of reach nothing else would say what this volume loses */
        zb_log_warn("volume %s: going through Docker's own tar (--volume-api), which loses " ZB_AGENT_MISSING_LOSS,
                    name);
        return ZB_VOLUME_API;
    }
    if (agent && !zb_agent_binary()) {
        zb_error_set(ZB_EUSAGE, "--volume-agent: the volume agent %s was not found beside this program", ZB_AGENT_NAME);
        zb_error_hint("install it as the package does (LIBEXECDIR/zakpos-backup/%s), or drop --volume-agent",
                      ZB_AGENT_NAME);
        return ZB_VOLUME_ERROR;
    }
    if (agent)
        return ZB_VOLUME_AGENT;
    if (reachable)
        return ZB_VOLUME_DIRECT;
    if (zb_agent_binary())
        return ZB_VOLUME_AGENT;
    zb_log_warn(
        "volume %s: its folder is not reachable from here and the volume agent %s is not installed beside this "
        "program: going through Docker's own tar, which loses " ZB_AGENT_MISSING_LOSS,
        name, ZB_AGENT_NAME);
    return ZB_VOLUME_API;
}

const char *zb_volume_mode_name(zb_volume_mode mode)
{
    return mode == ZB_VOLUME_DIRECT ? "direct" : mode == ZB_VOLUME_AGENT ? "agent" : "api";
}

int zb_volume_walk(zb_docker *d, const char *name, zb_volume_visit_fn visit, void *payload, int *full_fidelity)
{
    json_t *info = NULL;
    char *helper = NULL;
    zb_agent *agent = NULL;
    char last_name[1024] = "(start of the volume)";
    int broke = 0;
    *full_fidelity = 0;
    int rc = zb_volume_inspect(d, name, &info);
    /* the agent carries what Docker's tar leaves out, so a read-back
     * through it can compare everything the restore wrote */
    if (rc == 0 && zb_agent_binary())
        rc = zb_agent_start(&agent, d, name, 0);
    else if (rc == 0)
        rc = zb_helper_create(d, name, 1, &helper);
    if (rc == 0)
        rc = read_volume_once(d, helper, agent,
                              can_read_directly(info) ? json_string_value(json_object_get(info, "Mountpoint")) : NULL,
                              visit, payload, &broke, last_name, sizeof(last_name), NULL);
    if (rc < 0)
        zb_error_context("reading volume %s back", name);
    *full_fidelity = rc == 0 && agent;
    zb_agent_free(agent);
    zb_helper_remove(d, helper);
    free(helper);
    json_decref(info);
    return rc;
}

int zb_volume_remove(zb_docker *d, const char *name)
{
    zb_buf path = ZB_BUF_INIT;
    long status = 0;
    int rc = zb_docker_api_path(&path, "/volumes/", name, "");
    if (rc == 0)
        rc = zb_docker_json(d, "DELETE", path.data, NULL, NULL, &status);
    zb_buf_free(&path);
    if (rc < 0 && status == 404)
        return 0; /* already gone */
    if (rc < 0)
        zb_error_context("cannot remove volume %s", name);
    return rc;
}

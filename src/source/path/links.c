#include "zakpos_backup/source/path/links.h"
#include "zakpos_backup/common/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A jansson object serves as the set of names: a hash table with string
 * keys, about 100 bytes per symbolic link restored. */
struct zb_link_guard {
    json_t *links;
};

int zb_link_guard_new(zb_link_guard **out)
{
    *out = NULL;
    zb_link_guard *g = calloc(1, sizeof(*g));
    if (!g || !(g->links = json_object())) {
        free(g);
        return zb_error_set(ZB_ENOMEM, "out of memory");
    }
    *out = g;
    return 0;
}

void zb_link_guard_free(zb_link_guard *g)
{
    if (!g)
        return;
    json_decref(g->links);
    free(g);
}

/* The first folder of path (a proper prefix) that the restore made a link. */
static const char *link_on_the_way(const zb_link_guard *g, const char *path, char **found)
{
    for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
        if (json_object_getn(g->links, path, (size_t)(slash - path))) {
            *found = strndup(path, (size_t)(slash - path));
            return *found ? *found : "?";
        }
    }
    return NULL;
}

static int refuse(const char *what, const char *relative, const char *how, const char *link)
{
    zb_error_set(ZB_EUNSAFE, "%s: refusing %s: %s the symbolic link %s restored before it", what, relative, how, link);
    return zb_error_hint("a restore never writes through a symbolic link; this archive was crafted or damaged");
}

int zb_link_guard_entry(zb_link_guard *g, const char *relative, const char *hardlink, struct archive_entry *entry,
                        const char *what)
{
    char *found = NULL;
    const char *link;
    int rc = 0;
    if (strcmp(relative, ".") == 0)
        return 0;
    if ((link = link_on_the_way(g, relative, &found)))
        rc = refuse(what, relative, "its path goes through", link);
    else if (json_object_get(g->links, relative))
        rc = refuse(what, relative, "it would replace", relative);
    else if (hardlink && (link = link_on_the_way(g, hardlink, &found)))
        rc = refuse(what, relative, "its hard-link target goes through", link); /* a link to the link itself is fine */
    else if (archive_entry_filetype(entry) == AE_IFLNK && json_object_set_new(g->links, relative, json_true()) < 0)
        rc = zb_error_set(ZB_ENOMEM, "out of memory");
    free(found);
    return rc;
}

#include "zakpos_backup/common/place.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <stdlib.h>

static char *state_dir, *docker_host;

static int set(char **slot, const char *value)
{
    char *copy = NULL;
    if (value && *value && !(copy = zb_strdup(value)))
        return zb_error_set(ZB_ENOMEM, "out of memory");
    free(*slot);
    *slot = copy;
    return 0;
}

int zb_place_set_state_dir(const char *value) { return set(&state_dir, value); }
int zb_place_set_docker_host(const char *value) { return set(&docker_host, value); }

const char *zb_place_state_dir(void)
{
    const char *env = getenv(ZB_ENV_STATE_DIR);
    return state_dir ? state_dir : env && *env ? env : ZB_DEFAULT_STATE_DIR;
}

const char *zb_place_docker_host(void)
{
    const char *env = getenv("DOCKER_HOST");
    return docker_host ? docker_host : env && *env ? env : NULL;
}

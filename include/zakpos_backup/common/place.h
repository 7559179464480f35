/* Where this process keeps its state and which Docker engine it talks to.
 * A command's context sets them from the configuration; unset, the
 * environment (ZAKPOS_BACKUP_STATE_DIR, DOCKER_HOST) decides, then the
 * defaults. The sources ask here instead of reading the environment, so a
 * configured value reaches them without changing the process's environment. */
#ifndef ZB_COMMON_PLACE_H
#define ZB_COMMON_PLACE_H

#define ZB_ENV_STATE_DIR     "ZAKPOS_BACKUP_STATE_DIR"
#define ZB_DEFAULT_STATE_DIR "/var/lib/zakpos-backup"

/* value NULL or "": back to the environment and the default. Copied. */
int zb_place_set_state_dir(const char *value);
int zb_place_set_docker_host(const char *value);
/* Never NULL. */
const char *zb_place_state_dir(void);
/* NULL when neither the context nor DOCKER_HOST names one (the caller's
 * default, the local socket, applies). */
const char *zb_place_docker_host(void);

#endif

/* Keeping secrets out of reach of other processes. Once a secret is in
 * memory the process is not dumpable and writes no core file. Secrets that
 * arrive in environment variables (the archive passphrase, PGPASSWORD) are
 * taken out of the environment at start, their bytes overwritten, so that
 * /proc/PID/environ and child processes no longer show them; a child that
 * needs one gets it through an inherited memory file instead. */
#ifndef ZB_COMMON_SECRET_H
#define ZB_COMMON_SECRET_H

#include <stddef.h>

/* prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE 0, for the rest of the process. */
void zb_secret_protect_process(void);
/* Moves each secret variable's value into locked memory and wipes it. */
int zb_secret_env_take(void);
/* The value a secret variable had at start (NULL if unset), or the variable
 * itself for a name that is not taken. */
const char *zb_secret_env_get(const char *name);
/* In a child about to exec this program: each taken secret goes into a
 * memory file the child inherits, named by the variable's _FILE companion
 * (/proc/self/fd/N), unless that companion is already set. */
int zb_secret_env_hand_down(void);
/* Refuses a secret key file that group or others may read or write, as ssh
 * does: ZB_EKEY with a chmod hint. */
int zb_secret_check_file_mode(const char *path);

#endif

/* A progress line on stderr that names the phase it is in (reading,
 * loading tables, building indexes, checking keys, verifying, publishing).
 * A phase with a byte total shows a bar whose position counts the same
 * bytes as its total (for a restore: bytes of the archive file), a rate and
 * an ETA; a phase without one shows the bytes so far or, when it moves no
 * bytes (an index build), how long it has taken, refreshed every second so
 * the screen never sits still. Shown only when stderr is a terminal and logs
 * are text: cron jobs and the daemon never get one. One process-wide line:
 * the CLI runs one long operation at a time. */
#ifndef ZB_COMMON_PROGRESS_H
#define ZB_COMMON_PROGRESS_H

#include <stdint.h>

void zb_progress_enable(int enabled);
/* Starts the line for an operation ("restore") in its first phase,
 * "reading", with total_bytes (0: not known). */
void zb_progress_begin(const char *label, uint64_t total_bytes);
/* A new phase: the counts start again; total 0 for a phase of unknown size. */
void zb_progress_phase(const char *phase, uint64_t total_bytes);
/* Renames the current phase, keeping its bar ("reading" becomes "reading,
 * loading tables" once the database starts loading). */
void zb_progress_rename(const char *phase);
/* Bytes of the current phase's unit done. */
void zb_progress_add(uint64_t bytes);
/* Clears the line; the caller logs the summary. */
void zb_progress_end(void);

#endif

/* The cluster globals a database needs on a new server: roles (attributes,
 * memberships, per-role settings, comments) and tablespaces, read through
 * libpq with pg_dumpall --globals-only semantics. A backup stores them as
 * pg/<name>/globals.json before the table of contents; only `recover`
 * applies them (restore, verify --restore and drill never touch roles). */
#ifndef ZB_SOURCE_PG_GLOBALS_H
#define ZB_SOURCE_PG_GLOBALS_H

#include "zakpos_backup/archive/reader.h"

#include <jansson.h>
#include <libpq-fe.h>

#define ZB_PG_GLOBALS_NAME   "globals.json"
#define ZB_PG_GLOBALS_FORMAT 1

/* Reads the globals of conn's server into *out (a new JSON object).
 * with_passwords: also the password verifiers, from pg_authid; a role that
 * cannot read it gets everything else, with one warning. */
int zb_pg_globals_read(json_t **out, PGconn *conn, int with_passwords);

/* Takes the archive entry if it is a database's globals.json (1; 0 for
 * any other entry): read whole and parsed under the JSON limits
 * (common/json.h), so an oversize or deeply nested one is refused before it
 * is held, into *globals, which must be NULL: a second one is refused (one
 * recovery restores one database's globals). The text is wiped once
 * parsed: it may hold password verifiers. */
int zb_pg_globals_take(json_t **globals, zb_archive_reader *r, struct archive_entry *entry, const zb_entry_info *info);

/* What applying the globals did, for the report (new references). */
typedef struct zb_pg_globals_result {
    json_t *created;          /* role names created */
    json_t *kept;             /* role names that existed and were left as they were */
    json_t *without_password; /* created roles that had no verifier in the archive */
    json_t *tablespaces;      /* tablespace names created */
    json_t *problems;         /* statements that failed, as messages (memberships, settings...) */
} zb_pg_globals_result;

/* Creates, on the server conn is connected to, every role and tablespace of
 * globals that does not exist there, then the memberships, settings and
 * comments of the roles it created. Roles that exist are kept as they are,
 * but for those in ours (an array of names, may be NULL: roles an
 * interrupted recovery created), which count as created. A role that
 * cannot be created is an error naming it. */
int zb_pg_globals_apply(zb_pg_globals_result *result, PGconn *conn, json_t *globals, json_t *ours);
/* Creates every tablespace of globals that conn's server lacks (a failure
 * goes to result->problems: the objects then go to the default one), owned
 * by the source's owner where that role exists (else zb_pg_globals_apply
 * gives it). Run before a database is restored, so that its relations are
 * made in them. */
int zb_pg_globals_create_tablespaces(zb_pg_globals_result *result, PGconn *conn, json_t *globals);
/* Drops the tablespaces result records as created (a recovery that failed
 * takes back what it made); one that cannot be dropped is a warning. */
void zb_pg_globals_drop_tablespaces(zb_pg_globals_result *result, PGconn *conn);
/* Once database db exists: its owner as the source had it, and the
 * per-role settings that name it (ALTER ROLE ... IN DATABASE); failures go
 * to result->problems. */
int zb_pg_globals_apply_database(zb_pg_globals_result *result, PGconn *conn, json_t *globals, const char *db);
void zb_pg_globals_result_free(zb_pg_globals_result *result);

/* What blocks applying globals with conn's role: a role to create that needs
 * superuser when this role is not one, or no CREATEROLE at all. Appends one
 * message per problem to blocked (and roles that exist to existing). */
int zb_pg_globals_check(json_t *blocked, json_t *existing, PGconn *conn, json_t *globals);
/* Appends to missing the names of the roles of globals that conn's server
 * does not have: those a recovery is about to create. */
int zb_pg_globals_missing(json_t *missing, PGconn *conn, json_t *globals);

#endif

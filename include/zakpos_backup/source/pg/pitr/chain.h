/* What the follower sets up on the server and in the repository before it
 * streams: the server's readiness (wal_level, slot limits), the tables and
 * their replica identity, the publication (always FOR TABLE, never FOR ALL
 * TABLES), and the chain's state file pitr/<slot>.json. */
#ifndef ZB_SOURCE_PG_PITR_CHAIN_H
#define ZB_SOURCE_PG_PITR_CHAIN_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

/* wal_level must be logical: otherwise an error that says what to change. */
int zb_pitr_check_server(PGconn *conn);
/* The publication lists every user table, but those excluded; a table that
 * cannot be replicated (no primary key, no replica identity) fails the
 * setup, named, unless listed in full_identity (then set to REPLICA
 * IDENTITY FULL) or excluded. */
int zb_pitr_publication_setup(PGconn *conn, const char *publication, const char *const *full_identity,
                              const char *const *exclude);
int zb_pitr_publication_drop(PGconn *conn, const char *publication);
/* Tables the publication would list today but does not (a table created
 * since): their number, and *first (free()) the first one's schema.name. */
int zb_pitr_publication_missing(char **first, PGconn *conn, const char *publication, const char *const *exclude);
/* The catalog as the chain assumes it (the publication's tables with their
 * columns, replica identity and partitioning; the user's sequences):
 * {"hash", "tables": N, "sequences": N}, recorded in the state file when the
 * chain starts and compared at each catalog check. */
int zb_pitr_catalog_fingerprint(json_t **out, PGconn *conn, const char *publication);
/* Why the chain cannot go on from before to now (no names), or NULL. */
const char *zb_pitr_catalog_change(json_t *before, json_t *now);
/* pitr/<chain>/end.json, written when a schema change ended the chain:
 * {"end_lsn", "reason", "next_chain"} (plain: LSNs and chain stamps, a
 * reason without names). *end NULL if the chain did not end so. */
int zb_pitr_chain_end_write(const char *chain_dir, uint64_t end_lsn, const char *reason, const char *next_chain);
int zb_pitr_chain_end_read(json_t **end, const char *chain_dir);
/* 1 if the slot exists, 0 if not. */
int zb_pitr_slot_exists(PGconn *conn, const char *slot);
int zb_pitr_slot_drop(PGconn *conn, const char *slot);

/* Each chain has its own slot, <name>_<chain> (the chain's stamp in lower
 * case; name cut to keep the whole within PostgreSQL's 63 bytes), so that a
 * schema change creates the new chain's slot before the old one goes. */
int zb_pitr_chain_slot_name(char *out, size_t size, const char *name, const char *chain);
/* The follower's slots (the plain name, as older repositories used, and
 * every <name>_<chain>) in the connection's database but keep (NULL: none
 * left out): their number, and *first (free()) the first one's name. */
int zb_pitr_slot_family_find(char **first, PGconn *conn, const char *name, const char *keep);
/* Drops them (only those no session reads, if only_inactive): how many. */
int zb_pitr_slot_family_drop(PGconn *conn, const char *name, const char *keep, int only_inactive);
/* The current chain's slot as the state file pitr/<name>.json names it, or
 * name itself without a state file (or repo NULL). */
int zb_pitr_current_slot(char *out, size_t size, const char *repo, const char *name);

/* pitr/<name>.json, name the configured slot name (the follower's name):
 * {"format","chain","slot" (the chain's slot),"publication","source","base","lsn"} */
int zb_pitr_state_read(json_t **out, const char *repo, const char *slot);
int zb_pitr_state_write(const char *repo, const char *slot, json_t *state);
int zb_pitr_state_remove(const char *repo, const char *slot);
/* <repo>/pitr/<chain> (free()) */
char *zb_pitr_chain_dir(const char *repo, const char *chain);

#endif

/* The `keygen` command: see its --help text and docs/USER_GUIDE.md. */
#ifndef ZB_COMMAND_KEYGEN_H
#define ZB_COMMAND_KEYGEN_H

#include "zakpos_backup/config/context.h"

typedef struct zb_keygen_request {
    const char *out;                /* FILE: FILE, FILE.pub, FILE.sign, FILE.signer */
    const char *add_signing_key_to; /* or only the signing key beside this FILE */
} zb_keygen_request;
/* Creates the keys and prints the public key's path. */
int zb_keygen_run(zb_context *ctx, const zb_keygen_request *req);

/* Runs the command; returns 0 or a negative zb error code (message set). */
int zb_cmd_keygen(zb_context *ctx, int argc, char **argv);

#endif

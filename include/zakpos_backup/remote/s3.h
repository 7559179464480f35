/* The S3 driver: any S3-compatible store, requests signed with AWS
 * Signature V4 by libcurl (CURLOPT_AWS_SIGV4), credentials from the AWS
 * variables or a shared credentials file, multipart uploads above the part
 * size (an object exists only once complete), ListObjectsV2 paging. */
#ifndef ZB_REMOTE_S3_H
#define ZB_REMOTE_S3_H

#include "zakpos_backup/remote/driver.h"

extern const zb_remote_driver zb_remote_s3;

typedef struct zb_s3_credentials {
    char *access_key; /* these three live in sodium-locked memory */
    char *secret_key;
    char *session_token; /* NULL without one */
    char source[320];    /* "env AWS_ACCESS_KEY_ID", "FILE [profile]": for messages */
} zb_s3_credentials;

/* The credentials for a remote: the file and profile the remote names
 * (credentials_file, profile), else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
 * (and AWS_SESSION_TOKEN), else AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials with AWS_PROFILE or "default". */
int zb_s3_credentials_load(zb_s3_credentials *out, const zb_config_remote *conf);
void zb_s3_credentials_free(zb_s3_credentials *c);

#endif

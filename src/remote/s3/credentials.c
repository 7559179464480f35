#include "zakpos_backup/remote/s3.h"
#include "zakpos_backup/common/buf.h"
#include "zakpos_backup/common/error.h"

#include <errno.h>
#include <ini.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A copy of a secret in memory that is locked and wiped when freed. */
static char *secret_copy(const char *text)
{
    size_t n = strlen(text);
    char *s = sodium_malloc(n + 1);
    if (s)
        memcpy(s, text, n + 1);
    return s;
}

static void secret_free(char *s)
{
    if (s)
        sodium_free(s); /* wipes before freeing */
}

void zb_s3_credentials_free(zb_s3_credentials *c)
{
    secret_free(c->access_key);
    secret_free(c->secret_key);
    secret_free(c->session_token);
    memset(c, 0, sizeof(*c));
}

static int set_all(zb_s3_credentials *c, const char *access, const char *secret, const char *token)
{
    c->access_key = secret_copy(access);
    c->secret_key = secret_copy(secret);
    c->session_token = token && *token ? secret_copy(token) : NULL;
    if (!c->access_key || !c->secret_key || (token && *token && !c->session_token)) {
        zb_s3_credentials_free(c);
        return zb_error_set(ZB_ENOMEM, "out of memory for the S3 credentials");
    }
    return 0;
}

typedef struct profile_state {
    const char *profile;
    char *access, *secret, *token; /* sodium memory */
    int found;
} profile_state;

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    profile_state *st = user;
    if (strcmp(section, st->profile) != 0)
        return 1;
    st->found = 1;
    char **slot = strcmp(key, "aws_access_key_id") == 0       ? &st->access
                  : strcmp(key, "aws_secret_access_key") == 0 ? &st->secret
                  : strcmp(key, "aws_session_token") == 0     ? &st->token
                                                              : NULL;
    if (slot) {
        secret_free(*slot);
        *slot = secret_copy(value);
    }
    return 1;
}

static int from_file(zb_s3_credentials *c, const char *file, const char *profile)
{
    profile_state st = {profile, NULL, NULL, NULL, 0};
    FILE *f = fopen(file, "r");
    if (!f)
        return zb_error_errno(errno == ENOENT ? ZB_ECONFIG : ZB_EIO, errno, "cannot read the AWS credentials file %s",
                              file);
    int line = ini_parse_file(f, on_key, &st);
    fclose(f);
    int rc = 0;
    if (line != 0)
        rc = zb_error_set(ZB_ECONFIG, "%s:%d: not a valid line of a credentials file", file, line);
    else if (!st.found)
        rc = zb_error_set(ZB_ECONFIG, "the AWS credentials file %s has no profile [%s]", file, profile);
    else if (!st.access || !st.secret)
        rc = zb_error_set(ZB_ECONFIG, "profile [%s] of %s lacks aws_access_key_id or aws_secret_access_key", profile,
                          file);
    else
        rc = set_all(c, st.access, st.secret, st.token);
    if (rc == 0)
        snprintf(c->source, sizeof(c->source), "%.256s [%.40s]", file, profile);
    secret_free(st.access);
    secret_free(st.secret);
    secret_free(st.token);
    return rc;
}

int zb_s3_credentials_load(zb_s3_credentials *out, const zb_config_remote *conf)
{
    memset(out, 0, sizeof(*out));
    const char *profile = conf->profile && *conf->profile ? conf->profile : getenv("AWS_PROFILE");
    const char *file = conf->credentials_file && *conf->credentials_file ? conf->credentials_file
                                                                         : getenv("AWS_SHARED_CREDENTIALS_FILE");
    int named = (conf->profile && *conf->profile) || (conf->credentials_file && *conf->credentials_file);
    const char *key_id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!named && key_id && *key_id && secret && *secret) {
        snprintf(out->source, sizeof(out->source), "env AWS_ACCESS_KEY_ID");
        return set_all(out, key_id, secret, getenv("AWS_SESSION_TOKEN"));
    }
    zb_buf home_file = ZB_BUF_INIT;
    if (!file || !*file) {
        const char *home = getenv("HOME");
        if (home && *home && zb_buf_printf(&home_file, "%s/.aws/credentials", home) == 0 &&
            access(home_file.data, F_OK) == 0)
            file = home_file.data;
    }
    int rc;
    if (file && *file) {
        rc = from_file(out, file, profile && *profile ? profile : "default");
    } else {
        rc = zb_error_set(ZB_ECONFIG,
                          "no S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set and "
                          "there is no credentials file");
        zb_error_hint(
            "set them (AWS_SESSION_TOKEN too for temporary ones), or write ~/.aws/credentials or the "
            "remote's credentials_file (mode 0600)");
    }
    zb_buf_free(&home_file);
    return rc;
}

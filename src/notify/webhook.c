#include "zakpos_backup/notify/webhook.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/http.h"
#include "zakpos_backup/common/log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIMEOUT_S 15L

static int post_once(zb_http *http, const char *url, const char *text, const zb_http_headers *headers,
                     const char *where)
{
    zb_http_request req = {.what = "the webhook",
                           .url = url,
                           .headers = headers,
                           .body = text,
                           .body_len = strlen(text),
                           .timeout_s = TIMEOUT_S,
                           .cleanup = 1 /* it reports a job a signal stopped, too */};
    zb_http_response resp;
    int rc = zb_http_perform(http, &req, &resp);
    /* the message names the host only: curl's own text may hold the URL */
    if (rc < 0 && resp.failure == ZB_HTTP_STATUS)
        rc = zb_error_set(ZB_EREMOTE, "the webhook at %s answered HTTP %ld", where, resp.status);
    else if (rc < 0 && resp.failure != ZB_HTTP_CALLBACK && resp.failure != ZB_HTTP_INTERRUPTED)
        rc = zb_error_set(ZB_EREMOTE, "cannot deliver the webhook to %s (%s)", where, resp.summary);
    zb_http_response_free(&resp);
    return rc;
}

int zb_webhook_post(const char *url, json_t *body, int attempts)
{
    char where[256];
    zb_http_describe_url(where, sizeof(where), url);
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return zb_error_set(ZB_ENOMEM, "out of memory for a webhook");
    zb_http *http = NULL;
    zb_http_headers headers = {0};
    int rc = zb_http_new(&http);
    if (rc == 0)
        rc = zb_http_headers_add(&headers, "Content-Type: application/json");
    if (attempts <= 0)
        attempts = 3;
    for (int attempt = 1; rc == 0 && attempt <= attempts; attempt++) {
        rc = post_once(http, url, text, &headers, where);
        if (rc == 0) {
            zb_log_detail("webhook delivered to %s", where);
            break;
        }
        if (attempt < attempts) {
            zb_log_warn("%s; trying again (%d of %d)", zb_error_message(), attempt + 1, attempts);
            sleep(1u << (attempt - 1));
            rc = 0;
        }
    }
    zb_http_headers_free(&headers);
    zb_http_free(http);
    free(text);
    return rc;
}

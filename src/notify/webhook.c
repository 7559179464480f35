#include "zakpos_backup/notify/webhook.h"
#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIMEOUT_S 15L

/* "https://hooks.example.com", never the path or query (tokens live there). */
static void describe_url(char *out, size_t size, const char *url)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *at = strchr(host, '@'); /* user:password@host */
    const char *slash = strchr(host, '/');
    if (at && (!slash || at < slash))
        host = at + 1;
    size_t n = strcspn(host, "/?#");
    snprintf(out, size, "%.*s%.*s", scheme_end ? (int)(scheme_end - url + 3) : 0, url, (int)n, host);
}

static size_t discard(char *data, size_t size, size_t count, void *arg)
{
    (void)data, (void)arg;
    return size * count;
}

int zb_webhook_post(const char *url, json_t *body, int attempts)
{
    char where[256];
    describe_url(where, sizeof(where), url);
    char *text = json_dumps(body, JSON_COMPACT);
    CURL *c = curl_easy_init();
    if (!text || !c) {
        free(text);
        if (c)
            curl_easy_cleanup(c);
        return zb_error_set(ZB_ENOMEM, "out of memory for a webhook");
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (attempts <= 0)
        attempts = 3;
    int rc = 0;
    for (int attempt = 1; attempt <= attempts; attempt++) {
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, TIMEOUT_S);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        CURLcode code = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (code == CURLE_OK && status >= 200 && status < 300) {
            rc = 0;
            zb_log_detail("webhook delivered to %s", where);
            break;
        }
        /* the message names the host only: curl's own text may hold the URL */
        rc = code == CURLE_OK ? zb_error_set(ZB_EREMOTE, "the webhook at %s answered HTTP %ld", where, status)
                              : zb_error_set(ZB_EREMOTE, "cannot deliver the webhook to %s (%s)", where, curl_easy_strerror(code));
        if (attempt < attempts) {
            zb_log_warn("%s; trying again (%d of %d)", zb_error_message(), attempt + 1, attempts);
            sleep(1u << (attempt - 1));
        }
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    free(text);
    return rc;
}

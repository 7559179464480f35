/* Notifications: a JSON document POSTed to an HTTP(S) webhook (libcurl),
 * retried with backoff. The URL is a secret (it often carries a token): it
 * never appears in logs or messages, only its scheme and host. */
#ifndef ZB_NOTIFY_WEBHOOK_H
#define ZB_NOTIFY_WEBHOOK_H

#include <jansson.h>

/* Sends body (not stolen) up to attempts times (<= 0: 3), waiting 1 s, 2 s,
 * 4 s... between tries; a 2xx answer is success. */
int zb_webhook_post(const char *url, json_t *body, int attempts);

#endif

/* The HTTP client against a loopback peer (tests/tools/http_peer.py):
 * bodies stream both ways through the callbacks (never kept whole), an
 * error answer's own message reaches the error text, a signal stops a
 * request the peer is slow to answer, and a server that is not there is
 * reported as unreachable without the URL's secret parts. */
#include "zb_cmocka.h"

#include "zakpos_backup/common/error.h"
#include "zakpos_backup/common/http.h"
#include "zakpos_backup/common/signal.h"

#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STREAM_BYTES (48u * 1024 * 1024) /* far more than any buffer the client may keep */

static pid_t peer_pid = -1;
static int peer_stdin = -1;
static int peer_port;

static void peer_start(void)
{
    char port_file[] = "/tmp/zb-http-peer-XXXXXX";
    int fd = mkstemp(port_file);
    assert_true(fd >= 0);
    close(fd);
    unlink(port_file);
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    peer_pid = fork();
    assert_true(peer_pid >= 0);
    if (peer_pid == 0) {
        dup2(pipe_fds[0], 0);
        close(pipe_fds[1]);
        execlp("python3", "python3", ZB_HTTP_PEER, port_file, (char *)NULL);
        _exit(127);
    }
    close(pipe_fds[0]);
    peer_stdin = pipe_fds[1];
    for (int i = 0; i < 3000; i++) { /* the peer's start, however loaded the machine */
        FILE *f = fopen(port_file, "r");
        if (f) {
            assert_int_equal(fscanf(f, "%d", &peer_port), 1);
            fclose(f);
            unlink(port_file);
            return;
        }
        assert_int_equal(waitpid(peer_pid, NULL, WNOHANG), 0);
        usleep(10000);
    }
    fail_msg("the HTTP peer did not start");
}

static int peer_setup(void **state)
{
    (void)state;
    zb_http_global_init();
    zb_signal_reset_for_tests();
    peer_start();
    return 0;
}

static int peer_teardown(void **state)
{
    (void)state;
    if (peer_stdin >= 0)
        close(peer_stdin); /* the peer ends when its stdin does */
    if (peer_pid > 0)
        waitpid(peer_pid, NULL, 0);
    peer_stdin = peer_pid = -1;
    zb_signal_reset_for_tests();
    return 0;
}

static void url_of(char *out, size_t size, const char *path)
{
    snprintf(out, size, "http://127.0.0.1:%d%s", peer_port, path);
}

static unsigned char pattern(uint64_t i) { return (unsigned char)(i * 7 % 251); }

/* ---- streaming ---- */

typedef struct stream_state {
    uint64_t done, total;
    size_t largest_piece;
    unsigned calls;
    crypto_hash_sha256_state hash;
    int mismatch;
} stream_state;

static ssize_t produce(void *buf, size_t len, void *payload)
{
    stream_state *s = payload;
    uint64_t left = s->total - s->done;
    size_t n = len < left ? len : (size_t)left;
    unsigned char *out = buf;
    for (size_t i = 0; i < n; i++)
        out[i] = pattern(s->done + i);
    crypto_hash_sha256_update(&s->hash, out, n);
    s->done += n;
    s->calls++;
    s->largest_piece = n > s->largest_piece ? n : s->largest_piece;
    return (ssize_t)n;
}

static void http_streams_an_upload(void **state)
{
    (void)state;
    char url[128], hex[65];
    unsigned char digest[crypto_hash_sha256_BYTES];
    url_of(url, sizeof(url), "/upload");
    stream_state s = {.total = STREAM_BYTES};
    crypto_hash_sha256_init(&s.hash);
    zb_http *h = NULL;
    assert_int_equal(zb_http_new(&h), 0);
    /* unknown length: sent chunked, as Docker's uploads are */
    zb_http_request req = {
        .what = "uploading", .method = "PUT", .url = url, .source = produce, .source_payload = &s, .source_len = -1};
    zb_http_response resp;
    assert_int_equal(zb_http_perform(h, &req, &resp), 0);
    assert_int_equal(resp.status, 200);
    crypto_hash_sha256_final(&s.hash, digest);
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    json_t *answer = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    assert_non_null(answer);
    assert_int_equal(json_integer_value(json_object_get(answer, "bytes")), STREAM_BYTES);
    assert_string_equal(json_string_value(json_object_get(answer, "sha256")), hex);
    /* the body went out in pieces, none of them the whole */
    assert_true(s.calls > 1);
    assert_true(s.largest_piece < STREAM_BYTES / 4);
    json_decref(answer);
    zb_http_response_free(&resp);
    zb_http_free(h);
}

static int consume(const void *data, size_t len, void *payload)
{
    stream_state *s = payload;
    const unsigned char *in = data;
    for (size_t i = 0; i < len; i++)
        s->mismatch |= in[i] != pattern(s->done + i);
    s->done += len;
    s->calls++;
    s->largest_piece = len > s->largest_piece ? len : s->largest_piece;
    return 0;
}

static void http_streams_a_download(void **state)
{
    (void)state;
    char path[64], url[128];
    snprintf(path, sizeof(path), "/download?bytes=%u", STREAM_BYTES);
    url_of(url, sizeof(url), path);
    stream_state s = {0};
    zb_http *h = NULL;
    assert_int_equal(zb_http_new(&h), 0);
    zb_http_request req = {.what = "downloading", .url = url, .sink = consume, .sink_payload = &s};
    zb_http_response resp;
    assert_int_equal(zb_http_perform(h, &req, &resp), 0);
    assert_int_equal(s.done, STREAM_BYTES);
    assert_false(s.mismatch);
    assert_true(s.calls > 1);
    assert_true(s.largest_piece < STREAM_BYTES / 4);
    assert_int_equal(resp.body.len, 0); /* nothing kept in memory */
    zb_http_response_free(&resp);
    zb_http_free(h);
}

static int refuse_after(const void *data, size_t len, void *payload)
{
    stream_state *s = payload;
    (void)data;
    s->done += len;
    return s->done > 1024 * 1024 ? zb_error_set(ZB_EIO, "the disk is full (a test's sink)") : 0;
}

static void http_sink_error_is_the_error(void **state)
{
    (void)state;
    char url[128];
    url_of(url, sizeof(url), "/download?bytes=33554432");
    stream_state s = {0};
    zb_http *h = NULL;
    assert_int_equal(zb_http_new(&h), 0);
    zb_http_request req = {.what = "downloading", .url = url, .sink = refuse_after, .sink_payload = &s};
    zb_http_response resp;
    assert_int_equal(zb_http_perform(h, &req, &resp), ZB_EIO);
    assert_int_equal(resp.failure, ZB_HTTP_CALLBACK);
    assert_string_equal(zb_error_message(), "the disk is full (a test's sink)");
    zb_http_response_free(&resp);
    zb_http_free(h);
}

/* ---- the server's own words ---- */

static void http_error_quotes_the_server(void **state)
{
    (void)state;
    char url[128];
    zb_http *h = NULL;
    assert_int_equal(zb_http_new(&h), 0);
    zb_http_response resp;

    url_of(url, sizeof(url), "/refuse");
    zb_http_request json_req = {.what = "GET /refuse", .url = url, .error_code = ZB_EDOCKER};
    assert_int_equal(zb_http_perform(h, &json_req, &resp), ZB_EDOCKER);
    assert_int_equal(resp.failure, ZB_HTTP_STATUS);
    assert_int_equal(resp.status, 409);
    assert_true(resp.permanent);
    assert_string_equal(resp.message, "the peer refuses: volume is in use");
    assert_string_equal(zb_error_message(), "GET /refuse: HTTP 409 the peer refuses: volume is in use");
    zb_http_response_free(&resp);

    url_of(url, sizeof(url), "/busy");
    zb_http_request text_req = {.what = "asking", .url = url};
    assert_int_equal(zb_http_perform(h, &text_req, &resp), ZB_EREMOTE);
    assert_int_equal(resp.status, 503);
    assert_false(resp.permanent); /* a busy server may answer later */
    assert_string_equal(zb_error_message(), "asking: HTTP 503 the peer is busy, come back later");
    zb_http_response_free(&resp);

    /* an HTML error page says no more than its status */
    url_of(url, sizeof(url), "/html");
    zb_http_request html_req = {.what = "asking", .url = url};
    assert_int_equal(zb_http_perform(h, &html_req, &resp), ZB_EREMOTE);
    assert_string_equal(resp.message, "");
    assert_string_equal(zb_error_message(), "asking: HTTP 500");
    zb_http_response_free(&resp);

    url_of(url, sizeof(url), "/nowhere");
    zb_http_request missing = {.what = "asking", .url = url};
    assert_int_equal(zb_http_perform(h, &missing, &resp), ZB_ENOTFOUND);
    zb_http_response_free(&resp);
    zb_http_free(h);
}

/* ---- interruption ---- */

static void *signal_soon(void *arg)
{
    (void)arg;
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    kill(getpid(), SIGTERM);
    return NULL;
}

static void http_signal_stops_a_request(void **state)
{
    (void)state;
    char url[128];
    url_of(url, sizeof(url), "/hang");
    zb_signal_install();
    zb_http *h = NULL;
    assert_int_equal(zb_http_new(&h), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, signal_soon, NULL), 0);
    /* the peer answers after a minute, and well: only the signal makes this fail */
    zb_http_request req = {.what = "waiting", .url = url};
    zb_http_response resp;
    assert_int_equal(zb_http_perform(h, &req, &resp), ZB_EINTR);
    assert_int_equal(resp.failure, ZB_HTTP_INTERRUPTED);
    assert_string_equal(zb_error_message(), "waiting: interrupted by signal 15");
    pthread_join(t, NULL);
    zb_http_response_free(&resp);

    /* cleanup after the signal still runs, within the cleanup budget */
    url_of(url, sizeof(url), "/refuse");
    zb_http_request cleanup = {.what = "cleaning up", .url = url, .cleanup = 1};
    assert_int_equal(zb_http_perform(h, &cleanup, &resp), ZB_EREMOTE);
    assert_int_equal(resp.status, 409);
    zb_http_response_free(&resp);
    zb_http_free(h);
}

/* ---- a server that is not there ---- */

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd); /* nothing listens there now */
    return ntohs(a.sin_port);
}

static void http_dead_server_is_unreachable(void **state)
{
    (void)state;
    char url[192];
    snprintf(url, sizeof(url), "http://user:PASSWORD-77@127.0.0.1:%d/hooks/SECRET-TOKEN-42?sig=SIGNATURE-99",
             closed_port());
    zb_http *h = NULL;
    assert_int_equal(zb_http_new(&h), 0);
    zb_http_request req = {.what = "delivering", .url = url, .user = "user", .password = "PASSWORD-77"};
    zb_http_response resp;
    assert_int_equal(zb_http_perform(h, &req, &resp), ZB_EREMOTE);
    assert_int_equal(resp.failure, ZB_HTTP_UNREACHABLE);
    assert_int_equal(resp.status, 0);
    assert_false(resp.permanent); /* it may come back */
    const char *m = zb_error_message();
    assert_true(strncmp(m, "delivering: ", 12) == 0);
    assert_non_null(strstr(m, "127.0.0.1"));
    assert_null(strstr(m, "SECRET-TOKEN"));
    assert_null(strstr(m, "SIGNATURE-99"));
    assert_null(strstr(m, "PASSWORD-77"));
    zb_http_response_free(&resp);
    zb_http_free(h);
}

static void http_headers_are_read(void **state)
{
    (void)state;
    char out[32];
    const char line[] = "ETag:  \"abc\" \r\n";
    assert_int_equal(zb_http_header_value(line, strlen(line), "etag", out, sizeof(out)), 1);
    assert_string_equal(out, "\"abc\"");
    assert_int_equal(zb_http_header_value(line, strlen(line), "eta", out, sizeof(out)), 0);
    assert_int_equal(zb_http_header_value(line, strlen(line), "etag", out, 4), 0);
    zb_http_describe_url(out, sizeof(out), "https://u:p@hooks.example:8443/a/TOKEN?x=1");
    assert_string_equal(out, "https://hooks.example:8443");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(http_streams_an_upload, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(http_streams_a_download, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(http_sink_error_is_the_error, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(http_error_quotes_the_server, peer_setup, peer_teardown),
        cmocka_unit_test_setup_teardown(http_signal_stops_a_request, peer_setup, peer_teardown),
        cmocka_unit_test(http_dead_server_is_unreachable),
        cmocka_unit_test(http_headers_are_read),
    };
    ZB_RUN_TESTS(tests, argc, argv);
}

#include "zb_cmocka.h"

#include "zakpos_backup/common/error.h"
#include "zakpos_backup/config/config.h"
#include "zakpos_backup/remote/driver.h"
#include "zakpos_backup/remote/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void xml_finds_elements_by_local_name(void **state)
{
    (void)state;
    const char *doc =
        "<?xml version=\"1.0\"?><!-- <Key>no</Key> --><d:multistatus xmlns:d=\"DAV:\">"
        "<d:response><d:href>/a/x%20y</d:href><d:propstat attr='>'><d:prop><d:resourcetype/>"
        "</d:prop></d:propstat></d:response><d:response><d:href>/a/z</d:href></d:response></d:multistatus>";
    const char *pos = doc, *end = doc + strlen(doc), *inner;
    size_t len;
    int responses = 0;
    while (zb_xml_next(&pos, end, "response", &inner, &len)) {
        char *href = zb_xml_find_text(inner, len, "href");
        assert_string_equal(href, responses == 0 ? "/a/x%20y" : "/a/z");
        free(href);
        responses++;
    }
    assert_int_equal(responses, 2);
    pos = doc;
    assert_int_equal(zb_xml_next(&pos, end, "resourcetype", &inner, &len), 1);
    assert_int_equal(len, 0);
    assert_null(zb_xml_find_text(doc, strlen(doc), "Key")); /* only inside a comment */
}

static void xml_nested_same_name_and_text_decoding(void **state)
{
    (void)state;
    const char *doc = "<a><b><a>inner</a></b>tail</a><a>second</a>";
    const char *pos = doc, *inner;
    size_t len;
    assert_int_equal(zb_xml_next(&pos, doc + strlen(doc), "a", &inner, &len), 1);
    assert_int_equal(len, strlen("<b><a>inner</a></b>tail"));
    char *t = zb_xml_find_text(pos, strlen(pos), "a");
    assert_string_equal(t, "second");
    free(t);
    const char *text = "<k>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x263A; <![CDATA[<raw> & ]]></k>";
    t = zb_xml_find_text(text, strlen(text), "k");
    assert_string_equal(t, "a & b <c> \"d\" 'e' \xc3\xa9\xe2\x98\xba <raw> & ");
    free(t);
    const char *bad = "<k>a &bogus; b</k>";
    assert_null(zb_xml_find_text(bad, strlen(bad), "k"));
    const char *empty = "<k></k>";
    t = zb_xml_find_text(empty, strlen(empty), "k");
    assert_string_equal(t, "");
    free(t);
}

static void uri_encoding_is_what_aws_signs(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(zb_remote_uri_encode(&out, "a b/c+d=e~f_g.h-i@j", 1), 0);
    assert_string_equal(out, "a%20b/c%2Bd%3De~f_g.h-i%40j");
    free(out);
    assert_int_equal(zb_remote_uri_encode(&out, "a/\xc3\xa9", 0), 0);
    assert_string_equal(out, "a%2F%C3%A9");
    free(out);
}

static char *write_config(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/zbremote.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void config_remote_sections(void **state)
{
    (void)state;
    /* the password file must exist: the configuration is checked at load */
    FILE *secret = fopen("/tmp/zbremote-dav-secret", "w");
    assert_non_null(secret);
    fputs("s3cret\n", secret);
    fclose(secret);
    char *path = write_config(
        "[repository]\nkeep_daily = 3\n"
        "[remote offsite]\ntype = s3\nbucket = b\nregion = eu-west-1\nprefix = zakpos\n"
        "part_size = 16M\nretries = 5\nretry_delay = 2s\n"
        "[remote nas]\ntype = webdav\nurl = https://u:secret@nas.example/dav/\nuser = u\n"
        "password_file = /tmp/zbremote-dav-secret\nkeep_last = 2\nprune = no\n");
    zb_config c;
    assert_int_equal(zb_config_load(&c, path), 0);
    assert_int_equal(c.remote_count, 2);
    const zb_config_remote *s3 = &c.remotes[0], *dav = &c.remotes[1];
    assert_string_equal(s3->name, "offsite");
    assert_int_equal(s3->part_size, 16u * 1024 * 1024);
    assert_int_equal(s3->retries, 5);
    assert_int_equal(s3->retry_delay, 2);
    assert_int_equal(s3->timeout, 60);
    assert_ptr_equal(zb_config_remote_policy(s3, &c.keep), &c.keep); /* the repository's rules */
    assert_int_equal(zb_config_remote_policy(dav, &c.keep)->count[ZB_KEEP_LAST], 2);
    assert_int_equal(zb_config_remote_policy(dav, &c.keep)->count[ZB_KEEP_DAILY], 0); /* its own rules only */
    assert_int_equal(dav->prune, 0);
    char printed[16384];
    FILE *f = fmemopen(printed, sizeof(printed), "w");
    zb_config_print(&c, f);
    fclose(f);
    assert_non_null(strstr(printed, "remote.offsite.bucket = b  ("));
    assert_non_null(strstr(printed, "remote.nas.url = https://u:****@nas.example/dav/  ("));
    assert_null(strstr(printed, "secret@"));
    zb_config_free(&c);
    unlink(path);
    unlink("/tmp/zbremote-dav-secret");
}

static void config_remote_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"[remote x]\ntype = s3\n", "[remote x] an s3 remote needs bucket"},
        {"[remote x]\ntype = ftp\n", "type must be s3, sftp or webdav"},
        {"[remote x]\ntype = sftp\nurl = sftp://h/d\n", "needs key_file"},
        {"[remote x]\ntype = s3\nbucket = b\npart_size = 1M\n", "[remote x] part_size: takes a size"},
        {"[remote x]\ntype = s3\nbucket = b\nsecret = s\n", "[remote x] secret: unknown key"},
        {"[remote x]\ntype = webdav\nurl = https://h/\nuser = u\n", "both user and password_file"},
        {"[remote a/b]\ntype = s3\n", "not a valid remote name"},
    };
    for (size_t i = 0; i < ZB_ARRAY_LEN(cases); i++) {
        char *path = write_config(cases[i].text);
        zb_config c;
        assert_int_equal(zb_config_load(&c, path), ZB_ECONFIG);
        if (!strstr(zb_error_message(), cases[i].message))
            fail_msg("case %zu: '%s' lacks '%s'", i, zb_error_message(), cases[i].message);
        unlink(path);
    }
}

ZB_TEST_MAIN(xml_finds_elements_by_local_name, xml_nested_same_name_and_text_decoding, uri_encoding_is_what_aws_signs,
             config_remote_sections, config_remote_errors)

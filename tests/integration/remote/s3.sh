# Offsite copies to an S3-compatible server (s3rver on loopback): the
# common remote checks, multipart uploads (small part size) byte-identical
# after a round trip, virtual-host style, refused credentials, an
# interrupted multipart upload that leaves no object, the server down.
. "$ZB_TEST_LIB/common.sh"
. "$ZB_TEST_LIB/remote.sh"
zb_test_begin
zb_s3_start
zb_remote_prepare
cat >>zb.conf <<CONF
[remote offsite]
type = s3
endpoint = http://127.0.0.1:$ZB_S3_PORT
bucket = zb
region = eu-central-1
prefix = host-1
path_style = yes
retries = 1
retry_delay = 0s
CONF
zb_expect_status 0 "config check shows the remote" -- "$ZB_BIN" config check --config zb.conf
zb_expect_contains "$ZB_LAST_OUTPUT" "remote.offsite.bucket = zb  (zb.conf:" "with its origin"
zb_remote_common_checks offsite
zb_expect_equal "$(find "$ZB_S3_DATA/zb/host-1" -name '*._S3rver_object' | wc -l)" 1 "the object sits under the prefix"

# multipart: 5 MiB parts (S3's minimum) for a 12 MiB archive
head -c 12000000 /dev/urandom >src/big.bin
sed -i "/^\[remote offsite\]/a part_size = 5M" zb.conf
zb_expect_status 0 "--log-level debug backup, multipart" -- "$ZB_BIN" --log-level debug --config zb.conf backup \
    --repo repo --recipient key.pub --path "data=$ZB_TMP/src"
big=$(echo "$ZB_LAST_OUTPUT" | grep '^repo/')
zb_expect_contains "$ZB_LAST_OUTPUT" "uploading part 3 of 3" "three parts"
zb_expect_no_secret "$ZB_LAST_OUTPUT" "$AWS_SECRET_ACCESS_KEY"
zb_expect_contains "$(cat "$ZB_TMP/s3rver.log")" "uploadId=" "s3rver saw a multipart upload"
rm -rf fetched
zb_expect_status 0 "fetch the multipart archive" -- "$ZB_BIN" --config zb.conf fetch --remote offsite --out fetched "${big#repo/}"
if cmp -s "$big" "fetched/${big#repo/}"; then zb_pass; else zb_fail "the multipart round trip differs"; fi

# virtual-host style: the bucket in the host name (curl resolves *.localhost to loopback)
cat >>zb.conf <<CONF
[remote vhost]
type = s3
endpoint = http://s3.localhost:$ZB_S3_PORT
bucket = zb
prefix = vh/
retries = 0
CONF
zb_expect_status 0 "virtual-host style upload" -- "$ZB_BIN" --config zb.conf remote push vhost "$big"
zb_expect_equal "$(find "$ZB_S3_DATA/zb/vh" -name '*._S3rver_object' | wc -l)" 1 "stored in the bucket"

# refused credentials: a clear message, exit 15, no retry of a 403
zb_expect_status 15 "unknown access key" -- env AWS_ACCESS_KEY_ID=NOBODY "$ZB_BIN" --config zb.conf remote list offsite
zb_expect_contains "$ZB_LAST_OUTPUT" "HTTP 403 InvalidAccessKeyId" "quotes S3's error code"
zb_expect_contains "$ZB_LAST_OUTPUT" '"hint":"check the credentials (env AWS_ACCESS_KEY_ID)' "and says what to check, in the error's own JSON object"
if [[ "$ZB_LAST_OUTPUT" == *"trying"* ]]; then zb_fail "a 403 was retried"; else zb_pass; fi
zb_expect_status 3 "no credentials at all" -- env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$ZB_TMP" \
    "$ZB_BIN" --config zb.conf remote list offsite
zb_expect_contains "$ZB_LAST_OUTPUT" "no S3 credentials" "says so"
mkdir -p aws
printf '[other]\naws_access_key_id = S3RVER\naws_secret_access_key = file-Secret-55\n' >aws/credentials
zb_expect_status 0 "credentials from a profile of a credentials file" -- env -u AWS_ACCESS_KEY_ID \
    -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$ZB_TMP/aws/credentials" AWS_PROFILE=other \
    "$ZB_BIN" --config zb.conf remote list offsite

# an interrupted multipart upload: killed with parts sent, it was never completed, so no object exists
before=$(find "$ZB_S3_DATA/zb" -name '*._S3rver_object' | wc -l)
sed -i "/^\[remote offsite\]/a bandwidth = 2M" zb.conf
slow=$("$ZB_BIN" --config zb.conf backup --repo repo --recipient key.pub --path "data=$ZB_TMP/src" --no-remote 2>/dev/null)
zb_push_stopped offsite "$slow" 3.5 KILL # the first part (5 MiB at 2 MiB/s) is stored, the second is on its way
zb_expect_equal "$(find "$ZB_S3_DATA/zb" -name '*._S3rver_object' | wc -l)" "$before" "no new object after the kill"
zb_expect_status 0 "remote list" -- "$ZB_BIN" --config zb.conf remote list offsite
if [[ "$ZB_LAST_OUTPUT" == *"$(basename "$slow")"* ]]; then zb_fail "an interrupted upload is listed"; else zb_pass; fi
# SIGINT: the upload stops, aborts the multipart upload, exit 130
zb_push_stopped offsite "$slow" 1 INT
zb_expect_equal "$ZB_PUSH_STATUS" 130 "SIGINT: exit 130"
zb_expect_contains "$(cat push.log)" "interrupted" "says it was interrupted"
# (s3rver answers AbortMultipartUpload with 405; the unit tests check the request itself)
zb_expect_contains "$(cat push.log)" "aborting the multipart upload" "the multipart upload is aborted"
zb_expect_equal "$(find "$ZB_S3_DATA/zb" -name '*._S3rver_object' | wc -l)" "$before" "still no new object"
sed -i '/^bandwidth = /d' zb.conf

zb_remote_down_checks offsite "$ZB_S3_PID"
zb_test_end

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
zb_expect_status 0 "fetch the multipart archive" -- "$ZB_BIN" --config zb.conf fetch --trust key.signer --remote offsite \
    --out fetched "${big#repo/}"
if cmp -s "$big" "fetched/${big#repo/}"; then zb_pass; else zb_fail "the multipart round trip differs"; fi

# A format-1 archive vouched for by `sign` travels with its ARCHIVE.sig: pushed, fetched, read from the remote.
old=repo/zakpos-20990101T000000Z.zbk # the newest, so retention keeps it
"$ZB_CRAFT" --recipient key.pub --format 1 --out "$old" --copy "$big" key || zb_fail "cannot write a format-1 archive"
zb_expect_status 0 "sign the format-1 archive" -- "$ZB_BIN" sign --key key --signing-key key.sign "$old"
zb_expect_status 0 "remote push" -- "$ZB_BIN" --config zb.conf remote push offsite "$old"
zb_expect_equal "$(find "$ZB_S3_DATA/zb/host-1" -name "${old#repo/}.sig._S3rver_object" | wc -l)" 1 "the .sig is stored beside it"
zb_expect_status 0 "remote list" -- "$ZB_BIN" --config zb.conf remote list offsite
if [[ "$ZB_LAST_OUTPUT" == *".zbk.sig"* ]]; then zb_fail "a .sig is listed as an archive"; else zb_pass; fi
cp "$old" old.keep && rm "$old" "$old.sig"
mkdir -p "$ZB_TMP/downloads" fetched1
zb_expect_status 0 "verify remote: reads it with its signature" -- env TMPDIR="$ZB_TMP/downloads" "$ZB_BIN" --config zb.conf \
    verify --key key "remote:offsite/${old#repo/}"
zb_expect_equal "$(find "$ZB_TMP/downloads" -mindepth 1 | wc -l)" 0 "the temporary download and its .sig are gone"
zb_expect_status 0 "fetch brings the .sig down" -- "$ZB_BIN" --config zb.conf fetch --key key --remote offsite --out fetched1 "${old#repo/}"
cmp -s old.keep "fetched1/${old#repo/}" && [ -s "fetched1/${old#repo/}.sig" ] && zb_pass || zb_fail "the fetched archive or .sig is missing"
zb_expect_status 0 "the fetched copy verifies" -- "$ZB_BIN" verify --key key "fetched1/${old#repo/}"
find "$ZB_S3_DATA/zb/host-1" -name "${old#repo/}.sig._S3rver_*" -delete
zb_expect_status 16 "without its .sig, verify remote: refuses it" -- env TMPDIR="$ZB_TMP/downloads" "$ZB_BIN" \
    --config zb.conf verify --key key "remote:offsite/${old#repo/}"
zb_expect_contains "$ZB_LAST_OUTPUT" "is not signed" "names the reason"
mkdir -p fetched2
zb_expect_status 16 "and fetch refuses it" -- "$ZB_BIN" --config zb.conf fetch --key key --remote offsite --out fetched2 "${old#repo/}"
zb_expect_equal "$(find fetched2 -mindepth 1 | wc -l)" 0 "leaving no file"
zb_expect_status 0 "fetch --allow-untrusted hands it out" -- "$ZB_BIN" --config zb.conf fetch --allow-untrusted \
    --remote offsite --out fetched2 "${old#repo/}"
zb_expect_contains "$ZB_LAST_OUTPUT" "anyway (--allow-untrusted)" "with a warning"
# repository.trust alone checks a download: another writer's signer does not vouch for this host's archive
"$ZB_BIN" keygen --out other >/dev/null 2>&1
sed "s|^\[repository\]|[repository]\ntrust = $ZB_TMP/other.signer|" zb.conf >trust.conf
mkdir -p fetched3
zb_expect_status 16 "fetch with repository.trust of another writer" -- "$ZB_BIN" --config trust.conf fetch --remote offsite \
    --out fetched3 "${big#repo/}"
zb_expect_contains "$ZB_LAST_OUTPUT" "a writer this reader does not trust" "names the untrusted signer"
zb_expect_equal "$(find fetched3 -mindepth 1 | wc -l)" 0 "leaving no file"
# `remote sync` sends a .sig made after the archive was copied
cp old.keep "$old" && "$ZB_BIN" sign --key key --signing-key key.sign "$old" >/dev/null 2>&1
zb_expect_status 0 "remote sync" -- "$ZB_BIN" --config zb.conf remote sync offsite
zb_expect_contains "$ZB_LAST_OUTPUT" "sent         ${old#repo/}.sig" "sync sent the missing .sig"
zb_expect_status 0 "verify remote: reads it again" -- env TMPDIR="$ZB_TMP/downloads" "$ZB_BIN" --config zb.conf \
    verify --key key "remote:offsite/${old#repo/}"
# remote retention and remote delete remove a .sig with its archive
old0=repo/zakpos-20000101T000000Z.zbk
cp old.keep "$old0" && "$ZB_BIN" sign --key key --signing-key key.sign "$old0" >/dev/null 2>&1
zb_expect_status 0 "remote push of an old signed archive" -- "$ZB_BIN" --config zb.conf remote push offsite "$old0"
zb_expect_equal "$(find "$ZB_S3_DATA/zb/host-1" -name "${old0#repo/}.sig._S3rver_object" | wc -l)" 1 "its .sig went with it"
zb_expect_status 0 "remote prune" -- "$ZB_BIN" --config zb.conf remote prune offsite
zb_expect_contains "$ZB_LAST_OUTPUT" "remove       ${old0#repo/}" "retention removes the old archive"
zb_expect_equal "$(find "$ZB_S3_DATA/zb/host-1" -name "${old0#repo/}*" | wc -l)" 0 "and its .sig with it"
zb_expect_status 0 "remote delete" -- "$ZB_BIN" --config zb.conf remote delete offsite "${old#repo/}"
zb_expect_equal "$(find "$ZB_S3_DATA/zb/host-1" -name "${old#repo/}*" | wc -l)" 0 "delete removes the archive and its .sig"
rm -f "$old0" "$old0.sig"
rm -f "$old" "$old.sig"

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

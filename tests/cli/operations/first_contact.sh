# README's first two commands run as typed where the user is root and sudo
# is not installed (containers, CI); a user who is not root is sent through
# sudo by the scripts themselves.
. "$ZB_TEST_LIB/common.sh"
zb_test_begin
cd "$ZB_SOURCE_DIR"
commands=$(awk '/^```sh$/ {n++; next} /^```$/ {if (n == 1) exit} n == 1 {sub(/ *#.*/, ""); print}' README.md)
zb_expect_equal "$commands" $'bash scripts/demo.sh\nbash scripts/test.sh' "README's first commands"
# a PATH without sudo, whether or not this machine has it
mkdir "$ZB_TMP/bin"
for tool in bash id env awk sed; do ln -s "$(command -v "$tool")" "$ZB_TMP/bin/$tool"; done
while IFS= read -r command; do
    first=${command%% *}
    zb_expect_status 0 "'$first' exists without sudo" -- env PATH="$ZB_TMP/bin" bash -c "command -v $first"
done <<<"$commands"
if [ "$(id -u)" -eq 0 ]; then
    # as root: straight to the script's own work (here: its usage error)
    zb_expect_status 2 "scripts/test.sh as root, no sudo" -- env PATH="$ZB_TMP/bin" bash scripts/test.sh --no-such-option
    zb_expect_contains "$ZB_LAST_OUTPUT" "usage: scripts/test.sh" "it ran as root"
    # not root and no sudo: a clear message instead of "sudo: command not found"
    zb_expect_status 1 "scripts/demo.sh as nobody, no sudo" -- setpriv --reuid=65534 --regid=65534 --clear-groups \
        env PATH="$ZB_TMP/bin" bash scripts/demo.sh
    zb_expect_contains "$ZB_LAST_OUTPUT" "run this as root (sudo is not installed)" "says what to do"
fi
zb_test_end

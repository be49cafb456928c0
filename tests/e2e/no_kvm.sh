#!/usr/bin/env bash
# The vkernel without a usable /dev/kvm: in a private mount namespace, first
# with no /dev/kvm at all, then as an unprivileged user who may not open it.
# Each must exit with status 2 and one sentence saying what to do.
# Needs root (for unshare and setpriv); exits 77 (skipped) otherwise.
set -u
vkernel=$1
if [[ $(id -u) -ne 0 ]] || ! command -v unshare >/dev/null || ! command -v setpriv >/dev/null; then
    echo "SKIP: needs root, unshare and setpriv"
    exit 77
fi
fail=0
check() {  # name expected-text command...
    local name=$1 text=$2
    shift 2
    local out status
    out=$("$@" 2>&1 >/dev/null)
    status=$?
    if [[ $status -ne 2 ]]; then
        echo "FAIL ($name): exit status $status, expected 2; stderr: $out"
        fail=1
    elif [[ $out != *"$text"* ]] || [[ $(printf '%s\n' "$out" | wc -l) -ne 1 ]]; then
        echo "FAIL ($name): expected one line containing '$text', got: $out"
        fail=1
    else
        echo "ok ($name): $out"
    fi
}
check missing "/dev/kvm does not exist" \
    unshare --mount sh -c "mount -t tmpfs none /dev && exec '$vkernel' /bin/busybox true"
# A private /dev with a root-only /dev/kvm, whatever the host's mode is.
# The binary must be reachable by the unprivileged user: copy it to a public place.
tmp=$(mktemp -d)
chmod 755 "$tmp"
cp "$vkernel" "$tmp/vkernel"
root=$(dirname "$vkernel")/vkernel-root.cpio
[[ -f $root ]] && cp "$root" "$tmp/"
chmod 755 "$tmp/vkernel"
check no_permission "no permission to open /dev/kvm" \
    unshare --mount sh -c "mount -t tmpfs none /dev && mknod -m 600 /dev/kvm c 10 232 &&
        exec setpriv --reuid=65534 --regid=65534 --clear-groups '$tmp/vkernel' /bin/busybox true"
rm -rf "$tmp"
exit $fail

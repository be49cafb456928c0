#!/usr/bin/env python3
"""Runs a shell script with busybox on the host (in a chroot) and in the vkernel.

    busybox_scripts.py --vkernel PATH --root ROOT.cpio [--timeout SECONDS] SCRIPT

Both runs use the same root filesystem archive ROOT.cpio (the vkernel's
default root, tools/make_root.sh) and see the script as /scripts/NAME:

* host: in a private mount namespace (`unshare -m`), a fresh tmpfs gets the
  archive unpacked into it (the vkernel's root is a tmpfs too), /dev gets a
  small tmpfs with the devices the vkernel's devfs has (null, zero, full,
  random, urandom and the fd links), /proc is mounted when the script has a
  line `# needs: proc`, the script is copied to /scripts, and then
  `chroot ROOT /bin/sh /scripts/NAME`;
* vkernel: `vkernel -i ROOT.cpio --bind DIR:/scripts -- /bin/sh /scripts/NAME`,
  where DIR holds only a copy of the script (read-only in the guest).

Each run has stdin /dev/null, umask 022 and the environment the vkernel
gives its first process (PATH only). Their stdout bytes, stderr bytes and exit
statuses must be identical; nothing is normalised, so the scripts print
nothing that may differ (pids, times, inode numbers).

Exit status: 0 if the runs agree, 1 if they do not (diffs are printed), 77
if /dev/kvm is unusable or we are not root and CI is not set; with CI set,
either is a failure.

Only the standard library is used.
"""

import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import SKIP, require_kvm, run  # noqa: E402

GUEST_PATH = "/bin:/sbin:/usr/bin:/usr/sbin"
GUEST_DIR = "/scripts"

# Runs as root in the private mount namespace. $1 root archive, $2 mount
# point, $3 script, $4 "proc" or "", $5 marker file written when all is set,
# $6 log file: the setup's messages go there, not into the script's stderr.
HOST_SETUP = r"""
set -eu
root=$1 dir=$2 script=$3 proc=$4 ready=$5 log=$6
exec 3>&2 2>"$log"
mount --make-rprivate /
mount -t tmpfs -o mode=0755 vk-bb-root "$dir"
(cd "$dir" && cpio -i -d --quiet --no-absolute-filenames) < "$root"
mkdir -p "$dir/scripts"
cp "$script" "$dir/scripts/"
chmod 0644 "$dir/scripts/"*
mount -t tmpfs -o mode=0755 vk-bb-dev "$dir/dev"
mknod -m 666 "$dir/dev/null" c 1 3
mknod -m 666 "$dir/dev/zero" c 1 5
mknod -m 666 "$dir/dev/full" c 1 7
mknod -m 666 "$dir/dev/random" c 1 8
mknod -m 666 "$dir/dev/urandom" c 1 9
ln -s /proc/self/fd "$dir/dev/fd"
ln -s /proc/self/fd/0 "$dir/dev/stdin"
ln -s /proc/self/fd/1 "$dir/dev/stdout"
ln -s /proc/self/fd/2 "$dir/dev/stderr"
if [ "$proc" = proc ]; then mount -t proc proc "$dir/proc"; fi
: > "$ready"
exec 2>&3 3>&-
umask 022
exec env -i PATH=""" + GUEST_PATH + r""" chroot "$dir" /bin/sh "/scripts/${script##*/}"
"""


def text(b):
    return b.decode("utf-8", errors="backslashreplace")


def show_diff(what, a, b):
    diff = list(difflib.unified_diff(text(a).splitlines(keepends=True),
                                     text(b).splitlines(keepends=True),
                                     fromfile=f"host {what}", tofile=f"vkernel {what}"))
    for line in diff[:400]:
        sys.stdout.write(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    if len(diff) > 400:
        print(f"... {len(diff) - 400} more diff lines")


def show(name, r):
    print(f"--- {name}: status {r.status}" + (" (killed after the timeout)" if r.timed_out else ""))
    for label, data in (("stdout", r.stdout), ("stderr", r.stderr)):
        lines = text(data).splitlines()
        print(f"    {label}: {len(lines)} lines" + (" (last 30)" if len(lines) > 30 else ""))
        for line in lines[-30:]:
            print(f"      {line}")


def host_run(root, script, needs_proc, work, timeout):
    """The script in a chroot of a fresh tmpfs holding the archive."""
    mnt = os.path.join(work, "host-root")
    os.mkdir(mnt)
    log = os.path.join(work, "host-setup.log")
    ready = os.path.join(work, "host-ready")
    argv = ["/usr/bin/unshare", "-m", "/bin/sh", "-c", HOST_SETUP, "host-setup",
            root, mnt, script, "proc" if needs_proc else "", ready, log]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    r = run(argv, None, timeout, env)
    if not os.path.exists(ready):
        with open(log, "rb") as f:
            msg = text(f.read()).strip()
        return None, f"the host chroot could not be set up (status {r.status}): {msg}"
    return r, None


def vkernel_run(vkernel, root, script, work, timeout):
    sdir = os.path.join(work, "vk-scripts")
    os.mkdir(sdir)
    shutil.copy(script, sdir)
    os.chmod(os.path.join(sdir, os.path.basename(script)), 0o644)
    argv = [vkernel, "-i", root, f"--bind={sdir}:{GUEST_DIR}", "--",
            "/bin/sh", f"{GUEST_DIR}/{os.path.basename(script)}"]
    # No TERM: the vkernel passes the host's on, the chroot run has none.
    return run(argv, None, timeout, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vkernel", required=True, help="path of the vkernel binary")
    p.add_argument("--root", required=True, help="the root filesystem archive (cpio newc)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per run (default 120)")
    p.add_argument("--show", action="store_true", help="print both runs' output even when they agree")
    p.add_argument("script", help="the shell script")
    a = p.parse_args()
    for path, what in ((a.vkernel, "the vkernel binary"), (a.root, "the root archive"),
                       (a.script, "the script")):
        if not os.path.isfile(path):
            print(f"FAIL: {what} {path} does not exist", file=sys.stderr)
            return 1
    require_kvm()
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            print("FAIL: the host chroot needs root; CI is set, so this is an error", file=sys.stderr)
            return 1
        print("SKIP: the host chroot needs root", file=sys.stderr)
        return SKIP
    with open(a.script, "rb") as f:
        needs_proc = b"# needs: proc" in f.read()
    root = os.path.abspath(a.root)
    script = os.path.abspath(a.script)

    old_umask = os.umask(0o022)
    try:
        with tempfile.TemporaryDirectory(prefix="vk-bb-") as work:
            host, problem = host_run(root, script, needs_proc, work, a.timeout)
            if problem:
                print(f"FAIL: {problem}")
                return 1
            vk = vkernel_run(os.path.abspath(a.vkernel), root, script, work, a.timeout)
    finally:
        os.umask(old_umask)

    problems = []
    for name, r in (("host", host), ("vkernel", vk)):
        if r.timed_out:
            problems.append(f"the {name} run timed out after {a.timeout:g} s")
    if host.stdout != vk.stdout:
        problems.append("stdout differs")
    if host.stderr != vk.stderr:
        problems.append("stderr differs")
    if host.status != vk.status:
        problems.append(f"exit status differs: host {host.status}, vkernel {vk.status}")
    name = os.path.basename(script)
    if a.show:
        show("host", host)
        show("vkernel", vk)
    if not problems:
        print(f"PASS: {name}: {len(vk.stdout)} bytes of stdout, {len(vk.stderr)} of stderr, "
              f"status {vk.status}, identical on the host and in the vkernel")
        return 0
    print(f"FAIL: {name}: " + " ".join(vk.argv))
    for problem in problems:
        print(f"  - {problem}")
    if host.stdout != vk.stdout:
        show_diff("stdout", host.stdout, vk.stdout)
    if host.stderr != vk.stderr:
        show_diff("stderr", host.stderr, vk.stderr)
    show("host", host)
    show("vkernel", vk)
    return 1


if __name__ == "__main__":
    sys.exit(main())

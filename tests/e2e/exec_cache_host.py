#!/usr/bin/env python3
"""A host file changed between two execs in the guest runs as it is now.

    exec_cache_host.py --vkernel PATH --program EXEC_CACHE --other HELLO

Runs `EXEC_CACHE host DIR` natively and then inside the vkernel (DIR bound
with --bind): the guest runs DIR/prog (a copy of EXEC_CACHE, made a moment
before so that the vkernel may cache it) twice, says "ready" and waits for a
line on stdin; meanwhile this script changes the marker string in DIR/prog
in place (same size and inode: only the time stamps tell); the guest runs
it again, says "ready" again; this script renames a copy of HELLO over
DIR/prog; the guest runs that. Both runs must print the same, and show the
changes. Exit status 0 if so, 1 if not, 77 without /dev/kvm (unless CI is
set: then 1). Only the standard library is used.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import require_kvm  # noqa: E402

MARK = b"EXEC_CACHE_MARK_"
# Older than this, a host file may be cached (vkernel/image_cache.cpp's
# window for coarse host time stamps is 100 ms).
SETTLE = 0.25


def expect_line(proc, want, transcript, deadline):
    """Reads stdout lines into `transcript` until one is `want`."""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return False
        transcript.append(line)
        if line == want:
            return True
    return False


def run_once(cmd, prog_dir, program, other, timeout):
    """One run of `cmd` with the rewrites done on cue; returns (ok, stdout, stderr)."""
    prog = os.path.join(prog_dir, "prog")
    shutil.copyfile(program, prog)
    os.chmod(prog, 0o755)
    time.sleep(SETTLE)
    deadline = time.monotonic() + timeout
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out = []
    ok = expect_line(proc, b"ready\n", out, deadline)
    if ok:
        # In place: same inode, same size, one byte different.
        with open(prog, "r+b") as f:
            data = f.read()
            at = data.index(MARK) + len(MARK)
            f.seek(at)
            f.write(b"1")
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        ok = expect_line(proc, b"ready\n", out, deadline)
    if ok:
        new = prog + ".new"
        shutil.copyfile(other, new)
        os.chmod(new, 0o755)
        os.rename(new, prog)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    try:
        rest, err = proc.communicate(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, err = proc.communicate()
        ok = False
    stdout = b"".join(out) + rest
    return ok and proc.returncode == 0, stdout, err


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vkernel", required=True)
    p.add_argument("--program", required=True, help="the exec_cache guest program")
    p.add_argument("--other", required=True, help="another static program (hello)")
    p.add_argument("--timeout", type=float, default=30)
    a = p.parse_args()
    require_kvm()
    program = os.path.abspath(a.program)
    other = os.path.abspath(a.other)

    results = {}
    for name in ("native", "vkernel"):
        with tempfile.TemporaryDirectory(prefix="vk_exec_cache.") as d:
            cmd = [program, "host", d]
            if name == "vkernel":
                cmd = [a.vkernel, f"--bind={d}", f"--bind={os.path.dirname(program)}", "--", *cmd]
            ok, out, err = run_once(cmd, d, program, other, a.timeout)
            results[name] = out
            if not ok:
                print(f"FAIL: the {name} run did not finish as expected", file=sys.stderr)
                sys.stdout.buffer.write(out)
                sys.stderr.buffer.write(err)
                return 1
    native, vk = results["native"], results["vkernel"]
    for want in (b"mark=EXEC_CACHE_MARK_0\n", b"mark=EXEC_CACHE_MARK_1\n", b"argv[1]=\"x\"\n"):
        if want not in native:
            print(f"FAIL: the native run did not print {want!r}", file=sys.stderr)
            return 1
    if native != vk:
        print("FAIL: the vkernel run printed something else", file=sys.stderr)
        print("--- native\n" + native.decode(errors="replace"))
        print("--- vkernel\n" + vk.decode(errors="replace"))
        return 1
    sys.stdout.buffer.write(vk)
    return 0


if __name__ == "__main__":
    sys.exit(main())

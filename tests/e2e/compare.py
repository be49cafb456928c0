#!/usr/bin/env python3
"""Runs a program natively and inside the vkernel and compares the two runs.

    compare.py --vkernel PATH [--stdin FILE] [--expect-status N]
               [--timeout SECONDS] [--vkernel-option=OPT ...] [--bind DIR ...]
               -- PROGRAM [ARGS...]

PROGRAM runs natively as `PROGRAM ARGS...` and then as
`PATH [OPTS...] -- PROGRAM ARGS...`, each with its own fresh copy of the
same stdin (FILE, or /dev/null). Their stdout bytes and exit statuses must be
identical (a native death by signal N counts as status 128+N, as a shell
reports it); with --expect-status, the status must also be N. stderr is not
compared (the vkernel reports things there) but is shown on failure.

PROGRAM and its ARGS are host paths: the vkernel run gets `--bind=DIR` (a
read-only view of the host directory at the same path inside the guest) for
the directory of PROGRAM, of every ARG that is an absolute path to an
existing file, and of each --bind DIR, so the same paths work in both runs.

Exit status: 0 if the runs agree, 1 if they do not (a unified diff of stdout
is printed), 77 if /dev/kvm is unusable and the environment variable CI is
not set (ctest shows the test as skipped through SKIP_RETURN_CODE 77). With
CI set, a missing /dev/kvm is a failure: CI machines must have KVM.

Only the standard library is used.
"""

import argparse
import difflib
import os
import re
import resource
import signal
import subprocess
import tempfile
import sys

SKIP = 77


def kvm_problem():
    """Returns why /dev/kvm cannot be used, or None if it can."""
    # The harness's own tests point this elsewhere to see the skip logic work.
    dev = os.environ.get("VK_COMPARE_KVM_DEVICE", "/dev/kvm")
    if not os.path.exists(dev):
        return f"{dev} does not exist (no KVM on this machine)"
    if not os.access(dev, os.R_OK | os.W_OK):
        return f"no permission to open {dev} read-write (add yourself to group kvm)"
    return None


def require_kvm():
    """Exits with SKIP (or fails under CI) when KVM is unusable."""
    problem = kvm_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        print(f"FAIL: {problem}; CI is set, so this is an error, not a skip", file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {problem}", file=sys.stderr)
    sys.exit(SKIP)


def stats_of(vkernel, options, prog, args, timeout, env=None):
    """Runs PROG ARGS in the vkernel with --stats (and OPTIONS, PROG's
    directory bound) and returns (syscall exits, whether fast syscalls were
    on) from the line --stats prints; exits with a FAIL message if the run
    fails or the line is missing."""
    argv = [vkernel, "--stats", *options, f"--bind={os.path.dirname(prog)}", "--", prog, *args]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env)
    err = r.stderr.decode("utf-8", errors="backslashreplace")
    out = r.stdout.decode("utf-8", errors="backslashreplace")
    m = re.search(r"(\d+) syscalls", err)
    f = re.search(r"fast syscalls (on|off)", err)
    if r.returncode != 0 or not m or not f:
        print(f"FAIL: {' '.join(argv)}: status {r.returncode}\nstdout: {out}\nstderr: {err}")
        sys.exit(1)
    return int(m.group(1)), f.group(1) == "on"


def status_of(returncode):
    """A subprocess return code as a shell shows it: 128+N for signal N."""
    return 128 - returncode if returncode < 0 else returncode


def no_core_dumps():
    # Runs in the native child before exec: the fatal-signal tests must not
    # leave core files behind.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Run:
    def __init__(self, argv, stdout, stderr, status, timed_out):
        self.argv = argv
        self.stdout = stdout
        self.stderr = stderr
        self.status = status
        self.timed_out = timed_out


def run(argv, stdin_path, timeout, env, cwd=None):
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        # A session of its own, so a timeout can kill everything it started.
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd,
                                start_new_session=True, preexec_fn=no_core_dumps)
    except OSError as e:
        return Run(argv, b"", f"cannot run: {e}\n".encode(), 127, False)
    finally:
        if stdin_path:
            stdin.close()
    try:
        out, err = proc.communicate(timeout=timeout)
        return Run(argv, out, err, status_of(proc.returncode), False)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        return Run(argv, out, err, status_of(proc.returncode), True)


def bind_dirs(prog, extra):
    """The host directories the vkernel run must see at the same paths."""
    dirs = list(extra)
    for i, arg in enumerate(prog):
        if arg.startswith("/") and (i == 0 or os.path.isfile(arg)):
            dirs.append(os.path.dirname(arg) or "/")
    out = []
    for d in dirs:
        d = os.path.normpath(d)
        if d not in out and os.path.isdir(d):
            out.append(d)
    # Parents before children: a mount point inside a bound directory exists there.
    return [f"--bind={d}" for d in sorted(out, key=len)]


def text(b):
    return b.decode("utf-8", errors="backslashreplace")


def show_stderr(name, r, limit=40):
    lines = text(r.stderr).splitlines()
    if not lines:
        return
    print(f"--- stderr of the {name} run" + (f" (last {limit} lines)" if len(lines) > limit else ""))
    for line in lines[-limit:]:
        print(f"    {line}")


def describe(r):
    return f"status {r.status}" + (" (killed after the timeout)" if r.timed_out else "")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vkernel", required=True, help="path of the vkernel binary")
    p.add_argument("--stdin", help="file to give both runs as stdin (default /dev/null)")
    p.add_argument("--expect-status", type=int, help="the status both runs must have")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per run (default 60)")
    p.add_argument("--vkernel-option", action="append", default=[],
                   help="an option for the vkernel, before its '--' (repeatable)")
    p.add_argument("--bind", action="append", default=[],
                   help="a host directory the guest must also see at the same path (repeatable)")
    # For the harness's own tests: a fake vkernel needs no KVM.
    p.add_argument("--no-kvm-check", action="store_true", help=argparse.SUPPRESS)
    # Split at the first "--" ourselves: argparse's handling of "--" with
    # REMAINDER differs between Python versions.
    argv = sys.argv[1:]
    if "--" not in argv:
        p.error("no PROGRAM given (after --)")
    cut = argv.index("--")
    a = p.parse_args(argv[:cut])
    prog = argv[cut + 1:]
    if not prog:
        p.error("no PROGRAM given (after --)")
    if a.stdin and not os.path.isfile(a.stdin) and a.stdin != "/dev/null":
        p.error(f"--stdin {a.stdin}: no such file")
    if not (os.path.isfile(a.vkernel) and os.access(a.vkernel, os.X_OK)):
        print(f"FAIL: the vkernel binary {a.vkernel} does not exist or is not executable",
              file=sys.stderr)
        return 1
    if not a.no_kvm_check:
        require_kvm()

    # The guest does not inherit the host environment (only TERM); give the
    # native run the same, so programs that look at it agree.
    native_env = {k: v for k, v in os.environ.items() if k == "TERM"}

    # The native run gets a directory of its own: programs that make files
    # in their working directory must not meet another test's (the musl and
    # glibc builds of one test run in parallel).
    with tempfile.TemporaryDirectory(prefix="vk-compare-") as cwd:
        native = run(prog, a.stdin, a.timeout, native_env, cwd)
    vk = run([a.vkernel, *a.vkernel_option, *bind_dirs(prog, a.bind), "--", *prog], a.stdin, a.timeout, None)

    problems = []
    if native.timed_out:
        problems.append(f"the native run timed out after {a.timeout:g} s")
    if vk.timed_out:
        problems.append(f"the vkernel run timed out after {a.timeout:g} s")
    if native.stdout != vk.stdout:
        problems.append("stdout differs")
    if native.status != vk.status:
        problems.append(f"exit status differs: native {native.status}, vkernel {vk.status}")
    if a.expect_status is not None:
        if native.status != a.expect_status:
            problems.append(f"the native run exited with {native.status}, expected {a.expect_status}")
        if vk.status != a.expect_status:
            problems.append(f"the vkernel run exited with {vk.status}, expected {a.expect_status}")

    cmd = " ".join(vk.argv)
    if not problems:
        print(f"PASS: {cmd}: {len(vk.stdout)} bytes of identical stdout, status {vk.status}")
        return 0

    print(f"FAIL: {cmd}")
    for problem in problems:
        print(f"  - {problem}")
    print(f"  native: {describe(native)}, {len(native.stdout)} bytes of stdout")
    print(f"  vkernel: {describe(vk)}, {len(vk.stdout)} bytes of stdout")
    if native.stdout != vk.stdout:
        diff = difflib.unified_diff(text(native.stdout).splitlines(keepends=True),
                                    text(vk.stdout).splitlines(keepends=True),
                                    fromfile="native stdout", tofile="vkernel stdout")
        lines = list(diff)
        for line in lines[:400]:
            sys.stdout.write(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        if len(lines) > 400:
            print(f"... {len(lines) - 400} more diff lines")
    show_stderr("native", native)
    show_stderr("vkernel", vk)
    return 1


if __name__ == "__main__":
    sys.exit(main())

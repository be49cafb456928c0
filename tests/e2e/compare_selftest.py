#!/usr/bin/env python3
"""Tests the e2e harness itself, with no KVM: compare.py against a fake
vkernel (fake_vkernel.sh) that runs programs natively, and that can be told
to lie, so we know a real mismatch would be caught.

    compare_selftest.py [--guest-dir DIR]

DIR holds the built guest programs (tests/guest); without it only host
programs are used.
"""

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
COMPARE = os.path.join(HERE, "compare.py")
EXPECT = os.path.join(HERE, "expect.py")
FAKE = os.path.join(HERE, "fake_vkernel.sh")

failures = []


def check(name, argv, want_rc, want_text=(), env_extra=None):
    env = dict(os.environ)
    env.pop("CI", None)
    env.update(env_extra or {})
    r = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env)
    out = r.stdout + r.stderr
    problems = []
    if r.returncode != want_rc:
        problems.append(f"exit {r.returncode}, expected {want_rc}")
    for t in want_text:
        if t not in out:
            problems.append(f"output lacks {t!r}")
    print(f"{'ok  ' if not problems else 'FAIL'} {name}")
    if problems:
        failures.append(name)
        for p in problems:
            print(f"       {p}")
        print("       --- output:\n" + "".join(f"       | {line}\n" for line in out.splitlines()))


def compare(*args, fake=FAKE):
    return [COMPARE, "--no-kvm-check", "--vkernel", fake, *args]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--guest-dir")
    a = ap.parse_args()

    true_prog = "/bin/true"
    false_prog = "/bin/false"
    check("identical runs pass", compare("--", "/bin/echo", "a", "b c", ""), 0, ["PASS"])
    check("expected status 1 passes", compare("--expect-status", "1", "--", false_prog), 0)
    check("wrong expected status fails", compare("--expect-status", "1", "--", true_prog), 1,
          ["the native run exited with 0, expected 1", "the vkernel run exited with 0, expected 1"])
    check("extra output is a diff", compare("--vkernel-option=--fake-append", "--", "/bin/echo", "hi"), 1,
          ["stdout differs", "+extra line from the fake vkernel", "--- native stdout"])
    check("a different status fails", compare("--vkernel-option=--fake-exit", "--vkernel-option=3",
                                              "--", true_prog), 1,
          ["exit status differs: native 0, vkernel 3"])
    check("a timeout fails", compare("--timeout", "0.5", "--", "/bin/sleep", "5"), 1,
          ["timed out after 0.5 s"])
    check("a missing vkernel fails", compare("--", true_prog, fake="/nonexistent/vkernel"), 1,
          ["does not exist"])

    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "in.txt")
        with open(data, "w") as f:
            f.write("some stdin\n" * 100)
        check("stdin reaches both runs", compare("--stdin", data, "--", "/usr/bin/wc", "-c"), 0)
        missing = os.path.join(tmp, "no-kvm")
        base = [COMPARE, "--vkernel", FAKE, "--", true_prog]
        check("no KVM and no CI: skip (77)", base, 77, ["SKIP"],
              {"VK_COMPARE_KVM_DEVICE": missing})
        check("no KVM under CI: fail", base, 1, ["CI is set"],
              {"VK_COMPARE_KVM_DEVICE": missing, "CI": "1"})
        check("expect.py: status and stderr", [EXPECT, "--vkernel", "/bin/sh", "--status", "3",
                                               "--stderr-contains", "boom", "--stderr-one-line", "--",
                                               "-c", "echo boom >&2; exit 3"], 0)
        check("expect.py: wrong status", [EXPECT, "--vkernel", "/bin/sh", "--status", "0", "--",
                                          "-c", "exit 126"], 1, ["exit status 126, expected 0"])
        check("expect.py: needs KVM skips", [EXPECT, "--vkernel", "/bin/sh", "--status", "0",
                                             "--needs-kvm", "--", "-c", "true"], 77, [],
              {"VK_COMPARE_KVM_DEVICE": missing})

    if a.guest_dir:
        g = lambda name: os.path.join(a.guest_dir, name)  # noqa: E731
        for libc in ("musl", "glibc"):
            check(f"hello.{libc} with arguments", compare("--", g(f"hello.{libc}"), "a", "b c", ""), 0)
            check(f"null_write.{libc} dies with 139",
                  compare("--expect-status", "139", "--", g(f"null_write.{libc}")), 0)
            check(f"ud2.{libc} dies with 132", compare("--expect-status", "132", "--", g(f"ud2.{libc}")), 0)
            check(f"div0.{libc} dies with 136", compare("--expect-status", "136", "--", g(f"div0.{libc}")), 0)
            check(f"int3.{libc} dies with 133", compare("--expect-status", "133", "--", g(f"int3.{libc}")), 0)
            check(f"a crash where none is expected fails",
                  compare("--expect-status", "0", "--", g(f"null_write.{libc}")), 1,
                  ["the native run exited with 139, expected 0"])

    if failures:
        print(f"{len(failures)} harness self-test(s) failed")
        return 1
    print("all harness self-tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

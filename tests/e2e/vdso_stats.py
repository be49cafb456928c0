#!/usr/bin/env python3
"""Checks that clock_gettime through libc makes no VM exit (the vDSO).

    vdso_stats.py --vkernel PATH [--calls N] [--timeout SECONDS] [--no-tsc] -- PROGRAM

PROGRAM is tests/guest/vdso_test: `PROGRAM loop N` makes N clock_gettime
calls through libc, `PROGRAM sysloop N` N clock_gettime syscalls. Each runs
in the vkernel with --stats, which prints at exit how many syscall exits
there were. The libc loop of N calls may add only a few syscalls over a run
of 0 calls (libc's own set-up); the syscall loop, the control, must add at
least N (else the counter does not show what this test relies on).

--no-tsc runs the vkernel with VKERNEL_VDSO_NO_TSC=1: the [vvar] page then
says the TSC is not to be used, and the vDSO must make the syscall, so the
libc loop must add at least N syscall exits as well.

Exit status 0 if so, 1 if not, 77 if /dev/kvm is unusable (see compare.py).
Only the standard library is used.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import require_kvm, stats_of  # noqa: E402

# A libc loop may cost this many syscall exits more than no loop at all.
ALLOWED_EXTRA = 20


def syscalls_of(vkernel, prog, mode, n, timeout, env):
    return stats_of(vkernel, [], prog, [mode, str(n)], timeout, env)[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vkernel", required=True)
    p.add_argument("--calls", type=int, default=10000)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--no-tsc", action="store_true", help="the vDSO told not to use the TSC")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = p.parse_args(argv[:cut])
    if len(argv[cut + 1:]) != 1:
        p.error("give exactly one PROGRAM after --")
    prog = os.path.abspath(argv[cut + 1])
    require_kvm()

    env = dict(os.environ)
    env.pop("VKERNEL_VDSO_NO_TSC", None)
    if a.no_tsc:
        env["VKERNEL_VDSO_NO_TSC"] = "1"
    base = syscalls_of(a.vkernel, prog, "loop", 0, a.timeout, env)
    libc = syscalls_of(a.vkernel, prog, "loop", a.calls, a.timeout, env)
    control = syscalls_of(a.vkernel, prog, "sysloop", a.calls, a.timeout, env)
    print(f"syscall exits: {base} for no calls, {libc} for {a.calls} libc clock_gettime calls, "
          f"{control} for {a.calls} clock_gettime syscalls")
    problems = []
    if control - base < a.calls:
        problems.append(f"the control loop of {a.calls} syscalls added only {control - base} "
                        "syscall exits: --stats does not count what this test needs")
    if a.no_tsc and libc - base < a.calls:
        problems.append(f"with VKERNEL_VDSO_NO_TSC=1, {a.calls} clock_gettime calls through libc "
                        f"made only {libc - base} syscall exits: the vDSO did not fall back")
    if not a.no_tsc and libc - base > ALLOWED_EXTRA:
        problems.append(f"{a.calls} clock_gettime calls through libc made {libc - base} syscall "
                        f"exits (at most {ALLOWED_EXTRA} allowed): the vDSO is not used")
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

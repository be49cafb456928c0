#!/usr/bin/env python3
"""Checks that the syscalls answered in the guest make no VM exit (PVM).

    fast_stats.py --vkernel PATH [--rounds N] [--timeout SECONDS] -- PROGRAM

PROGRAM is tests/guest/fast_calls: `PROGRAM loop N` makes N rounds of
brk(0), brk moving up within its page, prlimit64 (reading), getrandom (8
bytes) and set_tid_address. It runs in the vkernel with --stats, which
prints at exit how many syscall exits there were and whether fast syscalls
are on (vmspace/fast_syscall.h: only on PVM). With them on, N rounds may add
at most N/4 exits over a run of 0 rounds (getrandom's pool of 64 bytes goes
to the host for more every 8 calls, the break moves down every 512); with
--no-fast-syscalls, the control, they must add at least 5N (else the counter
does not show what this test relies on).

Exit status 0 if so, 1 if not, 77 (skipped) if /dev/kvm is unusable or is
not PVM, where every syscall exits by design (see compare.py).
Only the standard library is used.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import SKIP, require_kvm, stats_of  # noqa: E402


def run(vkernel, prog, rounds, timeout, options):
    return stats_of(vkernel, options, prog, ["loop", str(rounds)], timeout)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vkernel", required=True)
    p.add_argument("--rounds", type=int, default=5000)
    p.add_argument("--timeout", type=float, default=120.0)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = p.parse_args(argv[:cut])
    if len(argv[cut + 1:]) != 1:
        p.error("give exactly one PROGRAM after --")
    prog = os.path.abspath(argv[cut + 1])
    require_kvm()

    base, fast_on = run(a.vkernel, prog, 0, a.timeout, [])
    if not fast_on:
        print("SKIP: fast syscalls are off: /dev/kvm is not PVM, so every syscall exits",
              file=sys.stderr)
        return SKIP
    fast, _ = run(a.vkernel, prog, a.rounds, a.timeout, [])
    slow_base, _ = run(a.vkernel, prog, 0, a.timeout, ["--no-fast-syscalls"])
    slow, slow_on = run(a.vkernel, prog, a.rounds, a.timeout, ["--no-fast-syscalls"])
    print(f"syscall exits for {a.rounds} rounds of 5 calls: {fast - base} "
          f"(control, every call exiting: {slow - slow_base})")
    problems = []
    if slow_on:
        problems.append("--no-fast-syscalls left fast syscalls on")
    if slow - slow_base < 5 * a.rounds:
        problems.append(f"the control run added only {slow - slow_base} syscall exits for "
                        f"{5 * a.rounds} calls: --stats does not count what this test needs")
    if fast - base > a.rounds // 4:
        problems.append(f"{5 * a.rounds} calls made {fast - base} syscall exits (at most "
                        f"{a.rounds // 4} allowed): they are not answered in the guest")
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

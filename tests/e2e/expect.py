#!/usr/bin/env python3
"""Runs the vkernel once and checks its exit status and messages (CLI tests).

    expect.py --vkernel PATH --status N [--stdout-nonempty]
              [--stderr-contains TEXT] [--stderr-one-line] [--needs-kvm]
              [--timeout SECONDS] [--bind-paths] [--stdout TEXT] [--stdin FILE]
              -- [VKERNEL ARGS...]

--stdout TEXT: stdout must be exactly TEXT. --stdin FILE: the vkernel's
stdin (default /dev/null).

--bind-paths: for every VKERNEL ARG that is an absolute path to an existing
file, the vkernel gets `--bind=DIR` for its directory first, so host
programs run at the same path inside the guest (see compare.py).

--needs-kvm: if /dev/kvm is unusable, exit 77 (skip) unless CI is set, in
which case fail; see compare.py. Only the standard library is used.
"""

import argparse
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import require_kvm, status_of  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vkernel", required=True)
    p.add_argument("--status", type=int, required=True, help="the exit status expected")
    p.add_argument("--stdout-nonempty", action="store_true")
    p.add_argument("--stderr-contains", action="append", default=[])
    p.add_argument("--stderr-one-line", action="store_true",
                   help="stderr must be exactly one line")
    p.add_argument("--needs-kvm", action="store_true")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--bind-paths", action="store_true")
    p.add_argument("--stdout", dest="stdout_text", help="stdout must be exactly this")
    p.add_argument("--stdin", help="file given as stdin (default /dev/null)")
    # Everything after the first "--" goes to the vkernel verbatim (split
    # here: argparse's handling of "--" differs between Python versions).
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = p.parse_args(argv[:cut])
    args = argv[cut + 1:]

    if not (os.path.isfile(a.vkernel) and os.access(a.vkernel, os.X_OK)):
        print(f"FAIL: the vkernel binary {a.vkernel} does not exist or is not executable")
        return 1
    if a.needs_kvm:
        require_kvm()

    binds = []
    if a.bind_paths:
        for arg in args:
            d = os.path.dirname(arg)
            if arg.startswith("/") and os.path.isfile(arg) and f"--bind={d}" not in binds:
                binds.append(f"--bind={d}")
    argv = [a.vkernel, *sorted(binds, key=len), *args]
    try:
        with open(a.stdin or os.devnull, "rb") as stdin:
            r = subprocess.run(argv, stdin=stdin, capture_output=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        print(f"FAIL: {' '.join(argv)} did not finish within {a.timeout:g} s")
        return 1
    out = r.stdout.decode("utf-8", errors="backslashreplace")
    err = r.stderr.decode("utf-8", errors="backslashreplace")
    status = status_of(r.returncode)

    problems = []
    if status != a.status:
        problems.append(f"exit status {status}, expected {a.status}")
    if a.stdout_nonempty and not out.strip():
        problems.append("nothing on stdout")
    if a.stdout_text is not None and out != a.stdout_text:
        problems.append(f"stdout is {out!r}, expected {a.stdout_text!r}")
    for t in a.stderr_contains:
        if t not in err:
            problems.append(f"stderr does not contain {t!r}")
    if a.stderr_one_line and len(err.splitlines()) != 1:
        problems.append(f"stderr has {len(err.splitlines())} lines, expected exactly one")

    print(f"{'FAIL' if problems else 'PASS'}: {' '.join(argv)} -> status {status}")
    for problem in problems:
        print(f"  - {problem}")
    if problems:
        print("--- stdout\n" + out[-4000:])
        print("--- stderr\n" + err[-4000:])
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""An interactive busybox shell on the vkernel's console tty, driven through tmux.

    tty_interactive.py --vkernel PATH [--ctty-drop PROGRAM]

Starts the vkernel with no command (it boots the busybox root and runs
/bin/sh as a session leader with the console as its controlling tty) in a
detached 80x24 tmux pane, types into it with send-keys, reads it with
capture-pane and checks: the prompt appears; `echo hi`; ^C ends `sleep 10`
at once; ^D ends `cat`; job control (`sleep 30 &`, `jobs`, `fg`, ^Z, `bg`,
`kill %1`); with --ctty-drop, tests/guest/ctty_drop run from the shell
(its directory bound into the guest) reports that a process that is not the
session leader can give up the terminal for itself alone (TIOCNOTTY);
`stty -a` shows the vkernel's termios, not the raw host terminal's; resizing the tmux window changes `stty size`; `exit` ends the
vkernel and the host terminal's `stty -g` is what it was before.

Exit status 0 on success, 1 on failure (the pane is printed), 77 if /dev/kvm
is unusable (a failure when CI is set, see compare.py) or tmux is missing
(likewise). Uses a private tmux server (-L) so it never touches the user's.
VK_TTY_LOG=FILE saves every byte the pane received (tmux pipe-pane).
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import SKIP, require_kvm  # noqa: E402

PROMPT = "vk$ "


class Failure(Exception):
    pass


class Pane:
    def __init__(self, socket):
        self.socket = socket
        self.env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                           env=self.env, capture_output=True, text=True, timeout=10)
        if check and r.returncode != 0:
            raise Failure(f"tmux {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def text(self):
        """The whole pane with its history, trailing blank lines dropped."""
        raw = self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "t")
        return "\n".join(line.rstrip() for line in raw.splitlines()).rstrip("\n")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def wait(self, what, pred, timeout=5.0):
        """Polls the pane until pred(text) is true; returns the seconds it took."""
        start = time.monotonic()
        while True:
            text = self.text()
            if pred(text):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise Failure(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.05)


def after_last(text, command):
    """What the pane shows after the last line where `command` was typed."""
    i = text.rfind(PROMPT + command)
    return None if i < 0 else text[i + len(PROMPT + command):]


def at_prompt(text):
    # After ^C the prompt may follow the echoed "^C" on the same line: ash
    # prints a newline only if its own SIGINT comes before the prompt.
    return text.splitlines()[-1].endswith(PROMPT.rstrip()) if text else False


def command(pane, cmd, expect=None, timeout=5.0):
    """Types `cmd` and Enter, waits for the next prompt; returns the output.
    `expect`: a regex the output must match (re.M)."""
    seen = pane.text().count(PROMPT + cmd)
    pane.keys("-l", cmd)
    pane.keys("Enter")

    def done(text):
        out = after_last(text, cmd)
        return text.count(PROMPT + cmd) > seen and at_prompt(out)

    pane.wait(f"the prompt after {cmd!r}", done, timeout)
    out = after_last(pane.text(), cmd)
    out = out[: out.rfind(PROMPT.rstrip())].strip("\n")
    if expect is not None and not re.search(expect, out, re.M):
        raise Failure(f"{cmd!r} printed {out!r}, expected /{expect}/")
    return out


def session(pane, vkernel, work, ctty_drop=None):
    before, after, status = (os.path.join(work, n) for n in ("before", "after", "status"))
    bind = f"--bind {shlex.quote(os.path.dirname(ctty_drop))} " if ctty_drop else ""
    script = (f"stty -g > {before}; {shlex.quote(vkernel)} {bind}-e {shlex.quote('PS1=' + PROMPT)}; "
              f"echo $? > {status}; stty -g > {after}; echo vkernel-ended; sleep 60")
    pane.tmux("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", "sh", "-c", script)
    # A detached session is sized by -x/-y; keep it so until the test resizes it.
    pane.tmux("set-option", "-t", "t", "window-size", "manual", check=False)
    if os.environ.get("VK_TTY_LOG"):  # every byte the pane receives, for debugging
        pane.tmux("pipe-pane", "-t", "t", "-o", "cat > " + shlex.quote(os.environ["VK_TTY_LOG"]))

    took = pane.wait("the first prompt", at_prompt, 10.0)
    print(f"ok: prompt after {took:.2f} s")
    if "job control turned off" in pane.text():
        raise Failure("the shell has no job control")

    command(pane, "echo hi", r"^hi$")
    print("ok: echo hi")

    # ^C: SIGINT to the foreground group ends sleep at once.
    pane.keys("-l", "sleep 10")
    pane.keys("Enter")
    time.sleep(0.5)
    if at_prompt(after_last(pane.text(), "sleep 10") or ""):
        raise Failure("sleep 10 returned by itself")
    pane.keys("C-c")
    took = pane.wait("the prompt after ^C", lambda t: at_prompt(after_last(t, "sleep 10") or ""), 3.0)
    if "^C" not in after_last(pane.text(), "sleep 10"):
        raise Failure("^C was not echoed")
    print(f"ok: ^C ended sleep 10 in {took:.2f} s")

    # cat: a canonical line is echoed by the tty and copied by cat; ^D is EOF.
    pane.keys("-l", "cat")
    pane.keys("Enter")
    time.sleep(0.3)
    pane.keys("-l", "abx")
    pane.keys("BSpace")  # VERASE
    pane.keys("-l", "c")
    pane.keys("Enter")
    pane.wait("cat to copy its line",
              lambda t: re.search(r"^abc\n^abc$", after_last(t, "cat") or "", re.M), 3.0)
    pane.keys("C-d")
    pane.wait("the prompt after ^D", lambda t: at_prompt(after_last(t, "cat") or ""), 3.0)
    print("ok: cat, erase, ^D")

    # Job control.
    command(pane, "sleep 30 &")  # ash prints no job number
    command(pane, "jobs", r"^\[1\]\+ +Running +sleep 30$")
    pane.keys("-l", "fg")
    pane.keys("Enter")
    pane.wait("fg to resume sleep", lambda t: re.search(r"^sleep 30$", after_last(t, "fg") or "", re.M), 3.0)
    time.sleep(0.3)
    pane.keys("C-z")
    pane.wait("the job to stop",
              lambda t: re.search(r"Stopped +sleep 30", after_last(t, "fg") or "")
              and at_prompt(after_last(t, "fg")), 3.0)
    command(pane, "bg", r"sleep 30")
    command(pane, "jobs", r"^\[1\]\+ +Running +sleep 30$")
    command(pane, "kill %1")
    deadline = time.monotonic() + 3.0
    while "Running" in command(pane, "jobs"):  # SIGCHLD may come a moment later
        if time.monotonic() > deadline:
            raise Failure("the job still runs after kill %1")
        time.sleep(0.2)
    if not re.search(r"Terminated +sleep 30", pane.text()):
        raise Failure("the shell did not report the job Terminated")
    print("ok: sleep 30 &, jobs, fg, ^Z, bg, kill %1")

    # A background read stops the job (SIGTTIN); fg gives it the terminal.
    command(pane, "cat &")
    deadline = time.monotonic() + 3.0
    while not re.search(r"Stopped \(tty input\) +cat", command(pane, "jobs")):
        if time.monotonic() > deadline:
            raise Failure("cat & did not stop for terminal input")
        time.sleep(0.2)
    pane.keys("-l", "fg")
    pane.keys("Enter")
    pane.wait("fg to resume cat", lambda t: re.search(r"^cat$", after_last(t, "fg") or "", re.M), 3.0)
    time.sleep(0.3)  # as with ^Z: let cat get back to its read
    pane.keys("-l", "in the foreground")
    pane.keys("Enter")
    pane.wait("cat to copy its line",
              lambda t: len(re.findall(r"^in the foreground$", after_last(t, "fg") or "", re.M)) == 2, 3.0)
    pane.keys("C-d")
    pane.wait("the prompt after ^D", lambda t: at_prompt(after_last(t, "fg") or ""), 3.0)
    print("ok: cat &: stopped for tty input, fg, ^D")

    command(pane, "tty", r"^/dev/console$")
    print("ok: tty")

    if ctty_drop:
        command(pane, ctty_drop, r"^ctty_drop: ok$", timeout=10.0)
        command(pane, "tty", r"^/dev/console$")  # the shell keeps its terminal
        print("ok: TIOCNOTTY by a session member")

    # The vkernel's termios, not the host's raw mode.
    out = command(pane, "stty -a")
    for word in ("speed 38400 baud", "rows 24", "columns 80", "intr = ^C", "icanon", "echo",
                 "isig", "icrnl", "onlcr", "opost", "ixon"):
        if not re.search(r"(^|[ ;])" + re.escape(word) + r"($|[ ;])", out, re.M):
            raise Failure(f"stty -a lacks {word!r}: {out!r}")
    print("ok: stty -a")

    # A resize of the host terminal reaches the tty (SIGWINCH).
    command(pane, "stty size", r"^24 80$")
    pane.tmux("resize-window", "-t", "t", "-x", "100", "-y", "30")
    pane.wait("the pane to resize", lambda t: pane.tmux("display", "-p", "-t", "t",
                                                         "#{pane_width}x#{pane_height}").strip() == "100x30", 3.0)
    deadline = time.monotonic() + 3.0
    while True:
        out = command(pane, "stty size")
        if out == "30 100":
            break
        if time.monotonic() > deadline:
            raise Failure(f"stty size says {out!r} after the resize to 100x30")
        time.sleep(0.2)
    print("ok: resize")

    pane.keys("-l", "exit")
    pane.keys("Enter")
    pane.wait("the vkernel to exit", lambda t: "vkernel-ended" in t, 5.0)
    with open(status) as f:
        if f.read().strip() != "0":
            raise Failure("the vkernel's exit status was not 0")
    with open(before) as f1, open(after) as f2:
        b, a = f1.read().strip(), f2.read().strip()
    if not b or a != b:
        raise Failure(f"the host terminal was not restored: stty -g before {b!r}, after {a!r}")
    print("ok: exit; host terminal restored")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vkernel", required=True)
    p.add_argument("--ctty-drop", help="tests/guest/ctty_drop, built")
    a = p.parse_args()
    require_kvm()
    if not shutil.which("tmux"):
        if os.environ.get("CI"):
            print("FAIL: tmux is not installed (scripts/setup.sh installs it)", file=sys.stderr)
            return 1
        print("SKIP: tmux is not installed", file=sys.stderr)
        return SKIP
    pane = Pane(f"vk-tty-{os.getpid()}")
    with tempfile.TemporaryDirectory() as work:
        try:
            session(pane, os.path.abspath(a.vkernel), work,
                    os.path.abspath(a.ctty_drop) if a.ctty_drop else None)
            return 0
        except (Failure, subprocess.TimeoutExpired) as e:
            print(f"FAIL: {e}", file=sys.stderr)
            try:
                print("--- the pane ---\n" + pane.text() + "\n--- end of the pane ---", file=sys.stderr)
            except (Failure, subprocess.TimeoutExpired):
                pass
            return 1
        finally:
            pane.tmux("kill-server", check=False)


if __name__ == "__main__":
    sys.exit(main())

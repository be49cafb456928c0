#!/usr/bin/env python3
"""Runs the trap-path benchmarks once and prints each figure with its ratio
to the host, measured in the same run.

    bench/run.py [--build DIR]      (default DIR: build)

Figures (medians, see each program): the bare trampoline round trip, the raw
KVM exit round trip, a guest getppid through the whole vkernel, a guest
getpid (answered inside the guest on PVM), clock_gettime through the vDSO,
the cost of a guest page fault per 4 KiB page (touching 64 MiB), and the wall
time of two CPU-bound processes on two vCPUs (`-n 2`, cpu_bench), each next
to the host.
"""
import argparse
import os
import subprocess
import sys


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return dict(line.split(None, 1) for line in out.splitlines() if line.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    b = os.path.abspath(ap.parse_args().build)
    vk = os.path.join(b, "bin", "vkernel")
    bench = os.path.join(b, "bench")
    trap = run([os.path.join(b, "bench", "trap_bench")])
    # The guest sees the host's bench directory at the same path (--bind).
    guest_ppid = run([vk, "-m", "512M", "--bind", bench, "--", os.path.join(bench, "getppid_loop")])
    host_ppid = run([os.path.join(b, "bench", "getppid_loop")])
    guest_pid = run([vk, "--bind", bench, "--", os.path.join(bench, "getppid_loop"), "200000", "getpid"])
    host_pid = run([os.path.join(b, "bench", "getppid_loop"), "200000", "getpid"])
    guest_time = run([vk, "--bind", bench, "--", os.path.join(bench, "time_bench")])
    host_time = run([os.path.join(b, "bench", "time_bench")])
    guest_fault = run([vk, "-m", "512M", "--bind", bench, "--", os.path.join(bench, "touch_pages")])
    host_fault = run([os.path.join(b, "bench", "touch_pages")])
    guest_cpu = run([vk, "-n", "2", "--bind", bench, "--", os.path.join(bench, "cpu_bench")])
    host_cpu = run([os.path.join(b, "bench", "cpu_bench")])

    tr = float(trap["bare_trampoline_ns"])
    raw = float(trap["raw_exit_ns"])
    hp = float(host_ppid["getppid_ns"])
    gp = float(guest_ppid["getppid_ns"])
    gf = float(guest_fault["fault_ns_per_page"])
    hf = float(host_fault["fault_ns_per_page"])
    print(f"KVM: {trap['kvm']}, syscall path: {trap['syscall_path']}")
    print(f"{'figure':40} {'vkernel':>10} {'host':>10} {'ratio':>8}")
    rows = [
        ("raw KVM exit round trip (out loop)", raw, hp),
        ("bare trampoline round trip (syscall)", tr, hp),
        ("guest getppid through the vkernel", gp, hp),
        ("guest getpid (fast syscall on PVM)", float(guest_pid["getpid_ns"]),
         float(host_pid["getpid_ns"])),
        ("clock_gettime (vDSO)", float(guest_time["clock_gettime_ns"]),
         float(host_time["clock_gettime_ns"])),
        ("page fault per 4 KiB page (64 MiB)", gf, hf),
        ("2 busy processes, -n 2 (wall)", float(guest_cpu["two_workers_ns"]),
         float(host_cpu["two_workers_ns"])),
    ]
    for name, v, h in rows:
        print(f"{name:40} {v/1000:9.3f}us {h/1000:9.3f}us {v/h:7.1f}x")
    print(f"vkernel overhead over bare trampoline: {100*(gp-tr)/tr:+.0f}% (goal <= +25%)")
    print(f"page fault / bare trampoline: {gf/tr:.2f} (goal <= 0.25)")
    print(f"two busy processes on two vCPUs: speedup {guest_cpu['speedup']} over one "
          f"(host {host_cpu['speedup']}; 2.0 is perfect)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

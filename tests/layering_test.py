#!/usr/bin/env python3
"""Fails if a folder includes a header from a layer above it (STYLE.md §1,
DESIGN.md "Layers and folders"), or if <linux/kvm.h> / <liburing.h> appear
outside the one folder allowed to use them.

    layering_test.py [REPO_ROOT]    (default: the parent of this file's folder)

Only the standard library is used.
"""

import os
import re
import sys

# folder -> the folders its quoted includes may name (besides system headers).
ALLOWED = {
    "base": {"base"},
    "pmap": {"base", "pmap"},
    "vmspace": {"base", "pmap", "vmspace"},
    "vkernel": {"base", "pmap", "vmspace", "vkernel", "vdisk", "vnet"},
    "syscalls": {"base", "pmap", "vmspace", "vkernel", "syscalls"},
    "vdisk": {"base", "vdisk"},
    "vnet": {"base", "vnet"},
}

# <header> -> the only folder that may include it.
RESTRICTED = {
    "linux/kvm.h": "vmspace",
    "liburing.h": "base",
}

SOURCE_EXT = (".h", ".hpp", ".cpp", ".cc", ".c", ".S", ".inc")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def check_file(root, folder, path):
    problems = []
    rel = os.path.relpath(path, root)
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, header = m.groups()
            where = f"{rel}:{lineno}"
            if kind == "<":
                owner = RESTRICTED.get(header)
                if owner and owner != folder:
                    problems.append(f"{where}: <{header}> may only be included in {owner}/")
                continue
            # A quoted include names a project header by its path from the
            # repository root ("pmap/page_table.h"); a relative one
            # ("../pmap/x.h", "trap.h") is judged by where it resolves to.
            target = header
            if header.startswith(".") or "/" not in header:
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), header))
                target = os.path.relpath(resolved, root)
            first = target.split("/", 1)[0]
            if first in ALLOWED and first not in ALLOWED[folder]:
                problems.append(f"{where}: {folder}/ may not include \"{header}\" "
                                f"({first}/ is not below {folder}/)")
    return problems


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1
                           else os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    problems = []
    scanned = 0
    for folder in ALLOWED:
        top = os.path.join(root, folder)
        for dirpath, _, files in os.walk(top):
            for name in sorted(files):
                if name.endswith(SOURCE_EXT):
                    scanned += 1
                    problems += check_file(root, folder, os.path.join(dirpath, name))
    for p in problems:
        print(p)
    print(f"layering: {scanned} files scanned, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/sh
# Builds the vkernel's default root filesystem: a cpio (newc) archive with
# busybox (from busybox-static), a symlink per applet, /etc/passwd and
# /etc/group, and the directories a system expects.
#   make_root.sh BUSYBOX OUTPUT STAGING_DIR
# /sbin/init is left out (busybox init wants an inittab and ttys), so the
# vkernel starts /bin/sh when no command is given.
set -eu
busybox=$1 out=$2 stage=$3
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" "$stage/etc" \
         "$stage/tmp" "$stage/root" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/home"
cp "$busybox" "$stage/bin/busybox"
chmod 0755 "$stage/bin/busybox"
"$busybox" --list-full | while read -r applet; do
    case "$applet" in
        sbin/init|linuxrc|bin/busybox) continue ;;
    esac
    [ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    > "$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$stage/etc/group"
printf 'vkernel\n' > "$stage/etc/hostname"
chmod 1777 "$stage/tmp"
chmod 0700 "$stage/root"
tmp="$out.tmp"
(cd "$stage" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) > "$tmp"
mv "$tmp" "$out"

# needs: proc
# /dev/fd, /dev/stdin and /proc/self links, as a script sees them.
cd /tmp
echo "file content" > pf
cat /dev/stdin < pf
cat /dev/fd/3 3< pf
# stdout is a pipe in both runs; opening it again through /dev/stdout is
# left out: the vkernel cannot reopen its pipes and console by path yet.
stat -L -c '%F' /dev/stdout /proc/self/fd/1
[ -p /dev/stdout ] && echo "stdout is a pipe"
echo "stdin: $(stat -L -c '%F' /dev/stdin), through a pipe: $(echo x | stat -L -c '%F' /dev/stdin)"
readlink /proc/self/fd/4 4< pf
readlink /proc/self/cwd
exec 5> pf2; ls /proc/self/fd | sort -n | tr '\n' ' '; echo; exec 5>&-
cat /proc/self/cmdline | tr '\0' ' '; echo
sh -c 'cat /proc/$$/comm'
cat /proc/self/environ | tr '\0' '\n' | sort
head -c 1 /dev/urandom | wc -c
head -c 5 /dev/zero | od -An -tx1
echo x > /dev/full; echo "write to full: $?"
wc -c < /dev/null
ls -l /dev/null /dev/zero | awk '{ print $1, $5, $6 }'
stat -c '%t %T %F' /dev/null /dev/zero /dev/urandom
rm pf pf2

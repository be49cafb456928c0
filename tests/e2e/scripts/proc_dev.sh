# needs: proc
# /dev/fd, /dev/stdin and /proc/self links, as a script sees them.
cd /tmp
echo "file content" > pf
cat /dev/stdin < pf
cat /dev/fd/3 3< pf
# stdout and stderr are pipes in both runs: opening them again through
# /dev/stdout and /dev/stderr reaches the same pipe (the vkernel's console
# over the host's pipe), and so do pipes made inside the script.
echo "to stdout through /dev/stdout" > /dev/stdout
echo "to stderr through /dev/stderr" > /dev/stderr
echo "appended through /proc/self/fd/1" >> /proc/self/fd/1
echo "through a pipe" | cat /dev/stdin
echo "read back" | (read line < /dev/stdin; echo "got: $line")
(echo first; echo second > /dev/stdout) | cat
{ echo one; echo two > /dev/stderr; } 2>&1 | sort
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

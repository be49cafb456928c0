# needs: proc
# Regression: /proc/PID/fd/N, cwd and root are magic links. Following one
# reaches the open file (or directory) itself, not whatever its name says
# now: a deleted file stays readable, and stat -L of a pipe is the pipe.
# The vkernel used to walk the link's text ("/tmp/pf (deleted)", "pipe:[3]")
# and failed with ENOENT.
cd /tmp
echo "file content" > pf
exec 6< pf
rm pf
cat /proc/self/fd/6
stat -L -c '%s %h %F' /proc/self/fd/6
cat /dev/fd/6 | wc -c
exec 6<&-
echo "rewritten" > pf
exec 7>> pf
mv pf moved
echo "appended through the old name's fd" > /proc/self/fd/7 2>&1 || echo "open failed"
exec 7>&-
cat moved
stat -L -c '%F' /dev/stdout /proc/self/fd/1
echo x | stat -L -c '%F' /dev/stdin
[ -p /dev/stdout ] && echo "stdout is a pipe"
mkdir -p d1/d2 && cd d1/d2 && cd -P /proc/self/cwd && pwd -P && cd /tmp
ls /proc/self/cwd/d1
[ /proc/self/root -ef / ] && echo "root link is /"
stat -c '%F' /proc/self/fd/0 /proc/self/cwd
[ -d /proc/self/fd/1/ ] || echo "a pipe is not a directory"
cat /proc/self/fd/1/x 2>/dev/null || echo "no path through a pipe: $?"
rm -r moved d1

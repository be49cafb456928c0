# Large data through pipes, SIGPIPE with set -o pipefail, timeout, kill.
head -c 1000000 /dev/zero | md5sum
dd if=/dev/zero bs=65536 count=40 2>/dev/null | wc -c
seq 1 200000 | sort -rn | head -2
yes line | head -n 100000 | wc -l
set -o pipefail
yes | head -n 1; echo "yes into head -1, pipefail status $?"
seq 1 100000 | head -c 10 >/dev/null; echo "seq killed by SIGPIPE: $?"
false | cat; echo "pipefail with false: $?"
set +o pipefail
(trap '' PIPE; yes 2>/dev/null | head -n 1 >/dev/null); echo "ignored PIPE"
timeout 1 sleep 10; echo "timeout status $?"
timeout -s KILL 1 sleep 10; echo "timeout KILL status $?"
timeout 5 true; echo "timeout of true: $?"
sleep 10 & p=$!
kill -0 $p && echo "alive"
kill -STOP $p; kill -CONT $p; kill -TERM $p; wait $p; echo "terminated: $?"
kill -0 $p 2>/dev/null || echo "gone"
kill -l 15; kill -l 9
sh -c 'trap "echo child got HUP; exit 0" HUP; kill -HUP $$; sleep 1'; echo "status $?"
sh -c 'echo a; exec echo b; echo c'
sh -c 'exec 3>&1; echo via-3 >&3'
(exec sh -c 'exit 12'); echo "exec in subshell: $?"
env | sort
printenv PATH
echo "shell options: $-"

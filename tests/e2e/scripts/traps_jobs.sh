# Traps (EXIT, INT sent with kill to the shell itself, in subshells) and
# background jobs with wait and wait $pid exit codes.
trap 'echo "EXIT trap runs last, status $?"' EXIT
trap 'echo "got INT"' INT
kill -INT $$
echo "after INT"
trap 'echo "got USR1"; n=$((n + 1))' USR1
n=0; kill -USR1 $$; kill -USR1 $$; echo "USR1 count $n"
trap - USR1
( trap 'echo "subshell EXIT"' EXIT; echo "in subshell"; exit 4 ); echo "subshell status $?"
( trap 'echo "subshell TERM"; exit 9' TERM; sh -c 'kill -TERM $PPID'; echo "not reached" ); echo "trapped TERM status $?"
sh -c 'kill -TERM $$; echo not reached'; echo "killed by TERM status $?"
sh -c 'kill -KILL $$'; echo "killed by KILL status $?"
sh -c 'exit 300'; echo "exit 300 status $?"
trap 'echo "INT ignored is not run"' INT
trap '' INT; kill -INT $$; echo "INT ignored"
trap 'echo "got INT again"' INT; kill -INT $$
( sleep 0.2; exit 3 ) & p1=$!
( exit 5 ) & p2=$!
sh -c 'exit 7' & p3=$!
wait $p2; echo "wait p2: $?"
wait $p1; echo "wait p1: $?"
wait $p3; echo "wait p3: $?"
false & wait $!; echo "wait false: $?"
sh -c 'kill -TERM $$' & wait $!; echo "wait signalled: $?"
for i in 1 2 3 4; do ( echo "job $i" > /tmp/job.$i ) & done
wait; echo "wait all: $?"; cat /tmp/job.1 /tmp/job.2 /tmp/job.3 /tmp/job.4; rm /tmp/job.*
sleep 5 & sp=$!; kill $sp; wait $sp; echo "killed sleep: $?"
( echo one; sleep 0.1; echo three ) > /tmp/ordered & (sleep 0.05; echo two) > /tmp/two & wait
cat /tmp/ordered /tmp/two; rm /tmp/ordered /tmp/two
x=$(sleep 0.1; echo late) ; echo "substitution waited: $x"
echo "status before exit: ok"
exit 6

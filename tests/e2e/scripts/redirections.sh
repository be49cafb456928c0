# Redirections: >, >>, <, 2>&1, >&-, <>, exec redirections, here-docs.
cd /tmp
echo first > f
echo second >> f
cat < f
wc -l < f
ls /nonexistent 2>&1 | sed 's/^/caught: /'
{ echo out; echo err >&2; } 2>&1 >/dev/null | cat
{ echo out; echo err >&2; } > both 2>&1
cat both
echo closed >&- 2>/dev/null && echo "echo to a closed stdout succeeded" || echo "echo to a closed stdout failed"
( exec 1>&-; echo gone ) 2>/dev/null; echo "status $?"
printf 'line1\nline2\nline3\n' > rw
exec 3<> rw
read -r l <&3
echo "read via <>: $l"
echo NEW >&3
exec 3>&-
cat rw
exec 4> out4
echo "to fd 4" >&4
echo "again fd 4" >&4
exec 4>&-
cat out4
exec 5< out4
read -r a <&5; read -r b <&5
exec 5<&-
echo "$b / $a"
# Save and restore stdout with exec.
exec 6>&1 > saved
echo "into saved"
exec 1>&6 6>&-
echo "back on stdout: $(cat saved)"
# noclobber
set -C
echo x > f 2>/dev/null || echo "noclobber refused"
echo y >| f && cat f
set +C
: > empty; wc -c < empty
x=world
cat <<EOF2
unquoted $x $(echo sub) `echo tick` \$x
EOF2
cat <<'EOF2'
quoted $x $(echo sub) `echo tick`
EOF2
cat <<-EOF2
	tabs stripped $x
		both tabs
	EOF2
while read -r a b; do echo "[$a|$b]"; done <<EOF2
1 2 3
four
EOF2
cat 2>/dev/null < /nonexistent; echo "missing input: $?"
echo to-dir > /tmp 2>/dev/null; echo "into a directory: $?"
rm -f f both rw out4 saved empty

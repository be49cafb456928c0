# set -e: a failing command stops the script with its status, but not in a
# condition, an && list or a negation.
set -e
false || echo "|| is not fatal"
if false; then :; else echo "if condition is not fatal"; fi
! true; echo "negation is not fatal"
false && echo never
echo "&& list is not fatal"
f() { echo "in f"; return 0; }
f
v=$(false || echo fallback); echo "$v"
echo "before the failure"
sh -c 'exit 3'
echo "not reached"

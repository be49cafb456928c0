#!/bin/sh
# Stands in for the vkernel in the harness's own tests (compare_selftest.py):
# takes the vkernel's command line, skips the options up to "--" and runs the
# program natively. Two options of its own make it misbehave on purpose:
#   --fake-append   print one extra line after the program's output
#   --fake-exit N   exit with N instead of the program's status
append=0
status=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case "$1" in
        --fake-append) append=1 ;;
        --fake-exit) shift; status="$1" ;;
    esac
    shift
done
[ "$1" = "--" ] && shift
if [ "$append" = 0 ] && [ -z "$status" ]; then
    exec "$@"
fi
"$@"
rc=$?
[ "$append" = 1 ] && echo "extra line from the fake vkernel"
exit "${status:-$rc}"

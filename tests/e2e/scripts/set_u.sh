# set -u: an unset variable is an error that ends the script; ${x-} is not.
set -u
defined=1
echo "defined=$defined default=${undefined:-d} empty=[${undefined-}]"
( echo "in a subshell: $also_undefined" ) 2>&1 | sed 's/^[^:]*: line [0-9]*: //'
echo "subshell done"
echo "this fails: $undefined_variable"
echo "not reached"

# Subshells and { } groups, command substitution ($( ), backticks, nested),
# arithmetic, functions with local, read loops, printf, test / [ ].
x=outer
( x=inner; echo "subshell sees $x"; exit 3 ); echo "subshell status $? x=$x"
{ x=group; echo "group sets x"; }; echo "after group x=$x"
{ echo a; echo b; } | { read -r one; read -r two; echo "$two$one"; }
echo "nested: $(echo "one $(echo "two $(echo three)")")"
echo "backticks: `echo back \`echo nested\``"
echo "mixed: $(echo `echo inner`)"
n=$(printf '%s\n' a b c | wc -l); echo "lines: $n"
echo "trailing newlines stripped: [$(printf 'x\n\n\n')]"
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "i=$i"
echo $(( 7 * 6 )) $(( 2 ** 10 )) $(( 17 % 5 )) $(( -7 / 2 )) $(( 1 << 4 | 1 )) $(( 5 > 3 && 2 > 1 ))
echo $(( 0x1f + 010 )) $(( (3 + 4) * 2 )) $(( i += 10 )) $i $(( i++ )) $i
a=5; b=3; echo $((a * b - a / b)) $(( a == 5 ? 100 : 200 ))
counter() {
    local n=$1 acc=0
    while [ "$n" -gt 0 ]; do acc=$((acc + n)); n=$((n - 1)); done
    echo "$acc"
}
n=outside; echo "sum to 10: $(counter 10), n still $n"
fact() { if [ "$1" -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(( $1 - 1 ))) )); fi; }
echo "fact 10 = $(fact 10)"
shadow() { local x=local-x; inner; }
inner() { echo "inner sees $x"; }
shadow; echo "global x=$x"
args() { echo "argc=$# first=$1 all=$*"; shift 2; echo "after shift: $@"; }
args one "two words" three four
ret() { return $1; }; ret 42; echo "return status $?"
printf '%5d|%-5s|%05.1f|%x|%o|%c|%%\n' 42 ab 3.14159 255 8 zed
printf '%s-%s\n' a b c d e
printf '%b\n' 'tab:\there' 'nl:\\n'
printf '%10.3s|\n' abcdef
printf 'line one\nline two\n  indented three\n' | while IFS= read -r line; do echo "<$line>"; done
printf 'a:b:c\n1:2:3\n' | while IFS=: read -r f1 f2 f3; do echo "$f3 $f2 $f1"; done
total=0
while read -r v; do total=$((total + v)); done <<END
10
20
30
END
echo "total $total"
for f in 1 2 3; do for g in a b; do printf '%s%s ' $f $g; done; done; echo
for w in $(echo "split on words"); do echo "word: $w"; done
set -- x y z; for p; do echo "param $p"; done
case "hello.txt" in *.sh) echo sh ;; *.txt) echo txt ;; *) echo other ;; esac
case 5 in [0-4]) echo low ;; [5-9]) echo high ;; esac
s="The quick brown fox"
echo "${#s} ${s#The } ${s%fox} ${s##* } ${s%% *} ${s/quick/slow}"
unset u; echo "${u:-default} ${u:=assigned} $u ${s:+set}"
[ -z "" ] && [ -n x ] && [ a = a ] && [ a != b ] && echo "string tests ok"
[ 3 -eq 3 ] && [ 3 -ne 4 ] && [ 2 -lt 3 ] && [ 3 -ge 3 ] && [ 4 -gt 3 ] && [ 3 -le 3 ] && echo "number tests ok"
test ! -e /nonexistent && test -d / && test -f /bin/busybox && test -x /bin/busybox && test -L /bin/sh && echo "file tests ok"
[ -e /etc/passwd -a ! -d /etc/passwd ] && [ -d /tmp -o -f /tmp ] && echo "and/or ok"
if [ -s /etc/passwd ]; then echo "passwd not empty"; fi
true && echo and-true; false || echo or-false; ! false && echo negated
eval 'ev=$((2+2))'; echo "eval $ev"
IFS=, read -r c1 c2 <<END
left,right
END
echo "$c2 $c1"
echo "dollar-hash in script: $#"

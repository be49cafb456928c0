# Pipelines of several stages, sort | uniq -c, sort -n -k, cut, tr, wc,
# head/tail, seq, sed, awk.
seq 1 20 | sed 's/$/ x/' | awk '{ s += $1 } END { print "sum", s, NR }'
seq 1 100 | grep 7 | tr '7' 'z' | sort -r | head -5
printf 'pear\napple\npear\nfig\napple\npear\n' | sort | uniq -c | sort -rn
printf 'b 10 x\na 2 y\nc 33 z\nd 2 w\n' | sort -n -k2 -k1
printf 'b 10 x\na 2 y\nc 33 z\nd 2 w\n' | sort -k3,3r
printf 'one:two:three\nfour:five:six\n' | cut -d: -f2,3
printf 'abcdefghij\n' | cut -c3-6
echo 'Hello World' | tr 'a-z' 'A-Z' | tr -d 'O' | tr -s 'L'
seq 1 1000 | wc -l
seq 1 1000 | tail -3
seq 1 1000 | head -n -995 | tail -n +990
printf 'a b c\nd e\n\nf\n' | wc
seq 10 -3 -5 | tr '\n' ' '; echo
seq -w 8 11
seq 1 50000 | awk 'NR % 9999 == 0' | sed -n '2,4p'
# A long pipeline, each stage its own process.
seq 1 300 | cat | cat | grep -v 5 | sed 's/1/one/g' | awk 'length($0) > 4' | sort | uniq | wc -l
echo "status of false in a pipeline: $(false | true; echo $?) and $(true | false; echo $?)"
awk 'BEGIN { for (i = 1; i <= 5; i++) printf "%d^2=%d\n", i, i * i; printf "%.3f %s %5s|\n", 3.14159, "str", "pad" }'
printf 'k1 1\nk2 2\nk1 3\nk3 4\nk2 5\n' | awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }' | sort
echo "a,b;c d" | awk -F'[,;]' '{ print NF, $2 }'
sed -e 's/a/A/' -e '2d' -e '$a\
appended' <<'END'
a1
a2
a3
END
printf 'x\ny\nz\n' | sed -n '/y/,$p'
printf 'one two\n' | sed -E 's/(o)(n|w)/[\2\1]/g'

# The issue's first proof: a listing of the root piped into wc.
ls -l / | wc -l
ls /

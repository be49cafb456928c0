# More text tools over files and pipes: sed -i, awk getline and system,
# od, tee, paste, comm, join, nl, rev, tac, fold, expand, split, diff, expr.
cd /tmp
printf 'alpha\nbeta\ngamma\ndelta\n' > words
sed -i 's/a$/A/' words && cat words
sed -i.bak '1d' words && cat words words.bak | wc -l
awk '{ while ((getline line < "/etc/group") > 0) n++; print $0, n; n = 0 }' words | head -2
awk 'BEGIN { r = system("exit 3"); print "system:", r; "echo piped" | getline v; print v }'
awk -v pre=P 'BEGIN { OFS = "-" } { $1 = pre $1; print $0, NR, FNR, FILENAME }' words
awk 'END { print NR }' /etc/passwd /etc/group
printf 'AB\001\n\377' | od -c | head -2
printf 'hello' | od -An -tx1
printf 'abc\n' | hexdump -C
echo tee-test | tee t1 t2 >/dev/null; cat t1 t2; echo more | tee -a t1 > /dev/null; cat t1
printf '1\n2\n3\n' > n; printf 'a\nb\n' > l
paste n l; paste -d, -s n; paste -d: n l n
nl -ba words; rev words; tac words
echo 'a somewhat long line of text to fold here' | fold -w 10
printf 'a\tb\tc\n' | expand -t 4 | od -c | head -1
seq 1 1000 > big; for i in 0 1 2 3; do dd if=big of=part_$i bs=1000 skip=$i count=1 2>/dev/null; done
ls part_*; cat part_* | cmp - big && echo "parts join back"
printf 'x\ny\nz\n' > d1; printf 'x\nY\nz\nw\n' > d2
touch -d '2020-01-01 00:00:00' d1 d2
diff d1 d2; echo "diff status $?"
diff -u d1 d2 | tail -n +3; diff d1 d1 && echo "no diff"
expr 7 + 5; expr 10 / 3; expr length hello; expr substr abcdef 2 3; expr 3 \< 2; echo "expr false: $?"
expr match abc123 '[a-z]*'
basename /a/b/c.txt .txt; dirname /a/b/c.txt; dirname name
echo "3 4 + p" | dc
printf '%s\n' 5 3 9 1 | sort -n | tr '\n' ' '; echo
printf 'b:2\na:10\nc:1\n' | sort -t: -k2n
sort -t: -k3,3n /etc/passwd | cut -d: -f1
printf 'x\nx\ny\nz\nz\nz\n' | uniq -d; printf 'x\nx\ny\n' | uniq -u
printf 'Hello\n' | sha256sum; printf 'Hello\n' | sha1sum; printf 'Hello\n' | sha512sum | cut -c1-32
printf 'one\ntwo\n' | md5sum
yes abc | head -n 3
rm words words.bak t1 t2 n l big part_* d1 d2

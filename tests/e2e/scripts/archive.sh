# tar czf / tar xzf round trip, md5sum and md5sum -c, dd, cmp, gzip.
cd /tmp
mkdir src src/sub
seq 1 5000 > src/numbers
dd if=/dev/zero of=src/zeros bs=4096 count=16 2>/dev/null
printf 'text file\n' > src/sub/text
ln -s ../numbers src/sub/link
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%c", (i * 7) % 256 }' > src/binary
touch -d '2022-02-02 02:02:02' src/numbers src/zeros src/sub/text src/binary
chmod 600 src/sub/text
wc -c src/numbers src/zeros src/binary
md5sum src/numbers src/zeros src/sub/text src/binary > sums
cat sums
md5sum -c sums
echo changed >> src/sub/text
md5sum -c sums 2>&1; echo "md5sum -c after a change: $?"
md5sum -c -s sums; echo "quiet: $?"
printf 'text file\n' > src/sub/text; touch -d '2022-02-02 02:02:02' src/sub/text
tar czf a.tgz src
gzip -t a.tgz && echo "gzip test ok"
tar tzf a.tgz | sort
mkdir dst && tar xzf a.tgz -C dst
for f in numbers zeros sub/text binary sub/link; do cmp src/$f dst/src/$f && echo "same $f"; done
readlink dst/src/sub/link
stat -c '%a %Y %s %n' dst/src/numbers dst/src/sub/text
(cd dst && md5sum -c ../sums)
tar cf - -C src . | tar tf - | sort
tar cf plain.tar src && tar xf plain.tar -O src/sub/text
gzip -c src/numbers > n.gz && gunzip -c n.gz | cmp - src/numbers && echo "gzip round trip"
zcat n.gz | tail -1
dd if=src/numbers of=part bs=100 skip=2 count=3 2>/dev/null; wc -c part; head -c 20 part; echo
dd if=/dev/zero bs=512 count=3 2>&1 | wc -c
dd if=src/numbers bs=1000 count=2 2>&1 >/dev/null | sed 's/ *[0-9.]* *seconds.*//' | head -2
cmp src/numbers src/binary; echo "cmp differs: $?"
printf 'abc' > c1; printf 'abd' > c2; cmp c1 c2; echo "status $?"
rm -r src dst a.tgz plain.tar n.gz part sums c1 c2

# find (-name, -type, -exec, -print0 | xargs -0), xargs -n / -I, grep -r.
cd /tmp
mkdir -p t/a/b t/c "t/with space"
for f in t/one.txt t/a/two.txt t/a/b/three.log t/c/four.txt "t/with space/five six.txt"; do
    echo "content of $f" > "$f"
done
echo needle >> t/a/two.txt
echo NEEDLE >> t/c/four.txt
ln -s one.txt t/link.txt
find t | sort
find t -name '*.txt' | sort
find t -type d | sort
find t -type f -name '*.log'
find t -type l
find t -maxdepth 1 -type f
find t -name '*.txt' -type f -exec wc -c {} \; | sort -k2
find t -type f -exec echo found {} + | tr ' ' '\n' | grep -c txt
find t -type f -print0 | xargs -0 cat | sort
find t -type f -print0 | xargs -0 -n 1 echo | wc -l
find t -newer t/one.txt -o -name one.txt | grep -c one
find t -path '*a/b*' | sort
find t -type f -size -1k | wc -l
find t -empty
find t -name '*.txt' ! -name 'one*' -type f | sort
echo 1 2 3 4 5 6 7 | xargs -n 2 echo
echo 1 2 3 4 5 6 7 | xargs -n 3
printf 'a\nb\nc\n' | xargs -I X echo "item X done"
printf 'x y\n' | xargs -I {} sh -c 'echo "[{}]"'
printf '' | xargs echo "ran with no input:"; echo
echo foo | xargs -t echo 2>&1
printf 'one\0two words\0' | xargs -0 -n 1 printf '<%s>\n'
seq 1 10 | xargs -n 4 sh -c 'echo $#' sh
sh -c 'seq 1 3 | xargs sh -c "exit 1"'; echo "xargs exit: $?"
grep -r needle t | sort
grep -ri needle t | sort
grep -rl needle t | sort
grep -rn content t/a | sort
grep -rc content t | sort
grep -v content t/a/two.txt
grep -E 'nee+dle|NEEDLE' -r t -h | sort
grep -w -o needl t/a/two.txt; echo "grep no match: $?"
grep needle /nonexistent 2>&1; echo "grep missing: $?"
grep -q needle t/a/two.txt && echo "quiet match"
grep -A1 one t/one.txt t/a/two.txt
printf 'a1\nb2\na3\n' | grep -n '^a'
rm -rf t

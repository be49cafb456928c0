# Files and directories: mkdir -p / rm -r, ln -s / readlink, cp -a / mv,
# chmod / stat -c, touch -d, ls -l with fixed times, umask, test checks.
cd /tmp
umask 022
mkdir -p w/a/b/c w/d
echo hello > w/a/b/c/file
echo other > w/d/file2
ls -R w
umask 077; : > w/private; mkdir w/privdir; umask 022; : > w/public
stat -c '%n %a %F' w/private w/privdir w/public
umask; umask 0027; umask; umask -S; umask 022
chmod 751 w/public; stat -c '%a %A' w/public
chmod u-x,g+w,o=r w/public; stat -c '%a %A' w/public
chmod -R go-rwx w/a; stat -c '%a %n' w/a w/a/b w/a/b/c/file
chmod 4755 w/public; stat -c '%a %A' w/public
chmod 1777 w/d; stat -c '%a %A' w/d
chmod 755 w/d w/a w/a/b w/a/b/c
ln -s a/b/c/file w/link
ln -s /nonexistent w/dangling
ln -s ../d w/a/up
readlink w/link; readlink w/dangling; readlink -f w/link | sed 's|^/tmp/||'
cat w/link; cat w/a/up/file2
[ -L w/link ] && [ -f w/link ] && [ -L w/dangling ] && [ ! -e w/dangling ] && echo "link tests ok"
stat -c '%F %N' w/link
ln w/a/b/c/file w/hard; stat -c '%h' w/hard w/a/b/c/file
[ w/hard -ef w/a/b/c/file ] && echo "same file"
touch -d '2020-01-02 03:04:05' w/a/b/c/file w/d/file2
touch -h -d '2019-06-07 08:09:10' w/link 2>/dev/null || echo "touch -h unsupported"
stat -c '%y %n' w/a/b/c/file | sed 's/\.0* / /'
TZ=UTC0 date -r w/a/b/c/file '+%Y-%m-%d %H:%M:%S'
[ w/a/b/c/file -ot w/public ] && [ w/public -nt w/d/file2 ] && echo "time order ok"
touch -d '2021-01-01 12:00:00' w/public w/d
cp -a w copy
stat -c '%a %s %Y %n' copy/a/b/c/file copy/d/file2 copy/public copy/d
[ -L copy/link ] && readlink copy/link
cp w/a/b/c/file w/cp_plain; stat -c '%a %s' w/cp_plain
cp -r w/a w/a_copy; find w/a_copy | sort
mv w/a_copy w/moved; mv w/cp_plain w/moved/renamed; ls w/moved
mv w/moved/renamed w/moved/b/; ls w/moved/b
echo replaced > w/x; mv w/x w/public 2>/dev/null; cat w/public
mv w/moved /tmp/outside && ls -d /tmp/outside
rm -r /tmp/outside copy
rm w/hard; stat -c '%h' w/a/b/c/file
rmdir w/a 2>&1 | sed 's/^rmdir: //'
rm -rf w; [ -e w ] || echo "removed"
mkdir -p deep/1/2/3/4/5/6/7/8/9 && rm -r deep && echo "deep removed"

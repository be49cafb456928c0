# ls -l with fixed timestamps (touch -d) and only fields Linux defines.
cd /tmp
mkdir lsdir && cd lsdir
umask 022
printf 'abc' > small
dd if=/dev/zero of=big bs=1024 count=10 2>/dev/null
mkdir sub
ln -s small link
: > empty
chmod 640 small; chmod 4711 empty
touch -d '2021-03-04 05:06:07' small big empty
touch -d '2000-01-01 00:00:00' sub
touch -h -d '2001-02-03 04:05:06' link
ls -l small big empty link | sed 's/  */ /g'
ls -ln small | awk '{ print $1, $2, $3, $4, $5 }'
ls -ld sub | awk '{ print $1, $2, $3, $4 }'
ls -1 -t
ls -1 -S big small empty
ls -1 -r
ls -a
ls -F
ls -1d */
ls -i small | awk '{ print $2 }'
ls --full-time small | awk '{ print $6, $7 }'
ls -lR . | grep -c '^-'
ls -l /nonexistent 2>&1; echo "status $?"

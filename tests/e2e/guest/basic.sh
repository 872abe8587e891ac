#!/bin/sh
# The basic test (issue 4): kernel, CPUs, floating point, hashing, sorting,
# process creation. The host compares the values in the E2E-OK lines too.
. /e2e/lib.sh

check uname "$(uname -r)" "$E2E_KVER"

missing=""
while read -r mod; do
	name=${mod##*/}
	name=$(echo "${name%.ko}" | tr - _)
	[ -d "/sys/module/$name" ] || missing="$missing $name"
done </etc/e2e/modules
check modules "${missing:-all loaded}" "all loaded"

cpus=$(grep -c '^processor' /proc/cpuinfo)
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
flags=" $(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n 1) "
lacking=""
for f in fpu tsc cx8 cmov mmx fxsr sse sse2 lm; do
	case $flags in
	*" $f "*) ;;
	*) lacking="$lacking $f" ;;
	esac
done
if [ -n "$model" ] && [ -z "$lacking" ]; then
	ok cpuinfo "cpus=$cpus online=$(cat /sys/devices/system/cpu/online) model=$model"
else
	fail cpuinfo "cpus=$cpus model='$model' lacking:$lacking"
fi
info flags "$flags"

# Debian's busybox awk has no math library (sqrt, exp, ...): series and
# Newton steps in plain arithmetic, which the host repeats exactly
check awk "$(awk -v n="$E2E_AWK_TERMS" '
function atn(x,  s, p, k, sg) {
	s = 0; p = x; sg = 1
	for (k = 1; k < 60; k += 2) { s += sg * p / k; p *= x * x; sg = -sg }
	return s
}
BEGIN {
	for (i = 1; i <= n; i++) z += 1 / (i * i)
	e = 1; t = 1
	for (k = 1; k <= 20; k++) { t /= k; e += t }
	r = 1
	for (k = 0; k < 8; k++) r = (r + 2 / r) / 2
	pi = 16 * atn(1 / 5) - 4 * atn(1 / 239)
	printf "%.6f %.6f %.6f %.6f %.6f %.6f\n", z, e, pi, r, 1 / 3, -1e10 / 7
}')" "$E2E_AWK"

check sha256 "$(sha256 /e2e/data.bin)" "$E2E_DATA_SHA256"

sort /e2e/sort.in >/tmp/sorted
check sort "$(sha256 /tmp/sorted) $(sort -u /e2e/sort.in | wc -l)" \
	"$E2E_SORT_SHA256 $E2E_SORT_UNIQUE"

i=0
while [ $i -lt "$E2E_FORK_COUNT" ]; do
	/bin/true || break
	i=$((i + 1))
done
check forkexec "$i" "$E2E_FORK_COUNT"

check pipe "$(seq 1 2000 | cat | awk '{ s += $1 } END { print s }')" "$E2E_PIPE_SUM"

done_test basic

#!/usr/bin/env bash
# make bench: every benchmark against its peer, in one session.
# usage: bench/run.sh BUILD_DIR [MODULE...]   (default: every module)
# Each bench/<module>/run.sh takes the build folder; a module without one
# has its bench_* programs run directly. Output goes to stdout and to
# BUILD_DIR/bench-results/<module>.txt; docs/performance.md keeps the
# table of figures with the command that reproduced them.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bd=$(cd "${1:?usage: bench/run.sh BUILD_DIR [MODULE...]}" && pwd)
shift
mods=("$@")
if [ ${#mods[@]} -eq 0 ]; then
	for d in "$here"/*/; do mods+=("$(basename "$d")"); done
fi
out="$bd/bench-results"
mkdir -p "$out"
rc=0
for m in "${mods[@]}"; do
	echo "=== bench $m ($(date -u +%FT%TZ), $(nproc) cores)"
	if [ -x "$here/$m/run.sh" ]; then
		"$here/$m/run.sh" "$bd" 2>&1 | tee "$out/$m.txt" || rc=1
	else
		found=0
		for b in "$bd"/bin/bench_"$m"*; do
			[ -x "$b" ] || continue
			found=1
			"$b" 2>&1 | tee -a "$out/$m.txt" || rc=1
		done
		[ $found = 1 ] || echo "no benchmark programs for $m in $bd/bin"
	fi
done
echo "results in $out"
exit $rc

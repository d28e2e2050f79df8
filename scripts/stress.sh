#!/usr/bin/env bash
# stress.sh N [TARGET]: runs `make TARGET` (default test) N times in a row
# (default 5) while two CPU-bound processes keep both cores busy, and stops
# at the first failure. The burners are stopped however the script ends.
set -euo pipefail
n=${1:-5}
target=${2:-test}
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop EXIT
for _ in 1 2; do
	(while :; do :; done) &
	pids+=("$!")
done
for i in $(seq 1 "$n"); do
	echo "stress: make $target, run $i of $n, under load"
	if ! make "$target"; then
		echo "stress: make $target failed on run $i of $n" >&2
		exit 1
	fi
done
echo "stress: make $target passed $n times in a row under load"

#!/usr/bin/env bash
# bench-load.sh: the load figures of issue 6, on a 100,000-row campaign
# journal as a finished run leaves it (every row final, 2 or 3 receipts
# each; written through the journal package's API by scripts/benchload):
#   - `pecbatch status` as a whole process:        under 1 s
#   - `pecbatch report` CSV as a whole process:     under 5 s
#   - the journal file:                             under 100 MB
# and, for information, `status --json` and the HTML report (5,000 rows).
#
#   scripts/bench-load.sh                  # 100,000 rows, 5 timed runs each
#   ROWS=20000 RUNS=3 scripts/bench-load.sh
#   PECBATCH=/path/to/pecbatch scripts/bench-load.sh   # a binary already built
#
# The journal is written in /dev/shm when there is one (its ~400,000
# transactions are fsynced: on tmpfs that takes a minute or two, not ten),
# then copied to a temporary folder on disk, where it is measured. KEEP=1
# keeps the folder. Exits non-zero when a target is missed.
set -euo pipefail

cd "$(dirname "$0")/.."
rows=${ROWS:-100000}
runs=${RUNS:-5}

work=$(mktemp -d "${TMPDIR:-/tmp}/pecbatch-bench-load.XXXXXX")
gen=$work/gen
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  gen=$(mktemp -d /dev/shm/pecbatch-bench-load.XXXXXX)
fi
cleanup() {
  [ "$gen" != "$work/gen" ] && rm -rf "$gen"
  if [ "${KEEP:-0}" = 1 ]; then echo "kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

bin=${PECBATCH:-}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "building pecbatch..."
  go build -o "$work/pecbatch" ./cmd/pecbatch
  bin=$work/pecbatch
fi

echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "writing a $rows-row journal through the journal API (in $gen)..."
start=$(date +%s)
go run ./scripts/benchload -rows "$rows" -dir "$gen/campaign"
echo "  written in $(( $(date +%s) - start )) s"
cp -r "$gen/campaign" "$work/campaign"
camp=$work/campaign/campaign.yaml
journal=$work/campaign/campaign.journal.db

export PECMASSIVA_TOKEN=bench PEC_USERNAME=bench PEC_PASSWORD=bench
# timed CMD...: runs it RUNS times as a whole process and prints the best
# and the median wall time in seconds, and the peak RSS in MB.
timed() {
  python3 - "$runs" "$@" <<'PY'
import resource, statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(runs):
    start = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    times.append(time.monotonic() - start)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode())
        sys.exit("%s: exit status %d" % (" ".join(cmd[1:3]), proc.returncode))
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("%.3f %.3f %.0f" % (min(times), statistics.median(times), rss))
PY
}

fail=0
check() { # name seconds limit
  if python3 -c "import sys; sys.exit(0 if float('$2') < float('$3') else 1)"; then
    printf '  %-28s %8.3f s   (target < %s s)   ok\n' "$1" "$2" "$3"
  else
    printf '  %-28s %8.3f s   (target < %s s)   MISSED\n' "$1" "$2" "$3"
    fail=1
  fi
}

# The rows each command must see, so that a fast wrong answer does not pass.
"$bin" status "$camp" --json | python3 -c "
import json, sys
s = json.load(sys.stdin)
assert s['rows'] == $rows and s['final'] == $rows, s
print('  status --json: %d rows, %d final, %s' % (s['rows'], s['final'], {k: v for k, v in s['counts'].items() if v}))"
"$bin" report "$camp" -o "$work/report.csv" >/dev/null
lines=$(($(wc -l <"$work/report.csv") - 1))
echo "  report CSV: $lines lines (one per row and recipient)"
[ "$lines" -ge "$rows" ] || { echo "bench-load: the report has $lines lines for $rows rows" >&2; exit 1; }

echo "whole-process times over $runs runs (best, median; peak RSS):"
read -r best med rss < <(timed "$bin" status "$camp")
check "status (median)" "$med" 1; echo "    best $best s, peak RSS $rss MB"
read -r best med rss < <(timed "$bin" status "$camp" --json)
printf '  %-28s %8.3f s   (best %s s, peak RSS %s MB)\n' "status --json (median)" "$med" "$best" "$rss"
read -r best med rss < <(timed "$bin" report "$camp" -o "$work/report.csv")
check "report CSV (median)" "$med" 5; echo "    best $best s, peak RSS $rss MB, $(du -k "$work/report.csv" | cut -f1) KB"
read -r best med rss < <(timed "$bin" report "$camp" -o "$work/report.html")
printf '  %-28s %8.3f s   (best %s s, peak RSS %s MB, first 5,000 rows listed)\n' "report HTML (median)" "$med" "$best" "$rss"

bytes=0
for f in "$journal" "$journal-wal" "$journal-shm"; do
  [ -f "$f" ] && bytes=$((bytes + $(stat -c %s "$f")))
done
mb=$(python3 -c "print('%.1f' % ($bytes / 1e6))")
if python3 -c "import sys; sys.exit(0 if $bytes < 100e6 else 1)"; then
  printf '  %-28s %8s MB  (target < 100 MB)  ok\n' "journal size" "$mb"
else
  printf '  %-28s %8s MB  (target < 100 MB)  MISSED\n' "journal size" "$mb"
  fail=1
fi
exit $fail

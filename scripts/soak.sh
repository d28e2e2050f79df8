#!/usr/bin/env bash
# soak.sh: the soak of issue 6 (`make soak`). A campaign of ROWS rows (2,000)
# against a `pecbatch sandbox` process that allows 20 sends a second and
# injects faults: DROP (5 %) of the sends are sent and then their connection
# cut without an answer, FAIL (5 %) answered 500 without being sent. The
# campaign sends at 20/s and is run again and again, with --resend-unknown,
# until it finishes; the first KILLS (3) runs are killed with SIGKILL at a
# random moment. Then, from the sandbox's own record (GET /_sandbox/sends):
# every row sent exactly once; from the journal (`pecbatch report`): every
# row delivered with the code the sandbox gave its message. It prints the
# figures and exits non-zero if exactly-once did not hold.
#
#   scripts/soak.sh                               # 2,000 rows, about 3 minutes
#   ROWS=500 DROP=0.1 FAIL=0.1 SEED=7 scripts/soak.sh
#   PECBATCH=/path/to/pecbatch scripts/soak.sh    # a binary already built
set -euo pipefail

cd "$(dirname "$0")/.."
rows=${ROWS:-2000}
rate=${RATE:-20}
drop=${DROP:-0.05}
fail=${FAIL:-0.05}
seed=${SEED:-2026}
kills=${KILLS:-3}
maxruns=${MAXRUNS:-30}

work=$(mktemp -d "${TMPDIR:-/tmp}/pecbatch-soak.XXXXXX")
sandbox_pid=
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

bin=${PECBATCH:-}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "building pecbatch..."
  go build -o "$work/pecbatch" ./cmd/pecbatch
  bin=$work/pecbatch
fi

token=soak-token
"$bin" sandbox --addr 127.0.0.1:0 --token "$token" --send-rate "$rate" --drop-rate "$drop" --fail-rate "$fail" \
  --seed "$seed" --accept-delay 200ms --deliver-delay 2s >"$work/sandbox.out" 2>"$work/sandbox.log" &
sandbox_pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^PEC Massiva sandbox listening on //p' "$work/sandbox.out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "soak: the sandbox did not start" >&2; cat "$work/sandbox.log" >&2; exit 1; }

camp=$work/campaign
mkdir -p "$camp"
cat >"$camp/campaign.yaml" <<YAML
name: soak
api:
  base_url: \${PECMASSIVA_URL}
  token: \${PECMASSIVA_TOKEN}
sender:
  address: ufficio@pec.example.it
  username: \${PEC_USERNAME}
  password: \${PEC_PASSWORD}
recipients:
  file: destinatari.csv
  to: "{{.pec}}"
  key: "{{.codice}}"
message:
  subject: "Avviso di pagamento n. {{.codice}}"
  body: corpo.html
sending:
  rate: $rate/s
  reconcile_window: 10s
  max_consecutive_errors: 50
tracking:
  poll_rate: 50/s
YAML
python3 - "$rows" >"$camp/destinatari.csv" <<'PY'
import sys
print("codice,pec,nome")
for i in range(1, int(sys.argv[1]) + 1):
    print("S%05d,soak%05d@pec.example.it,Destinatario %d" % (i, i, i))
PY
echo '<p>Gentile {{.nome}}, le comunichiamo l'"'"'avviso {{.codice}}.</p>' >"$camp/corpo.html"

export PECMASSIVA_URL=$url PECMASSIVA_TOKEN=$token PEC_USERNAME=sandbox@pec.sandbox.test PEC_PASSWORD=sandbox
echo "soak: $rows rows at $rate/s against $url (drop $drop, fail $fail, seed $seed, $kills SIGKILLs)"
start=$(date +%s)
runs=0 killed=0 done=0
RANDOM=$seed
while [ $runs -lt "$maxruns" ]; do
  runs=$((runs + 1))
  "$bin" run "$camp/campaign.yaml" --yes --resend-unknown --report - >>"$work/runs.log" 2>&1 &
  pid=$!
  if [ $killed -lt "$kills" ]; then
    after=$((5 + RANDOM % 20))
    for _ in $(seq $((after * 10))); do
      kill -0 $pid 2>/dev/null || break
      sleep 0.1
    done
    if kill -9 $pid 2>/dev/null; then
      wait $pid 2>/dev/null || true
      killed=$((killed + 1))
      echo "  run $runs: killed with SIGKILL after ${after}s"
      continue
    fi
  fi
  set +e
  wait $pid
  code=$?
  set -e
  echo "  run $runs: exit status $code"
  case $code in
    0) done=1; break ;;
    4) ;; # rows unknown past their window: the next run resends them
    *) echo "soak: unexpected exit status $code; last lines:" >&2; tail -20 "$work/runs.log" >&2; exit 1 ;;
  esac
done
elapsed=$(($(date +%s) - start))
[ $done = 1 ] || { echo "soak: the campaign did not finish in $maxruns runs" >&2; exit 1; }

curl -s -H "Authorization: Bearer $token" "$url/_sandbox/sends" >"$work/sends.json"
"$bin" report "$camp/campaign.yaml" -o "$work/report.csv" >/dev/null
python3 - "$rows" "$work/sends.json" "$work/report.csv" "$work/sandbox.log" "$elapsed" "$runs" "$killed" <<'PY'
import collections, csv, json, sys
rows, sends_file, report_file, log_file = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
elapsed, runs, killed = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
sends = json.load(open(sends_file))["sends"]
by_addr = collections.defaultdict(list)
for s in sends:
    for r in s["recipients"]:
        by_addr[r.lower()].append(s["code"])
want = {"soak%05d@pec.example.it" % i for i in range(1, rows + 1)}
dups = sum(len(c) - 1 for a, c in by_addr.items() if len(c) > 1)
lost = len(want - set(by_addr))
extra = len(set(by_addr) - want)
disagree, states = 0, collections.Counter()
for line in csv.DictReader(open(report_file, encoding="utf-8-sig")):
    states[line["state"]] += 1
    codes = by_addr.get(line["recipient"].lower(), [])
    if codes != [line["message_id"]]:
        disagree += 1
log = open(log_file).read()
fails = log.count("send failed (injected)")
drops = log.count("send dropped (injected)")
throttled = log.count("send refused: rate")
print("soak figures:")
print("  rows %d, runs %d (%d killed with SIGKILL), %d s" % (rows, runs, killed, elapsed))
print("  faults injected: %d sends answered 500 (not sent), %d connections cut after sending; %d answered 429" % (fails, drops, throttled))
print("  sandbox sends %d: duplicates %d, lost %d, unexpected %d" % (len(sends), dups, lost, extra))
print("  journal vs sandbox, row by row: %d disagreements; states %s" % (disagree, dict(states)))
ok = dups == 0 and lost == 0 and extra == 0 and disagree == 0 and states.get("delivered") == rows
print("  exactly-once: %s" % ("held" if ok else "BROKEN"))
sys.exit(0 if ok else 1)
PY

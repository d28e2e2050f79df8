#!/usr/bin/env bash
# Whole-process benchmark of `pecbatch run`: a campaign of ROWS rows (300)
# against a `pecbatch sandbox` process that enforces 1 POST /send a second
# and answers 429 to anything faster, delivering every message after 3 s.
# It prints, and checks:
#   - pacing: sends per second from the first to the last send, by the
#     sandbox's own clock (GET /_sandbox/sends): at least 0.98 of the limit;
#   - 429 answers (the sandbox's log): zero;
#   - the journal's cost per send (pecbatch's own measurement): under 5 ms;
#   - tracking: status requests per row (the journal's poll counts): at most
#     4; and how long after its receipt existed each delivery was noticed,
#     as a share of the 3 s delay: 95th percentile at most 10 %.
# Usage: scripts/bench-run.sh   (ROWS=300 BIN=bin/pecbatch by default; it
# takes about ROWS seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-300}
bin=${BIN:-bin/pecbatch}
go build -o "$bin" ./cmd/pecbatch

work=$(mktemp -d)
sandbox_pid=
cleanup() {
	[ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

"$bin" sandbox --addr 127.0.0.1:0 --send-rate 1 --accept-delay 1s --deliver-delay 3s --seed 1 \
	>"$work/sandbox.out" 2>"$work/sandbox.log" &
sandbox_pid=$!
url=
for _ in $(seq 100); do
	url=$(sed -n 's/^PEC Massiva sandbox listening on //p' "$work/sandbox.out")
	[ -n "$url" ] && break
	sleep 0.1
done
[ -n "$url" ] || { echo "bench-run: the sandbox did not start" >&2; cat "$work/sandbox.log" >&2; exit 1; }

cat >"$work/campaign.yaml" <<'YAML'
name: bench-run
api:
  base_url: ${PECMASSIVA_URL}
  token: ${PECMASSIVA_TOKEN}
sender:
  address: ufficio@pec.example.it
  username: ${PEC_USERNAME}
  password: ${PEC_PASSWORD}
recipients:
  file: destinatari.csv
  to: "{{.pec}}"
  key: "{{.id}}"
message:
  subject: "Bench {{.id}}"
  body: corpo.html
sending:
  rate: 1/s
tracking:
  poll_rate: 2/s
YAML
echo '<p>Gentile {{.nome}}, pratica {{.id}}.</p>' >"$work/corpo.html"
{
	echo "id,pec,nome"
	for i in $(seq "$rows"); do echo "B$i,dest$i@pec.example.it,Persona $i"; done
} >"$work/destinatari.csv"

echo "bench-run: $rows rows at 1/s against $url (about $rows s)"
start=$(date +%s)
PECMASSIVA_URL=$url PECMASSIVA_TOKEN=sandbox-token PEC_USERNAME=sandbox@pec.sandbox.test PEC_PASSWORD=sandbox \
	"$bin" run "$work/campaign.yaml" --yes --report - 2>"$work/run.log" || {
	echo "bench-run: pecbatch run failed" >&2
	tail -20 "$work/run.log" >&2
	exit 1
}
echo "bench-run: done in $(($(date +%s) - start)) s"

refused=$(grep -c 'send refused: rate' "$work/sandbox.log" || true)
journal_per_send=$(sed -n 's/.*msg="run finished".* journal_per_send=\([^ ]*\).*/\1/p' "$work/run.log")
status=0
go run ./scripts/benchrun -journal "$work/campaign.journal.db" -url "$url" -rate 1 -deliver-delay 3s -refused "$refused" || status=1
# journal_per_send is a Go duration: 1.234567ms, 812.3µs...
us=$(echo "$journal_per_send" | awk '/ms$/ {sub("ms",""); print $1*1000; next} /µs$/ {sub("µs",""); print $1; next} /s$/ {sub("s",""); print $1*1000000; next} {print 1e9}')
verdict=$(awk -v us="$us" 'BEGIN { if (us < 5000) print "ok"; else print "MISSED" }')
echo "journal per send:     $journal_per_send (target < 5ms): $verdict"
[ "$verdict" = ok ] || status=1
exit $status

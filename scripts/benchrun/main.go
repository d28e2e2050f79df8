// Command benchrun computes the figures of scripts/bench-run.sh from a
// finished campaign: the send pacing and the tracking cost and delay, read
// from the sandbox's own list of sends (GET /_sandbox/sends) and from the
// campaign's journal. It prints them and exits 1 if a target is missed.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/pecbatch/pecbatch/journal"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

type send struct {
	Code string    `json:"code"`
	Time time.Time `json:"time"`
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("benchrun", flag.ContinueOnError)
	journalPath := fs.String("journal", "", "the campaign's journal")
	url := fs.String("url", "", "the sandbox's URL")
	token := fs.String("token", "sandbox-token", "the sandbox's token")
	rate := fs.Float64("rate", 1, "the sandbox's send rate limit, per second")
	delay := fs.Duration("deliver-delay", 3*time.Second, "the sandbox's delivery delay")
	refused := fs.Int("refused", 0, "the number of 429 answers the sandbox logged")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	sends, err := sandboxSends(ctx, *url, *token)
	if err != nil {
		return err
	}
	if len(sends) < 2 {
		return fmt.Errorf("only %d sends", len(sends))
	}
	slices.SortFunc(sends, func(a, b send) int { return a.Time.Compare(b.Time) })
	sentAt := map[string]time.Time{}
	for _, s := range sends {
		sentAt[s.Code] = s.Time
	}
	wall := sends[len(sends)-1].Time.Sub(sends[0].Time)
	achieved := float64(len(sends)-1) / wall.Seconds()

	r, err := journal.OpenReadOnly(ctx, *journalPath)
	if err != nil {
		return err
	}
	defer r.Close()
	rows, err := r.RowsInState(ctx, 0, journal.States()...)
	if err != nil {
		return err
	}
	codeOf := map[int64]string{}
	polls := 0
	for _, row := range rows {
		codeOf[row.ID] = row.MessageID
		polls += row.Polls
	}
	var lags []float64
	for ev, err := range r.Events(ctx) {
		if err != nil {
			return err
		}
		if ev.Kind != journal.EventTracked {
			continue
		}
		var d struct{ To string }
		if json.Unmarshal(ev.Detail, &d) != nil || d.To != string(journal.StateDelivered) {
			continue
		}
		t, ok := sentAt[codeOf[ev.RowID]]
		if !ok {
			continue
		}
		receipt := t.Add(*delay)
		lags = append(lags, float64(ev.At.Sub(receipt))/float64(*delay))
	}
	if len(lags) == 0 {
		return fmt.Errorf("no delivered row in the journal")
	}
	slices.Sort(lags)
	perRow := float64(polls) / float64(len(rows))
	p50, p95, worst := lags[len(lags)/2], lags[len(lags)*95/100], lags[len(lags)-1]

	ok := true
	check := func(pass bool) string {
		ok = ok && pass
		return cmp.Or(map[bool]string{true: "ok"}[pass], "MISSED")
	}
	fmt.Fprintf(out, "sends:                %d in %.1f s (first to last)\n", len(sends), wall.Seconds())
	fmt.Fprintf(out, "pacing:               %.4f/s = %.3f of the %g/s limit (target >= 0.98): %s\n",
		achieved, achieved / *rate, *rate, check(achieved / *rate >= 0.98))
	fmt.Fprintf(out, "429 answers:          %d (target 0): %s\n", *refused, check(*refused == 0))
	fmt.Fprintf(out, "status requests:      %d for %d rows = %.2f per row (target <= 4): %s\n", polls, len(rows), perRow, check(perRow <= 4))
	fmt.Fprintf(out, "delivery noticed:     %d rows, lag after the receipt p50 %.1f%%, p95 %.1f%%, max %.1f%% of the %v delay (target p95 <= 10%%): %s\n",
		len(lags), p50*100, p95*100, worst*100, *delay, check(p95 <= 0.10))
	if !ok {
		return fmt.Errorf("a target was missed")
	}
	return nil
}

func sandboxSends(ctx context.Context, url, token string) ([]send, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_sandbox/sends", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ans struct {
		Sends []send `json:"sends"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return nil, fmt.Errorf("GET /_sandbox/sends: %w", err)
	}
	return ans.Sends, nil
}

package runner

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client"
)

func TestMatchSends(t *testing.T) {
	const s = time.Second
	a, b := []string{"a@pec.it"}, []string{"b@pec.it"}
	row := func(id int64, rcpts []string, at time.Duration) reconRow {
		return reconRow{ID: id, Recipients: rcpts, SendingAt: t0.Add(at)}
	}
	cand := func(code string, rcpts []string, at time.Duration) reconCand {
		return reconCand{Code: code, Date: t0.Add(at), Recipients: rcpts, Exact: true}
	}
	tests := []struct {
		name          string
		rows          []reconRow
		cands         []reconCand
		want          map[int64]string
		wantAmbiguous []int64
	}{
		{"one row, its acceptance", []reconRow{row(1, a, 0)}, []reconCand{cand("C1", a, s)},
			map[int64]string{1: "C1"}, nil},
		{"nothing found", []reconRow{row(1, a, 0)}, nil, map[int64]string{}, nil},
		{"an acceptance older than the send (less skew) is another send's", []reconRow{row(1, a, time.Minute)},
			[]reconCand{cand("C1", a, 0)}, map[int64]string{}, nil},
		{"an acceptance after the window is not the row's", []reconRow{row(1, a, 0)},
			[]reconCand{cand("C1", a, time.Hour)}, map[int64]string{}, nil},
		{"same subject, told apart by the recipients", []reconRow{row(1, a, 0), row(2, b, s)},
			[]reconCand{cand("C2", b, 2*s), cand("C1", a, s)}, map[int64]string{1: "C1", 2: "C2"}, nil},
		{"a superset of the recipients is another send's", []reconRow{row(1, a, 0)},
			[]reconCand{cand("C1", []string{"a@pec.it", "b@pec.it"}, s)}, map[int64]string{}, nil},
		{"without the tagged list, naming every recipient is enough", []reconRow{row(1, a, 0)},
			[]reconCand{{Code: "C1", Date: t0.Add(s), Recipients: []string{"sender@pec.it", "a@pec.it"}}},
			map[int64]string{1: "C1"}, nil},
		{"identical rows, both sent: in order", []reconRow{row(2, a, s), row(1, a, 0)},
			[]reconCand{cand("C2", a, 2*s), cand("C1", a, s)}, map[int64]string{1: "C1", 2: "C2"}, nil},
		{"identical rows, one acceptance: ambiguous, none assigned", []reconRow{row(1, a, 0), row(2, a, s)},
			[]reconCand{cand("C2", a, 2*s)}, map[int64]string{}, []int64{1, 2}},
		{"one row, two fitting acceptances: ambiguous", []reconRow{row(1, a, 0)},
			[]reconCand{cand("C1", a, s), cand("C9", a, 2*s)}, map[int64]string{}, []int64{1}},
		{"identical rows far apart in time: each its own", []reconRow{row(1, a, 0), row(2, a, time.Hour)},
			[]reconCand{cand("C2", a, time.Hour+s)}, map[int64]string{2: "C2"}, nil},
		{"an undated acceptance fits any time", []reconRow{row(1, a, 0)},
			[]reconCand{{Code: "C1", Recipients: a, Exact: true}}, map[int64]string{1: "C1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ambiguous := matchSends(tt.rows, tt.cands, 5*s, 10*time.Minute)
			codes := map[int64]string{}
			for id, c := range got {
				codes[id] = c.Code
			}
			if fmt.Sprint(codes) != fmt.Sprint(tt.want) || !slices.Equal(ambiguous, tt.wantAmbiguous) {
				t.Errorf("matchSends = %v, ambiguous %v; want %v, %v", codes, ambiguous, tt.want, tt.wantAmbiguous)
			}
		})
	}
}

// TestMatchSendsNeverTwice checks, over many random situations, that no
// receipt is ever given to two rows and that every match fits its row.
func TestMatchSendsNeverTwice(t *testing.T) {
	addrs := [][]string{{"a@pec.it"}, {"b@pec.it"}, {"a@pec.it", "b@pec.it"}}
	for seed := 0; seed < 2000; seed++ {
		j := newJitter(uint64(seed))
		n := 1 + int(j.float64()*5)
		var rows []reconRow
		for i := 0; i < n; i++ {
			rows = append(rows, reconRow{ID: int64(i + 1), Recipients: addrs[int(j.float64()*3)],
				SendingAt: t0.Add(time.Duration(j.float64()*20) * time.Second)})
		}
		var cands []reconCand
		for i := 0; i < int(j.float64()*6); i++ {
			cands = append(cands, reconCand{Code: fmt.Sprintf("C%d", i), Recipients: addrs[int(j.float64()*3)], Exact: true,
				Date: t0.Add(time.Duration(j.float64()*30) * time.Second)})
		}
		got, ambiguous := matchSends(rows, cands, 5*time.Second, time.Minute)
		used := map[string]int64{}
		for id, c := range got {
			if other, dup := used[c.Code]; dup {
				t.Fatalf("seed %d: %s given to rows %d and %d", seed, c.Code, other, id)
			}
			used[c.Code] = id
			if slices.Contains(ambiguous, id) {
				t.Fatalf("seed %d: row %d both matched and ambiguous", seed, id)
			}
		}
	}
}

func TestProvesSend(t *testing.T) {
	tests := []struct {
		subject string
		want    bool
	}{
		{"ACCETTAZIONE: Sollecito 2026030209000012", true},
		{"AVVISO DI NON ACCETTAZIONE: Sollecito 2026030209000012", true},
		{"AVVISO DI NON ACCETTAZIONE PER VIRUS: Sollecito 2026030209000012", true},
		{"AVVISO DI MANCATA CONSEGNA PER VIRUS: Sollecito 2026030209000012", false},
		{"CONSEGNA: Sollecito 2026030209000012", false},
		{"AVVISO DI MANCATA CONSEGNA: Sollecito 2026030209000012", false},
	}
	for _, tt := range tests {
		if got := provesSend(client.Classify(tt.subject, ""), tt.subject); got != tt.want {
			t.Errorf("provesSend(%q) = %v, want %v", tt.subject, got, tt.want)
		}
	}
}

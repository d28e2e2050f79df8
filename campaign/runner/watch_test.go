package runner

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/journal"
)

// TestRunRecipientsReplacedUnderRun: a recipients file replaced while the
// run goes on stops it before the next send, even when the rows left
// render as before (the run reads the file it opened); a file only touched
// does not. The next run sends what is left, nothing twice.
func TestRunRecipientsReplacedUnderRun(t *testing.T) {
	tests := []struct {
		name    string
		replace func(f *fixture)
		stops   bool
	}{
		{"replaced by a longer file", func(f *fixture) {
			tmp := filepath.Join(f.dir, "nuovi.csv")
			if err := os.WriteFile(tmp, []byte("id,pec,nome\n"+strings.Join(csvRows(5, "pec.example.it"), "\n")+"\n"), 0o600); err != nil {
				f.t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(f.dir, "destinatari.csv")); err != nil {
				f.t.Fatal(err)
			}
		}, true},
		{"touched only", func(f *fixture) {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(filepath.Join(f.dir, "destinatari.csv"), later, later); err != nil {
				f.t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fastSandbox(), csvRows(4, "pec.example.it")...)
			var sends atomic.Int32
			f.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if isSend(r) && sends.Add(1) == 2 {
					tt.replace(f)
				}
				next.ServeHTTP(w, r)
			})
			_, out, err := f.run(t.Context(), testRun{NoWait: true})
			if !tt.stops {
				if err != nil {
					t.Fatalf("Run: %v\n%s", err, out)
				}
				f.checkExactlyOnce(4)
				return
			}
			if err == nil || !strings.Contains(err.Error(), "recipients file destinatari.csv was replaced or changed during the run") {
				t.Fatalf("Run: %v, want the recipients file replaced\n%s", err, out)
			}
			if st := f.states(); st["P003"] != journal.StatePending || st["P004"] != journal.StatePending {
				t.Errorf("states %v: rows 3 and 4 must stay pending", st)
			}
			f.checkExactlyOnce(2)
			f.setWrap(nil)
			if res, out, err := f.run(t.Context(), testRun{NoWait: true, AllowChanges: true}); err != nil || res.Sent != 3 {
				t.Fatalf("rerun: %d sent, %v\n%s", res.Sent, err, out)
			}
			f.checkExactlyOnce(5)
		})
	}
}

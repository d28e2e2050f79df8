package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gocarina/gocsv"
)

var reportCSVHeader = []string{"row", "key", "recipient", "subject", "message_id", "state", "error",
	"submitted_at", "accepted_at", "delivered_at", "failed_at", "receipts", "note", "reason", "next_step"}

// reportCSVHeaderIT is the header of an Italian report, the default.
var reportCSVHeaderIT = []string{"riga", "chiave", "destinatario", "oggetto", "id_messaggio", "stato", "errore",
	"inviata_il", "accettata_il", "consegnata_il", "non_consegnata_il", "ricevute", "nota", "motivo", "cosa_fare"}

// isExcelText reports whether cell is a formula that is only a string
// literal, ="...", with every quote inside doubled: what excelText writes.
func isExcelText(cell string) bool {
	inner, ok := strings.CutPrefix(cell, `="`)
	if !ok {
		return false
	}
	inner, ok = strings.CutSuffix(inner, `"`)
	return ok && !strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`)
}

func writeCSV(t *testing.T, d *Data, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteData(t.Context(), d, &b, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReportCSVGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"report.csv", Options{Location: rome}},
		{"report-en.csv", Options{Location: rome, Lang: English}},
		{"report-excel.csv", Options{Location: rome, Excel: true}},
		{"report-utc.csv", Options{Location: time.UTC, Format: CSV, Lang: English}},
		{"report-undelivered.csv", Options{Location: rome, Only: OnlyUndelivered}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGolden(t, tc.name, writeCSV(t, fixtureData(), tc.opts))
		})
	}
}

// TestReportCSVReadsBack checks the CSV as a program reading it sees it:
// the header, one record per line of the report, and every value intact
// but for the quote that neutralises a formula.
func TestReportCSVReadsBack(t *testing.T) {
	for _, excel := range []bool{false, true} {
		t.Run(fmt.Sprintf("excel=%v", excel), func(t *testing.T) {
			out := writeCSV(t, fixtureData(), Options{Location: rome, Excel: excel, Lang: English})
			if got := bytes.HasPrefix(out, []byte(utf8BOM)); got != excel {
				t.Errorf("BOM present = %v, want %v", got, excel)
			}
			if got := bytes.Contains(out, []byte("\r\n")); got != excel {
				t.Errorf("CRLF line endings = %v, want %v", got, excel)
			}
			r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out, []byte(utf8BOM))))
			if excel {
				r.Comma = ';'
			}
			recs, err := r.ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(recs[0], "|") != strings.Join(reportCSVHeader, "|") {
				t.Errorf("header = %q", recs[0])
			}
			rows := fixtureRows()
			// encoding/csv drops a lone carriage return inside a cell when
			// it writes CRLF line endings; the cell stays neutralised.
			text := func(s string) string {
				if excel {
					s = strings.ReplaceAll(s, "\r", "")
				}
				return s
			}
			if len(recs)-1 != len(rows) {
				t.Fatalf("%d records, want %d", len(recs)-1, len(rows))
			}
			for i, rec := range recs[1:] {
				want := rows[i]
				if rec[0] != fmt.Sprint(want.Row) || strings.TrimPrefix(rec[1], "'") != want.Key ||
					strings.TrimPrefix(rec[2], "'") != want.Recipient || strings.TrimPrefix(rec[6], "'") != text(want.Error) ||
					rec[11] != fmt.Sprint(want.Receipts) {
					t.Errorf("record %d = %q, want the values of %+v", i+1, rec, want)
				}
				wantID := neutraliseCell(want.MessageID)
				if excel && want.MessageID != "" {
					wantID = `="` + want.MessageID + `"`
				}
				if rec[4] != wantID {
					t.Errorf("record %d message_id = %q, want %q", i+1, rec[4], wantID)
				}
				for j, name := range []string{"submitted_at", "accepted_at", "delivered_at", "failed_at"} {
					wantT := []time.Time{want.SubmittedAt, want.AcceptedAt, want.DeliveredAt, want.FailedAt}[j]
					cell := rec[7+j]
					if wantT.IsZero() {
						if cell != "" {
							t.Errorf("record %d %s = %q, want empty", i+1, name, cell)
						}
						continue
					}
					if excel {
						// Italian Excel reads day/month/year as a date, in
						// the report's zone.
						got, err := time.ParseInLocation("02/01/2006 15:04:05", cell, rome)
						if err != nil || !got.Equal(wantT) {
							t.Errorf("record %d %s = %q (%v), want %v as dd/mm/yyyy hh:mm:ss", i+1, name, cell, err, wantT)
						}
						continue
					}
					got, err := time.Parse(time.RFC3339, cell)
					if err != nil || !got.Equal(wantT) || !strings.HasSuffix(cell, "+01:00") {
						t.Errorf("record %d %s = %q (%v), want %v with offset +01:00", i+1, name, cell, err, wantT)
					}
				}
			}
		})
	}
}

func TestNeutraliseCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=1+1", "'=1+1"},
		{"+39 333", "'+39 333"},
		{"-5", "'-5"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=cmd", "'\t=cmd"},
		{"\r=cmd", "'\r=cmd"},
		{"＝1+1", "'＝1+1"},
		{"＋1", "'＋1"},
		{"－1", "'－1"},
		{"＠x", "'＠x"},
		{"", ""},
		{"mario@pec.it", "mario@pec.it"},
		{"1-2", "1-2"},
		{" =1", " =1"},
		{"'quoted", "'quoted"},
		{"Sollecito — n° 12", "Sollecito — n° 12"},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			if got := neutraliseCell(tc.in); got != tc.want {
				t.Errorf("neutraliseCell(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestReportCSVInjection puts a formula in every text column and checks
// that no cell of the written file, read back as a spreadsheet would, starts
// with a character that makes it a formula.
func TestReportCSVInjection(t *testing.T) {
	payloads := []string{"=HYPERLINK(\"http://evil.example/\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0",
		"\t=1+1", "\r=1+1", "＝1+1"}
	for _, p := range payloads {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			row := Row{Row: 1, Key: p, Recipient: p, Subject: p, MessageID: p, State: p, Error: p, SubmittedAt: at(10, 0, 0)}
			for _, excel := range []bool{false, true} {
				out := writeCSV(t, &Data{Rows: seqOf([]Row{row})}, Options{Location: rome, Excel: excel})
				r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out, []byte(utf8BOM))))
				if excel {
					r.Comma = ';'
				}
				recs, err := r.ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				for j, cell := range recs[1] {
					if cell == "" {
						continue
					}
					if excel && j == 4 && isExcelText(cell) {
						// The message id is kept as text by a formula
						// that is nothing but a string literal.
						if cell != excelText(p) {
							t.Errorf("message_id = %q, want the literal %q", cell, excelText(p))
						}
						continue
					}
					if strings.ContainsRune("=+-@\t\r", rune(cell[0])) || strings.HasPrefix(cell, "＝") {
						t.Errorf("excel=%v: column %s = %q starts a formula", excel, reportCSVHeader[j], cell)
					}
					want := "'" + p
					if excel {
						// encoding/csv drops a lone CR when it writes CRLF.
						want = strings.ReplaceAll(want, "\r", "")
					}
					if j >= 1 && j <= 6 && cell != want {
						t.Errorf("excel=%v: column %s = %q, want %q", excel, reportCSVHeader[j], cell, want)
					}
				}
			}
		})
	}
}

func TestReportCSVEmpty(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{}, strings.Join(reportCSVHeaderIT, ",") + "\n"},
		{Options{Excel: true}, utf8BOM + strings.Join(reportCSVHeaderIT, ";") + "\r\n"},
		{Options{Lang: English}, strings.Join(reportCSVHeader, ",") + "\n"},
	} {
		t.Run(fmt.Sprintf("excel=%v,lang=%s", tc.opts.Excel, tc.opts.Lang), func(t *testing.T) {
			if got := string(writeCSV(t, &Data{Rows: seqOf(nil)}, tc.opts)); got != tc.want {
				t.Errorf("empty report = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestReportCSVStreams checks that lines reach the writer while the source
// is still being read, i.e. the report is never held whole in memory.
func TestReportCSVStreams(t *testing.T) {
	const total = 20 * reportCSVBatch
	var out countingWriter
	var writtenMidway int64
	rows := func(yield func(Row, error) bool) {
		for i := range total {
			if i == total/2 {
				writtenMidway = out.n
			}
			if !yield(Row{Row: i + 1, Key: "k", Recipient: "a@pec.example.it", State: "delivered", SubmittedAt: at(10, 0, 0)}, nil) {
				return
			}
		}
	}
	if err := WriteData(t.Context(), &Data{Rows: rows}, &out, Options{Location: rome, Lang: English}); err != nil {
		t.Fatal(err)
	}
	if writtenMidway == 0 || writtenMidway < out.n/3 {
		t.Errorf("%d of %d bytes written when half the rows were read: the report is not streamed", writtenMidway, out.n)
	}
	var lines []reportCSVLine
	if err := gocsv.UnmarshalBytes(out.b.Bytes(), &lines); err != nil {
		t.Fatal(err)
	}
	if len(lines) != total || lines[total-1].Row != total {
		t.Errorf("read back %d lines, want %d", len(lines), total)
	}
}

type countingWriter struct {
	b bytes.Buffer
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.b.Write(p)
}

func TestReportCSVWriteError(t *testing.T) {
	boom := errors.New("disk full")
	rows := make([]Row, 3*reportCSVBatch)
	for _, excel := range []bool{false, true} {
		err := WriteData(t.Context(), &Data{Rows: seqOf(rows)}, failingWriter{boom}, Options{Excel: excel})
		if !errors.Is(err, boom) {
			t.Errorf("excel=%v: err = %v, want it to wrap %v", excel, err, boom)
		}
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

var _ io.Writer = failingWriter{}

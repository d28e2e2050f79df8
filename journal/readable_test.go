package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readReceiptsScript is the Python snippet docs/journal.md gives to read
// the receipt archive without pecbatch; the doc includes it verbatim.
const readReceiptsScript = "testdata/read_receipts.py"

// pythonReceipt is one line of the snippet's output.
type pythonReceipt struct {
	Row        int    `json:"row"`
	Key        string `json:"key"`
	MessageID  string `json:"message_id"`
	Kind       string `json:"kind"`
	DateText   string `json:"date_text"`
	Addressee  string `json:"addressee"`
	Occurrence int    `json:"occurrence"`
	DateMS     *int64 `json:"date_ms"`
	Error      string `json:"error"`
	ArchivedMS int64  `json:"archived_ms"`
	Sender     string `json:"sender"`
	Recipient  string `json:"recipient"`
	Subject    string `json:"subject"`
	Body       string `json:"body"`
}

// TestReceiptsReadableWithPython: the snippet of docs/journal.md, run with
// the system's python3 on a real journal (receipts compressed against
// several dictionaries, one stored as packed, one without a date, two
// identical ones, text in Italian), prints every receipt exactly as
// pecbatch reads it. It fails when python3 is missing: the doc's promise
// is checked, never assumed.
func TestReceiptsReadableWithPython(t *testing.T) {
	script, err := os.ReadFile(readReceiptsScript)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "journal.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, script) {
		t.Errorf("docs/journal.md does not include %s verbatim: copy the file's text into the doc", readReceiptsScript)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is not on PATH (%v): install it (Debian: apt-get install python3); this test runs the doc's snippet", err)
	}

	ctx := t.Context()
	const n = 30
	j, path := populate(t, n)
	// Late receipts on row 3: an empty one (stored as packed: DEFLATE
	// would make it longer), one with no date, and two identical ones.
	late := time.Date(2026, 3, 4, 21, 30, 0, 0, time.UTC)
	dup := Receipt{Kind: "delivery", Date: late, DateText: "Wed, 04 Mar 2026 21:30:00 +0000", Addressee: "x@pec.example.it",
		Sender: "posta-certificata@pec.example.it", Recipient: "ufficio@pec.example.it",
		Subject: "CONSEGNA: perché è così", Body: "Il messaggio è stato consegnato.\r\nÀ presto — «ufficio»\r\n"}
	if _, err := j.ApplyReceipts(ctx, 3, []Receipt{{Kind: "anomaly", DateText: "?"}, {Kind: "transport", DateText: "non datata",
		Subject: "POSTA CERTIFICATA: senza data", Body: "nessuna data"}, dup, dup}, nil); err != nil {
		t.Fatal(err)
	}
	var packed, compressed int
	if err := j.db.QueryRowContext(ctx, "SELECT count(*) FILTER (WHERE dict_id IS NULL), count(*) FILTER (WHERE dict_id > 1) FROM receipts").
		Scan(&packed, &compressed); err != nil {
		t.Fatal(err)
	}
	if packed == 0 || compressed == 0 {
		t.Fatalf("%d receipts stored packed, %d against a learned dictionary: the journal does not exercise both ways", packed, compressed)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, py, readReceiptsScript, path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3 %s: %v\n%s", readReceiptsScript, err, stderr.String())
	}
	var got []pythonReceipt
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var p pythonReceipt
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		got = append(got, p)
	}

	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var want []pythonReceipt
	for d, err := range r.RowDigests(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		stored, err := r.Receipts(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stored {
			p := pythonReceipt{Row: d.RowNumber, Key: d.Key, MessageID: s.Code, Kind: s.Kind, DateText: s.DateText,
				Addressee: s.Addressee, Occurrence: s.Occurrence, Error: s.ErrorText, ArchivedMS: s.ArchivedAt.UnixMilli(),
				Sender: s.Sender, Recipient: s.Recipient, Subject: s.Subject, Body: s.Body}
			if !s.Date.IsZero() {
				ms := s.Date.UnixMilli()
				p.DateMS = &ms
			}
			want = append(want, p)
		}
	}
	if len(want) < 2*n+4 {
		t.Fatalf("pecbatch reads %d receipts, want at least %d", len(want), 2*n+4)
	}
	if len(got) != len(want) {
		t.Fatalf("the snippet prints %d receipts, pecbatch reads %d", len(got), len(want))
	}
	for i := range want {
		g, w := mustJSON(t, got[i]), mustJSON(t, want[i])
		if g != w {
			t.Errorf("receipt %d:\n python:   %s\n pecbatch: %s", i, g, w)
		}
	}
	italian := 0
	for _, p := range got {
		if strings.Contains(p.Body, "À presto — «ufficio»") {
			italian++
		}
	}
	if italian != 2 {
		t.Errorf("%d receipts read by the snippet hold the Italian text, want the 2 identical ones", italian)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

package journal

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	ctx := t.Context()
	j, _, _ := openTest(t)
	long := strings.Repeat("Il giorno 02/03/2026 alle ore 10:00:35 ", 2000) // bigger than any dictionary window
	noise := make([]byte, 600)
	rand.Read(noise)
	tests := []struct {
		name string
		rc   receiptContent
	}{
		{"empty", receiptContent{}},
		{"typical", receiptContent{"posta-certificata@pec.aruba.it", "ufficio@pec.example.it", "ACCETTAZIONE: Sollecito 1 2026",
			receiptTexts(1, "a@pec.it", "Sollecito 1", "2026", time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))[0].Body}},
		{"long", receiptContent{"s", "r", "x", long}},
		{"incompressible", receiptContent{"s", "r", "x", string(noise)}},
		{"U+FFFD and NUL", receiptContent{"\x00", "questa email \uFFFD una prova", "\x00\x00", "è\x00é"}},
	}
	err := j.write(ctx, "test", func(tx *wtx, _ int64) error {
		d, err := currentDictionary(ctx, tx)
		if err != nil {
			return err
		}
		for _, tt := range tests {
			packed := tt.rc.pack()
			content, dictID, err := j.codec.compress(d, packed)
			if err != nil {
				return err
			}
			var dict []byte
			if dictID != nil {
				dict = d.data
			}
			got, err := expand(content, dict)
			if err != nil {
				return fmt.Errorf("%s: %w", tt.name, err)
			}
			if got != tt.rc {
				t.Errorf("%s: round trip changed the content", tt.name)
			}
			if tt.name == "incompressible" && dictID != nil {
				t.Errorf("incompressible content stored compressed")
			}
			if tt.name == "typical" && len(content) >= len(packed)/2 {
				t.Errorf("typical receipt: %d bytes stored for %d", len(content), len(packed))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDictionaries: the first receipt of each kind trains a new
// dictionary, later ones reuse it, and every receipt reads back whatever
// dictionary it was stored with, also after a rolled-back transaction
// created a dictionary with the same id.
func TestDictionaries(t *testing.T) {
	ctx := t.Context()
	j, _, _ := initTest(t, 3)
	ids := make([]int64, 3)
	for i := range ids {
		ids[i] = mustRow(t, j.Reader, fmt.Sprintf("K%06d", i)).ID
		submit(t, j, ids[i], fmt.Sprintf("C%d", i))
	}
	texts := func(i int) []Receipt {
		return receiptTexts(i, fmt.Sprintf("dest%d@pec.example.it", i), newRow(i).Subject, fmt.Sprintf("C%d", i),
			time.Date(2026, 3, 2, 10, i, 0, 0, time.UTC))
	}
	// A refused call (an address not on the row) rolls back the dictionary
	// its acceptance receipt trained.
	if _, err := j.ApplyReceipts(ctx, ids[0], texts(0)[:1], []Outcome{{Address: "x@y.it", State: RecipientAccepted}}); err == nil {
		t.Fatal("outcome for a stranger accepted")
	}
	// Now a delivery comes first: dictionary 2 is trained on it instead.
	if _, err := j.ApplyReceipts(ctx, ids[1], texts(1)[1:2], nil); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 2} {
		if _, err := j.ApplyReceipts(ctx, ids[i], texts(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	var kinds []string
	q, err := j.db.QueryContext(ctx, "SELECT kinds FROM dictionaries ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var k string
		if err := q.Scan(&k); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, k)
	}
	q.Close()
	want := []string{"", "delivery", "delivery,acceptance", "delivery,acceptance,timeout-warning"}
	if !slices.Equal(kinds, want) {
		t.Errorf("dictionaries = %q, want %q", kinds, want)
	}
	for _, i := range []int{0, 1, 2} {
		// A fresh reader has no cache: it reads each dictionary from the file.
		r, err := OpenReadOnly(ctx, j.Path())
		if err != nil {
			t.Fatal(err)
		}
		stored, err := r.Receipts(ctx, ids[i])
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		in := texts(i)
		if len(stored) != len(in) {
			t.Fatalf("row %d: %d receipts, want %d", i, len(stored), len(in))
		}
		for k := range in {
			in[k].Code = fmt.Sprintf("C%d", i)
			if stored[k].Receipt != in[k] {
				t.Errorf("row %d receipt %d:\n%+v\nwant\n%+v", i, k, stored[k].Receipt, in[k])
			}
		}
	}
	var compressed, total int
	if err := j.db.QueryRowContext(ctx, "SELECT count(dict_id), count(*) FROM receipts").Scan(&compressed, &total); err != nil {
		t.Fatal(err)
	}
	if compressed != total {
		t.Errorf("%d of %d receipts compressed", compressed, total)
	}
}

// FuzzUnpack: any bytes either fail to unpack or are the canonical packing
// of what they unpack to; nothing panics.
func FuzzUnpack(f *testing.F) {
	f.Add([]byte{})
	f.Add(receiptContent{"a", "b", "c", "d"}.pack())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{5, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		rc, err := unpack(b)
		if err != nil {
			return
		}
		if !bytes.Equal(rc.pack(), b) {
			t.Errorf("unpack(%x) = %+v, which packs differently", b, rc)
		}
	})
}

// FuzzExpand: any stored content with any dictionary decodes or fails
// cleanly, and whatever compress stores expands to what was given.
func FuzzExpand(f *testing.F) {
	f.Add([]byte{}, "", "", "", "", true)
	f.Add([]byte{1, 2, 3}, "posta-certificata@pec.it", "u@pec.it", "ACCETTAZIONE: x 1", "Ricevuta di accettazione", false)
	f.Fuzz(func(t *testing.T, stored []byte, sender, recipient, subject, body string, withDict bool) {
		var dict []byte
		if withDict {
			dict = []byte(receiptDictV1)
		}
		_, _ = expand(stored, dict)

		in := receiptContent{sender, recipient, subject, body}
		c := newCodec()
		content, dictID, err := c.compress(dictionary{id: 1, data: []byte(receiptDictV1)}, in.pack())
		if err != nil {
			t.Fatal(err)
		}
		dict = nil
		if dictID != nil {
			dict = []byte(receiptDictV1)
		}
		out, err := expand(content, dict)
		if err != nil || out != in {
			t.Fatalf("round trip: %+v, %v", out, err)
		}
	})
}

package journal

import (
	"bytes"
	"compress/flate"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// Receipts are most of a journal's bytes and say nearly the same thing
// every time, so a receipt's sender, recipient, subject and body are
// packed into one value and stored DEFLATE-compressed against a preset
// dictionary. Dictionary 1 (written by the v2 migration) is the usual
// receipt wording; the first receipt of each kind the campaign archives is
// appended to the latest dictionary to make a new one, so that the
// campaign's own subject, sender and provider text cost a few bytes each
// time instead of a hundred. That keeps a 100,000-row journal with its
// receipts well under 100 MB.
//
// Dictionaries are rows of the journal, append-only like the receipts that
// name them, so every receipt can always be expanded from the file alone.

// maxDictionary bounds a dictionary (DEFLATE looks back at most 32 KiB).
const maxDictionary = 16 << 10

// receiptDictV1 is dictionary 1, as the v2 migration writes it. DEFLATE
// finds the text near the end at the shortest distances, so the most
// frequent wording goes last.
const receiptDictV1 = "" +
	"AVVISO DI NON ACCETTAZIONE PER VIRUS: AVVISO DI NON ACCETTAZIONE: " +
	"AVVISO DI MANCATA CONSEGNA PER SUP. TEMPO MASSIMO: AVVISO DI MANCATA CONSEGNA PER VIRUS: " +
	"PRESA IN CARICO: ANOMALIA MESSAGGIO: PROBLEMA DI SICUREZZA: POSTA CERTIFICATA: " +
	"Il messaggio non è stato accettato dal sistema. Messaggio di posta ordinaria. " +
	"non è stato consegnato entro le 24 ore dall'invio. Non è ancora stata ricevuta la ricevuta di avvenuta consegna " +
	"entro le prime 12 ore dall'invio. 5.4.1 - tempo massimo di consegna superato " +
	"è stato rilevato un virus. 5.7.1 - virus rilevato " +
	"Avviso di mancata consegna del messaggio e destinato all'utente " +
	"è stato rilevato un problema che ne impedisce la consegna. Il sistema ha rilevato il seguente errore: " +
	"5.1.1 - indirizzo non valido 5.2.1 - casella disabilitata 5.2.2 - casella piena " +
	"Il messaggio è stato rifiutato dal sistema. " +
	"MANCATA CONSEGNA: AVVISO DI MANCATA CONSEGNA: " +
	"(\"posta ordinaria\")\r\n" +
	"Ricevuta di avvenuta consegna del messaggio indirizzato a " +
	"Il giorno  alle ore  il messaggio con Oggetto \" è stato consegnato nella casella di destinazione.\r\n" +
	"AVVENUTA CONSEGNA: CONSEGNA: \n\n" +
	"Ricevuta di accettazione del messaggio indirizzato a (\"posta certificata\")\r\n\r\n" +
	"Il giorno /2026 alle ore :00 (+0100) (+0200) (CET) (CEST) il messaggio con Oggetto \"" +
	"\" inviato da \"\" ed indirizzato a: (\"posta certificata\")\r\n" +
	"è stato accettato dal sistema ed inoltrato.\r\n" +
	"Identificativo del messaggio: opec.pec.it@pec.it\r\n" +
	"posta-certificata@ ACCETTAZIONE: "

// receiptContent is the part of a receipt stored in content.
type receiptContent struct {
	sender, recipient, subject, body string
}

// pack frames the fields as uvarint length + bytes each.
func (rc receiptContent) pack() []byte {
	var b []byte
	for _, f := range []string{rc.sender, rc.recipient, rc.subject, rc.body} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func unpack(b []byte) (receiptContent, error) {
	var f [4]string
	for i := range f {
		n, k := binary.Uvarint(b)
		// Only the shortest encoding of a length is valid: what pack writes.
		if k <= 0 || n > uint64(len(b)-k) || k != len(binary.AppendUvarint(nil, n)) {
			return receiptContent{}, errors.New("corrupt receipt content")
		}
		f[i] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	if len(b) != 0 {
		return receiptContent{}, errors.New("corrupt receipt content: trailing bytes")
	}
	return receiptContent{sender: f[0], recipient: f[1], subject: f[2], body: f[3]}, nil
}

// dictionary is one row of the dictionaries table.
type dictionary struct {
	id    int64
	kinds []string // the kinds sampled into it
	data  []byte
}

// currentDictionary reads the latest dictionary inside the writing
// transaction: a dictionary added by a transaction that rolled back must
// never be used.
func currentDictionary(ctx context.Context, tx *wtx) (dictionary, error) {
	var d dictionary
	var kinds string
	err := tx.queryRow("SELECT id, kinds, data FROM dictionaries ORDER BY id DESC LIMIT 1").Scan(&d.id, &kinds, &d.data)
	if err != nil {
		return d, fmt.Errorf("receipt dictionary: %w", err)
	}
	if kinds != "" {
		d.kinds = strings.Split(kinds, ",")
	}
	return d, nil
}

// learn returns the dictionary to compress a receipt of kind with: d,
// or a new one with packed appended if kind was never sampled and the
// dictionary has room.
func (d dictionary) learn(ctx context.Context, tx *wtx, kind string, packed []byte) (dictionary, error) {
	if slices.Contains(d.kinds, kind) || strings.Contains(kind, ",") || len(d.data)+len(packed) > maxDictionary {
		return d, nil
	}
	next := dictionary{
		kinds: append(slices.Clip(d.kinds), kind),
		data:  append(slices.Clip(d.data), packed...),
	}
	res, err := tx.exec("INSERT INTO dictionaries (kinds, data) VALUES (?, ?)", strings.Join(next.kinds, ","), next.data)
	if err != nil {
		return d, fmt.Errorf("receipt dictionary: %w", err)
	}
	if next.id, err = res.LastInsertId(); err != nil {
		return d, fmt.Errorf("receipt dictionary: %w", err)
	}
	return next, nil
}

// codec compresses and expands receipt content. Its caches are per Reader,
// not package variables: DEFLATE writers (a megabyte each to allocate)
// pooled by dictionary content, and committed dictionaries by id for
// reading.
type codec struct {
	mu      sync.Mutex
	writers map[string]*sync.Pool
	dicts   map[int64][]byte
}

func newCodec() *codec {
	return &codec{writers: map[string]*sync.Pool{}, dicts: map[int64][]byte{}}
}

// compress returns the stored form of packed: the compressed bytes and the
// dictionary id, or packed itself and NULL when compression does not help.
func (c *codec) compress(d dictionary, packed []byte) ([]byte, any, error) {
	c.mu.Lock()
	pool := c.writers[string(d.data)]
	if pool == nil {
		pool = &sync.Pool{}
		c.writers[string(d.data)] = pool
	}
	c.mu.Unlock()
	var buf bytes.Buffer
	w, _ := pool.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriterDict(&buf, flate.DefaultCompression, d.data); err != nil {
			return nil, nil, fmt.Errorf("compress receipt: %w", err)
		}
	} else {
		w.Reset(&buf) // Reset keeps the dictionary
	}
	defer pool.Put(w)
	if _, err := w.Write(packed); err != nil {
		return nil, nil, fmt.Errorf("compress receipt: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, nil, fmt.Errorf("compress receipt: %w", err)
	}
	if buf.Len() >= len(packed) {
		return packed, nil, nil
	}
	return buf.Bytes(), d.id, nil
}

// dictionary returns the data of a committed dictionary. Only callers
// outside any writing transaction may use it, so that the cache never
// holds a dictionary that was rolled back.
func (c *codec) dictionary(ctx context.Context, db *sql.DB, id int64) ([]byte, error) {
	c.mu.Lock()
	data, ok := c.dicts[id]
	c.mu.Unlock()
	if ok {
		return data, nil
	}
	if err := db.QueryRowContext(ctx, "SELECT data FROM dictionaries WHERE id = ?", id).Scan(&data); err != nil {
		return nil, fmt.Errorf("receipt dictionary %d: %w", id, err)
	}
	c.mu.Lock()
	c.dicts[id] = data
	c.mu.Unlock()
	return data, nil
}

// expand decodes stored content; dict is nil for content stored packed.
// Content that does not decode is an error, never returned half-read: the
// archive is evidence.
func expand(content, dict []byte) (receiptContent, error) {
	if dict != nil {
		r := flate.NewReaderDict(bytes.NewReader(content), dict)
		defer r.Close()
		var err error
		if content, err = io.ReadAll(r); err != nil {
			return receiptContent{}, fmt.Errorf("expand receipt: %w", err)
		}
	}
	return unpack(content)
}

package pecmail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

const (
	testUser     = "ufficio.notifiche@pec.comune.example.it"
	testPassword = "s3gret-Pa55word"
)

// testMailbox is a PEC mailbox served over implicit TLS by go-imap's in-memory server.
type testMailbox struct {
	pki  *testPKI
	user *imapmemserver.User
	url  string
	tls  *tls.Config
	// traffic is every byte the server read and wrote, to see which commands the client sent.
	traffic *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

func startMailbox(t *testing.T) *testMailbox {
	t.Helper()
	pki := newPKI(t, "Gestore Test")
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(testUser, testPassword)
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(user)
	traffic := &syncBuffer{}
	srv := imapserver.New(&imapserver.Options{
		DebugWriter: traffic,
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}},
		Logger: quietLogger{},
	})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS(pki))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }() // after Close it returns the closed listener's error
	t.Cleanup(func() { srv.Close() })
	return &testMailbox{pki: pki, user: user, url: "imaps://" + ln.Addr().String(), tls: clientTLS(pki), traffic: traffic}
}

func serverTLS(p *testPKI) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{{
		Certificate: [][]byte{p.serverCert.Raw, p.root.Raw}, PrivateKey: p.serverKey, Leaf: p.serverCert}}}
}

func clientTLS(p *testPKI) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.root)
	return &tls.Config{RootCAs: pool}
}

func (m *testMailbox) config() Config {
	return Config{URL: m.url, Username: testUser, Password: testPassword, TLS: m.tls, Trust: m.pki.pool,
		Timeout: 10 * time.Second}
}

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return l.Reader.Size() }

func (m *testMailbox) add(t *testing.T, raw []byte) {
	t.Helper()
	if _, err := m.user.Append("INBOX", literal{bytes.NewReader(raw)}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

// receipt builds a signed delivery receipt for code, or an ordinary mail when code is "".
func (m *testMailbox) receipt(t *testing.T, code string) []byte {
	t.Helper()
	outer, inner := fixture(t, "consegna")
	if code == "" {
		return []byte("From: someone@example.com\r\nSubject: Buongiorno\r\n\r\nUna mail qualsiasi.\r\n")
	}
	outer = bytes.ReplaceAll(outer, []byte("2612010000123456"), []byte(code))
	return signedMessage(t, m.pki, outer, inner, "application/pkcs7-signature")
}

func codes(rs []Receipt) string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%d:%s", r.UID, r.Code))
	}
	return strings.Join(out, ",")
}

func all(code string) bool { return code != "" }

func TestFetchCursor(t *testing.T) {
	t.Parallel()
	m := startMailbox(t)
	m.add(t, m.receipt(t, "2612010000000001"))
	m.add(t, m.receipt(t, ""))
	m.add(t, m.receipt(t, "2612010000000003"))
	ctx := t.Context()

	got, cur, err := Fetch(ctx, m.config(), Cursor{}, all)
	if err != nil {
		t.Fatal(err)
	}
	if codes(got) != "1:2612010000000001,3:2612010000000003" || cur.LastUID != 3 || cur.UIDValidity == 0 {
		t.Fatalf("first fetch: %s, cursor %+v", codes(got), cur)
	}
	for _, r := range got {
		if r.Signature.Status != SigValid || !r.Agrees || r.Daticert == nil || len(r.Raw) == 0 {
			t.Errorf("UID %d: signature %+v, agrees %v, daticert %v", r.UID, r.Signature, r.Agrees, r.Daticert)
		}
	}

	again, cur2, err := Fetch(ctx, m.config(), cur, all)
	if err != nil || len(again) != 0 || cur2 != cur {
		t.Fatalf("fetch with nothing new: %s, %+v, %v", codes(again), cur2, err)
	}

	m.add(t, m.receipt(t, "2612010000000004"))
	more, cur3, err := Fetch(ctx, m.config(), cur, all)
	if err != nil || codes(more) != "4:2612010000000004" || cur3.LastUID != 4 {
		t.Fatalf("fetch after one more: %s, %+v, %v", codes(more), cur3, err)
	}

	// Read-only: nothing was marked as read.
	st, err := m.user.Status("INBOX", &imap.StatusOptions{NumUnseen: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.NumUnseen == nil {
		t.Fatal("no unseen count")
	}
	if *st.NumUnseen != 4 {
		t.Errorf("unseen = %d after fetching, want 4: Fetch must not mark messages as read", *st.NumUnseen)
	}
}

func TestFetchWant(t *testing.T) {
	t.Parallel()
	m := startMailbox(t)
	// More receipts than one body batch, so that the batching shows.
	var want []string
	for i := 1; i <= bodyBatch+12; i++ {
		code := fmt.Sprintf("26120100%08d", i)
		m.add(t, m.receipt(t, code))
		if i%2 == 0 {
			want = append(want, fmt.Sprintf("%d:%s", i, code))
		}
	}
	wanted := func(code string) bool {
		n, err := strconv.Atoi(code[8:])
		return err == nil && n%2 == 0
	}
	got, cur, err := Fetch(t.Context(), m.config(), Cursor{}, wanted)
	if err != nil {
		t.Fatal(err)
	}
	if codes(got) != strings.Join(want, ",") {
		t.Errorf("got %s\nwant %s", codes(got), strings.Join(want, ","))
	}
	if cur.LastUID != bodyBatch+12 {
		t.Errorf("cursor %+v: it must move past the messages not wanted too", cur)
	}
	// Headers first, whole messages only for the wanted ones, all read-only.
	traffic := m.traffic.String()
	if n := strings.Count(traffic, "BODY[] {"); n != len(want) {
		t.Errorf("%d whole messages downloaded, want %d", n, len(want))
	}
	if n := strings.Count(traffic, "BODY[HEADER.FIELDS"); n < bodyBatch+12 {
		t.Errorf("%d headers read, want one per message", n)
	}
	if !regexp.MustCompile(`UID FETCH [0-9,:]+ \(UID BODY\.PEEK\[\]\)`).MatchString(traffic) ||
		regexp.MustCompile(`T[0-9]+ UID FETCH [^\r\n]*[ (]BODY\[`).MatchString(traffic) {
		t.Error("the client fetched without BODY.PEEK: reading would mark messages as read")
	}
	if !strings.Contains(traffic, " EXAMINE INBOX") || strings.Contains(traffic, " SELECT ") ||
		strings.Contains(traffic, " STORE ") || strings.Contains(traffic, "EXPUNGE") {
		t.Error("the mailbox was not opened read-only with EXAMINE, or was written to")
	}
}

func TestFetchUIDValidityChange(t *testing.T) {
	t.Parallel()
	m := startMailbox(t)
	m.add(t, m.receipt(t, "2612010000000001"))
	m.add(t, m.receipt(t, "2612010000000002"))
	_, cur, err := Fetch(t.Context(), m.config(), Cursor{}, all)
	if err != nil {
		t.Fatal(err)
	}
	// The mailbox is recreated: UIDs start again from 1 under a new UIDVALIDITY.
	if err := m.user.Delete("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := m.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	m.add(t, m.receipt(t, "2612010000000009"))
	got, cur2, err := Fetch(t.Context(), m.config(), cur, all)
	if err != nil {
		t.Fatal(err)
	}
	if codes(got) != "1:2612010000000009" || cur2.UIDValidity == cur.UIDValidity || cur2.LastUID != 1 {
		t.Errorf("after UIDVALIDITY change: %s, cursor %+v (was %+v)", codes(got), cur2, cur)
	}
}

func TestFetchRefused(t *testing.T) {
	t.Parallel()
	m := startMailbox(t)
	tests := []struct {
		name   string
		mutate func(*Config)
		is     error
		says   string
	}{
		{"wrong password", func(c *Config) { c.Password = "wrong-" + testPassword }, ErrLogin, "password"},
		{"unknown user", func(c *Config) { c.Username = "nessuno@pec.example.it" }, ErrLogin, "password"},
		{"plaintext not allowed", func(c *Config) { c.URL = strings.Replace(c.URL, "imaps://", "imap://", 1) }, nil, "imaps://"},
		{"not a URL", func(c *Config) { c.URL = "host-without-scheme" }, nil, "imaps://host:993"},
		{"server certificate not trusted", func(c *Config) { c.TLS = nil }, nil, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := m.config()
			tt.mutate(&cfg)
			_, cur, err := Fetch(t.Context(), cfg, Cursor{UIDValidity: 7, LastUID: 9}, all)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("err = %v, want it to say %q", err, tt.says)
			}
			if strings.Contains(err.Error(), cfg.Password) {
				t.Errorf("the error shows the password: %v", err)
			}
			if cur != (Cursor{UIDValidity: 7, LastUID: 9}) {
				t.Errorf("cursor moved to %+v on a failure", cur)
			}
		})
	}
}

// hangingServer accepts TLS connections, greets, and then never answers a command.
func hangingServer(t *testing.T, p *testPKI) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				io.WriteString(c, "* OK IMAP4rev1 ready\r\n")
				io.Copy(io.Discard, c) // reads the LOGIN and says nothing
			}(conn)
		}
	}()
	return "imaps://" + ln.Addr().String()
}

func TestFetchStalls(t *testing.T) {
	t.Parallel()
	pki := newPKI(t, "Gestore Test")
	url := hangingServer(t, pki)
	tests := []struct {
		name    string
		timeout time.Duration
		cancel  time.Duration
		is      error
	}{
		{"server stops answering: Timeout", 200 * time.Millisecond, 0, context.DeadlineExceeded},
		{"context cancelled", time.Hour, 200 * time.Millisecond, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancel > 0 {
				time.AfterFunc(tt.cancel, cancel)
			}
			cfg := Config{URL: url, Username: testUser, Password: testPassword, TLS: clientTLS(pki), Timeout: tt.timeout}
			start := time.Now()
			_, _, err := Fetch(ctx, cfg, Cursor{}, all)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.is)
			}
			// Generous for a loaded machine, far below the hour the other bound would take.
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Fetch returned after %s", d)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/client/sandbox"
)

// The client and the sandbox are independent readings of the contract; these tests drive one against the
// other. One manual clock runs both: the sandbox's receipts and the client's pacing and Retry-After waits,
// so a wait of the client moves sandbox time and no test sleeps.

type rig struct {
	clock *sandbox.Clock
	sb    *sandbox.Server
	c     *client.Client
	opts  sandbox.Options
	posts atomic.Int64 // POST /send requests that reached the sandbox
}

func newRig(t *testing.T, tune func(*sandbox.Options), copts ...client.Option) *rig {
	t.Helper()
	clock := sandbox.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	opts := sandbox.DefaultOptions()
	opts.Now = clock.Now
	if tune != nil {
		tune(&opts)
	}
	r := &rig{clock: clock, sb: sandbox.New(opts), opts: opts}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && req.URL.Path == "/send" {
			r.posts.Add(1)
		}
		r.sb.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	sleep := func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		clock.Advance(d)
		return nil
	}
	all := append([]client.Option{
		client.WithToken(opts.Token),
		client.WithCredentials(opts.Username, opts.Password),
		client.WithClock(clock.Now, sleep),
	}, copts...)
	c, err := client.NewClient(srv.URL, all...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	r.c = c
	return r
}

func (r *rig) send(t *testing.T, subject string, recipients ...string) *client.SendResult {
	t.Helper()
	res, err := r.c.Send(t.Context(), &client.SendRequest{
		Sender:     r.opts.Username,
		Recipients: recipients,
		Subject:    subject,
		Body:       "<p>Gentile utente, in allegato l'avviso.</p>",
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return res
}

// seen is a receipt as classified by the client.
type seen struct {
	kind      client.Kind
	addressee string
}

func (r *rig) classified(t *testing.T, res *client.SendResult, subject string) []seen {
	t.Helper()
	rs, err := r.c.Receipts(t.Context(), res.MessageID)
	if err != nil {
		t.Fatalf("Receipts: %v", err)
	}
	var out []seen
	for _, rc := range rs {
		cl := client.Classify(rc.Subject, rc.Body)
		if cl.Code != res.MessageID || cl.Subject != subject {
			t.Errorf("receipt %q: code %q subject %q, want %q %q", rc.Subject, cl.Code, cl.Subject, res.MessageID, subject)
		}
		if rc.Date.IsZero() {
			t.Errorf("receipt %q: unreadable date %q", rc.Subject, rc.DateText)
		}
		if (cl.Kind == client.KindNonDelivery || cl.Kind == client.KindTimeoutExpired) && cl.ErrorText == "" {
			t.Errorf("receipt %q: no error text in %q", rc.Subject, rc.Body)
		}
		out = append(out, seen{cl.Kind, cl.Addressee})
	}
	return out
}

func TestSandboxDomainTable(t *testing.T) {
	// The documented style's delivery receipts carry the original mail and name nobody; the PEC providers'
	// texts name the addressee. Notices of a failure name it in both.
	for _, style := range []sandbox.ReceiptStyle{sandbox.StyleDocumented, sandbox.StylePEC} {
		t.Run(string(style), func(t *testing.T) { testSandboxDomainTable(t, style) })
	}
}

func testSandboxDomainTable(t *testing.T, style sandbox.ReceiptStyle) {
	r := newRig(t, func(o *sandbox.Options) { o.Receipts = style })
	const subject = "Avviso di pagamento n. 42"
	recipients := []string{"mario@example.test", "nessuno@invalid.sandbox.test", "pieno@full.sandbox.test",
		"lento@slow.sandbox.test", "scaduto@expire.sandbox.test", "qualcuno@ordinary.sandbox.test"}
	res := r.send(t, subject, recipients...)
	if res.Sent != 6 || res.MessageID == "" {
		t.Fatalf("result %+v", res)
	}
	delivered := func(addr string) seen {
		if style == sandbox.StylePEC {
			return seen{client.KindDelivery, addr}
		}
		return seen{client.KindDelivery, ""}
	}

	has := func(got []seen, want seen) bool { return slices.Contains(got, want) }
	count := func(got []seen, k client.Kind) int {
		n := 0
		for _, s := range got {
			if s.kind == k {
				n++
			}
		}
		return n
	}

	// Right after the send: 404 "Result empty", which is normal.
	if got := r.classified(t, res, subject); got != nil {
		t.Fatalf("receipts before any arrived: %v", got)
	}

	r.clock.Advance(r.opts.AcceptDelay)
	got := r.classified(t, res, subject)
	if count(got, client.KindAcceptance) != 1 || len(got) != 1 {
		t.Fatalf("after the accept delay: %v, want one acceptance", got)
	}

	r.clock.Advance(r.opts.DeliverDelay - r.opts.AcceptDelay)
	got = r.classified(t, res, subject)
	for _, want := range []seen{
		delivered("mario@example.test"),
		{client.KindNonDelivery, "nessuno@invalid.sandbox.test"},
		{client.KindNonDelivery, "pieno@full.sandbox.test"},
	} {
		if !has(got, want) {
			t.Errorf("after the deliver delay: %v lacks %v", got, want)
		}
	}
	if count(got, client.KindDelivery) != 1 {
		t.Errorf("deliveries %v: slow, expire and ordinary must not be delivered yet", got)
	}

	r.clock.Advance(r.opts.WarnAfter - r.opts.DeliverDelay)
	got = r.classified(t, res, subject)
	for _, want := range []seen{
		{client.KindTimeoutWarning, "lento@slow.sandbox.test"},
		{client.KindTimeoutWarning, "scaduto@expire.sandbox.test"},
	} {
		if !has(got, want) {
			t.Errorf("after the warning delay: %v lacks %v", got, want)
		}
	}

	r.clock.Advance(r.opts.DeliverDelay)
	if got = r.classified(t, res, subject); !has(got, delivered("lento@slow.sandbox.test")) || count(got, client.KindDelivery) != 2 {
		t.Errorf("slow recipient not delivered after its warning: %v", got)
	}

	r.clock.Advance(r.opts.ExpireAfter)
	got = r.classified(t, res, subject)
	if !has(got, seen{client.KindTimeoutExpired, "scaduto@expire.sandbox.test"}) {
		t.Errorf("expire recipient not expired: %v", got)
	}
	for _, s := range got {
		if s.addressee == "qualcuno@ordinary.sandbox.test" && s.kind != client.KindAcceptance {
			t.Errorf("an ordinary mailbox got %v", s)
		}
		if s.kind == client.KindUnknown {
			t.Errorf("unclassified receipt %v", s)
		}
	}
	if n := count(got, client.KindDelivery); n != 2 {
		t.Errorf("%d deliveries, want 2 (mario and lento): %v", n, got)
	}
	// Which recipient each receipt is about, as tracking asks it: the recipient field (the sending mailbox)
	// never names one.
	rs, err := r.c.Receipts(t.Context(), res.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rs {
		cl := client.Classify(rc.Subject, rc.Body)
		addr, named := cl.AddresseeAmong(rc, r.opts.Username, recipients)
		if named != (cl.Addressee != "" && !cl.WholeMessage) || named && addr != cl.Addressee {
			t.Errorf("%s receipt: AddresseeAmong = %q, %v; the text names %q", cl.Kind, addr, named, cl.Addressee)
		}
	}
}

func TestSandboxRefusedMessages(t *testing.T) {
	tests := []struct {
		recipient string
		want      client.Kind
	}{
		{"x@virus.sandbox.test", client.KindVirus},
		{"x@reject.sandbox.test", client.KindNonAcceptance},
	}
	for _, tt := range tests {
		t.Run(tt.recipient, func(t *testing.T) {
			r := newRig(t, nil)
			res := r.send(t, "Fattura", tt.recipient)
			r.clock.Advance(r.opts.ExpireAfter + time.Hour)
			got := r.classified(t, res, "Fattura")
			if len(got) != 1 || got[0].kind != tt.want || !got[0].kind.Failed() {
				t.Errorf("receipts %v, want one %s", got, tt.want)
			}
		})
	}
}

// TestSandboxPacing: the client paces itself at the sandbox's rate, so the sandbox never throttles it; a
// client that does not pace meets 429 and waits Retry-After. Either way each message is sent exactly once.
func TestSandboxPacing(t *testing.T) {
	for _, tt := range []struct {
		name      string
		rate      float64
		throttled bool
	}{{"client paced", 1, false}, {"client unpaced", 0, true}} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil, client.WithSendRate(tt.rate))
			start := r.clock.Now()
			var codes []string
			for i := range 4 {
				codes = append(codes, r.send(t, fmt.Sprintf("Avviso %d", i), "a@example.test").MessageID)
			}
			sends := r.sb.Sends()
			if len(sends) != 4 {
				t.Fatalf("%d messages sent, want 4", len(sends))
			}
			for i, s := range sends {
				if s.Code != codes[i] || s.Subject != fmt.Sprintf("Avviso %d", i) {
					t.Errorf("send %d: %+v, want code %s", i, s, codes[i])
				}
			}
			if elapsed := r.clock.Now().Sub(start); elapsed < 3*time.Second {
				t.Errorf("4 sends in %v of sandbox time, want at least 3s at 1/s", elapsed)
			}
			// A paced client is never throttled; an unpaced one is, and retries after Retry-After.
			if posts := r.posts.Load(); (posts > 4) != tt.throttled {
				t.Errorf("%d POST /send for 4 messages", posts)
			}
		})
	}
}

func TestSandboxAttachmentsAndBody(t *testing.T) {
	pdf := []byte("%PDF-1.4 " + strings.Repeat("x", 1000))
	for _, tt := range []struct {
		name string
		opts []client.Option
	}{{"data URI", nil}, {"raw base64", []client.Option{client.WithRawBase64()}}} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil, tt.opts...)
			body := "<p>Gentile cliente, è in allegato l'avviso.</p>"
			res, err := r.c.Send(t.Context(), &client.SendRequest{
				Sender: r.opts.Username, Recipients: []string{"a@example.test"}, Subject: "Avviso", Body: body,
				Attachments: []client.Attachment{
					{Name: "avviso.pdf", ContentType: "application/pdf", Content: pdf},
					{Name: "nota.txt", ContentType: "text/plain; charset=utf-8", Content: []byte("ciao")},
				},
			})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			sends := r.sb.Sends()
			if len(sends) != 1 || sends[0].Code != res.MessageID {
				t.Fatalf("sends %+v", sends)
			}
			wantAtt := []sandbox.SentAttachment{{Name: "avviso.pdf", Size: len(pdf)}, {Name: "nota.txt", Size: 4}}
			if !slices.Equal(sends[0].Attachments, wantAtt) {
				t.Errorf("attachments %+v, want %+v", sends[0].Attachments, wantAtt)
			}
			sum := sha256.Sum256([]byte(body))
			if sends[0].BodySHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("body hash %s differs: the body was altered on the way", sends[0].BodySHA256)
			}
		})
	}
}

func TestSandboxFaults(t *testing.T) {
	tests := []struct {
		name      string
		tune      func(*sandbox.Options)
		wantSends int
	}{
		// 500 "MySQL Error 2006" without sending: the client cannot know, so ambiguous.
		{"fail", func(o *sandbox.Options) { o.FailRate = 1 }, 0},
		// Sent, then the connection dropped: the ambiguous case itself.
		{"drop", func(o *sandbox.Options) { o.DropRate = 1 }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.tune)
			_, err := r.c.Send(t.Context(), &client.SendRequest{
				Sender: r.opts.Username, Recipients: []string{"a@example.test"}, Subject: "Avviso", Body: "b",
			})
			if !errors.Is(err, client.ErrAmbiguous) || errors.Is(err, client.ErrNotSent) {
				t.Fatalf("err = %v, want ErrAmbiguous", err)
			}
			if n := len(r.sb.Sends()); n != tt.wantSends {
				t.Errorf("%d messages sent, want %d (and never a second one)", n, tt.wantSends)
			}
		})
	}
}

func TestSandboxRefusals(t *testing.T) {
	ctx := t.Context()
	t.Run("bad address is a definite 400", func(t *testing.T) {
		r := newRig(t, nil)
		_, err := r.c.Send(ctx, &client.SendRequest{Sender: r.opts.Username, Recipients: []string{"not-an-address"},
			Subject: "s", Body: "b"})
		apiErr, ok := errors.AsType[*client.APIError](err)
		if !ok || apiErr.StatusCode != 400 || errors.Is(err, client.ErrAmbiguous) || errors.Is(err, client.ErrNotSent) {
			t.Fatalf("err = %v, want a definite 400", err)
		}
		if len(r.sb.Sends()) != 0 {
			t.Errorf("a refused message was sent")
		}
	})
	t.Run("revoked token", func(t *testing.T) {
		r := newRig(t, nil)
		r.sb.SetToken("rotated")
		_, err := r.c.Send(ctx, &client.SendRequest{Sender: r.opts.Username, Recipients: []string{"a@example.test"},
			Subject: "s", Body: "b"})
		if !errors.Is(err, client.ErrUnauthorized) || errors.Is(err, client.ErrAmbiguous) {
			t.Fatalf("send: err = %v, want ErrUnauthorized", err)
		}
		if _, err := r.c.Inbox(ctx, "", 1); !errors.Is(err, client.ErrUnauthorized) {
			t.Fatalf("inbox: err = %v, want ErrUnauthorized", err)
		}
		if strings.Contains(err.Error(), r.opts.Token) {
			t.Errorf("err = %v shows the token", err)
		}
	})
	t.Run("wrong mailbox password", func(t *testing.T) {
		r := newRig(t, func(o *sandbox.Options) { o.Password = "another-password" })
		// The rig's client was built with the same options; build one with a wrong password.
		srv := httptest.NewServer(r.sb)
		defer srv.Close()
		c, err := client.NewClient(srv.URL, client.WithToken(r.opts.Token), client.WithCredentials(r.opts.Username, "wrong-password-123"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Quota(ctx, ""); !errors.Is(err, client.ErrUnauthorized) || strings.Contains(err.Error(), "wrong-password-123") {
			t.Fatalf("quota: err = %v, want ErrUnauthorized without the password", err)
		}
		_, err = c.Send(ctx, &client.SendRequest{Sender: r.opts.Username, Recipients: []string{"a@example.test"}, Subject: "s", Body: "b"})
		if !errors.Is(err, client.ErrUnauthorized) || len(r.sb.Sends()) != 0 {
			t.Fatalf("send: err = %v, want ErrUnauthorized and nothing sent", err)
		}
	})
}

func TestSandboxInboxAndQuota(t *testing.T) {
	ctx := t.Context()
	r := newRig(t, func(o *sandbox.Options) { o.SendRate = 0 }, client.WithSendRate(0))
	const n = 14 // 14 sends to one address: 28 receipts (acceptance, delivery), two pages
	var codes []string
	for i := range n {
		codes = append(codes, r.send(t, fmt.Sprintf("Pratica %02d", i), "a@example.test").MessageID)
	}
	r.clock.Advance(time.Minute)

	first, err := r.c.Inbox(ctx, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if first.Total != 2*n || first.Pages != 2 || first.Page != 1 || len(first.Entries) != 25 {
		t.Fatalf("page 1: total %d pages %d page %d entries %d", first.Total, first.Pages, first.Page, len(first.Entries))
	}
	second, err := r.c.Inbox(ctx, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if second.Page != 2 || len(second.Entries) != 2*n-25 {
		t.Fatalf("page 2: page %d entries %d", second.Page, len(second.Entries))
	}
	ids := map[string]bool{}
	for _, e := range append(first.Entries, second.Entries...) {
		if e.ID == "" || ids[e.ID] || e.Date.IsZero() {
			t.Errorf("entry %+v: empty or repeated id, or unreadable date", e)
		}
		ids[e.ID] = true
	}

	found, err := r.c.Inbox(ctx, "Pratica 03", 1)
	if err != nil {
		t.Fatal(err)
	}
	if found.Total != 2 || len(found.Entries) != 2 {
		t.Fatalf("search: %+v", found)
	}
	for _, e := range found.Entries {
		if cl := client.Classify(e.Subject, ""); cl.Subject != "Pratica 03" || cl.Code != codes[3] {
			t.Errorf("search hit %q", e.Subject)
		}
	}

	msg, err := r.c.InboxMessage(ctx, found.Entries[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// The newest is the delivery receipt, whose text (in the default, documented style) is the original
	// mail, form-decoded: it names no addressee.
	cl := client.Classify(msg.Subject, msg.Body)
	if cl.Kind != client.KindDelivery || cl.Addressee != "" || msg.Body != "Gentile utente, in allegato l'avviso." {
		t.Errorf("message %+v: not the delivery receipt with the mail's text, decoded (addressee %q)", msg, cl.Addressee)
	}

	q, err := r.c.Quota(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if q.Usage <= 0 || q.Limit != sandbox.QuotaLimitKiB {
		t.Errorf("quota %+v", q)
	}

	if err := r.c.DeleteInboxMessage(ctx, found.Entries[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.InboxMessage(ctx, found.Entries[0].ID); err == nil {
		t.Errorf("a deleted message is still there")
	}
	if err := r.c.DeleteReceipts(ctx, codes[3]); err != nil {
		t.Fatal(err)
	}
	if rs, err := r.c.Receipts(ctx, codes[3]); err != nil || rs != nil {
		t.Errorf("after deleting: %v %v, want (nil, nil)", rs, err)
	}
	if err := r.c.DeleteReceipts(ctx, codes[3]); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("deleting twice: err = %v, want ErrNotFound", err)
	}
	// Quota is counted in whole KiB: delete enough receipts to free more than one.
	for _, code := range codes[4:] {
		if err := r.c.DeleteReceipts(ctx, code); err != nil {
			t.Fatal(err)
		}
	}
	after, err := r.c.Quota(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if after.Usage >= q.Usage {
		t.Errorf("quota %v after deleting, was %v", after.Usage, q.Usage)
	}
}

package pecmail

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/pecbatch/pecbatch/client"
)

// Batch sizes: headers are small, whole receipts are some tens of KB each (the original message rides
// inside a delivery receipt "completa"), so fewer of them go in one FETCH.
const (
	headerBatch = 500
	bodyBatch   = 50
)

const defaultTimeout = 30 * time.Second

// headerSection is what Fetch reads first of every new message: enough to tell the code and the kind
// without downloading the receipt. PEEK: reading must never mark a message as read.
var headerSection = &imap.FetchItemBodySection{
	Specifier:    imap.PartSpecifierHeader,
	HeaderFields: []string{"Subject", "X-Ricevuta", "X-Trasporto"},
	Peek:         true,
}

var wholeSection = &imap.FetchItemBodySection{Peek: true}

// Fetch connects, logs in, reads receipts with UID > cur.LastUID (all of them when UIDVALIDITY changed),
// keeps only those for which want(code) is true, and returns them with the new cursor. ctx cancels it.
//
// The mailbox is opened read-only (EXAMINE) and read with BODY.PEEK: nothing is marked as read, moved or
// deleted. New messages are read in batches, headers first, and whole only when want accepts the code at
// the end of their subject; the cursor moves past every message seen, wanted or not, so want must accept
// every code the caller may still care about. On an error Fetch returns the receipts of the batches it
// completed and the cursor after them, so that the next call resumes where this one stopped.
func Fetch(ctx context.Context, cfg Config, cur Cursor, want func(code string) bool) ([]Receipt, Cursor, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Mailbox == "" {
		cfg.Mailbox = "INBOX"
	}
	s, err := connect(ctx, cfg)
	if err != nil {
		return nil, cur, err
	}
	defer s.close()
	if err := s.login(cfg); err != nil {
		return nil, cur, err
	}
	var sel *imap.SelectData
	err = s.do(func() (err error) {
		sel, err = s.c.Select(cfg.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		return err
	})
	if err != nil {
		return nil, cur, fmt.Errorf("pecmail: open mailbox %q on %s read-only: %w", cfg.Mailbox, s.host, err)
	}
	next := cur
	if sel.UIDValidity != cur.UIDValidity {
		// The UIDs the cursor counted no longer name the same messages: read the mailbox again from the start.
		next = Cursor{UIDValidity: sel.UIDValidity}
	}
	if sel.NumMessages == 0 {
		return nil, next, s.logout()
	}
	uids, err := s.newUIDs(next.LastUID)
	if err != nil {
		return nil, cur, err
	}
	var out []Receipt
	for len(uids) > 0 {
		n := min(headerBatch, len(uids))
		batch := uids[:n]
		uids = uids[n:]
		got, err := s.readBatch(batch, want, cfg)
		if err != nil {
			return out, next, err
		}
		out = append(out, got...)
		next.LastUID = uint32(batch[len(batch)-1])
	}
	return out, next, s.logout()
}

// session is one IMAP connection whose every wait is bounded by ctx and the timeout.
type session struct {
	ctx     context.Context
	c       *imapclient.Client
	timeout time.Duration
	host    string
}

func connect(ctx context.Context, cfg Config) (*session, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		// The URL may hold a password in its user part: never quote it.
		return nil, errors.New("pecmail: the mailbox address is not a URL like imaps://host:993; fix tracking.imap")
	}
	host, port := u.Hostname(), u.Port()
	switch u.Scheme {
	case "imaps":
		if port == "" {
			port = "993"
		}
	case "imap":
		if !cfg.AllowPlaintext {
			return nil, fmt.Errorf("pecmail: imap://%s would send the mailbox password in clear; use imaps://", host)
		}
		if port == "" {
			port = "143"
		}
	default:
		return nil, fmt.Errorf("pecmail: unsupported scheme %q in the mailbox address; use imaps://host:993", u.Scheme)
	}
	addr := net.JoinHostPort(host, port)
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var conn net.Conn
	if u.Scheme == "imaps" {
		tc := &tls.Config{}
		if cfg.TLS != nil {
			tc = cfg.TLS.Clone()
		}
		if tc.ServerName == "" {
			tc.ServerName = host
		}
		conn, err = (&tls.Dialer{Config: tc}).DialContext(dctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("pecmail: connect to %s: %w; check tracking.imap and the network", addr, err)
	}
	s := &session{ctx: ctx, c: imapclient.New(conn, nil), timeout: cfg.Timeout, host: addr}
	if err := s.do(s.c.WaitGreeting); err != nil {
		s.close()
		return nil, fmt.Errorf("pecmail: greeting from %s: %w", addr, err)
	}
	return s, nil
}

// do runs one exchange with the server and gives up when ctx ends or the timeout passes: then it closes
// the connection, which ends the exchange, and waits for it so that no goroutine outlives the call.
func (s *session) do(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-s.ctx.Done():
		s.c.Close()
		<-done //nolint:errcheck // the exchange can only fail on the connection just closed; why is returned
		return fmt.Errorf("stopped: %w", context.Cause(s.ctx))
	case <-timer.C:
		s.c.Close()
		<-done //nolint:errcheck // as above
		return fmt.Errorf("no answer within %s: %w", s.timeout, context.DeadlineExceeded)
	}
}

func (s *session) close() { s.c.Close() }

func (s *session) login(cfg Config) error {
	err := s.do(func() error { return s.c.Login(cfg.Username, cfg.Password).Wait() })
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
		text := ie.Text
		if cfg.Password != "" {
			text = strings.ReplaceAll(text, cfg.Password, "***") // a server might echo what it was sent
		}
		return fmt.Errorf("%w (%s said %q); check the mailbox username and password", ErrLogin, s.host, text)
	}
	return fmt.Errorf("pecmail: login to %s: %w", s.host, redact(err, cfg.Password))
}

// redact keeps the password out of an error whose text came from the network.
func redact(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "***"))
}

func (s *session) logout() error {
	// The receipts are already read: a server that hangs up instead of saying BYE changes nothing.
	_ = s.do(func() error { return s.c.Logout().Wait() })
	return nil
}

// newUIDs lists the UIDs above last, in ascending order. "UID last+1:*" also matches the highest message
// when every UID is at most last (RFC 9051 6.4.9), hence the filter.
func (s *session) newUIDs(last uint32) ([]imap.UID, error) {
	var data *imap.SearchData
	err := s.do(func() (err error) {
		crit := &imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(last + 1), Stop: 0}}}}
		data, err = s.c.UIDSearch(crit, nil).Wait()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pecmail: search new messages on %s: %w", s.host, err)
	}
	var out []imap.UID
	for _, uid := range data.AllUIDs() {
		if uint32(uid) > last {
			out = append(out, uid)
		}
	}
	slices.Sort(out)
	return out, nil
}

// readBatch reads the headers of batch, then the whole messages whose code want accepts.
func (s *session) readBatch(batch []imap.UID, want func(string) bool, cfg Config) ([]Receipt, error) {
	var heads []*imapclient.FetchMessageBuffer
	err := s.do(func() (err error) {
		opts := &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{headerSection}}
		heads, err = s.c.Fetch(imap.UIDSetNum(batch...), opts).Collect()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pecmail: read headers from %s: %w", s.host, err)
	}
	var wanted []imap.UID
	for _, h := range heads {
		hdr, _, err := readHeader(h.FindBodySection(headerSection))
		if err != nil {
			continue // a header nobody can read names no code: nothing to want
		}
		if want(client.Classify(decodedSubject(hdr), "").Code) {
			wanted = append(wanted, h.UID)
		}
	}
	slices.Sort(wanted)
	var out []Receipt
	for len(wanted) > 0 {
		n := min(bodyBatch, len(wanted))
		var msgs []*imapclient.FetchMessageBuffer
		err := s.do(func() (err error) {
			opts := &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{wholeSection}}
			msgs, err = s.c.Fetch(imap.UIDSetNum(wanted[:n]...), opts).Collect()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("pecmail: read receipts from %s: %w", s.host, err)
		}
		for _, m := range msgs {
			r := Parse(m.FindBodySection(wholeSection), cfg.Trust)
			r.UID = uint32(m.UID)
			out = append(out, r)
		}
		wanted = wanted[n:]
	}
	slices.SortFunc(out, func(a, b Receipt) int { return cmp.Compare(a.UID, b.UID) })
	return out, nil
}

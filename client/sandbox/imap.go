package sandbox

// The sandbox's mailbox over IMAP (imaps, implicit TLS): the same
// receipts as GET /send/{code} and GET /inbox, as signed PEC messages.

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"golang.org/x/sync/errgroup"
)

// imapMailbox is the only mailbox the IMAP side has, as the REST API's
// GET /quota/{mailbox} has only INBOX.
const imapMailbox = "INBOX"

// errReadOnly answers every IMAP command that would change the mailbox:
// it changes through the REST API only (DELETE /send/{code}, DELETE
// /inbox/{id}), so both views stay one mailbox.
var errReadOnly = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Text: "the sandbox mailbox is read-only over IMAP: delete receipts with the REST API",
}

// imapState is the IMAP side: an imapmemserver user whose INBOX follows
// the sandbox's mailbox, and the server that serves it.
type imapState struct {
	srv  *imapserver.Server
	user *imapmemserver.User
	ca   *testCA

	syncMu sync.Mutex         // one sync at a time, so UIDs follow ids
	uids   map[int64]imap.UID // sandbox message id → UID in INBOX
	lastID int64              // highest sandbox message id appended
}

// imapSide returns the IMAP side, building it (and the test CA) on first
// use. From then on the sandbox keeps the attachments of every send, for
// the postacert.eml of its CONSEGNA.
func (s *Server) imapSide() (*imapState, error) {
	s.imapMu.Lock()
	defer s.imapMu.Unlock()
	if s.imap != nil {
		return s.imap, nil
	}
	ca, err := s.ca()
	if err != nil {
		return nil, err
	}
	user := imapmemserver.NewUser(s.opts.Username, "")
	if err := user.Create(imapMailbox, nil); err != nil {
		return nil, fmt.Errorf("sandbox: IMAP mailbox: %w", err)
	}
	st := &imapState{user: user, ca: ca, uids: map[int64]imap.UID{}}
	st.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &imapSession{UserSession: imapmemserver.NewUserSession(user), s: s, st: st}, nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}},
		Logger: imapLogger{s},
	})
	s.keepFiles.Store(true)
	s.imap = st
	return st, nil
}

// keptFiles returns the attachments to keep with a send: none until the
// IMAP side exists, so a REST-only sandbox holds no more than before.
func (s *Server) keptFiles(req *sendRequest) [][]byte {
	if s.keepFiles.Load() {
		return req.Files
	}
	return nil
}

// ServeIMAP serves the sandbox's mailbox over IMAP with implicit TLS
// (imaps) on ln, until CloseIMAP; it returns like http.Server.Serve. The
// TLS certificate is for localhost, 127.0.0.1 and ::1, issued by
// CACertificate. LOGIN takes the mailbox credentials of Options (the REST
// API's x-username and x-password); FaultIMAPLogin refuses it. INBOX holds
// one message per receipt of the REST mailbox, arriving at the same
// sandbox time (when a SELECT, EXAMINE, STATUS or NOOP looks), with the
// same subject and date; its UIDVALIDITY stays the same for the sandbox's
// life. Call ServeIMAP before the sends whose CONSEGNA must carry their
// attachments in postacert.eml.
func (s *Server) ServeIMAP(ln net.Listener) error {
	st, err := s.imapSide()
	if err != nil {
		return err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{st.ca.tls}, MinVersion: tls.VersionTLS12}
	return st.srv.Serve(tls.NewListener(ln, cfg))
}

// EnableIMAP builds the IMAP side without serving it yet: the sandbox
// keeps attachments from now on, for sends made before ServeIMAP starts.
func (s *Server) EnableIMAP() error {
	_, err := s.imapSide()
	return err
}

// CloseIMAP stops the IMAP server: its listeners and connections close and
// ServeIMAP returns. It does nothing if ServeIMAP was never called.
func (s *Server) CloseIMAP() error {
	s.imapMu.Lock()
	st := s.imap
	s.imapMu.Unlock()
	if st == nil {
		return nil
	}
	if err := st.srv.Close(); err != nil {
		return fmt.Errorf("sandbox: closing IMAP: %w", err)
	}
	return nil
}

// syncIMAP brings INBOX in line with the sandbox's mailbox: receipts due
// by now arrive (as for a REST read), new ones are appended as signed
// messages, and those deleted through the REST API are expunged.
func (s *Server) syncIMAP(st *imapState) error {
	st.syncMu.Lock()
	defer st.syncMu.Unlock()
	s.mu.Lock()
	s.arriveLocked()
	var added []*message
	for _, m := range s.inbox {
		if m.id > st.lastID {
			added = append(added, m)
		}
	}
	var removed imap.UIDSet
	for id, uid := range st.uids {
		if s.byID[id] == nil {
			removed.AddNum(uid)
			delete(st.uids, id)
		}
	}
	s.mu.Unlock()

	// Signing is most of the cost (a few ms a receipt): a burst of
	// thousands is built on every core, then appended in id order.
	raws := make([][]byte, len(added))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, m := range added {
		g.Go(func() (err error) {
			raws[i], err = buildReceipt(m, st.ca, s.loc)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, m := range added {
		raw := raws[i]
		shown := m.ev.at
		if !m.ev.shownAt.IsZero() {
			shown = m.ev.shownAt
		}
		data, err := st.user.Append(imapMailbox, bytes.NewReader(raw), &imap.AppendOptions{Time: shown})
		if err != nil {
			return fmt.Errorf("sandbox: IMAP append: %w", err)
		}
		st.uids[m.id], st.lastID = data.UID, m.id
	}
	if len(removed) == 0 {
		return nil
	}
	sess := imapmemserver.NewUserSession(st.user)
	defer sess.Close()
	if _, err := sess.Select(imapMailbox, nil); err != nil {
		return fmt.Errorf("sandbox: IMAP expunge: %w", err)
	}
	deleted := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := sess.Store(nil, removed, deleted, nil); err != nil {
		return fmt.Errorf("sandbox: IMAP expunge: %w", err)
	}
	if err := sess.Expunge(nil, &removed); err != nil {
		return fmt.Errorf("sandbox: IMAP expunge: %w", err)
	}
	return nil
}

// imapSession is one IMAP connection: imapmemserver's session over the
// synced INBOX, with the sandbox's login and no writes.
type imapSession struct {
	*imapmemserver.UserSession
	s  *Server
	st *imapState
}

// Login checks the mailbox credentials, like the REST API's x-username
// and x-password, unless FaultIMAPLogin is in force.
func (x *imapSession) Login(username, password string) error {
	x.s.mu.Lock()
	fault := x.s.fault
	x.s.mu.Unlock()
	if fault == FaultIMAPLogin {
		x.s.log.Info("sandbox: IMAP login refused (fault)")
		return imapserver.ErrAuthFailed
	}
	if !x.s.credentialsOK(username, password) {
		x.s.log.Info("sandbox: IMAP login refused: credentials")
		return imapserver.ErrAuthFailed
	}
	return nil
}

func (x *imapSession) sync() error {
	if err := x.s.syncIMAP(x.st); err != nil {
		x.s.log.Error("sandbox: IMAP sync", "error", err)
		return err
	}
	return nil
}

// Select syncs INBOX first, so a SELECT or EXAMINE sees every receipt due.
func (x *imapSession) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if err := x.sync(); err != nil {
		return nil, err
	}
	return x.UserSession.Select(name, options)
}

// Status syncs INBOX first.
func (x *imapSession) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	if err := x.sync(); err != nil {
		return nil, err
	}
	return x.UserSession.Status(name, options)
}

// Poll (after NOOP and most commands) syncs INBOX first, so new receipts
// are announced with EXISTS.
func (x *imapSession) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if err := x.sync(); err != nil {
		return err
	}
	return x.UserSession.Poll(w, allowExpunge)
}

// idleSync is how often a connection in IDLE looks for new receipts: the
// sandbox clock may be a manual one, so arrivals cannot be waited for.
const idleSync = time.Second

// Idle syncs INBOX and writes what changed (EXISTS, EXPUNGE) at once and
// then every idleSync until the client ends the IDLE. It polls rather than
// waiting on imapmemserver's tracker, which would miss an arrival synced
// just before it starts waiting.
func (x *imapSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	tick := time.NewTicker(idleSync)
	defer tick.Stop()
	for {
		if err := x.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
	}
}

// Create refuses: the mailbox is read-only over IMAP.
func (x *imapSession) Create(string, *imap.CreateOptions) error { return errReadOnly }

// Delete refuses: the mailbox is read-only over IMAP.
func (x *imapSession) Delete(string) error { return errReadOnly }

// Rename refuses: the mailbox is read-only over IMAP.
func (x *imapSession) Rename(string, string, *imap.RenameOptions) error { return errReadOnly }

// Append refuses: the mailbox is read-only over IMAP.
func (x *imapSession) Append(string, imap.LiteralReader, *imap.AppendOptions) (*imap.AppendData, error) {
	return nil, errReadOnly
}

// Expunge refuses: the mailbox is read-only over IMAP.
func (x *imapSession) Expunge(*imapserver.ExpungeWriter, *imap.UIDSet) error { return errReadOnly }

// Store refuses: the mailbox is read-only over IMAP (a FETCH of BODY[]
// without PEEK still sets \Seen, which changes nothing the REST API shows).
func (x *imapSession) Store(*imapserver.FetchWriter, imap.NumSet, *imap.StoreFlags, *imap.StoreOptions) error {
	return errReadOnly
}

// Copy refuses: there is no other mailbox.
func (x *imapSession) Copy(imap.NumSet, string) (*imap.CopyData, error) { return nil, errReadOnly }

// Move refuses: there is no other mailbox.
func (x *imapSession) Move(*imapserver.MoveWriter, imap.NumSet, string) error { return errReadOnly }

// imapLogger sends the IMAP server's error lines to the sandbox's logger.
// The server logs no command data, so no password reaches it.
type imapLogger struct{ s *Server }

func (l imapLogger) Printf(format string, args ...any) {
	l.s.log.Warn("sandbox: IMAP: " + fmt.Sprintf(format, args...))
}

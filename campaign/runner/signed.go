package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pecbatch/pecbatch/journal"
)

// SignedSource reads the signed receipts from the sending mailbox
// (tracking.imap): the receipt messages themselves, with their daticert.xml
// parsed and their S/MIME signature checked. Deps.Signed is one; cmd
// builds it from client/pecmail.
type SignedSource interface {
	// Fetch returns the receipts after cur whose code want accepts, and the
	// cursor after them. A refused login is an error matching ErrSignedLogin.
	// On another error it may return, with the error, the receipts it read
	// before it and the cursor after those (cur when none): they are kept
	// when that cursor is past the one stored.
	Fetch(ctx context.Context, cur SignedCursor, want func(code string) bool) ([]SignedReceipt, SignedCursor, error)
}

// ErrSignedLogin is matched (errors.Is) by a SignedSource's error when the
// mailbox refused the credentials.
var ErrSignedLogin = errors.New("the mailbox refused the login")

// SignedCursor is where the last fetch stopped: the mailbox's UIDVALIDITY
// and the highest UID seen.
type SignedCursor struct{ UIDValidity, LastUID uint32 }

// Daticert is the parsed daticert.xml of a receipt; fields keep the XML's
// text, trimmed.
type Daticert struct {
	Tipo, Errore     string
	Mittente         string
	Destinatari      []Destinatario
	Oggetto          string
	GestoreEmittente string
	Data             time.Time
	Identificativo   string
	MsgID            string
	Ricevuta         string
	// Consegna is the addressee a delivery or non-delivery is about.
	Consegna     string
	ErroreEsteso string
}

// Destinatario is one addressee daticert lists, Tipo "certificato" or "esterno".
type Destinatario struct{ Address, Tipo string }

// Signature is the result of checking a receipt's S/MIME signature: Status
// is journal.SignatureValid, SignatureValidUntrusted, SignatureInvalid or
// SignatureMissing.
type Signature struct{ Status, Signer, Detail string }

// SignedReceipt is one receipt message read from the mailbox.
type SignedReceipt struct {
	UID uint32
	// Raw is the message exactly as the server gave it, SHA256 its hex hash.
	Raw    []byte
	SHA256 string
	// Subject is the decoded Subject, Kind the X-Ricevuta (or X-Trasporto)
	// value, Code the message id at the end of the subject.
	Subject, Kind, Code string
	// Daticert is nil when the message has none; DaticertErr says why it
	// could not be parsed.
	Daticert    *Daticert
	DaticertErr string
	Signature   Signature
	// Agrees says daticert is present and consistent with the message.
	Agrees bool
}

// journalSigned is r as the journal stores it, in the mailbox uidValidity.
func (r SignedReceipt) journalSigned(uidValidity uint32) journal.SignedReceipt {
	s := journal.SignedReceipt{
		Code: r.Code, UIDValidity: uidValidity, UID: r.UID, SHA256: r.SHA256, Raw: r.Raw, Subject: r.Subject,
		Kind: r.Kind, DaticertErr: r.DaticertErr, Signature: r.Signature.Status, Signer: r.Signature.Signer,
		SignatureDetail: r.Signature.Detail, Agrees: r.Agrees,
	}
	if d := r.Daticert; d != nil {
		s.HasDaticert = true
		s.Tipo, s.Errore, s.Consegna, s.ErroreEsteso = d.Tipo, d.Errore, d.Consegna, d.ErroreEsteso
		s.Identificativo, s.MsgID, s.Data = d.Identificativo, d.MsgID, d.Data
	}
	return s
}

// Defaults of the signed receipts' fetch.
const (
	// DefaultSignedInterval is how often the mailbox is read while tracking.
	DefaultSignedInterval = time.Minute
	// DefaultSignedTimeout bounds one fetch: a mailbox that hangs is a
	// problem to warn about, not a reason to wait. It is long because a
	// fetch that does not finish stores nothing, and the first one of a
	// full mailbox reads every receipt's headers; a server that stops
	// answering fails sooner, at the source's own per-operation timeout.
	DefaultSignedTimeout = 15 * time.Minute
	// signedLastFetch bounds the wait for the fetch when tracking ends.
	signedLastFetch = 30 * time.Second
	// signedWarnEvery is how often a problem already told is told again.
	signedWarnEvery = 10 * time.Minute
)

// signedFact is what one usable signed receipt decides of one recipient.
type signedFact struct {
	SHA256  string
	Address string
	State   journal.RecipientState
	At      time.Time
	Err     string
	// Warning is a time-limit warning (preavviso-errore-consegna), Key
	// what tells two warnings apart.
	Warning bool
	Key     string
}

// signedFacts reads what the usable signed receipts of the send code say
// of the row's recipients: a receipt decides only when its signature
// verifies, its daticert agrees with the message and names in <consegna>
// one of the recipients (any case). It also returns, for the log, why
// receipts of the send were not used.
func signedFacts(stored []journal.StoredSignedReceipt, code string, recipients []string) ([]signedFact, []string) {
	var facts []signedFact
	var ignored []string
	for _, s := range stored {
		if s.Code != code {
			continue // an earlier attempt's
		}
		if !s.Usable() {
			ignored = append(ignored, fmt.Sprintf("signed %s receipt %.12s: signature %s, daticert agrees %t: not used",
				s.Kind, s.SHA256, s.Signature, s.Agrees))
			continue
		}
		f := signedFact{SHA256: s.SHA256, At: s.Data, Key: s.Identificativo + "\x00" + s.Data.String()}
		switch s.Tipo {
		case "avvenuta-consegna":
			f.State = journal.RecipientDelivered
		case "errore-consegna", "rilevazione-virus":
			f.State, f.Err = journal.RecipientFailed, signedError(s)
			if s.Tipo == "errore-consegna" && strings.HasPrefix(strings.TrimSpace(s.ErroreEsteso), "5.4.1") {
				// The final time-limit notice, as some providers (and the
				// sandbox's mailbox) type it: expired, as the API's says.
				f.State = journal.RecipientExpired
			}
		case "preavviso-errore-consegna":
			f.Warning, f.State = true, journal.RecipientAccepted
			if strings.HasPrefix(strings.TrimSpace(s.ErroreEsteso), "5.4.1") {
				f.State, f.Err = journal.RecipientExpired, signedError(s)
			}
		default:
			continue // about the whole message: the API's acceptance decides
		}
		addr := strings.ToLower(strings.TrimSpace(s.Consegna))
		for _, r := range recipients {
			if strings.EqualFold(strings.TrimSpace(r), addr) {
				f.Address = strings.ToLower(strings.TrimSpace(r))
			}
		}
		if f.Address == "" {
			ignored = append(ignored, fmt.Sprintf("signed %s receipt %.12s names %q, not a recipient of the row: not used",
				s.Kind, s.SHA256, s.Consegna))
			continue
		}
		facts = append(facts, f)
	}
	return facts, ignored
}

func signedError(s journal.StoredSignedReceipt) string {
	switch {
	case s.ErroreEsteso != "":
		return s.ErroreEsteso
	case s.Tipo == "rilevazione-virus":
		return "refused: virus detected"
	case s.Errore != "" && s.Errore != "nessuno":
		return "not delivered: " + s.Errore
	}
	return "not delivered"
}

// signedOutcomes turns facts into the journal's outcomes, at most one per
// recipient: the first final fact by date decides, a second distinct
// warning expires the recipient.
func signedOutcomes(facts []signedFact) []journal.SignedOutcome {
	var order []string
	byAddr := map[string]*journal.SignedOutcome{}
	warnings := map[string]map[string]bool{}
	for _, f := range facts {
		o := byAddr[f.Address]
		if o == nil {
			o = &journal.SignedOutcome{Outcome: journal.Outcome{Address: f.Address, State: journal.RecipientPending}}
			byAddr[f.Address] = o
			order = append(order, f.Address)
		}
		if o.State.Final() {
			continue
		}
		state, errText := f.State, f.Err
		if f.Warning {
			if warnings[f.Address] == nil {
				warnings[f.Address] = map[string]bool{}
			}
			warnings[f.Address][f.Key] = true
			o.Warnings = len(warnings[f.Address])
			if o.Warnings >= 2 && !state.Final() {
				state, errText = journal.RecipientExpired, "second time-limit notice: not delivered in time"
			}
		}
		if state == journal.RecipientAccepted && o.State == journal.RecipientAccepted {
			continue
		}
		o.State, o.At, o.Error, o.SHA256 = state, f.At, errText, f.SHA256
	}
	out := make([]journal.SignedOutcome, 0, len(order))
	for _, a := range order {
		out = append(out, *byAddr[a])
	}
	return out
}

// signedFetcher reads the mailbox every interval alongside tracking,
// stores what it gets and applies what it decides. It never holds up
// sending or tracking: a problem is a warning and the run goes on as
// without it.
type signedFetcher struct {
	e        *runEnv
	src      SignedSource
	tr       *tracker
	interval time.Duration
	// timeout bounds a fetch, last the wait for the fetch when tracking
	// ends.
	timeout, last time.Duration
	// told is when each problem was last told.
	told map[string]time.Time
	// known are the codes the last fetch wanted (nil before the first),
	// marks when each fetch of this process began and from which cursor.
	known map[string]journal.SendCode
	marks []fetchMark
}

// fetchMark is when a fetch began and the cursor it read from.
type fetchMark struct {
	at  time.Time
	cur journal.SignedCursor
}

// maxMarks bounds the fetches remembered: a week at one a minute.
const maxMarks = 10000

// rescanFrom returns the cursor to read from: cur, or before it when a
// send became known only after a fetch that may have passed over its
// receipts (they were in the mailbox before the journal recorded the
// send's message id: a 201 recorded while a fetch ran, an unknown send
// reconciled later). Receipts read twice are stored once.
func (f *signedFetcher) rescanFrom(codes map[string]journal.SendCode, cur journal.SignedCursor, storedAt time.Time) journal.SignedCursor {
	from := cur
	lower := func(uid uint32) { from.LastUID = min(from.LastUID, uid) }
	for code, sc := range codes {
		if sc.SendingAt.IsZero() {
			continue // a retried attempt's: known since the retry
		}
		if f.known == nil {
			// The first fetch of this process: a send recorded submitted
			// after the stored fetch listed the sends it wanted was not
			// wanted by it, and its receipts may lie behind the cursor.
			if !storedAt.IsZero() && sc.SubmittedAt.After(storedAt) {
				lower(0)
			}
			continue
		}
		if _, ok := f.known[code]; ok {
			continue
		}
		// Its receipts came after it began: past the cursor of the last
		// fetch begun before that.
		uid := f.marks[0].cur.LastUID
		for i := len(f.marks) - 1; i >= 0; i-- {
			if f.marks[i].at.Before(sc.SendingAt) {
				uid = f.marks[i].cur.LastUID
				break
			}
		}
		lower(uid)
	}
	return from
}

// startSigned starts the fetcher of d.Signed, if any, and returns the
// function that ends it: one last fetch, bounded, unless ctx is done.
func (e *runEnv) startSigned(ctx context.Context, tr *tracker) (stop func()) {
	if e.signed == nil {
		return func() {}
	}
	f := &signedFetcher{e: e, src: e.signed, tr: tr, interval: e.signedInterval, timeout: e.signedTimeout,
		last: min(e.signedTimeout, signedLastFetch), told: map[string]time.Time{}}
	fctx, cancel := context.WithCancel(ctx)
	end := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.run(fctx, end)
	}()
	return func() {
		// A fetch under way when tracking ends counts as the last one:
		// either way the run waits at most f.last for it.
		close(end)
		select {
		case <-done:
		case <-e.clk.After(f.last):
		}
		cancel()
		<-done
	}
}

func (f *signedFetcher) run(ctx context.Context, end <-chan struct{}) {
	for {
		f.fetch(ctx, f.timeout)
		select {
		case <-ctx.Done():
			return
		case <-end:
			f.fetch(ctx, f.last)
			return
		case <-f.e.clk.After(f.interval):
		}
	}
}

// fetch reads the mailbox once, stores the receipts of this journal's
// sends and applies what they decide.
func (f *signedFetcher) fetch(ctx context.Context, timeout time.Duration) {
	if ctx.Err() != nil {
		return
	}
	wctx := context.WithoutCancel(ctx)
	// Taken before the list of sends: a send recorded after it is not
	// wanted by this fetch, and the next process must know to look back.
	asOf := f.e.clk.Now()
	cur, storedAt, err := f.e.j.SignedCursorAt(wctx)
	if err != nil {
		f.problem("journal", "could not read the mailbox cursor from the journal: %v", err)
		return
	}
	codes, err := f.e.j.SendCodes(wctx)
	if err != nil {
		f.problem("journal", "could not list the journal's sends: %v", err)
		return
	}
	from := f.rescanFrom(codes, cur, storedAt)
	began := f.e.clk.Now()
	fctx, cancel := context.WithTimeout(ctx, timeout)
	got, next, err := f.src.Fetch(fctx, SignedCursor(from), func(code string) bool { _, ok := codes[code]; return ok })
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		f.fetchProblem(err, timeout)
		if !partialCovers(SignedCursor(cur), next) {
			return
		}
		// The batches read before the error are kept: the next fetch
		// resumes after them instead of reading them again.
	}
	if next.UIDValidity == cur.UIDValidity && next.LastUID < cur.LastUID {
		next.LastUID = cur.LastUID // a rescan never moves the cursor back
	}
	rs := make([]journal.SignedReceipt, len(got))
	for i, r := range got {
		rs[i] = r.journalSigned(next.UIDValidity)
	}
	if _, err := f.e.j.AddSignedReceipts(wctx, rs, journal.SignedCursor(next), asOf); err != nil {
		f.problem("store", "could not store the signed receipts: %v; they are read again next time", err)
		return
	}
	f.known = codes
	f.marks = append(f.marks, fetchMark{at: began, cur: from})
	if len(f.marks) > maxMarks {
		f.marks = f.marks[len(f.marks)-maxMarks:]
	}
	rows := map[int64]bool{}
	for _, r := range got {
		if sc, ok := codes[r.Code]; ok {
			rows[sc.RowID] = true
		}
	}
	for id := range rows {
		f.apply(wctx, id)
	}
}

// fetchProblem tells of a fetch that failed with err.
func (f *signedFetcher) fetchProblem(err error, timeout time.Duration) {
	switch {
	case errors.Is(err, ErrSignedLogin):
		f.problem("login", "the mailbox refused the login for the signed receipts (tracking.imap): check the mailbox "+
			"password (sender.password) and tracking.imap; tracking goes on with the API's receipts only")
	case errors.Is(err, context.DeadlineExceeded):
		f.problem("slow", "the mailbox did not answer within %s (tracking.imap): the signed receipts are read again "+
			"later; tracking goes on with the API's receipts", timeout)
	default:
		f.problem("fetch:"+err.Error(), "could not read the signed receipts from the mailbox (tracking.imap): %v; "+
			"they are read again later, tracking goes on with the API's receipts", err)
	}
}

// partialCovers says whether a fetch that failed part way, its cursor
// next, read all it was asked to read again: it went past the stored
// cursor cur (or read a mailbox whose UIDVALIDITY changed). Only then is
// what it read kept as a fetch that ended there. A rescan that stopped
// below cur is not: keeping its cursor would mark as read the receipts it
// was to read again, and it is retried whole.
func partialCovers(cur, next SignedCursor) bool {
	if next.UIDValidity != cur.UIDValidity {
		return next.UIDValidity != 0 && next.LastUID > 0
	}
	return next.LastUID > cur.LastUID
}

// apply applies what the signed receipts of row id decide.
func (f *signedFetcher) apply(ctx context.Context, id int64) {
	row, err := f.e.j.Row(ctx, id)
	if err != nil || !row.State.Tracked() {
		return
	}
	stored, err := f.e.j.SignedReceiptsFor(ctx, id)
	if err != nil {
		f.problem("journal", "could not read the signed receipts of row %d: %v", row.RowNumber, err)
		return
	}
	facts, ignored := signedFacts(stored, row.MessageID, row.Recipients)
	log := f.e.log.With("row", row.RowNumber, "key", row.Key, "message_id", row.MessageID)
	for _, msg := range ignored {
		log.Warn("signed receipt not used", "detail", msg)
	}
	if len(facts) == 0 {
		return
	}
	res, err := f.e.j.ApplySignedOutcomes(ctx, id, signedOutcomes(facts))
	if err != nil {
		f.problem("journal", "could not apply the signed receipts of row %d: %v", row.RowNumber, err)
		return
	}
	if res.Conflicts > 0 {
		f.e.note(NoteSignedConflict, "Row %d (key %q): %d signed receipt(s) contradict a recipient's final state; "+
			"the state is kept, see `pecbatch status`.", row.RowNumber, row.Key, res.Conflicts)
	}
	if res.Changed() {
		f.tr.recheck(id)
	}
}

// problem tells people of a problem with the mailbox: once, then at most
// every signedWarnEvery while it lasts.
func (f *signedFetcher) problem(key, format string, args ...any) {
	now := f.e.clk.Now()
	if at, ok := f.told[key]; ok && now.Sub(at) < signedWarnEvery {
		return
	}
	f.told[key] = now
	msg := fmt.Sprintf(format, args...)
	f.e.log.Warn("signed receipts", "problem", msg)
	f.e.note(NoteSignedProblem, "Warning: %s", msg)
}

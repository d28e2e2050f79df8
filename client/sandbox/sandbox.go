package sandbox

import (
	"bytes"
	"container/heap"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// The receipts' dates are Europe/Rome times; embedding the zone database
	// keeps them right on machines without one (minimal containers, CI).
	_ "time/tzdata"
)

// The answers of the contract (client/testdata/openapi.json),
// spelling mistakes included.
const (
	msgUnauthorized    = "Authorization is not valid or empty"
	msgInvalidParam    = "Post parameter is not valid"
	msgTooManyRequests = "Too many requests"
	msgResultEmpty     = "Result empty"
	msgEmailNotFound   = "Email not found"
	msgMessageNotFound = "Message not found"
	msgOperationOK     = "Operation succefull"
	msgMessageDeleted  = "Message deleted"
	msgMySQLError      = "MySQL Error 2006"
	msgMailbox         = "An error occured: the requested mailbox might be unavailable"
	msgNotFound        = "Not found"
)

const (
	// PageSize is the number of messages in one page of GET /inbox.
	PageSize = 25
	// QuotaLimitKiB is the limit GET /quota/INBOX reports: 1 GiB in KiB,
	// the unit the contract's example (171012 of 1048576) reads as.
	QuotaLimitKiB = 1 << 20
	// MaxSendBytes bounds the body of POST /send: a 100 MB message (the
	// Flat plan's limit) in base64, with room for the JSON around it.
	MaxSendBytes = 140 << 20
)

// Options configures a sandbox. Start from DefaultOptions: New uses every
// field as given (an empty Token means no request is ever authorized).
type Options struct {
	// Token is the bearer token every call must carry.
	Token string
	// Username and Password are the PEC mailbox credentials: x-username and
	// x-password headers, or username and password in the body of POST /send.
	Username, Password string
	// AcceptDelay is the time from a send to its acceptance (or refusal).
	AcceptDelay time.Duration
	// DeliverDelay is the time from a send to its delivery or non-delivery.
	DeliverDelay time.Duration
	// WarnAfter is the time from a send to the "tempo massimo" warning of
	// slow.sandbox.test and expire.sandbox.test.
	WarnAfter time.Duration
	// ExpireAfter is the time from a send to the final notice (5.4.1) of
	// expire.sandbox.test.
	ExpireAfter time.Duration
	// SendRate is the number of POST /send answered per second; a request
	// inside the window gets 429 with Retry-After. 0 means unlimited.
	SendRate float64
	// FailRate is the probability that a send is answered 500 "MySQL Error
	// 2006" without being sent.
	FailRate float64
	// DropRate is the probability that a send is sent and then its
	// connection closed without any answer.
	DropRate float64
	// Seed seeds the fault injection and the styles of StyleMixed, so a
	// run's faults and receipts are reproducible.
	Seed int64
	// Receipts is the style of the receipts: StyleDocumented (also for ""),
	// StylePEC or StyleMixed. ParseReceiptStyle reads a flag value; New
	// takes any other value as StyleDocumented.
	Receipts ReceiptStyle
	// Fault is the account-level fault in force from the start (""
	// means FaultNone); Server.SetFault changes it during a run.
	Fault Fault
	// DailyLimit is the plan's daily cap: PEC messages (recipients) sent
	// per Europe/Rome day. A send that would pass it is refused whole with
	// 403 MsgDailyLimit. 0 means no cap.
	DailyLimit int
	// Now is the sandbox clock (nil means time.Now): send times, receipt
	// times and dates. A Clock's Now makes receipts move only on Advance.
	Now func() time.Time
	// RateNow is the clock of the SendRate window (nil means Now). Set it to
	// time.Now when Now is accelerated, so the window stays in real seconds
	// like the Retry-After a client waits.
	RateNow func() time.Time
	// Logger receives one line per send, fault and refusal (nil discards).
	// It never receives the token or the passwords.
	Logger *slog.Logger
}

// DefaultOptions returns the documented defaults of `pecbatch sandbox`:
// token sandbox-token, mailbox sandbox@pec.sandbox.test with password
// sandbox, acceptance after 1s, delivery after 3s, warning after 12h, expiry
// after 24h, one send per second, documented receipts, no faults, no daily
// cap, seed 0, real time.
func DefaultOptions() Options {
	return Options{
		Token:        "sandbox-token",
		Username:     "sandbox@pec.sandbox.test",
		Password:     "sandbox",
		AcceptDelay:  time.Second,
		DeliverDelay: 3 * time.Second,
		WarnAfter:    12 * time.Hour,
		ExpireAfter:  24 * time.Hour,
		SendRate:     1,
		Receipts:     StyleDocumented,
		Fault:        FaultNone,
	}
}

// SentAttachment is one attachment of a sent message: its name and decoded
// size in bytes.
type SentAttachment struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

// Send is a message the sandbox actually sent: what GET /_sandbox/sends
// lists, so tests can prove that nothing was sent twice or lost.
type Send struct {
	Code        string           `json:"code"`
	Time        time.Time        `json:"time"`
	Sender      string           `json:"sender"`
	Recipients  []string         `json:"recipients"`
	Subject     string           `json:"subject"`
	Attachments []SentAttachment `json:"attachments"`
	BodySHA256  string           `json:"body_sha256"`
}

// sendRecord is a Send with what the receipts need.
type sendRecord struct {
	Send
	seq      int64
	body     string
	files    [][]byte // the attachments' contents, kept only for IMAP
	size     int64    // the original message's bytes: body plus attachments
	style    ReceiptStyle
	unsorted bool // GET /send/{code} lists its receipts newest first
}

// Server is an in-memory PEC Massiva API. It is an http.Handler: serve it
// with net/http or httptest. It is safe for concurrent use.
type Server struct {
	opts    Options
	timing  timing
	now     func() time.Time
	rateNow func() time.Time
	log     *slog.Logger
	loc     *time.Location
	mux     *http.ServeMux

	mu       sync.Mutex
	token    string
	fault    Fault
	rng      *rand.Rand
	styleRng *rand.Rand // StyleMixed's draws, apart so faults keep their seed
	capDay   string     // the Rome day DailyLimit counts
	capSent  int        // messages sent on capDay
	seq      int64
	sends    []*sendRecord
	byCode   map[string]*sendRecord
	pending  eventQueue
	inbox    []*message // ascending id
	byID     map[int64]*message
	lastID   int64
	usage    int64 // bytes held in the mailbox
	lastSend time.Time
	sentOnce bool

	// The IMAP side (imap.go), built only when first needed.
	caMu      sync.Mutex
	testCA    *testCA
	keepFiles atomic.Bool // attachments are kept for postacert.eml
	imapMu    sync.Mutex
	imap      *imapState
}

// New returns a sandbox configured by opts.
func New(opts Options) *Server {
	s := &Server{
		opts: opts,
		timing: timing{
			acceptDelay: opts.AcceptDelay, deliverDelay: opts.DeliverDelay,
			warnAfter: opts.WarnAfter, expireAfter: opts.ExpireAfter,
		},
		now:     opts.Now,
		rateNow: opts.RateNow,
		log:     opts.Logger,
		token:   opts.Token,
		fault:   opts.Fault,
		rng:     rand.New(rand.NewPCG(uint64(opts.Seed), 0x5ec0_5a4d_b0c5)),
		// A stream of its own: adding StyleMixed must not move the faults
		// a seed gave before.
		styleRng: rand.New(rand.NewPCG(uint64(opts.Seed), 0x57_1e_5ec0)),
		byCode:   map[string]*sendRecord{},
		byID:     map[int64]*message{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rateNow == nil {
		s.rateNow = s.now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if style, err := ParseReceiptStyle(string(opts.Receipts)); err == nil {
		s.opts.Receipts = style
	} else {
		s.log.Warn("sandbox: unknown receipt style, using documented", "style", opts.Receipts)
		s.opts.Receipts = StyleDocumented
	}
	if f, err := ParseFault(string(opts.Fault)); err == nil {
		s.fault = f
	} else {
		s.log.Warn("sandbox: unknown fault, using none", "fault", opts.Fault)
		s.fault = FaultNone
	}
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		// Unreachable with time/tzdata linked in; keep the summer offset of
		// the contract's examples rather than fail.
		loc = time.FixedZone("CEST", 2*60*60)
	}
	s.loc = loc

	mux := http.NewServeMux()
	mux.HandleFunc("POST /send", s.handleSend)
	mux.HandleFunc("GET /send/{code}", s.mailbox(s.handleReceipts))
	mux.HandleFunc("DELETE /send/{code}", s.mailbox(s.handleDeleteReceipts))
	mux.HandleFunc("GET /inbox", s.mailbox(s.handleInbox))
	mux.HandleFunc("GET /inbox/{id}", s.mailbox(s.handleInboxMessage))
	mux.HandleFunc("DELETE /inbox/{id}", s.mailbox(s.handleDeleteInboxMessage))
	mux.HandleFunc("GET /quota/{mailbox}", s.mailbox(s.handleQuota))
	mux.HandleFunc("GET /_sandbox/sends", s.handleSends)
	mux.HandleFunc("GET /_sandbox/ca.pem", s.handleCAPEM)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, failure(msgNotFound))
	})
	s.mux = mux
	return s
}

// ServeHTTP answers one API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The path holds codes and ids only; credentials live in headers.
	s.log.Debug("sandbox: request", "method", r.Method, "path", r.URL.Path)
	s.mu.Lock()
	fault := s.fault
	s.mu.Unlock()
	// The proxy stands in front of the API, not of the sandbox's own
	// endpoint, which tests read to know what was really sent.
	if fault == FaultProxy502 && !strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.log.Info("sandbox: proxy 502 (fault)", "method", r.Method, "path", r.URL.Path)
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", strconv.Itoa(len(proxy502Page)))
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, proxy502Page)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// SetFault puts an account-level fault in force from the next call on
// (FaultNone lifts it), as when the mailbox password is changed at the
// provider or the day's cap is reached during a run.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetToken replaces the bearer token: calls with the old one get 401 from now
// on, as when a token is revoked or rotated during a run.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// Sends returns every message actually sent, in the order they were sent:
// the data of GET /_sandbox/sends.
func (s *Server) Sends() []Send {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Send, len(s.sends))
	for i, rec := range s.sends {
		out[i] = rec.Send
		out[i].Recipients = slices.Clone(rec.Recipients)
		out[i].Attachments = slices.Clone(rec.Attachments)
	}
	return out
}

type envelope struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

func failure(msg string) envelope { return envelope{Success: false, Message: msg} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	// Bodies are HTML; \u003cb\u003e would make curl sessions unreadable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value written is built from strings and numbers here.
		panic("sandbox: encoding an answer: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(body.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes())
}

// bearerOK reports whether r carries the current token.
func (s *Server) bearerOK(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	s.mu.Lock()
	want := s.token
	s.mu.Unlock()
	return want != "" && token != "" && equal(token, want)
}

func (s *Server) credentialsOK(username, password string) bool {
	// Both compared, always, so the time taken does not tell which was wrong.
	u := equal(username, s.opts.Username)
	p := equal(password, s.opts.Password)
	return u && p && username != ""
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// mailbox guards an operation that needs the token and the mailbox
// credentials in the x-username and x-password headers.
func (s *Server) mailbox(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.bearerOK(r) || !s.credentialsOK(r.Header.Get("x-username"), r.Header.Get("x-password")) {
			s.log.Info("sandbox: refused: authorization", "method", r.Method, "path", r.URL.Path)
			writeJSON(w, http.StatusUnauthorized, failure(msgUnauthorized))
			return
		}
		h(w, r)
	}
}

// handleSend is POST /send.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	if !s.bearerOK(r) {
		s.log.Info("sandbox: send refused: authorization")
		writeJSON(w, http.StatusUnauthorized, failure(msgUnauthorized))
		return
	}
	raw, err := decodeSendRequest(http.MaxBytesReader(w, r.Body, MaxSendBytes))
	if err != nil {
		s.log.Info("sandbox: send refused: invalid", "error", err)
		writeJSON(w, http.StatusBadRequest, failure(msgInvalidParam))
		return
	}
	if !s.credentialsOK(raw.Username, raw.Password) {
		s.log.Info("sandbox: send refused: mailbox credentials")
		writeJSON(w, http.StatusUnauthorized, failure(msgUnauthorized))
		return
	}
	req, err := raw.validate()
	if err != nil {
		s.log.Info("sandbox: send refused: invalid", "error", err)
		writeJSON(w, http.StatusBadRequest, failure(msgInvalidParam))
		return
	}

	s.mu.Lock()
	if wait := s.rateWaitLocked(s.rateNow()); wait > 0 {
		s.mu.Unlock()
		seconds := max(1, int(math.Ceil(wait.Seconds())))
		s.log.Info("sandbox: send refused: rate", "retry_after", seconds)
		w.Header().Set("Retry-After", strconv.Itoa(seconds))
		writeJSON(w, http.StatusTooManyRequests, failure(msgTooManyRequests))
		return
	}
	if refused := s.accountFaultLocked(len(req.Recipients)); refused != nil {
		s.mu.Unlock()
		s.log.Info("sandbox: send refused: account fault", "fault", refused.fault)
		writeJSON(w, refused.status, refused.body)
		return
	}
	// Both draws happen on every send, so a seed gives the same faults
	// whatever the rates.
	fail := s.rng.Float64() < s.opts.FailRate
	drop := s.rng.Float64() < s.opts.DropRate
	if fail {
		s.mu.Unlock()
		s.log.Info("sandbox: send failed (injected): nothing sent")
		writeJSON(w, http.StatusInternalServerError, failure(msgMySQLError))
		return
	}
	rec := s.recordLocked(req)
	s.capSent += len(rec.Recipients)
	s.mu.Unlock()

	if drop {
		s.log.Info("sandbox: send dropped (injected): sent, no answer", "code", rec.Code, "recipients", len(rec.Recipients))
		dropConnection(w)
		return
	}
	s.log.Info("sandbox: sent", "code", rec.Code, "recipients", len(rec.Recipients))
	writeJSON(w, http.StatusCreated, struct {
		Success   bool   `json:"success"`
		Sent      int    `json:"sent"`
		Message   string `json:"message"`
		MessageID string `json:"message_id"`
	}{true, len(rec.Recipients), "", rec.Code})
}

// accountRefusal is the answer to a send refused by an account fault.
type accountRefusal struct {
	fault  Fault
	status int
	body   any
}

// accountFaultLocked returns the answer of the account fault in force for a
// send of n messages, or nil if the send may go ahead.
func (s *Server) accountFaultLocked(n int) *accountRefusal {
	type sendAnswer struct {
		Success   bool   `json:"success"`
		Sent      int    `json:"sent"`
		Message   string `json:"message"`
		MessageID string `json:"message_id"`
	}
	switch s.fault {
	case FaultSMTPAuth:
		return &accountRefusal{s.fault, http.StatusCreated, sendAnswer{true, 0, "", SMTPAuthError}}
	case FaultSMTPAuthFalse:
		return &accountRefusal{s.fault, http.StatusCreated, sendAnswer{false, 0, SMTPAuthError, SMTPAuthError}}
	case FaultDailyLimit:
		return &accountRefusal{s.fault, http.StatusForbidden, failure(MsgDailyLimit)}
	}
	if day := s.now().In(s.loc).Format(time.DateOnly); day != s.capDay {
		s.capDay, s.capSent = day, 0
	}
	if s.opts.DailyLimit > 0 && s.capSent+n > s.opts.DailyLimit {
		return &accountRefusal{FaultDailyLimit, http.StatusForbidden, failure(MsgDailyLimit)}
	}
	return nil
}

// rateWaitLocked returns how long a send arriving at now must still wait, and
// if it need not, opens a new window at now: a refused request does not
// consume the window, an accepted one does (even if it then fails).
func (s *Server) rateWaitLocked(now time.Time) time.Duration {
	if s.opts.SendRate > 0 && s.sentOnce {
		interval := time.Duration(float64(time.Second) / s.opts.SendRate)
		if wait := s.lastSend.Add(interval).Sub(now); wait > 0 {
			return wait
		}
	}
	s.lastSend, s.sentOnce = now, true
	return 0
}

// recordLocked records a sent message and schedules its receipts.
func (s *Server) recordLocked(req *sendRequest) *sendRecord {
	now := s.now()
	s.seq++
	size := int64(len(req.Body))
	for _, a := range req.Attachments {
		size += int64(a.Size)
	}
	rec := &sendRecord{
		Send: Send{
			Code:        s.newCodeLocked(now),
			Time:        now,
			Sender:      req.Sender,
			Recipients:  req.Recipients,
			Subject:     req.Subject,
			Attachments: req.Attachments,
			BodySHA256:  req.BodySHA256,
		},
		seq:   s.seq,
		body:  req.Body,
		files: s.keptFiles(req),
		size:  size,
		style: s.opts.Receipts,
	}
	if rec.style == StyleMixed {
		rec.style = []ReceiptStyle{StyleDocumented, StylePEC}[s.styleRng.IntN(2)]
	}
	rec.unsorted = hasDomain(rec, DomainUnsorted)
	s.sends = append(s.sends, rec)
	s.byCode[rec.Code] = rec
	for _, ev := range schedule(s.timing, rec) {
		heap.Push(&s.pending, ev)
	}
	return rec
}

// newCodeLocked returns a message_id of the contract's shape: the Rome time
// of the send to the second and two more digits (2020082610003492), longer
// only if a hundred sends share one second.
func (s *Server) newCodeLocked(now time.Time) string {
	stamp := now.In(s.loc).Format("20060102150405")
	code := stamp + fmt.Sprintf("%02d", s.seq%100)
	for n := s.seq; s.byCode[code] != nil; n += 100 {
		code = stamp + strconv.FormatInt(n, 10)
	}
	return code
}

// dropConnection closes the connection without writing any answer: the send
// was acted on, and the client cannot know it.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, a recorder): this makes net/http abort
		// the response, which is the same thing for the client.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

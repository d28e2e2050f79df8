package runner

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/pecbatch/pecbatch/client"
	"github.com/pecbatch/pecbatch/journal"
)

// Deps are what every operation of the runner (Run, Poll, TestSend) is
// given rather than decides: how it reaches the API, what time it is, where
// its diagnostics and its messages for people go, and the tuning the
// built-in sandbox needs. The zero value talks to the campaign's API with
// the system clock, logs to slog.Default and prints nothing.
type Deps struct {
	// Client talks to the API; nil means one built from the campaign.
	Client *client.Client
	// HTTPClient is used by the Client built from the campaign; nil means a
	// default one.
	HTTPClient *http.Client
	// Endpoint identifies the API in the journal; "" means the campaign's
	// api.base_url. A journal never resumes against another endpoint.
	Endpoint string
	// Clock is the source of time; nil means the system clock.
	Clock Clock
	// Seed seeds the jitter of backoffs and polls; 0 means a seed from the
	// clock.
	Seed uint64
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger
	// Printer receives what happens, for people; nil prints nothing.
	Printer Printer
	// Tuning adjusts the waits of reconciliation and tracking.
	Tuning Tuning
	// LedgerPath is the claim ledger of the sending mailbox, shared by
	// every journal that sends from it (see journal.Ledger); "" means
	// journal.DefaultLedgerPath of sender.address. Tests and the built-in
	// sandbox, whose message ids mean nothing to the real service, set
	// their own.
	LedgerPath string
	// SaveReports, when not nil, writes the delivery reports of the journal
	// at the end of a run or a poll and returns their paths; name is the
	// campaign's name as the report files carry it ("-sandbox" added for
	// the built-in sandbox). cmd passes the report package's writer, so that
	// the runner never depends on how a report looks.
	SaveReports func(ctx context.Context, r *journal.Reader, name string) ([]string, error)
	// Signed reads the signed receipts from the sending mailbox
	// (tracking.imap) alongside tracking; nil means the API's receipts
	// only. It never holds up sending or tracking.
	Signed SignedSource
}

// Tuning adjusts the waits of reconciliation and tracking. The zero value
// keeps the defaults and the campaign's settings; the built-in sandbox,
// whose notices come in seconds rather than hours, sets them all.
type Tuning struct {
	// AcceptanceDelay is how long the provider takes to accept a message:
	// the acceptance of an ambiguous send is first looked for after it, and
	// a row's first poll (while no delivery latency is learned) comes at
	// three quarters of it. 0 means DefaultAcceptanceDelay.
	AcceptanceDelay time.Duration
	// ClockSkew is the tolerance between the service's clock and ours when
	// matching receipts to sends; 0 means DefaultClockSkew.
	ClockSkew time.Duration
	// Notices overrides the ages of the time-limit notices (12 h and 24 h)
	// the poll schedule expects.
	Notices []time.Duration
	// GiveUpAfter overrides tracking.give_up_after; 0 keeps it.
	GiveUpAfter time.Duration
	// TimeScale, above 1, says that Clock runs that many times faster than
	// real time (a ScaledClock, `run --sandbox --time-scale`): the pacing
	// of sends and polls, which counts real seconds, is made as many times
	// faster, so that sending.rate holds in the clock's time.
	TimeScale float64
	// SignedInterval is how often Deps.Signed is read while tracking; 0
	// means DefaultSignedInterval.
	SignedInterval time.Duration
	// SignedTimeout bounds one read of Deps.Signed; 0 means
	// DefaultSignedTimeout.
	SignedTimeout time.Duration
}

// Printer receives what an operation of the runner does, as it happens:
// the runner says what, the command decides how it looks (a terminal with a
// progress bar, plain lines, JSON). Its methods are called from several
// goroutines at once and must not block for long.
type Printer interface {
	// Plan is what a run is about to do, before its confirmation.
	Plan(Plan)
	// Start begins a phase (PhaseReconciling, PhaseSending, PhaseTracking) of total steps to
	// do now; before more were done already, by an earlier run or an earlier
	// phase (shown, not counted in total nor in the rate).
	Start(phase string, total, before int)
	// Step says that done of the phase's total steps are done; detail, when
	// not empty, describes how things stand. done may pass total when more
	// work joined the phase (an unknown row found and then tracked).
	Step(phase string, done, total int, detail string)
	// End ends the phase.
	End(phase string)
	// Note is something that happened, for people.
	Note(Note)
}

// The phases a Printer is told about.
const (
	// PhaseReconciling: the mailbox is searched for the sends whose
	// outcome is unknown, a step per row, the page in the detail.
	PhaseReconciling = "reconciling"
	PhaseSending     = "sending"
	PhaseTracking    = "tracking"
)

// Note is one thing that happened, told to people through a Printer. Kind
// names it for tests and machines; Text says it in English, one or more
// lines without the final newline.
type Note struct {
	Kind NoteKind
	Text string
}

// NoteKind names what a Note tells.
type NoteKind string

// The kinds of notes.
const (
	// NotePreflight lists the problems that stopped a run before sending.
	NotePreflight NoteKind = "preflight_problems"
	// NoteNotConfirmed: the plan was not confirmed, nothing sent.
	NoteNotConfirmed NoteKind = "not_confirmed"
	// NoteChangesAccepted: --allow-changes amended the journal.
	NoteChangesAccepted NoteKind = "changes_accepted"
	// NoteDuplicateContent: --allow-duplicate-content lets rows send a
	// message already sent (or sent twice in this run).
	NoteDuplicateContent NoteKind = "duplicate_content"
	// NoteQuota warns that the receipts may not fit in the mailbox.
	NoteQuota NoteKind = "quota_warning"
	// NoteSendingDone: every send is done, tracking goes on.
	NoteSendingDone NoteKind = "sending_done"
	// NoteTracking: a poll starts tracking a campaign.
	NoteTracking NoteKind = "tracking"
	// NoteNotSentYet: a poll found rows no run has sent.
	NoteNotSentYet NoteKind = "not_sent_yet"
	// NoteReconciled: unknown rows were looked for in the mailbox.
	NoteReconciled NoteKind = "reconciled"
	// NoteNotResent: an unknown row is kept unknown rather than resent.
	NoteNotResent NoteKind = "not_resent"
	// NoteWithinWindow: unknown rows are still in their reconciliation
	// window.
	NoteWithinWindow NoteKind = "within_window"
	// NoteReport names a delivery report written.
	NoteReport NoteKind = "report"
	// NoteCounts sums up the rows by state at the end.
	NoteCounts NoteKind = "counts"
	// NoteInterrupted: the operation was stopped and can be resumed.
	NoteInterrupted NoteKind = "interrupted"
	// NoteUnattributed: receipts of a row with several recipients named no
	// addressee, so some recipients end not certifiable.
	NoteUnattributed NoteKind = "receipts_unattributed"
	// NoteTestSent: a test message was sent.
	NoteTestSent NoteKind = "test_sent"
	// NoteClaimConflict: a message id of this journal belongs to a row of
	// another journal in the mailbox's claim ledger.
	NoteClaimConflict NoteKind = "claim_conflict"
	// NoteSignedProblem: the signed receipts could not be read from the
	// mailbox (login refused, slow, down); tracking goes on without them.
	NoteSignedProblem NoteKind = "signed_receipts_problem"
	// NoteSignedConflict: a signed receipt contradicts a recipient's final
	// state, which is kept.
	NoteSignedConflict NoteKind = "signed_receipt_conflict"
)

// discard is the Printer of a zero Deps.
type discard struct{}

func (discard) Plan(Plan)                     {}
func (discard) Start(string, int, int)        {}
func (discard) Step(string, int, int, string) {}
func (discard) End(string)                    {}
func (discard) Note(Note)                     {}

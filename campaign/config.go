package campaign

import (
	"crypto/x509"
	"errors"
	"io"
	"os"
	"time"

	"github.com/pecbatch/pecbatch/template"
)

// Defaults of the campaign file.
const (
	// DefaultBaseURL is the production PEC Massiva API.
	DefaultBaseURL = "https://ws.pecmassiva.com"
	// DefaultMaxSize is the legal PEC limit of a message, 30 MB.
	DefaultMaxSize int64 = 30_000_000
	// MaxMaxSize is the largest message.max_size: the 100 MB of the Flat plan.
	MaxMaxSize int64 = 100_000_000
	// DefaultDailyLimit is the Standard plan's limit of messages a day.
	DefaultDailyLimit = 3500
	// DefaultMaxConsecutiveErrors stops a run after this many failed sends in a row.
	DefaultMaxConsecutiveErrors = 10
	// DefaultReconcileWindow is how long a run looks for the acceptance of a
	// send whose outcome is unknown.
	DefaultReconcileWindow = 10 * time.Minute
	// DefaultGiveUpAfter is how long tracking waits for a row's outcome.
	DefaultGiveUpAfter = 26 * time.Hour
	// DefaultAPITimeout bounds one request to the API (api.timeout): the
	// client's own default.
	DefaultAPITimeout = 2 * time.Minute
)

// Values of recipients.duplicates.
const (
	// DuplicatesError makes two rows with the same key an error.
	DuplicatesError = "error"
	// DuplicatesSkip skips every row whose key an earlier row already has.
	DuplicatesSkip = "skip"
)

// maxCampaignFile bounds the campaign file; a real one is a few KB.
const maxCampaignFile = 1 << 20

// LoadOptions says where a campaign file comes from and how to complete it.
type LoadOptions struct {
	// Path is the campaign file's path: it names the file in problems, and
	// relative paths in it are relative to its folder. Empty means a file
	// named "campaign.yaml" in the current directory.
	Path string
	// LookupEnv expands ${VAR}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// OverrideAPI, when set (the runner's --sandbox), replaces the API
	// endpoint and credentials of the file; ${VAR}s in the fields it replaces
	// are then not required.
	OverrideAPI *APIOverride
	// Offline is for commands that never contact the API (validate,
	// preview): an unset variable in api.base_url, api.token,
	// sender.username or sender.password is then a warning, not an error,
	// and those fields may be empty. Everything else is checked as for a run.
	Offline bool
}

// APIOverride replaces the API settings of a campaign file.
type APIOverride struct {
	// BaseURL, Token, Username and Password replace api.base_url, api.token,
	// sender.username and sender.password.
	BaseURL, Token, Username, Password string
	// Sender, when not empty, replaces sender.address too.
	Sender string
}

// Campaign is a decoded campaign file: defaults applied, ${VAR}s expanded,
// paths made absolute and templates parsed. It is immutable after Load and
// safe for concurrent use.
type Campaign struct {
	// Name is the campaign's name (the name key).
	Name string
	// Path is the absolute path of the campaign file; Dir its folder, the
	// root every per-row attachment must stay inside.
	Path, Dir string
	// API is where and how to reach PEC Massiva.
	API API
	// Sender is the sending PEC mailbox.
	Sender Sender
	// Recipients says how to read the recipients file.
	Recipients Recipients
	// Message holds the message settings other than the templates.
	Message MessageSettings
	// Sending holds the send pacing and journal settings.
	Sending Sending
	// Tracking holds the delivery-tracking settings.
	Tracking Tracking
	// Warnings lists what is not wrong but worth a look.
	Warnings []Problem

	fileName    string // the campaign file's name in problems
	fileSHA256  string
	root        string // Dir with symlinks resolved
	to, key     *template.Text
	toLine      int
	keyLine     int
	subject     *template.Text
	subjectLine int
	body        *template.HTML
	bodyName    string
	attachments []*attachmentSpec
	templates   []FingerprintPart // body and attachment templates, in file order
}

// API holds the api section.
type API struct {
	// BaseURL is the API endpoint, without a trailing slash.
	BaseURL string
	// Token is the Bearer token.
	Token Secret
	// Timeout bounds one request, from its start to the end of its answer
	// (api.timeout). A send that times out may have been acted on: its row
	// becomes unknown and is reconciled from the mailbox.
	Timeout time.Duration
}

// Sender holds the sender section.
type Sender struct {
	// Address is the sending PEC address, lower-cased.
	Address string
	// Username and Password are the PEC mailbox credentials.
	Username string
	Password Secret
}

// Recipients holds the recipients section (the to and key templates are
// applied by Messages and Preflight).
type Recipients struct {
	// File is the recipients CSV file's absolute path; FileName its name as
	// the campaign file writes it, used in problems.
	File, FileName string
	// Delimiter is the field separator; 0 means sniffed from the header.
	Delimiter rune
	// Encoding is EncodingUTF8, EncodingWindows1252 or EncodingISO88591.
	Encoding string
	// Duplicates is DuplicatesError or DuplicatesSkip.
	Duplicates string
}

// MessageSettings holds the message section's limits.
type MessageSettings struct {
	// MaxSize bounds a message: body plus base64 attachments, in bytes.
	MaxSize int64
}

// Sending holds the sending section.
type Sending struct {
	// Rate paces POST /send.
	Rate Rate
	// Journal is the journal file's absolute path.
	Journal string
	// MaxConsecutiveErrors stops a run after that many failed sends in a row.
	MaxConsecutiveErrors int
	// ReconcileWindow bounds the search for the acceptance of an unknown send.
	ReconcileWindow time.Duration
	// DailyLimit is the most sends a calendar day in Europe/Rome, counted
	// from the journal over every run of this campaign (not of other
	// campaigns on the same mailbox: it is this campaign's share of the
	// plan's daily limit). When it is reached, sending pauses until the
	// next day.
	DailyLimit int
	// Reference is ReferenceSubject to add each row's reference to its
	// subject (SubjectReference), "" for none.
	Reference string
	// Window is when sends may start (sending.window); the zero Window is
	// always open.
	Window Window
}

// Tracking holds the tracking section.
type Tracking struct {
	// GiveUpAfter is how long after its send a row without outcome expires.
	GiveUpAfter time.Duration
	// PollRate paces the receipt polls.
	PollRate Rate
	// DeleteReceipts deletes a final row's receipts from the mailbox once
	// archived.
	DeleteReceipts bool
	// IMAP is the mailbox the signed receipts are read from
	// (tracking.imap, "imaps://host:port", lower-case); "" means not
	// read. The login is the sender's username and password.
	IMAP string
	// IMAPTrust is the file of tracking.imap_trust, IMAPRoots its
	// certificates: the roots a receipt's signer must chain to for a
	// "valid" signature. nil: the chain is not checked.
	IMAPTrust string
	IMAPRoots *x509.CertPool
}

// LoadFile opens and loads the campaign file at path; see Load.
func LoadFile(path string, opts LoadOptions) (*Campaign, error) {
	opts.Path = path
	f, err := os.Open(path)
	if err != nil {
		return nil, fileOpenError(path, err)
	}
	defer f.Close()
	return Load(f, opts)
}

// fileOpenError turns a failure to open the campaign file into a problem.
func fileOpenError(path string, err error) error {
	msg := err.Error()
	var pe *os.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	if errors.Is(err, os.ErrNotExist) {
		msg = "no such file: check the path of the campaign file"
	}
	return &ValidationError{Problems: []Problem{{File: path, Message: msg}}, Count: 1}
}

// Load decodes a campaign file from r and checks everything that can be
// checked without reading the recipients: unknown keys (with a "did you
// mean"), values, ${VAR}s, files, template syntax. Every problem is
// reported at once, in a *ValidationError (errors.Is ErrInvalidInput).
// Templates and files are read from the campaign file's folder.
func Load(r io.Reader, opts LoadOptions) (*Campaign, error) {
	c, problems := load(r, opts)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems, Count: len(problems)}
	}
	return c, nil
}

// Package campaign reads a pecbatch campaign and checks it before anything
// is sent; it also runs the campaign (send, journal, reconcile) and tracks
// its receipts.
//
// The reading and checking half:
//
//   - Load / LoadFile decode the campaign file strictly (unknown keys are
//     errors naming their line), expand ${VAR}s, apply the defaults, resolve
//     paths against the campaign file's folder and parse the templates. Every
//     problem is reported at once in a *ValidationError, which wraps
//     ErrInvalidInput.
//   - NewRecipientsReader reads the recipients CSV file row by row in
//     constant memory: BOM, delimiter sniffing, legacy encodings, header
//     checks, ragged rows and bad quoting reported with their line.
//   - (*Campaign).Preflight renders and checks every row (templates,
//     addresses, attachments, sizes, duplicate keys) with a few workers and
//     returns a PreflightReport: every problem, with file, line, row and
//     field, and a Summary. ValidateFile is Load plus Preflight going as far
//     as a broken campaign allows: `pecbatch validate`.
//   - (*Campaign).Messages renders rows one at a time into the Message that
//     is sent, with its ContentHash: the same hash preflight computes without
//     holding the attachments, that preview writes in manifest.json and that
//     the runner records in the journal.
package campaign

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pecbatch/pecbatch/template"
	"go.yaml.in/yaml/v4"
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

// Secret is a token or password. It prints as "[redacted]" through fmt, slog
// and JSON, so that a stray %v never leaks it; Reveal returns the value.
type Secret string

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// String hides the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the secret from %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalText hides the secret from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue hides the secret from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

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
	// DailyLimit is the plan's number of messages a day, for the estimate.
	DailyLimit int
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
}

// scalar is one leaf value of the campaign file with its position.
type scalar struct {
	Value        string
	Line, Column int
	Set          bool
}

// UnmarshalYAML records a scalar and its position; a null is "not set".
func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	s.Line, s.Column = n.Line, n.Column
	switch n.Kind {
	case yaml.ScalarNode:
	case yaml.MappingNode:
		return errors.New("expected a single value, found a mapping of keys")
	case yaml.SequenceNode:
		return errors.New("expected a single value, found a list")
	default:
		return errors.New("expected a single value")
	}
	if n.ShortTag() == "!!null" {
		return nil
	}
	s.Value, s.Set = n.Value, true
	return nil
}

// rawConfig is the campaign file as written. Its yaml tags are the public
// key names; keep README and example files in step with them.
type rawConfig struct {
	Name scalar `yaml:"name"`
	API  struct {
		BaseURL scalar `yaml:"base_url"`
		Token   scalar `yaml:"token"`
		Timeout scalar `yaml:"timeout"`
	} `yaml:"api"`
	Sender struct {
		Address  scalar `yaml:"address"`
		Username scalar `yaml:"username"`
		Password scalar `yaml:"password"`
	} `yaml:"sender"`
	Recipients struct {
		File       scalar `yaml:"file"`
		Delimiter  scalar `yaml:"delimiter"`
		Encoding   scalar `yaml:"encoding"`
		To         scalar `yaml:"to"`
		Key        scalar `yaml:"key"`
		Duplicates scalar `yaml:"duplicates"`
	} `yaml:"recipients"`
	Message struct {
		Subject     scalar          `yaml:"subject"`
		Body        scalar          `yaml:"body"`
		MaxSize     scalar          `yaml:"max_size"`
		Attachments []rawAttachment `yaml:"attachments"`
	} `yaml:"message"`
	Sending struct {
		Rate                 scalar `yaml:"rate"`
		Journal              scalar `yaml:"journal"`
		MaxConsecutiveErrors scalar `yaml:"max_consecutive_errors"`
		ReconcileWindow      scalar `yaml:"reconcile_window"`
		DailyLimit           scalar `yaml:"daily_limit"`
	} `yaml:"sending"`
	Tracking struct {
		GiveUpAfter    scalar `yaml:"give_up_after"`
		PollRate       scalar `yaml:"poll_rate"`
		DeleteReceipts scalar `yaml:"delete_receipts"`
	} `yaml:"tracking"`
}

// rawAttachment is one entry of message.attachments.
type rawAttachment struct {
	File     scalar `yaml:"file"`
	Name     scalar `yaml:"name"`
	Template scalar `yaml:"template"`
	line     int
}

// UnmarshalYAML decodes an attachment entry strictly, remembering its line.
func (a *rawAttachment) UnmarshalYAML(n *yaml.Node) error {
	type plain rawAttachment
	var p plain
	if err := n.Load(&p, yaml.WithKnownFields()); err != nil {
		return err
	}
	*a = rawAttachment(p)
	a.line = n.Line
	return nil
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

// loader carries the state of one Load.
type loader struct {
	opts     LoadOptions
	c        *Campaign
	lookup   func(string) (string, bool)
	problems []Problem
	warned   map[string]bool
	tt       *typeTable
	// bad holds the keys whose values failed to decode, so they are not
	// reported a second time as missing.
	bad map[string]bool
	// data is the campaign file's text, to show a line of it.
	data []byte
}

// problem records a problem of the campaign file at line.
func (l *loader) problem(line int, field, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.c.fileName, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// warn records a warning about the campaign file.
func (l *loader) warn(line int, field, format string, args ...any) {
	l.c.Warnings = append(l.c.Warnings, Problem{File: l.c.fileName, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// load is Load returning the problems and whatever parts of the campaign
// could be built, so that validate can go on to check the rows.
func load(r io.Reader, opts LoadOptions) (*Campaign, []Problem) {
	path := opts.Path
	if path == "" {
		path = "campaign.yaml"
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	c := &Campaign{Path: abs, Dir: filepath.Dir(abs), fileName: filepath.Base(abs)}
	l := &loader{opts: opts, c: c, lookup: opts.LookupEnv, warned: map[string]bool{}, bad: map[string]bool{}}
	if l.lookup == nil {
		l.lookup = os.LookupEnv
	}
	data, err := io.ReadAll(io.LimitReader(r, maxCampaignFile+1))
	if err != nil {
		l.problem(0, "", "cannot read the campaign file: %v", err)
		return c, l.problems
	}
	if len(data) > maxCampaignFile {
		l.problem(0, "", "the campaign file is larger than 1 MB: is it the right file?")
		return c, l.problems
	}
	l.data = data
	sum := sha256.Sum256(data)
	c.fileSHA256 = hex.EncodeToString(sum[:])
	if root, err := filepath.EvalSymlinks(c.Dir); err == nil {
		c.root = root
	} else {
		c.root = c.Dir
	}

	var raw rawConfig
	if !l.decode(data, &raw) {
		return c, l.problems
	}
	l.build(&raw)
	return c, l.problems
}

// decode parses the YAML strictly into raw, recording every problem; it
// returns false when nothing more can be checked.
func (l *loader) decode(data []byte, raw *rawConfig) bool {
	if len(bytes.TrimSpace(data)) == 0 {
		l.problem(0, "", "the campaign file is empty: start from 'pecbatch init DIR' or the examples")
		return false
	}
	var doc yaml.Node
	if err := yaml.Load(data, &doc); err != nil {
		if strings.Contains(err.Error(), "no documents") {
			l.problem(0, "", "the campaign file is empty: start from 'pecbatch init DIR' or the examples")
		} else {
			l.yamlSyntaxProblem(err)
		}
		return false
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		l.problem(root.Line, "", "the campaign file must be a mapping of keys (name:, recipients:, message: ...)")
		return false
	}
	idx := indexNodes(root)
	err := root.Load(raw, yaml.WithKnownFields())
	var lerrs *yaml.LoadErrors
	switch {
	case err == nil:
	case errors.As(err, &lerrs):
		for _, e := range lerrs.Errors {
			if !l.loadErrorProblem(e, idx) {
				return false
			}
		}
	default:
		l.problem(0, "", "%v", err)
	}
	return true
}

// yamlSyntaxProblem reports a YAML syntax error at its line.
func (l *loader) yamlSyntaxProblem(err error) {
	var le *yaml.LoadError
	if errors.As(err, &le) {
		msg := le.Message
		if le.ContextMsg != "" {
			msg = le.ContextMsg + ": " + msg
		}
		if line := l.line(le.Mark.Line); strings.HasPrefix(strings.TrimLeft(line, " "), "\t") {
			l.problem(le.Mark.Line, "", "YAML syntax error: a tab in the indentation; YAML indents with spaces only")
			return
		}
		l.problem(le.Mark.Line, "", "YAML syntax error: %s (check the indentation and quote values containing ': ' or '#')", msg)
		return
	}
	var lerrs *yaml.LoadErrors
	if errors.As(err, &lerrs) && len(lerrs.Errors) > 0 {
		for _, e := range lerrs.Errors {
			l.problem(e.Mark.Line, "", "YAML: %s", e.Message)
		}
		return
	}
	l.problem(0, "", "YAML: %v", err)
}

// line returns line n (1-based) of the campaign file, or "".
func (l *loader) line(n int) string {
	if n < 1 {
		return ""
	}
	lines := strings.Split(string(l.data), "\n")
	if n > len(lines) {
		return ""
	}
	return lines[n-1]
}

// nodeIndex finds the key path of a node from its position.
type nodeIndex struct {
	keys   map[[2]int]string // key node position → path of the key
	values map[[2]int]string // value node position → path of its key
}

// indexNodes records the path of every key and value node under root.
func indexNodes(root *yaml.Node) nodeIndex {
	idx := nodeIndex{keys: map[[2]int]string{}, values: map[[2]int]string{}}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				idx.keys[[2]int{k.Line, k.Column}] = p
				idx.values[[2]int{v.Line, v.Column}] = p
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, v := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i+1)
				idx.values[[2]int{v.Line, v.Column}] = p
				walk(v, p)
			}
		}
	}
	walk(root, "")
	return idx
}

// loadErrorProblem turns one decoding error into a problem that names the
// key, with a suggestion for a misspelt one. It returns false when the
// error stopped decoding, so nothing more can be checked.
func (l *loader) loadErrorProblem(e *yaml.LoadError, idx nodeIndex) bool {
	pos := [2]int{e.Mark.Line, e.Mark.Column}
	if strings.Contains(e.Message, " not found in type ") {
		path := idx.keys[pos]
		parent, key := "", path
		if i := strings.LastIndexByte(path, '.'); i >= 0 {
			parent, key = path[:i], path[i+1:]
		}
		l.problem(e.Mark.Line, path, "unknown key %q%s", key, suggestKey(parent, key))
		return true
	}
	if strings.Contains(e.Message, "already defined") || strings.Contains(e.Message, " already set in ") {
		// Decoding stops at a duplicate key.
		l.problem(e.Mark.Line, "", "%s: keep only one", e.Message)
		return false
	}
	path := idx.values[pos]
	l.bad[path] = true
	msg := e.Message
	if strings.HasPrefix(msg, "cannot construct") {
		switch kind, keys := schemaAt(path); kind {
		case reflect.Struct:
			msg = "expected a mapping with the keys " + strings.Join(keys, ", ")
		case reflect.Slice:
			msg = "expected a list (items starting with '- ')"
		}
	}
	l.problem(e.Mark.Line, path, "%s", msg)
	return true
}

// schemaAt returns the kind of value expected at a key path and, for a
// mapping, its keys.
func schemaAt(path string) (reflect.Kind, []string) {
	t := reflect.TypeFor[rawConfig]()
	if path != "" {
		for part := range strings.SplitSeq(path, ".") {
			name, indexed := strings.CutSuffix(part, "]")
			if indexed {
				name = name[:strings.IndexByte(name, '[')]
			}
			f, ok := fieldByTag(t, name)
			if !ok {
				return reflect.Invalid, nil
			}
			t = f.Type
			if indexed && t.Kind() == reflect.Slice {
				t = t.Elem()
			}
		}
	}
	if t == reflect.TypeFor[scalar]() {
		return reflect.String, nil
	}
	var keys []string
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			if tag := t.Field(i).Tag.Get("yaml"); tag != "" {
				keys = append(keys, tag)
			}
		}
	}
	return t.Kind(), keys
}

// fieldByTag finds the struct field with the yaml tag name.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("yaml") == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// suggestKey proposes the key the user probably meant: a close spelling at
// the same level, or the same key at another level.
func suggestKey(parent, key string) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "_")) }
	schemaPath := parent
	_, siblings := schemaAt(schemaPath)
	best, bestDist := "", 3
	for _, s := range siblings {
		if d := editDistance(norm(key), s); d < bestDist {
			best, bestDist = s, d
		}
	}
	if best != "" && bestDist <= max(1, len(key)/3) {
		return fmt.Sprintf(": did you mean %q?", best)
	}
	var elsewhere []string
	for _, section := range []string{"", "api", "sender", "recipients", "message", "message.attachments[1]", "sending", "tracking"} {
		if section == parent {
			continue
		}
		_, keys := schemaAt(section)
		if slices.Contains(keys, norm(key)) {
			where := strings.TrimSuffix(section, "[1]")
			if where == "" {
				elsewhere = append(elsewhere, "the top level")
			} else {
				elsewhere = append(elsewhere, where)
			}
		}
	}
	if len(elsewhere) > 0 {
		return fmt.Sprintf(": %q belongs under %s", norm(key), strings.Join(elsewhere, " or "))
	}
	if len(siblings) > 0 {
		return fmt.Sprintf(" (known keys here: %s)", strings.Join(siblings, ", "))
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// expand expands the ${VAR}s of a value; api marks the fields an offline
// command may leave unresolved.
func (l *loader) expand(key string, s scalar, api bool) (string, bool) {
	if l.bad[key] {
		return "", false
	}
	if !s.Set {
		return "", true
	}
	res, err := expandVars(s.Value, l.lookup)
	if err != nil {
		l.problem(s.Line, key, "%v", err)
		return "", false
	}
	for _, name := range res.unset {
		switch {
		case api && l.opts.Offline:
			if !l.warned[name] {
				l.warned[name] = true
				l.warn(s.Line, key, "environment variable %s is not set; this command does not need it, but 'pecbatch run' will", name)
			}
		case api:
			// The endpoint and credentials belong in the environment, never
			// in the campaign file: don't suggest writing them there.
			l.problem(s.Line, key, "environment variable %s is not set: export it (export %s=...) and run again", name, name)
		default:
			l.problem(s.Line, key, "environment variable %s is not set: export it (export %s=...) or write the value, or ${%s:-default}", name, name, name)
		}
	}
	if len(res.unset) > 0 && !(api && l.opts.Offline) {
		return "", false
	}
	return res.value, true
}

// build checks and converts every key of raw into the campaign.
func (l *loader) build(raw *rawConfig) {
	c := l.c
	if name, ok := l.expand("name", raw.Name, false); ok {
		switch {
		case strings.TrimSpace(name) == "":
			l.problem(raw.Name.Line, "name", "the campaign needs a name (name: solleciti-novembre): it names the journal and the report")
		case strings.ContainsFunc(name, isControl):
			l.problem(raw.Name.Line, "name", "the name must be one line of text")
		default:
			c.Name = strings.TrimSpace(name)
		}
	}
	l.buildAPI(raw)
	l.buildRecipients(raw)
	l.buildMessage(raw)
	l.buildSending(raw)
	l.buildTracking(raw)
}

// isControl reports a control character (line breaks included).
func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// buildAPI fills the api and sender sections.
func (l *loader) buildAPI(raw *rawConfig) {
	c, o := l.c, l.opts.OverrideAPI
	required := !l.opts.Offline
	c.API.Timeout = l.duration("api.timeout", raw.API.Timeout, DefaultAPITimeout)
	if o != nil {
		c.API.BaseURL, c.API.Token = strings.TrimRight(o.BaseURL, "/"), Secret(o.Token)
		c.Sender.Username, c.Sender.Password = o.Username, Secret(o.Password)
	} else {
		if v, ok := l.expand("api.base_url", raw.API.BaseURL, true); ok {
			switch {
			case !raw.API.BaseURL.Set:
				c.API.BaseURL = DefaultBaseURL
			case v == "" && l.opts.Offline:
			default:
				if err := checkBaseURL(v); err != nil {
					l.problem(raw.API.BaseURL.Line, "api.base_url", "%v", err)
				}
				c.API.BaseURL = strings.TrimRight(v, "/")
			}
		}
		for _, f := range []struct {
			key string
			s   scalar
			set func(string)
		}{
			{"api.token", raw.API.Token, func(v string) { c.API.Token = Secret(v) }},
			{"sender.username", raw.Sender.Username, func(v string) { c.Sender.Username = v }},
			{"sender.password", raw.Sender.Password, func(v string) { c.Sender.Password = Secret(v) }},
		} {
			v, ok := l.expand(f.key, f.s, true)
			if !ok {
				continue
			}
			if v == "" && required {
				example := map[string]string{"api.token": "${PECMASSIVA_TOKEN}", "sender.username": "${PEC_USERNAME}", "sender.password": "${PEC_PASSWORD}"}[f.key]
				line := f.s.Line
				if !f.s.Set {
					line = 0
				}
				l.problem(line, f.key, "missing: set it, e.g. %s: %s, and export the variable", f.key[strings.IndexByte(f.key, '.')+1:], example)
				continue
			}
			f.set(v)
		}
	}
	if o != nil && o.Sender != "" {
		c.Sender.Address = strings.ToLower(o.Sender)
		return
	}
	if v, ok := l.expand("sender.address", raw.Sender.Address, false); ok {
		if !raw.Sender.Address.Set || strings.TrimSpace(v) == "" {
			l.problem(raw.Sender.Address.Line, "sender.address", "the sending PEC address is required (sender: address: ufficio@pec.esempio.it)")
			return
		}
		addr, err := ParseAddress(v)
		if err != nil {
			l.problem(raw.Sender.Address.Line, "sender.address", "%v", err)
			return
		}
		c.Sender.Address = addr
	}
}

// checkBaseURL accepts https URLs, and http only to a loopback host (the
// sandbox).
func checkBaseURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL such as https://ws.pecmassiva.com", v)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q: plain http:// is allowed only to this machine (the sandbox); use https://", v)
	}
	return fmt.Errorf("%q: the URL must start with https://", v)
}

// path resolves a file named in the campaign file against its folder.
func (l *loader) path(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(l.c.Dir, p)
}

// readFile reads a file named at key, checking that it is a regular file.
func (l *loader) readFile(key string, s scalar, name string) ([]byte, bool) {
	p := l.path(name)
	info, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			l.problem(s.Line, key, "%s: no such file (paths are relative to the campaign file's folder)", name)
		} else {
			l.problem(s.Line, key, "%s: %v", name, unwrapPathError(err))
		}
		return nil, false
	}
	if !info.Mode().IsRegular() {
		l.problem(s.Line, key, "%s is not a regular file", name)
		return nil, false
	}
	data, err := os.ReadFile(p)
	if err != nil {
		l.problem(s.Line, key, "%s: %v", name, unwrapPathError(err))
		return nil, false
	}
	return data, true
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// buildRecipients fills the recipients section and parses to and key.
func (l *loader) buildRecipients(raw *rawConfig) {
	c, rr := l.c, &raw.Recipients
	if v, ok := l.expand("recipients.file", rr.File, false); ok {
		if strings.TrimSpace(v) == "" {
			l.problem(rr.File.Line, "recipients.file", "the recipients CSV file is required (recipients: file: destinatari.csv)")
		} else {
			c.Recipients.FileName = v
			c.Recipients.File = l.path(v)
			info, err := os.Stat(c.Recipients.File)
			switch {
			case errors.Is(err, os.ErrNotExist):
				l.problem(rr.File.Line, "recipients.file", "%s: no such file (paths are relative to the campaign file's folder)", v)
			case err != nil:
				l.problem(rr.File.Line, "recipients.file", "%s: %v", v, unwrapPathError(err))
			case !info.Mode().IsRegular():
				l.problem(rr.File.Line, "recipients.file", "%s is not a regular file", v)
			}
			if err != nil || !info.Mode().IsRegular() {
				// Reported once here; preflight does not try to read it.
				c.Recipients.File = ""
			}
		}
	}
	if v, ok := l.expand("recipients.delimiter", rr.Delimiter, false); ok {
		switch v {
		case "", "auto":
		case ",", ";", "|":
			c.Recipients.Delimiter = rune(v[0])
		case "tab", "\t", `\t`:
			c.Recipients.Delimiter = '\t'
		default:
			l.problem(rr.Delimiter.Line, "recipients.delimiter", "%q is not a delimiter: use auto, \",\", \";\", tab or \"|\"", v)
		}
	}
	c.Recipients.Encoding = EncodingUTF8
	if v, ok := l.expand("recipients.encoding", rr.Encoding, false); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "", "utf-8", "utf8":
		case "windows-1252", "cp1252", "windows1252":
			c.Recipients.Encoding = EncodingWindows1252
		case "iso-8859-1", "iso8859-1", "latin1", "latin-1":
			c.Recipients.Encoding = EncodingISO88591
		default:
			l.problem(rr.Encoding.Line, "recipients.encoding", "%q is not supported: use utf-8, windows-1252 or iso-8859-1", v)
		}
	}
	c.Recipients.Duplicates = DuplicatesError
	if v, ok := l.expand("recipients.duplicates", rr.Duplicates, false); ok {
		switch v {
		case "", DuplicatesError:
		case DuplicatesSkip:
			c.Recipients.Duplicates = DuplicatesSkip
		default:
			l.problem(rr.Duplicates.Line, "recipients.duplicates", "%q: use error (two rows with the same key stop the campaign) or skip (the later row is skipped)", v)
		}
	}
	if v, ok := l.expand("recipients.to", rr.To, false); ok {
		if strings.TrimSpace(v) == "" {
			l.problem(rr.To.Line, "recipients.to", "the recipient template is required, e.g. to: \"{{.pec}}\"")
		} else {
			c.to = l.parseText("recipients.to", rr.To, v)
			c.toLine = rr.To.Line
		}
	}
	if v, ok := l.expand("recipients.key", rr.Key, false); ok && strings.TrimSpace(v) != "" {
		c.key = l.parseText("recipients.key", rr.Key, v)
		c.keyLine = rr.Key.Line
	}
}

// parseText parses an inline text template, reporting a syntax error at
// the key's line.
func (l *loader) parseText(key string, s scalar, src string) *template.Text {
	t, err := template.ParseText(key, src)
	if err != nil {
		l.problem(s.Line+templateLineOffset(err), key, "%s", templateErrorText(err))
		return nil
	}
	return t
}

// templateLineOffset returns how many lines into an inline template its
// error is, so the problem points at the right line of the campaign file.
func templateLineOffset(err error) int {
	var te *template.Error
	if errors.As(err, &te) && te.Line > 1 {
		return te.Line - 1
	}
	return 0
}

// templateErrorText is a template error without the "template NAME: line
// N:" prefix the problem already gives.
func templateErrorText(err error) string {
	var te *template.Error
	if errors.As(err, &te) {
		return "template: " + te.Err.Error()
	}
	return err.Error()
}

// buildMessage fills the message section and parses its templates.
func (l *loader) buildMessage(raw *rawConfig) {
	c, m := l.c, &raw.Message
	if v, ok := l.expand("message.subject", m.Subject, false); ok {
		if strings.TrimSpace(v) == "" {
			l.problem(m.Subject.Line, "message.subject", "the subject is required (PEC providers refuse a message without one)")
		} else {
			c.subject = l.parseText("message.subject", m.Subject, v)
			c.subjectLine = m.Subject.Line
		}
	}
	if v, ok := l.expand("message.body", m.Body, false); ok {
		if strings.TrimSpace(v) == "" {
			l.problem(m.Body.Line, "message.body", "the body template file is required (body: corpo.html)")
		} else if src, ok := l.readFile("message.body", m.Body, v); ok {
			c.bodyName = v
			c.templates = append(c.templates, fingerprintOf("message.body", v, src))
			if !strings.HasSuffix(strings.ToLower(v), ".html") && !strings.HasSuffix(strings.ToLower(v), ".htm") {
				l.warn(m.Body.Line, "message.body", "%s is read as HTML (PEC Massiva sends the body as HTML): give it a .html name", v)
			}
			t, err := template.ParseHTML(v, string(src))
			if err != nil {
				l.problems = append(l.problems, templateFileProblem(v, err))
			} else {
				c.body = t
			}
		}
	}
	c.Message.MaxSize = DefaultMaxSize
	if v, ok := l.expand("message.max_size", m.MaxSize, false); ok && v != "" {
		n, err := ParseSize(v)
		switch {
		case err != nil:
			l.problem(m.MaxSize.Line, "message.max_size", "%v", err)
		case n <= 0:
			l.problem(m.MaxSize.Line, "message.max_size", "must be more than 0")
		case n > MaxMaxSize:
			l.problem(m.MaxSize.Line, "message.max_size", "%s is over the 100 MB (100,000,000 bytes) a PEC Massiva message can have", v)
		default:
			c.Message.MaxSize = n
		}
	}
	for i := range m.Attachments {
		l.buildAttachment(i+1, &m.Attachments[i])
	}
}

// templateFileProblem reports a template file's syntax error at its line.
func templateFileProblem(name string, err error) Problem {
	var te *template.Error
	if errors.As(err, &te) {
		return Problem{File: name, Line: te.Line, Message: "template: " + te.Err.Error()}
	}
	return Problem{File: name, Message: err.Error()}
}

// buildSending fills the sending section.
func (l *loader) buildSending(raw *rawConfig) {
	c, s := l.c, &raw.Sending
	c.Sending.Rate = Rate{Events: 1, Per: time.Second}
	if r, ok := l.rate("sending.rate", s.Rate); ok {
		c.Sending.Rate = r
		if r.PerSecond() > 1 {
			l.warn(s.Rate.Line, "sending.rate", "%s is faster than the 1 request/second PEC Massiva documents: use it only if your contract allows it", r)
		}
	}
	base := strings.TrimSuffix(c.fileName, filepath.Ext(c.fileName))
	c.Sending.Journal = filepath.Join(c.Dir, base+".journal.db")
	if v, ok := l.expand("sending.journal", s.Journal, false); ok && strings.TrimSpace(v) != "" {
		c.Sending.Journal = l.path(v)
		if info, err := os.Stat(c.Sending.Journal); err == nil && info.IsDir() {
			l.problem(s.Journal.Line, "sending.journal", "%s is a folder: name a file, such as %s.journal.db", v, base)
		}
	}
	c.Sending.MaxConsecutiveErrors = l.positiveInt("sending.max_consecutive_errors", s.MaxConsecutiveErrors, DefaultMaxConsecutiveErrors)
	c.Sending.ReconcileWindow = l.duration("sending.reconcile_window", s.ReconcileWindow, DefaultReconcileWindow)
	c.Sending.DailyLimit = l.positiveInt("sending.daily_limit", s.DailyLimit, DefaultDailyLimit)
}

// buildTracking fills the tracking section.
func (l *loader) buildTracking(raw *rawConfig) {
	c, t := l.c, &raw.Tracking
	c.Tracking.GiveUpAfter = l.duration("tracking.give_up_after", t.GiveUpAfter, DefaultGiveUpAfter)
	if t.GiveUpAfter.Set && c.Tracking.GiveUpAfter < 24*time.Hour {
		l.warn(t.GiveUpAfter.Line, "tracking.give_up_after", "%v is shorter than the 24 hours a provider may take for its final notice: rows may be marked expired too early", c.Tracking.GiveUpAfter)
	}
	c.Tracking.PollRate = Rate{Events: 2, Per: time.Second}
	if r, ok := l.rate("tracking.poll_rate", t.PollRate); ok {
		c.Tracking.PollRate = r
	}
	if v, ok := l.expand("tracking.delete_receipts", t.DeleteReceipts, false); ok && v != "" {
		switch strings.ToLower(v) {
		case "true":
			c.Tracking.DeleteReceipts = true
		case "false":
		default:
			l.problem(t.DeleteReceipts.Line, "tracking.delete_receipts", "%q: write true or false", v)
		}
	}
}

// rate reads an optional rate; ok is false when unset or invalid.
func (l *loader) rate(key string, s scalar) (Rate, bool) {
	v, ok := l.expand(key, s, false)
	if !ok || v == "" {
		return Rate{}, false
	}
	r, err := ParseRate(v)
	if err != nil {
		l.problem(s.Line, key, "%v", err)
		return Rate{}, false
	}
	return r, true
}

// positiveInt reads an optional positive integer.
func (l *loader) positiveInt(key string, s scalar, def int) int {
	v, ok := l.expand(key, s, false)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil || n < 1 {
		l.problem(s.Line, key, "%q: write a whole number of at least 1", v)
		return def
	}
	return n
}

// duration reads an optional positive Go duration.
func (l *loader) duration(key string, s scalar, def time.Duration) time.Duration {
	v, ok := l.expand(key, s, false)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		l.problem(s.Line, key, "%q is not a duration: write it as 90s, 10m, 26h or 1h30m", v)
		return def
	}
	return d
}

package campaign

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pecbatch/pecbatch/template"
)

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

// isControl reports a control character or a line break: C0, DEL, C1
// (U+0085 NEL among them) and the Unicode line and paragraph separators
// U+2028 and U+2029, which mail clients and the API may take for a new line.
func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029'
}

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
// sandbox), with nothing but a scheme, a host, a port and a path. Its
// messages never repeat a user name or password written in the URL.
func checkBaseURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		if strings.Contains(v, "@") {
			return errors.New("this is not a URL such as https://ws.pecmassiva.com; it must not contain a user name or " +
				"password either (the part before @): the token goes in api.token, the mailbox login in " +
				"sender.username and sender.password")
		}
		return fmt.Errorf("%q is not a URL such as https://ws.pecmassiva.com", v)
	}
	switch {
	case u.User != nil:
		return errors.New("the URL must not contain a user name or password (the part before @): remove it; the " +
			"token goes in api.token, the mailbox login in sender.username and sender.password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(v, "#"):
		return fmt.Errorf("%q: the URL must not have a query (?...) or a fragment (#...): write only the address, "+
			"such as https://ws.pecmassiva.com", u.Redacted())
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
		} else if info, err := os.Stat(filepath.Dir(c.Sending.Journal)); err != nil || !info.IsDir() {
			what := "the folder %s does not exist: create it, or name"
			if err == nil {
				what = "%s is not a folder: name"
			}
			l.problem(s.Journal.Line, "sending.journal", "%s: "+what+" a journal in an existing folder (paths are "+
				"relative to the campaign file's folder)", v, filepath.Dir(v))
		}
	}
	c.Sending.MaxConsecutiveErrors = l.positiveInt("sending.max_consecutive_errors", s.MaxConsecutiveErrors, DefaultMaxConsecutiveErrors)
	c.Sending.ReconcileWindow = l.duration("sending.reconcile_window", s.ReconcileWindow, DefaultReconcileWindow)
	c.Sending.DailyLimit = l.positiveInt("sending.daily_limit", s.DailyLimit, DefaultDailyLimit)
	if v, ok := l.expand("sending.reference", s.Reference, false); ok {
		switch v = strings.ToLower(strings.TrimSpace(v)); v {
		case "", ReferenceNone:
		case ReferenceSubject:
			c.Sending.Reference = ReferenceSubject
		default:
			l.problem(s.Reference.Line, "sending.reference", "%q: use subject (a short code of the row is added to the subject, "+
				"e.g. \" [rif. ABCD2345]\", so that each message is unique and can be found) or none", v)
		}
	}
	if v, ok := l.expand("sending.window", s.Window, false); ok {
		w, err := ParseWindow(v)
		if err != nil {
			l.problem(s.Window.Line, "sending.window", "%v (times are Europe/Rome)", err)
		}
		c.Sending.Window = w
	}
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
	l.buildIMAP(raw)
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

package campaign

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pecbatch/pecbatch/template"
)

// Message is the rendered message of one recipient row, exactly as it is
// sent.
type Message struct {
	// Row is the 1-based data row, Line the physical line it starts on.
	Row, Line int
	// Key is the row's identity in the journal: the rendered recipients.key,
	// or the row's addresses joined by "," when there is no key template.
	Key string
	// Recipients are the row's addresses, lower-cased, each once.
	Recipients []string
	// Subject is the rendered subject.
	Subject string
	// Body is the rendered HTML body.
	Body []byte
	// Attachments are the row's attachments, in campaign-file order.
	Attachments []Attachment
	// Size is len(Body) plus the base64 length of every attachment: what
	// message.max_size bounds.
	Size int
	// SHA256 is the message's content hash, see ContentHash.
	SHA256 string
}

// Attachment is one attachment of a Message.
type Attachment struct {
	// Name is the file name the recipient sees.
	Name string
	// ContentType is the MIME type, from the extension of Name.
	ContentType string
	// Content is the file's bytes.
	Content []byte
}

// hashVersion starts every content hash; bump it if the definition below
// ever changes, since journals compare hashes across versions.
const hashVersion = "pecbatch message v1\n"

// ContentHash returns the hex SHA-256 content hash of a message: the value
// preview writes into manifest.json and the runner records in the journal
// and checks again before every send. It covers everything a recipient
// gets. With u64(n) an 8-byte big-endian length and str(s) = u64(len(s)) || s,
// it is the SHA-256 of
//
//	"pecbatch message v1\n"
//	u64(number of recipients) || str(recipient)...   (lower case, in order)
//	str(subject) || str(body)
//	u64(number of attachments) || for each, in order:
//	    str(name) || str(content type) || u64(len(content)) || SHA-256(content)
//
// Hashing each attachment's content on its own lets preflight stream big
// files instead of holding them.
func ContentHash(recipients []string, subject string, body []byte, attachments []Attachment) string {
	h := newMessageHash(recipients, subject, body, len(attachments))
	for _, a := range attachments {
		h.attachment(a.Name, a.ContentType, int64(len(a.Content)), sha256.Sum256(a.Content))
	}
	return h.sum()
}

// messageHash builds a ContentHash piece by piece.
type messageHash struct {
	h   hash.Hash
	num [8]byte
}

func newMessageHash(recipients []string, subject string, body []byte, attachments int) *messageHash {
	m := &messageHash{h: sha256.New()}
	m.h.Write([]byte(hashVersion))
	m.count(len(recipients))
	for _, r := range recipients {
		m.str(r)
	}
	m.str(subject)
	m.count(len(body))
	m.h.Write(body)
	m.count(attachments)
	return m
}

func (m *messageHash) count(n int) {
	binary.BigEndian.PutUint64(m.num[:], uint64(n))
	m.h.Write(m.num[:])
}

func (m *messageHash) str(s string) {
	m.count(len(s))
	m.h.Write([]byte(s))
}

func (m *messageHash) attachment(name, contentType string, size int64, digest [sha256.Size]byte) {
	m.str(name)
	m.str(contentType)
	m.count(int(size))
	m.h.Write(digest[:])
}

func (m *messageHash) sum() string { return hex.EncodeToString(m.h.Sum(nil)) }

// AttachmentInfo describes an attachment without its content, as preflight
// and preview's manifest report it.
type AttachmentInfo struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// RowResult is what preflight learns about one row without keeping its
// content: everything the journal records for it.
type RowResult struct {
	// Row is the 1-based data row, Line the physical line it starts on.
	Row, Line int
	// Key, Recipients, Subject, Size and SHA256 are as in Message.
	Key         string
	Recipients  []string
	Subject     string
	Size        int
	SHA256      string
	Attachments []AttachmentInfo
}

// rowOutcome is a rendered (or checked) row with its problems.
type rowOutcome struct {
	seq      int
	result   RowResult
	msg      *Message // full renders only
	keyOK    bool     // result.Key is usable for the duplicate check
	problems []Problem
	// onceKeys parallels problems: a non-empty entry marks a problem that
	// is the same in every row (a missing column) and is reported once.
	onceKeys []string
}

// staticFiles caches the digest of attachment files that are the same for
// every row, so a 5 MB brochure attached to 100,000 rows is read once.
type staticFiles struct {
	mu    sync.Mutex
	files map[string]staticEntry
}

type staticEntry struct {
	digest fileDigest
	err    error
}

// renderer renders rows of one campaign. Each worker has its own: it holds
// scratch buffers and a folder cache.
type renderer struct {
	c        *Campaign
	csvName  string
	header   []string
	tt       *typeTable
	full     bool
	disabled map[any]bool // templates that reference missing columns
	static   *staticFiles
	dirs     dirCache
	buf      []byte
	body     bytes.Buffer
	scratch  bytes.Buffer
	labels   labels
	row      template.Data
}

// labels names the parts of a message in row problems.
type labels struct {
	to, key string
}

// newRenderer prepares a renderer for rows with the given header.
func (c *Campaign) newRenderer(csvName string, header []string, full bool, disabled map[any]bool, static *staticFiles) *renderer {
	r := &renderer{c: c, csvName: csvName, header: header, tt: newTypeTable(), full: full,
		disabled: disabled, static: static, dirs: dirCache{}, buf: make([]byte, 32<<10)}
	r.labels.to = "recipients.to"
	if c.to != nil {
		if f := c.to.Fields(); len(f) == 1 {
			r.labels.to = fmt.Sprintf("column %q", f[0])
		}
	}
	r.labels.key = "recipients.key"
	if c.key != nil {
		if f := c.key.Fields(); len(f) == 1 {
			r.labels.key = fmt.Sprintf("column %q", f[0])
		}
	}
	return r
}

// data fills the renderer's template data with a row. The map is reused
// from row to row: templates do not keep it.
func (r *renderer) data(values []string) template.Data {
	if r.row == nil {
		r.row = make(template.Data, len(r.header))
	}
	clear(r.row)
	for i, h := range r.header {
		if i < len(values) {
			r.row[h] = values[i]
		}
	}
	return r.row
}

// textLimit bounds the short text templates (subject, recipients, key,
// attachment file and name): none is near 64 KB, and at message.max_size a
// loop of one-byte writes would run 30 million times per row before stopping.
const textLimit = 64_000

// text renders a short text template into the scratch buffer and returns
// the result.
func (r *renderer) text(t *template.Text, d template.Data) (string, error) {
	r.scratch.Reset()
	if err := t.Execute(&r.scratch, d, textLimit); err != nil {
		return "", err
	}
	return r.scratch.String(), nil
}

// problem records a problem of the row being rendered.
func (o *rowOutcome) problem(file string, field, format string, args ...any) {
	o.problems = append(o.problems, Problem{File: file, Line: o.result.Line, Row: o.result.Row, Field: field, Message: fmt.Sprintf(format, args...)})
	o.onceKeys = append(o.onceKeys, "")
}

// templateProblem records a template execution error of the row.
func (r *renderer) templateProblem(o *rowOutcome, part, where string, err error) {
	var le *template.LimitError
	switch {
	case errors.As(err, &le) && le.Limit == textLimit:
		o.problem(r.csvName, part, "%s renders more than %s for this row, far more than it can need: check its loops", where, FormatSize(le.Limit))
		return
	case errors.As(err, &le):
		o.problem(r.csvName, part, "the message is larger than %s (message.max_size): %s renders more than that for this row; check its loops, or raise max_size (at most 100MB, the Flat plan)",
			FormatSize(le.Limit), where)
		return
	}
	var te *template.Error
	if !errors.As(err, &te) {
		o.problem(r.csvName, part, "%v (%s)", err, where)
		return
	}
	field := part
	if te.Field != "" {
		field = fmt.Sprintf("column %q", te.Field)
	}
	if te.Line > 0 && where != part {
		where = fmt.Sprintf("%s line %d", where, te.Line)
	}
	o.problem(r.csvName, field, "%v (in %s)", te.Err, where)
	if errors.Is(err, template.ErrMissingField) {
		o.onceKeys[len(o.onceKeys)-1] = "missing\x00" + te.Template + "\x00" + te.Field
	}
}

// enabled reports whether template t may run (its columns all exist).
func (r *renderer) enabled(t any) bool { return !r.disabled[t] }

// identity renders only a row's recipients and key: what the duplicate
// check needs of a row that is not otherwise rendered.
func (r *renderer) identity(seq int, rec Record) *rowOutcome {
	c := r.c
	o := &rowOutcome{seq: seq, result: RowResult{Row: rec.Row, Line: rec.Line}}
	d := r.data(rec.Values)
	if c.key != nil {
		if s, err := r.text(c.key, d); err == nil && strings.TrimSpace(s) != "" {
			o.result.Key, o.keyOK = strings.TrimSpace(s), true
		}
		return o
	}
	if c.to != nil {
		if s, err := r.text(c.to, d); err == nil {
			if addrs, err := ParseAddressList(s); err == nil {
				o.result.Recipients = addrs
				o.result.Key, o.keyOK = strings.Join(addrs, ","), true
			}
		}
	}
	return o
}

// render renders or checks one row.
func (r *renderer) render(seq int, rec Record) *rowOutcome {
	c := r.c
	o := &rowOutcome{seq: seq, result: RowResult{Row: rec.Row, Line: rec.Line}}
	d := r.data(rec.Values)
	res := &o.result
	toOK := false
	if c.to != nil && r.enabled(c.to) {
		s, err := r.text(c.to, d)
		if err != nil {
			r.templateProblem(o, "recipients.to", "recipients.to", err)
		} else if addrs, err := ParseAddressList(s); err != nil {
			for _, e := range unjoin(err) {
				o.problem(r.csvName, r.labels.to, "%v", e)
			}
		} else {
			res.Recipients, toOK = addrs, true
		}
	}
	switch {
	case c.key != nil && r.enabled(c.key):
		s, err := r.text(c.key, d)
		switch {
		case err != nil:
			r.templateProblem(o, "recipients.key", "recipients.key", err)
		case strings.TrimSpace(s) == "":
			o.problem(r.csvName, r.labels.key, "the key is empty for this row: every row needs an identity (recipients.key)")
		default:
			res.Key, o.keyOK = strings.TrimSpace(s), true
		}
	case c.key == nil && toOK:
		res.Key, o.keyOK = strings.Join(res.Recipients, ","), true
	}
	if c.subject != nil && r.enabled(c.subject) {
		s, err := r.text(c.subject, d)
		s = strings.TrimSpace(s)
		switch {
		case err != nil:
			r.templateProblem(o, "subject", "message.subject", err)
		case s == "":
			o.problem(r.csvName, "subject", "the subject is empty for this row")
		case strings.ContainsFunc(s, isControl):
			o.problem(r.csvName, "subject", "the subject contains a line break or control character; a subject is one line")
		default:
			res.Subject = s
		}
	}
	r.body.Reset()
	bodyOK := false
	if c.body != nil && r.enabled(c.body) {
		if err := c.body.Execute(&r.body, d, c.Message.MaxSize); err != nil {
			r.templateProblem(o, "body", c.bodyName, err)
			if errors.Is(err, template.ErrTooLarge) {
				r.body.Reset() // already reported: not again by the size check below
			}
		} else if len(bytes.TrimSpace(r.body.Bytes())) == 0 {
			o.problem(r.csvName, "body", "the body is empty for this row (%s)", c.bodyName)
		} else {
			bodyOK = true
		}
	}
	size := int64(r.body.Len())
	infos := make([]AttachmentInfo, 0, len(c.attachments))
	digests := make([][sha256.Size]byte, 0, len(c.attachments))
	var atts []Attachment
	for _, spec := range c.attachments {
		info, digest, content, ok := r.attachment(o, spec, d)
		if !ok {
			continue
		}
		size += int64(base64.StdEncoding.EncodedLen(int(info.Size)))
		infos = append(infos, info)
		digests = append(digests, digest)
		if r.full {
			atts = append(atts, Attachment{Name: info.Name, ContentType: info.ContentType, Content: content})
		}
	}
	res.Size = int(size)
	res.Attachments = infos
	// With an attachment missing, size is a lower bound: still worth
	// reporting when it is already too much.
	if size > c.Message.MaxSize {
		o.problem(r.csvName, "message", "the message is %s (body and base64 attachments), over message.max_size %s: attach less or raise max_size (at most 100MB, the Flat plan)",
			FormatSize(size), FormatSize(c.Message.MaxSize))
	}
	if len(o.problems) > 0 || !toOK || !bodyOK || res.Subject == "" || c.body == nil || c.subject == nil {
		return o
	}
	mh := newMessageHash(res.Recipients, res.Subject, r.body.Bytes(), len(infos))
	for i, info := range infos {
		mh.attachment(info.Name, info.ContentType, info.Size, digests[i])
	}
	res.SHA256 = mh.sum()
	if r.full {
		o.msg = &Message{Row: res.Row, Line: res.Line, Key: res.Key, Recipients: res.Recipients, Subject: res.Subject,
			Body: bytes.Clone(r.body.Bytes()), Attachments: atts, Size: res.Size, SHA256: res.SHA256}
	}
	return o
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// attachment renders and checks one attachment of the row.
func (r *renderer) attachment(o *rowOutcome, spec *attachmentSpec, d template.Data) (AttachmentInfo, [sha256.Size]byte, []byte, bool) {
	var (
		info   AttachmentInfo
		digest [sha256.Size]byte
	)
	label := spec.label
	var relPath, real string
	if spec.file != nil {
		if !r.enabled(spec.file) {
			return info, digest, nil, false
		}
		p, err := r.text(spec.file, d)
		if err != nil {
			r.templateProblem(o, label, spec.key+".file", err)
			return info, digest, nil, false
		}
		relPath = strings.TrimSpace(p)
		info.Name = filepath.Base(relPath)
		// Where the file is comes first: "outside the folder" says more
		// about a value like ../../etc/passwd than its missing extension.
		if _, err := attachmentPath(r.c.root, relPath); err != nil {
			o.problem(r.csvName, label, "%v", err)
			return info, digest, nil, false
		}
	}
	if spec.name != nil {
		if !r.enabled(spec.name) {
			return info, digest, nil, false
		}
		n, err := r.text(spec.name, d)
		if err != nil {
			r.templateProblem(o, label, spec.key+".name", err)
			return info, digest, nil, false
		}
		info.Name = strings.TrimSpace(n)
	}
	ft, err := r.tt.lookup(info.Name)
	if err != nil {
		o.problem(r.csvName, label, "%v", err)
		return info, digest, nil, false
	}
	info.ContentType = ft.contentType
	if spec.file != nil {
		// A blocked or unknown type is reported even when the file is
		// missing too; existence comes after.
		if real, err = resolveAttachment(r.c.root, relPath, r.dirs); err != nil {
			o.problem(r.csvName, label, "%v", err)
			return info, digest, nil, false
		}
	}
	limit := r.c.Message.MaxSize
	if spec.file == nil {
		r.scratch.Reset()
		var err error
		if spec.html != nil {
			if r.enabled(spec.html) {
				err = spec.html.Execute(&r.scratch, d, limit)
			} else {
				return info, digest, nil, false
			}
		} else if r.enabled(spec.text) {
			err = spec.text.Execute(&r.scratch, d, limit)
		} else {
			return info, digest, nil, false
		}
		if err != nil {
			r.templateProblem(o, label, spec.tmplName, err)
			return info, digest, nil, false
		}
		content := r.scratch.Bytes()
		switch {
		case len(bytes.TrimSpace(content)) == 0:
			o.problem(r.csvName, label, "%s renders empty for this row (%s)", info.Name, spec.tmplName)
			return info, digest, nil, false
		case contentProblem(ft, info.Name, content[:min(len(content), sniffLen)]) != "":
			o.problem(r.csvName, label, "%s", contentProblem(ft, info.Name, content[:min(len(content), sniffLen)]))
			return info, digest, nil, false
		}
		info.Size = int64(len(content))
		digest = sha256.Sum256(content)
		info.SHA256 = hex.EncodeToString(digest[:])
		var kept []byte
		if r.full {
			kept = bytes.Clone(content)
		}
		return info, digest, kept, true
	}
	if r.full {
		content, err := readAttachment(real, relPath, ft, limit)
		if err != nil {
			o.problem(r.csvName, label, "%v", err)
			return info, digest, nil, false
		}
		info.Size = int64(len(content))
		digest = sha256.Sum256(content)
		info.SHA256 = hex.EncodeToString(digest[:])
		return info, digest, content, true
	}
	var fd fileDigest
	if spec.fileStatic && r.static != nil {
		fd, err = r.static.digest(real, func() (fileDigest, error) { return digestFile(real, relPath, ft, limit, r.buf) })
	} else {
		fd, err = digestFile(real, relPath, ft, limit, r.buf)
	}
	if err != nil {
		o.problem(r.csvName, label, "%v", err)
		return info, digest, nil, false
	}
	info.Size, digest = fd.size, fd.sha256
	info.SHA256 = hex.EncodeToString(digest[:])
	return info, digest, nil, true
}

// digest returns the cached digest of path, computing it once.
func (s *staticFiles) digest(path string, compute func() (fileDigest, error)) (fileDigest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.files[path]; ok {
		return e.digest, e.err
	}
	d, err := compute()
	if s.files == nil {
		s.files = map[string]staticEntry{}
	}
	s.files[path] = staticEntry{d, err}
	return d, err
}

package campaign

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pecbatch/pecbatch/template"
)

// PreflightOptions tunes Preflight.
type PreflightOptions struct {
	// Workers is how many rows are rendered and checked at once; 0 means
	// one per CPU, at most 4.
	Workers int
	// MaxProblems is how many problems (and as many warnings) the report
	// keeps; all are counted. 0 means 1000.
	MaxProblems int
	// OnRow, when set, is called for every row that would be sent and has
	// no problem, in row order, from one goroutine. An error from it stops
	// preflight and is returned. The RowResult is the caller's to keep.
	OnRow func(*RowResult) error
}

// PreflightReport is the outcome of preflight: every problem, the warnings
// and the summary. It is data; WriteText formats it for people.
type PreflightReport struct {
	// Summary describes the campaign as it would be sent.
	Summary Summary `json:"summary"`
	// Problems are what must be fixed before anything is sent, in file and
	// row order, at most PreflightOptions.MaxProblems of them.
	Problems []Problem `json:"problems"`
	// ProblemCount counts every problem found, listed or not.
	ProblemCount int `json:"problem_count"`
	// Warnings are worth a look but do not stop a run.
	Warnings []Problem `json:"warnings"`
	// WarningCount counts every warning.
	WarningCount int `json:"warning_count"`
	// RecipientsSHA256 is the SHA-256 of the recipients file as preflight
	// read it ("" when it could not be read to the end).
	RecipientsSHA256 string `json:"recipients_sha256,omitempty"`

	maxKept int
	dedupe  map[string]bool
}

// Summary describes what a campaign would send.
type Summary struct {
	// Rows is the number of data rows read.
	Rows int `json:"rows"`
	// Messages is the number of rows that would be sent: Rows less Skipped.
	Messages int `json:"messages"`
	// Skipped counts the rows skipped as duplicates (recipients.duplicates: skip).
	Skipped int `json:"skipped"`
	// Recipients counts the addresses over all messages (one PEC each).
	Recipients int `json:"recipients"`
	// DistinctKeys counts the distinct row keys.
	DistinctKeys int `json:"distinct_keys"`
	// TotalSize and LargestSize are in bytes (body plus base64 attachments);
	// LargestRow is the row of the largest message.
	TotalSize   int64 `json:"total_size"`
	LargestSize int64 `json:"largest_size"`
	LargestRow  int   `json:"largest_row"`
	// Rate is sending.rate; SendingTime the time to send Messages at it.
	Rate        Rate          `json:"-"`
	SendingTime time.Duration `json:"sending_time_ns"`
	// DailyLimit is sending.daily_limit; Days the days needed to send
	// Recipients PEC messages at that limit (PEC Massiva counts one message
	// per recipient).
	DailyLimit int `json:"daily_limit"`
	Days       int `json:"days"`
}

// OK reports whether nothing is wrong.
func (r *PreflightReport) OK() bool { return r.ProblemCount == 0 }

// Err returns nil when nothing is wrong, else a *ValidationError with the
// problems (errors.Is ErrInvalidInput).
func (r *PreflightReport) Err() error {
	if r.OK() {
		return nil
	}
	return &ValidationError{Problems: r.Problems, Count: r.ProblemCount}
}

// add records problems, keeping at most maxKept.
func (r *PreflightReport) add(ps ...Problem) {
	for _, p := range ps {
		r.ProblemCount++
		if len(r.Problems) < r.maxKept {
			r.Problems = append(r.Problems, p)
		}
	}
}

// warn records warnings, keeping at most maxKept.
func (r *PreflightReport) warn(ps ...Problem) {
	for _, p := range ps {
		r.WarningCount++
		if len(r.Warnings) < r.maxKept {
			r.Warnings = append(r.Warnings, p)
		}
	}
}

// ValidateFile loads the campaign file at path and runs every check of
// preflight, going as far as the problems found allow: a campaign file with
// a wrong subject template still has its addresses and attachments checked.
// This is `pecbatch validate`. The error is only for a failure to check
// (context cancelled, a read error); what is wrong with the campaign is in
// the report.
func ValidateFile(ctx context.Context, path string, lopts LoadOptions, popts PreflightOptions) (*PreflightReport, error) {
	lopts.Path = path
	rep := newReport(popts)
	f, err := os.Open(path)
	if err != nil {
		var ve *ValidationError
		errors.As(fileOpenError(path, err), &ve)
		rep.add(ve.Problems...)
		return rep, nil
	}
	defer f.Close()
	c, problems := load(f, lopts)
	rep.add(problems...)
	rep.warn(c.Warnings...)
	if err := c.preflight(ctx, rep, popts); err != nil {
		return rep, err
	}
	return rep, nil
}

func newReport(opts PreflightOptions) *PreflightReport {
	maxKept := opts.MaxProblems
	if maxKept <= 0 {
		maxKept = 1000
	}
	return &PreflightReport{maxKept: maxKept, dedupe: map[string]bool{}, Problems: []Problem{}, Warnings: []Problem{}}
}

// Preflight runs every check over every row of the recipients file before
// anything is sent: every template renders, every address is valid, every
// attachment is safe and of the type it claims, every message fits
// message.max_size, no two rows share a key. It reads the attachments but
// keeps none, and its memory does not grow with the rows (but for one small
// entry per key). What is wrong is in the report; the error is only for a
// failure to check (context cancelled, a read error, OnRow's error).
func (c *Campaign) Preflight(ctx context.Context, opts PreflightOptions) (*PreflightReport, error) {
	rep := newReport(opts)
	rep.warn(c.Warnings...)
	err := c.preflight(ctx, rep, opts)
	return rep, err
}

// csvOptions returns how to read the recipients file.
func (c *Campaign) csvOptions() CSVOptions {
	return CSVOptions{Name: c.Recipients.FileName, Delimiter: c.Recipients.Delimiter, Encoding: c.Recipients.Encoding}
}

// openRecipients opens the recipients file and reads its header. Problems
// of the file are returned as a *ValidationError.
func (c *Campaign) openRecipients() (*os.File, *RecipientsReader, error) {
	f, err := os.Open(c.Recipients.File)
	if err != nil {
		return nil, nil, &ValidationError{Problems: []Problem{{File: c.Recipients.FileName, Message: unwrapPathError(err).Error()}}, Count: 1}
	}
	rr, err := NewRecipientsReader(f, c.csvOptions())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, rr, nil
}

// templateRef locates a template for problems about it.
type templateRef struct {
	t    template.Renderer
	key  string // campaign key
	file string // file the template is in
	line int    // line of the key in the campaign file (inline templates), else 0
}

// templateRefs lists every parsed template of the campaign.
func (c *Campaign) templateRefs() []templateRef {
	var refs []templateRef
	inline := func(t *template.Text, key string, line int) {
		if t != nil {
			refs = append(refs, templateRef{t, key, c.fileName, line})
		}
	}
	inline(c.to, "recipients.to", c.toLine)
	inline(c.key, "recipients.key", c.keyLine)
	inline(c.subject, "message.subject", c.subjectLine)
	if c.body != nil {
		refs = append(refs, templateRef{c.body, "message.body", c.bodyName, 0})
	}
	for _, a := range c.attachments {
		inline(a.file, a.key+".file", a.line)
		if a.name != nil {
			inline(a.name, a.key+".name", a.line)
		}
		if a.text != nil {
			refs = append(refs, templateRef{a.text, a.key + ".template", a.tmplName, 0})
		}
		if a.html != nil {
			refs = append(refs, templateRef{a.html, a.key + ".template", a.tmplName, 0})
		}
	}
	return refs
}

// columnProblems reports, once each, the columns templates reference that
// the header lacks, and returns those templates so rows skip them.
func (c *Campaign) columnProblems(header []string) ([]Problem, map[any]bool) {
	var problems []Problem
	disabled := map[any]bool{}
	for _, ref := range c.templateRefs() {
		err := ref.t.CheckColumns(header)
		if err == nil {
			continue
		}
		disabled[ref.t] = true
		for _, e := range unjoin(err) {
			var te *template.Error
			if !errors.As(e, &te) {
				problems = append(problems, Problem{File: ref.file, Line: ref.line, Field: ref.key, Message: e.Error()})
				continue
			}
			line := ref.line
			if line == 0 {
				line = te.Line
			} else if te.Line > 1 {
				line += te.Line - 1
			}
			problems = append(problems, Problem{File: ref.file, Line: line, Field: ref.key,
				Message: fmt.Sprintf("column %q is not in the header of %s%s (columns: %s)",
					te.Field, c.Recipients.FileName, suggestColumn(te.Field, header), strings.Join(header, ", "))})
		}
	}
	return problems, disabled
}

// suggestColumn proposes a header name close to a missing column.
func suggestColumn(name string, header []string) string {
	best, bestDist := "", 3
	for _, h := range header {
		if strings.EqualFold(h, name) {
			return fmt.Sprintf(": did you mean %q? (names are case-sensitive)", h)
		}
		if d := editDistance(strings.ToLower(name), strings.ToLower(h)); d < bestDist {
			best, bestDist = h, d
		}
	}
	if best != "" && bestDist <= max(1, len(name)/3) {
		return fmt.Sprintf(": did you mean %q?", best)
	}
	return ""
}

// deduper enforces recipients.duplicates over rows in order.
type deduper struct {
	policy string
	labels labels
	byKey  bool
	seen   map[[16]byte]rowRef
	// subjects notices subjects shared by rows (sending.reference).
	subjects *subjectTracker
}

type rowRef struct{ row, line int32 }

func (c *Campaign) newDeduper(l labels) *deduper {
	return &deduper{policy: c.Recipients.Duplicates, labels: l, byKey: c.key != nil, seen: map[[16]byte]rowRef{},
		subjects: newSubjectTracker()}
}

// check records o's key; it returns whether o is to be skipped and, for a
// duplicate, the problem (an error or, when skipped, a warning).
func (d *deduper) check(o *rowOutcome, csvName string) (skip bool, p *Problem) {
	if !o.keyOK {
		return false, nil
	}
	sum := sha256.Sum256([]byte(o.result.Key))
	var k [16]byte
	copy(k[:], sum[:])
	first, dup := d.seen[k]
	if !dup {
		d.seen[k] = rowRef{int32(o.result.Row), int32(o.result.Line)}
		return false, nil
	}
	field, what := d.labels.key, fmt.Sprintf("key %q is also the key of", o.result.Key)
	if !d.byKey {
		field, what = d.labels.to, fmt.Sprintf("%s: the same recipients as", strings.Join(o.result.Recipients, ", "))
	}
	prob := &Problem{File: csvName, Line: o.result.Line, Row: o.result.Row, Field: field}
	if d.policy == DuplicatesSkip {
		prob.Message = fmt.Sprintf("%s row %d (line %d): skipped (recipients.duplicates: skip)", what, first.row, first.line)
		return true, prob
	}
	prob.Message = fmt.Sprintf("%s row %d (line %d): the same message would be sent twice; remove one row, or set recipients.duplicates: skip to send only the first",
		what, first.row, first.line)
	return false, prob
}

// distinct returns the number of distinct keys seen.
func (d *deduper) distinct() int { return len(d.seen) }

// job is one row handed to a worker.
type job struct {
	seq    int
	rec    Record
	rowErr *RowError
}

// preflight checks every row of c into rep; c may be partial (from a load
// with problems), in which case what cannot be checked is left out.
func (c *Campaign) preflight(ctx context.Context, rep *PreflightReport, opts PreflightOptions) error {
	rep.Summary.Rate, rep.Summary.DailyLimit = c.Sending.Rate, c.Sending.DailyLimit
	if c.Recipients.File == "" {
		return nil
	}
	f, rr, err := c.openRecipients()
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			rep.add(ve.Problems...)
			return nil
		}
		return err
	}
	defer f.Close()
	csvName := c.Recipients.FileName
	rep.warn(rr.Warnings()...)
	colProblems, disabled := c.columnProblems(rr.Header())
	rep.add(colProblems...)

	workers := opts.Workers
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 4)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan job, workers*8)
	results := make(chan *rowOutcome, workers*8)
	g.Go(func() error {
		defer close(jobs)
		for seq := 0; ; seq++ {
			rec, err := rr.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			j := job{seq: seq}
			var rowErr *RowError
			switch {
			case errors.As(err, &rowErr):
				j.rowErr = rowErr
				j.rec = Record{Row: rec.Row, Line: rec.Line}
			case err != nil:
				return err
			default:
				j.rec = Record{Row: rec.Row, Line: rec.Line, Values: slices.Clone(rec.Values)}
			}
			select {
			case jobs <- j:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
	})
	static := &staticFiles{}
	var labelsOf labels
	workersDone := make(chan struct{})
	var wg errgroup.Group
	for range workers {
		r := c.newRenderer(csvName, rr.Header(), false, disabled, static)
		labelsOf = r.labels
		wg.Go(func() error {
			for j := range jobs {
				var o *rowOutcome
				if j.rowErr != nil {
					o = &rowOutcome{seq: j.seq, result: RowResult{Row: j.rec.Row, Line: j.rec.Line}, problems: j.rowErr.Problems}
				} else {
					o = r.render(j.seq, j.rec)
				}
				select {
				case results <- o:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() {
		_ = wg.Wait()
		close(workersDone)
		close(results)
	}()

	dd := c.newDeduper(labelsOf)
	pending := map[int]*rowOutcome{}
	next := 0
	var consumeErr error
	for o := range results {
		if consumeErr != nil {
			continue // drain so the workers can finish
		}
		pending[o.seq] = o
		for {
			o, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err := c.consume(rep, dd, o, csvName, opts.OnRow); err != nil {
				consumeErr = err
				break
			}
		}
		if consumeErr != nil {
			// Stop the reader and the workers; the loop drains what is left.
			cancel()
		}
	}
	<-workersDone
	readErr := g.Wait()
	if consumeErr != nil {
		return consumeErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if readErr != nil {
		return fmt.Errorf("preflight: %w", readErr)
	}
	rep.Summary.DistinctKeys = dd.distinct()
	if w, ok := dd.subjects.warning(c); ok {
		rep.warn(w)
	}
	rep.RecipientsSHA256 = rr.SHA256()
	if rep.Summary.Rows == 0 {
		rep.add(Problem{File: csvName, Line: rr.HeaderLine(), Message: "the file has a header but no rows: add one line per recipient"})
	}
	c.estimate(&rep.Summary)
	return nil
}

// consume takes one row's outcome, in row order, into the report.
func (c *Campaign) consume(rep *PreflightReport, dd *deduper, o *rowOutcome, csvName string, onRow func(*RowResult) error) error {
	s := &rep.Summary
	s.Rows++
	skip, dup := dd.check(o, csvName)
	if skip {
		s.Skipped++
		rep.warn(*dup)
		return nil
	}
	s.Messages++
	dd.subjects.add(&o.result)
	for i, p := range o.problems {
		if i < len(o.onceKeys) && o.onceKeys[i] != "" {
			if rep.dedupe[o.onceKeys[i]] {
				continue
			}
			rep.dedupe[o.onceKeys[i]] = true
		}
		rep.add(p)
	}
	if dup != nil {
		rep.add(*dup)
	}
	s.Recipients += len(o.result.Recipients)
	for _, addr := range o.result.Recipients {
		if domain, ok := OrdinaryMailDomain(addr); ok {
			rep.warn(Problem{File: csvName, Line: o.result.Line, Row: o.result.Row, Field: "to",
				Message: fmt.Sprintf("%s is at %s, an ordinary e-mail provider, not PEC: it will never give a delivery receipt "+
					"(the row ends accepted_not_certifiable); use the recipient's PEC address (INI-PEC) or send by raccomandata A/R", addr, domain)})
		}
	}
	size := int64(o.result.Size)
	s.TotalSize += size
	if size > s.LargestSize {
		s.LargestSize, s.LargestRow = size, o.result.Row
	}
	if onRow != nil && len(o.problems) == 0 && dup == nil && o.result.SHA256 != "" {
		r := o.result
		return onRow(&r)
	}
	return nil
}

// estimate fills the time and day estimates of s.
func (c *Campaign) estimate(s *Summary) {
	s.SendingTime = s.Rate.TimeFor(s.Messages)
	if s.DailyLimit > 0 {
		s.Days = (s.Recipients + s.DailyLimit - 1) / s.DailyLimit
	}
}

// Messages renders, in row order, the message of every row for which only
// returns true (every row when only is nil), exactly as preflight checked
// it and as it is to be sent, attachments read into memory. Rows are
// rendered one at a time: this is for sending and previewing, not for
// checking a whole campaign (use Preflight). Duplicates are handled as in
// preflight: a row skipped there is skipped here, a duplicate that is an
// error there yields a *RowError here. A row that fails yields (nil,
// *RowError) and iteration may go on; a problem of the whole file yields
// (nil, *ValidationError) and ends it; ctx's error ends it too.
func (c *Campaign) Messages(ctx context.Context, only func(row int) bool) iter.Seq2[*Message, error] {
	return func(yield func(*Message, error) bool) {
		f, rr, err := c.openRecipients()
		if err != nil {
			yield(nil, err)
			return
		}
		defer f.Close()
		csvName := c.Recipients.FileName
		if problems, _ := c.columnProblems(rr.Header()); len(problems) > 0 {
			yield(nil, &ValidationError{Problems: problems, Count: len(problems)})
			return
		}
		r := c.newRenderer(csvName, rr.Header(), true, nil, nil)
		dd := c.newDeduper(r.labels)
		for seq := 0; ; seq++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			rec, err := rr.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			selected := only == nil || only(rec.Row)
			var rowErr *RowError
			switch {
			case errors.As(err, &rowErr):
				if selected && !yield(nil, rowErr) {
					return
				}
				continue
			case err != nil:
				yield(nil, err)
				return
			}
			var o *rowOutcome
			if selected {
				o = r.render(seq, rec)
			} else {
				o = r.identity(seq, rec)
			}
			skip, dup := dd.check(o, csvName)
			if skip || !selected {
				continue
			}
			if dup != nil {
				o.problems = append(o.problems, *dup)
			}
			if len(o.problems) > 0 {
				if !yield(nil, &RowError{Row: rec.Row, Line: rec.Line, Problems: o.problems}) {
					return
				}
				continue
			}
			if !yield(o.msg, nil) {
				return
			}
		}
	}
}

// RenderRow renders the message of one row (1-based); see Messages.
func (c *Campaign) RenderRow(ctx context.Context, row int) (*Message, error) {
	for m, err := range c.Messages(ctx, func(r int) bool { return r == row }) {
		return m, err
	}
	return nil, fmt.Errorf("campaign: row %d: no such row in %s (or it is skipped as a duplicate)", row, c.Recipients.FileName)
}

// FingerprintPart is one input of a campaign and its SHA-256: what the
// journal compares on resume to tell what changed.
type FingerprintPart struct {
	// Name says what the part is: "campaign", "recipients",
	// "message.body", "message.attachments[2].template".
	Name string `json:"name"`
	// Path is the file as the campaign file names it.
	Path string `json:"path"`
	// SHA256 is the hex SHA-256 of the file's bytes.
	SHA256 string `json:"sha256"`
}

func fingerprintOf(name, path string, data []byte) FingerprintPart {
	sum := sha256.Sum256(data)
	return FingerprintPart{Name: name, Path: path, SHA256: fmt.Sprintf("%x", sum)}
}

// Fingerprint returns the SHA-256 of the campaign file (as loaded), of the
// recipients file (read now) and of every template file (as loaded), in
// that order. Per-row attachment files are covered by each row's content
// hash instead.
func (c *Campaign) Fingerprint() ([]FingerprintPart, error) {
	parts := []FingerprintPart{{Name: "campaign", Path: c.fileName, SHA256: c.fileSHA256}}
	f, err := os.Open(c.Recipients.File)
	if err != nil {
		return nil, fmt.Errorf("campaign: fingerprint: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("campaign: fingerprint: %w", err)
	}
	parts = append(parts, FingerprintPart{Name: "recipients", Path: c.Recipients.FileName, SHA256: fmt.Sprintf("%x", h.Sum(nil))})
	return append(parts, c.templates...), nil
}

// TextOptions tunes PreflightReport.WriteText.
type TextOptions struct {
	// MaxListed bounds the problems (and, separately, the warnings) spelled
	// out; the rest are counted. 0 means 50.
	MaxListed int
}

// WriteText writes the report for people: the problems, one a line, then
// the warnings, the summary and a verdict.
func (r *PreflightReport) WriteText(w io.Writer, opts TextOptions) error {
	listed := opts.MaxListed
	if listed <= 0 {
		listed = 50
	}
	var b strings.Builder
	list := func(ps []Problem, count int, prefix, noun string) {
		for i, p := range ps {
			if i == listed {
				break
			}
			b.WriteString(prefix)
			b.WriteString(p.String())
			b.WriteByte('\n')
		}
		if more := count - min(len(ps), listed); more > 0 {
			fmt.Fprintf(&b, "... and %d more %s\n", more, noun)
		}
	}
	list(r.Problems, r.ProblemCount, "", "problems")
	list(r.Warnings, r.WarningCount, "warning: ", "warnings")
	if r.ProblemCount > 0 || r.WarningCount > 0 {
		b.WriteByte('\n')
	}
	s := r.Summary
	rows := fmt.Sprintf("%d", s.Rows)
	if s.Skipped > 0 {
		rows += fmt.Sprintf(" (%d skipped as duplicates, %d to send)", s.Skipped, s.Messages)
	}
	fmt.Fprintf(&b, "Rows:          %s\n", rows)
	if s.Rows == 0 {
		s = Summary{}
	} else {
		fmt.Fprintf(&b, "Recipients:    %d addresses, %d distinct keys\n", s.Recipients, s.DistinctKeys)
	}
	if s.LargestRow > 0 {
		fmt.Fprintf(&b, "Size:          %s in all, largest message %s (row %d)\n", FormatSize(s.TotalSize), FormatSize(s.LargestSize), s.LargestRow)
	}
	if s.Rate.PerSecond() > 0 {
		fmt.Fprintf(&b, "Sending time:  %s at %s\n", FormatDuration(s.SendingTime), s.Rate)
	}
	if s.DailyLimit > 0 {
		fmt.Fprintf(&b, "Days:          %d at %d messages a day (sending.daily_limit)\n", s.Days, s.DailyLimit)
	}
	switch {
	case r.ProblemCount == 1:
		b.WriteString("\n1 problem: nothing can be sent until it is fixed.\n")
	case r.ProblemCount > 1:
		fmt.Fprintf(&b, "\n%d problems: nothing can be sent until they are fixed.\n", r.ProblemCount)
	default:
		b.WriteString("\nOK: nothing wrong.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

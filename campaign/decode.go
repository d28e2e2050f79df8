package campaign

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

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
		Reference            scalar `yaml:"reference"`
		Window               scalar `yaml:"window"`
	} `yaml:"sending"`
	Tracking struct {
		GiveUpAfter    scalar `yaml:"give_up_after"`
		PollRate       scalar `yaml:"poll_rate"`
		DeleteReceipts scalar `yaml:"delete_receipts"`
		IMAP           scalar `yaml:"imap"`
		IMAPTrust      scalar `yaml:"imap_trust"`
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

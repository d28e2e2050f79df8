package campaign

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pecbatch/pecbatch/template"
)

// fileType is an attachment type pecbatch knows: its MIME type and a test
// of the first bytes of the content.
type fileType struct {
	contentType string
	// what names the format in a problem ("a PDF").
	what string
	// matches reports whether head, the first bytes of the content, fits.
	matches func(head []byte) bool
}

// attachmentTypes is the explicit table of attachment extensions pecbatch
// accepts (lower case, without the dot). An extension not in it is refused,
// so that a typo or an unexpected format is caught before sending.
func attachmentTypes() map[string]fileType {
	pdf := fileType{"application/pdf", "a PDF", func(h []byte) bool { return bytes.Contains(h[:min(len(h), 1024)], []byte("%PDF-")) }}
	zip := func(ct, what string) fileType {
		return fileType{ct, what, func(h []byte) bool {
			return bytes.HasPrefix(h, []byte("PK\x03\x04")) || bytes.HasPrefix(h, []byte("PK\x05\x06"))
		}}
	}
	ole := func(ct, what string) fileType {
		return fileType{ct, what, func(h []byte) bool { return bytes.HasPrefix(h, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")) }}
	}
	text := func(ct, what string) fileType { return fileType{ct, what, isText} }
	jpeg := fileType{"image/jpeg", "a JPEG image", func(h []byte) bool { return bytes.HasPrefix(h, []byte("\xff\xd8\xff")) }}
	tiff := fileType{"image/tiff", "a TIFF image", func(h []byte) bool {
		return bytes.HasPrefix(h, []byte("II*\x00")) || bytes.HasPrefix(h, []byte("MM\x00*"))
	}}
	return map[string]fileType{
		"pdf": pdf,
		// A signed file (CAdES): binary DER (a SEQUENCE, 0x30) or its base64/PEM text.
		"p7m":  {"application/pkcs7-mime", "a signed (CAdES) file", func(h []byte) bool { return len(h) > 0 && h[0] == 0x30 || isText(h) }},
		"p7s":  {"application/pkcs7-signature", "a signature file", func(h []byte) bool { return len(h) > 0 && h[0] == 0x30 || isText(h) }},
		"xml":  text("application/xml", "XML text"),
		"txt":  text("text/plain", "text"),
		"csv":  text("text/csv", "text"),
		"html": text("text/html", "HTML text"),
		"htm":  text("text/html", "HTML text"),
		"json": text("application/json", "text"),
		"eml":  text("message/rfc822", "an e-mail message (text)"),
		"rtf":  {"application/rtf", "an RTF document", func(h []byte) bool { return bytes.HasPrefix(h, []byte(`{\rtf`)) }},
		"jpg":  jpeg,
		"jpeg": jpeg,
		"png":  {"image/png", "a PNG image", func(h []byte) bool { return bytes.HasPrefix(h, []byte("\x89PNG\r\n\x1a\n")) }},
		"gif": {"image/gif", "a GIF image", func(h []byte) bool {
			return bytes.HasPrefix(h, []byte("GIF87a")) || bytes.HasPrefix(h, []byte("GIF89a"))
		}},
		"tif":  tiff,
		"tiff": tiff,
		"doc":  ole("application/msword", "a Word 97-2003 document"),
		"xls":  ole("application/vnd.ms-excel", "an Excel 97-2003 workbook"),
		"ppt":  ole("application/vnd.ms-powerpoint", "a PowerPoint 97-2003 presentation"),
		"docx": zip("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a Word document (a zip file)"),
		"xlsx": zip("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "an Excel workbook (a zip file)"),
		"pptx": zip("application/vnd.openxmlformats-officedocument.presentationml.presentation", "a PowerPoint presentation (a zip file)"),
		"odt":  zip("application/vnd.oasis.opendocument.text", "an OpenDocument text (a zip file)"),
		"ods":  zip("application/vnd.oasis.opendocument.spreadsheet", "an OpenDocument spreadsheet (a zip file)"),
		"odp":  zip("application/vnd.oasis.opendocument.presentation", "an OpenDocument presentation (a zip file)"),
		"zip":  zip("application/zip", "a zip archive"),
	}
}

// blockedExtensions are the extensions PEC providers (and mail filters in
// general) refuse: executables, scripts, shortcuts, installers and disk
// images that carry them.
func blockedExtensions() []string {
	return []string{
		"ade", "adp", "app", "application", "appref-ms", "bat", "chm", "cmd", "com", "cpl", "dll",
		"exe", "gadget", "hlp", "hta", "img", "inf", "ins", "iso", "isp", "jar", "js", "jse",
		"lnk", "msc", "msi", "msp", "mst", "pif", "ps1", "ps1xml", "ps2", "ps2xml", "psc1", "psc2",
		"reg", "scf", "scr", "sct", "shb", "shs", "sys", "url", "vb", "vbe", "vbs", "vhd", "vhdx",
		"vxd", "ws", "wsc", "wsf", "wsh",
	}
}

// isText reports whether head looks like text: net/http's sniffer finds a
// text type, which it does only when there are no binary control bytes.
func isText(head []byte) bool {
	return strings.HasPrefix(http.DetectContentType(head), "text/")
}

// typeTable is the lookup the checks use, built once per campaign.
type typeTable struct {
	types   map[string]fileType
	blocked []string
}

func newTypeTable() *typeTable {
	return &typeTable{types: attachmentTypes(), blocked: blockedExtensions()}
}

// ContentTypeOf returns the MIME type pecbatch sends an attachment named
// name with, from its extension, or an error when the extension is missing,
// blocked or not in the table.
func ContentTypeOf(name string) (string, error) {
	ft, err := newTypeTable().lookup(name)
	if err != nil {
		return "", err
	}
	return ft.contentType, nil
}

// lookup checks an attachment name and finds its type.
func (tt *typeTable) lookup(name string) (fileType, error) {
	switch {
	case strings.TrimSpace(name) == "":
		return fileType{}, errors.New("the attachment name is empty")
	case strings.ContainsAny(name, `/\`):
		return fileType{}, fmt.Errorf("attachment name %q contains a / or \\: give a plain file name", name)
	case strings.ContainsFunc(name, isControl):
		return fileType{}, fmt.Errorf("attachment name %q contains a control character", name)
	}
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 || dot == len(name)-1 {
		return fileType{}, fmt.Errorf("%q has no extension: pecbatch needs one (.pdf, .xml, ...) to know the attachment's type", name)
	}
	ext := strings.ToLower(name[dot+1:])
	if slices.Contains(tt.blocked, ext) {
		return fileType{}, fmt.Errorf("%q: .%s files are refused by PEC providers (executables and scripts are blocked)", name, ext)
	}
	ft, ok := tt.types[ext]
	if !ok {
		known := make([]string, 0, len(tt.types))
		for k := range tt.types {
			known = append(known, k)
		}
		slices.Sort(known)
		return fileType{}, fmt.Errorf("%q: .%s is not an attachment type pecbatch knows (known: %s)", name, ext, strings.Join(known, ", "))
	}
	return ft, nil
}

// contentProblem says how head contradicts the type of name, or "".
func contentProblem(ft fileType, name string, head []byte) string {
	if ft.matches(head) {
		return ""
	}
	found := http.DetectContentType(head)
	if i := strings.IndexByte(found, ';'); i >= 0 {
		found = found[:i]
	}
	if found == "application/octet-stream" || found == "text/plain" {
		return fmt.Sprintf("%s is named as %s but its content is not one; check the file", name, ft.what)
	}
	return fmt.Sprintf("%s is named as %s but its content looks like %s; check the file", name, ft.what, found)
}

// attachmentSpec is one entry of message.attachments, parsed.
type attachmentSpec struct {
	index int
	key   string // "message.attachments[1]"
	line  int
	// file is the per-row path template of a file attachment; nil for a
	// rendered one.
	file *template.Text
	// fileStatic is true when file renders the same path for every row.
	fileStatic bool
	// name renders the attachment's name; nil means the file's base name.
	name *template.Text
	// tmplName is a rendered attachment's template file; text or html its
	// parsed template.
	tmplName string
	text     *template.Text
	html     *template.HTML
	// label names the attachment in row problems: `column "allegato"` when
	// one column gives the file, else "attachment N".
	label string
}

// buildAttachment checks and parses one entry of message.attachments.
func (l *loader) buildAttachment(i int, ra *rawAttachment) {
	key := fmt.Sprintf("message.attachments[%d]", i)
	spec := &attachmentSpec{index: i, key: key, line: ra.line, label: fmt.Sprintf("attachment %d", i)}
	file, okFile := l.expand(key+".file", ra.File, false)
	tmpl, okTmpl := l.expand(key+".template", ra.Template, false)
	name, okName := l.expand(key+".name", ra.Name, false)
	if !okFile || !okTmpl || !okName {
		return
	}
	file, tmpl = strings.TrimSpace(file), strings.TrimSpace(tmpl)
	switch {
	case file != "" && tmpl != "":
		l.problem(ra.line, key, "give either file (a file per row) or template (a file rendered per row), not both")
		return
	case file == "" && tmpl == "":
		l.problem(ra.line, key, "give file: (a file per row, e.g. \"fatture/{{.numero}}.pdf\") or name: and template: (an attachment rendered per row)")
		return
	}
	if name != "" {
		spec.name = l.parseText(key+".name", ra.Name, name)
		if spec.name == nil {
			return
		}
		if !strings.Contains(name, "{{") {
			if _, err := l.types().lookup(name); err != nil {
				l.problem(ra.Name.Line, key+".name", "%v", err)
				return
			}
		}
	}
	if file != "" {
		spec.file = l.parseText(key+".file", ra.File, file)
		if spec.file == nil {
			return
		}
		spec.fileStatic = !strings.Contains(file, "{{")
		if fields := spec.file.Fields(); len(fields) == 1 {
			spec.label = fmt.Sprintf("column %q", fields[0])
		}
		if spec.fileStatic {
			// A file that is the same for every row is checked here, once,
			// rather than in every row.
			real, err := resolveAttachment(l.c.root, file, nil)
			if err != nil {
				l.problem(ra.File.Line, key+".file", "%v", err)
				return
			}
			if spec.name == nil || !strings.Contains(name, "{{") {
				typeName := filepath.Base(file)
				if spec.name != nil {
					typeName = name
				}
				ft, err := l.types().lookup(typeName)
				if err != nil {
					l.problem(ra.File.Line, key+".file", "%v", err)
					return
				}
				if _, err := digestFile(real, file, ft, l.c.Message.MaxSize, make([]byte, 32<<10)); err != nil {
					l.problem(ra.File.Line, key+".file", "%v", err)
					return
				}
			}
		}
		l.c.attachments = append(l.c.attachments, spec)
		return
	}
	src, ok := l.readFile(key+".template", ra.Template, tmpl)
	if !ok {
		return
	}
	l.c.templates = append(l.c.templates, fingerprintOf(key+".template", tmpl, src))
	spec.tmplName = tmpl
	if spec.name == nil {
		base := filepath.Base(tmpl)
		if _, err := l.types().lookup(base); err != nil {
			l.problem(ra.Template.Line, key+".template", "%v", err)
			return
		}
		spec.name, _ = template.ParseText(key+".name", strings.ReplaceAll(base, "{{", `{{"{{"}}`))
	}
	switch strings.ToLower(filepath.Ext(tmpl)) {
	case ".html", ".htm":
		t, err := template.ParseHTML(tmpl, string(src))
		if err != nil {
			l.problems = append(l.problems, templateFileProblem(tmpl, err))
			return
		}
		spec.html = t
	case ".txt", ".csv", ".xml", ".json", ".eml":
		t, err := template.ParseText(tmpl, string(src))
		if err != nil {
			l.problems = append(l.problems, templateFileProblem(tmpl, err))
			return
		}
		spec.text = t
		if strings.EqualFold(filepath.Ext(tmpl), ".xml") {
			l.warn(ra.Template.Line, key+".template", "%s is rendered as plain text: merge values are not escaped for XML", tmpl)
		}
	default:
		l.problem(ra.Template.Line, key+".template", "%s: a rendered attachment's template must be .txt, .csv, .xml, .json, .eml (plain text) or .html (escaped HTML)", tmpl)
		return
	}
	l.c.attachments = append(l.c.attachments, spec)
}

// types returns the loader's attachment type table.
func (l *loader) types() *typeTable {
	if l.tt == nil {
		l.tt = newTypeTable()
	}
	return l.tt
}

// dirCache remembers folders whose symlinks were already resolved, so that
// a check per row costs one Lstat rather than one per path element.
type dirCache map[string]string

// resolveAttachment checks a per-row attachment path and returns the real
// file it names: relative (an absolute path is refused), inside the
// campaign's folder root (symlinks resolved) before and after resolving
// the path's own symlinks, and a regular file. cache may be nil.
func resolveAttachment(root, rel string, cache dirCache) (string, error) {
	joined, err := attachmentPath(root, rel)
	if err != nil {
		return "", err
	}
	rel = strings.TrimSpace(rel)
	parent := filepath.Dir(joined)
	realParent, ok := cache[parent]
	if !ok {
		p, err := filepath.EvalSymlinks(parent)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%s: no such file (the folder %s does not exist)", rel, filepath.Dir(rel))
			}
			return "", fmt.Errorf("%s: %w", rel, unwrapPathError(err))
		}
		if !within(root, p) {
			return "", fmt.Errorf("%s leads outside the campaign's folder through a symbolic link", rel)
		}
		realParent = p
		if cache != nil {
			if len(cache) > 4096 {
				clear(cache)
			}
			cache[parent] = p
		}
	}
	full := filepath.Join(realParent, filepath.Base(joined))
	info, err := os.Lstat(full)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: no such file", rel)
		}
		return "", fmt.Errorf("%s: %w", rel, unwrapPathError(err))
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(full)
		if err != nil {
			return "", fmt.Errorf("%s is a symbolic link to a missing file", rel)
		}
		if !within(root, target) {
			return "", fmt.Errorf("%s leads outside the campaign's folder through a symbolic link", rel)
		}
		full = target
		if info, err = os.Stat(full); err != nil {
			return "", fmt.Errorf("%s: %w", rel, unwrapPathError(err))
		}
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", rel)
	}
	return full, nil
}

// attachmentPath checks a per-row attachment path without looking at the
// file system: not empty, relative, and inside root once cleaned. It
// returns the path joined to root.
func attachmentPath(root, rel string) (string, error) {
	rel = strings.TrimSpace(rel)
	switch {
	case rel == "":
		return "", errors.New("the file name is empty for this row")
	case filepath.IsAbs(rel) || strings.HasPrefix(rel, `\`) || filepath.VolumeName(rel) != "" || (len(rel) > 1 && rel[1] == ':'):
		return "", fmt.Errorf("%s: absolute paths are refused: name the file relative to the campaign's folder", rel)
	}
	joined := filepath.Join(root, rel)
	if !within(root, joined) {
		return "", fmt.Errorf("%s is outside the campaign's folder: attachments must be inside it", rel)
	}
	return joined, nil
}

// within reports whether path is root or inside it (both clean).
func within(root, path string) bool {
	r, err := filepath.Rel(root, path)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r)
}

// fileDigest is what the checks learn from reading an attachment file.
type fileDigest struct {
	size   int64
	sha256 [sha256.Size]byte
}

// digestFile reads the file at path once: it checks that it is not empty,
// not over limit, and that its first bytes fit ft; it returns the size and
// SHA-256 of its content. buf is scratch space (at least 1 KB).
func digestFile(path, name string, ft fileType, limit int64, buf []byte) (fileDigest, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileDigest{}, fmt.Errorf("%s: %w", name, unwrapPathError(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fileDigest{}, fmt.Errorf("%s: %w", name, unwrapPathError(err))
	}
	size := info.Size()
	switch {
	case size == 0:
		return fileDigest{}, fmt.Errorf("%s is empty (0 bytes): an empty attachment is almost certainly a mistake", name)
	case size > limit:
		return fileDigest{size: size}, fmt.Errorf("%s is %s, more than message.max_size (%s) allows once encoded", name, FormatSize(size), FormatSize(limit))
	}
	// Read exactly the size fstat gave: no probe for EOF, one read for a
	// file that fits buf. A file that shrank meanwhile fails ReadFull; one
	// that grew is caught at send time, when the content is hashed again.
	h := sha256.New()
	for total := int64(0); total < size; {
		chunk := buf[:min(int64(len(buf)), size-total)]
		if _, err := io.ReadFull(f, chunk); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return fileDigest{}, fmt.Errorf("%s changed while it was being read: check it again", name)
			}
			return fileDigest{}, fmt.Errorf("%s: %w", name, unwrapPathError(err))
		}
		if total == 0 {
			if p := contentProblem(ft, name, chunk[:min(len(chunk), sniffLen)]); p != "" {
				return fileDigest{}, errors.New(p)
			}
		}
		h.Write(chunk)
		total += int64(len(chunk))
	}
	d := fileDigest{size: size}
	h.Sum(d.sha256[:0])
	return d, nil
}

// readAttachment reads the whole file at path for sending, with the same
// checks as digestFile.
func readAttachment(path, name string, ft fileType, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPathError(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPathError(err))
	}
	switch {
	case info.Size() == 0:
		return nil, fmt.Errorf("%s is empty (0 bytes): an empty attachment is almost certainly a mistake", name)
	case info.Size() > limit:
		return nil, fmt.Errorf("%s is %s, more than message.max_size (%s) allows once encoded", name, FormatSize(info.Size()), FormatSize(limit))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPathError(err))
	}
	if int64(len(data)) != info.Size() {
		return nil, fmt.Errorf("%s changed while it was being read: check it again", name)
	}
	if p := contentProblem(ft, name, data[:min(len(data), sniffLen)]); p != "" {
		return nil, errors.New(p)
	}
	return data, nil
}

// sniffLen is how much of a file the content checks look at.
const sniffLen = 1024

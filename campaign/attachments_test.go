package campaign

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestContentTypeOf(t *testing.T) {
	tests := []struct {
		name    string
		want    string
		wantErr string
	}{
		{"fattura.pdf", "application/pdf", ""},
		{"FATTURA.PDF", "application/pdf", ""},
		{"fattura.xml.p7m", "application/pkcs7-mime", ""},
		{"foto.JPEG", "image/jpeg", ""},
		{"tabella.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ""},
		{"nota.txt", "text/plain", ""},
		{"messaggio.eml", "message/rfc822", ""},
		{"programma.exe", "", ".exe files are refused"},
		{"fattura.pdf.exe", "", ".exe files are refused"},
		{"script.JS", "", ".js files are refused"},
		{"macro.vbs", "", ".vbs files are refused"},
		{"collegamento.lnk", "", ".lnk files are refused"},
		{"archivio.rar", "", ".rar is not an attachment type pecbatch knows"},
		{"senza-estensione", "", "has no extension"},
		{"punto.", "", "has no extension"},
		{"", "", "name is empty"},
		{"../x.pdf", "", "contains a /"},
		{`a\b.pdf`, "", "contains a /"},
		{"a\nb.pdf", "", "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ContentTypeOf(tt.name)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ContentTypeOf(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ContentTypeOf(%q) = %q, %v; want an error with %q", tt.name, got, err, tt.wantErr)
			}
		})
	}
}

func TestContentProblem(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string // substring; "" means it fits
	}{
		{"a.pdf", minimalPDF, ""},
		{"a.pdf", "\xef\xbb\xbf  %PDF-1.7 after a little junk", ""},
		{"a.pdf", "\x89PNG\r\n\x1a\nxxxx", "named as a PDF but its content looks like image/png"},
		{"a.pdf", "just some text", "named as a PDF but its content is not one"},
		{"a.png", "\x89PNG\r\n\x1a\nxxxx", ""},
		{"a.png", "\xff\xd8\xff\xe0JFIF", "looks like image/jpeg"},
		{"a.jpg", "\xff\xd8\xff\xe0JFIF", ""},
		{"a.docx", "PK\x03\x04rest", ""},
		{"a.docx", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "named as a Word document"},
		{"a.doc", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ""},
		{"a.zip", "%PDF-1.4", "looks like application/pdf"},
		{"a.txt", "Gentile Mario, à bientôt\n", ""},
		{"a.txt", "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "named as text but its content is not one"},
		{"a.txt", "%PDF-1.4\n", "looks like application/pdf"},
		{"a.xml", "<?xml version=\"1.0\"?><p:FatturaElettronica/>", ""},
		{"a.html", "<p>ciao</p>", ""},
		{"a.p7m", "\x30\x82\x01\x00", ""},
		{"a.p7m", "MIIBxjCCAW...", ""},
		{"a.p7m", "\x00\x01\x02", "named as a signed (CAdES) file"},
		{"a.tif", "II*\x00", ""},
		{"a.gif", "GIF89a", ""},
		{"a.rtf", `{\rtf1\ansi`, ""},
	}
	tt0 := newTypeTable()
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.want, func(t *testing.T) {
			ft, err := tt0.lookup(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			got := contentProblem(ft, tt.name, []byte(tt.content))
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("contentProblem(%s, %q) = %q, want %q", tt.name, tt.content, got, tt.want)
			}
		})
	}
}

func TestResolveAttachment(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "campagna")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "fatture", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "fatture", "1.pdf"), []byte(minimalPDF), 0o644))
	must(os.WriteFile(filepath.Join(base, "segreto.pdf"), []byte(minimalPDF), 0o644))
	must(os.Symlink(filepath.Join(base, "segreto.pdf"), filepath.Join(dir, "fatture", "fuga.pdf")))
	must(os.Symlink(filepath.Join(dir, "fatture", "1.pdf"), filepath.Join(dir, "fatture", "alias.pdf")))
	must(os.Symlink(base, filepath.Join(dir, "fuori")))
	must(os.Symlink(filepath.Join(dir, "fatture", "nessuno.pdf"), filepath.Join(dir, "fatture", "rotto.pdf")))
	root, err := filepath.EvalSymlinks(dir)
	must(err)
	tests := []struct {
		rel     string
		want    string // file it resolves to, relative to dir
		wantErr string
	}{
		{"fatture/1.pdf", "fatture/1.pdf", ""},
		{" fatture/1.pdf ", "fatture/1.pdf", ""},
		{"fatture/sub/../1.pdf", "fatture/1.pdf", ""},
		{"./fatture/1.pdf", "fatture/1.pdf", ""},
		{"fatture/alias.pdf", "fatture/1.pdf", ""},
		{"", "", "the file name is empty"},
		{"/etc/passwd", "", "absolute paths are refused"},
		{`C:\Windows\win.ini`, "", "absolute paths are refused"},
		{"../segreto.pdf", "", "outside the campaign's folder"},
		{"../../etc/passwd", "", "outside the campaign's folder"},
		{"fatture/../../segreto.pdf", "", "outside the campaign's folder"},
		{"fatture/fuga.pdf", "", "leads outside the campaign's folder through a symbolic link"},
		{"fuori/segreto.pdf", "", "leads outside the campaign's folder through a symbolic link"},
		{"fatture/rotto.pdf", "", "symbolic link to a missing file"},
		{"fatture/2.pdf", "", "fatture/2.pdf: no such file"},
		{"nessuna/1.pdf", "", "the folder nessuna does not exist"},
		{"fatture/sub", "", "is not a regular file"},
	}
	for _, cache := range []dirCache{nil, {}} {
		for _, tt := range tests {
			t.Run(tt.rel, func(t *testing.T) {
				got, err := resolveAttachment(root, tt.rel, cache)
				if tt.wantErr == "" {
					if err != nil || got != filepath.Join(root, tt.want) {
						t.Fatalf("resolveAttachment(%q) = %q, %v; want %q", tt.rel, got, err, tt.want)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolveAttachment(%q) = %q, %v; want an error with %q", tt.rel, got, err, tt.wantErr)
				}
			})
		}
	}
}

func TestDigestFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pdf := newTypeTable().types["pdf"]
	big := minimalPDF + strings.Repeat("x", 100_000)
	tests := []struct {
		name, content string
		limit         int64
		wantErr       string
	}{
		{"ok.pdf", big, 1 << 20, ""},
		{"empty.pdf", "", 1 << 20, "is empty (0 bytes)"},
		{"big.pdf", big, 50_000, "more than message.max_size (50.0 KB) allows"},
		{"fake.pdf", "hello", 1 << 20, "named as a PDF but its content is not one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(tt.name, tt.content)
			d, err := digestFile(p, tt.name, pdf, tt.limit, make([]byte, 4096))
			data, rerr := readAttachment(p, tt.name, pdf, tt.limit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("digestFile: %v, want %q", err, tt.wantErr)
				}
				if rerr == nil || rerr.Error() != err.Error() {
					t.Fatalf("readAttachment: %v, want the same error as digestFile (%v)", rerr, err)
				}
				return
			}
			if err != nil || rerr != nil {
				t.Fatalf("digestFile: %v; readAttachment: %v", err, rerr)
			}
			if d.size != int64(len(tt.content)) || string(data) != tt.content {
				t.Fatalf("size %d, read %d bytes; want %d", d.size, len(data), len(tt.content))
			}
			if want := sha256Of(tt.content); d.sha256 != want {
				t.Fatalf("digest differs from the content's SHA-256")
			}
		})
	}
}

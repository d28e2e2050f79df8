package campaign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const fullCampaign = `# every key
name: solleciti-novembre
api:
  base_url: http://127.0.0.1:8025/
  token: ${PECMASSIVA_TOKEN}
sender:
  address: Amministrazione@PEC.esempio.it
  username: ${PEC_USERNAME}
  password: ${PEC_PASSWORD}
recipients:
  file: destinatari.csv
  delimiter: ";"
  encoding: windows-1252
  to: "{{.pec}}"
  key: "{{.numero}}"
  duplicates: skip
message:
  subject: "Sollecito di pagamento fattura {{.numero}}"
  body: corpo.html
  max_size: 50 MiB
  attachments:
    - file: "fatture/{{.numero}}.pdf"
    - name: "riepilogo-{{.numero}}.txt"
      template: riepilogo.txt
    - template: informativa.html
sending:
  rate: 30/m
  journal: journal/solleciti.db
  max_consecutive_errors: 5
  reconcile_window: 15m
  daily_limit: 30_000
  window: "Mon-Fri 08:00-13:00, 14:00-20:00"
tracking:
  give_up_after: 30h
  poll_rate: 4/s
  delete_receipts: true
`

func TestLoadFull(t *testing.T) {
	files := baseFiles()
	files["journal/.keep"] = "" // sending.journal's folder must exist
	path := writeCampaign(t, fullCampaign, files)
	dir := filepath.Dir(path)
	c := mustLoad(t, path)
	checks := []struct {
		name      string
		got, want any
	}{
		{"Name", c.Name, "solleciti-novembre"},
		{"Path", c.Path, path},
		{"Dir", c.Dir, dir},
		{"API.BaseURL", c.API.BaseURL, "http://127.0.0.1:8025"},
		{"API.Token", c.API.Token.Reveal(), "tok-secret-123"},
		{"Sender.Address", c.Sender.Address, "amministrazione@pec.esempio.it"},
		{"Sender.Username", c.Sender.Username, "ufficio@pec.esempio.it"},
		{"Sender.Password", c.Sender.Password.Reveal(), "pw-secret-456"},
		{"Recipients.File", c.Recipients.File, filepath.Join(dir, "destinatari.csv")},
		{"Recipients.FileName", c.Recipients.FileName, "destinatari.csv"},
		{"Recipients.Delimiter", c.Recipients.Delimiter, ';'},
		{"Recipients.Encoding", c.Recipients.Encoding, EncodingWindows1252},
		{"Recipients.Duplicates", c.Recipients.Duplicates, DuplicatesSkip},
		{"Message.MaxSize", c.Message.MaxSize, int64(50 << 20)},
		{"attachments", len(c.attachments), 3},
		{"Sending.Rate", c.Sending.Rate.PerSecond(), 0.5},
		{"Sending.Journal", c.Sending.Journal, filepath.Join(dir, "journal", "solleciti.db")},
		{"Sending.MaxConsecutiveErrors", c.Sending.MaxConsecutiveErrors, 5},
		{"Sending.ReconcileWindow", c.Sending.ReconcileWindow, 15 * time.Minute},
		{"Sending.DailyLimit", c.Sending.DailyLimit, 30000},
		{"Sending.Window", c.Sending.Window.String(), "mon-fri 08:00-13:00, 14:00-20:00"},
		{"Tracking.GiveUpAfter", c.Tracking.GiveUpAfter, 30 * time.Hour},
		{"Tracking.PollRate", c.Tracking.PollRate.PerSecond(), 4.0},
		{"Tracking.DeleteReceipts", c.Tracking.DeleteReceipts, true},
		{"Warnings", problemStrings(c.Warnings), ""},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	parts, err := c.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range parts {
		names = append(names, p.Name+"="+p.Path)
		if len(p.SHA256) != 64 {
			t.Errorf("fingerprint part %s has hash %q", p.Name, p.SHA256)
		}
	}
	want := "campaign=campaign.yaml recipients=destinatari.csv message.body=corpo.html message.attachments[2].template=riepilogo.txt message.attachments[3].template=informativa.html"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("fingerprint parts = %s\nwant %s", got, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	c := mustLoad(t, writeCampaign(t, baseCampaign, baseFiles()))
	checks := []struct {
		name      string
		got, want any
	}{
		{"API.BaseURL", c.API.BaseURL, DefaultBaseURL},
		{"Recipients.Delimiter", c.Recipients.Delimiter, rune(0)},
		{"Recipients.Encoding", c.Recipients.Encoding, EncodingUTF8},
		{"Recipients.Duplicates", c.Recipients.Duplicates, DuplicatesError},
		{"key", c.key == nil, true},
		{"Message.MaxSize", c.Message.MaxSize, int64(30_000_000)},
		{"Sending.Rate", c.Sending.Rate.String(), "1/s"},
		{"Sending.Journal", filepath.Base(c.Sending.Journal), "campaign.journal.db"},
		{"Sending.Journal dir", filepath.Dir(c.Sending.Journal), c.Dir},
		{"Sending.MaxConsecutiveErrors", c.Sending.MaxConsecutiveErrors, 10},
		{"Sending.ReconcileWindow", c.Sending.ReconcileWindow, 10 * time.Minute},
		{"Sending.DailyLimit", c.Sending.DailyLimit, 3500},
		{"Tracking.GiveUpAfter", c.Tracking.GiveUpAfter, 26 * time.Hour},
		{"Tracking.PollRate", c.Tracking.PollRate.String(), "2/s"},
		{"Tracking.DeleteReceipts", c.Tracking.DeleteReceipts, false},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

// loadCase is one broken campaign file of the golden problem listing.
type loadCase struct {
	name  string
	yaml  string
	files func(map[string]string)
	env   map[string]string
	opts  LoadOptions
}

// edit replaces old by new in baseCampaign, failing loudly if old is absent.
func edit(old, new string) string {
	if !strings.Contains(baseCampaign, old) {
		panic("baseCampaign has no " + old)
	}
	return strings.Replace(baseCampaign, old, new, 1)
}

func loadCases() []loadCase {
	return []loadCase{
		{name: "valid", yaml: baseCampaign},
		{name: "unknown top-level key", yaml: baseCampaign + "recipient:\n  file: x.csv\n"},
		{name: "misspelt key", yaml: baseCampaign + "sending:\n  rat: 1/s\n"},
		{name: "key at the wrong level", yaml: baseCampaign + "tracking:\n  rate: 1/s\n"},
		{name: "unknown key in an attachment", yaml: edit(`    - file: "fatture/{{.numero}}.pdf"`, "    - file: \"fatture/{{.numero}}.pdf\"\n      nmae: x.pdf")},
		{name: "unknown key, no suggestion", yaml: baseCampaign + "colour: blue\n"},
		{name: "several problems at once", yaml: edit("name: prova", "nome: prova") + "sending:\n  rate: fast\n  daily_limit: 0\n"},
		{name: "YAML syntax error", yaml: edit("  to: \"{{.pec}}\"", "  to: \"{{.pec}}\n   - oops")},
		{name: "tab indentation", yaml: edit("  file: destinatari.csv", "\tfile: destinatari.csv")},
		{name: "duplicate key", yaml: edit("name: prova", "name: prova\nname: altra")},
		{name: "not a mapping", yaml: "- name: prova\n"},
		{name: "empty file", yaml: "# nothing\n"},
		{name: "mapping where a value goes", yaml: edit("name: prova", "name:\n  it: prova")},
		{name: "value where a mapping goes", yaml: baseCampaign + "tracking: 26h\n"},
		{name: "value where a list goes", yaml: edit("  attachments:\n    - file: \"fatture/{{.numero}}.pdf\"", "  attachments: fatture/x.pdf")},
		{name: "unset variable", yaml: edit("  address: Ufficio@PEC.esempio.it", "  address: ${PEC_SENDER}")},
		{name: "unset API variables offline", yaml: baseCampaign, env: map[string]string{}, opts: LoadOptions{Offline: true}},
		{name: "unset API variables for a run", yaml: baseCampaign, env: map[string]string{}},
		{name: "API variables overridden", yaml: baseCampaign, env: map[string]string{},
			opts: LoadOptions{OverrideAPI: &APIOverride{BaseURL: "http://127.0.0.1:1/", Token: "t", Username: "u", Password: "p"}}},
		{name: "default for a variable", yaml: baseCampaign + "sending:\n  rate: ${RATE:-2/s}\n"},
		{name: "bad variable reference", yaml: edit("name: prova", "name: ${1X}")},
		{name: "missing token for a run", yaml: edit("  token: ${PECMASSIVA_TOKEN}\n", "")},
		{name: "required keys missing", yaml: "name: prova\n"},
		{name: "bad values", yaml: edit("  to: \"{{.pec}}\"", "  to: \"{{.pec}}\"\n  delimiter: \":\"\n  encoding: ebcdic\n  duplicates: ignore") +
			"sending:\n  rate: 1\n  max_consecutive_errors: ten\n  reconcile_window: 10\n  daily_limit: -1\ntracking:\n  give_up_after: 1d\n  poll_rate: 2/d\n  delete_receipts: yes\n"},
		{name: "base_url over plain http", yaml: edit("api:\n", "api:\n  base_url: http://ws.pecmassiva.com\n")},
		{name: "base_url not a URL", yaml: edit("api:\n", "api:\n  base_url: ws.pecmassiva.com\n")},
		{name: "base_url with a user and password", yaml: edit("api:\n", "api:\n  base_url: https://ufficio:Segreto1@ws.pecmassiva.com\n")},
		{name: "base_url with a password that is not a URL", yaml: edit("api:\n", "api:\n  base_url: https://ufficio:Se greto@ws.pecmassiva.com\n")},
		{name: "base_url with a query", yaml: edit("api:\n", "api:\n  base_url: https://ws.pecmassiva.com/?token=abc\n")},
		{name: "base_url with a fragment", yaml: edit("api:\n", "api:\n  base_url: https://ws.pecmassiva.com/#send\n")},
		{name: "journal in a missing folder", yaml: baseCampaign + "sending:\n  journal: archivio/prova.journal.db\n"},
		{name: "journal in a file taken for a folder", yaml: baseCampaign + "sending:\n  journal: corpo.html/prova.journal.db\n"},
		{name: "sending window not understood", yaml: baseCampaign + "sending:\n  window: \"lun-ven 8-20\"\n"},
		{name: "sending window across midnight", yaml: baseCampaign + "sending:\n  window: mon-fri 22:00-06:00\n"},
		{name: "rate slower than one a day", yaml: baseCampaign + "sending:\n  rate: 0.0000001/h\ntracking:\n  poll_rate: 0.01/h\n"},
		{name: "max_size over 100MB", yaml: edit("  body: corpo.html", "  body: corpo.html\n  max_size: 101MB")},
		{name: "max_size not a size", yaml: edit("  body: corpo.html", "  body: corpo.html\n  max_size: big")},
		{name: "invalid sender", yaml: edit("  address: Ufficio@PEC.esempio.it", "  address: Ufficio <ufficio@pec.esempio.it>")},
		{name: "missing files", yaml: baseCampaign, files: func(f map[string]string) { delete(f, "destinatari.csv"); delete(f, "corpo.html") }},
		{name: "subject template syntax error", yaml: edit(`"Sollecito fattura {{.numero}}"`, `"Sollecito fattura {{.numero}"`)},
		{name: "body template syntax error", yaml: baseCampaign, files: func(f map[string]string) { f["corpo.html"] = "<p>Gentile\n{{if .nome}}{{.nome}}</p>\n" }},
		{name: "attachment with both file and template", yaml: edit(`    - file: "fatture/{{.numero}}.pdf"`, "    - file: \"fatture/{{.numero}}.pdf\"\n      template: riepilogo.txt")},
		{name: "attachment with neither", yaml: edit(`    - file: "fatture/{{.numero}}.pdf"`, "    - name: x.pdf")},
		{name: "static attachment problems", yaml: edit(`    - file: "fatture/{{.numero}}.pdf"`,
			"    - file: assente.pdf\n    - file: programma.exe\n    - file: ../fuori.pdf\n    - file: vuoto.pdf\n    - file: finto.pdf"),
			files: func(f map[string]string) {
				f["programma.exe"] = "MZ"
				f["vuoto.pdf"] = ""
				f["finto.pdf"] = "\x89PNG\r\n\x1a\n...."
			}},
		{name: "rendered attachment template type", yaml: edit(`    - file: "fatture/{{.numero}}.pdf"`, "    - name: x.pdf\n      template: fatture/1.pdf")},
		{name: "attachment name blocked", yaml: edit(`    - file: "fatture/{{.numero}}.pdf"`, "    - name: riepilogo.js\n      template: riepilogo.txt")},
		{name: "warnings", yaml: edit("  body: corpo.html", "  body: corpo.txt") + "sending:\n  rate: 2/s\ntracking:\n  give_up_after: 12h\n",
			files: func(f map[string]string) { f["corpo.txt"] = "Gentile {{.nome}}" }},
	}
}

func TestLoadProblems(t *testing.T) {
	var out bytes.Buffer
	for _, tc := range loadCases() {
		t.Run(tc.name, func(t *testing.T) {
			files := baseFiles()
			if tc.files != nil {
				tc.files(files)
			}
			path := writeCampaign(t, tc.yaml, files)
			env := tc.env
			if env == nil {
				env = testEnv()
			}
			opts := tc.opts
			opts.LookupEnv = lookupFrom(env)
			c, err := LoadFile(path, opts)
			fmt.Fprintf(&out, "== %s\n", tc.name)
			if err != nil {
				for _, p := range validationProblems(t, err) {
					fmt.Fprintf(&out, "%s\n", p)
					if p.File == "" || p.Message == "" {
						t.Errorf("problem without a file or message: %#v", p)
					}
				}
				if c != nil {
					t.Errorf("Load returned a campaign along with its error")
				}
				return
			}
			for _, w := range c.Warnings {
				fmt.Fprintf(&out, "warning: %s\n", w)
			}
			fmt.Fprintf(&out, "ok: base_url=%s token=%t\n", c.API.BaseURL, c.API.Token != "")
		})
	}
	goldenCampaign(t, "load-problems.txt", out.Bytes())
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml"), LoadOptions{})
	ps := validationProblems(t, err)
	if len(ps) != 1 || !strings.Contains(ps[0].String(), "nope.yaml: no such file") {
		t.Fatalf("problems = %v", ps)
	}
}

func TestLoadNeverLeaksSecrets(t *testing.T) {
	c := mustLoad(t, writeCampaign(t, baseCampaign, baseFiles()))
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("campaign", "token", c.API.Token, "password", c.Sender.Password, "api", c.API)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c.API.Token), logs.String(), string(js)} {
		for _, secret := range []string{"tok-secret-123", "pw-secret-456"} {
			if strings.Contains(s, secret) {
				t.Errorf("secret %q leaked in %q", secret, s)
			}
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(baseCampaign)
	f.Add(fullCampaign)
	for _, tc := range loadCases() {
		f.Add(tc.yaml)
	}
	for _, tc := range imapCases("") {
		f.Add(baseCampaign + "tracking:\n" + tc.tracking)
	}
	dir := f.TempDir()
	for name, content := range baseFiles() {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := Load(strings.NewReader(src), LoadOptions{Path: filepath.Join(dir, "campaign.yaml"), LookupEnv: lookupFrom(testEnv())})
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error %v does not wrap ErrInvalidInput", err)
			}
			for _, p := range validationProblems(t, err) {
				if p.Message == "" {
					t.Fatalf("empty problem %#v", p)
				}
			}
			return
		}
		if c.Name == "" || c.to == nil || c.subject == nil || c.body == nil || c.Sender.Address == "" {
			t.Fatalf("a campaign without its required parts was accepted: %+v", c)
		}
	})
}

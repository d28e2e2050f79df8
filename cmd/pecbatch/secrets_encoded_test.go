package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Secrets with the characters every encoding treats differently: a quote
// (JSON, HTML), a slash (PHP's JSON, path encoding), a space (+ or %20), a
// plus, an ampersand, '=', '?', '%' and ':'.
const (
	encodedToken    = `Tok"en/ZX81+&=?%SECRET`
	encodedPassword = `Pa"ss w/QW77+&=?:SECRET`
	encodedUsername = "amministrazione@pec.sandbox.test"
)

// secretForms returns every form in which a server or a proxy may echo
// secret (and, for the password, the Basic authorization of user:secret),
// by name. The hex digits of percent-encoding may be in either case, so
// the caller compares those forms case-insensitively.
func secretForms(secret, user string) map[string]string {
	j, _ := json.Marshal(secret) // Go's JSON: \" and \u0026
	jsonEsc := strings.Trim(string(j), `"`)
	forms := map[string]string{
		"raw":                secret,
		"JSON-escaped":       jsonEsc,
		"JSON-escaped (PHP)": strings.ReplaceAll(strings.ReplaceAll(jsonEsc, `\u0026`, "&"), "/", `\/`),
		"URL query":          url.QueryEscape(secret),
		"URL path":           url.PathEscape(secret),
		"URL component":      strings.ReplaceAll(url.QueryEscape(secret), "+", "%20"),
		"base64":             base64.RawStdEncoding.EncodeToString([]byte(secret)),
		"base64url":          base64.RawURLEncoding.EncodeToString([]byte(secret)),
	}
	if user != "" {
		forms["base64 of user:pass"] = base64.RawStdEncoding.EncodeToString([]byte(user + ":" + secret))
	}
	return forms
}

// encodedLeaks returns the forms of the secrets found in data.
func encodedLeaks(data []byte) []string {
	lower := strings.ToLower(string(data))
	var found []string
	for name, forms := range map[string]map[string]string{
		"token":    secretForms(encodedToken, ""),
		"password": secretForms(encodedPassword, encodedUsername),
	} {
		for form, v := range forms {
			hit := strings.Contains(string(data), v)
			if !strings.HasPrefix(form, "base64") {
				hit = strings.Contains(lower, strings.ToLower(v))
			}
			if hit {
				found = append(found, name+" ("+form+")")
			}
		}
	}
	return found
}

// formNames lists the forms secretForms gives the password (the token has
// all of them but the Basic one), raw first: the first echo is a refusal,
// whose text the journal, status and reports keep.
func formNames() []string {
	names := slices.Sorted(maps.Keys(secretForms(encodedPassword, encodedUsername)))
	names = slices.DeleteFunc(names, func(n string) bool { return n == "raw" })
	return append([]string{"raw"}, names...)
}

// echoOf is what an indiscreet server or proxy answers: the password and
// the token in one form (the raw token for the Basic form, which only the
// password has). Each echo is short, so that no excerpt cuts it.
func echoOf(form string) string {
	tok := secretForms(encodedToken, "")[form]
	if tok == "" {
		tok = encodedToken
	}
	return "password=" + secretForms(encodedPassword, encodedUsername)[form] + " authorization=Bearer " + tok
}

// TestSecretsEchoedInEveryEncoding: a server and a proxy that echo the
// token and the mailbox password back in every encoding (raw, JSON-escaped
// in Go's and PHP's way, URL query and path encoding, + for a space,
// base64 of each and of user:pass), in a refusal, in 5xx answers, in a
// mailbox search and in a 401, never get them into the journal file's
// bytes, the CSV, Excel and HTML reports, status, status --json, stdout or
// stderr.
func TestSecretsEchoedInEveryEncoding(t *testing.T) {
	t.Parallel()
	// The detector itself finds each form.
	for _, s := range []struct{ secret, user string }{{encodedToken, ""}, {encodedPassword, encodedUsername}} {
		for form, v := range secretForms(s.secret, s.user) {
			if len(encodedLeaks([]byte("x"+v+"x"))) == 0 {
				t.Fatalf("the detector misses the %s form %q", form, v)
			}
		}
	}
	if encodedLeaks([]byte(strings.Repeat("[redacted] ", 10))) != nil {
		t.Fatal("the detector sees a secret in the redaction mark")
	}
	checkNone := func(where string, data []byte) {
		t.Helper()
		if leaks := encodedLeaks(data); len(leaks) > 0 {
			t.Errorf("%s shows the %s", where, strings.Join(leaks, ", "))
		}
	}

	bin := buildPecbatch(t)
	cfg := relDefaults(2*len(formNames()) + 2)
	cfg.sandbox.Token, cfg.sandbox.Password, cfg.sandbox.Username = encodedToken, encodedPassword, encodedUsername
	f := newRelFixture(t, bin, cfg)
	// The odd sends answer with an echo, one form each, in turn as a JSON
	// refusal (rejected), a text 500 and a proxy's HTML 502 (unknown); the
	// even sends go through, so the run never stops for errors in a row.
	// A raw quote is no valid JSON: the raw echo is a text refusal.
	forms := formNames()
	answerEcho := func(c *relCall, i int) {
		form := forms[i%len(forms)]
		switch {
		case i%3 == 0 && form == "raw":
			c.answer(http.StatusBadRequest, "Post parameter is not valid: "+echoOf(form), "Content-Type", "text/plain")
		case i%3 == 0:
			body, _ := json.Marshal(map[string]any{"success": false, "message": "Post parameter is not valid: " + echoOf(form)})
			c.answer(http.StatusBadRequest, string(body))
		case i%3 == 1:
			c.answer(http.StatusInternalServerError, "MySQL Error 2006 "+echoOf(form), "Content-Type", "text/plain")
		default:
			c.answer(http.StatusBadGateway, "<html><head><title>502 "+echoOf(form)+"</title></head><body>"+echoOf(form)+
				"</body></html>", "Content-Type", "text/html")
		}
	}
	f.setHook(func(c *relCall) bool {
		switch {
		case c.Kind == "send" && c.N%2 == 1 && c.N/2 < len(forms):
			answerEcho(c, c.N/2)
		case c.Kind == "inbox" && c.N <= len(forms):
			answerEcho(c, c.N-1)
		default:
			return false
		}
		return true
	})
	var outputs []struct {
		name string
		res  relResult
	}
	step := func(name string, want int, args ...string) {
		t.Helper()
		res := f.run(args...)
		if res.code != want || res.signal != 0 {
			t.Errorf("%s: want exit status %d, got %s", name, want, res)
		}
		outputs = append(outputs, struct {
			name string
			res  relResult
		}{name, res})
	}
	// A proxy's HTML page stops the run as an endpoint failure (exit 1):
	// run again, as an operator would, until the campaign has gone through.
	for i := 0; ; i++ {
		res := f.run("run", f.file, "--yes", "--verbose", "--log-format", "json")
		outputs = append(outputs, struct {
			name string
			res  relResult
		}{fmt.Sprintf("run with echoes %d", i+1), res})
		if res.code == exitError && res.signal == 0 && i < len(forms) {
			continue
		}
		if res.code != exitRowsUnknown || res.signal != 0 {
			t.Errorf("run with echoes %d: want exit status %d, got %s", i+1, exitRowsUnknown, res)
		}
		break
	}
	if row := f.journalRow(relKey(1)); row.State != "rejected" || strings.Count(row.LastError, "[redacted]") != 2 {
		t.Errorf("row 1 is %s (%q): want rejected with the scrubbed echo, which proves the echo reached the journal's path",
			row.State, row.LastError)
	}
	f.setHook(func(c *relCall) bool {
		if c.Kind == "send" {
			body, _ := json.Marshal(map[string]any{"success": false, "message": "Unauthorized " + echoOf("URL path")})
			c.answer(http.StatusUnauthorized, string(body))
			return true
		}
		return false
	})
	step("run refused with an echo", exitError, "run", f.file, "--yes", "--verbose", "--resend-unknown")
	f.setHook(nil)
	step("run resumed", exitRowsFailed, "run", f.file, "--yes", "--verbose", "--resend-unknown")
	step("status", 0, "status", f.file)
	step("status json", 0, "status", f.file, "--json")
	step("report csv", 0, "report", f.file, "-o", filepath.Join(f.dir, "esiti.csv"))
	step("report excel", 0, "report", f.file, "--excel", "-o", filepath.Join(f.dir, "esiti-excel.csv"))
	step("report html", 0, "report", f.file, "-o", filepath.Join(f.dir, "esiti.html"))
	step("report to stdout", 0, "report", f.file, "-o", "-")
	step("report html to stdout", 0, "report", f.file, "--format", "html", "-o", "-")
	for _, o := range outputs {
		checkNone(o.name+" stdout", []byte(o.res.stdout))
		checkNone(o.name+" stderr", []byte(o.res.stderr))
	}
	output := func(name string) string {
		for _, o := range outputs {
			if o.name == name {
				return o.res.stdout
			}
		}
		t.Fatalf("no output of %s", name)
		return ""
	}
	if !strings.Contains(output("status"), "[redacted]") || !strings.Contains(output("report csv")+readFile(t, filepath.Join(f.dir, "esiti.csv")), "[redacted]") {
		t.Error("status or the CSV report does not show the scrubbed echo: the test does not reach them")
	}
	files := 0
	err := filepath.WalkDir(f.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		checkNone(filepath.Base(path), data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Errorf("only %d files checked: the journal and the reports should be there", files)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

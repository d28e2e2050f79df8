package campaign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// testRootPEM is a self-signed CA certificate in PEM, made for the test.
func testRootPEM(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test PEC CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(0, 0).Add(100 * 365 * 24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// imapCases are campaign files with tracking.imap settings; problem is
// a fragment of the one problem wanted, "" for a valid file.
func imapCases(rootPEM string) []struct{ name, tracking, problem, url string } {
	return []struct{ name, tracking, problem, url string }{
		{"off by default", "", "", ""},
		{"imaps with port", "  imap: imaps://IMAP.Pec.Example.it:993\n", "", "imaps://imap.pec.example.it:993"},
		{"imaps without port", "  imap: imaps://imap.pec.example.it\n", "", "imaps://imap.pec.example.it"},
		{"trailing slash", "  imap: imaps://imap.pec.example.it:993/\n", "", "imaps://imap.pec.example.it:993"},
		{"with trust", "  imap: imaps://imap.pec.example.it:993\n  imap_trust: roots.pem\n", "", "imaps://imap.pec.example.it:993"},
		{"plain imap", "  imap: imap://imap.pec.example.it:143\n", "use imaps://", ""},
		{"https", "  imap: https://imap.pec.example.it\n", "not an imaps:// URL", ""},
		{"no host", "  imap: imaps://:993\n", "names no host", ""},
		{"user info", "  imap: imaps://ufficio:pw-secret-456@imap.pec.example.it:993\n", "must not hold a user name", ""},
		{"query", "  imap: imaps://imap.pec.example.it:993?auth=plain\n", "query or a fragment", ""},
		{"fragment", "  imap: imaps://imap.pec.example.it:993#x\n", "query or a fragment", ""},
		{"path", "  imap: imaps://imap.pec.example.it:993/INBOX\n", "has a path", ""},
		{"bad port", "  imap: imaps://imap.pec.example.it:99999\n", "not a port number", ""},
		{"trust without imap", "  imap_trust: roots.pem\n", "only matters with tracking.imap", ""},
		{"receipts deleted before read", "  imap: imaps://h.example.it\n  delete_receipts: true\n", "before tracking.imap has read", ""},
		{"receipts deleted without imap", "  delete_receipts: true\n", "", ""},
		{"trust missing", "  imap: imaps://h.example.it\n  imap_trust: nowhere.pem\n", "no such file", ""},
		{"trust not PEM", "  imap: imaps://h.example.it\n  imap_trust: corpo.html\n", "not a PEM file", ""},
		{"trust holds a key", "  imap: imaps://h.example.it\n  imap_trust: key.pem\n", "only CERTIFICATE blocks", ""},
		{"trust is a folder", "  imap: imaps://h.example.it\n  imap_trust: fatture\n", "not a regular file", ""},
	}
}

func TestLoadIMAP(t *testing.T) {
	root := testRootPEM(t)
	for _, tc := range imapCases(root) {
		t.Run(tc.name, func(t *testing.T) {
			files := baseFiles()
			files["roots.pem"] = root
			files["key.pem"] = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"
			src := baseCampaign
			if tc.tracking != "" {
				src += "tracking:\n" + tc.tracking
			}
			path := writeCampaign(t, src, files)
			c, err := LoadFile(path, LoadOptions{LookupEnv: lookupFrom(testEnv())})
			if tc.problem == "" {
				if err != nil {
					t.Fatalf("LoadFile: %v", err)
				}
				if c.Tracking.IMAP != tc.url {
					t.Errorf("Tracking.IMAP = %q, want %q", c.Tracking.IMAP, tc.url)
				}
				if strings.Contains(tc.tracking, "imap_trust") && (c.Tracking.IMAPRoots == nil || !strings.HasSuffix(c.Tracking.IMAPTrust, "roots.pem")) {
					t.Errorf("trust not loaded: %q %v", c.Tracking.IMAPTrust, c.Tracking.IMAPRoots)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want a problem saying %q", tc.problem)
			}
			ps := validationProblems(t, err)
			if len(ps) != 1 || !strings.Contains(ps[0].Message, tc.problem) || !strings.HasPrefix(ps[0].Field, "tracking.") {
				t.Fatalf("problems:\n%s\nwant one about tracking saying %q", problemStrings(ps), tc.problem)
			}
			if strings.Contains(ps[0].String(), "pw-secret-456") {
				t.Errorf("the problem repeats the password: %s", ps[0])
			}
		})
	}
}

// FuzzCheckIMAPURL: whatever is accepted is an imaps:// URL with a host and
// nothing else, and no message repeats what came before an @.
func FuzzCheckIMAPURL(f *testing.F) {
	for _, tc := range imapCases("") {
		f.Add(strings.TrimSpace(strings.TrimPrefix(strings.SplitN(tc.tracking, "\n", 2)[0], "  imap:")))
	}
	f.Add("imaps://user:secret@host:993")
	f.Fuzz(func(t *testing.T, v string) {
		u, err := checkIMAPURL(v)
		if err != nil {
			if i := strings.LastIndex(v, "@"); i > 0 && strings.Contains(v[:i], "secret") && strings.Contains(err.Error(), "secret") {
				t.Fatalf("the message repeats the user info: %v", err)
			}
			return
		}
		rest, ok := strings.CutPrefix(u, "imaps://")
		if !ok || rest == "" || strings.ContainsAny(rest, "@?#/") || rest != strings.ToLower(rest) {
			t.Fatalf("%q accepted as %q", v, u)
		}
	})
}

package campaign

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// buildIMAP fills tracking.imap and tracking.imap_trust: the mailbox the
// signed receipts are read from (off when unset), with the sender's
// credentials, and the roots their signer's chain is checked against.
func (l *loader) buildIMAP(raw *rawConfig) {
	c, t := l.c, &raw.Tracking
	if v, ok := l.expand("tracking.imap", t.IMAP, false); ok && strings.TrimSpace(v) != "" {
		u, err := checkIMAPURL(strings.TrimSpace(v))
		if err != nil {
			l.problem(t.IMAP.Line, "tracking.imap", "%v", err)
		}
		c.Tracking.IMAP = u
		if c.Tracking.DeleteReceipts {
			// DELETE /send/<code> empties the same mailbox as soon as a row
			// is final, before the next read has fetched the signed copies:
			// the evidence the mailbox is read for would be gone.
			l.problem(t.DeleteReceipts.Line, "tracking.delete_receipts", "true deletes the receipts from the "+
				"mailbox before tracking.imap has read their signed copies: remove tracking.delete_receipts "+
				"(the mailbox keeps them) or tracking.imap")
		}
	}
	name, ok := l.expand("tracking.imap_trust", t.IMAPTrust, false)
	if !ok || strings.TrimSpace(name) == "" {
		return
	}
	if !t.IMAP.Set {
		l.problem(t.IMAPTrust.Line, "tracking.imap_trust", "it only matters with tracking.imap: set tracking.imap "+
			"(imaps://host:993) or remove tracking.imap_trust")
		return
	}
	data, ok := l.readFile("tracking.imap_trust", t.IMAPTrust, name)
	if !ok {
		return
	}
	pool, err := parseTrust(data)
	if err != nil {
		l.problem(t.IMAPTrust.Line, "tracking.imap_trust", "%s: %v", name, err)
		return
	}
	c.Tracking.IMAPTrust, c.Tracking.IMAPRoots = l.path(name), pool
}

// checkIMAPURL accepts imaps://host[:port] only: TLS from the first byte,
// and nothing a URL could carry besides (the login is the sender's, from
// the environment). Its messages never repeat what is before an @.
func checkIMAPURL(v string) (string, error) {
	const example = "write it as imaps://host:993"
	u, err := url.Parse(v)
	if err != nil {
		if strings.Contains(v, "@") {
			return "", errors.New("this is not a URL such as imaps://imap.example.it:993, and it must not hold a user " +
				"name or password (the part before @): the mailbox login is sender.username and sender.password")
		}
		return "", fmt.Errorf("%s is not a URL: %s", strconv.Quote(v), example)
	}
	// A value with an @ may hold a password: it is never repeated.
	shown := strconv.Quote(v)
	if strings.Contains(v, "@") {
		shown = "the URL (not shown: it has an @)"
	}
	switch {
	case u.User != nil:
		return "", errors.New("the URL must not hold a user name or password (the part before @): the mailbox login " +
			"is sender.username and sender.password, from the environment")
	case strings.EqualFold(u.Scheme, "imap"):
		return "", errors.New("imap:// sends the password in clear: use imaps:// (TLS), e.g. imaps://" + u.Hostname() + ":993")
	case !strings.EqualFold(u.Scheme, "imaps"):
		return "", fmt.Errorf("%s is not an imaps:// URL: %s", shown, example)
	case u.Hostname() == "":
		return "", fmt.Errorf("%s names no host: %s", shown, example)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#"):
		return "", fmt.Errorf("%s has a query or a fragment: %s", shown, example)
	case u.Path != "" && u.Path != "/":
		return "", fmt.Errorf("%s has a path: the mailbox is always INBOX; %s", shown, example)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%s: port %q is not a port number: %s", shown, p, example)
		}
	}
	return "imaps://" + strings.ToLower(u.Host), nil
}

// parseTrust reads PEM certificates: every block must be a certificate,
// and there must be at least one.
func parseTrust(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if strings.TrimSpace(string(rest)) != "" && n == 0 {
				return nil, errors.New("not a PEM file: write the root certificates as -----BEGIN CERTIFICATE----- blocks")
			}
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %s block: only CERTIFICATE blocks (never a private key) belong in it", b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("holds no certificate: write the root certificates as -----BEGIN CERTIFICATE----- blocks")
	}
	return pool, nil
}

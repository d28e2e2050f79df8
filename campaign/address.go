package campaign

import (
	"errors"
	"fmt"
	"strings"
)

// Limits of RFC 5321 (section 4.5.3.1) and RFC 3696 on an address.
const (
	maxLocalLen   = 64
	maxDomainLen  = 253
	maxLabelLen   = 63
	maxAddressLen = 254
)

// ParseAddress checks that s is one plain e-mail address and returns it in
// lower case, the form PEC providers (which treat addresses without regard
// to case) and pecbatch's duplicate check use.
//
// It is deliberately stricter than net/mail: no display name, no comment, no
// quoted local part, no IP literal, ASCII only; a local part of dot-atom
// characters of at most 64 bytes; a domain of at least two LDH labels (each
// 1-63 bytes, not starting or ending with '-') whose last label, the TLD, is
// letters (or an xn-- label), at most 253 bytes; at most 254 bytes in all.
// Surrounding white space is trimmed.
func ParseAddress(s string) (string, error) {
	addr := strings.TrimSpace(s)
	if addr == "" {
		return "", errors.New("the address is empty")
	}
	if reason := addressProblem(addr); reason != "" {
		return "", fmt.Errorf("%q is not a valid address: %s", addr, reason)
	}
	return strings.ToLower(addr), nil
}

// ParseAddressList splits s on ',' and ';', checks every address with
// ParseAddress and returns them in order, lower-cased, each once. Empty
// items (a trailing ';', say) are ignored; a list with no address at all is
// an error. Every invalid address is reported, not only the first.
func ParseAddressList(s string) ([]string, error) {
	var (
		out  []string
		errs []error
	)
	for item := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ';' }) {
		if strings.TrimSpace(item) == "" {
			continue
		}
		addr, err := ParseAddress(item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		dup := false
		for _, seen := range out {
			if seen == addr {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, addr)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		if strings.TrimSpace(s) == "" {
			return nil, errors.New("the address is empty")
		}
		return nil, fmt.Errorf("%q holds no address", s)
	}
	return out, nil
}

// addressProblem says why addr is not acceptable, or "" when it is.
func addressProblem(addr string) string {
	if i := strings.IndexByte(addr, '<'); i >= 0 {
		if j := strings.IndexByte(addr[i:], '>'); j > 0 {
			inner := strings.TrimSpace(addr[i+1 : i+j])
			return fmt.Sprintf("display names are not allowed: write only the address (%s)", inner)
		}
		return "'<' is not allowed in an address"
	}
	if len(addr) > maxAddressLen {
		return fmt.Sprintf("it is %d characters long, at most %d are allowed", len(addr), maxAddressLen)
	}
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case c >= 0x80:
			return "only ASCII characters are allowed (write an internationalised domain in its xn-- form)"
		case c == ' ' || c == '\t':
			return "it contains a space"
		case c < 0x20 || c == 0x7f:
			return "it contains a control character"
		case c == '"':
			return "quoted local parts are not allowed"
		case c == '(' || c == ')':
			return "comments are not allowed"
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "it has no @"
	}
	if strings.IndexByte(addr, '@') != at {
		return "it has more than one @"
	}
	local, domain := addr[:at], addr[at+1:]
	if local == "" {
		return "the part before @ is missing"
	}
	if domain == "" {
		return "the domain after @ is missing"
	}
	if reason := localProblem(local); reason != "" {
		return reason
	}
	return domainProblem(domain)
}

// localProblem checks a local part as an RFC 5322 dot-atom.
func localProblem(local string) string {
	if len(local) > maxLocalLen {
		return fmt.Sprintf("the part before @ is %d characters long, at most %d are allowed", len(local), maxLocalLen)
	}
	if local[0] == '.' || local[len(local)-1] == '.' {
		return "the part before @ cannot start or end with '.'"
	}
	if strings.Contains(local, "..") {
		return "the part before @ cannot contain '..'"
	}
	for i := 0; i < len(local); i++ {
		if !isAtext(local[i]) && local[i] != '.' {
			return fmt.Sprintf("%q is not allowed before @", local[i])
		}
	}
	return ""
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+/=?^_`{|}~-", c) >= 0
}

// domainProblem checks a domain as LDH labels under a real TLD.
func domainProblem(domain string) string {
	if domain[0] == '[' {
		return "IP address literals are not allowed: use a domain name"
	}
	if len(domain) > maxDomainLen {
		return fmt.Sprintf("the domain is %d characters long, at most %d are allowed", len(domain), maxDomainLen)
	}
	if strings.HasSuffix(domain, ".") {
		return "the domain cannot end with '.'"
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return fmt.Sprintf("the domain %q has no top-level domain (such as .it)", domain)
	}
	for _, label := range labels {
		if label == "" {
			return fmt.Sprintf("the domain %q has an empty label ('..' or a leading '.')", domain)
		}
		if len(label) > maxLabelLen {
			return fmt.Sprintf("the domain label %q is longer than %d characters", label, maxLabelLen)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("the domain label %q cannot start or end with '-'", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Sprintf("%q is not allowed in a domain", c)
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.HasPrefix(strings.ToLower(tld), "xn--") {
		return ""
	}
	if len(tld) < 2 {
		return fmt.Sprintf("the top-level domain %q is too short", tld)
	}
	for i := 0; i < len(tld); i++ {
		c := tld[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return fmt.Sprintf("the top-level domain %q is not a real one (letters only)", tld)
		}
	}
	return ""
}

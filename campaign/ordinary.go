package campaign

import (
	"slices"
	"strings"
)

// OrdinaryMailDomains returns the domains of well-known providers of
// ordinary (non-PEC) e-mail that Italian offices meet in recipient lists.
// A PEC sent to such an address is accepted but never delivered with a
// receipt: the row ends accepted_not_certifiable, with no legal proof of
// delivery. This is the one list pecbatch keeps of them.
func OrdinaryMailDomains() []string {
	return []string{
		"gmail.com", "googlemail.com",
		"libero.it", "virgilio.it", "inwind.it", "iol.it", "blu.it",
		"alice.it", "tim.it", "tin.it", "tiscali.it",
		"outlook.it", "outlook.com", "hotmail.it", "hotmail.com", "live.it", "live.com", "msn.com",
		"yahoo.it", "yahoo.com", "ymail.com",
		"icloud.com", "me.com", "mac.com",
		"fastwebnet.it",
	}
}

// OrdinaryMailDomain returns the domain of addr, lower-cased, and whether it
// is one of OrdinaryMailDomains. Only the exact domain counts: a PEC
// subdomain of a provider (pec.example.it) is not matched.
func OrdinaryMailDomain(addr string) (string, bool) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "", false
	}
	domain := strings.ToLower(strings.TrimSpace(addr[at+1:]))
	return domain, slices.Contains(OrdinaryMailDomains(), domain)
}

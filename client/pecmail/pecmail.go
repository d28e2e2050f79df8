package pecmail

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"time"
)

// Config says how to reach the mailbox. Username and Password are the PEC mailbox credentials; they never
// reach an error message or a log.
type Config struct {
	// URL is "imaps://host:993" (TLS from the start). "imap://" is refused unless AllowPlaintext is set.
	URL      string
	Username string
	Password string
	// TLS is the TLS configuration; nil means the system roots with ServerName taken from URL.
	TLS *tls.Config
	// Trust holds the roots for the S/MIME signer's chain; nil means the chain is not verified (the
	// signature still is).
	Trust *x509.CertPool
	// Mailbox is the mailbox to read; "" means "INBOX".
	Mailbox string
	// Timeout bounds every network operation (dial, greeting, each command); 0 means 30s.
	Timeout time.Duration
	// AllowPlaintext lets URL be "imap://" (no TLS). Only for tests and local simulators: the password
	// would cross the network in clear.
	AllowPlaintext bool
}

// Cursor is where the last fetch stopped: the mailbox's UIDVALIDITY and the highest UID seen.
type Cursor struct {
	UIDValidity uint32
	LastUID     uint32
}

// Daticert is the parsed daticert.xml (DM 2 novembre 2005). Fields keep the XML's text, trimmed.
type Daticert struct {
	// Tipo and Errore are the tipo and errore attributes of <postacert>.
	Tipo, Errore string
	Mittente     string
	Destinatari  []Destinatario
	Oggetto      string
	// GestoreEmittente is the provider that issued the receipt.
	GestoreEmittente string
	// Data is <data zona><giorno>dd/mm/yyyy</giorno><ora>hh:mm:ss</ora></data>; zero when absent or
	// unreadable.
	Data time.Time
	// Identificativo is the provider's id of the message; MsgID the message's Message-ID.
	Identificativo, MsgID string
	// Ricevuta is the tipo of <ricevuta> (completa, breve, sintetica), "" if absent.
	Ricevuta string
	// Consegna is the addressee a delivery or non-delivery is about, "" if absent.
	Consegna     string
	ErroreEsteso string
}

// Destinatario is one addressee in daticert: Tipo is "certificato" (a PEC mailbox) or "esterno" (ordinary
// mail).
type Destinatario struct {
	Address, Tipo string
}

// The values of Signature.Status.
const (
	// SigValid: the signature verifies and the signer's chain reaches Config.Trust.
	SigValid = "valid"
	// SigValidUntrusted: the signature verifies; the chain was not checked or does not reach Config.Trust.
	SigValidUntrusted = "valid-untrusted"
	// SigInvalid: the signature does not verify (the content was altered, or the signature is unreadable).
	SigInvalid = "invalid"
	// SigMissing: the message is not signed.
	SigMissing = "missing"
)

// Signature is the result of checking the S/MIME signature.
type Signature struct {
	// Status is SigValid, SigValidUntrusted, SigInvalid or SigMissing.
	Status string
	// Signer is the subject of the signing certificate (CN, O, e-mail), "" when unknown.
	Signer string
	// Detail is a short English reason for invalid or untrusted.
	Detail string
}

// Receipt is one receipt message read from the mailbox.
type Receipt struct {
	UID uint32
	// Raw is the message exactly as the server gave it (never re-encoded).
	Raw []byte
	// SHA256 is the hex SHA-256 of Raw.
	SHA256 string
	// Subject is the decoded Subject header.
	Subject string
	// Kind is the X-Ricevuta value (accettazione, avvenuta-consegna, errore-consegna, ...) or the
	// X-Trasporto value (posta-certificata, errore); when both headers are absent, the kind the subject's
	// prefix stands for, in the same words.
	Kind string
	// Code is the message_id at the end of the subject (" " + code), "" if none.
	Code string
	// Daticert is nil when the message has no daticert.xml or it could not be parsed.
	Daticert *Daticert
	// DaticertErr says why daticert.xml is missing or could not be parsed, "" if fine.
	DaticertErr string
	Signature   Signature
	// Agrees says daticert is present and consistent with the message: its tipo matches Kind, and its
	// oggetto equals the subject after the receipt prefix, with or without the trailing " "+Code.
	Agrees bool
}

// ErrLogin is returned (wrapped) when the server refuses the credentials.
var ErrLogin = errors.New("pecmail: the mailbox refused the username or password")

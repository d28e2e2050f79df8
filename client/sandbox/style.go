package sandbox

import (
	"fmt"
	"strings"
)

// ReceiptStyle chooses how the sandbox writes receipts: as the provider's
// documented example of GET /send/{code} shows them, or as PEC providers
// write their texts. The magic domains mean the same in every style.
type ReceiptStyle string

const (
	// StyleDocumented (the default) follows the contract's 200 example of
	// GET /send/{code}: every entry from posta-certificata@pecmassiva.com to
	// the sending mailbox, an ACCETTAZIONE with an empty message, a CONSEGNA
	// whose message is the original mail's text (naming no addressee), one
	// CONSEGNA per PEC recipient, possibly identical and in the same second.
	StyleDocumented ReceiptStyle = "documented"
	// StylePEC writes every receipt's message in the format of the PEC
	// providers (receipts.md), naming the addressee in the text.
	StylePEC ReceiptStyle = "pec"
	// StyleMixed draws StyleDocumented or StylePEC for each send from
	// Options.Seed: the same seed gives the same styles in the same order.
	StyleMixed ReceiptStyle = "mixed"
)

// ReceiptStyles lists the valid values of Options.Receipts, default first.
var ReceiptStyles = []ReceiptStyle{StyleDocumented, StylePEC, StyleMixed}

// ParseReceiptStyle reads a --receipts flag value; "" is the default,
// StyleDocumented.
func ParseReceiptStyle(s string) (ReceiptStyle, error) {
	if s == "" {
		return StyleDocumented, nil
	}
	for _, st := range ReceiptStyles {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", fmt.Errorf("sandbox: receipt style %q: use one of %s", s, joinValues(ReceiptStyles))
}

// Fault is an account-level fault: a state of the provider account that
// answers every send (or every call) the same way until it is lifted with
// Server.SetFault. The empty Fault is none.
type Fault string

const (
	// FaultNone answers normally.
	FaultNone Fault = "none"
	// FaultSMTPAuth: the mailbox password is refused by the provider's SMTP
	// server. POST /send answers 201 {"success":true,"sent":0,"message":"",
	// "message_id":"535 5.7.8 Error: authentication failed"} and sends
	// nothing: the SMTP error comes back where the code should be, as the
	// provider's own SDK expects.
	FaultSMTPAuth Fault = "smtp-auth"
	// FaultSMTPAuthFalse is the same refusal with success false: 201
	// {"success":false,"sent":0,"message":<smtp text>,"message_id":<smtp
	// text>}. Nothing is sent.
	FaultSMTPAuthFalse Fault = "smtp-auth-false"
	// FaultDailyLimit: the plan's daily cap is reached. POST /send answers
	// 403 {"success":false,"message":MsgDailyLimit} and sends nothing (the
	// provider documents no such answer: the status and text are assumed).
	FaultDailyLimit Fault = "daily-limit"
	// FaultProxy502: a proxy in front of the API answers every call with an
	// HTML 502 Bad Gateway page (Content-Type text/html). Nothing is sent.
	FaultProxy502 Fault = "proxy-502"
	// FaultIMAPLogin: the IMAP server (ServeIMAP) refuses every LOGIN, with
	// the right credentials too, as when the provider has IMAP turned off
	// for the mailbox. The REST API answers as without faults.
	FaultIMAPLogin Fault = "imap-login"
)

// Faults lists the valid values of Options.Fault.
var Faults = []Fault{FaultNone, FaultSMTPAuth, FaultSMTPAuthFalse, FaultDailyLimit, FaultProxy502, FaultIMAPLogin}

// ParseFault reads a --fault flag value; "" means FaultNone.
func ParseFault(s string) (Fault, error) {
	if s == "" {
		return FaultNone, nil
	}
	for _, f := range Faults {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	return "", fmt.Errorf("sandbox: fault %q: use one of %s", s, joinValues(Faults))
}

// SMTPAuthError is the SMTP answer of a refused mailbox password (Postfix's
// text), returned in message_id by FaultSMTPAuth and FaultSMTPAuthFalse.
const SMTPAuthError = "535 5.7.8 Error: authentication failed"

// MsgDailyLimit is the message of the (assumed) answer to a send over the
// plan's daily cap: Options.DailyLimit or FaultDailyLimit.
const MsgDailyLimit = "Daily sending limit reached"

// proxy502Page is what an nginx in front of the API shows when the API
// behind it does not answer.
const proxy502Page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

func joinValues[T ~string](values []T) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = string(v)
	}
	return strings.Join(parts, ", ")
}

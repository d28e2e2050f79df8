package runner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/client/pecmail"
)

// imapSource is the SignedSource of a campaign's tracking.imap: the
// sending mailbox read over IMAP by client/pecmail.
type imapSource struct{ cfg pecmail.Config }

// NewIMAPSource returns the SignedSource that reads c's tracking.imap
// with the sender's credentials, checking the receipts' signers against
// tracking.imap_trust (none set: the chain is not checked, the signature
// still is). tlsConfig reaches the server; nil means the system roots. It
// returns nil when c sets no tracking.imap, so Deps.Signed stays off.
func NewIMAPSource(c *campaign.Campaign, tlsConfig *tls.Config) SignedSource {
	if c.Tracking.IMAP == "" {
		return nil
	}
	return &imapSource{cfg: pecmail.Config{
		URL:      c.Tracking.IMAP,
		Username: c.Sender.Username,
		Password: string(c.Sender.Password),
		TLS:      tlsConfig,
		Trust:    c.Tracking.IMAPRoots,
	}}
}

// Fetch reads the receipts after cur. When a later batch fails, the
// receipts of the batches read before it come back with the error and the
// cursor after them, as SignedSource allows.
func (s *imapSource) Fetch(ctx context.Context, cur SignedCursor, want func(code string) bool) ([]SignedReceipt, SignedCursor, error) {
	rs, next, err := pecmail.Fetch(ctx, s.cfg, pecmail.Cursor(cur), want)
	if errors.Is(err, pecmail.ErrLogin) {
		err = fmt.Errorf("%w: %w", ErrSignedLogin, err)
	}
	out := make([]SignedReceipt, len(rs))
	for i, r := range rs {
		out[i] = signedOf(r)
	}
	return out, SignedCursor(next), err
}

// signedOf copies a receipt of client/pecmail field by field: the runner
// keeps its own types, as it reads the contract apart from its sources.
func signedOf(r pecmail.Receipt) SignedReceipt {
	s := SignedReceipt{
		UID: r.UID, Raw: r.Raw, SHA256: r.SHA256, Subject: r.Subject, Kind: r.Kind, Code: r.Code,
		DaticertErr: r.DaticertErr, Agrees: r.Agrees,
		Signature: Signature{Status: r.Signature.Status, Signer: r.Signature.Signer, Detail: r.Signature.Detail},
	}
	if d := r.Daticert; d != nil {
		s.Daticert = &Daticert{
			Tipo: d.Tipo, Errore: d.Errore, Mittente: d.Mittente, Oggetto: d.Oggetto,
			GestoreEmittente: d.GestoreEmittente, Data: d.Data, Identificativo: d.Identificativo, MsgID: d.MsgID,
			Ricevuta: d.Ricevuta, Consegna: d.Consegna, ErroreEsteso: d.ErroreEsteso,
		}
		for _, a := range d.Destinatari {
			s.Daticert.Destinatari = append(s.Daticert.Destinatari, Destinatario{Address: a.Address, Tipo: a.Tipo})
		}
	}
	return s
}

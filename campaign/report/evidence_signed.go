package report

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pecbatch/pecbatch/journal"
)

// signedDir is the folder of a row's signed receipts (.eml).
const signedDir = "ricevute"

// signedFile is one signed receipt of a row folder, as the journal holds
// it, with the name it has in the folder.
type signedFile struct {
	journal.StoredSignedReceipt
	// Name is the file's path inside the row folder.
	Name string
	// Current says the receipt belongs to the row's current send (not to
	// an attempt retried since).
	Current bool
}

// signedLabel names a signed receipt's kind (its X-Ricevuta or
// X-Trasporto value) as receiptLabel names the API's kinds, so that a
// summary and its signed receipt read alike.
func signedLabel(kind string) string {
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "accettazione":
		return "ACCETTAZIONE"
	case "avvenuta-consegna":
		return "CONSEGNA"
	case "errore-consegna":
		return "MANCATA-CONSEGNA"
	case "non-accettazione":
		return "NON-ACCETTAZIONE"
	case "rilevazione-virus":
		return "VIRUS"
	case "preavviso-errore-consegna":
		return "PREAVVISO-MANCATA-CONSEGNA"
	case "presa-in-carico":
		return "PRESA-IN-CARICO"
	case "posta-certificata":
		return "POSTA-CERTIFICATA"
	case "errore":
		return "ANOMALIA"
	}
	return "ALTRO"
}

// signatureLabel says in Italian what the S/MIME check found when the
// receipt was read from the mailbox.
func signatureLabel(status string) string {
	switch status {
	case journal.SignatureValid:
		return "firma valida (catena verificata)"
	case journal.SignatureValidUntrusted:
		return "firma valida, certificato non verificato"
	case journal.SignatureInvalid:
		return "FIRMA NON VALIDA"
	case journal.SignatureMissing:
		return "non firmata"
	}
	return "firma: " + status
}

// notProof says in Italian why a signed receipt is kept but not used as
// proof, "" when it may be: the rule of journal.SignedReceipt.Usable.
func notProof(s journal.SignedReceipt) string {
	switch {
	case s.Signature == journal.SignatureInvalid:
		return "la sua firma non è valida (la ricevuta è stata alterata dopo la firma, o la firma è illeggibile)"
	case s.Signature == journal.SignatureMissing:
		return "non è firmata"
	case !s.HasDaticert:
		return "non contiene un daticert.xml leggibile"
	case !s.Agrees:
		return "il suo daticert.xml non corrisponde al suo oggetto (dice di un altro messaggio o di un altro tipo di ricevuta)"
	case !s.Usable():
		return "non è utilizzabile"
	}
	return ""
}

// addressee is who a signed receipt is about: daticert's <consegna>, or ""
// for a receipt about the whole message (acceptance).
func (s signedFile) addressee() string { return strings.ToLower(strings.TrimSpace(s.Consegna)) }

// perRecipient are the kinds of receipt about one addressee.
var perRecipient = []string{"avvenuta-consegna", "errore-consegna", "preavviso-errore-consegna", "rilevazione-virus"}

// signedFiles lists the row's signed receipts in time order (daticert's
// date; those without one last, in the order read) and names their files
// "ricevute/NN-KIND-addressee.eml", "messaggio" for those about the
// whole message.
func signedFiles(stored []journal.StoredSignedReceipt, messageID string) []signedFile {
	files := make([]signedFile, 0, len(stored))
	for _, s := range stored {
		files = append(files, signedFile{StoredSignedReceipt: s, Current: s.Code == messageID})
	}
	slices.SortStableFunc(files, func(a, b signedFile) int {
		switch {
		case a.Data.IsZero() && b.Data.IsZero():
			return 0
		case a.Data.IsZero():
			return 1 // no date: after the dated ones, in the order read
		case b.Data.IsZero():
			return -1
		}
		return a.Data.Compare(b.Data)
	})
	used := map[string]bool{}
	for i := range files {
		who := files[i].addressee()
		switch {
		case who != "":
		case slices.Contains(perRecipient, files[i].Kind):
			// A daticert that is missing or names nobody: the file
			// must not read as a receipt about the whole message.
			who = "destinatario-non-indicato"
		default:
			who = "messaggio"
		}
		files[i].Name = signedDir + "/" + uniqueName(safeName(fmt.Sprintf("%02d-%s-%s", i+1, signedLabel(files[i].Kind), who))+".eml", used)
	}
	return files
}

// signedRaw reads a signed receipt's bytes from the journal and checks
// them against the SHA-256 they were stored under: a pack never holds a
// receipt that is not the one fetched.
func (w *evidenceWriter) signedRaw(ctx context.Context, row journal.Row, s signedFile) ([]byte, error) {
	raw, err := w.r.SignedReceiptRaw(ctx, s.SHA256)
	if err != nil {
		return nil, fmt.Errorf("evidence: row %d (key %q): %w", row.RowNumber, row.Key, err)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, s.SHA256) {
		return nil, fmt.Errorf("evidence: row %d (key %q): the signed receipt %s in the journal has SHA-256 %s: "+
			"the journal is damaged; make the pack from a backup copy of the journal", row.RowNumber, row.Key, s.SHA256, got)
	}
	return raw, nil
}

// summaryMatch is the signed receipt of an API summary: its file, or
// Ambiguous when several could be it, or neither when none is.
type summaryMatch struct {
	Name      string
	Ambiguous bool
}

// matchSummaries finds, for each API summary, the signed receipt that is
// the same receipt: same send, same kind, same addressee (or, when either
// names none, the only one of the same date to the second). Each signed receipt
// matches one summary at most; "" where none does.
func matchSummaries(summaries []journal.StoredReceipt, signed []signedFile) []summaryMatch {
	out := make([]summaryMatch, len(summaries))
	taken := make([]bool, len(signed))
	for i, rc := range summaries {
		who := strings.ToLower(strings.TrimSpace(rc.Addressee))
		var found []int
		for k, s := range signed {
			if taken[k] || s.Code != rc.Code || signedLabel(s.Kind) != receiptLabel(rc.Kind) {
				continue
			}
			if who != "" && who == s.addressee() {
				found = []int{k}
				break
			}
			if (who == "" || s.addressee() == "") && s.Data.Truncate(time.Second).Equal(rc.Date.Truncate(time.Second)) {
				found = append(found, k)
			}
		}
		// Two receipts of the same kind at the same second: which one is
		// this summary's cannot be told, so neither is named.
		switch len(found) {
		case 0:
		case 1:
			taken[found[0]], out[i].Name = true, signed[found[0]].Name
		default:
			out[i].Ambiguous = true
		}
	}
	return out
}

// proofFor returns the usable signed receipt of the current send that
// proves a recipient's state: the delivery of a delivered recipient, the
// non-delivery (or virus) of a failed one, the time-limit notice of an
// expired one; nil when there is none.
func proofFor(signed []signedFile, recipient string, state journal.State) *signedFile {
	var kinds []string
	switch state {
	case journal.StateDelivered:
		kinds = []string{"avvenuta-consegna"}
	case journal.StateFailed:
		kinds = []string{"errore-consegna", "rilevazione-virus"}
	case journal.StateExpired:
		kinds = []string{"preavviso-errore-consegna"}
	default:
		return nil
	}
	for i, s := range signed {
		if s.Current && s.Usable() && s.addressee() == strings.ToLower(strings.TrimSpace(recipient)) && slices.Contains(kinds, s.Tipo) {
			return &signed[i]
		}
	}
	return nil
}

// acceptanceProof returns the usable signed acceptance of the current
// send, nil when there is none.
func acceptanceProof(signed []signedFile) *signedFile {
	for i, s := range signed {
		if s.Current && s.Usable() && s.Tipo == "accettazione" {
			return &signed[i]
		}
	}
	return nil
}

// signedConflict is an EventSignedConflict's detail.
type signedConflict struct {
	SHA256  string                 `json:"sha256"`
	Address string                 `json:"address"`
	State   journal.RecipientState `json:"state"`
	Signed  journal.RecipientState `json:"signed"`
}

// conflictText says in Italian what a signed_conflict event recorded.
func conflictText(e journal.Event, signed []signedFile) string {
	var c signedConflict
	if json.Unmarshal(e.Detail, &c) != nil || c.Address == "" {
		return "una ricevuta firmata è in contrasto con lo stato registrato, che resta tale: da verificare " + compactDetail(e.Detail)
	}
	name := "(" + c.SHA256 + ")"
	for _, s := range signed {
		if strings.EqualFold(s.SHA256, c.SHA256) {
			name = s.Name
		}
	}
	return fmt.Sprintf("la ricevuta firmata %s dice di %s «%s», ma lo stato registrato prima era «%s» e resta tale: da verificare",
		name, c.Address, recipientStateIT(c.Signed), recipientStateIT(c.State))
}

// conflicts says in Italian what the row's signed_conflict events
// recorded.
func conflicts(events []journal.Event, signed []signedFile) []step {
	var out []step
	for _, e := range events {
		if e.Kind != journal.EventSignedConflict {
			continue
		}
		out = append(out, step{e.At, conflictText(e, signed)})
	}
	return out
}

// recipientStateIT words a recipient's state in Italian.
func recipientStateIT(s journal.RecipientState) string {
	switch s {
	case journal.RecipientPending:
		return "in attesa"
	case journal.RecipientAccepted:
		return "accettato"
	case journal.RecipientDelivered:
		return "consegnato"
	case journal.RecipientFailed:
		return "non consegnato"
	case journal.RecipientExpired:
		return "non consegnato nel tempo massimo"
	case journal.RecipientNotCertifiable:
		return "consegna non certificabile"
	}
	return string(s)
}

// signedStep is a timeline line: when a signed receipt was read from the
// mailbox and what it is.
func signedStep(s signedFile, loc *time.Location) step {
	what := "ricevuta firmata " + signedLabel(s.Kind)
	if a := s.addressee(); a != "" {
		what += " per " + a
	}
	if !s.Data.IsZero() {
		what += " (daticert: " + formatTime(s.Data, loc) + ")"
	}
	what += " letta dalla casella: " + signatureLabel(s.Signature)
	if s.Signer != "" {
		what += ", firmatario " + s.Signer
	}
	if !s.Current {
		what += "; di un tentativo precedente (id " + s.Code + ")"
	}
	if why := notProof(s.SignedReceipt); why != "" {
		what += "; NON usata come prova: " + why
	}
	return step{s.FetchedAt, what + "; file " + s.Name}
}

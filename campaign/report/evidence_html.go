package report

import (
	"bytes"
	"fmt"
	"html/template"
	"slices"
	"time"

	"golang.org/x/text/message"

	"github.com/pecbatch/pecbatch/journal"
)

// attestazione is one row's printable page.
type attestazione struct {
	Row              journal.Row
	Campaign, Sender string
	JournalID        string
	Lines            []journal.ReportRow
	Generated        time.Time
	Mismatch         bool
	Subject, Body    string // SHA-256 of oggetto.txt and corpo.html
	Attachments      []rowFile
	Receipts         []rowFile
	// MailboxAt is when the mailbox was last read (zero: never); Signed
	// the row's signed receipts in the folder; Conflicts what its
	// signed_conflict events recorded.
	MailboxAt time.Time
	Signed    []signedFile
	Conflicts []step
	loc       *time.Location
	p         *message.Printer // Italian
}

// attestazioneRecipient is one line of the page's table.
type attestazioneRecipient struct {
	Address, State, Delivered, Effective, Failed, Error string
	Night                                               bool
	// Proof is the signed receipt that proves the recipient's state, when
	// the row has signed receipts.
	Proof attestazioneProof
}

// attestazioneProof is the signed receipt that proves an outcome: the
// acceptance, or a recipient's delivery or failure.
type attestazioneProof struct {
	// Kind, Date, File, SHA256, Signature and Signer describe the receipt;
	// all "" when there is none.
	Kind, Date, File, SHA256, Signature, Signer string
}

// proofLine describes s (nil: no usable signed receipt).
func (a attestazione) proofLine(s *signedFile) attestazioneProof {
	var p attestazioneProof
	if s != nil {
		p.Kind, p.Date, p.File, p.SHA256 = signedLabel(s.Kind), formatTime(s.Data, a.loc), s.Name, s.SHA256
		p.Signature, p.Signer = signatureLabel(s.Signature), s.Signer
	}
	return p
}

// signedNotes are the page's plain statements about signed receipts not
// used as proof and about contradictions.
func (a attestazione) signedNotes() []string {
	var notes []string
	earlier := 0
	for _, s := range a.Signed {
		if !s.Current {
			earlier++
			continue
		}
		if why := notProof(s.SignedReceipt); why != "" {
			notes = append(notes, fmt.Sprintf("La ricevuta %s (%s, %s) è conservata nel pacchetto ma NON è usata come prova: %s.",
				s.Name, signedLabel(s.Kind), signatureLabel(s.Signature), why))
		}
	}
	for _, c := range a.Conflicts {
		notes = append(notes, "Contrasto: "+c.What+".")
	}
	if earlier > 0 {
		notes = append(notes, fmt.Sprintf("%d ricevute firmate di tentativi precedenti (altro id del messaggio) sono nella cartella %s/ e nella cronologia.", earlier, signedDir))
	}
	return notes
}

func (a attestazione) render() ([]byte, error) {
	var recipients []attestazioneRecipient
	for _, l := range a.Lines {
		r := attestazioneRecipient{Address: l.Recipient, State: a.p.Sprintf("state." + string(l.State)),
			Delivered: formatTime(l.DeliveredAt, a.loc), Failed: formatTime(l.FailedAt, a.loc), Error: l.Error}
		if !l.DeliveredAt.IsZero() {
			eff := EffectiveForRecipient(l.DeliveredAt, a.loc)
			r.Effective, r.Night = formatTime(eff, a.loc), !eff.Equal(l.DeliveredAt)
		}
		recipients = append(recipients, r)
	}
	var signers []string
	inProofs := map[string]bool{}
	accepted := a.proofLine(acceptanceProof(a.Signed))
	proofs := []attestazioneProof{accepted}
	for i, l := range a.Lines {
		recipients[i].Proof = a.proofLine(proofFor(a.Signed, l.Recipient, l.State))
		proofs = append(proofs, recipients[i].Proof)
	}
	for _, p := range proofs {
		inProofs[p.File] = p.File != ""
		if p.Signer != "" && !slices.Contains(signers, p.Signer) {
			signers = append(signers, p.Signer)
		}
	}
	// A receipt file whose hash is given as a proof is not listed twice.
	var hashed []rowFile
	for _, f := range a.Receipts {
		if !inProofs[f.Name] {
			hashed = append(hashed, f)
		}
	}
	data := map[string]any{
		"A": a, "Recipients": recipients, "Zone": a.loc.String(), "AcceptedProof": accepted, "Notes": a.signedNotes(),
		"Signers": signers, "Hashed": hashed,
		"MailboxAt": formatTime(a.MailboxAt, a.loc),
		"Submitted": formatTime(a.Row.SubmittedAt, a.loc), "Accepted": formatTime(a.Row.AcceptedAt, a.loc),
		"Generated": formatTime(a.Generated, a.loc), "RowState": a.p.Sprintf("state." + string(a.Row.State)),
	}
	var b bytes.Buffer
	if err := attestazioneTemplate.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("evidence: attestazione of row %d: %w", a.Row.RowNumber, err)
	}
	return b.Bytes(), nil
}

// attestazioneTemplate fits one A4 page for a row of up to four
// recipients; a longer one goes on over more pages, each numbered, the
// tables' headings repeated. No scripts, no network, print colours only
// where they carry meaning.
var attestazioneTemplate = template.Must(template.New("attestazione").Parse(`<!DOCTYPE html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Attestazione di invio PEC — riga {{.A.Row.RowNumber}}</title>
<style>
@page { size: A4; margin: 14mm 12mm;
  @bottom-right { content: "Attestazione riga {{.A.Row.RowNumber}} \2014  pagina " counter(page) " di " counter(pages);
    font-family: "DejaVu Sans", Arial, sans-serif; font-size: 7pt; } }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9pt; color: #000; margin: 0; line-height: 1.3; }
main { max-width: 186mm; margin: 0 auto; page-break-after: always; break-after: page; }
h1 { font-size: 13pt; margin: 0 0 2mm; }
h2 { font-size: 10pt; margin: 4mm 0 1mm; border-bottom: 0.3mm solid #000; }
p { margin: 1mm 0; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th, td { border: 0.2mm solid #666; padding: 0.8mm 1.2mm; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: #eee; font-weight: bold; }
dl { display: grid; grid-template-columns: 42mm 1fr; gap: 0.5mm 2mm; margin: 0; }
dt { font-weight: bold; }
dd { margin: 0; overflow-wrap: anywhere; }
.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 7.5pt; }
.warn { border: 0.5mm solid #000; padding: 2mm; font-weight: bold; margin: 2mm 0; }
.note { font-size: 8pt; }
td.proof, dd.proof { font-size: 7pt; }
td.proof { border-top: none; padding-left: 4mm; }
.notice { border-left: 1mm solid #000; padding-left: 2mm; font-weight: bold; font-size: 8pt; }
tr, dl, .warn, .notice { break-inside: avoid; }
/* The signed receipts' proofs take room: a row of four recipients still fits one page. */
main.signed { line-height: 1.2; }
main.signed h2 { margin-top: 3mm; }
main.signed th, main.signed td { font-size: 8pt; padding: 0.5mm 1mm; }
main.signed td.proof { font-size: 7pt; padding-left: 4mm; }
</style>
</head>
<body>
<main{{if .A.Signed}} class="signed"{{end}}>
<h1>Attestazione di invio PEC — riga {{.A.Row.RowNumber}}</h1>
<p>Campagna <b>{{.A.Campaign}}</b>; chiave della riga <b>{{.A.Row.Key}}</b>. Orari in {{.Zone}}.</p>
{{if .A.Mismatch}}<p class="warn">I file della campagna sono cambiati dopo l'invio: il messaggio inviato non è stato ricostruito
e non è in questa cartella (vedere NON-CORRISPONDE.txt). L'impronta del messaggio inviato è quella registrata nel giornale al momento dell'invio.</p>{{end}}

<h2>Messaggio</h2>
<dl>
<dt>Mittente</dt><dd>{{.A.Sender}}</dd>
<dt>Oggetto</dt><dd>{{.A.Row.Subject}}</dd>
<dt>Id del messaggio</dt><dd>{{with .A.Row.MessageID}}{{.}}{{else}}(nessuno: il messaggio non risulta accettato dall'API){{end}}</dd>
<dt>Stato</dt><dd>{{.RowState}}</dd>
<dt>Inviato all'API il</dt><dd>{{.Submitted}}</dd>
<dt>Accettazione</dt><dd>{{.Accepted}}</dd>
<dt>Perfezionamento per il mittente</dt><dd>{{with .Accepted}}{{.}} (generazione della ricevuta di accettazione){{else}}non avvenuto: nessuna ricevuta di accettazione{{end}}</dd>
{{if .A.Signed}}<dt>Accettazione firmata</dt><dd class="proof">{{template "proof" .AcceptedProof}}</dd>
{{end}}</dl>

<h2>Destinatari</h2>
<table>
<colgroup><col style="width:30%"><col style="width:15%"><col style="width:18%"><col style="width:18%"><col style="width:19%"></colgroup>
<thead><tr><th>Destinatario</th><th>Stato</th><th>Consegna</th><th>Perfezionamento per il destinatario</th><th>Mancata consegna / errore</th></tr></thead>
{{range .Recipients}}<tr><td>{{.Address}}</td><td>{{.State}}</td><td>{{.Delivered}}</td><td>{{with .Effective}}{{.}}{{else}}non avvenuto{{end}}{{if .Night}}<br><span class="note">consegna tra le 21 e le 7: alle 7 (art. 147 c.p.c.)</span>{{end}}</td><td>{{.Failed}}{{with .Error}}<br>{{.}}{{end}}</td></tr>
{{if $.A.Signed}}<tr><td colspan="5" class="proof">{{template "proof" .Proof}}</td></tr>
{{end}}{{end}}</table>
<p class="note">La notifica si perfeziona per il mittente quando è generata la ricevuta di accettazione; per il destinatario quando
è generata la ricevuta di avvenuta consegna, e se questa è generata tra le ore 21 e le ore 7 alle ore 7 del mattino (art. 147 c.p.c.).</p>

<h2>Impronte SHA-256</h2>
<table>
<colgroup><col style="width:38%"><col style="width:62%"></colgroup>
<thead><tr><th>Elemento</th><th>SHA-256</th></tr></thead>
<tr><td>Messaggio inviato (impronta pecbatch del contenuto, registrata all'invio)</td><td class="hash">{{.A.Row.ContentSHA256}}</td></tr>
{{if not .A.Mismatch}}<tr><td>oggetto.txt</td><td class="hash">{{.A.Subject}}</td></tr>
<tr><td>corpo.html</td><td class="hash">{{.A.Body}}</td></tr>
{{range .A.Attachments}}<tr><td>{{.Name}}{{with .Sent}}<br><span class="note">inviato con il nome «{{.}}»</span>{{end}}</td><td class="hash">{{.SHA256}}</td></tr>
{{end}}{{end}}{{range .Hashed}}<tr><td>{{.Name}}</td><td class="hash">{{.SHA256}}</td></tr>
{{end}}</table>

<h2>Ricevute</h2>
{{if .A.Signed}}<p>Le ricevute firmate dal gestore sono in ricevute/: file .eml intatti come letti dalla casella (IMAP), con firma S/MIME
e daticert.xml verificati da pecbatch alla lettura; sotto ogni destinatario, quella che ne prova l'esito.{{with .Signers}}
Firmate da: {{range $i, $s := .}}{{if $i}}; {{end}}{{$s}}{{end}}.{{end}}</p>
{{range .Notes}}<p class="notice">{{.}}</p>
{{end}}<p class="note">I file ricevuta-*.txt sono i riassunti dell'API PEC Massiva, non le ricevute firmate; ciascuno dice se la sua è accanto.</p>
{{else if .MailboxAt}}<p>La casella è stata letta (IMAP, ultima lettura il {{.MailboxAt}}), ma non vi sono state trovate ricevute firmate di questo messaggio.
I file ricevuta-*.txt sono i riassunti forniti dall'API PEC Massiva, non le ricevute firmate.</p>
{{else}}<p>Le ricevute firmate dal gestore (file .eml) non sono state raccolte: la lettura della casella (IMAP) non è configurata.
I file ricevuta-*.txt sono i riassunti forniti dall'API PEC Massiva, non le ricevute firmate.</p>
{{end}}
<p class="note">Generato da pecbatch il {{.Generated}} dal giornale {{.A.JournalID}}. Le impronte di tutti i file del pacchetto
sono in manifest.json; 'pecbatch evidence verify' le ricalcola.</p>
</main>
</body>
</html>
{{define "proof"}}{{if .File}}<b>{{.Kind}}</b> del {{.Date}}, <b>{{.Signature}}</b>: {{.File}}<br>SHA-256 <span class="hash">{{.SHA256}}</span>{{else}}nessuna ricevuta firmata utilizzabile come prova{{end}}{{end}}`))

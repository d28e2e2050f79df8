// Package campaign is what a pecbatch campaign is: it reads a campaign and
// checks it before anything is sent, and renders its rows into the messages
// that are sent. It knows neither the API nor the journal: package
// campaign/runner sends a campaign and tracks it, package campaign/report
// writes its delivery report.
//
//   - Load / LoadFile decode the campaign file strictly (unknown keys are
//     errors naming their line), expand ${VAR}s, apply the defaults, resolve
//     paths against the campaign file's folder and parse the templates. Every
//     problem is reported at once in a *ValidationError, which wraps
//     ErrInvalidInput.
//   - NewRecipientsReader reads the recipients CSV file row by row in
//     constant memory: BOM, delimiter sniffing, legacy encodings, header
//     checks, ragged rows and bad quoting reported with their line.
//   - (*Campaign).Preflight renders and checks every row (templates,
//     addresses, attachments, sizes, duplicate keys) with a few workers and
//     returns a PreflightReport: every problem, with file, line, row and
//     field, and a Summary. ValidateFile is Load plus Preflight going as far
//     as a broken campaign allows: `pecbatch validate`.
//   - (*Campaign).Messages renders rows one at a time into the Message that
//     is sent, with its ContentHash: the same hash preflight computes without
//     holding the attachments, that preview writes in manifest.json and that
//     the runner records in the journal.
//   - The sentinel errors (ErrInvalidInput, ErrRowsFailed, ErrRowsUnknown,
//     ErrInterrupted) tell the command how an operation ended.
package campaign

// Package report writes the delivery report of a campaign from its journal:
// one CSV line per row and recipient, or one self-contained HTML page with
// the totals, charts and the table of rows with their receipts.
//
// It only reads the journal (a *journal.Reader, also one opened read-only
// while a run writes), never the API: Write and Save report a journal,
// SaveAll writes the reports of a run's end, and WriteData writes a report
// from a Data of any origin. Reports are written atomically and readable by
// their owner only: they list personal data.
//
// A report is in Italian, with times in Europe/Rome, unless Options say
// otherwise (Lang, Location); every text it writes is in one catalogue
// (messages.go). The HTML page opens with the recipients to contact again
// (Undelivered), with why and what to do next; Options.Only writes only
// those.
package report

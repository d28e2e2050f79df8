// Package template renders one recipient row into a message: the subject,
// the recipient and key expressions and plain-text attachments with
// text/template, the HTML body and HTML attachments with html/template.
//
// A template is parsed once per campaign (ParseText, ParseHTML) and executed
// once per row with that row's Data. Execution reuses the parsed template —
// no cloning, no re-parsing — and *Text and *HTML are safe for concurrent use.
//
// # Fields and missing columns
//
// A column is written {{.nome}}. A column whose name is not a Go identifier
// (spaces, accents, dashes) is reached with get: {{get . "Ragione sociale"}}
// (inside {{with}} or {{range}}, where dot is something else, write
// {{get $ "Ragione sociale"}}). Templates run with missingkey=error: a column
// that the row does not have is always an error, never an empty string, so a
// misspelt column stops the campaign in preflight:
//
//	template corpo.html: line 3: missing field "nme": the row has no such column (check the spelling against the CSV header)
//
// Fields lists the columns a template uses and CheckColumns compares them
// with a CSV header, so such a mistake is reported once rather than per row.
// Every error is an *Error with the template name, line and, when known, the
// column; errors.Is distinguishes ErrMissingField, ErrEmptyField (required)
// and ErrInvalidValue (euro, date).
//
// # Limits
//
// Execute takes the most bytes a template may write, and stops at the first
// write past it with an *Error wrapping a *LimitError (errors.Is
// ErrTooLarge). A one-line {{range 200000000}}…{{end}} is thus refused after
// writing the limit, in milliseconds, instead of building gigabytes in
// memory first. The limit bounds output only: a loop that writes nothing
// still runs to its end, and a helper such as printf builds its whole result
// before it is written.
//
// # Escaping
//
// In HTML templates every value is escaped for where it lands: "Rossi &
// Figli" becomes "Rossi &amp; Figli", "<script>" becomes "&lt;script&gt;",
// a value in an attribute is quoted-safe, and a "javascript:" URL in href is
// replaced by "#ZgotmplZ". Nothing in a CSV can inject markup.
//
// # Helpers
//
// Helpers are plain functions: none reads the environment, files or runs
// anything. Those taking a column value take it last, so they work both as
// calls and at the end of a pipeline.
//
//	required NAME VALUE   VALUE, or an error naming NAME when it is empty or spaces
//	                      {{required "pec" .pec}}  {{.pec | required "pec"}}
//	default DEF VALUE     DEF when VALUE is empty or spaces: {{.telefono | default "n/d"}}
//	                      (a missing column is still an error)
//	upper, lower VALUE    {{upper .cognome}} → "ROSSI"
//	title VALUE           Italian title case: "MARIO DE ROSSI" → "Mario De Rossi",
//	                      "D'ANGELO" → "D'Angelo"
//	trim VALUE            removes surrounding spaces
//	euro VALUE            two decimals, Italian separators: 1234.5 → "1.234,50";
//	                      reads "1234.5", "1234,50", "1.234,50", "€ 1.234,50", "-3"
//	                      and numbers; rounds half away from zero; refuses the
//	                      ambiguous "1.234" and anything that is not an amount
//	date LAYOUT VALUE     Go layout, Italian names: {{date "2 January 2006" .scadenza}}
//	                      → "31 dicembre 2026"; "Monday" → "giovedì", "Jan" → "dic";
//	                      reads 2026-12-31, 31/12/2026, 1/2/2026 (day first) and RFC 3339
//	nl2br VALUE           HTML: escapes VALUE and turns line breaks into <br>;
//	                      text: VALUE unchanged
//	get ROW NAME          the column NAME: {{get . "Ragione sociale"}}; error when absent
//
// The text/template built-ins (if, with, range, eq, printf, index, …) are
// available too; note that index returns "" for a missing column where get
// reports an error.
package template

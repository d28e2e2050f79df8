// Package runner sends a campaign and follows it to the end: it drives the
// API client and the journal. What a campaign is (its file, its rows, its
// messages) is package campaign; how a run looks to people is the
// command's, told through a Printer; the delivery report is package
// report, which the command hands in as Deps.SaveReports.
//
// Its promises:
//
//   - Exactly once. A row is sent by one request at most, whatever stops
//     the run (Ctrl-C, a crash, SIGKILL, a lost connection): before a send
//     request leaves, the row is committed to the journal as "sending"
//     (client.SendCommitted calls the journal between building the request
//     and making it), and the answer is recorded after it, even when the
//     run is being interrupted. A row found in "sending" by the next run
//     may or may not have been sent: it becomes "unknown" and is never sent
//     again by itself.
//   - Unknown is looked for, not guessed. An unknown row is reconciled by
//     searching the mailbox for the acceptance of its send (from the
//     journal's sending time, less the clock skew). Only a row whose
//     reconciliation window has passed, and whose last search of the mailbox
//     went through without finding its acceptance, can be sent again, and
//     only with RunOptions.ResendUnknown. Acceptances that could belong to
//     more than one row are given to none, and those rows are not resent.
//   - A resume is the same campaign. A journal never resumes against
//     another endpoint or sender; changes to rows already sent are refused,
//     other changes need RunOptions.AllowChanges.
//   - Nothing is called delivered without its receipt: the tracker polls
//     every submitted row until its receipts make it final, or until
//     tracking.give_up_after.
//
// The entry points are Run (preflight, send, track), Poll (track and
// reconcile what was sent), TestSend (one row to one address, journaled as
// an event) and Status (how a journal stands). Their errors wrap the
// campaign package's sentinels (ErrInvalidInput, ErrInterrupted,
// ErrRowsUnknown, ErrRowsFailed), which the command maps to exit statuses.
package runner

// Package pecmail reads the signed PEC receipts themselves from the sending mailbox over IMAP, parses their
// daticert.xml and verifies their S/MIME signature.
//
// The PEC Massiva API hands out only summaries of receipts; the receipt messages signed by the provider
// (DPR 68/2005, DM 2 novembre 2005) are what a court accepts as proof, and their daticert.xml names exactly
// which addressee a delivery or non-delivery is about. Parse reads one message and never fails: what is
// wrong with a receipt is in its DaticertErr and Signature. Fetch reads the mailbox read-only (EXAMINE and
// BODY.PEEK: nothing is marked as read or deleted), from a Cursor, headers first and whole messages only for
// the receipts the caller wants.
//
// The signature is checked over the exact bytes of the signed part as the server gave them, never over a
// re-serialised part; a message whose line endings were turned into bare LF by some store on the way is
// checked a second time in the canonical CRLF form that S/MIME signs.
//
// The package does not import client/sandbox, campaign or journal: the sandbox's mailbox is an independent
// reading of the same standard.
package pecmail

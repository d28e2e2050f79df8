package journal

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// sentBetweenQuery counts the sending events in [from, to) whose attempt
// did not end in not_sent: the attempt's outcome is the next attempt event
// of its row.
const sentBetweenQuery = `SELECT count(*) FROM events s INDEXED BY events_sending
	WHERE s.kind = 'sending' AND s.at >= ? AND s.at < ?
	AND (SELECT e.kind FROM events e INDEXED BY events_attempts
		WHERE e.row_id = s.row_id AND e.kind IN ('sending', 'not_sent') AND e.id > s.id
		ORDER BY e.id LIMIT 1) IS NOT 'not_sent'`

// SentBetween counts the sends of the campaign whose request was committed
// (MarkSending, the intent to send, by the journal's clock) in [from, to),
// over every run of the campaign: each attempt counts, a resend of an
// unknown row too, except an attempt that MarkNotSent recorded as never
// having reached the service. It is what a daily sending limit counts;
// test sends recorded with AddEvent are not in it.
func (r *Reader) SentBetween(ctx context.Context, from, to time.Time) (int, error) {
	var n int
	if err := r.db.QueryRowContext(ctx, sentBetweenQuery, from.UnixMilli(), to.UnixMilli()).Scan(&n); err != nil {
		return 0, fmt.Errorf("journal: sends between %s and %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return n, nil
}

// SentPerDay counts, as SentBetween does, the sends of the calendar day of
// day in loc: from its midnight to the next one, 23 or 25 hours on the days
// daylight saving time starts or ends.
func (r *Reader) SentPerDay(ctx context.Context, loc *time.Location, day time.Time) (int, error) {
	if loc == nil {
		return 0, errors.New("journal: sends per day: no time zone")
	}
	y, m, d := day.In(loc).Date()
	return r.SentBetween(ctx, time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc))
}

package sandbox

// The mailbox side of the sandbox: receipts arriving, the receipt list of
// a send, the inbox and its messages, the quota, and the queue of events.

import (
	"container/heap"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// arriveLocked moves every receipt due by the sandbox's now into the
// mailbox, giving each the next id, in time order.
func (s *Server) arriveLocked() {
	now := s.now()
	for s.pending.Len() > 0 && !s.pending[0].at.After(now) {
		ev := heap.Pop(&s.pending).(*event)
		m := render(ev, s.loc)
		m.ev = ev
		s.lastID++
		m.id = s.lastID
		s.inbox = append(s.inbox, m)
		s.byID[m.id] = m
		s.usage += m.size
	}
}

// removeLocked deletes the messages for which drop is true.
func (s *Server) removeLocked(drop func(*message) bool) int {
	removed := 0
	s.inbox = slices.DeleteFunc(s.inbox, func(m *message) bool {
		if !drop(m) {
			return false
		}
		delete(s.byID, m.id)
		s.usage -= m.size
		removed++
		return true
	})
	return removed
}

type statusEntry struct {
	Sender    string `json:"sender"`
	Recipient string `json:"recipient"`
	Data      string `json:"data"`
	Object    string `json:"object"`
	Message   string `json:"message"`
}

// handleReceipts is GET /send/{code}: the code's receipts in arrival order
// (newest first for DomainUnsorted), with those DomainForeign lists too.
func (s *Server) handleReceipts(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	s.mu.Lock()
	s.arriveLocked()
	var data []statusEntry
	for _, m := range s.inbox {
		if m.code == code || m.alsoUnder == code {
			e := statusEntry{m.sender, m.recipient, m.date, m.object, m.body}
			data = append(data, e)
			if m.listTwice {
				data = append(data, e)
			}
		}
	}
	if rec := s.byCode[code]; rec != nil && rec.unsorted {
		slices.Reverse(data)
	}
	s.mu.Unlock()
	if len(data) == 0 {
		writeJSON(w, http.StatusNotFound, failure(msgResultEmpty))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Data    []statusEntry `json:"data"`
		Success bool          `json:"success"`
		Message string        `json:"message"`
	}{data, true, ""})
}

// handleDeleteReceipts is DELETE /send/{code}: it deletes the receipts the
// mailbox holds for the code. Receipts that have not arrived yet still
// arrive later, as in a real mailbox; deleted ones never come back.
func (s *Server) handleDeleteReceipts(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	s.mu.Lock()
	s.arriveLocked()
	removed := s.removeLocked(func(m *message) bool { return m.code == code || m.alsoUnder == code })
	s.mu.Unlock()
	if removed == 0 {
		writeJSON(w, http.StatusNotFound, failure(msgEmailNotFound))
		return
	}
	s.log.Info("sandbox: receipts deleted", "code", code, "messages", removed)
	writeJSON(w, http.StatusOK, envelope{Success: true, Message: msgOperationOK})
}

type inboxEntry struct {
	Sender    string `json:"sender"`
	Recipient string `json:"recipient"`
	Date      string `json:"date"`
	Object    string `json:"object"`
	ID        int64  `json:"id"`
}

// handleInbox is GET /inbox?q=&page=: newest first, pages of PageSize, q a
// case-insensitive substring of the subject.
func (s *Server) handleInbox(w http.ResponseWriter, r *http.Request) {
	query := strings.ToLower(r.URL.Query().Get("q"))
	page := 1
	// The contract types page as a number; anything unusable means page 1.
	if p, err := strconv.ParseFloat(r.URL.Query().Get("page"), 64); err == nil && p >= 1 && p <= math.MaxInt32 {
		page = int(p)
	}
	s.mu.Lock()
	s.arriveLocked()
	var matched []*message
	for i := len(s.inbox) - 1; i >= 0; i-- {
		if m := s.inbox[i]; query == "" || strings.Contains(strings.ToLower(m.object), query) {
			matched = append(matched, m)
		}
	}
	s.mu.Unlock()

	data := []inboxEntry{}
	if start := (page - 1) * PageSize; start < len(matched) {
		for _, m := range matched[start:min(start+PageSize, len(matched))] {
			data = append(data, inboxEntry{m.sender, m.recipient, m.date, m.object, m.id})
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Data     []inboxEntry `json:"data"`
		Success  bool         `json:"success"`
		Message  string       `json:"message"`
		Total    int          `json:"total"`
		Page     int          `json:"page"`
		NOfPages int          `json:"n_of_pages"`
	}{data, true, "", len(matched), page, (len(matched) + PageSize - 1) / PageSize})
}

// lookupLocked finds the message of the {id} path value.
func (s *Server) lookupLocked(r *http.Request) *message {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil
	}
	return s.byID[id]
}

// handleInboxMessage is GET /inbox/{id}; the body is form-urlencoded, as the
// contract says.
func (s *Server) handleInboxMessage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.arriveLocked()
	m := s.lookupLocked(r)
	s.mu.Unlock()
	if m == nil {
		writeJSON(w, http.StatusNotFound, failure(msgMessageNotFound))
		return
	}
	type single struct {
		Sender    string `json:"sender"`
		Recipient string `json:"recipient"`
		Date      string `json:"date"`
		Object    string `json:"object"`
		Body      string `json:"body"`
	}
	writeJSON(w, http.StatusOK, struct {
		Data    single `json:"data"`
		Success bool   `json:"success"`
		Message string `json:"message"`
	}{single{m.sender, m.recipient, m.date, m.object, url.QueryEscape(m.body)}, true, ""})
}

// handleDeleteInboxMessage is DELETE /inbox/{id}. The contract documents no
// 404 here, so an unknown id is a 200 with success false: the tolerant
// decoding the contract's README asks of a client.
func (s *Server) handleDeleteInboxMessage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.arriveLocked()
	m := s.lookupLocked(r)
	if m != nil {
		s.removeLocked(func(other *message) bool { return other == m })
	}
	s.mu.Unlock()
	if m == nil {
		writeJSON(w, http.StatusOK, failure(msgMessageNotFound))
		return
	}
	writeJSON(w, http.StatusOK, envelope{Success: true, Message: msgMessageDeleted})
}

// handleQuota is GET /quota/{mailbox}: only INBOX (any case, as IMAP) exists.
// usage is the bytes held, rounded up to KiB.
func (s *Server) handleQuota(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.PathValue("mailbox"), "INBOX") {
		writeJSON(w, http.StatusBadRequest, failure(msgMailbox))
		return
	}
	s.mu.Lock()
	s.arriveLocked()
	usage := (s.usage + 1023) / 1024
	s.mu.Unlock()
	type quota struct {
		Usage int64 `json:"usage"`
		Limit int64 `json:"limit"`
	}
	writeJSON(w, http.StatusOK, struct {
		Data    quota  `json:"data"`
		Success bool   `json:"success"`
		Message string `json:"message"`
	}{quota{usage, QuotaLimitKiB}, true, ""})
}

// handleSends is GET /_sandbox/sends, the sandbox's own endpoint.
func (s *Server) handleSends(w http.ResponseWriter, r *http.Request) {
	if !s.bearerOK(r) {
		writeJSON(w, http.StatusUnauthorized, failure(msgUnauthorized))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Sends []Send `json:"sends"`
	}{s.Sends()})
}

// eventQueue is a min-heap of pending receipts by (time, send, index).
type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.index < b.index
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	ev := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return ev
}

package runner

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"github.com/pecbatch/pecbatch/campaign"
)

// recipientsWatch notices the recipients file replaced or edited while a
// run goes on. A run reads the file through the handle it opened, so a file
// replaced by another (saved from a spreadsheet, copied over) would go on
// being sent from the old one without a word; each row's content hash
// only catches what it renders differently. The file's identity, size and
// time are compared before every send, and its content hash when they
// changed, so that touching it alone does not stop a run.
type recipientsWatch struct {
	path, name string
	info       os.FileInfo
	sha        [sha256.Size]byte
}

// watchRecipients takes the recipients file's identity and hash; it runs
// before preflight reads the file, so that a change made at any time
// after is seen. It is nil, and checks nothing, when the file cannot be
// read: preflight says what is wrong with it.
func watchRecipients(c *campaign.Campaign) *recipientsWatch {
	w := &recipientsWatch{path: c.Recipients.File, name: c.Recipients.FileName}
	info, sum, err := w.read()
	if err != nil {
		return nil
	}
	w.info, w.sha = info, sum
	return w
}

func (w *recipientsWatch) read() (os.FileInfo, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(w.path)
	if err != nil {
		return nil, sum, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, sum, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, sum, err
	}
	copy(sum[:], h.Sum(nil))
	return info, sum, nil
}

// check returns an error when the recipients file is no longer the one
// the run started from: the run must stop before its next send.
func (w *recipientsWatch) check() error {
	if w == nil {
		return nil
	}
	now, err := os.Stat(w.path)
	if err == nil && os.SameFile(now, w.info) && now.Size() == w.info.Size() && now.ModTime().Equal(w.info.ModTime()) {
		return nil
	}
	if err == nil {
		var info os.FileInfo
		var sum [sha256.Size]byte
		if info, sum, err = w.read(); err == nil && sum == w.sha {
			w.info = info
			return nil
		}
	}
	what := "replaced or changed"
	if err != nil {
		what = fmt.Sprintf("removed or unreadable (%v)", err)
	}
	return fmt.Errorf("run: the recipients file %s was %s during the run: nothing more was sent, and no row already "+
		"sent will be sent again; run again to see what changed (undo the change, or accept it with --allow-changes)",
		w.name, what)
}

package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/journal"
)

// ledgerDirVar names the folder of the claim ledgers (one file per sending
// mailbox) when set: for a machine whose users share a mailbox, a folder
// they all write, or for tests. Unset, the ledgers are under the user's
// configuration folder (journal.DefaultLedgerPath).
const ledgerDirVar = "PECBATCH_LEDGER_DIR"

// ledgerPath returns the claim ledger of the campaign's mailbox, read from
// the command's environment (g.lookupEnv) as every other setting is.
func (g *globalOptions) ledgerPath(c *campaign.Campaign) (string, error) {
	dir, ok := g.lookupEnv(ledgerDirVar)
	if !ok || dir == "" {
		config, err := userConfigDir(g.lookupEnv)
		if err != nil {
			return "", fmt.Errorf("the claim ledger of the mailbox: %w; set HOME, or %s to the folder of the ledgers",
				err, ledgerDirVar)
		}
		dir = filepath.Join(config, "pecbatch", "ledger")
	}
	p, err := journal.LedgerPathIn(dir, c.Sender.Address)
	if err != nil {
		return "", fmt.Errorf("the claim ledger of the mailbox: %w", err)
	}
	return p, nil
}

// userConfigDir is os.UserConfigDir read from lookup rather than from the
// process: the same folder journal.DefaultLedgerPath uses.
func userConfigDir(lookup func(string) (string, bool)) (string, error) {
	get := func(k string) string { v, _ := lookup(k); return v }
	switch runtime.GOOS {
	case "windows":
		if dir := get("AppData"); dir != "" {
			return dir, nil
		}
		return "", errors.New("%AppData% is not defined")
	case "darwin", "ios":
		if dir := get("HOME"); dir != "" {
			return filepath.Join(dir, "Library", "Application Support"), nil
		}
		return "", errors.New("$HOME is not defined")
	case "plan9":
		if dir := get("home"); dir != "" {
			return filepath.Join(dir, "lib"), nil
		}
		return "", errors.New("$home is not defined")
	}
	if dir := get("XDG_CONFIG_HOME"); dir != "" {
		if !filepath.IsAbs(dir) {
			return "", errors.New("path in $XDG_CONFIG_HOME is relative")
		}
		return dir, nil
	}
	if dir := get("HOME"); dir != "" {
		return filepath.Join(dir, ".config"), nil
	}
	return "", errors.New("neither $XDG_CONFIG_HOME nor $HOME are defined")
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pecbatch/pecbatch/campaign"
	"github.com/pecbatch/pecbatch/campaign/runner"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"plain error", errors.New("journal: disk full"), 1},
		{"usage", &usageError{errors.New("accepts 1 arg")}, 2},
		{"invalid input", fmt.Errorf("validate: %w", campaign.ErrInvalidInput), 2},
		{"rows failed", fmt.Errorf("run: %w", campaign.ErrRowsFailed), 3},
		{"rows unknown", fmt.Errorf("run: %w", campaign.ErrRowsUnknown), 4},
		{"interrupted", fmt.Errorf("run: %w", campaign.ErrInterrupted), 130},
		{"cancelled context", fmt.Errorf("run: %w", context.Canceled), 130},
		{"paused by the daily limit", &runner.PausedError{Reason: "the daily limit is reached"}, 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestRunCommandLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"help lists exit statuses", []string{"--help"}, 0, "130  interrupted", ""},
		{"version", []string{"version"}, 0, "pecbatch ", ""},
		{"unknown command", []string{"sendall"}, 2, "", `unknown command "sendall"`},
		{"unknown flag", []string{"version", "--bogus"}, 2, "", "unknown flag: --bogus"},
		{"bad log format", []string{"--log-format", "xml", "version"}, 2, "", "--log-format must be text or json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			code := reportError(&stderr, err)
			if code != tt.wantCode {
				t.Fatalf("exit status %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

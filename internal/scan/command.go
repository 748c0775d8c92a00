package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

// Command is a command-line scanner (YARA through the `yara` tool, clamscan, a
// vendor's CLI): the data is written to a private temporary file, the command runs
// with "{file}" in its arguments replaced by that file's path, and its exit status
// and output say the verdict.
type Command struct {
	EngineName string
	Argv       []string // program and arguments; "{file}" is the data
	// CleanExit are the exit statuses of a scan that ran (default 0); with a
	// status in InfectedExit the data is infected. Any other status is an error.
	CleanExit    []int
	InfectedExit []int
	// InfectedPattern, when the output matches it, means infected even with a
	// clean status (yara exits 0 either way and prints "rule file" per match);
	// its first group, else the whole match, is the threat name.
	InfectedPattern *regexp.Regexp
}

// Name is the engine's name in results.
func (c *Command) Name() string { return c.EngineName }

const maxCommandOutput = 64 << 10

// Scan runs the command on data.
func (c *Command) Scan(ctx context.Context, data []byte) (Result, error) {
	if len(c.Argv) == 0 {
		return Result{}, errors.New("command engine: no program")
	}
	f, err := os.CreateTemp("", "resguardo-scan-*")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return Result{}, err
	}
	if err := f.Close(); err != nil {
		return Result{}, err
	}
	args := make([]string, len(c.Argv)-1)
	for i, a := range c.Argv[1:] {
		args[i] = strings.ReplaceAll(a, "{file}", f.Name())
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], args...)
	var out bytes.Buffer
	cmd.Stdout = &limitedBuffer{b: &out}
	cmd.Stderr = cmd.Stdout
	err = cmd.Run()
	if ctx.Err() != nil {
		return Result{}, ErrTimeout
	}
	status := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		status = exitErr.ExitCode()
	case err != nil:
		return Result{}, fmt.Errorf("command engine: %w", err)
	}
	output := strings.ReplaceAll(out.String(), f.Name(), "{file}")
	clean := c.CleanExit
	if len(clean) == 0 {
		clean = []int{0}
	}
	switch {
	case slices.Contains(c.InfectedExit, status):
		return Result{Verdict: Infected, Threat: threatIn(c.InfectedPattern, output)}, nil
	case slices.Contains(clean, status):
		if c.InfectedPattern != nil && c.InfectedPattern.MatchString(output) {
			return Result{Verdict: Infected, Threat: threatIn(c.InfectedPattern, output)}, nil
		}
		return Result{Verdict: Clean}, nil
	}
	return Result{}, fmt.Errorf("command engine: exit status %d: %s", status, firstLine(output))
}

func threatIn(re *regexp.Regexp, output string) string {
	if re == nil {
		return firstLine(output)
	}
	m := re.FindStringSubmatch(output)
	switch {
	case len(m) > 1:
		return m[1]
	case len(m) == 1:
		return m[0]
	}
	return firstLine(output)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// limitedBuffer keeps the first maxCommandOutput bytes of a command's output.
type limitedBuffer struct{ b *bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxCommandOutput - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

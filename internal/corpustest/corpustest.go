// Package corpustest locates the shared mail corpus (../shared/corpus next to the
// repository) for tests. The corpus is read in place and never copied into the repo.
//
// The directory is taken from $RESGUARDO_CORPUS when set; otherwise every ancestor of
// the working directory is searched for a sibling "shared/corpus". When the corpus is
// missing, tests skip locally but fail under CI=true, where nothing may be skipped.
// Require and Program report any other missing prerequisite (a program, root) the
// same way.
package corpustest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Find returns the corpus directory, or "" when it cannot be found.
func Find() string {
	if d := os.Getenv("RESGUARDO_CORPUS"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; {
		cand := filepath.Join(dir, "shared", "corpus")
		if st, err := os.Stat(filepath.Join(cand, "README.md")); err == nil && !st.IsDir() {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Dir returns the corpus directory or ends the test: a skip locally, a failure in CI.
func Dir(t testing.TB) string {
	t.Helper()
	d := Find()
	if d == "" {
		Require(t, "shared corpus not found (set RESGUARDO_CORPUS)")
	}
	return d
}

// Path joins elements onto the corpus directory (see Dir).
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{Dir(t)}, elem...)...)
}

// Require reports a missing prerequisite: t.Skip outside CI, t.Fatal when CI=true.
func Require(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required in CI: %s", why)
	}
	t.Skip(why)
}

// Program returns the path of a program the test needs (looked up in PATH, then
// /usr/sbin and /sbin, where Debian puts daemons); a missing one is reported
// with Require, naming its Debian package.
func Program(t testing.TB, prog, pkg string) string {
	t.Helper()
	for _, dir := range []string{"", "/usr/sbin/", "/sbin/"} {
		if p, err := exec.LookPath(dir + prog); err == nil {
			return p
		}
	}
	Require(t, fmt.Sprintf("%s not installed (apt-get install -y %s)", prog, pkg))
	return ""
}

package mailbox

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNotRegular is reported for a named path that is neither a regular file nor a
// directory (a device, a FIFO, a socket).
var ErrNotRegular = errors.New("mailbox: not a regular file or directory")

// role says how a file was reached, which decides how it is read.
type role int

const (
	roleNamed   role = iota // named explicitly: always imported
	roleWalked              // found by a walk: imported only if it looks like mail
	roleMaildir             // in a maildir's cur/ or new/: one message
)

// walker visits the files under a list of paths in Scan's order. It reads
// directories only; what to do with each file is up to its callbacks.
type walker struct {
	onSkip func(Skip)
	// file is called for every file that may hold mail; fi comes from stat (named
	// paths, following symbolic links) or lstat (walked files).
	file func(ctx context.Context, path string, fi fs.FileInfo, r role) error
	// fail is called for a path or directory that cannot be read.
	fail func(ctx context.Context, path string, err error) error
}

func (w *walker) walk(ctx context.Context, paths []string) error {
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.named(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) named(ctx context.Context, p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return w.fail(ctx, p, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return w.fail(ctx, abs, err)
	case fi.IsDir():
		return w.dir(ctx, abs, fi, nil, false)
	case fi.Mode().IsRegular():
		return w.file(ctx, abs, fi, roleNamed)
	}
	return w.fail(ctx, abs, ErrNotRegular)
}

// dir walks one directory. ancestors are the directories above it in this walk;
// inMaildir says dir is the cur/ or new/ of a maildir.
func (w *walker) dir(ctx context.Context, dir string, fi fs.FileInfo, ancestors []fs.FileInfo, inMaildir bool) error {
	for _, a := range ancestors {
		if os.SameFile(a, fi) {
			w.onSkip(Skip{Path: dir, Reason: "directory cycle not followed"})
			return nil
		}
	}
	ancestors = append(slices.Clip(ancestors), fi)
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		if err := w.fail(ctx, dir, err); err != nil {
			return err
		}
	}
	maildir := isMaildir(entries)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		p := filepath.Join(dir, name)
		typ := e.Type()
		switch {
		case typ&fs.ModeSymlink != 0:
			w.onSkip(Skip{Path: p, Reason: "symbolic link not followed"})
		case knownNonMail(name):
		case typ.IsDir() && maildir && name == "tmp":
			w.tmp(p)
		case typ.IsDir():
			sub, err := e.Info()
			if err != nil {
				if err := w.fail(ctx, p, err); err != nil {
					return err
				}
				continue
			}
			if err := w.dir(ctx, p, sub, ancestors, maildir && (name == "cur" || name == "new")); err != nil {
				return err
			}
		case !typ.IsRegular():
			w.onSkip(Skip{Path: p, Reason: "not a regular file"})
		case inMaildir && strings.HasPrefix(name, "."):
			w.onSkip(Skip{Path: p, Reason: "maildir: name starts with a dot"})
		default:
			info, err := e.Info()
			if err != nil {
				if err := w.fail(ctx, p, err); err != nil {
					return err
				}
				continue
			}
			r := roleWalked
			if inMaildir {
				r = roleMaildir
			}
			if err := w.file(ctx, p, info, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// tmp reports a maildir tmp/ that holds something: deliveries in progress, not read.
func (w *walker) tmp(p string) {
	entries, err := os.ReadDir(p)
	if err != nil || len(entries) > 0 {
		w.onSkip(Skip{Path: p, Reason: "maildir tmp/ not read (deliveries in progress)"})
	}
}

// isMaildir reports whether entries hold cur/ and new/ directories (not links).
func isMaildir(entries []fs.DirEntry) bool {
	n := 0
	for _, e := range entries {
		if e.IsDir() && e.Type()&fs.ModeSymlink == 0 && (e.Name() == "cur" || e.Name() == "new") {
			n++
		}
	}
	return n == 2
}

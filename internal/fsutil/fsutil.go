// Package fsutil holds the durable-file primitives every store uses: write a file by
// temp file + fsync + rename + directory fsync, so that after a crash a name either
// holds its complete content or does not exist (tessera storage/posix does the same).
package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrExists reports that a write-once file already exists with different content.
var ErrExists = errors.New("file exists with different content")

// SyncDir fsyncs a directory so that entries created or renamed in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return d.Close()
}

// MkdirAll creates dir and its parents with perm and fsyncs each parent it created into.
func MkdirAll(dir string, perm os.FileMode) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return SyncDir(parent)
}

// WriteFile atomically replaces path with data: temp file in the same directory,
// fsync, chmod perm, rename, fsync of the directory.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return SyncDir(dir)
}

// WriteFileNoSync replaces path with data by temp file and rename, without any
// fsync: readers never see a partial file, but after a power failure the file
// may hold its old content or none. For files the caller can re-derive.
func WriteFileNoSync(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o700); err == nil {
			f, err = os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
		}
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// SyncFS makes durable every write and rename made so far on the file system
// holding dir: one syncfs(2) where the platform has it (a single journal commit
// instead of one per file), else a sync of dir.
func SyncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return syncfs(d)
}

// WriteOnce writes path like WriteFile unless it already exists. An existing file
// with identical content is accepted (an idempotent retry after a crash); different
// content is ErrExists and the file is left untouched.
func WriteOnce(path string, data []byte, perm os.FileMode) error {
	old, err := os.ReadFile(path)
	if err == nil {
		if bytes.Equal(old, data) {
			return nil
		}
		return fmt.Errorf("%s: %w", path, ErrExists)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return WriteFile(path, data, perm)
}

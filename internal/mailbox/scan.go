package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
)

// Scan reads every message under paths, in order: paths as given, directories
// walked depth first in byte order of names, mbox messages in file order. It calls
// fn for each message, including the ones that could not be read (Item.Err). A
// non-nil error from fn stops the scan and is returned as is; cancelling ctx stops
// it with ctx.Err(). Other errors only come from invalid Options.
func Scan(ctx context.Context, paths []string, opt Options, fn func(Item) error) error {
	cfg, err := newConfig(opt)
	if err != nil {
		return err
	}
	s := &scanner{cfg: cfg, fn: fn}
	w := &walker{onSkip: cfg.onSkip, file: s.file, fail: s.fail}
	return w.walk(ctx, paths)
}

// Estimate walks paths like Scan but only stats files: how many files Scan will
// open and how many bytes they hold, for a progress bar. A file a walk finds is
// counted without looking inside, so files Scan then skips as "not mail" are
// included: the counts are an upper bound. Unreadable paths are not counted.
// OnSkip is not called.
func Estimate(ctx context.Context, paths []string, opt Options) (files int, bytes int64, err error) {
	if _, err := newConfig(opt); err != nil {
		return 0, 0, err
	}
	w := &walker{
		onSkip: func(Skip) {},
		file: func(_ context.Context, _ string, fi fs.FileInfo, _ role) error {
			files++
			bytes += fi.Size()
			return nil
		},
		fail: func(context.Context, string, error) error { return nil },
	}
	if err := w.walk(ctx, paths); err != nil {
		return 0, 0, err
	}
	return files, bytes, nil
}

// scanner reads the files a walker finds.
type scanner struct {
	cfg config
	fn  func(Item) error
	br  *bufio.Reader // reused from file to file, grown as needed (readBufSize)
}

func (s *scanner) emit(ctx context.Context, it Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.fn(it)
}

func (s *scanner) fail(ctx context.Context, path string, err error) error {
	return s.emit(ctx, Item{Source: path, Err: &ReadError{Path: path, Offset: -1, Err: err}})
}

func (s *scanner) file(ctx context.Context, path string, _ fs.FileInfo, r role) error {
	format := Format("")
	if r == roleMaildir {
		format = FormatMaildir
	}
	failed := func(err error) error {
		return s.emit(ctx, Item{Source: path, Format: format, Err: &ReadError{Path: path, Offset: -1, Err: err}})
	}
	f, err := os.Open(path)
	if err != nil {
		return failed(err)
	}
	defer f.Close() // read only: nothing to lose on Close
	fi, err := f.Stat()
	if err != nil {
		return failed(err)
	}
	if r == roleMaildir {
		return s.single(ctx, path, FormatMaildir, f, fi.Size())
	}
	if want := readBufSize(fi.Size()); s.br == nil || s.br.Size() < want {
		s.br = bufio.NewReaderSize(f, want)
	} else {
		s.br.Reset(f)
	}
	br := s.br
	head, err := br.Peek(sniffSize)
	if err != nil && err != io.EOF {
		return failed(err)
	}
	k, reason := sniff(head, err == io.EOF, s.cfg.format != MboxO)
	switch {
	case k == kindMbox:
		return s.mbox(ctx, path, br, f)
	case k == kindNotMail && r == roleWalked:
		s.cfg.onSkip(Skip{Path: path, Reason: reason})
		return nil
	}
	return s.single(ctx, path, FormatEML, br, fi.Size())
}

// single reads a whole file as one message.
func (s *scanner) single(ctx context.Context, path string, format Format, r io.Reader, size int64) error {
	it := Item{Source: path, Format: format, Input: size}
	fail := func(err error) error {
		it.Err = &ReadError{Path: path, Offset: -1, Err: err}
		return s.emit(ctx, it)
	}
	limit := s.cfg.maxSize
	if size > limit {
		return fail(tooLarge(size, limit))
	}
	var b bytes.Buffer
	b.Grow(int(size) + bytes.MinRead)
	n, err := b.ReadFrom(io.LimitReader(r, limit+1))
	it.Input = n
	switch {
	case err != nil:
		return fail(err)
	case n > limit:
		return fail(tooLarge(n, limit))
	case n == 0:
		return fail(ErrEmpty)
	}
	it.Data = b.Bytes()
	return s.emit(ctx, it)
}

// mbox splits an mbox file; br reads f from its start.
func (s *scanner) mbox(ctx context.Context, path string, br *bufio.Reader, f *os.File) error {
	mr := newMboxReader(br, f, 0, path, s.cfg)
	for {
		it, err := mr.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			var re *ReadError
			if !errors.As(err, &re) {
				re = &ReadError{Path: path, Offset: mr.off, Err: err}
			}
			// The rest of the file cannot be framed: report and go on with the next.
			return s.emit(ctx, Item{Source: mboxSource(path, re.Offset), Format: FormatMbox, Input: mr.off - re.Offset, Err: err})
		}
		if err := s.emit(ctx, it); err != nil {
			return err
		}
	}
}

package scan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Clamd is a clamd daemon reached over TCP ("tcp", "127.0.0.1:3310") or a unix
// socket ("unix", "/run/clamav/clamd.ctl"), speaking INSTREAM.
type Clamd struct {
	EngineName string
	Network    string
	Address    string
	// ChunkSize of the INSTREAM chunks (default 64 KiB). Data longer than clamd's
	// StreamMaxLength makes clamd answer "INSTREAM size limit exceeded": an Error.
	ChunkSize int
}

// Name is the engine's name in results.
func (c *Clamd) Name() string {
	if c.EngineName != "" {
		return c.EngineName
	}
	return "clamd"
}

func (c *Clamd) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.Network, c.Address)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(5 * time.Minute))
	}
	return conn, nil
}

// reply reads one NUL-terminated answer (the "z" commands), bounded.
func reply(conn net.Conn) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(conn, 4096)).ReadString(0)
	if err != nil {
		if len(line) >= 4096 {
			return "", fmt.Errorf("clamd: answer too long")
		}
		return "", fmt.Errorf("clamd: no answer: %w", err)
	}
	return strings.TrimRight(line, "\x00\n"), nil
}

// Version asks clamd for its engine and signature version ("ClamAV 1.4.6/27000/…").
func (c *Clamd) Version(ctx context.Context) (string, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("zVERSION\x00")); err != nil {
		return "", err
	}
	return reply(conn)
}

// Scan streams data to clamd and parses its verdict.
func (c *Clamd) Scan(ctx context.Context, data []byte) (Result, error) {
	version, _ := c.Version(ctx) // best effort: a result without a version is still a result
	conn, err := c.dial(ctx)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	chunk := c.ChunkSize
	if chunk <= 0 {
		chunk = 64 << 10
	}
	w := bufio.NewWriterSize(conn, chunk+4)
	w.WriteString("zINSTREAM\x00")
	var size [4]byte
	for rest := data; len(rest) > 0; {
		n := min(chunk, len(rest))
		binary.BigEndian.PutUint32(size[:], uint32(n))
		w.Write(size[:])
		w.Write(rest[:n])
		rest = rest[n:]
	}
	w.Write([]byte{0, 0, 0, 0})
	if err := w.Flush(); err != nil {
		// clamd closes the stream when it exceeds StreamMaxLength; its answer says so.
		if ans, rerr := reply(conn); rerr == nil && ans != "" {
			return parseClamd(ans, version)
		}
		return Result{}, fmt.Errorf("clamd: send: %w", err)
	}
	ans, err := reply(conn)
	if err != nil {
		return Result{}, err
	}
	return parseClamd(ans, version)
}

// parseClamd reads "stream: OK", "stream: NAME FOUND" or "… ERROR".
func parseClamd(ans, version string) (Result, error) {
	msg, ok := strings.CutPrefix(ans, "stream: ")
	switch {
	case ok && msg == "OK":
		return Result{Verdict: Clean, Version: version}, nil
	case ok && strings.HasSuffix(msg, " FOUND"):
		return Result{Verdict: Infected, Threat: strings.TrimSuffix(msg, " FOUND"), Version: version}, nil
	}
	if bytes.ContainsFunc([]byte(ans), func(r rune) bool { return r < 0x20 }) || len(ans) > 200 {
		ans = fmt.Sprintf("%q", ans[:min(len(ans), 200)])
	}
	return Result{}, fmt.Errorf("clamd: %s", ans)
}

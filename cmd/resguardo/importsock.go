package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
)

// serve's import socket: `<data>/serve.sock`, HTTP over a unix socket, mode 0600,
// for local tools only. `resguardo import` hands its messages to a running serve
// through it instead of taking the writer lock (docs/CLI.md, import). The socket
// file's permission (and the data directory's 0700) is the authentication; serve
// also refuses peers whose uid is neither its own nor root (SO_PEERCRED).
//
//	POST /import/v1/messages  body: frames "<header JSON>\n<size bytes>", one per message
//	                          → importReply, once every message is durable (or failed)
//	POST /import/v1/stamp     body: importStampRequest → importStampReply
const (
	importSocketName = "serve.sock"
	importMediaType  = "application/x-resguardo-import-v1"
	importMaxItems   = 1000    // messages per batch serve accepts
	importMaxHeader  = 1 << 16 // bytes of one frame header
)

func importSocketPath(dataDir string) string { return filepath.Join(dataDir, importSocketName) }

// importFrame is the header of one message in a batch.
type importFrame struct {
	Source     string    `json:"source"`
	ReceivedAt time.Time `json:"received_at,omitzero"`
	Size       int64     `json:"size"`
}

// importResult is the archive's result for one message.
type importResult struct {
	SHA256      string   `json:"sha256,omitempty"`
	Status      string   `json:"status"` // archived, duplicate, failed
	Size        int64    `json:"size,omitempty"`
	Malformed   bool     `json:"malformed,omitempty"`
	Defects     []string `json:"defects,omitempty"`
	LedgerIndex int64    `json:"ledger_index"` // -1 unless archived
	Error       string   `json:"error,omitempty"`
}

// importReply answers a batch: one result per message taken, in the batch's
// order; Error says why the rest (if any) was not taken.
type importReply struct {
	Format  string         `json:"format"` // resguardo-import-results/1
	Results []importResult `json:"results"`
	Error   string         `json:"error,omitempty"`
}

type importStampRequest struct {
	Stamp bool `json:"stamp"` // timestamp the newest checkpoint now
	Index bool `json:"index"` // bring serve's search index up to date before answering
}

type importStampReply struct {
	LedgerSize int64  `json:"ledger_size"`
	StampError string `json:"stamp_error,omitempty"`
	IndexError string `json:"index_error,omitempty"`
}

// stampCall is a stamp request handed to serve's main loop, which alone
// timestamps checkpoints and writes the search index.
type stampCall struct {
	req   importStampRequest
	reply chan importStampReply
}

// importServer is serve's side of the socket.
type importServer struct {
	log     *slog.Logger
	ingest  func() (*archive.Ingester, error) // serve's shared ingester
	maxSize int64
	calls   chan<- stampCall
	stopped <-chan struct{} // serve's main loop has ended
	srv     *http.Server
	ln      *net.UnixListener
	path    string
	once    sync.Once
}

// errImportSocketLive reports a socket another process still answers on.
var errImportSocketLive = errors.New("another resguardo serve answers on the import socket")

// listenImportSocket creates <data>/serve.sock with mode 0600 (bound under a
// temporary name, restricted, then renamed into place, so that it is never
// reachable with a wider mode); a stale socket file is removed first.
func listenImportSocket(dataDir string, log *slog.Logger) (*net.UnixListener, string, error) {
	path := importSocketPath(dataDir)
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, "", fmt.Errorf("%w (%s)", errImportSocketLive, path)
	}
	if err := os.Remove(path); err == nil {
		log.Info("removed a stale import socket", "path", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("remove stale import socket: %w", err)
	}
	tmp := filepath.Join(dataDir, ".serve.sock."+strconv.Itoa(os.Getpid()))
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, "", fmt.Errorf("import socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // it is removed by its final name
	if err := os.Chmod(tmp, 0o600); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, "", fmt.Errorf("import socket: %w", err)
	}
	return ln, path, nil
}

// start serves the socket until stop.
func (s *importServer) start(ln *net.UnixListener, path string) {
	s.ln, s.path = ln, path
	mux := http.NewServeMux()
	mux.HandleFunc("POST /import/v1/messages", s.handleMessages)
	mux.HandleFunc("POST /import/v1/stamp", s.handleStamp)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ConnContext: peerContext,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("import socket", "err", err)
		}
	}()
}

// stop removes the socket and waits (within ctx) for the batches being archived.
func (s *importServer) stop(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		if s.srv == nil {
			return
		}
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			s.log.Warn("remove import socket", "err", rerr)
		}
		err = s.srv.Shutdown(ctx)
	})
	return err
}

// allowed checks the peer: serve's own user or root.
func (s *importServer) allowed(w http.ResponseWriter, r *http.Request) (peer, bool) {
	p, ok := peerOf(r.Context())
	if ok && p.uid != os.Getuid() && p.uid != 0 {
		s.log.Warn("import socket: peer refused", "uid", p.uid, "pid", p.pid)
		http.Error(w, "forbidden", http.StatusForbidden)
		return p, false
	}
	return p, true
}

func (s *importServer) handleMessages(w http.ResponseWriter, r *http.Request) {
	p, ok := s.allowed(w, r)
	if !ok {
		return
	}
	start := time.Now()
	in, err := s.ingest()
	if err != nil {
		replyJSON(w, http.StatusServiceUnavailable, importReply{Format: "resguardo-import-results/1", Results: []importResult{}, Error: err.Error()})
		return
	}
	// Results arrive in commit order, tagged with their place in the batch; the
	// channel holds them all, so the committer never waits for this handler.
	done := make(chan archive.Result, importMaxItems)
	br := bufio.NewReaderSize(r.Body, 64<<10)
	n := 0
	var stopErr error
	for {
		var f importFrame
		line, err := br.ReadSlice('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			break
		}
		if err != nil {
			stopErr = fmt.Errorf("read frame header: %w", err)
			break
		}
		if err := json.Unmarshal(line, &f); err != nil || f.Size < 0 {
			stopErr = fmt.Errorf("bad frame header: %v", err)
			break
		}
		if f.Size > s.maxSize {
			stopErr = fmt.Errorf("message %s is larger than limits.max_message_size", f.Source)
			break
		}
		if n == importMaxItems {
			stopErr = fmt.Errorf("a batch holds at most %d messages", importMaxItems)
			break
		}
		data := make([]byte, f.Size)
		if _, err := io.ReadFull(br, data); err != nil {
			stopErr = fmt.Errorf("read message %s: %w", f.Source, err)
			break
		}
		it := &archive.Item{Data: data, Channel: "import", Source: f.Source, ReceivedAt: f.ReceivedAt, Tag: n, Done: done}
		if err := in.Add(r.Context(), it); err != nil {
			stopErr = err
			break
		}
		n++
	}
	// Answer only once every message taken is durable (or failed), as the
	// gateway answers 250.
	res := make([]importResult, n)
	var archived, dup, failed int
	for range n {
		ar := <-done
		ir := importResult{SHA256: ar.SHA256, Status: ar.Status.String(), Size: ar.Size, Malformed: ar.Malformed, LedgerIndex: ar.LedgerIndex}
		for _, d := range ar.Defects {
			ir.Defects = append(ir.Defects, d.Code)
		}
		switch ar.Status {
		case archive.Archived:
			archived++
		case archive.Duplicate:
			dup++
			ir.LedgerIndex = -1
		default:
			failed++
			ir.LedgerIndex = -1
			if ar.Err != nil {
				ir.Error = ar.Err.Error()
			}
		}
		res[ar.Tag.(int)] = ir
	}
	rep := importReply{Format: "resguardo-import-results/1", Results: res}
	if stopErr != nil {
		rep.Error = stopErr.Error()
	}
	s.log.Info("import batch", "messages", n, "archived", archived, "duplicate", dup, "failed", failed,
		"uid", p.uid, "pid", p.pid, "took", time.Since(start).Round(time.Millisecond), "err", rep.Error)
	replyJSON(w, http.StatusOK, rep)
}

func (s *importServer) handleStamp(w http.ResponseWriter, r *http.Request) {
	p, ok := s.allowed(w, r)
	if !ok {
		return
	}
	var req importStampRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	c := stampCall{req: req, reply: make(chan importStampReply, 1)}
	select {
	case s.calls <- c:
	case <-s.stopped:
		http.Error(w, "serve is stopping", http.StatusServiceUnavailable)
		return
	case <-r.Context().Done():
		return
	}
	rep := <-c.reply // the main loop always answers a call it took
	if req.Stamp {
		s.log.Info("import stamp", "ledger_size", rep.LedgerSize, "uid", p.uid, "pid", p.pid)
	}
	replyJSON(w, http.StatusOK, rep)
}

func replyJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// peer is the process at the other end of a unix connection.
type peer struct{ uid, pid int }

type peerKey struct{}

func peerOf(ctx context.Context) (peer, bool) {
	p, ok := ctx.Value(peerKey{}).(peer)
	return p, ok
}

func peerContext(ctx context.Context, c net.Conn) context.Context {
	if p, ok := peerCred(c); ok {
		return context.WithValue(ctx, peerKey{}, p)
	}
	return ctx
}

// startImportSocket starts serve's import socket; the returned stop removes it
// and waits for the batches being archived. Without a gateway, the socket's
// ingester is serve's own, started at the first batch and closed by stop.
func (m *Main) startImportSocket(a *archive.Archive, gw *gateway, calls chan<- stampCall, loopDone <-chan struct{}) (func() error, error) {
	log := m.Logger.With("component", "import-socket")
	ln, path, err := listenImportSocket(a.Dir(), log)
	if errors.Is(err, errImportSocketLive) {
		return nil, &exitError{code: 1, err: err}
	}
	if err != nil {
		// serve runs without it; imports then need serve stopped, as before.
		log.Warn("import socket not available: `resguardo import` must wait until serve stops", "err", err)
		return func() error { return nil }, nil
	}
	var (
		mu  sync.Mutex
		own *archive.Ingester
	)
	ingest := func() (*archive.Ingester, error) {
		if gw != nil {
			return gw.in, nil
		}
		mu.Lock()
		defer mu.Unlock()
		if own == nil {
			// Outlives the request that started it, like the gateway's.
			own = a.Ingest(context.Background(), archive.IngestOptions{
				BatchSize: m.Config.Archive.BatchSize, MaxDelay: m.Config.Archive.BatchDelay.D(),
			})
		}
		return own, nil
	}
	s := &importServer{log: log, ingest: ingest, maxSize: int64(m.Config.Limits.MaxMessageSize),
		calls: calls, stopped: loopDone}
	s.start(ln, path)
	m.Logger.Info("import socket listening", "path", path)
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err := s.stop(ctx)
		mu.Lock()
		defer mu.Unlock()
		if own != nil {
			err = errors.Join(err, own.Close())
			own = nil
		}
		return err
	}, nil
}

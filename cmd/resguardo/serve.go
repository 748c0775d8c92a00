package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/metrics"
	"github.com/resguardo/resguardo/internal/search"
	"github.com/resguardo/resguardo/internal/web"
)

func runServe(ctx context.Context, m *Main, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "", "HTTP address (default from config: 127.0.0.1:8025)")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	if *listen == "" {
		*listen = m.Config.Server.Listen
	}
	created, err := m.ensureInit()
	if err != nil {
		return err
	}
	a, err := m.openArchive(ctx, true, "serve")
	if err != nil {
		return err
	}
	defer a.Close()
	if !created {
		m.printLayout(a.Format, false)
	}

	verify, err := m.pinnedVerifier(a)
	if err != nil {
		return err
	}
	started := time.Now()
	tz, err := time.LoadLocation("America/Mexico_City")
	if err != nil {
		tz = time.UTC
	}
	mets := metrics.New()
	_ = mets.Register(metrics.NewGaugeFunc("resguardo_relay_queue_entries", "Outbound queue entries per state.", "state",
		func() map[string]float64 {
			out := map[string]float64{}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if counts, err := a.Cat.OutboundCounts(ctx); err == nil {
				for _, st := range queueStates {
					out[st] = float64(counts[st])
				}
			}
			return out
		}))
	// serve indexes as it archives: it holds the index for writing, and its
	// background merges keep the segments few.
	idx, err := search.OpenBleve(archive.Layout{Dir: a.Dir()}.Index())
	if err != nil {
		return err
	}
	if err := m.runIndexer(ctx, a, idx, false); err != nil {
		idx.Close()
		return err
	}
	defer idx.Close()
	if idx.NeedsReindex() {
		m.Logger.Warn("the search index predates Sender, Reply-To and envelope participants: restricted searches match From, To, Cc and Bcc only until `resguardo reindex`")
	}
	// The web application (package webapp) over the identity service; its
	// searches share serve's index.
	ids, err := m.identityService(a)
	if err != nil {
		return err
	}
	webTLS, err := m.webTLS(a, *listen)
	if err != nil {
		return err
	}
	app, err := m.newWebApp(a, idx, ids, tz, webTLS != nil)
	if err != nil {
		return err
	}
	h, err := web.New(web.Options{App: app,
		Logger: m.Logger, TZ: tz, LedgerDir: archive.Layout{Dir: a.Dir()}.Ledger(), Verify: verify, Metrics: mets.Handler(),
		Status: func(ctx context.Context) (web.Status, error) { return statusOf(ctx, a, started) },
		Health: func(ctx context.Context) error {
			_, err := a.Cat.Stats(ctx)
			return err
		},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("listen on %s: %w", *listen, err)}
	}
	if webTLS != nil {
		ln = tls.NewListener(ln, webTLS)
	}
	// The first administrator, when there is none: its password is printed
	// here once (never logged) and must be changed at the first login. Done
	// before the gateway starts, so that a stop asked for meanwhile is seen here.
	if login, pw, made, err := ids.EnsureFirstAdmin(ctx); err != nil {
		ln.Close()
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	} else if made {
		fmt.Fprintln(m.Stderr, m.P.T("serve.admin", login, pw, webURL(ln.Addr(), webTLS != nil)))
	}
	// The SMTP gateway ([gateway] listeners), sharing one ingester.
	gw, err := startGateway(m, a, mets)
	if err != nil {
		ln.Close()
		return err
	}
	var gwErrc <-chan error
	stopGateway := func() error {
		if gw == nil {
			return nil
		}
		fmt.Fprintln(m.Stderr, m.P.T("gateway.stopping"))
		sctx, cancel := context.WithTimeout(context.Background(), gw.shutdownTimeout())
		defer cancel()
		err := gw.stop(sctx)
		gw = nil
		return err
	}
	defer stopGateway()
	if gw != nil {
		gwErrc = gw.errc
	}
	// The import socket (<data>/serve.sock): `resguardo import` hands its
	// messages to this process, which archives them through the gateway's
	// ingester (or, without a gateway, one of its own) while it runs.
	calls := make(chan stampCall)
	loopDone := make(chan struct{})
	endLoop := sync.OnceFunc(func() { close(loopDone) })
	stopImport, err := m.startImportSocket(a, gw, calls, loopDone)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopImport()
	defer endLoop() // runs first: stamp calls still waiting give up
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	fmt.Fprintln(m.Stderr, m.P.T("serve.listening", webURL(ln.Addr(), webTLS != nil)))
	purgeTick := time.NewTicker(5 * time.Minute)
	defer purgeTick.Stop()
	m.Logger.Info("serving", "addr", ln.Addr().String(), "data", m.DataDir)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if err := m.stampLatest(ctx, a); err != nil {
		m.Logger.Warn("checkpoint not timestamped", "err", err)
	}
	var lastMessages int64 // messages the gateway had taken at the previous tick
	tick := time.NewTicker(m.Config.Evidence.Interval.D())
	defer tick.Stop()
	anchorTick := time.NewTicker(m.Config.Evidence.PSC.Interval.D())
	defer anchorTick.Stop()
	for {
		select {
		case err := <-errc:
			if !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		case err := <-gwErrc:
			return errors.Join(err, stopGateway())
		case <-tick.C:
			// Entries committed without their own append (other processes' access
			// entries, delivery entries) enter the Merkle log (the archive
			// serialises this with the gateway ingester's appends)...
			if err := a.CatchUp(ctx); err != nil {
				m.Logger.Warn("ledger catch-up", "err", err)
			}
			// ...then the newest checkpoint is timestamped (once per size), so
			// constancias wait at most one interval; then new records are indexed.
			if err := m.stampLatest(ctx, a); err != nil {
				m.Logger.Warn("checkpoint not timestamped", "err", err)
			}
			if m.indexNow(ctx, a, gw, &lastMessages) {
				if err := m.runIndexer(ctx, a, idx, false); err != nil {
					m.Logger.Warn("indexing", "err", err)
				}
			}
		case c := <-calls:
			// An import through the socket ends: timestamp now (constancias at
			// once, as after a lock-holding import) and index what it brought.
			var rep importStampReply
			if c.req.Stamp {
				if err := m.stampLatest(ctx, a); err != nil {
					m.Logger.Warn("checkpoint not timestamped", "err", err)
					rep.StampError = err.Error()
				}
			}
			if c.req.Index {
				if err := m.runIndexer(ctx, a, idx, false); err != nil {
					m.Logger.Warn("indexing", "err", err)
					rep.IndexError = err.Error()
				}
			}
			rep.LedgerSize = a.Log.Size()
			c.reply <- rep
		case <-purgeTick.C:
			if _, _, err := ids.PurgeExpired(ctx); err != nil {
				m.Logger.Warn("purging ended sessions", "err", err)
			}
		case <-anchorTick.C:
			if err := m.anchorLatest(ctx, a); err != nil {
				m.Logger.Warn("checkpoint not anchored with the PSC", "err", err)
			}
		case <-ctx.Done():
			fmt.Fprintln(m.Stderr, m.P.T("serve.stopping"))
			// Imports first (their batches finish on the ingester), then SMTP.
			endLoop()
			impErr := stopImport()
			// Then SMTP: no new connections, open sessions finish and get their
			// answer (250 only once durable), then the ingester is flushed.
			gwErr := stopGateway()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return errors.Join(impErr, gwErr, srv.Shutdown(sctx))
		}
	}
}

func statusOf(ctx context.Context, a *archive.Archive, started time.Time) (web.Status, error) {
	st, err := a.Cat.Stats(ctx)
	if err != nil {
		return web.Status{}, err
	}
	size, root := a.Log.Root()
	_, when := a.Log.Checkpoint()
	return web.Status{
		Version: version, DataDir: a.Dir(), Origin: a.Format.Origin,
		Records: st.Records, Bytes: st.Bytes, Malformed: st.Malformed,
		LedgerSize: size, LedgerRoot: base64.StdEncoding.EncodeToString(root[:]), CheckpointAt: when,
		PublicKey: a.Keys.LedgerPublicKey(), Started: started,
	}, nil
}

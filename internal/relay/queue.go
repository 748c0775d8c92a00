package relay

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/catalog"
)

// Run delivers the queue until ctx ends; then it waits for the deliveries in
// progress (each bounded by its timeouts) and returns. Entries interrupted by a
// crash are simply due again: delivery is at least once.
func (r *Relay) Run(ctx context.Context) error {
	if r.a == nil {
		return errors.New("relay: no archive")
	}
	var wg sync.WaitGroup
	logq := make(chan *logReq, 1024)
	logDone := make(chan struct{})
	r.logq = logq
	go func() { r.logLoop(logq); close(logDone) }()
	defer func() {
		wg.Wait()
		close(logq)
		<-logDone
		r.conns.closeAll()
	}()
	for {
		last := time.Now()
		r.dispatch(ctx, &wg)
		wait := r.c.Poll
		if at, ok, err := r.a.Cat.NextOutbound(ctx); err == nil && ok {
			if d := time.Until(at); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-r.wake:
			// Under load every accepted message wakes the loop: read the queue
			// at most every dispatchGap, each read taking all that arrived.
			if d := dispatchGap - time.Since(last); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		case <-t.C:
		}
		t.Stop()
	}
}

// dispatchGap is the shortest time between two reads of the queue.
const dispatchGap = 10 * time.Millisecond

// group is the entries one SMTP transaction carries: same record, sender, route,
// destination and prefix.
type group struct {
	key     string
	entries []catalog.Outbound
}

func groupKey(o catalog.Outbound) string {
	dest := ""
	if o.Route == RouteMX {
		dest = o.Domain
	}
	sum := sha256.Sum256(o.Prefix)
	return fmt.Sprintf("%d\x00%s\x00%s\x00%s\x00%x", o.RecordSeq, o.MailFrom, o.Route, dest, sum[:8])
}

// dispatch starts a delivery for every due group not already in progress, up to
// Workers at once.
//
// An entry whose attempt ended while the queue was being read may appear due
// in that (older) read although its result is now recorded: entries released
// after the read began are skipped, so a message is not sent twice.
func (r *Relay) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	r.mu.Lock()
	readGen := r.gen
	r.mu.Unlock()
	due, err := r.a.Cat.DueOutbound(ctx, r.c.Now(), 2000)
	if err != nil {
		if ctx.Err() == nil {
			r.c.Logger.Warn("relay: reading the queue", "err", err)
		}
		return
	}
	groups := map[string]*group{}
	var order []*group
	r.mu.Lock()
	for id, gen := range r.released {
		if gen <= readGen {
			delete(r.released, id) // released before this read: the read saw its result
		}
	}
	for _, o := range due {
		if r.inflight[o.ID] || r.released[o.ID] > readGen {
			continue
		}
		k := groupKey(o)
		g := groups[k]
		if g == nil {
			g = &group{key: k}
			groups[k] = g
			order = append(order, g)
		}
		g.entries = append(g.entries, o)
	}
	for _, g := range order {
		for _, o := range g.entries {
			r.inflight[o.ID] = true
		}
	}
	r.mu.Unlock()
	for i, g := range order {
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			r.release(order[i:])
			return
		}
		wg.Go(func() {
			defer func() { <-r.sem; r.release([]*group{g}) }()
			r.deliverGroup(context.WithoutCancel(ctx), g.entries)
		})
	}
}

func (r *Relay) release(gs []*group) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	for _, g := range gs {
		for _, o := range g.entries {
			delete(r.inflight, o.ID)
			r.released[o.ID] = r.gen
		}
	}
}

// outcome of one transaction, per recipient.
type outcome struct {
	delivered []catalog.Outbound // accepted by the remote server with the data
	deferred  []catalog.Outbound
	failed    []catalog.Outbound
	reason    map[int64]string // per entry: the reply or error
	proof     *archive.DeliveryDetail
}

// deliverGroup makes one delivery attempt for entries and records the result.
func (r *Relay) deliverGroup(ctx context.Context, entries []catalog.Outbound) {
	first := entries[0]
	log := r.c.Logger.With("record", first.SHA256[:16], "route", first.Route, "domain", first.Domain, "rcpts", len(entries))
	data, err := r.messageBytes(ctx, first)
	var out outcome
	if err != nil {
		// The archive could not give the bytes: a problem here, never the
		// recipient's. Try later.
		log.Error("relay: reading the archived message", "err", err)
		out = outcome{deferred: entries, reason: reasonAll(entries, "4.3.0 archive read error: "+err.Error())}
	} else {
		copyData := append(append([]byte{}, first.Prefix...), data...)
		if hops(copyData) > maxHops {
			out = outcome{failed: entries, reason: reasonAll(entries, "5.4.6 routing loop detected: too many Received fields")}
		} else {
			out = r.attempt(ctx, entries, copyData)
			if out.proof != nil {
				out.proof.SHA256 = first.SHA256
				out.proof.MessageID = messageID(data)
			}
		}
	}
	r.record(ctx, log, entries, out)
}

// messageBytes is the archived message of a queue entry: from the hot cache
// when intake just handed it over, else read back from the archive.
func (r *Relay) messageBytes(ctx context.Context, o catalog.Outbound) ([]byte, error) {
	if data := r.hot.get(o.SHA256); data != nil {
		return data, nil
	}
	recs, err := r.a.Cat.RecordsBySeq(ctx, []int64{o.RecordSeq})
	if err != nil {
		return nil, err
	}
	if len(recs) != 1 {
		return nil, fmt.Errorf("record %d not found", o.RecordSeq)
	}
	return r.a.Bytes(ctx, recs[0])
}

func reasonAll(entries []catalog.Outbound, reason string) map[int64]string {
	m := map[int64]string{}
	for _, o := range entries {
		m[o.ID] = reason
	}
	return m
}

// record writes an attempt's results: the delivery entry, deferrals with their
// next time (or a failure when the message has waited MaxAge) and, once they
// have waited DelayWarning, a delayed-delivery DSN to the sender; failures with
// a DSN to the sender.
func (r *Relay) record(ctx context.Context, log *slog.Logger, entries []catalog.Outbound, out outcome) {
	now := r.c.Now().UTC()
	if r.c.Observe != nil {
		route := entries[0].Route
		r.c.Observe(route, "delivered", len(out.delivered))
		r.c.Observe(route, "deferred", len(out.deferred))
		r.c.Observe(route, "failed", len(out.failed))
	}
	if len(out.delivered) > 0 && out.proof != nil {
		ids := idsOf(out.delivered)
		idx, err := r.logDelivery(archive.DeliveryLog{Seq: out.delivered[0].RecordSeq, Detail: *out.proof, IDs: ids})
		if err != nil {
			// The server has the message but the proof is not written: the
			// entries stay due and the message will be sent again (at least
			// once). Log it loudly.
			log.Error("relay: delivered but not recorded; it will be sent again", "err", err)
		} else {
			log.Info("relay: delivered", "host", out.proof.RemoteHost, "ip", out.proof.RemoteIP, "reply", out.proof.Reply,
				"ledger_index", idx, "accepted", len(ids))
		}
	}
	var expired []catalog.Outbound
	var deferred []catalog.Outbound
	for _, o := range out.deferred {
		if now.Sub(o.CreatedAt) >= r.c.MaxAge {
			expired = append(expired, o)
			out.reason[o.ID] = "4.4.7 delivery time expired; last error: " + out.reason[o.ID]
		} else {
			deferred = append(deferred, o)
		}
	}
	// Deferrals: entries of one attempt share the attempt count of the first.
	byReason := map[string][]int64{}
	for _, o := range deferred {
		byReason[out.reason[o.ID]] = append(byReason[out.reason[o.ID]], o.ID)
	}
	if len(deferred) > 0 {
		next := now.Add(r.backoff(deferred[0].Attempts + 1))
		for reason, ids := range byReason {
			if err := r.a.Cat.DeferOutbound(ctx, ids, now, next, reason); err != nil {
				log.Error("relay: recording a deferral", "err", err)
			}
		}
		log.Warn("relay: deferred", "next", next.Format(time.RFC3339), "attempt", deferred[0].Attempts+1, "error", out.reason[deferred[0].ID])
		r.warn(ctx, log, deferred, out.reason, now)
	}
	failed := append(out.failed, expired...)
	if len(failed) > 0 {
		r.fail(ctx, log, failed, out.reason)
	}
}

func idsOf(os []catalog.Outbound) []int64 {
	ids := make([]int64, len(os))
	for i, o := range os {
		ids[i] = o.ID
	}
	return ids
}

// backoff is the wait before attempt n+1: RetryBase doubled per attempt, at most
// RetryMax, with up to 10 % jitter so that a queue does not retry in lockstep.
func (r *Relay) backoff(attempts int) time.Duration {
	d := r.c.RetryBase
	for i := 1; i < attempts && d < r.c.RetryMax; i++ {
		d *= 2
	}
	d = min(d, r.c.RetryMax)
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// fail marks entries failed after sending their sender one DSN (none for the
// null sender: a DSN is never answered with a DSN).
func (r *Relay) fail(ctx context.Context, log *slog.Logger, failed []catalog.Outbound, reason map[int64]string) {
	now := r.c.Now().UTC()
	// One DSN per sender of this record (they share the record, so normally one).
	bySender := map[string][]catalog.Outbound{}
	for _, o := range failed {
		bySender[o.MailFrom] = append(bySender[o.MailFrom], o)
	}
	senders := make([]string, 0, len(bySender))
	for s := range bySender {
		senders = append(senders, s)
	}
	sort.Strings(senders)
	for _, sender := range senders {
		os := bySender[sender]
		dsnSHA := ""
		if sender != "" && r.in != nil {
			sha, err := r.sendDSN(ctx, actionFailed, os, reason)
			if err != nil {
				// Not failed yet: the entries are retried and the DSN with them.
				log.Error("relay: the DSN could not be archived; entries stay queued", "err", err)
				_ = r.a.Cat.DeferOutbound(ctx, idsOf(os), now, now.Add(r.c.RetryBase), reason[os[0].ID])
				continue
			}
			dsnSHA = sha
		}
		byReason := map[string][]int64{}
		for _, o := range os {
			byReason[reason[o.ID]] = append(byReason[reason[o.ID]], o.ID)
		}
		for rs, ids := range byReason {
			if err := r.a.Cat.FailOutbound(ctx, ids, now, rs, dsnSHA); err != nil {
				log.Error("relay: recording a failure", "err", err)
			}
		}
		log.Warn("relay: failed", "sender", sender, "rcpts", len(os), "reason", reason[os[0].ID], "dsn", dsnSHA)
	}
}

// warn sends the delayed-delivery DSN (one per sender) for the deferred
// entries that have waited DelayWarning and were not warned yet, then marks
// them warned with the DSN's SHA-256. None goes to the null sender. The
// deferral is already recorded: a warning that cannot be archived is logged
// and tried again after the next attempt.
func (r *Relay) warn(ctx context.Context, log *slog.Logger, deferred []catalog.Outbound, reason map[int64]string, now time.Time) {
	if r.c.DelayWarning <= 0 || r.in == nil {
		return
	}
	bySender := map[string][]catalog.Outbound{}
	var senders []string
	for _, o := range deferred {
		if o.MailFrom == "" || !o.WarnedAt.IsZero() || now.Sub(o.CreatedAt) < r.c.DelayWarning {
			continue
		}
		if bySender[o.MailFrom] == nil {
			senders = append(senders, o.MailFrom)
		}
		o.LastAttempt = now // this attempt's, for Last-Attempt-Date
		bySender[o.MailFrom] = append(bySender[o.MailFrom], o)
	}
	sort.Strings(senders)
	for _, sender := range senders {
		os := bySender[sender]
		sha, err := r.sendDSN(ctx, actionDelayed, os, reason)
		if err != nil {
			log.Error("relay: the delay warning could not be archived; it is tried again after the next attempt", "err", err)
			continue
		}
		if _, err := r.a.Cat.WarnOutbound(ctx, idsOf(os), now, sha); err != nil {
			// The sender may get the warning twice (at least once, like DSNs).
			log.Error("relay: recording a delay warning", "err", err, "dsn", sha)
			continue
		}
		log.Info("relay: delay warning sent", "sender", sender, "rcpts", len(os), "dsn", sha)
	}
}

// sendDSN archives the DSN (action: actionFailed or actionDelayed) for
// entries of one sender (channel "dsn") with its own queue entry to the
// sender, and waits until it is durable.
func (r *Relay) sendDSN(ctx context.Context, action string, entries []catalog.Outbound, reason map[int64]string) (string, error) {
	data, err := r.messageBytes(ctx, entries[0])
	if err != nil {
		return "", err
	}
	now := r.c.Now().UTC()
	dsn, env := r.buildDSN(action, entries, reason, data, now)
	out, err := r.Plan(env, dsn)
	if err != nil {
		return "", err
	}
	done := make(chan archive.Result, 1)
	envJSON := dsnEnvelopeJSON(env)
	if err := r.in.Add(ctx, &archive.Item{Data: dsn, Channel: ChannelDSN, Source: "relay:dsn", Envelope: envJSON,
		ReceivedAt: now, Done: done, Outbound: out}); err != nil {
		return "", err
	}
	select {
	case res := <-done:
		if res.Status != archive.Archived && res.Status != archive.Duplicate {
			if res.Err == nil {
				res.Err = errors.New("not archived")
			}
			return "", res.Err
		}
		r.Accepted(res.SHA256, dsn)
		return res.SHA256, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// replyText renders an error as the server's reply ("550 5.1.1 No such user")
// when it is one, else as text.
func replyText(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		prefix := ""
		if s := err.Error(); !strings.HasPrefix(s, "SMTP error") {
			if i := strings.Index(s, "SMTP error"); i > 0 {
				prefix = s[:i]
			}
		}
		r := fmt.Sprintf("%s%d", prefix, se.Code)
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			r += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		return r + " " + oneLine(se.Message)
	}
	return oneLine(strings.TrimPrefix(err.Error(), "smtp: "))
}

// logReq is a delivery waiting for the group commit of delivery entries.
type logReq struct {
	l    archive.DeliveryLog
	done chan logRes
}

type logRes struct {
	idx int64
	err error
}

// logDelivery records a delivery through the group commit (one catalog
// transaction and one ledger append for all the deliveries that finished while
// the previous commit ran) and waits for it.
func (r *Relay) logDelivery(l archive.DeliveryLog) (int64, error) {
	q := &logReq{l: l, done: make(chan logRes, 1)}
	r.logq <- q
	res := <-q.done
	return res.idx, res.err
}

func (r *Relay) logLoop(in <-chan *logReq) {
	for first := range in {
		batch := []*logReq{first}
	drain:
		for len(batch) < 512 {
			select {
			case q, ok := <-in:
				if !ok {
					break drain
				}
				batch = append(batch, q)
			default:
				break drain
			}
		}
		ls := make([]archive.DeliveryLog, len(batch))
		for i, q := range batch {
			ls[i] = q.l
		}
		idxs, _, err := r.a.LogDeliveries(context.Background(), ls)
		for i, q := range batch {
			if err != nil {
				q.done <- logRes{err: err}
			} else {
				q.done <- logRes{idx: idxs[i]}
			}
		}
	}
}

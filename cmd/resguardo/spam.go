package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/resguardo/resguardo/internal/archive"
	"github.com/resguardo/resguardo/internal/intake"
	"github.com/resguardo/resguardo/internal/mailbox"
	"github.com/resguardo/resguardo/internal/metrics"
	"github.com/resguardo/resguardo/internal/spam"
)

// spamModelPath is the built-in classifier's model file.
func (m *Main) spamModelPath() string {
	if p := m.Config.Gateway.Antispam.Model; p != "" {
		return p
	}
	return filepath.Join(m.DataDir, "spam", "bayes.model")
}

// loadSpamModel reads the model, or returns an empty one when there is none yet.
func (m *Main) loadSpamModel() (*spam.Bayes, error) {
	b, err := spam.LoadBayes(m.spamModelPath(), spam.BayesOptions{})
	if errors.Is(err, fs.ErrNotExist) {
		return spam.NewBayes(spam.BayesOptions{}), nil
	}
	return b, err
}

// spamCheck builds the antispam check of the configuration and, for the
// built-in classifier, a loop that reloads its model when `spam train` or
// quarantine feedback rewrote it.
func (m *Main) spamCheck(mets *metrics.Metrics) (intake.SpamCheck, func(context.Context), error) {
	c := m.Config.Gateway.Antispam
	sc := intake.SpamCheck{Timeout: c.Timeout.D(), Observe: mets.Spam}
	var reload func(context.Context)
	if c.BuiltinOn() {
		b, err := m.loadSpamModel()
		if err != nil {
			return sc, nil, fmt.Errorf("gateway.antispam: %w", err)
		}
		sc.Engines = append(sc.Engines, intake.SpamEngine{Name: "bayes", Classifier: b, Tag: c.Tag, Quarantine: c.Quarantine, Reject: c.Reject})
		path := m.spamModelPath()
		reload = func(ctx context.Context) {
			last := modTime(path)
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if mt := modTime(path); !mt.Equal(last) {
					if err := b.Load(path); err != nil {
						m.Logger.Warn("spam model not reloaded", "err", err)
						continue
					}
					last = mt
					ham, sp := b.Counts()
					m.Logger.Info("spam model reloaded", "ham", ham, "spam", sp)
				}
			}
		}
	}
	for _, e := range c.Engines {
		var cl spam.Classifier
		switch e.Type {
		case "rspamd":
			cl = &spam.Rspamd{URL: e.Address}
		default:
			cl = &spam.Spamd{Addr: e.Address}
		}
		sc.Engines = append(sc.Engines, intake.SpamEngine{Name: e.Name, Classifier: cl, Tag: e.Tag, Quarantine: e.Quarantine, Reject: e.Reject})
	}
	return sc, reload, nil
}

func modTime(path string) time.Time {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

const spamUsage = "usage: resguardo spam train --ham DIR --spam DIR | spam status [--json]"

// runSpam trains and inspects the built-in classifier.
func runSpam(ctx context.Context, m *Main, args []string) error {
	sub, rest := subcommand(args)
	switch sub {
	case "train":
		return runSpamTrain(ctx, m, rest)
	case "status":
		return runSpamStatus(m, rest)
	}
	return &exitError{code: 2, err: errors.New(spamUsage)}
}

// spamStatus is `resguardo spam status --json`.
type spamStatus struct {
	Model   string `json:"model"`
	Ham     int    `json:"ham"`
	Spam    int    `json:"spam"`
	Tokens  int    `json:"tokens"`
	Trained bool   `json:"trained"` // enough of each to ever say spam
}

func (m *Main) spamStatusOf(b *spam.Bayes) spamStatus {
	ham, sp := b.Counts()
	o := b.Options()
	return spamStatus{Model: m.spamModelPath(), Ham: ham, Spam: sp, Tokens: b.Len(), Trained: ham >= o.MinHam && sp >= o.MinSpam}
}

func runSpamStatus(m *Main, args []string) error {
	fs := flag.NewFlagSet("spam status", flag.ContinueOnError)
	jsonOut := fs.Bool("json", false, "print as JSON")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	b, err := m.loadSpamModel()
	if err != nil {
		return err
	}
	st := m.spamStatusOf(b)
	if *jsonOut {
		return writeJSON(m, st)
	}
	fmt.Fprintln(m.Stdout, m.P.T("spam.status", st.Model, st.Ham, st.Spam, st.Tokens))
	if !st.Trained {
		fmt.Fprintln(m.Stdout, m.P.T("spam.untrained", b.Options().MinHam, b.Options().MinSpam))
	}
	return nil
}

// runSpamTrain trains the built-in classifier on every message under --ham and
// --spam (files, maildirs, mbox, as import reads them) and saves the model atomically; a running
// serve reloads it within seconds.
func runSpamTrain(ctx context.Context, m *Main, args []string) error {
	fl := flag.NewFlagSet("spam train", flag.ContinueOnError)
	hamDir := fl.String("ham", "", "legitimate messages: a directory (searched recursively), maildir or mbox")
	spamDir := fl.String("spam", "", "spam: a directory, maildir or mbox")
	jsonOut := fl.Bool("json", false, "print the model's status as JSON")
	if _, err := m.parse(fl, args); err != nil {
		return err
	}
	if *hamDir == "" && *spamDir == "" {
		return &exitError{code: 2, err: errors.New(spamUsage)}
	}
	b, err := m.loadSpamModel()
	if err != nil {
		return err
	}
	for _, d := range []struct {
		dir    string
		isSpam bool
	}{{*hamDir, false}, {*spamDir, true}} {
		if d.dir == "" {
			continue
		}
		// The same reader as import: files, directories, maildirs and mbox.
		n := 0
		err := mailbox.Scan(ctx, []string{d.dir}, mailbox.Options{}, func(it mailbox.Item) error {
			if it.Err != nil {
				fmt.Fprintf(m.Stderr, "spam train: %v\n", it.Err)
				return nil
			}
			b.Train(it.Data, d.isSpam)
			n++
			return nil
		})
		if err != nil {
			return &exitError{code: 1, err: fmt.Errorf("spam train: %w", err)}
		}
		if n == 0 {
			return &exitError{code: 1, err: fmt.Errorf("spam train: no files under %s", d.dir)}
		}
	}
	if err := os.MkdirAll(filepath.Dir(m.spamModelPath()), 0o700); err != nil {
		return err
	}
	if err := b.Save(m.spamModelPath()); err != nil {
		return err
	}
	st := m.spamStatusOf(b)
	if *jsonOut {
		return writeJSON(m, st)
	}
	fmt.Fprintln(m.Stdout, m.P.T("spam.status", st.Model, st.Ham, st.Spam, st.Tokens))
	return nil
}

// runQuarantineFeedback is "es spam / no es spam" on a quarantined (or any
// gateway) record: the built-in classifier learns it with the same hints the
// gateway scores with, and the access is logged (the message was read).
func runQuarantineFeedback(ctx context.Context, m *Main, verdict string, args []string) error {
	fs := flag.NewFlagSet("quarantine "+verdict, flag.ContinueOnError)
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &exitError{code: 2, err: fmt.Errorf("usage: resguardo quarantine %s ID", verdict)}
	}
	a, err := m.openArchive(ctx, false, "")
	if err != nil {
		return err
	}
	defer a.Close()
	r, err := a.Cat.Lookup(ctx, pos[0])
	if err != nil {
		return lookupError(err)
	}
	data, err := a.Bytes(ctx, r)
	if err != nil {
		return err
	}
	var hints spam.Hints
	if e := gatewayEnvelope(ctx, a, r.Seq); e != nil {
		hints = intake.SpamHints(e)
	}
	b, err := m.loadSpamModel()
	if err != nil {
		return err
	}
	b.TrainHints(data, hints, verdict == "spam")
	if err := os.MkdirAll(filepath.Dir(m.spamModelPath()), 0o700); err != nil {
		return err
	}
	if err := b.Save(m.spamModelPath()); err != nil {
		return err
	}
	if _, err := a.LogAccess(ctx, archive.AccessDetail{Actor: actor(), Action: "spam_feedback_" + verdict, Results: 1,
		Records: []string{r.SHA256}}); err != nil {
		return err
	}
	st := m.spamStatusOf(b)
	fmt.Fprintln(m.Stdout, m.P.T("spam.learned."+verdict, r.SHA256[:16], st.Ham, st.Spam))
	return nil
}

// gatewayEnvelope is the reception envelope of the record's latest gateway
// arrival (nil when it only came by import).
func gatewayEnvelope(ctx context.Context, a *archive.Archive, seq int64) *intake.Envelope {
	recps, err := a.Cat.Receptions(ctx, seq)
	if err != nil {
		return nil
	}
	var env *intake.Envelope
	for _, rc := range recps {
		var e intake.Envelope
		if json.Unmarshal([]byte(rc.Envelope), &e) == nil && e.Format == intake.EnvelopeFormat {
			env = &e
		}
	}
	return env
}

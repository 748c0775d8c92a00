package spam

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Rspamd is a client of rspamd's scanner worker (HTTP POST /checkv2). The
// envelope from Hints goes in the request headers (From, Rcpt, IP, Helo,
// Hostname, User); the JSON reply gives score, required_score, action and
// symbols. The message is spam when rspamd's action is "reject",
// "add header" or "rewrite subject" ("greylist" and "soft reject" are not
// spam verdicts); Result.Threshold is required_score (the reject score).
type Rspamd struct {
	URL        string        // base URL of the normal worker, e.g. "http://127.0.0.1:11333"
	Password   string        // optional Password header (only needed for the controller)
	Settings   string        // optional Settings header: a settings object in UCL/JSON
	SettingsID string        // optional Settings-ID header: a named settings block
	Timeout    time.Duration // per call when ctx has no earlier deadline (default 30 s)
	Client     *http.Client  // default http.DefaultClient
}

const rspamdEngine = "rspamd"

// rspamdReply is the part of the /checkv2 reply that is used.
type rspamdReply struct {
	Score         *float64                `json:"score"`
	RequiredScore *float64                `json:"required_score"`
	Action        *string                 `json:"action"`
	Symbols       map[string]rspamdSymbol `json:"symbols"`
}

type rspamdSymbol struct {
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

// Score implements Classifier. Connection failures, timeouts, a status other
// than 200 and a reply without score, required_score and action are errors.
func (c *Rspamd) Score(ctx context.Context, msg []byte, hints Hints) (Result, error) {
	start := time.Now()
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimRight(c.URL, "/")+"/checkv2", bytes.NewReader(msg))
	if err != nil {
		return Result{}, fmt.Errorf("rspamd: %w", err)
	}
	req.ContentLength = int64(len(msg))
	set := func(name, value string) {
		if value != "" && !strings.ContainsAny(value, "\r\n") {
			req.Header.Add(name, value)
		}
	}
	env := hints.Envelope
	if env.MailFrom != "" {
		set("From", env.MailFrom)
	}
	for _, r := range env.Rcpt {
		set("Rcpt", r)
	}
	set("IP", env.IP)
	set("Helo", env.Helo)
	set("Hostname", env.Hostname)
	set("User", env.User)
	set("Password", c.Password)
	set("Settings", c.Settings)
	set("Settings-ID", c.SettingsID)

	hc := c.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("rspamd: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return Result{}, fmt.Errorf("rspamd: reading reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Result{}, fmt.Errorf("%w: rspamd status %s: %s", ErrProtocol, resp.Status, clip(string(body)))
	}
	res, err := parseRspamdReply(body)
	if err != nil {
		return Result{}, err
	}
	res.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return res, nil
}

func parseRspamdReply(body []byte) (Result, error) {
	var rep rspamdReply
	if err := json.Unmarshal(body, &rep); err != nil {
		return Result{}, fmt.Errorf("%w: rspamd JSON: %v", ErrProtocol, err)
	}
	if rep.Score == nil || rep.RequiredScore == nil || rep.Action == nil {
		return Result{}, fmt.Errorf("%w: rspamd reply without score, required_score or action: %s", ErrProtocol, clip(string(body)))
	}
	res := Result{Engine: rspamdEngine, Score: *rep.Score, Threshold: *rep.RequiredScore}
	switch *rep.Action {
	case "reject", "add header", "rewrite subject":
		res.Spam = true
	}
	// Symbols with a score, highest first; symbols of score zero only when
	// nothing scored (GTUBE and other pre-results carry score 0).
	var syms, zero []rspamdSymbol
	for name, s := range rep.Symbols {
		if s.Name == "" {
			s.Name = name
		}
		if s.Score != 0 {
			syms = append(syms, s)
		} else {
			zero = append(zero, s)
		}
	}
	if len(syms) == 0 {
		syms = zero
	}
	sort.Slice(syms, func(i, j int) bool {
		if syms[i].Score != syms[j].Score {
			return syms[i].Score > syms[j].Score
		}
		return syms[i].Name < syms[j].Name
	})
	for i, s := range syms {
		if i == 12 {
			break
		}
		res.Symbols = append(res.Symbols, s.Name)
	}
	return res, nil
}

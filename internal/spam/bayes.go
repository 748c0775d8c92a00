package spam

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/resguardo/resguardo/internal/fsutil"
)

// BayesOptions tune the built-in classifier. Zero fields take the defaults
// listed; the defaults are what docs/QUALITY.md measured.
type BayesOptions struct {
	// Threshold is the spam probability (Result.Score) from which a message
	// is spam. Default 0.995: high, because a false positive costs far more
	// than a missed spam.
	Threshold float64
	// MinHam and MinSpam are the trained message counts below which the
	// classifier never says spam (default 200 each, as SpamAssassin's Bayes).
	MinHam, MinSpam int
	// MinClues is the number of significant tokens a message must have
	// before it can be called spam (default 5).
	MinClues int
	// MaxClues is how many of the most significant tokens are combined
	// (default 150).
	MaxClues int
	// MinDeviation: tokens whose probability is closer than this to 0.5 are
	// ignored (default 0.1).
	MinDeviation float64
	// Strength and Prior are Robinson's s and x for tokens seen rarely
	// (defaults 0.45 and 0.5).
	Strength, Prior float64
}

func (o BayesOptions) withDefaults() BayesOptions {
	if o.Threshold <= 0 || o.Threshold > 1 {
		o.Threshold = 0.995
	}
	if o.MinHam <= 0 {
		o.MinHam = 200
	}
	if o.MinSpam <= 0 {
		o.MinSpam = 200
	}
	if o.MinClues <= 0 {
		o.MinClues = 5
	}
	if o.MaxClues <= 0 {
		o.MaxClues = 150
	}
	if o.MinDeviation <= 0 {
		o.MinDeviation = 0.1
	}
	if o.Strength <= 0 {
		o.Strength = 0.45
	}
	if o.Prior <= 0 || o.Prior >= 1 {
		o.Prior = 0.5
	}
	return o
}

// counts is how many ham and spam messages held a token.
type counts struct {
	ham, spam uint32
}

// Bayes is the built-in classifier: a token-based naive Bayes filter in the
// style of Paul Graham's "A Plan for Spam" with Gary Robinson's refinements
// (per-token probability adjusted for rarely seen tokens, and Fisher's
// chi-square method to combine them, as SpamBayes does). Tokens come from
// Tokenize. Train and Untrain update the counts; Score reads them. All
// methods are safe for concurrent use.
//
// Score returns, as Result.Score, the combined indicator I = (1 + S - H) / 2
// in 0..1, where S and H are the chi-square confidences that the message's
// tokens are spammy and hammy: near 1 is spam, near 0 ham, near 0.5 unsure.
// The message is spam when the model has seen at least MinHam ham and MinSpam
// spam messages, the message has at least MinClues significant tokens, and I
// is at least Threshold.
type Bayes struct {
	opts BayesOptions

	mu     sync.RWMutex
	nham   uint32
	nspam  uint32
	tokens map[string]counts
}

// NewBayes returns an empty model with the given options.
func NewBayes(opts BayesOptions) *Bayes {
	return &Bayes{opts: opts.withDefaults(), tokens: make(map[string]counts)}
}

// Options returns the options in force (defaults filled in).
func (b *Bayes) Options() BayesOptions { return b.opts }

// Counts returns the number of ham and spam messages trained.
func (b *Bayes) Counts() (ham, spam int) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return int(b.nham), int(b.nspam)
}

// Len returns the number of distinct tokens in the model.
func (b *Bayes) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.tokens)
}

// Train adds msg to the model as spam or ham.
func (b *Bayes) Train(msg []byte, isSpam bool) { b.TrainHints(msg, Hints{}, isSpam) }

// TrainHints is Train with the gateway's results, which become tokens too.
func (b *Bayes) TrainHints(msg []byte, hints Hints, isSpam bool) {
	b.TrainTokens(Tokenize(msg, hints), isSpam)
}

// Untrain removes msg, trained before with the same label, from the model
// (for example before training it again with the other label). Counts never
// go below zero.
func (b *Bayes) Untrain(msg []byte, isSpam bool) { b.UntrainHints(msg, Hints{}, isSpam) }

// UntrainHints is Untrain for a message trained with TrainHints.
func (b *Bayes) UntrainHints(msg []byte, hints Hints, isSpam bool) {
	b.UntrainTokens(Tokenize(msg, hints), isSpam)
}

// TrainTokens adds one message given as its distinct tokens (see Tokenize).
func (b *Bayes) TrainTokens(tokens []string, isSpam bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if isSpam {
		b.nspam++
	} else {
		b.nham++
	}
	for _, tok := range tokens {
		c := b.tokens[tok]
		if isSpam {
			c.spam++
		} else {
			c.ham++
		}
		b.tokens[tok] = c
	}
}

// UntrainTokens removes one message given as its distinct tokens.
func (b *Bayes) UntrainTokens(tokens []string, isSpam bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if isSpam {
		if b.nspam > 0 {
			b.nspam--
		}
	} else if b.nham > 0 {
		b.nham--
	}
	for _, tok := range tokens {
		c, ok := b.tokens[tok]
		if !ok {
			continue
		}
		if isSpam && c.spam > 0 {
			c.spam--
		} else if !isSpam && c.ham > 0 {
			c.ham--
		}
		if c.ham == 0 && c.spam == 0 {
			delete(b.tokens, tok)
		} else {
			b.tokens[tok] = c
		}
	}
}

// clue is one token with its adjusted spam probability.
type clue struct {
	tok string
	p   float64
}

// Score implements Classifier. It returns an error only when ctx is done.
func (b *Bayes) Score(ctx context.Context, msg []byte, hints Hints) (Result, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	r := b.ScoreTokens(Tokenize(msg, hints))
	r.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return r, nil
}

// ScoreTokens scores a message given as its distinct tokens (see Tokenize).
// TookMS is left zero.
func (b *Bayes) ScoreTokens(tokens []string) Result {
	r, _, _ := b.scoreTokens(tokens)
	return r
}

// scoreTokens is ScoreTokens that also returns the number of clues and
// whether the model is trained enough (for threshold sweeps).
func (b *Bayes) scoreTokens(tokens []string) (Result, int, bool) {
	o := b.opts
	res := Result{Engine: "bayes", Threshold: o.Threshold, Score: 0.5}
	clues := make([]clue, 0, 64)

	b.mu.RLock()
	nham, nspam := float64(b.nham), float64(b.nspam)
	trained := int(b.nham) >= o.MinHam && int(b.nspam) >= o.MinSpam
	if nham > 0 && nspam > 0 {
		for _, tok := range tokens {
			c, ok := b.tokens[tok]
			if !ok {
				continue
			}
			hr := float64(c.ham) / nham
			sr := float64(c.spam) / nspam
			p := sr / (hr + sr)
			n := float64(c.ham) + float64(c.spam)
			f := (o.Strength*o.Prior + n*p) / (o.Strength + n)
			if math.Abs(f-0.5) >= o.MinDeviation {
				clues = append(clues, clue{tok, f})
			}
		}
	}
	b.mu.RUnlock()

	// The most significant clues; ties broken by token for determinism.
	sort.Slice(clues, func(i, j int) bool {
		di, dj := math.Abs(clues[i].p-0.5), math.Abs(clues[j].p-0.5)
		if di != dj {
			return di > dj
		}
		return clues[i].tok < clues[j].tok
	})
	if len(clues) > o.MaxClues {
		clues = clues[:o.MaxClues]
	}
	if len(clues) > 0 {
		res.Score = chiCombine(clues)
	}
	res.Spam = trained && len(clues) >= o.MinClues && res.Score >= o.Threshold

	// Symbols: the strongest clues pointing the way of the verdict.
	wantSpam := res.Score >= 0.5
	for _, c := range clues {
		if len(res.Symbols) == 8 {
			break
		}
		if (c.p > 0.5) == wantSpam {
			res.Symbols = append(res.Symbols, c.tok+"="+strconv.FormatFloat(c.p, 'f', 3, 64))
		}
	}
	if !trained {
		res.Symbols = append(res.Symbols, "BAYES_UNTRAINED")
	}
	return res, len(clues), trained
}

// chiCombine is Robinson/Fisher combining: I = (1 + S - H) / 2 with
// S = 1 - Q(-2 Σ ln(1-p)) and H = 1 - Q(-2 Σ ln p), Q the chi-square
// survival function with 2n degrees of freedom.
func chiCombine(clues []clue) float64 {
	var sumLnP, sumLn1P float64
	for _, c := range clues {
		p := math.Min(math.Max(c.p, 1e-9), 1-1e-9)
		sumLnP += math.Log(p)
		sumLn1P += math.Log(1 - p)
	}
	n := len(clues)
	s := 1 - chi2Q(-2*sumLn1P, 2*n)
	h := 1 - chi2Q(-2*sumLnP, 2*n)
	return (1 + s - h) / 2
}

// chi2Q is the probability that a chi-square variable with v (even) degrees
// of freedom is at least x2.
func chi2Q(x2 float64, v int) float64 {
	m := x2 / 2
	term := math.Exp(-m)
	sum := term
	for i := 1; i < v/2; i++ {
		term *= m / float64(i)
		sum += term
	}
	return math.Min(sum, 1)
}

// The model file: the line "resguardo-bayes/1\n", then a zstd stream of
// uvarints: ham messages, spam messages, token count, and per token (sorted
// by token) its length, its bytes, ham count, spam count.
const (
	bayesMagic     = "resguardo-bayes/"
	bayesVersion   = 1
	maxTokenBytes  = 1024
	maxModelTokens = 50_000_000
)

// ErrModelFormat reports a model file that is not a valid model.
var ErrModelFormat = errors.New("spam: invalid bayes model file")

// WriteTo writes the model in the file format (see Save).
func (b *Bayes) WriteTo(w io.Writer) (int64, error) {
	b.mu.RLock()
	keys := make([]string, 0, len(b.tokens))
	for k := range b.tokens {
		keys = append(keys, k)
	}
	snap := make([]counts, 0, len(keys))
	slices.Sort(keys)
	for _, k := range keys {
		snap = append(snap, b.tokens[k])
	}
	nham, nspam := b.nham, b.nspam
	b.mu.RUnlock()

	cw := &countWriter{w: w}
	if _, err := fmt.Fprintf(cw, "%s%d\n", bayesMagic, bayesVersion); err != nil {
		return cw.n, err
	}
	zw, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return cw.n, err
	}
	bw := bufio.NewWriterSize(zw, 64<<10)
	var tmp [binary.MaxVarintLen64]byte
	put := func(v uint64) {
		bw.Write(tmp[:binary.PutUvarint(tmp[:], v)])
	}
	put(uint64(nham))
	put(uint64(nspam))
	put(uint64(len(keys)))
	for i, k := range keys {
		put(uint64(len(k)))
		bw.WriteString(k)
		put(uint64(snap[i].ham))
		put(uint64(snap[i].spam))
	}
	if err := bw.Flush(); err != nil {
		zw.Close()
		return cw.n, err
	}
	if err := zw.Close(); err != nil {
		return cw.n, err
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadFrom replaces the model's counts with those read from r (written by
// WriteTo or Save). On error the model is left unchanged.
func (b *Bayes) ReadFrom(r io.Reader) (int64, error) {
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	n := int64(len(line))
	if err != nil || len(line) > 64 || !bytes.HasPrefix([]byte(line), []byte(bayesMagic)) {
		return n, fmt.Errorf("%w: missing %q header", ErrModelFormat, bayesMagic)
	}
	ver, err := strconv.Atoi(line[len(bayesMagic) : len(line)-1])
	if err != nil || ver != bayesVersion {
		return n, fmt.Errorf("%w: unsupported version %q", ErrModelFormat, line[:len(line)-1])
	}
	zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return n, err
	}
	defer zr.Close()
	zb := bufio.NewReaderSize(zr, 64<<10)
	get := func(max uint64) (uint64, error) {
		v, err := binary.ReadUvarint(zb)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrModelFormat, err)
		}
		if v > max {
			return 0, fmt.Errorf("%w: value %d out of range", ErrModelFormat, v)
		}
		return v, nil
	}
	nham, err := get(math.MaxUint32)
	if err != nil {
		return n, err
	}
	nspam, err := get(math.MaxUint32)
	if err != nil {
		return n, err
	}
	ntok, err := get(maxModelTokens)
	if err != nil {
		return n, err
	}
	tokens := make(map[string]counts, min(ntok, 1<<20))
	var buf []byte
	prev := ""
	for i := uint64(0); i < ntok; i++ {
		l, err := get(maxTokenBytes)
		if err != nil {
			return n, err
		}
		buf = slices.Grow(buf[:0], int(l))[:l]
		if _, err := io.ReadFull(zb, buf); err != nil {
			return n, fmt.Errorf("%w: %v", ErrModelFormat, err)
		}
		h, err := get(math.MaxUint32)
		if err != nil {
			return n, err
		}
		s, err := get(math.MaxUint32)
		if err != nil {
			return n, err
		}
		tok := string(buf)
		if i > 0 && tok <= prev {
			return n, fmt.Errorf("%w: tokens not sorted", ErrModelFormat)
		}
		prev = tok
		tokens[tok] = counts{ham: uint32(h), spam: uint32(s)}
	}
	if _, err := zb.ReadByte(); err != io.EOF {
		return n, fmt.Errorf("%w: trailing data", ErrModelFormat)
	}
	b.mu.Lock()
	b.nham, b.nspam, b.tokens = uint32(nham), uint32(nspam), tokens
	b.mu.Unlock()
	return n, nil
}

// Save writes the model to path atomically: a temporary file in the same
// directory is written and fsynced, then renamed over path, and the
// directory is fsynced. A crash leaves either the old or the new model.
func (b *Bayes) Save(path string) error {
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		return fmt.Errorf("encode bayes model: %w", err)
	}
	if err := fsutil.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("save bayes model: %w", err)
	}
	return nil
}

// LoadBayes reads a model saved with Save and returns it with opts.
func LoadBayes(path string, opts BayesOptions) (*Bayes, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load bayes model: %w", err)
	}
	defer f.Close()
	b := NewBayes(opts)
	if _, err := b.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("load bayes model %s: %w", path, err)
	}
	return b, nil
}

// Load replaces the model's counts with those saved in path.
func (b *Bayes) Load(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load bayes model: %w", err)
	}
	defer f.Close()
	if _, err := b.ReadFrom(f); err != nil {
		return fmt.Errorf("load bayes model %s: %w", path, err)
	}
	return nil
}

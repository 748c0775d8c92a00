// Package i18n holds the user-facing text of the command line and status pages in
// Spanish (es-MX, the default) and English, and formats numbers the way each locale
// writes them (es-MX: 12,345.6 — Mexico uses the comma for thousands).
package i18n

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Lang is a supported language.
type Lang string

// Languages.
const (
	ES Lang = "es"
	EN Lang = "en"
)

// Detect picks the language: explicit (flag) wins, then $RESGUARDO_LANG, then
// $LC_ALL/$LC_MESSAGES/$LANG starting with "en"; Spanish otherwise. getenv may be nil
// (os.Getenv).
func Detect(explicit string, getenv func(string) string) Lang {
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, v := range []string{explicit, getenv("RESGUARDO_LANG")} {
		if v != "" {
			if strings.HasPrefix(strings.ToLower(v), "en") {
				return EN
			}
			return ES
		}
	}
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := getenv(k); v != "" {
			if strings.HasPrefix(v, "en") {
				return EN
			}
			break
		}
	}
	return ES
}

// Printer renders catalog messages in one language.
type Printer struct{ Lang Lang }

// T formats the message with the given key.
func (p Printer) T(key string, args ...any) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	f := m.es
	if p.Lang == EN {
		f = m.en
	}
	return fmt.Sprintf(f, args...)
}

// Int formats an integer with thousands separators.
func (p Printer) Int(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Float formats f with prec decimals and thousands separators.
func (p Printer) Float(f float64, prec int) string {
	s := strconv.FormatFloat(f, 'f', prec, 64)
	ip, fp, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseInt(ip, 10, 64)
	out := p.Int(n)
	if ip == "-0" {
		out = "-0"
	}
	if fp != "" {
		out += "." + fp
	}
	return out
}

// Bytes formats a byte count with a binary unit.
func (p Printer) Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return p.Float(float64(n)/(1<<30), 2) + " GiB"
	case n >= 1<<20:
		return p.Float(float64(n)/(1<<20), 1) + " MiB"
	case n >= 1<<10:
		return p.Float(float64(n)/(1<<10), 1) + " KiB"
	}
	return p.Int(n) + " B"
}

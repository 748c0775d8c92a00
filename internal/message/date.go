package message

import (
	"net/mail"
	"strings"
	"time"
)

// parseDate reads a Date field tolerantly. It accepts RFC 5322 date-time
// (section 3.3) and the obsolete forms of section 4.3 (2- and 3-digit years,
// zone names UT/GMT/EST/EDT/CST/CDT/MST/MDT/PST/PDT, military zones), plus
// what real mail contains: missing weekday or seconds, comments anywhere,
// lowercase or full month names, asctime order ("Mon Jan  2 15:04:05 2006"),
// RFC 850 dashes ("20-Nov-97"), ISO 8601 and "+hh:mm" zones. Zone names are
// never looked up in the local time zone database, so the result does not
// depend on the machine. net/mail.ParseDate is the last resort.
func parseDate(s string) (time.Time, bool) {
	if t, ok := parseDateTokens(s); ok {
		return t, true
	}
	t, err := mail.ParseDate(s)
	if err != nil {
		return time.Time{}, false
	}
	name, off := t.Zone()
	if off == 0 && name != "" && name != "UTC" && name != "GMT" && name != "UT" {
		return time.Time{}, false // a zone abbreviation Go could not resolve
	}
	return fixedZone(t, off), true
}

func fixedZone(t time.Time, off int) time.Time {
	if off == 0 {
		return t.In(time.UTC)
	}
	return t.In(time.FixedZone("", off))
}

// dateFields collects the parts of a date as they are recognised.
type dateFields struct {
	day, month, year int // 0 = unset
	yearDigits       int
	hour, min, sec   int
	haveTime         bool
	zone             int // seconds east of UTC
	haveZone         bool
	pm, am           bool
}

func monthIndex(w string) int {
	if len(w) < 3 {
		return 0
	}
	switch strings.ToLower(w[:3]) {
	case "jan":
		return 1
	case "feb":
		return 2
	case "mar":
		return 3
	case "apr":
		return 4
	case "may":
		return 5
	case "jun":
		return 6
	case "jul":
		return 7
	case "aug":
		return 8
	case "sep":
		return 9
	case "oct":
		return 10
	case "nov":
		return 11
	case "dec":
		return 12
	}
	return 0
}

// zoneName returns the offset of an RFC 5322 (obs-)zone name or a common
// abbreviation; military letters count as -0000 (RFC 5322 section 4.3).
func zoneName(w string) (int, bool) {
	switch strings.ToUpper(w) {
	case "UT", "UTC", "GMT", "Z", "Z0", "WET":
		return 0, true
	case "EST":
		return -5 * 3600, true
	case "EDT":
		return -4 * 3600, true
	case "CST":
		return -6 * 3600, true
	case "CDT":
		return -5 * 3600, true
	case "MST":
		return -7 * 3600, true
	case "MDT":
		return -6 * 3600, true
	case "PST":
		return -8 * 3600, true
	case "PDT":
		return -7 * 3600, true
	case "BST", "CET", "MET", "MEZ":
		return 3600, true
	case "CEST", "MEST", "MESZ", "EET":
		return 2 * 3600, true
	case "EEST":
		return 3 * 3600, true
	case "JST", "KST":
		return 9 * 3600, true
	}
	if len(w) == 1 {
		if c := w[0] | 0x20; c >= 'a' && c <= 'z' && c != 'j' {
			return 0, true
		}
	}
	return 0, false
}

func allDigits(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return true
}

func atoi(w string) int {
	n := 0
	for i := 0; i < len(w) && i < 9; i++ {
		n = n*10 + int(w[i]-'0')
	}
	return n
}

// parseZone reads "+hhmm", "-hhmm", "+hh:mm" or "+hh".
func parseZone(w string) (int, bool) {
	sign := 1
	if w[0] == '-' {
		sign = -1
	}
	d := strings.ReplaceAll(w[1:], ":", "")
	if !allDigits(d) {
		return 0, false
	}
	var h, m int
	switch len(d) {
	case 4:
		h, m = atoi(d[:2]), atoi(d[2:])
	case 2, 1:
		h = atoi(d)
	case 3:
		h, m = atoi(d[:1]), atoi(d[1:])
	default:
		return 0, false
	}
	if h > 23 || m > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

// parseClock reads hh:mm[:ss][.frac] and returns what follows it.
func (f *dateFields) parseClock(w string) (rest string, ok bool) {
	var nums [3]int
	n := 0
	i := 0
	for n < 3 {
		j := i
		for j < len(w) && j-i < 2 && w[j] >= '0' && w[j] <= '9' {
			j++
		}
		if j == i {
			return "", false
		}
		nums[n] = atoi(w[i:j])
		n++
		i = j
		if i < len(w) && w[i] == ':' {
			i++
			continue
		}
		break
	}
	if n < 2 {
		return "", false
	}
	if i < len(w) && (w[i] == '.' || w[i] == ',') { // fraction of a second
		i++
		for i < len(w) && w[i] >= '0' && w[i] <= '9' {
			i++
		}
	}
	f.hour, f.min, f.sec = nums[0], nums[1], nums[2]
	f.haveTime = true
	return w[i:], true
}

// token handles one word of the date; false means the date is garbage.
func (f *dateFields) token(w string) bool {
	if w == "" {
		return true
	}
	c := w[0]
	switch {
	case (c == '+' || c == '-') && len(w) > 1 && w[1] >= '0' && w[1] <= '9':
		if off, ok := parseZone(w); ok && !f.haveZone {
			f.zone, f.haveZone = off, true
		}
		return true
	case c >= '0' && c <= '9' && len(w) >= 8 && w[4] == '-' && f.year == 0:
		// ISO 8601 date, optionally with "T" and a time
		d, tm, _ := strings.Cut(w, "T")
		parts := strings.SplitN(d, "-", 3)
		if len(parts) != 3 || !allDigits(parts[0]) || !allDigits(parts[1]) || !allDigits(parts[2]) {
			return false
		}
		f.year, f.yearDigits, f.month, f.day = atoi(parts[0]), 4, atoi(parts[1]), atoi(parts[2])
		if tm != "" {
			return f.token(tm)
		}
		return true
	case c >= '0' && c <= '9' && strings.IndexByte(w, ':') > 0 && !f.haveTime:
		rest, ok := f.parseClock(w)
		if !ok {
			return false
		}
		return f.token(rest)
	case c >= '0' && c <= '9':
		i := 0
		for i < len(w) && w[i] >= '0' && w[i] <= '9' {
			i++
		}
		num, rest := w[:i], w[i:]
		switch {
		case len(num) == 4 && f.year != 0 && f.haveTime && !f.haveZone && rest == "":
			// a zone that lost its sign: "12:44 0000"
			return f.token("+" + num)
		case len(num) >= 3 && f.year == 0:
			f.year, f.yearDigits = atoi(num), len(num)
		case len(num) <= 2 && f.day == 0:
			f.day = atoi(num)
		case len(num) <= 2 && f.year == 0:
			f.year, f.yearDigits = atoi(num), len(num)
		default:
			return false
		}
		switch strings.ToLower(rest) {
		case "", "st", "nd", "rd", "th":
			return true
		}
		return f.token(rest)
	}
	// alphabetic
	w = strings.TrimRight(w, ".")
	lw := strings.ToLower(w)
	switch lw {
	case "am":
		f.am = true
		return true
	case "pm":
		f.pm = true
		return true
	}
	if m := monthIndex(w); m != 0 && f.month == 0 && (len(w) == 3 || strings.Contains(fullMonths, "|"+lw+"|")) {
		f.month = m
		return true
	}
	if strings.HasPrefix(lw, "gmt") || strings.HasPrefix(lw, "utc") {
		if rest := w[3:]; rest != "" && (rest[0] == '+' || rest[0] == '-') {
			return f.token(rest)
		}
	}
	if off, ok := zoneName(w); ok && f.haveTime && !f.haveZone {
		f.zone, f.haveZone = off, true
	}
	return true // weekday names and unknown words are ignored
}

const fullMonths = "|january|february|march|april|may|june|july|august|september|october|november|december|sept|"

// parseDateTokens is the tolerant tokenizer behind parseDate.
func parseDateTokens(s string) (time.Time, bool) {
	// Drop comments, including nested ones (RFC 5322 section 3.2.2).
	var b []byte
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '(':
			depth++
			c = ' '
		case c == ')' && depth > 0:
			depth--
			c = ' '
		case depth > 0:
			c = ' '
		case c == ',' || c == '\t' || c == '\r' || c == '\n':
			c = ' '
		}
		b = append(b, c)
	}
	var f dateFields
	for w := range strings.FieldsSeq(string(b)) {
		// RFC 850 style "20-Nov-97" and "Nov-20-1997"
		if parts := strings.Split(w, "-"); len(parts) == 3 && (monthIndex(parts[1]) != 0 || monthIndex(parts[0]) != 0) {
			for _, x := range parts {
				if !f.token(x) {
					return time.Time{}, false
				}
			}
			continue
		}
		if !f.token(w) {
			return time.Time{}, false
		}
	}
	if f.day == 0 || f.month == 0 || f.year == 0 && f.yearDigits == 0 {
		return time.Time{}, false
	}
	y := f.year
	switch f.yearDigits {
	case 1, 2:
		if y < 50 {
			y += 2000
		} else {
			y += 1900
		}
	case 3:
		y += 1900
	}
	if f.pm && f.hour < 12 {
		f.hour += 12
	} else if f.am && f.hour == 12 {
		f.hour = 0
	}
	if f.sec == 60 { // leap second
		f.sec = 59
	}
	if y < 1 || y > 9999 || f.month > 12 || f.day > daysIn(f.month, y) ||
		f.hour > 23 || f.min > 59 || f.sec > 59 {
		return time.Time{}, false
	}
	loc := time.UTC
	if f.zone != 0 {
		loc = time.FixedZone("", f.zone)
	}
	return time.Date(y, time.Month(f.month), f.day, f.hour, f.min, f.sec, 0, loc), true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

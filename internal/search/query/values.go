package query

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// parseDateField parses the value of after:, before:, date: or year:.
func parseDateField(f, name, v string, pos, vpos int) (Node, error) {
	if (f == "after" || f == "before") && strings.Contains(v, "..") {
		return nil, errAt(vpos, fmt.Sprintf("%s: takes a single date; for a range write date:%s", name, v),
			fmt.Sprintf("%s: admite una sola fecha; para un intervalo escriba date:%s", name, v))
	}
	switch f {
	case "after":
		from, _, err := parseDate(v, vpos)
		return &DateRange{From: from, Pos: pos}, err
	case "before":
		to, _, err := parseDate(v, vpos)
		return &DateRange{To: to, Pos: pos}, err
	case "year":
		if len(v) != 4 || !digits(v) {
			return nil, errAt(vpos, fmt.Sprintf("%s: expected a year as YYYY, got %q", name, v),
				fmt.Sprintf("%s: se esperaba un año como AAAA, no %q", name, v))
		}
		from, to, err := parseDate(v, vpos)
		return &DateRange{From: from, To: to, Pos: pos}, err
	}
	a, b, ok := strings.Cut(v, "..")
	if !ok {
		from, to, err := parseDate(v, vpos)
		return &DateRange{From: from, To: to, Pos: pos}, err
	}
	if a == "" && b == "" {
		return nil, errAt(vpos, fmt.Sprintf("empty date range %q (write %s:2023-01..2023-06)", v, name),
			fmt.Sprintf("intervalo de fechas vacío %q (escriba %s:2023-01..2023-06)", v, name))
	}
	d := &DateRange{Pos: pos}
	var err error
	if a != "" {
		if d.From, _, err = parseDate(a, vpos); err != nil {
			return nil, err
		}
	}
	if b != "" {
		if _, d.To, err = parseDate(b, vpos+len(a)+2); err != nil {
			return nil, err
		}
	}
	if a != "" && b != "" && !d.From.Before(d.To) {
		return nil, errAt(vpos, fmt.Sprintf("date range %q ends before it starts", v),
			fmt.Sprintf("el intervalo de fechas %q termina antes de empezar", v))
	}
	return d, nil
}

// parseDate parses YYYY-MM-DD, YYYY-MM or YYYY (years 1000 to 9999) and
// returns the start of that day, month or year and the start of the next
// one, as UTC midnights. vpos is s's offset in the query.
func parseDate(s string, vpos int) (from, to time.Time, err error) {
	invalid := func(en, es string) error {
		return errAt(vpos, fmt.Sprintf("invalid date %q: %s", s, en), fmt.Sprintf("fecha no válida %q: %s", s, es))
	}
	var y, m, d int
	switch {
	case len(s) == 4 && digits(s):
		y = atoi(s)
	case len(s) == 7 && digits(s[:4]) && s[4] == '-' && digits(s[5:]):
		y, m = atoi(s[:4]), atoi(s[5:])
	case len(s) == 10 && digits(s[:4]) && s[4] == '-' && digits(s[5:7]) && s[7] == '-' && digits(s[8:]):
		y, m, d = atoi(s[:4]), atoi(s[5:7]), atoi(s[8:])
	default:
		return from, to, invalid("expected YYYY-MM-DD, YYYY-MM or YYYY", "se esperaba AAAA-MM-DD, AAAA-MM o AAAA")
	}
	if y < 1000 {
		return from, to, invalid("years go from 1000 to 9999", "los años van de 1000 a 9999")
	}
	if len(s) == 4 {
		from = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		return from, from.AddDate(1, 0, 0), nil
	}
	if m < 1 || m > 12 {
		return from, to, invalid(fmt.Sprintf("there is no month %d", m), fmt.Sprintf("no existe el mes %d", m))
	}
	if len(s) == 7 {
		from = time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		return from, from.AddDate(0, 1, 0), nil
	}
	last := time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	if d < 1 || d > last {
		return from, to, invalid(fmt.Sprintf("day %d does not exist in %s", d, s[:7]), fmt.Sprintf("el día %d no existe en %s", d, s[:7]))
	}
	from = time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return from, from.AddDate(0, 0, 1), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// MaxSize is the largest bound a SizeRange from Parse holds: 1 PiB.
const MaxSize = 1 << 50

// parseSize parses the comparison after size: >N, >=N, <N or <=N, where N
// is a decimal number and an optional unit (B, KB, MB, GB, TB, PB in powers of
// 1000; KiB, MiB, GiB, TiB, PiB in powers of 1024; case-insensitive). Sizes are
// whole bytes, so a fractional N is rounded the way that keeps the
// comparison exact: size>1000.5 is size>=1001, size<1000.5 is size<1001.
func parseSize(name, v string, pos, vpos int) (Node, error) {
	var op string
	for _, o := range []string{">=", "<=", ">", "<"} {
		if strings.HasPrefix(v, o) {
			op = o
			break
		}
	}
	if op == "" {
		return nil, errAt(vpos, fmt.Sprintf("expected a comparison after %s: %s>1MB, %s<500KB, %s>=2MiB or %s<=1GB", name, name, name, name, name),
			fmt.Sprintf("se esperaba una comparación después de %s: %s>1MB, %s<500KB, %s>=2MiB o %s<=1GB", name, name, name, name, name))
	}
	num, npos := v[len(op):], vpos+len(op)
	i := 0
	for i < len(num) && num[i] >= '0' && num[i] <= '9' {
		i++
	}
	intPart, frac, ok := num[:i], "", i > 0
	if ok && i < len(num) && num[i] == '.' {
		j := i + 1
		for j < len(num) && num[j] >= '0' && num[j] <= '9' {
			j++
		}
		frac, i, ok = num[i+1:j], j, j > i+1
	}
	if !ok {
		return nil, errAt(npos, fmt.Sprintf("expected a size after %q, like 500KB, 1.5MB or 2MiB", name+op),
			fmt.Sprintf("se esperaba un tamaño después de %q, como 500KB, 1.5MB o 2MiB", name+op))
	}
	mult := unit(strings.ToLower(num[i:]))
	if mult == 0 {
		return nil, errAt(npos+i, fmt.Sprintf("unknown size unit %q (units: B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB)", num[i:]),
			fmt.Sprintf("unidad de tamaño desconocida %q (unidades: B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB)", num[i:]))
	}
	n, _ := new(big.Int).SetString(intPart+frac, 10)
	n.Mul(n, big.NewInt(mult))
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
	floor, rem := new(big.Int).QuoRem(n, den, new(big.Int))
	bound := floor // the bound stored, Min or Max
	switch {
	case op == ">" || op == "<=":
		bound.Add(bound, big.NewInt(1))
	case rem.Sign() != 0:
		bound.Add(bound, big.NewInt(1))
	}
	if bound.Cmp(big.NewInt(MaxSize)) > 0 {
		return nil, errAt(npos, "size too large (at most 1 PiB)", "tamaño demasiado grande (máximo 1 PiB)")
	}
	s := &SizeRange{Min: -1, Max: -1, Pos: pos}
	if op[0] == '>' {
		s.Min = bound.Int64()
	} else {
		s.Max = bound.Int64()
	}
	return s, nil
}

// unit returns the multiplier of a lowercased size unit, 0 if unknown.
func unit(u string) int64 {
	switch u {
	case "", "b":
		return 1
	case "kb":
		return 1e3
	case "mb":
		return 1e6
	case "gb":
		return 1e9
	case "tb":
		return 1e12
	case "kib":
		return 1 << 10
	case "mib":
		return 1 << 20
	case "gib":
		return 1 << 30
	case "tib":
		return 1 << 40
	case "pb":
		return 1e15
	case "pib":
		return 1 << 50
	}
	return 0
}

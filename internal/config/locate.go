package config

import (
	"regexp"
	"strconv"
	"strings"
)

// arrayKey matches "gateway.users[2].name": the key of the third [[gateway.users]] table.
var arrayKey = regexp.MustCompile(`^([^\[]+)\[([0-9]+)\](?:\.(.*))?$`)

// locator finds the line where a dotted key is set, by a light scan of the TOML text
// (BurntSushi/toml does not keep key positions). It understands [table] headers,
// dotted and quoted keys well enough for error messages; unknown → line of the table.
type locator struct{ lines []string }

func newLocator(src string) locator { return locator{lines: strings.Split(src, "\n")} }

func (l locator) line(key string) int {
	if m := arrayKey.FindStringSubmatch(key); m != nil {
		return l.arrayLine(m[1], m[2], m[3])
	}
	table := ""
	tableLine := map[string]int{}
	for i, raw := range l.lines {
		s := strings.TrimSpace(raw)
		if s == "" || s[0] == '#' {
			continue
		}
		if strings.HasPrefix(s, "[") {
			name := strings.Trim(s, "[] \t")
			if j := strings.Index(name, "]"); j >= 0 {
				name = name[:j]
			}
			table = normKey(name)
			tableLine[table] = i + 1
			if table == key {
				return i + 1
			}
			continue
		}
		eq := strings.Index(s, "=")
		if eq < 0 {
			continue
		}
		k := normKey(s[:eq])
		full := k
		if table != "" {
			full = table + "." + k
		}
		if full == key {
			return i + 1
		}
	}
	for k := key; k != ""; {
		if n, ok := tableLine[k]; ok {
			return n
		}
		j := strings.LastIndex(k, ".")
		if j < 0 {
			break
		}
		k = k[:j]
	}
	return 0
}

func normKey(s string) string {
	parts := strings.Split(strings.TrimSpace(s), ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// arrayLine finds key (or the header when key is empty) inside the n-th
// [[table]] of an array of tables.
func (l locator) arrayLine(table, n, key string) int {
	want, _ := strconv.Atoi(n)
	count, header := -1, 0
	for i, raw := range l.lines {
		s := strings.TrimSpace(raw)
		if strings.HasPrefix(s, "[") {
			if header > 0 { // the next table ends ours
				return header
			}
			if strings.HasPrefix(s, "[[") && normKey(strings.Trim(s, "[] \t")) == table {
				count++
				if count == want {
					header = i + 1
				}
			}
			continue
		}
		if header > 0 && key != "" {
			if eq := strings.Index(s, "="); eq >= 0 && normKey(s[:eq]) == key {
				return i + 1
			}
		}
	}
	if header > 0 {
		return header
	}
	return l.line(table)
}

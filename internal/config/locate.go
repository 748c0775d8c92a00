package config

import "strings"

// locator finds the line where a dotted key is set, by a light scan of the TOML text
// (BurntSushi/toml does not keep key positions). It understands [table] headers,
// dotted and quoted keys well enough for error messages; unknown → line of the table.
type locator struct{ lines []string }

func newLocator(src string) locator { return locator{lines: strings.Split(src, "\n")} }

func (l locator) line(key string) int {
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

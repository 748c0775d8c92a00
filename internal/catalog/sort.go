package catalog

import (
	"sort"
	"strconv"
	"strings"
)

// sortParts orders parts by their MIME path numerically ("1.2" < "1.10").
func sortParts(ps []Part) {
	sort.SliceStable(ps, func(i, j int) bool { return lessPath(ps[i].Path, ps[j].Path) })
}

func lessPath(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for k := 0; k < len(as) && k < len(bs); k++ {
		x, err1 := strconv.Atoi(as[k])
		y, err2 := strconv.Atoi(bs[k])
		if err1 != nil || err2 != nil {
			if as[k] != bs[k] {
				return as[k] < bs[k]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

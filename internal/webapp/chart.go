package webapp

import (
	"fmt"
	"html"
	"strings"

	"github.com/resguardo/resguardo/internal/i18n"
)

// chart is a bar chart drawn on the server as SVG, for inline use in a page.
// It uses presentation attributes and classes only (no style attribute, no
// script, nothing fetched), so the application's CSP applies unchanged, and
// it carries its own accessible name and one <title> per bar (label and
// value); the pages also give the numbers as a table.
type chart struct {
	ID     string   // prefix of the element ids
	Title  string   // accessible name
	Labels []string // one per bar, oldest first
	Values []int64
	Every  int // an x-axis label every Every bars (1: each)
}

// Geometry of every chart, in viewBox units.
const (
	chartW, chartH                 = 640, 180
	chartLeft, chartRight          = 48, 8
	chartTop, chartBottom          = 10, 24
	chartPlotW, chartPlotH         = chartW - chartLeft - chartRight, chartH - chartTop - chartBottom
	chartGap               float64 = 2
)

// niceMax is the smallest 1, 2 or 5 × 10ⁿ at or above v (1 for v ≤ 1).
func niceMax(v int64) int64 {
	if v <= 1 {
		return 1
	}
	for m := int64(1); ; m *= 10 {
		for _, f := range []int64{1, 2, 5} {
			if f*m >= v {
				return f * m
			}
		}
	}
}

// SVG renders the chart; numbers are formatted by pr.
func (c chart) SVG(pr i18n.Printer) string {
	var b strings.Builder
	esc := html.EscapeString
	top := int64(0)
	for _, v := range c.Values {
		top = max(top, v)
	}
	scale := niceMax(top)
	every := max(c.Every, 1)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t">`,
		esc(c.ID), chartW, chartH, esc(c.ID))
	fmt.Fprintf(&b, `<title id="%s-t">%s</title>`, esc(c.ID), esc(c.Title))
	// Grid lines and their values: 0, half, top.
	grid := []int64{0, scale / 2, scale}
	if scale == 1 {
		grid = []int64{0, 1}
	}
	for _, g := range grid {
		y := float64(chartTop) + float64(chartPlotH)*(1-float64(g)/float64(scale))
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dfe3ea"/>`, chartLeft, y, chartW-chartRight, y)
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%s</text>`, chartLeft-6, y+4, pr.Int(g))
	}
	n := len(c.Values)
	if n == 0 {
		b.WriteString(`</svg>`)
		return b.String()
	}
	bw := float64(chartPlotW) / float64(n)
	for i, v := range c.Values {
		h := float64(chartPlotH) * float64(v) / float64(scale)
		x := float64(chartLeft) + float64(i)*bw + chartGap/2
		y := float64(chartTop) + float64(chartPlotH) - h
		label := ""
		if i < len(c.Labels) {
			label = c.Labels[i]
		}
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#611232"><title>%s: %s</title></rect>`,
			x, y, bw-chartGap, h, esc(label), pr.Int(v))
		if (n-1-i)%every == 0 {
			fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+(bw-chartGap)/2, chartH-6, esc(label))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

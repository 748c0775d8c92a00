package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/resguardo/resguardo/internal/corpustest"
)

// axeVersion is the axe-core release scripts/test installs with npm (keep the two equal).
const axeVersion = "4.10.3"

// axeScript returns axe-core's axe.min.js: $RESGUARDO_AXE, else the copy
// scripts/test installs under $HOME/.cache/resguardo-npm. Missing, the test is
// skipped locally and fails under CI=true.
func axeScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv("RESGUARDO_AXE")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "resguardo-npm", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		corpustest.Require(t, fmt.Sprintf("axe-core not found at %s (scripts/test installs it: npm install --prefix ~/.cache/resguardo-npm axe-core@%s)", path, axeVersion))
		return ""
	}
	return string(b)
}

type axeNode struct {
	Target  string `json:"target"`
	HTML    string `json:"html"`
	Summary string `json:"summary"`
}

type axeViolation struct {
	ID     string    `json:"id"`
	Impact string    `json:"impact"`
	Help   string    `json:"help"`
	Nodes  []axeNode `json:"nodes"`
}

// axeRun injects axe-core into the current page (through the DevTools protocol,
// which the page's CSP does not govern) and returns the WCAG 2 A and AA
// violations of impact serious or critical. The sandboxed mail body (an iframe
// with an opaque origin and no scripts) is not ours and is not tested.
func axeRun(ctx context.Context, script string) ([]axeViolation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== "undefined"`))
	if err != nil {
		return nil, err
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script+"\n;true")); err != nil {
			return nil, fmt.Errorf("inject axe-core: %w", err)
		}
	}
	return chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
		resultTypes: ["violations"], iframes: false,
	}).then(r => r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
		id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html, summary: n.failureSummary})),
	})))`, chromedp.EvalAwaitPromise))
}

func axeReport(vs []axeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  [%s] %s: %s\n", v.Impact, v.ID, v.Help)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "    %s  %s\n      %s\n", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n      "))
		}
	}
	return b.String()
}

// focusVisible reports whether the focused element shows a focus indicator
// (an outline or a box shadow), and describes it.
func focusVisible(ctx context.Context) (bool, string, error) {
	type focus struct {
		Tag, ID, Outline, Shadow string
		Visible                  bool
	}
	f, err := chromedp.Run(ctx, chromedp.Evaluate[focus](`(() => {
		const e = document.activeElement, s = getComputedStyle(e);
		const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2;
		return {Tag: e.tagName, ID: e.id, Outline: s.outlineStyle + " " + s.outlineWidth + " " + s.outlineColor,
			Shadow: s.boxShadow, Visible: outline || (s.boxShadow !== "none" && s.boxShadow !== "")};
	})()`))
	if err != nil {
		return false, "", err
	}
	return f.Visible, fmt.Sprintf("<%s id=%q> outline %s, shadow %s", f.Tag, f.ID, f.Outline, f.Shadow), nil
}

package adminui_test

// The accessibility check: axe-core (testdata/axe-core, never served) runs
// in the page and the test fails on serious or critical violations.

import (
	_ "embed"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

//go:embed testdata/axe-core/axe.min.js
var axeSource string

// axeRun runs axe-core on the current page and returns its serious and
// critical violations as "rule (impact): targets" lines.
const axeRun = `(async () => {
  const r = await axe.run(document, { resultTypes: ['violations'] });
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.slice(0, 5).map((n) => n.target.join(' ')).join(', '));
})()`

// checkAxe fails the test for each serious or critical violation on the page.
func (tb *tab) checkAxe(where string) {
	tb.t.Helper()
	if !eval[bool](tb, `typeof axe !== 'undefined'`) {
		if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
			tb.t.Fatalf("inject axe-core: %v", err)
		}
	}
	found, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("axe on %s: %v", where, err)
	}
	for _, v := range found {
		tb.t.Errorf("axe on %s: %s", where, v)
	}
}

// TestBrowserAxeEveryPage runs axe-core on every page of the UI, with data
// on each, at 1280 px, and on the flag page at 390 px too.
func TestBrowserAxeEveryPage(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	s.createFlag(t, "axe-flag", "Axe flag", "Checked for accessibility.")
	s.putConfig(t, "axe-flag", "development", map[string]any{"enabled": true, "offVariant": "off",
		"rules": []map[string]any{{"description": "Benelux", "conditions": []map[string]any{
			{"attribute": "country", "operator": "in", "values": []string{"NL", "BE"}}}, "serve": map[string]any{"variant": "on"}}},
		"defaultServe": split("on", 25, "off", 75)})
	s.mustCall(t, "POST", "/api/v1/segments", map[string]any{"key": "beta", "name": "Beta users", "included": []string{"u1"}})
	s.mustCall(t, "POST", "/api/v1/tokens", map[string]any{"name": "axe-ci", "scope": "ci", "environments": []string{"development"}})
	s.mustCall(t, "POST", "/api/v1/users", map[string]any{"username": "ed", "password": "a-long-password-1", "role": "editor"})

	tb.do("sign-in page", chromedp.Navigate(s.URL+"/#/signin"), chromedp.WaitVisible(chromedp.CSS(`form.signin`)))
	tb.checkAxe("sign-in")
	signIn(tb, s, "")
	pages := []struct{ hash, ready string }{
		{"#/flags", `tr[data-flag]`},
		{"#/flags/new", `input[name=key]`},
		{"#/flags/axe-flag/env/development", `[data-action=save-config]`},
		{"#/flags/axe-flag/history", `article.audit-entry`},
		{"#/segments", `tr[data-segment]`},
		{"#/environments", `tr[data-environment]`},
		{"#/tokens", `tr[data-token]`},
		{"#/users", `tr[data-user]`},
		{"#/audit", `article.audit-entry`},
	}
	for _, p := range pages {
		tb.do("open "+p.hash, chromedp.Navigate(s.URL+"/"+p.hash), chromedp.WaitVisible(chromedp.CSS(p.ready)))
		tb.checkAxe(p.hash)
	}
	tb.do("flag page at 390 px", chromedp.Navigate(s.URL+"/#/flags/axe-flag/env/production"),
		chromedp.WaitVisible(chromedp.CSS(`[data-action=save-config]`)), chromedp.EmulateViewport(390, 900))
	tb.checkAxe("flag page at 390 px")
	tb.do("confirm dialog", chromedp.EmulateViewport(1280, 900), chromedp.Click(chromedp.CSS(`[data-action=toggle]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] [data-confirm]`)))
	tb.checkAxe("confirmation dialog")
	tb.do("cancel", chromedp.Click(chromedp.CSS(`dialog[open] button.secondary`)))

	// Keyboard: every enabled control on the flag page is reachable by Tab.
	missing := eval[[]string](tb, `[...document.querySelectorAll('main a[href], main button:not(:disabled), main input:not(:disabled), main select:not(:disabled), main textarea:not(:disabled)')]
		.filter((el) => el.offsetParent !== null && el.tabIndex < 0 && el.getAttribute('role') !== 'tab')
		.map((el) => el.outerHTML.slice(0, 100))`)
	if len(missing) > 0 {
		t.Errorf("controls out of the tab order: %s", strings.Join(missing, "; "))
	}
	tb.checkLabels("flag page")
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

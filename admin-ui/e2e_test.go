package adminui_test

// End-to-end tests: the real server wiring (startServer) on 127.0.0.1:0
// with a temporary SQLite database, driven through the UI in Chromium, and
// checked through the HTTP API and a connected SDK provider.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server/daemon"
)

// call sends one JSON API request with the admin token and decodes the
// answer into a generic map.
func (s *testServer) call(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: status %d, body %q: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, out
}

// mustCall is call that fails the test unless the status is 200.
func (s *testServer) mustCall(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	code, out := s.call(t, method, path, body)
	if code != http.StatusOK {
		t.Fatalf("%s %s: status %d: %v", method, path, code, out)
	}
	return out
}

// config reads a flag's configuration in an environment through the API.
func (s *testServer) config(t *testing.T, key, env string) map[string]any {
	t.Helper()
	out := s.mustCall(t, "GET", "/api/v1/flags/"+key+"/environments/"+env, nil)
	cfg, _ := out["config"].(map[string]any)
	if cfg == nil {
		t.Fatalf("no config in %v", out)
	}
	return cfg
}

// signIn opens the UI and signs in as the bootstrap admin.
func signIn(tb *tab, s *testServer, path string) {
	tb.t.Helper()
	signInAs(tb, s, "admin", s.AdminPassword, path)
}

// signInAs opens the UI and signs in as username.
func signInAs(tb *tab, s *testServer, username, password, path string) {
	tb.t.Helper()
	tb.do("open sign-in", chromedp.Navigate(s.URL+"/#/signin"), chromedp.WaitVisible(chromedp.CSS(`form.signin`)))
	tb.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), username),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`form.signin button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#topbar`)))
	tb.waitText("#who-name", username)
	if path != "" {
		tb.do("go to "+path, chromedp.Navigate(s.URL+"/"+path))
	}
}

// setValue sets a form control's value the way typing does (input and
// change events), for controls SendKeys cannot clear (numbers, ranges).
func (tb *tab) setValue(sel, value string) {
	tb.t.Helper()
	tb.do("set "+sel, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		el.focus(); el.value = %q;
		el.dispatchEvent(new Event('input', { bubbles: true }));
		el.dispatchEvent(new Event('change', { bubbles: true }));
	})()`, sel, value)))
}

// waitSDK polls the provider until check holds or the deadline passes.
func waitSDK(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, got := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("SDK never saw %s; last: %s", what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBrowserReleaseFlow(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	const key = "new-checkout"

	tb.do("open", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`form.signin`)))
	tb.screenshot("signin", 1280)
	signIn(tb, s, "")
	tb.waitText("h1", "Flags")

	// An SDK token for production, created in the UI; its secret is shown once.
	tb.do("tokens", chromedp.Navigate(s.URL+"/#/tokens"), chromedp.WaitVisible(chromedp.CSS(`[data-action=create-token]`)))
	tb.do("create sdk token",
		chromedp.SendKeys(chromedp.CSS(`form [data-field=name]`), "checkout-prod"),
		chromedp.SetValue(chromedp.CSS(`form [data-field=scope]`), "sdk"),
		chromedp.Click(chromedp.CSS(`#tok-env-production`)),
		chromedp.Click(chromedp.CSS(`[data-action=create-token]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-secret]`)))
	secret := tb.text(`[data-secret]`)
	if len(secret) < 20 {
		t.Fatalf("token secret %q looks wrong", secret)
	}
	tb.screenshot("token-created", 1280)

	provider := connectSDK(t, s, secret)

	// Create the flag.
	tb.do("new flag", chromedp.Navigate(s.URL+"/#/flags"), chromedp.WaitVisible(chromedp.CSS(`[data-action=new-flag]`)),
		chromedp.Click(chromedp.CSS(`[data-action=new-flag]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=key]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=key]`), key),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "New checkout"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=description]`), "The redesigned checkout flow."),
		chromedp.SendKeys(chromedp.CSS(`input[name=tags]`), "checkout, release"),
		chromedp.Click(chromedp.CSS(`form[aria-label="New flag"] button[type=submit]`)))
	tb.waitText(`h1[data-flag-key]`, "New checkout")

	// Production: the kill switch asks for confirmation.
	tb.do("production tab", chromedp.Click(chromedp.CSS(`[data-env-tab=production]`)),
		chromedp.WaitVisible(chromedp.CSS(`#env-panel[data-env=production]`)),
		chromedp.Click(chromedp.CSS(`[data-action=toggle][data-env=production]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] [data-confirm]`)))
	tb.screenshot("confirm-production", 1280)
	tb.do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)))
	tb.waitJS("switch shows on", `document.querySelector('#env-panel [data-state]')?.dataset.state === 'on'`)
	if cfg := s.config(t, key, "production"); cfg["enabled"] != true {
		t.Fatalf("production config after the toggle: %v", cfg)
	}
	waitSDK(t, "the flag enabled", func() (bool, string) {
		d := provider.BooleanEvaluation(context.Background(), key, false, openfeature.FlattenedContext{"targetingKey": "user-1"})
		return d.Reason != openfeature.DisabledReason && d.Error() == nil, fmt.Sprintf("%+v", d.ProviderResolutionDetail)
	})

	// Ramp to 25%.
	tb.setValue(`input[name=percent-number]`, "25")
	tb.do("apply rollout", chromedp.Click(chromedp.CSS(`[data-action=apply-rollout]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] [data-confirm]`)),
		chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)))
	tb.waitText(`[data-env-tab=production]`, "25%")
	want := 0
	for i := range 400 {
		if engine.Bucket(key, fmt.Sprintf("user-%d", i), 100) < 25 {
			want++
		}
	}
	waitSDK(t, "the 25% split", func() (bool, string) {
		on := 0
		for i := range 400 {
			d := provider.BooleanEvaluation(context.Background(), key, false, openfeature.FlattenedContext{"targetingKey": fmt.Sprintf("user-%d", i)})
			if d.Value {
				on++
			}
		}
		return on == want, fmt.Sprintf("%d of 400 on, want %d", on, want)
	})
	if want < 70 || want > 130 {
		t.Fatalf("bucketing put %d of 400 keys under 25%%", want)
	}

	// Add a rule: country in NL, BE serves on.
	tb.do("add rule", chromedp.Click(chromedp.CSS(`[data-action=add-rule]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-field="rules[0].conditions[0].attribute"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[0].description"]`), "Benelux first"),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[0].conditions[0].attribute"]`), "country"),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[0].conditions[0].values"]`), "NL, BE"),
		chromedp.SetValue(chromedp.CSS(`[data-field="rules[0].serve.variant"]`), "on"),
		chromedp.Click(chromedp.CSS(`[data-action=save-config]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] [data-confirm]`)),
		chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-saved]`)))
	waitSDK(t, "the rule", func() (bool, string) {
		d := provider.BooleanEvaluation(context.Background(), key, false, openfeature.FlattenedContext{"targetingKey": "user-out", "country": "NL"})
		return d.Value && d.Reason == openfeature.TargetingMatchReason, fmt.Sprintf("%+v", d.ProviderResolutionDetail)
	})

	// Who has it: the connected provider applied the latest revision, that
	// of the rule (an earlier poll may still show an earlier one).
	envRev := s.mustCall(t, "GET", "/api/v1/environments/production", nil)["environment"].(map[string]any)["revision"]
	tb.waitJS("who has it shows the provider up to date", fmt.Sprintf(`(() => {
		const row = document.querySelector('[data-who=production] tr[data-instance]');
		const summary = document.querySelector('[data-who=production] [data-clients-summary]');
		return !!row && row.textContent.includes('checkout') && row.textContent.includes('latest') &&
			!!summary && summary.textContent.includes('the latest revision ' + %q + '.');
	})()`, envRev))
	tb.screenshot("flag", 1280)
	tb.screenshot("flag-phone", 390)
	tb.checkLabels("flag page")

	// History shows the changes with a readable diff.
	tb.do("history", chromedp.Navigate(s.URL+"/#/flags/"+key+"/history"), chromedp.WaitVisible(chromedp.CSS(`article.audit-entry`)))
	tb.waitJS("history has the rule", `document.querySelector('[data-history]').textContent.includes('Benelux first')`)
	if n := eval[int](tb, `document.querySelectorAll('article.audit-entry').length`); n < 4 {
		t.Errorf("history shows %d entries, want create, enable, rollout and rules", n)
	}
	tb.screenshot("history", 1280)

	// The overview shows production at 25% with one rule.
	tb.do("flags", chromedp.Navigate(s.URL+"/#/flags"), chromedp.WaitVisible(chromedp.CSS(`tr[data-flag="`+key+`"]`)))
	if got := tb.text(`tr[data-flag="` + key + `"] td[data-env=production]`); !strings.Contains(got, "25%") || !strings.Contains(got, "1 rule") {
		t.Errorf("production cell %q, want 25%% and 1 rule", got)
	}
	tb.screenshot("flags", 1280)
	tb.screenshot("flags-phone", 390)
	tb.checkLabels("flags page")

	// Segments and environments screens render.
	tb.do("segments", chromedp.Navigate(s.URL+"/#/segments"), chromedp.WaitVisible(chromedp.CSS(`[data-action=new-segment]`)))
	tb.do("environments", chromedp.Navigate(s.URL+"/#/environments"), chromedp.WaitVisible(chromedp.CSS(`tr[data-environment=production]`)))
	tb.screenshot("environments", 1280)

	// Sign out: the session ends and the API refuses the old cookie.
	tb.do("sign out", chromedp.Click(chromedp.CSS(`#sign-out`)), chromedp.WaitVisible(chromedp.CSS(`form.signin`)))
	tb.do("protected page after sign-out", chromedp.Navigate(s.URL+"/#/flags"), chromedp.WaitVisible(chromedp.CSS(`form.signin`)))

	// Asking who is signed in before sign-in and after sign-out answers 401.
	if errs := tb.pageErrors("401 (Unauthorized) " + s.URL + "/api/v1/whoami"); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// createFlag creates a boolean flag through the API.
func (s *testServer) createFlag(t *testing.T, key, name, description string) {
	t.Helper()
	s.mustCall(t, "POST", "/api/v1/flags", map[string]any{"key": key, "name": name, "description": description, "type": "boolean", "tags": []string{"test"}})
}

func TestBrowserInvalidRuleRejected(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	s.createFlag(t, "beta-search", "Beta search", "")
	signIn(tb, s, "#/flags/beta-search/env/development")
	tb.do("add rule", chromedp.WaitVisible(chromedp.CSS(`[data-action=add-rule]`)),
		chromedp.Click(chromedp.CSS(`[data-action=add-rule]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-field="rules[0].conditions[0].attribute"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[0].conditions[0].attribute"]`), "age"),
		chromedp.SetValue(chromedp.CSS(`[data-field="rules[0].conditions[0].operator"]`), "gte"))
	// The operator change redraws the rule; type a value that is no number.
	tb.do("value", chromedp.WaitVisible(chromedp.CSS(`[data-field="rules[0].conditions[0].values"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[0].conditions[0].values"]`), "eighteen"),
		chromedp.Click(chromedp.CSS(`[data-action=save-config]`)))
	tb.waitJS("error next to the values field", `(() => {
		const input = document.querySelector('[data-field="rules[0].conditions[0].values"]');
		const err = document.getElementById(input.getAttribute('aria-describedby'));
		return input.getAttribute('aria-invalid') === 'true' && !err.hidden && err.textContent.length > 0;
	})()`)
	msg := eval[string](tb, `(() => { const i = document.querySelector('[data-field="rules[0].conditions[0].values"]'); return document.getElementById(i.getAttribute('aria-describedby')).textContent; })()`)
	t.Logf("error shown next to the values field: %q", msg)
	if !strings.Contains(strings.ToLower(msg), "number") {
		t.Errorf("error %q does not say a number is needed", msg)
	}
	if rules, _ := s.config(t, "beta-search", "development")["rules"].([]any); len(rules) != 0 {
		t.Errorf("the invalid rule was saved: %v", rules)
	}
	tb.screenshot("invalid-rule", 1280)
	if errs := tb.pageErrors("400"); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

func TestBrowserConcurrentChangeConflict(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	s.createFlag(t, "dark-mode", "Dark mode", "")
	signIn(tb, s, "#/flags/dark-mode/env/staging")
	tb.do("edit", chromedp.WaitVisible(chromedp.CSS(`[data-action=add-rule]`)),
		chromedp.Click(chromedp.CSS(`[data-action=add-rule]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-field="rules[0].conditions[0].attribute"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[0].conditions[0].attribute"]`), "plan"),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[0].conditions[0].values"]`), "pro"))

	// A colleague (the API) changes the flag between load and save.
	s.mustCall(t, "POST", "/api/v1/flags/dark-mode/environments/staging/enabled", map[string]any{"enabled": true})

	tb.do("save", chromedp.Click(chromedp.CSS(`[data-action=save-config]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-conflict]`)))
	if got := tb.text(`[data-conflict]`); !strings.Contains(got, "Someone else changed this flag") {
		t.Errorf("conflict banner %q", got)
	}
	cfg := s.config(t, "dark-mode", "staging")
	if rules, _ := cfg["rules"].([]any); len(rules) != 0 || cfg["enabled"] != true {
		t.Errorf("the stale save overwrote the colleague's change: %v", cfg)
	}
	tb.screenshot("conflict", 1280)

	// Reload shows the colleague's change.
	tb.do("reload", chromedp.Click(chromedp.CSS(`[data-conflict] [data-action=reload]`)))
	tb.waitJS("reloaded state is on", `document.querySelector('#env-panel [data-state]')?.dataset.state === 'on' && !document.querySelector('[data-conflict]')`)
	if errs := tb.pageErrors("409"); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

func TestBrowserScriptInjectionShownAsText(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	name := `<img src=x onerror="window.__xss=1">`
	desc := `<script>window.__xss=2</script><b>bold</b>`
	s.createFlag(t, "xss-probe", name, desc)
	// An update puts the payload into audit data too.
	s.mustCall(t, "PUT", "/api/v1/flags/xss-probe", map[string]any{"key": "xss-probe", "name": name, "description": desc + " v2", "type": "boolean",
		"tags": []string{`"><svg onload="window.__xss=3">`}})

	signIn(tb, s, "#/flags")
	tb.waitText(`tr[data-flag="xss-probe"]`, name)
	tb.do("flag page", chromedp.Navigate(s.URL+"/#/flags/xss-probe"), chromedp.WaitVisible(chromedp.CSS(`h1[data-flag-key]`)))
	if got := tb.text(`h1[data-flag-key]`); got != name {
		t.Errorf("flag heading %q, want the payload as text %q", got, name)
	}
	if got := tb.text(`dd[data-description]`); got != desc+" v2" {
		t.Errorf("description %q, want the payload as text", got)
	}
	tb.do("history", chromedp.Navigate(s.URL+"/#/flags/xss-probe/history"), chromedp.WaitVisible(chromedp.CSS(`article.audit-entry`)))
	tb.waitText(`[data-history]`, `window.__xss=2`)
	tb.screenshot("script-injection", 1280)
	injected := eval[bool](tb, `window.__xss !== undefined || !!document.querySelector('img[src=x], script:not([src]), svg, b')`)
	if injected {
		t.Fatal("the payload became markup or ran")
	}
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// connectSDK starts an SDK provider with the token and waits until it has
// the environment. The environment is named too: the server's sync stream
// does not yet take it from an sdk token alone.
func connectSDK(t *testing.T, s *testServer, token string) *sdk.Provider {
	t.Helper()
	p, err := sdk.NewProvider(s.GRPCAddr, sdk.WithToken(token),
		sdk.WithServiceName("checkout"), sdk.WithInstanceID("checkout-1"))
	if err != nil {
		t.Fatalf("sdk provider: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatalf("sdk init: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.ShutdownWithContext(ctx)
	})
	return p
}

// TestBrowserSegmentsRulesKeyboard creates a segment in the UI, targets it
// from a rule, and reorders rules with the keyboard only.
func TestBrowserSegmentsRulesKeyboard(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	s.createFlag(t, "fast-search", "Fast search", "")
	signIn(tb, s, "#/segments")

	tb.do("new segment", chromedp.WaitVisible(chromedp.CSS(`[data-action=new-segment]`)),
		chromedp.Click(chromedp.CSS(`[data-action=new-segment]`)),
		chromedp.WaitVisible(chromedp.CSS(`form [data-field=key]`)),
		chromedp.SendKeys(chromedp.CSS(`form [data-field=key]`), "beta-testers"),
		chromedp.SendKeys(chromedp.CSS(`form [data-field=name]`), "Beta testers"),
		chromedp.SendKeys(chromedp.CSS(`form [data-field=included]`), "user-7\nuser-9"),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-segment=beta-testers]`)),
		chromedp.Click(chromedp.CSS(`[aria-label="Edit segment beta-testers"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#seg-title`)))
	tb.screenshot("segments", 1280)

	tb.do("flag", chromedp.Navigate(s.URL+"/#/flags/fast-search/env/development"),
		chromedp.WaitVisible(chromedp.CSS(`[data-action=add-rule]`)))
	// Rule 1: country in DE; rule 2: in segment beta-testers.
	tb.do("rule 1", chromedp.Click(chromedp.CSS(`[data-action=add-rule]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[0].description"]`), "Germany"),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[0].conditions[0].attribute"]`), "country"),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[0].conditions[0].values"]`), "DE"))
	tb.do("rule 2", chromedp.Click(chromedp.CSS(`[data-action=add-rule]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-field="rules[1].description"]`), "Beta testers"),
		chromedp.SetValue(chromedp.CSS(`[data-field="rules[1].conditions[0].operator"]`), "in_segment"),
		chromedp.WaitVisible(chromedp.CSS(`select[data-field="rules[1].conditions[0].values"]`)),
		chromedp.SetValue(chromedp.CSS(`select[data-field="rules[1].conditions[0].values"]`), "beta-testers"))

	// Keyboard only: focus "Move up" of rule 2 and press Enter; focus must
	// follow the rule to the top, where only "Move down" is left.
	tb.do("move up with the keyboard", chromedp.Focus(chromedp.CSS(`[data-action=up][data-rule="1"]`)), chromedp.KeyEvent("\r"))
	tb.waitJS("rule moved", `document.querySelector('[data-field="rules[0].description"]').value === 'Beta testers'`)
	if got := eval[string](tb, `document.activeElement.dataset.action + ':' + document.activeElement.dataset.rule`); got != "down:0" {
		t.Errorf("focus after moving up is on %q, want the moved rule's Move down button", got)
	}
	tb.do("save with the keyboard", chromedp.Focus(chromedp.CSS(`[data-action=save-config]`)), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`[data-saved]`)))
	cfg := s.config(t, "fast-search", "development")
	rules, _ := cfg["rules"].([]any)
	if len(rules) != 2 {
		t.Fatalf("saved rules: %v", cfg["rules"])
	}
	first, _ := rules[0].(map[string]any)
	conds, _ := first["conditions"].([]any)
	if first["description"] != "Beta testers" || len(conds) != 1 || conds[0].(map[string]any)["operator"] != "in_segment" {
		t.Errorf("first saved rule %v, want the segment rule", first)
	}
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// TestBrowserSearchAndStatusFilters checks the overview's search and its
// status filter, stale included: with a stale period of one millisecond
// every live flag nobody evaluates is stale, an archived one is not.
func TestBrowserSearchAndStatusFilters(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t, func(c *daemon.Config) { c.StaleAfter = time.Millisecond })
	s.createFlag(t, "old-banner", "Old banner", "")
	s.createFlag(t, "new-pricing", "New pricing", "")
	s.createFlag(t, "gone-promo", "Gone promo", "")
	s.mustCall(t, "POST", "/api/v1/flags/new-pricing/environments/staging/enabled", map[string]any{"enabled": true})
	s.mustCall(t, "POST", "/api/v1/flags/new-pricing/environments/staging/rollout", map[string]any{"percent": 30})
	s.mustCall(t, "POST", "/api/v1/flags/gone-promo/archive", map[string]any{"archived": true})
	time.Sleep(5 * time.Millisecond) // past the stale period

	signIn(tb, s, "#/flags")
	tb.do("table", chromedp.WaitVisible(chromedp.CSS(`tr[data-flag=old-banner]`)))
	shown := func() string {
		return eval[string](tb, `[...document.querySelectorAll('tr[data-flag]')].map((r) => r.dataset.flag).sort().join(',')`)
	}
	filter := func(status, env, query string) string {
		tb.t.Helper()
		tb.setValue(`select[name=status]`, status)
		tb.setValue(`select[name=env]`, env)
		tb.setValue(`input[name=q]`, query)
		return shown()
	}
	for _, c := range []struct{ status, env, query, want string }{
		{"", "", "", "new-pricing,old-banner"},
		{"", "", "pricing", "new-pricing"},
		{"", "", "TEST", "new-pricing,old-banner"}, // the tag, case-insensitive
		{"rolling", "", "", "new-pricing"},
		{"rolling", "production", "", ""},
		{"on", "staging", "", "new-pricing"},
		{"off", "", "", "old-banner"},
		{"archived", "", "", "gone-promo"},
		{"stale", "", "", "new-pricing,old-banner"},
		{"stale", "production", "banner", "old-banner"},
	} {
		if got := filter(c.status, c.env, c.query); got != c.want {
			t.Errorf("status %q, environment %q, search %q: shows %q, want %q", c.status, c.env, c.query, got, c.want)
		}
	}
	filter("stale", "", "")
	if got := tb.text(`tr[data-flag=old-banner] td[data-label=Status]`); !strings.Contains(got, "Stale") {
		t.Errorf("status cell %q lacks the stale badge", got)
	}
	tb.screenshot("flags-stale", 1280)
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// checkLabels fails the test for every visible control without an
// accessible name (a label, aria-label or aria-labelledby, or button text).
func (tb *tab) checkLabels(where string) {
	tb.t.Helper()
	missing := eval[[]string](tb, `[...document.querySelectorAll('input, select, textarea, button')]
		.filter((el) => el.offsetParent !== null)
		.filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') ||
			(el.tagName === 'BUTTON' && el.textContent.trim())))
		.map((el) => el.outerHTML.slice(0, 120))`)
	for _, m := range missing {
		tb.t.Errorf("%s: control without a label: %s", where, m)
	}
}

// TestBrowserStringFlagVariants creates a string flag with its variants in
// the UI, edits the definition, and rolls a variant out.
func TestBrowserStringFlagVariants(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	signIn(tb, s, "#/flags/new")
	tb.do("new string flag", chromedp.WaitVisible(chromedp.CSS(`input[name=key]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=key]`), "button-color"),
		chromedp.SetValue(chromedp.CSS(`select[name=type]`), "string"),
		chromedp.WaitVisible(chromedp.CSS(`[data-action=add-variant]`)),
		chromedp.Click(chromedp.CSS(`[data-action=add-variant]`)),
		chromedp.Click(chromedp.CSS(`[data-action=add-variant]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-field="variants[0].key"]`), "blue"),
		chromedp.SendKeys(chromedp.CSS(`[data-field="variants[0].value"]`), "#0000ff"),
		chromedp.SendKeys(chromedp.CSS(`[data-field="variants[1].key"]`), "green"),
		chromedp.SendKeys(chromedp.CSS(`[data-field="variants[1].value"]`), "#00ff00"))
	tb.checkLabels("new flag form")
	tb.do("create", chromedp.Click(chromedp.CSS(`form[aria-label="New flag"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1[data-flag-key]`)))
	flag := s.mustCall(t, "GET", "/api/v1/flags/button-color", nil)["flag"].(map[string]any)
	if vs, _ := flag["variants"].([]any); len(vs) != 2 || vs[1].(map[string]any)["value"] != "#00ff00" {
		t.Fatalf("variants %v", flag["variants"])
	}
	tb.do("edit definition", chromedp.Click(chromedp.CSS(`[data-action=edit-definition]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-action=save-definition]`)),
		chromedp.SendKeys(chromedp.CSS(`form [data-field=owner]`), "team-web"),
		chromedp.Click(chromedp.CSS(`[data-action=save-definition]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-action=edit-definition]`)))
	tb.waitText(`dl.def`, "team-web")
	tb.do("roll green out in development",
		chromedp.Click(chromedp.CSS(`[data-action=toggle][data-env=development]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-state=on]`)),
		chromedp.SetValue(chromedp.CSS(`select[name=rollout-variant]`), "green"),
		chromedp.SetValue(chromedp.CSS(`select[name=rollout-rest]`), "blue"))
	tb.setValue(`input[name=percent-number]`, "40")
	tb.do("apply", chromedp.Click(chromedp.CSS(`[data-action=apply-rollout]`)))
	tb.waitText(`[data-env-tab=development]`, "40% green")
	cfg := s.config(t, "button-color", "development")
	split, _ := cfg["defaultServe"].(map[string]any)["split"].(map[string]any)
	ws, _ := split["weights"].([]any)
	if len(ws) != 2 || ws[0].(map[string]any)["variant"] != "green" {
		t.Errorf("default serve %v, want green first in a split", cfg["defaultServe"])
	}
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

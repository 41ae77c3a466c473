package adminui_test

// This file is the harness of the browser tests: one headless Chromium per
// test binary (Debian's /usr/bin/chromium), a fresh browser context (own
// cookies) per test, bounded timeouts, a recorder of page errors, and
// screenshots written to admin-ui/screenshots.

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	adminui "github.com/flagpole/flagpole/admin-ui"
)

// browserTimeout bounds one browser test from first navigation to last
// check; stepTimeout bounds each step, so a missing element fails fast.
const (
	browserTimeout = 90 * time.Second
	stepTimeout    = 15 * time.Second
)

var browser struct {
	once    sync.Once
	ctx     context.Context
	cancel  []context.CancelFunc
	err     error
	dataDir string
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(browser.cancel) - 1; i >= 0; i-- {
		browser.cancel[i]()
	}
	if browser.dataDir != "" {
		os.RemoveAll(browser.dataDir)
	}
	os.Exit(code)
}

// chromiumPath finds the browser: $CHROMIUM, then Debian's chromium.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// startBrowser launches the one browser of this test binary.
func startBrowser() {
	path := chromiumPath()
	if path == "" {
		browser.err = fmt.Errorf("chromium not found (install Debian's chromium package or set CHROMIUM)")
		return
	}
	dir, err := os.MkdirTemp("", "flagpole-chromium-")
	if err != nil {
		browser.err = err
		return
	}
	browser.dataDir = dir
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	browser.cancel = append(browser.cancel, cancelAlloc, cancelBrowser)
	// The first Do starts the browser and ties it to ctx, so it must not run
	// with a shorter-lived context.
	if err := chromedp.Do(ctx); err != nil {
		browser.err = fmt.Errorf("start chromium: %w", err)
		return
	}
	browser.ctx = ctx
}

// tab is one test's page in its own browser context, with the console
// errors, exceptions and browser log errors the page reported.
type tab struct {
	ctx    context.Context
	t      *testing.T
	mu     sync.Mutex
	errors []string
}

// newTab opens a page in a fresh browser context (own cookies). It skips the
// test when there is no Chromium and CI is unset; in CI it fails instead.
func newTab(t *testing.T) *tab {
	t.Helper()
	browser.once.Do(startBrowser)
	if browser.err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("browser test skipped: %v (CI unset; in CI this fails)", browser.err)
		}
		t.Fatalf("browser test cannot run: %v", browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, browserTimeout)
	tb := &tab{ctx: ctx, t: t}
	// One locale and time zone wherever the tests run, so times read alike
	// (and steadyPage finds them).
	steady := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en_US"}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"})
		return err
	})
	if err := chromedp.Do(ctx, steady); err != nil {
		cancelTimeout()
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				tb.record(fmt.Sprintf("%s %s", m, m.URL))
			}
		}
	}()
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		<-done
	})
	return tb
}

func (tb *tab) record(s string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.errors = append(tb.errors, s)
}

// pageErrors returns the errors recorded so far, minus those expected
// (substring match): an API answering 4xx by design logs a failed resource.
func (tb *tab) pageErrors(expected ...string) []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
next:
	for _, e := range tb.errors {
		for _, x := range expected {
			if strings.Contains(e, x) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// do runs steps and fails the test naming step on error.
func (tb *tab) do(step string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v\npage errors: %q%s", step, err, tb.pageErrors(), tb.failureShot())
	}
}

// failureShot saves the page as it was when a step failed, for the log.
func (tb *tab) failureShot() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return ""
	}
	name := filepath.Join(os.TempDir(), fmt.Sprintf("flagpole-ui-%s-%d.png", strings.ReplaceAll(tb.t.Name(), "/", "_"), time.Now().UnixNano()))
	if os.WriteFile(name, png, 0o644) != nil {
		return ""
	}
	return "\nscreenshot of the failure: " + name
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// text returns the text content of the first visible node matching sel.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		tb.t.Fatalf("read %s: %v\npage errors: %q", sel, err, tb.pageErrors())
	}
	return s
}

// waitJS waits until a JavaScript expression is truthy.
func (tb *tab) waitJS(step, expr string) {
	tb.t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		tb.t.Fatalf("%s: %v\npage errors: %q%s", step, err, tb.pageErrors(), tb.failureShot())
	}
}

// waitText waits until the first node matching sel contains want.
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	tb.waitJS(fmt.Sprintf("wait for %q in %s", want, sel), fmt.Sprintf(
		`(() => { const el = document.querySelector(%q); return !!el && el.textContent.includes(%q); })()`, sel, want))
}

// steadyPage makes the page look the same on every run while a screenshot
// is taken: times (en-US, as newTab sets the locale) read 1/2/2030,
// 3:04:05 PM, token secrets are x'd out and the toast, whose presence
// depends on timing, is hidden. unsteadyPage puts everything back, so the
// test goes on with the real page. The screenshots in git then change only
// when the UI does.
const (
	steadyPage = `(() => {
  const time = /\d{1,2}\/\d{1,2}\/\d{4}, \d{1,2}:\d{2}:\d{2}\s?[AP]M/g;
  const secret = /fp_(sdk|ci|admin)_[A-Za-z0-9]{16,}/g;
  const changed = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const v = n.nodeValue.replace(time, '1/2/2030, 3:04:05 PM')
      .replace(secret, (m, scope) => 'fp_' + scope + '_' + 'x'.repeat(m.length - scope.length - 4));
    if (v !== n.nodeValue) { changed.push([n, n.nodeValue]); n.nodeValue = v; }
  }
  const toast = document.getElementById('toast');
  if (toast) { toast.style.visibility = 'hidden'; }
  window.__unsteady = () => {
    for (const [n, v] of changed) n.nodeValue = v;
    if (toast) { toast.style.visibility = ''; }
  };
  return true;
})()`
	unsteadyPage = `(() => { if (window.__unsteady) { window.__unsteady(); delete window.__unsteady; } return true; })()`
)

// screenshot writes the full page as admin-ui/screenshots/NAME.png at the
// given viewport width, then restores 1280 × 900.
func (tb *tab) screenshot(name string, width int64) {
	tb.t.Helper()
	tb.do("resize for "+name, chromedp.EmulateViewport(width, 900), chromedp.Sleep(150*time.Millisecond))
	eval[bool](tb, steadyPage)
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	eval[bool](tb, unsteadyPage)
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	tb.do("restore viewport", chromedp.EmulateViewport(1280, 900))
	if err := os.MkdirAll("screenshots", 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("screenshots", name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// TestBrowserShellLoadsUnderCSP serves only the UI (no API behind it): the
// modules must load and run under the CSP and fall back to the sign-in
// screen when the API does not answer.
func TestBrowserShellLoadsUnderCSP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(adminui.Handler())
	t.Cleanup(srv.Close)
	tb := newTab(t)
	tb.do("open", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`form.signin`)))
	if got := tb.text("h1"); got != "Sign in to Flagpole" {
		t.Errorf("heading %q", got)
	}
	labelled := eval[bool](tb, `[...document.querySelectorAll('input,select,textarea,button')].every(el =>
		el.type === 'hidden' || el.labels?.length > 0 || el.getAttribute('aria-label') || el.textContent.trim())`)
	if !labelled {
		t.Error("a control has no label")
	}
	// The API is absent here: its 404 must be seen (the recorder works) and
	// be the only error.
	deadline := time.Now().Add(5 * time.Second)
	for len(tb.pageErrors()) == len(tb.pageErrors("404")) {
		if time.Now().After(deadline) {
			t.Fatalf("the error recorder missed the API's 404; saw %q", tb.pageErrors())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if errs := tb.pageErrors("404"); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

package adminui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserTokenDelete: a revoked token is deleted from the tokens page
// after a confirmation that takes a comment (the audit entry keeps it); a
// token that still works cannot be deleted there, and says why.
func TestBrowserTokenDelete(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	for _, name := range []string{"old-deploy", "live-deploy"} {
		s.mustCall(t, "POST", "/api/v1/tokens", map[string]any{"name": name, "scope": "ci", "environments": []string{"development"}})
	}
	s.mustCall(t, "POST", "/api/v1/tokens/old-deploy/revoke", map[string]any{})
	signIn(tb, s, "#/tokens")
	tb.do("tokens", chromedp.WaitVisible(chromedp.CSS(`[data-delete-token=old-deploy]`)))
	live := eval[map[string]any](tb, `(() => { const b = document.querySelector('[data-delete-token=live-deploy]'); return { disabled: b.disabled, title: b.title }; })()`)
	if live["disabled"] != true || !strings.Contains(live["title"].(string), "revoke it first") {
		t.Errorf("delete of a working token: %v, want disabled with the reason", live)
	}
	tb.do("delete", chromedp.Click(chromedp.CSS(`[data-delete-token=old-deploy]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] textarea[data-change-comment=optional]`)),
		chromedp.SendKeys(chromedp.CSS(`dialog[open] textarea`), "replaced by live-deploy"),
		chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)))
	tb.waitJS("gone from the list", `!document.querySelector('tr[data-token=old-deploy]') && !!document.querySelector('tr[data-token=live-deploy]')`)
	for _, tok := range s.mustCall(t, "GET", "/api/v1/tokens?includeRevoked=true", nil)["tokens"].([]any) {
		if tok.(map[string]any)["name"] == "old-deploy" {
			t.Errorf("old-deploy still exists: %v", tok)
		}
	}
	entries := s.mustCall(t, "GET", "/api/v1/audit?resource=token&key=old-deploy", nil)["entries"].([]any)
	if len(entries) == 0 || entries[0].(map[string]any)["action"] != "token.delete" || entries[0].(map[string]any)["comment"] != "replaced by live-deploy" {
		t.Errorf("newest audit entry of old-deploy: %v, want token.delete with the comment", entries)
	}
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

package adminui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserChangeComments: an admin makes production require a comment
// on the environments page (the dialog takes an optional comment); a
// toggle there then asks with a comment field marked required, refuses to
// confirm without one (nothing is written), and sends the comment typed,
// which the flag's history and the audit page show; the audit page's actor
// filter works on the server.
func TestBrowserChangeComments(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	s.createFlag(t, "commented", "Commented", "")
	signIn(tb, s, "#/environments")
	tb.do("require comments", chromedp.WaitVisible(chromedp.CSS(`#req-production`)),
		chromedp.Click(chromedp.CSS(`#req-production`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] textarea[data-change-comment=optional]`)),
		chromedp.SendKeys(chromedp.CSS(`dialog[open] textarea`), "SOX: every production change says why"),
		chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)))
	tb.waitJS("toast", `document.getElementById('toast').textContent.includes('requires a comment')`)
	if env := s.mustCall(t, "GET", "/api/v1/environments/production", nil)["environment"].(map[string]any); env["requireComment"] != true {
		t.Fatalf("production after the checkbox: %v, want requireComment", env)
	}

	rev := s.config(t, "commented", "production")["revision"]
	tb.do("flag page", chromedp.Navigate(s.URL+"/#/flags/commented/env/production"),
		chromedp.WaitVisible(chromedp.CSS(`[data-action=toggle][data-env=production]`)),
		chromedp.Click(chromedp.CSS(`[data-action=toggle][data-env=production]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] textarea[data-change-comment=required]`)))
	if label := tb.text(`dialog[open] label`); label != "Comment (required)" {
		t.Errorf("comment label %q, want the required marker", label)
	}
	if req := eval[string](tb, `document.querySelector('dialog[open] textarea').getAttribute('aria-required')`); req != "true" {
		t.Errorf("aria-required %q", req)
	}
	tb.do("confirm without a comment", chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)))
	tb.waitJS("the field says a comment is required", `(() => {
		const err = document.querySelector('dialog[open] .field-error');
		return err && !err.hidden && err.textContent.includes('required');
	})()`)
	if got := s.config(t, "commented", "production")["revision"]; got != rev {
		t.Errorf("a change without the required comment was sent: revision %v, was %v", got, rev)
	}
	const why = "INC-4711: <b>fixed</b>, 100% café ✓"
	tb.do("comment", chromedp.SendKeys(chromedp.CSS(`dialog[open] textarea`), why))
	tb.screenshot("change-comment", 1280)
	tb.do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)))
	tb.waitJS("toggled", `document.getElementById('toast').textContent.includes('is on in production')`)
	entries := s.mustCall(t, "GET", "/api/v1/audit?flagKey=commented&environment=production", nil)["entries"].([]any)
	if len(entries) == 0 || entries[0].(map[string]any)["comment"] != why {
		t.Fatalf("newest production entry: %v, want the comment %q", entries, why)
	}

	tb.do("history", chromedp.Navigate(s.URL+"/#/flags/commented/history"), chromedp.WaitVisible(chromedp.CSS(`[data-comment]`)))
	if got := tb.text(`[data-comment]`); !strings.Contains(got, why) {
		t.Errorf("history comment %q, want %q", got, why)
	}
	if n := eval[int](tb, `document.querySelectorAll('[data-comment] b').length`); n != 0 {
		t.Errorf("the comment's markup became %d elements", n)
	}

	tb.do("audit", chromedp.Navigate(s.URL+"/#/audit"), chromedp.WaitVisible(chromedp.CSS(`article.audit-entry`)))
	tb.waitText(`[data-audit]`, why)
	tb.do("filter actor admin", chromedp.SendKeys(chromedp.CSS(`input[name=actor]`), "admin"),
		chromedp.Click(chromedp.CSS(`[data-action=filter-audit]`)))
	tb.waitJS("only admin's entries", `document.querySelectorAll('article.audit-entry').length > 0 &&
		[...document.querySelectorAll('[data-audit-meta]')].every((m) => m.textContent.includes('· admin '))`)
	// "adm" is no actor's name: the server filters by the exact name.
	tb.do("filter actor adm", chromedp.SetValue(chromedp.CSS(`input[name=actor]`), "adm"),
		chromedp.Click(chromedp.CSS(`[data-action=filter-audit]`)))
	tb.waitText(`[aria-live=polite]`, "0 entries")
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// TestBrowserCommentOnFormChanges: changes made through a form rather than
// a confirm dialog (a flag's definition here; flag create and segment save
// use the same field) carry the optional comment into the audit trail.
func TestBrowserCommentOnFormChanges(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	s.createFlag(t, "formed", "Formed", "")
	signIn(tb, s, "#/flags/formed")
	const why = "owner moves to the web team (JIRA-12)"
	tb.do("edit definition", chromedp.WaitVisible(chromedp.CSS(`[data-action=edit-definition]`)),
		chromedp.Click(chromedp.CSS(`[data-action=edit-definition]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-action=save-definition]`)),
		chromedp.SendKeys(chromedp.CSS(`form [data-field=owner]`), "team-web"),
		chromedp.SendKeys(chromedp.CSS(`form [data-field=comment]`), why))
	tb.checkLabels("definition form")
	tb.do("save", chromedp.Click(chromedp.CSS(`[data-action=save-definition]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-action=edit-definition]`)))
	entries := s.mustCall(t, "GET", "/api/v1/audit?flagKey=formed", nil)["entries"].([]any)
	if len(entries) == 0 || entries[0].(map[string]any)["comment"] != why {
		t.Fatalf("newest entry of formed: %v, want the comment %q", entries, why)
	}
}

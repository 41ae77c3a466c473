package adminui_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserRuleEditorRemoveReorder: on a flag with three targeting rules,
// deleting the middle one and moving the last to the top is saved as
// exactly that order; the rules the SDKs get are the ones the page showed.
func TestBrowserRuleEditorRemoveReorder(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	s := startServer(t)
	s.createFlag(t, "ruled", "Ruled", "")
	rule := func(desc, country string) map[string]any {
		return map[string]any{"description": desc, "serve": map[string]any{"variant": "on"},
			"conditions": []map[string]any{{"attribute": "country", "operator": "in", "values": []string{country}}}}
	}
	s.putConfig(t, "ruled", "staging", map[string]any{"enabled": true, "offVariant": "off", "defaultServe": map[string]any{"variant": "off"},
		"rules": []map[string]any{rule("Dutch", "NL"), rule("Belgian", "BE"), rule("German", "DE")}})
	signIn(tb, s, "#/flags/ruled/env/staging")
	tb.do("rules", chromedp.WaitVisible(chromedp.CSS(`[data-action=delete-rule][data-rule="2"]`)))
	tb.do("delete Belgian", chromedp.Click(chromedp.CSS(`[data-action=delete-rule][data-rule="1"]`)))
	tb.waitJS("two rules left", `document.querySelectorAll('fieldset.rule').length === 2`)
	tb.do("German to the top", chromedp.Click(chromedp.CSS(`[data-action=up][data-rule="1"]`)))
	tb.waitJS("German first", `document.querySelector('[data-field="rules[0].description"]').value === 'German'`)
	tb.do("save", chromedp.Click(chromedp.CSS(`[data-action=save-config]`)), chromedp.WaitVisible(chromedp.CSS(`[data-saved]`)))
	var got []string
	for _, r := range s.config(t, "ruled", "staging")["rules"].([]any) {
		got = append(got, r.(map[string]any)["description"].(string))
	}
	if len(got) != 2 || got[0] != "German" || got[1] != "Dutch" {
		t.Errorf("saved rules %v, want German, Dutch", got)
	}
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

package adminui_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/webhook"
)

// TestBrowserWebhooks creates a webhook on the admin-only Webhooks page
// (its secret shown once), makes a change the receiver refuses, and sees
// the delivery marked failed; the test button reports the answer.
func TestBrowserWebhooks(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer receiver.Close()
	s := startServer(t, func(c *daemon.Config) {
		c.Webhooks = webhook.Options{Attempts: 1, Backoff: time.Millisecond, Poll: 20 * time.Millisecond}
	})
	signIn(tb, s, "")
	tb.waitJS("webhooks link shown to the admin", `!document.querySelector('[data-nav=webhooks]').closest('li').hidden`)
	tb.do("webhooks", chromedp.Navigate(s.URL+"/#/webhooks"), chromedp.WaitVisible(chromedp.CSS(`[data-action=create-webhook]`)))
	tb.do("create webhook",
		chromedp.SendKeys(chromedp.CSS(`form [data-field=url]`), receiver.URL+"/hook"),
		chromedp.Click(chromedp.CSS(`[id="wh-kind-flag.changed"]`)),
		chromedp.Click(chromedp.CSS(`[data-action=create-webhook]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-secret]`)))
	if secret := tb.text(`[data-secret]`); !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	s.createFlag(t, "hooked", "Hooked", "")
	// The one attempt fails; wait for the server to record it before the
	// page reads the deliveries.
	deadline := time.Now().Add(20 * time.Second)
	for {
		list := s.mustCall(t, "GET", "/api/v1/webhook-deliveries?state=failed", nil)
		if ds, _ := list["deliveries"].([]any); len(ds) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed delivery recorded: %v", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.do("reload", chromedp.Navigate(s.URL+"/#/flags"), chromedp.Navigate(s.URL+"/#/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-webhook]`)))
	tb.waitJS("a failed delivery marked", `document.querySelectorAll('tr[data-state=failed]').length >= 1`)
	tb.waitText(`tr[data-state=failed]`, "FAILED")
	tb.do("test", chromedp.Click(chromedp.CSS(`tr[data-webhook] button[aria-label^="Test"]`)))
	tb.waitText(`.banner`, "500")
}

package adminui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/sqlite"
)

// TestBrowserUsageChartWeek: the flag page's chart shows the last day per
// hour, and after the toggle the last 7 days per day, from the hourly
// counts the server keeps (here: three days ago and an hour ago, written
// to the database as the usage aggregator would).
func TestBrowserUsageChartWeek(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	var dbPath string
	s := startServer(t, func(c *daemon.Config) { dbPath = c.DBPath })
	s.createFlag(t, "weekly", "Weekly", "")
	db, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	count := func(ago time.Duration, variant string, n int64) server.UsageCount {
		at := now.Add(-ago)
		return server.UsageCount{Environment: "production", FlagKey: "weekly", Service: "shop", Variant: variant,
			Hour: at.Truncate(time.Hour), Count: n, First: at, Last: at}
	}
	err = db.AddUsage(context.Background(), []server.UsageCount{
		count(72*time.Hour, "on", 40), count(72*time.Hour, "off", 10), count(time.Hour, "on", 5),
	}, now.Add(-server.UsageRetention))
	if err != nil {
		t.Fatal(err)
	}

	signIn(tb, s, "#/flags/weekly/env/production")
	tb.do("day chart", chromedp.WaitVisible(chromedp.CSS(`[data-usage-chart=day] svg rect`)))
	label := func(span string) string {
		return eval[string](tb, `document.querySelector('[data-usage-chart=`+span+`] svg').getAttribute('aria-label')`)
	}
	if got := label("day"); !strings.Contains(got, "per hour over the last day: 5 in all (on 5)") {
		t.Errorf("day chart label %q, want the last day's 5", got)
	}
	if pressed := eval[string](tb, `document.querySelector('[data-chart-span=day]').getAttribute('aria-pressed')`); pressed != "true" {
		t.Errorf("day button aria-pressed %q", pressed)
	}
	tb.do("week", chromedp.Click(chromedp.CSS(`[data-chart-span=week]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-usage-chart=week] svg rect`)))
	if got := label("week"); !strings.Contains(got, "per day over the last 7 days: 55 in all (off 10, on 45)") {
		t.Errorf("week chart label %q, want 55 with off 10 and on 45", got)
	}
	// One bar per variant and day with counts: off and on three days ago,
	// on an hour ago (today or, just after midnight, yesterday).
	if n := eval[int](tb, `document.querySelectorAll('[data-usage-chart=week] svg.usage-chart rect').length`); n != 3 {
		t.Errorf("week chart has %d bars, want 3", n)
	}
	tb.screenshot("flag-usage-week", 1280)
	tb.do("back to day", chromedp.Click(chromedp.CSS(`[data-chart-span=day]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-usage-chart=day] svg rect`)))
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

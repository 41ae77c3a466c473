package cli

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestEvidenceWords(t *testing.T) {
	for _, c := range []struct{ evidence, want string }{
		{`{"verdict":"regressed","measure":"mean","event":"http.server.request.duration","step":1,"statistic":860.6,"threshold":4.094,"limit":0.00295,
		   "control":{"samples":740,"mean":0.002459,"stddev":0.000216},"new":{"samples":223,"mean":0.004692,"stddev":0.000433}}`,
			"regressed, mean of http.server.request.duration: new mean 0.004692 (n 223, stddev 0.000433) vs control mean 0.002459 (n 740, stddev 0.000216); tolerated up to 0.00295; statistic 860.6 ≥ threshold 4.094 (step 1)"},
		{`{"verdict":"passing","event":"error","step":3,"baseline":true,"statistic":-1,"threshold":4.6,"limit":0.0131,
		   "control":{"samples":50000,"events":500,"rate":0.01},"new":{"samples":100000,"events":1000,"rate":0.01}}`,
			"passing, rate of error: new 1% (1000 events of 100000) vs baseline (the step before) 1% (500 events of 50000); tolerated up to 1.31%; statistic -1 < threshold 4.6 (step 3)"},
		{`{"verdict":"waiting","reason":"waiting for 500 observations per variant"}`, ""},
		{`{"reason":"plan started"}`, ""},
	} {
		var v any
		if err := json.Unmarshal([]byte(c.evidence), &v); err != nil {
			t.Fatal(err)
		}
		if got := evidenceWords(v); got != c.want {
			t.Errorf("evidenceWords(%s) =\n%s\nwant\n%s", c.evidence, got, c.want)
		}
	}
}

func TestParseGuard(t *testing.T) {
	for in, want := range map[string]string{
		"error<=1.2x":             "error GUARD_MEASURE_UNSPECIFIED 1.2 0",
		"rate(error)<=1.2x,+0.5%": "error GUARD_MEASURE_RATE 1.2 0.005",
		"mean(http.server.request.duration)<=1.2x,+0.05": "http.server.request.duration GUARD_MEASURE_MEAN 1.2 0.05",
		"mean(latency)<=+0.05":                           "latency GUARD_MEASURE_MEAN 0 0.05",
	} {
		g, err := parseGuard(in)
		if err != nil {
			t.Errorf("parseGuard(%q): %v", in, err)
			continue
		}
		if got := fmt.Sprint(g.GetEvent(), " ", g.GetMeasure(), " ", g.GetMaxRatio(), " ", g.GetMaxDiff()); got != want {
			t.Errorf("parseGuard(%q) = %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"mean(latency<=1.2x", "mean()<=1.2x", "mean(latency)<=+5%", "mean(latency)<=1.2", "median(latency)<=1.2x", "rate(error)<=0.05"} {
		if _, err := parseGuard(bad); err == nil {
			t.Errorf("parseGuard(%q) accepted", bad)
		}
	}
}

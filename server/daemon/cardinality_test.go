package daemon_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/testkit"
)

// TestUnknownFlagKeysAddNoSeries asks a real server for flags that do not
// exist, with an sdk token over OFREP and gRPC, and checks that /metrics
// keeps the same number of series however many distinct keys are asked
// (issue 11 F6), while the evaluations are still counted.
func TestUnknownFlagKeysAddNoSeries(t *testing.T) {
	t.Parallel()
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.UsageFlushInterval = time.Hour // no flush series appears between the scrapes
	srv := daemon.New(cfg)
	admin := clientsOf(start(t, srv))
	ctx := context.Background()
	testkit.Must(admin.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "checkout", Type: "boolean"}}))(t)
	tok := testkit.Must(pb.NewTokenServiceClient(dialAs(t, srv, testAdminToken)).CreateToken(ctx,
		&pb.CreateTokenRequest{Name: "svc", Scope: "sdk", Environments: []string{"production"}}))(t).GetSecret()
	eval := pb.NewEvaluationServiceClient(dialAs(t, srv, tok))
	base := "http://" + srv.HTTPAddr().String()

	ask := func(key string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/ofrep/v1/evaluate/flags/"+key, strings.NewReader(`{"context":{"targetingKey":"u"}}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("OFREP %s: status %d, want 404", key, resp.StatusCode)
		}
		r := testkit.Must(eval.Evaluate(ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: key, TargetingKey: "u"}))(t)
		if r.GetEvaluation().GetErrorCode() != "FLAG_NOT_FOUND" {
			t.Fatalf("gRPC %s: %v, want FLAG_NOT_FOUND", key, r.GetEvaluation())
		}
	}
	series := func() (n int, byFlag map[string]float64) {
		byFlag = map[string]float64{}
		for _, fam := range scrapeMetrics(t, base) {
			n += len(fam.GetMetric())
			if fam.GetName() == "flagpole_remote_evaluations_total" {
				for _, m := range fam.GetMetric() {
					byFlag[labelOf(m, "source")+" "+labelOf(m, "flag")] += m.GetCounter().GetValue()
				}
			}
		}
		return n, byFlag
	}

	ask("missing-0")
	testkit.Must(eval.Evaluate(ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "checkout", TargetingKey: "u"}))(t)
	before, _ := series()
	const n = 200
	for i := 1; i <= n; i++ {
		ask(fmt.Sprintf("missing-%d", i))
	}
	after, byFlag := series()
	if after != before {
		t.Errorf("/metrics grew from %d to %d series after %d unknown flag keys", before, after, n)
	}
	var asLabel []string
	for flag := range byFlag {
		if strings.Contains(flag, "missing-") {
			asLabel = append(asLabel, flag)
		}
	}
	if len(asLabel) > 0 {
		t.Errorf("%d unknown keys are label values of flagpole_remote_evaluations_total, e.g. %q", len(asLabel), asLabel[0])
	}
	for _, source := range []string{"ofrep", "grpc"} {
		if got := byFlag[source+" _unknown"]; got != n+1 {
			t.Errorf("%s evaluations of unknown flags counted %v under flag=_unknown, want %d", source, got, n+1)
		}
	}
	if got := byFlag["grpc checkout"]; got != 1 {
		t.Errorf("grpc evaluations of checkout counted %v, want 1", got)
	}
}

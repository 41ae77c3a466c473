package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/httpsignals"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/testkit"
)

// TestHTTPSignalsMiddleware runs a real HTTP service wrapped by the SDK's
// httpsignals middleware, with a real SDK connected to the real server: a
// guarded flag serves half the users "on", the service fails every other
// request of those users with a 500, and the server's stored signals count
// exactly those errors under "on", none under "off", and every request's
// duration under the variant the user was served.
func TestHTTPSignalsMiddleware(t *testing.T) {
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.UsageFlushInterval = 100 * time.Millisecond // signals are stored as often
	srv := daemon.New(cfg)
	conn := start(t, srv)
	ctx := context.Background()
	if _, _, err := srv.Service.CreateFlag(ctx, engine.Flag{Key: "checkout", Type: engine.TypeBoolean}); err != nil {
		t.Fatal(err)
	}
	fc, err := srv.Service.ReplaceConfig(ctx, "production", "checkout", engine.Config{
		Enabled: true, OffVariant: "off", Guarded: true,
		Default: engine.Serve{Split: &engine.Split{Weights: []engine.Weight{{Variant: "on", Weight: 50}, {Variant: "off", Weight: 50}}}},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	tok := testkit.Must(pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{
		Name: "shop", Scope: "sdk", Environments: []string{"production"}}))(t).GetSecret()
	p, err := sdk.NewProvider(srv.GRPCAddr().String(), sdk.WithToken(tok),
		sdk.WithTrackFlushInterval(50*time.Millisecond), sdk.WithInitTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	const domain = "httpsignals-test" // not the global provider other tests may set
	if err := openfeature.SetNamedProviderWithContextAndWait(ctx, domain, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	waitFor(t, "the SDK at the guarded configuration", func() bool { return p.Revision() >= fc.Revision })
	flags := openfeature.NewClient(domain)

	// The service: /checkout?user=N, the new flow fails for odd N.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		evalCtx := openfeature.NewEvaluationContext(user, nil)
		httpsignals.SetContext(r.Context(), evalCtx)
		n, _ := strconv.Atoi(user)
		if flags.Boolean(r.Context(), "checkout", false, evalCtx) && n%2 == 1 {
			http.Error(w, "new checkout failed", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	svc := httptest.NewServer(httpsignals.Wrap(mux, flags))
	defer svc.Close()

	requests, errs := map[string]int64{}, map[string]int64{}
	for n := range 400 {
		resp, err := http.Get(svc.URL + "/checkout?user=" + strconv.Itoa(n))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		variant := "off"
		if p.BooleanEvaluation(ctx, "checkout", false, openfeature.FlattenedContext{"targetingKey": strconv.Itoa(n)}).Value {
			variant = "on"
		}
		requests[variant]++
		if resp.StatusCode == http.StatusInternalServerError {
			errs[variant]++
		}
	}
	if requests["on"] < 100 || requests["off"] < 100 || errs["on"] < 50 || errs["off"] != 0 {
		t.Fatalf("the service answered %v requests with %v errors per variant; want both variants served and only on failing", requests, errs)
	}

	signals := pb.NewSignalServiceClient(conn)
	var got map[string]map[string]int64 // event → variant → count
	var sums map[string]float64         // variant → duration sum
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := testkit.Must(signals.ListSignals(ctx, &pb.ListSignalsRequest{Environment: "production", FlagKey: "checkout",
			StartTime: timestamppb.New(time.Now().Add(-time.Hour))}))(t)
		got, sums = map[string]map[string]int64{}, map[string]float64{}
		for _, e := range r.GetEvents() {
			if got[e.GetEvent()] == nil {
				got[e.GetEvent()] = map[string]int64{}
			}
			got[e.GetEvent()][e.GetVariant()] += e.GetCount()
			if e.GetEvent() == httpsignals.DurationEvent {
				sums[e.GetVariant()] += e.GetSum()
			}
		}
		dur, failed := got[httpsignals.DurationEvent], got[httpsignals.ErrorEvent]
		if dur["on"] == requests["on"] && dur["off"] == requests["off"] && failed["on"] == errs["on"] && failed["off"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored signals %v; want %s %v and %s %v", got, httpsignals.ErrorEvent, errs, httpsignals.DurationEvent, requests)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if sums["on"] <= 0 || sums["off"] <= 0 || sums["on"] > 10*float64(requests["on"]) {
		t.Errorf("duration sums %v seconds for %v requests: want the handlers' time", sums, requests)
	}
}

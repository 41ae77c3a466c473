package service_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

// TestChangeComments: a change's comment lands in each of its audit
// entries; an environment that requires one refuses changes without it
// (field "comment", naming the environment), writing nothing; setting and
// lifting the requirement need a comment once it holds; changes the server
// makes itself need none.
func TestChangeComments(t *testing.T) {
	f := newFixture(t)
	admin := server.NewContextWithActor(f.ctx, server.Actor{Kind: "user", Name: "ada", Source: "api"})
	with := func(comment string) *fixture {
		g := *f
		g.ctx = server.NewContextWithComment(admin, comment)
		return &g
	}
	if _, _, err := f.svc.CreateFlag(with("for the checkout launch").ctx, engine.Flag{Key: "beta", Type: engine.TypeBoolean}); err != nil {
		t.Fatal(err)
	}
	if got := f.audit()[0]; got.Action != "flag.create" || got.Comment != "for the checkout launch" {
		t.Fatalf("newest entry %s with comment %q, want flag.create with the comment", got.Action, got.Comment)
	}

	prod, err := f.svc.GetEnvironment(f.ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	prod.RequireComment = true
	wantRefused := func(what string, fn func() error) {
		t.Helper()
		err := f.unchanged(fn)
		var e *server.Error
		if !errors.As(err, &e) || e.Code != server.EINVALID || e.Field != "comment" || !strings.Contains(e.Message, `"production"`) {
			t.Errorf("%s: %v, want invalid comment naming production", what, err)
		}
	}
	wantRefused("requiring comments without one", func() error {
		_, err := f.svc.UpdateEnvironment(admin, prod)
		return err
	})
	if _, err := f.svc.UpdateEnvironment(with("SOX: say why").ctx, prod); err != nil {
		t.Fatal(err)
	}

	wantRefused("toggle in production without a comment", func() error {
		_, err := f.svc.SetEnabled(admin, "production", "beta", true, 0)
		return err
	})
	if _, err := f.svc.SetEnabled(admin, "staging", "beta", true, 0); err != nil {
		t.Errorf("staging needs no comment: %v", err)
	}
	if _, err := f.svc.SetEnabled(with("INC-12 fixed").ctx, "production", "beta", true, 0); err != nil {
		t.Fatal(err)
	}
	if got := f.audit()[0]; got.Environment != "production" || got.Comment != "INC-12 fixed" {
		t.Errorf("newest entry in %q with comment %q, want production, INC-12 fixed", got.Environment, got.Comment)
	}
	system := server.NewContextWithActor(f.ctx, server.Actor{Kind: server.System.Kind, Source: server.System.Source, Name: "plan 1"})
	if _, err := f.svc.SetEnabled(system, "production", "beta", false, 0); err != nil {
		t.Errorf("the server's own change needs no comment: %v", err)
	}

	// A release plan: a person creates and cancels it (with a comment),
	// its steps are the server's and need none.
	wantRefused("release plan without a comment", func() error {
		_, err := f.svc.CreatePlan(admin, service.PlanRequest{FlagKey: "beta", Environment: "production", Steps: release(10, 100)})
		return err
	})
	p, err := f.svc.CreatePlan(with("ramp after INC-12").ctx, service.PlanRequest{FlagKey: "beta", Environment: "production", Steps: release(10, 100)})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = f.svc.AdvancePlan(f.ctx, p.ID, 0, nil); err != nil {
		t.Errorf("a plan's step needs no comment: %v", err)
	}
	wantRefused("cancelling a plan without a comment", func() error {
		_, err := f.svc.CancelPlan(admin, "production", p.ID)
		return err
	})
	if _, err := f.svc.CancelPlan(with("stop").ctx, "production", p.ID); err != nil {
		t.Fatal(err)
	}

	prod.RequireComment = false
	wantRefused("lifting the requirement without a comment", func() error {
		_, err := f.svc.UpdateEnvironment(admin, prod)
		return err
	})
	if _, err := f.svc.UpdateEnvironment(with("audit over").ctx, prod); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetEnabled(admin, "production", "beta", true, 0); err != nil {
		t.Errorf("after lifting the requirement: %v", err)
	}
}

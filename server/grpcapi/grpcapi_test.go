package grpcapi_test

import (
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
)

func TestEnvironmentService(t *testing.T) {
	a := newAPI(t)
	list, err := a.envs.ListEnvironments(a.ctx, &pb.ListEnvironmentsRequest{})
	if err != nil || len(list.GetEnvironments()) != 3 {
		t.Fatalf("ListEnvironments = %v, %v", list, err)
	}
	got, err := a.envs.GetEnvironment(a.ctx, &pb.GetEnvironmentRequest{Name: "production"})
	if err != nil || !got.GetEnvironment().GetProtected() || got.GetEnvironment().GetCreateTime() == nil {
		t.Fatalf("GetEnvironment = %v, %v", got, err)
	}
	_, err = a.envs.GetEnvironment(a.ctx, &pb.GetEnvironmentRequest{Name: "nope"})
	wantCode(t, err, codes.NotFound, "")
	_, err = a.envs.GetEnvironment(a.ctx, &pb.GetEnvironmentRequest{})
	wantCode(t, err, codes.InvalidArgument, "name")

	a.createBool("f")
	created, err := a.envs.CreateEnvironment(a.ctx, &pb.CreateEnvironmentRequest{Environment: &pb.Environment{Name: "qa", Description: "QA"}})
	if err != nil || created.GetEnvironment().GetRevision() != 1 {
		t.Fatalf("CreateEnvironment = %v, %v", created, err)
	}
	if _, err := a.flags.GetFlagConfig(a.ctx, &pb.GetFlagConfigRequest{FlagKey: "f", Environment: "qa"}); err != nil {
		t.Errorf("a new environment has no config of an existing flag: %v", err)
	}
	a.unchanged(codes.AlreadyExists, "", func() error {
		_, err := a.envs.CreateEnvironment(a.ctx, &pb.CreateEnvironmentRequest{Environment: &pb.Environment{Name: "qa"}})
		return err
	})
	a.unchanged(codes.InvalidArgument, "environment.name", func() error {
		_, err := a.envs.CreateEnvironment(a.ctx, &pb.CreateEnvironmentRequest{Environment: &pb.Environment{Name: "-QA"}})
		return err
	})
	up, err := a.envs.UpdateEnvironment(a.ctx, &pb.UpdateEnvironmentRequest{Environment: &pb.Environment{Name: "qa", Description: "quality", Protected: true}})
	if err != nil || up.GetEnvironment().GetDescription() != "quality" || !up.GetEnvironment().GetProtected() {
		t.Fatalf("UpdateEnvironment = %v, %v", up, err)
	}
	a.unchanged(codes.NotFound, "", func() error {
		_, err := a.envs.UpdateEnvironment(a.ctx, &pb.UpdateEnvironmentRequest{Environment: &pb.Environment{Name: "nope"}})
		return err
	})
	a.unchanged(codes.InvalidArgument, "name", func() error {
		_, err := a.envs.DeleteEnvironment(a.ctx, &pb.DeleteEnvironmentRequest{Name: "qa"})
		return err
	})
	if _, err := a.envs.UpdateEnvironment(a.ctx, &pb.UpdateEnvironmentRequest{Environment: &pb.Environment{Name: "qa", Description: "quality"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.envs.DeleteEnvironment(a.ctx, &pb.DeleteEnvironmentRequest{Name: "qa"}); err != nil {
		t.Fatal(err)
	}
	a.unchanged(codes.NotFound, "", func() error {
		_, err := a.envs.DeleteEnvironment(a.ctx, &pb.DeleteEnvironmentRequest{Name: "qa"})
		return err
	})
}

func TestFlagService(t *testing.T) {
	a := newAPI(t)
	created, err := a.flags.CreateFlag(a.ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{
		Key: "limit", Name: "Limit", Type: "integer", Tags: []string{"checkout"},
		Variants: []*syncpb.Variant{{Key: "low", Value: value(t, 10)}, {Key: "high", Value: value(t, 1000)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if f := created.GetFlag(); f.GetRevision() != 1 || f.GetVariants()[1].GetValue().GetNumberValue() != 1000 || len(created.GetConfigs()) != 3 {
		t.Fatalf("CreateFlag = %v", created)
	}
	for _, c := range created.GetConfigs() {
		if c.GetEnabled() || c.GetOffVariant() != "low" || c.GetDefaultServe().GetVariant() != "low" {
			t.Errorf("new config %v", c)
		}
	}
	a.unchanged(codes.AlreadyExists, "", func() error {
		_, err := a.flags.CreateFlag(a.ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "limit", Type: "boolean"}})
		return err
	})
	a.createBool("dark-mode")

	got, err := a.flags.GetFlag(a.ctx, &pb.GetFlagRequest{Key: "limit"})
	if err != nil || got.GetFlag().GetName() != "Limit" || len(got.GetConfigs()) != 3 {
		t.Fatalf("GetFlag = %v, %v", got, err)
	}
	_, err = a.flags.GetFlag(a.ctx, &pb.GetFlagRequest{Key: "nope"})
	wantCode(t, err, codes.NotFound, "")

	for _, tc := range []struct {
		req  *pb.ListFlagsRequest
		want string
	}{
		{&pb.ListFlagsRequest{}, "dark-mode,limit"},
		{&pb.ListFlagsRequest{Tag: "checkout"}, "limit"},
		{&pb.ListFlagsRequest{Query: "dark"}, "dark-mode"},
	} {
		resp, err := a.flags.ListFlags(a.ctx, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, f := range resp.GetFlags() {
			keys = append(keys, f.GetFlag().GetKey())
		}
		if strings.Join(keys, ",") != tc.want {
			t.Errorf("ListFlags(%v) = %v, want %s", tc.req, keys, tc.want)
		}
	}
	one, err := a.flags.ListFlags(a.ctx, &pb.ListFlagsRequest{Environment: "staging"})
	if err != nil || len(one.GetFlags()[0].GetConfigs()) != 1 || one.GetFlags()[0].GetConfigs()[0].GetEnvironment() != "staging" {
		t.Errorf("ListFlags(environment) = %v, %v", one, err)
	}
	_, err = a.flags.ListFlags(a.ctx, &pb.ListFlagsRequest{Environment: "nope"})
	wantCode(t, err, codes.NotFound, "")

	def := created.GetFlag()
	def.Description = "orders per minute"
	up, err := a.flags.UpdateFlag(a.ctx, &pb.UpdateFlagRequest{Flag: def})
	if err != nil || up.GetFlag().GetRevision() != 2 || up.GetFlag().GetDescription() != "orders per minute" {
		t.Fatalf("UpdateFlag = %v, %v", up, err)
	}
	st := a.unchanged(codes.Aborted, "", func() error {
		_, err := a.flags.UpdateFlag(a.ctx, &pb.UpdateFlagRequest{Flag: def}) // still revision 1
		return err
	})
	if !strings.Contains(st.Message(), "revision 2, you sent 1") {
		t.Errorf("Aborted message %q", st.Message())
	}
	a.unchanged(codes.InvalidArgument, "flag.type", func() error {
		_, err := a.flags.UpdateFlag(a.ctx, &pb.UpdateFlagRequest{Flag: &syncpb.Flag{Key: "limit", Type: "boolean"}})
		return err
	})
	a.unchanged(codes.NotFound, "", func() error {
		_, err := a.flags.UpdateFlag(a.ctx, &pb.UpdateFlagRequest{Flag: &syncpb.Flag{Key: "nope", Type: "boolean"}})
		return err
	})

	arch, err := a.flags.ArchiveFlag(a.ctx, &pb.ArchiveFlagRequest{Key: "dark-mode", Archived: true, ExpectedRevision: 1})
	if err != nil || !arch.GetFlag().GetArchived() {
		t.Fatalf("ArchiveFlag = %v, %v", arch, err)
	}
	a.unchanged(codes.Aborted, "", func() error {
		_, err := a.flags.ArchiveFlag(a.ctx, &pb.ArchiveFlagRequest{Key: "dark-mode", ExpectedRevision: 1})
		return err
	})
	a.unchanged(codes.NotFound, "", func() error {
		_, err := a.flags.ArchiveFlag(a.ctx, &pb.ArchiveFlagRequest{Key: "nope", Archived: true})
		return err
	})
	withArchived, _ := a.flags.ListFlags(a.ctx, &pb.ListFlagsRequest{IncludeArchived: true})
	if len(withArchived.GetFlags()) != 2 {
		t.Errorf("ListFlags(include_archived) = %d flags", len(withArchived.GetFlags()))
	}

	a.unchanged(codes.Aborted, "", func() error {
		_, err := a.flags.DeleteFlag(a.ctx, &pb.DeleteFlagRequest{Key: "dark-mode", ExpectedRevision: 1})
		return err
	})
	if _, err := a.flags.DeleteFlag(a.ctx, &pb.DeleteFlagRequest{Key: "dark-mode", ExpectedRevision: 2}); err != nil {
		t.Fatal(err)
	}
	a.unchanged(codes.NotFound, "", func() error {
		_, err := a.flags.DeleteFlag(a.ctx, &pb.DeleteFlagRequest{Key: "dark-mode"})
		return err
	})
	a.unchanged(codes.InvalidArgument, "key", func() error {
		_, err := a.flags.DeleteFlag(a.ctx, &pb.DeleteFlagRequest{})
		return err
	})
}

func TestFlagConfigCalls(t *testing.T) {
	a := newAPI(t)
	a.createBool("checkout")
	cfg, err := a.flags.GetFlagConfig(a.ctx, &pb.GetFlagConfigRequest{FlagKey: "checkout", Environment: "production"})
	if err != nil || cfg.GetConfig().GetRevision() != 1 {
		t.Fatalf("GetFlagConfig = %v, %v", cfg, err)
	}
	_, err = a.flags.GetFlagConfig(a.ctx, &pb.GetFlagConfigRequest{FlagKey: "checkout", Environment: "nope"})
	wantCode(t, err, codes.NotFound, "")
	_, err = a.flags.GetFlagConfig(a.ctx, &pb.GetFlagConfigRequest{FlagKey: "nope", Environment: "production"})
	wantCode(t, err, codes.NotFound, "")

	replaced, err := a.flags.ReplaceFlagConfig(a.ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
		FlagKey: "checkout", Environment: "production", Enabled: true, OffVariant: "off", Revision: 1,
		Rules:        []*syncpb.Rule{{Id: "staff", Conditions: []*syncpb.Condition{{Attribute: "email", Operator: "ends_with", Values: []string{"@flagpole.dev"}}}, Serve: variantServe("on")}},
		DefaultServe: splitServe("on", 25, "off", 75),
	}})
	if err != nil {
		t.Fatal(err)
	}
	rc := replaced.GetConfig()
	if rc.GetRevision() != 2 || len(rc.GetRules()) != 1 || rc.GetDefaultServe().GetSplit().GetWeights()[0].GetWeight() != 25 || rc.GetUpdateTime() == nil {
		t.Fatalf("ReplaceFlagConfig = %v", rc)
	}
	a.unchanged(codes.Aborted, "", func() error {
		_, err := a.flags.ReplaceFlagConfig(a.ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
			FlagKey: "checkout", Environment: "production", OffVariant: "off", DefaultServe: variantServe("off"), Revision: 1}})
		return err
	})
	a.unchanged(codes.NotFound, "", func() error {
		_, err := a.flags.ReplaceFlagConfig(a.ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
			FlagKey: "checkout", Environment: "nope", OffVariant: "off", DefaultServe: variantServe("off")}})
		return err
	})

	en, err := a.flags.SetEnabled(a.ctx, &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "staging", Enabled: true, ExpectedRevision: 1})
	if err != nil || !en.GetConfig().GetEnabled() || en.GetConfig().GetRevision() != 2 {
		t.Fatalf("SetEnabled = %v, %v", en, err)
	}
	a.unchanged(codes.Aborted, "", func() error {
		_, err := a.flags.SetEnabled(a.ctx, &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "staging", ExpectedRevision: 1})
		return err
	})
	a.unchanged(codes.NotFound, "", func() error {
		_, err := a.flags.SetEnabled(a.ctx, &pb.SetEnabledRequest{FlagKey: "nope", Environment: "staging", Enabled: true})
		return err
	})

	ro, err := a.flags.SetRollout(a.ctx, &pb.SetRolloutRequest{FlagKey: "checkout", Environment: "staging", Percent: 10})
	if err != nil {
		t.Fatal(err)
	}
	w := ro.GetConfig().GetDefaultServe().GetSplit().GetWeights()
	if len(w) != 2 || w[0].GetVariant() != "on" || w[0].GetWeight() != 10 || w[1].GetVariant() != "off" || w[1].GetWeight() != 90 {
		t.Errorf("SetRollout 10%% = %v", ro.GetConfig().GetDefaultServe())
	}
	a.unchanged(codes.InvalidArgument, "percent", func() error {
		_, err := a.flags.SetRollout(a.ctx, &pb.SetRolloutRequest{FlagKey: "checkout", Environment: "staging", Percent: 101})
		return err
	})
	a.unchanged(codes.Aborted, "", func() error {
		_, err := a.flags.SetRollout(a.ctx, &pb.SetRolloutRequest{FlagKey: "checkout", Environment: "staging", Percent: 20, ExpectedRevision: 1})
		return err
	})
	a.unchanged(codes.NotFound, "", func() error {
		_, err := a.flags.SetRollout(a.ctx, &pb.SetRolloutRequest{FlagKey: "checkout", Environment: "nope", Percent: 20})
		return err
	})
}

// TestInvalidDefinitions sends each kind of invalid definition the issue
// lists and checks the field the BadRequest names and that nothing was
// written.
func TestInvalidDefinitions(t *testing.T) {
	a := newAPI(t)
	a.createBool("gate")
	replace := func(c *syncpb.FlagConfig) func() error {
		c.FlagKey, c.Environment = "gate", "production"
		return func() error {
			_, err := a.flags.ReplaceFlagConfig(a.ctx, &pb.ReplaceFlagConfigRequest{Config: c})
			return err
		}
	}
	create := func(f *syncpb.Flag) func() error {
		return func() error {
			_, err := a.flags.CreateFlag(a.ctx, &pb.CreateFlagRequest{Flag: f})
			return err
		}
	}
	ruleWith := func(op, v string) *syncpb.FlagConfig {
		return &syncpb.FlagConfig{OffVariant: "off", DefaultServe: variantServe("off"), Rules: []*syncpb.Rule{{
			Conditions: []*syncpb.Condition{{Attribute: "a", Operator: op, Values: []string{v}}}, Serve: variantServe("on")}}}
	}
	for _, tc := range []struct {
		name   string
		call   func() error
		code   codes.Code
		field  string
		reason string
	}{
		{"unknown variant in a rule", replace(&syncpb.FlagConfig{OffVariant: "off", DefaultServe: variantServe("off"),
			Rules: []*syncpb.Rule{{Serve: variantServe("maybe")}}}), codes.InvalidArgument, "config.rules[0].serve.variant", "maybe"},
		{"weights summing to 0", replace(&syncpb.FlagConfig{OffVariant: "off", DefaultServe: splitServe("on", 0, "off", 0)}),
			codes.InvalidArgument, "config.default.split.weights", "sum"},
		{"bad regex", replace(ruleWith("matches", "a(b")), codes.InvalidArgument, "config.rules[0].conditions[0].values[0]", "RE2"},
		{"bad semver", replace(ruleWith("semver_gte", "v1")), codes.InvalidArgument, "config.rules[0].conditions[0].values[0]", "semantic version"},
		{"bad number", replace(ruleWith("gt", "ten")), codes.InvalidArgument, "config.rules[0].conditions[0].values[0]", "number"},
		{"unknown operator", replace(ruleWith("like", "x")), codes.InvalidArgument, "config.rules[0].conditions[0].operator", "like"},
		{"wrong value type", create(&syncpb.Flag{Key: "typed", Type: "boolean", Variants: []*syncpb.Variant{
			{Key: "on", Value: value(t, "yes")}, {Key: "off", Value: value(t, false)}}}), codes.InvalidArgument, "flag.variants[0].value", ""},
		{"duplicate variant key", create(&syncpb.Flag{Key: "dup", Type: "string", Variants: []*syncpb.Variant{
			{Key: "a", Value: value(t, "x")}, {Key: "a", Value: value(t, "y")}}}), codes.InvalidArgument, "flag.variants[1].key", "duplicate"},
		{"duplicate flag key", create(&syncpb.Flag{Key: "gate", Type: "boolean"}), codes.AlreadyExists, "", ""},
		{"invalid key", create(&syncpb.Flag{Key: "Gate!", Type: "boolean"}), codes.InvalidArgument, "flag.key", "does not match"},
		{"unknown type", create(&syncpb.Flag{Key: "t", Type: "date"}), codes.InvalidArgument, "flag.type", "date"},
		{"integer not whole", create(&syncpb.Flag{Key: "n", Type: "integer", Variants: []*syncpb.Variant{{Key: "a", Value: value(t, 1.5)}}}),
			codes.InvalidArgument, "flag.variants[0].value", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := a.unchanged(tc.code, tc.field, tc.call)
			if !strings.Contains(st.Message(), tc.reason) {
				t.Errorf("message %q does not give the reason (%q)", st.Message(), tc.reason)
			}
		})
	}
	// Nothing half-written: the refused flags do not exist, gate is untouched.
	for _, key := range []string{"typed", "dup", "Gate!", "t", "n"} {
		if _, err := a.flags.GetFlag(a.ctx, &pb.GetFlagRequest{Key: key}); err == nil {
			t.Errorf("refused flag %q exists", key)
		}
	}
	cfg, err := a.flags.GetFlagConfig(a.ctx, &pb.GetFlagConfigRequest{FlagKey: "gate", Environment: "production"})
	if err != nil || cfg.GetConfig().GetRevision() != 1 || len(cfg.GetConfig().GetRules()) != 0 {
		t.Errorf("gate config after refused replacements: %v, %v", cfg, err)
	}
}

// TestConcurrentUpdates sends two updates based on the same revision: one
// wins, the other gets Aborted and changes nothing.
func TestConcurrentUpdates(t *testing.T) {
	a := newAPI(t)
	a.createBool("race")
	base, err := a.flags.GetFlagConfig(a.ctx, &pb.GetFlagConfigRequest{FlagKey: "race", Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	rev := base.GetConfig().GetRevision()
	if _, err := a.flags.SetEnabled(a.ctx, &pb.SetEnabledRequest{FlagKey: "race", Environment: "production", Enabled: true, ExpectedRevision: rev}); err != nil {
		t.Fatal(err)
	}
	a.unchanged(codes.Aborted, "", func() error {
		_, err := a.flags.SetRollout(a.ctx, &pb.SetRolloutRequest{FlagKey: "race", Environment: "production", Percent: 50, ExpectedRevision: rev})
		return err
	})

	// At the same time: exactly one of several writers from one base wins.
	base, _ = a.flags.GetFlagConfig(a.ctx, &pb.GetFlagConfigRequest{FlagKey: "race", Environment: "production"})
	rev = base.GetConfig().GetRevision()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = a.flags.SetRollout(a.ctx, &pb.SetRolloutRequest{
				FlagKey: "race", Environment: "production", Percent: int32(10 * (i + 1)), ExpectedRevision: rev})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantCode(t, err, codes.Aborted, "")
	}
	if won != 1 {
		t.Errorf("%d concurrent updates from one base revision succeeded, want 1", won)
	}
	after, _ := a.flags.GetFlagConfig(a.ctx, &pb.GetFlagConfigRequest{FlagKey: "race", Environment: "production"})
	if after.GetConfig().GetRevision() != rev+1 {
		t.Errorf("revision %d after the race, want %d", after.GetConfig().GetRevision(), rev+1)
	}
}

func TestSegmentService(t *testing.T) {
	a := newAPI(t)
	seg := &syncpb.Segment{Key: "beta", Name: "Beta", Match: "any", Included: []string{"u1"},
		Conditions: []*syncpb.Condition{{Attribute: "plan", Operator: "in", Values: []string{"pro"}}}}
	created, err := a.segs.CreateSegment(a.ctx, &pb.CreateSegmentRequest{Segment: seg})
	if err != nil || created.GetSegment().GetRevision() != 1 || created.GetSegment().GetMatch() != "any" {
		t.Fatalf("CreateSegment = %v, %v", created, err)
	}
	a.unchanged(codes.AlreadyExists, "", func() error {
		_, err := a.segs.CreateSegment(a.ctx, &pb.CreateSegmentRequest{Segment: seg})
		return err
	})
	a.unchanged(codes.InvalidArgument, "segment.conditions[0].operator", func() error {
		_, err := a.segs.CreateSegment(a.ctx, &pb.CreateSegmentRequest{Segment: &syncpb.Segment{Key: "s2",
			Conditions: []*syncpb.Condition{{Attribute: "plan", Operator: "nope"}}}})
		return err
	})
	got, err := a.segs.GetSegment(a.ctx, &pb.GetSegmentRequest{Key: "beta"})
	if err != nil || got.GetSegment().GetIncluded()[0] != "u1" {
		t.Fatalf("GetSegment = %v, %v", got, err)
	}
	_, err = a.segs.GetSegment(a.ctx, &pb.GetSegmentRequest{Key: "nope"})
	wantCode(t, err, codes.NotFound, "")
	list, err := a.segs.ListSegments(a.ctx, &pb.ListSegmentsRequest{})
	if err != nil || len(list.GetSegments()) != 1 {
		t.Fatalf("ListSegments = %v, %v", list, err)
	}
	seg.Revision = 1
	seg.Excluded = []string{"u9"}
	up, err := a.segs.UpdateSegment(a.ctx, &pb.UpdateSegmentRequest{Segment: seg})
	if err != nil || up.GetSegment().GetRevision() != 2 {
		t.Fatalf("UpdateSegment = %v, %v", up, err)
	}
	a.unchanged(codes.Aborted, "", func() error {
		_, err := a.segs.UpdateSegment(a.ctx, &pb.UpdateSegmentRequest{Segment: seg})
		return err
	})
	a.unchanged(codes.NotFound, "", func() error {
		_, err := a.segs.UpdateSegment(a.ctx, &pb.UpdateSegmentRequest{Segment: &syncpb.Segment{Key: "nope"}})
		return err
	})

	a.createBool("beta-ui")
	if _, err := a.flags.ReplaceFlagConfig(a.ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
		FlagKey: "beta-ui", Environment: "staging", OffVariant: "off", DefaultServe: variantServe("off"),
		Rules: []*syncpb.Rule{{Conditions: []*syncpb.Condition{{Operator: "in_segment", Values: []string{"beta"}}}, Serve: variantServe("on")}},
	}}); err != nil {
		t.Fatal(err)
	}
	st := a.unchanged(codes.InvalidArgument, "key", func() error {
		_, err := a.segs.DeleteSegment(a.ctx, &pb.DeleteSegmentRequest{Key: "beta"})
		return err
	})
	if !strings.Contains(st.Message(), `"beta-ui"`) || !strings.Contains(st.Message(), `"staging"`) {
		t.Errorf("in-use message %q should name the flag and the environment", st.Message())
	}
	if _, err := a.flags.ReplaceFlagConfig(a.ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
		FlagKey: "beta-ui", Environment: "staging", OffVariant: "off", DefaultServe: variantServe("off")}}); err != nil {
		t.Fatal(err)
	}
	a.unchanged(codes.Aborted, "", func() error {
		_, err := a.segs.DeleteSegment(a.ctx, &pb.DeleteSegmentRequest{Key: "beta", ExpectedRevision: 1})
		return err
	})
	if _, err := a.segs.DeleteSegment(a.ctx, &pb.DeleteSegmentRequest{Key: "beta", ExpectedRevision: 2}); err != nil {
		t.Fatal(err)
	}
	a.unchanged(codes.NotFound, "", func() error {
		_, err := a.segs.DeleteSegment(a.ctx, &pb.DeleteSegmentRequest{Key: "beta"})
		return err
	})
}

func TestAuditService(t *testing.T) {
	a := newAPI(t)
	a.createBool("a")
	a.createBool("b")
	if _, err := a.flags.SetEnabled(a.ctx, &pb.SetEnabledRequest{FlagKey: "a", Environment: "production", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	resp, err := a.audit.ListAuditEntries(a.ctx, &pb.ListAuditEntriesRequest{FlagKey: "a"})
	if err != nil {
		t.Fatal(err)
	}
	e := resp.GetEntries()
	if len(e) != 2 || e[0].GetAction() != "config.set_enabled" || e[1].GetAction() != "flag.create" {
		t.Fatalf("audit of a = %v", e)
	}
	top := e[0]
	if top.GetActor() != "anonymous" || top.GetActorKind() != "anonymous" || top.GetSource() != "api" ||
		top.GetEnvironment() != "production" || top.GetTime() == nil {
		t.Errorf("entry %v", top)
	}
	if before, after := top.GetBefore().GetStructValue().AsMap(), top.GetAfter().GetStructValue().AsMap(); before["enabled"] != false || after["enabled"] != true {
		t.Errorf("before %v after %v", before, after)
	}
	if _, ok := e[1].GetBefore().GetKind().(*structpb.Value_NullValue); !ok {
		t.Errorf("create entry before = %v, want null", e[1].GetBefore())
	}

	env, err := a.audit.ListAuditEntries(a.ctx, &pb.ListAuditEntriesRequest{Environment: "production", Resource: "config"})
	if err != nil || len(env.GetEntries()) != 1 {
		t.Errorf("audit of production configs = %v, %v", env, err)
	}

	// Page through everything two at a time: 3 environments, 2 flags, 1 toggle.
	var ids []int64
	token := ""
	for {
		page, err := a.audit.ListAuditEntries(a.ctx, &pb.ListAuditEntriesRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.GetEntries() {
			ids = append(ids, e.GetId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(ids) != 6 {
		t.Errorf("paged %d entries (%v), want 6", len(ids), ids)
	}
	_, err = a.audit.ListAuditEntries(a.ctx, &pb.ListAuditEntriesRequest{PageToken: "12"})
	wantCode(t, err, codes.InvalidArgument, "page_token")
	_, err = a.audit.ListAuditEntries(a.ctx, &pb.ListAuditEntriesRequest{PageSize: -5})
	wantCode(t, err, codes.InvalidArgument, "page_size")
}

func TestEvaluationService(t *testing.T) {
	a := newAPI(t)
	a.createBool("new-ui")
	if _, err := a.flags.CreateFlag(a.ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "limit", Type: "integer",
		Variants: []*syncpb.Variant{{Key: "low", Value: value(t, 5)}, {Key: "high", Value: value(t, 50)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.flags.ReplaceFlagConfig(a.ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
		FlagKey: "limit", Environment: "production", Enabled: true, OffVariant: "low", DefaultServe: variantServe("low"),
		Rules: []*syncpb.Rule{{Conditions: []*syncpb.Condition{{Attribute: "plan", Operator: "in", Values: []string{"pro"}}}, Serve: variantServe("high")}},
	}}); err != nil {
		t.Fatal(err)
	}
	ctx, _ := structpb.NewStruct(map[string]any{"plan": "pro"})
	resp, err := a.eval.Evaluate(a.ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "limit", Type: "integer", TargetingKey: "u1", Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	ev := resp.GetEvaluation()
	if ev.GetValue().GetNumberValue() != 50 || ev.GetVariant() != "high" || ev.GetReason() != "TARGETING_MATCH" || ev.GetErrorCode() != "" {
		t.Errorf("Evaluate = %v", ev)
	}
	envResp, _ := a.envs.GetEnvironment(a.ctx, &pb.GetEnvironmentRequest{Name: "production"})
	md := ev.GetMetadata().AsMap()
	snap, err := a.svc.Snapshot(a.ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	if md["flagSetId"] != "production" || md["version"] != snap.VersionOf("limit") || md["environmentRevision"] != float64(envResp.GetEnvironment().GetRevision()) {
		t.Errorf("metadata %v, want production, limit's version %s, environmentRevision %d", md, snap.VersionOf("limit"), envResp.GetEnvironment().GetRevision())
	}
	resp, err = a.eval.Evaluate(a.ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "new-ui"})
	if err != nil || resp.GetEvaluation().GetReason() != "DISABLED" || resp.GetEvaluation().GetValue().GetBoolValue() != false {
		t.Errorf("disabled flag: %v, %v", resp, err)
	}
	resp, err = a.eval.Evaluate(a.ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "limit", Type: "string"})
	if err != nil || resp.GetEvaluation().GetErrorCode() != "TYPE_MISMATCH" || resp.GetEvaluation().GetValue() != nil {
		t.Errorf("type mismatch: %v, %v", resp, err)
	}
	resp, err = a.eval.Evaluate(a.ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "nope"})
	if err != nil || resp.GetEvaluation().GetErrorCode() != "FLAG_NOT_FOUND" {
		t.Errorf("unknown flag: %v, %v", resp, err)
	}
	_, err = a.eval.Evaluate(a.ctx, &pb.EvaluateRequest{Environment: "nope", FlagKey: "limit"})
	wantCode(t, err, codes.NotFound, "")
	_, err = a.eval.Evaluate(a.ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "limit", Type: "int"})
	wantCode(t, err, codes.InvalidArgument, "type")

	all, err := a.eval.EvaluateAll(a.ctx, &pb.EvaluateAllRequest{Environment: "production", TargetingKey: "u1", Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.GetEvaluations()) != 2 || all.GetEvaluations()[0].GetFlagKey() != "limit" || all.GetRevision() != envResp.GetEnvironment().GetRevision() {
		t.Errorf("EvaluateAll = %v", all)
	}
	_, err = a.eval.EvaluateAll(a.ctx, &pb.EvaluateAllRequest{Environment: "nope"})
	wantCode(t, err, codes.NotFound, "")
	_, err = a.eval.EvaluateAll(a.ctx, &pb.EvaluateAllRequest{})
	wantCode(t, err, codes.InvalidArgument, "environment")
}

// TestInternalErrorsHideDetail breaks the store under the service: the
// caller sees only "internal error", the log has the detail.
func TestInternalErrorsHideDetail(t *testing.T) {
	a := newAPI(t)
	a.db.Close()
	_, err := a.envs.ListEnvironments(a.ctx, &pb.ListEnvironmentsRequest{})
	st := wantCode(t, err, codes.Internal, "")
	if st.Message() != "internal error" {
		t.Errorf("message %q leaks detail", st.Message())
	}
	if logs := a.logs.String(); !strings.Contains(logs, "internal error") || !strings.Contains(logs, "closed") ||
		!strings.Contains(logs, "ListEnvironments") {
		t.Errorf("log lacks the detail and the method:\n%s", logs)
	}
}

// TestEvaluationRefusesNonStringTargetingKey: one context rule for every
// transport (issue 12: the gRPC API, and so `flagpole eval --context`,
// accepted a numeric targeting key that OFREP refuses).
func TestEvaluationRefusesNonStringTargetingKey(t *testing.T) {
	a := newAPI(t)
	a.createBool("new-ui")
	ctx, _ := structpb.NewStruct(map[string]any{"targetingKey": 42})
	_, err := a.eval.Evaluate(a.ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "new-ui", Context: ctx})
	st := wantCode(t, err, codes.InvalidArgument, "context.targetingKey")
	if !strings.Contains(st.Message(), "must be a string") {
		t.Errorf("message %q", st.Message())
	}
	_, err = a.eval.EvaluateAll(a.ctx, &pb.EvaluateAllRequest{Environment: "production", Context: ctx})
	wantCode(t, err, codes.InvalidArgument, "context.targetingKey")
	// The request's targeting_key replaces the context's, as before.
	if _, err := a.eval.Evaluate(a.ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "new-ui", TargetingKey: "u1", Context: ctx}); err != nil {
		t.Errorf("targeting_key over a numeric context key: %v", err)
	}
}

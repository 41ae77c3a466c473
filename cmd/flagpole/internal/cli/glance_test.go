package cli

import "testing"

func TestConfigGlance(t *testing.T) {
	t.Parallel()
	split := func(ws ...WeightSpec) *ServeSpec { return &ServeSpec{Split: ws} }
	tests := []struct {
		name, typ string
		cfg       configView
		want      string
	}{
		{"disabled", "boolean", configView{ConfigSpec: ConfigSpec{Enabled: false, Default: split(WeightSpec{"on", 25}, WeightSpec{"off", 75})}}, "off"},
		{"boolean rollout", "boolean", configView{ConfigSpec: ConfigSpec{Enabled: true, Default: split(WeightSpec{"on", 25}, WeightSpec{"off", 75})}}, "on 25%"},
		{"boolean on", "boolean", configView{ConfigSpec: ConfigSpec{Enabled: true, Default: &ServeSpec{Variant: "on"}}}, "on 100%"},
		{"boolean serving off", "boolean", configView{ConfigSpec: ConfigSpec{Enabled: true, Default: &ServeSpec{Variant: "off"}}}, "on 0%"},
		{"boolean split of off first", "boolean", configView{ConfigSpec: ConfigSpec{Enabled: true, Default: split(WeightSpec{"off", 1}, WeightSpec{"on", 3})}}, "on 25% off"},
		{"string split", "string", configView{ConfigSpec: ConfigSpec{Enabled: true, Default: split(WeightSpec{"green", 1}, WeightSpec{"blue", 2})}}, "on 33.33% green"},
		{"string fixed", "string", configView{ConfigSpec: ConfigSpec{Enabled: true, Default: &ServeSpec{Variant: "green"}}}, "on green"},
		{"rules", "boolean", configView{ConfigSpec: ConfigSpec{Enabled: true, Default: &ServeSpec{Variant: "off"}, Rules: []RuleSpec{{}, {}}}}, "on 0% (2 rules)"},
		{"one rule, no default", "string", configView{ConfigSpec: ConfigSpec{Enabled: true, Rules: []RuleSpec{{}}}}, "on (1 rule)"},
	}
	for _, tt := range tests {
		if got := tt.cfg.glance(tt.typ); got != tt.want {
			t.Errorf("%s: glance = %q, want %q", tt.name, got, tt.want)
		}
	}
}

package engine

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/murmur3"
)

// refMurmur3 is murmur3_x86_32 written from the algorithm's description,
// independent of the library the engine uses.
func refMurmur3(data []byte, seed uint32) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	n := len(data)
	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		k = bits.RotateLeft32(k*c1, 15) * c2
		h = bits.RotateLeft32(h^k, 13)*5 + 0xe6546b64
		data = data[4:]
	}
	var k uint32
	switch len(data) {
	case 3:
		k ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(data[0])
		h ^= bits.RotateLeft32(k*c1, 15) * c2
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

type bucketingFile struct {
	Murmur3 []struct {
		Input     string `json:"input"`
		Seed      uint32 `json:"seed"`
		Hash      uint32 `json:"hash"`
		Published bool   `json:"published"`
	} `json:"murmur3"`
	Buckets []struct {
		FlagKey     string `json:"flagKey"`
		Value       string `json:"value"`
		Hash        uint32 `json:"hash"`
		Bucket100   int    `json:"bucket100"`
		Bucket10000 int    `json:"bucket10000"`
		Bucket7     int    `json:"bucket7"`
	} `json:"buckets"`
}

func TestMurmur3ReferenceValues(t *testing.T) {
	// Published murmur3_x86_32 values, written here as well as in
	// testdata/bucketing.json so neither can drift alone.
	published := []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0},
		{"hello", 0, 0x248bfa47},
		{"The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723},
		{"test", 0, 0xba6bd213},
		{"Hello, world!", 1234, 0xfaf6cdb3},
		{"aaaa", 0x9747b28c, 0x5a97808a},
		{"", 1, 0x514e28b7},
		{"", 0xffffffff, 0x81f16f39},
	}
	for _, p := range published {
		if got := murmur3.SeedSum32(p.seed, []byte(p.in)); got != p.want {
			t.Errorf("murmur3(%q, seed %#x) = %#x, want %#x", p.in, p.seed, got, p.want)
		}
		if got := refMurmur3([]byte(p.in), p.seed); got != p.want {
			t.Errorf("reference murmur3(%q, seed %#x) = %#x, want %#x", p.in, p.seed, got, p.want)
		}
		if p.seed == 0 {
			if got := Hash("", p.in); got != p.want {
				t.Errorf("Hash(%q) = %#x, want %#x", p.in, got, p.want)
			}
		}
	}
	var f bucketingFile
	readJSON(t, filepath.Join("testdata", "bucketing.json"), &f)
	npub := 0
	for _, m := range f.Murmur3 {
		if got := murmur3.SeedSum32(m.Seed, []byte(m.Input)); got != m.Hash {
			t.Errorf("murmur3(%q, seed %#x) = %#x, want %#x", m.Input, m.Seed, got, m.Hash)
		}
		if m.Published {
			npub++
		}
	}
	if npub < 3 {
		t.Errorf("only %d published values in bucketing.json", npub)
	}
}

// TestMurmur3MatchesReference compares the library with the independent
// implementation on random inputs of every length class.
func TestMurmur3MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 600)
	for i := 0; i < 20000; i++ {
		n := r.IntN(len(buf))
		for j := range n {
			buf[j] = byte(r.Uint32())
		}
		split := r.IntN(n + 1)
		want := refMurmur3(buf[:n], 0)
		if got := murmur3.Sum32(buf[:n]); got != want {
			t.Fatalf("murmur3 of %x = %#x, reference %#x", buf[:n], got, want)
		}
		if got := Hash(string(buf[:split]), string(buf[split:n])); got != want {
			t.Fatalf("Hash split at %d of %x = %#x, reference %#x", split, buf[:n], got, want)
		}
		k := newKeyHash(string(buf[:split]))
		if got := hashAfter(&k, buf[split:n]); got != want {
			t.Fatalf("hashAfter split at %d of %x = %#x, reference %#x", split, buf[:n], got, want)
		}
		if got := hashAfter(&k, string(buf[split:n])); got != want {
			t.Fatalf("hashAfter (string) split at %d of %x = %#x, reference %#x", split, buf[:n], got, want)
		}
	}
}

func TestBucketVectors(t *testing.T) {
	var f bucketingFile
	readJSON(t, filepath.Join("testdata", "bucketing.json"), &f)
	if len(f.Buckets) == 0 {
		t.Fatal("no bucket vectors")
	}
	for _, b := range f.Buckets {
		if got := Hash(b.FlagKey, b.Value); got != b.Hash {
			t.Errorf("Hash(%q, %q) = %d, want %d", b.FlagKey, b.Value, got, b.Hash)
		}
		for _, w := range []struct{ total, want int }{{100, b.Bucket100}, {10000, b.Bucket10000}, {7, b.Bucket7}} {
			if got := Bucket(b.FlagKey, b.Value, w.total); got != w.want {
				t.Errorf("Bucket(%q, %q, %d) = %d, want %d", b.FlagKey, b.Value, w.total, got, w.want)
			}
		}
	}
	if got := Bucket("f", "k", 0); got != 0 {
		t.Errorf("Bucket with total 0 = %d", got)
	}
}

func TestBucketCanonicalValues(t *testing.T) {
	cases := []struct {
		v    any
		text string
	}{
		{"abc", "abc"},
		{true, "true"},
		{false, "false"},
		{42, "42"},
		{int8(-7), "-7"},
		{int64(1) << 62, "4611686018427387904"},
		{uint64(1<<64 - 1), "18446744073709551615"},
		{uint8(3), "3"},
		{42.0, "42"},
		{float32(2.5), "2.5"},
		{-0.0, "0"},
		{0.1, "0.1"},
		{1e20, "100000000000000000000"},
		{1e21, "1e+21"},
		{1.5e300, "1.5e+300"},
		{0.000001, "0.000001"},
		{1.5e-7, "1.5e-7"},
		{-2e-9, "-2e-9"},
		{json.Number("42"), "42"},
		{json.Number("42.0"), "42"},
		{json.Number("1e2"), "100"},
	}
	k := newKeyHash("flag")
	for _, c := range cases {
		h, ok := k.bucketHash(c.v)
		if !ok {
			t.Errorf("%T %v: not bucketable", c.v, c.v)
			continue
		}
		if want := Hash("flag", c.text); h != want {
			t.Errorf("%T %v hashes differently from %q", c.v, c.v, c.text)
		}
	}
	for _, v := range []any{nil, "", map[string]any{}, []any{"x"}, struct{}{}, json.Number("x")} {
		if _, ok := k.bucketHash(v); ok {
			t.Errorf("%T %v: bucketable, want missing", v, v)
		}
	}
}

// TestSplitDistribution checks that 100,000 keys split 25/75 land within
// one percentage point of their weights.
func TestSplitDistribution(t *testing.T) {
	snap := mustCompile(t, FlagState{
		Flag: Flag{Key: "checkout-v2", Type: TypeBoolean},
		Config: Config{Enabled: true, OffVariant: "off", Default: Serve{Split: &Split{
			Weights: []Weight{{Variant: "on", Weight: 25}, {Variant: "off", Weight: 75}},
		}}},
	})
	const n = 100000
	on := 0
	ctx := map[string]any{}
	for i := range n {
		ctx[TargetingKey] = fmt.Sprintf("user-%d", i)
		r := snap.Evaluate("checkout-v2", TypeBoolean, ctx)
		if r.Reason != ReasonSplit {
			t.Fatalf("reason %s", r.Reason)
		}
		if r.Value == true {
			on++
		}
	}
	if pct := float64(on) / n * 100; pct < 24 || pct > 26 {
		t.Errorf("%.2f%% on, want 25%% ± 1", pct)
	} else {
		t.Logf("%.3f%% on", pct)
	}
}

// TestRolloutSticky checks that raising a rollout from 10% to 20% (the
// served variant first) keeps every key that was in.
func TestRolloutSticky(t *testing.T) {
	rollout := func(pct int) *Snapshot {
		return mustCompile(t, FlagState{
			Flag: Flag{Key: "new-search", Type: TypeBoolean},
			Config: Config{Enabled: true, OffVariant: "off", Default: Serve{Split: &Split{
				Weights: []Weight{{Variant: "on", Weight: pct}, {Variant: "off", Weight: 100 - pct}},
			}}},
		})
	}
	at10, at20 := rollout(10), rollout(20)
	in10, in20 := 0, 0
	ctx := map[string]any{}
	for i := range 100000 {
		ctx[TargetingKey] = fmt.Sprintf("user-%d", i)
		was := at10.Evaluate("new-search", TypeBoolean, ctx).Value == true
		is := at20.Evaluate("new-search", TypeBoolean, ctx).Value == true
		if was {
			in10++
			if !is {
				t.Fatalf("user-%d was in at 10%% and is out at 20%%", i)
			}
		}
		if is {
			in20++
		}
	}
	if in10 < 9000 || in10 > 11000 || in20 < 19000 || in20 > 21000 {
		t.Errorf("%d in at 10%%, %d in at 20%%", in10, in20)
	}
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustCompile(t testing.TB, flags ...FlagState) *Snapshot {
	t.Helper()
	s, err := Compile("test", 1, flags, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSplitVectorsMatchReference recomputes the variant of every string-keyed
// SPLIT case of testdata/splits.json with the independent murmur3 and the
// bucketing formula written out, so the vectors are not merely what the
// engine happened to return.
func TestSplitVectorsMatchReference(t *testing.T) {
	g := loadGolden(t, filepath.Join("testdata", "splits.json"))
	splits := map[string]*Split{}
	for _, fs := range g.Flags {
		splits[fs.Flag.Key] = fs.Config.Default.Split
		for _, r := range fs.Config.Rules {
			if r.Serve.Split != nil {
				splits[fs.Flag.Key] = r.Serve.Split
			}
		}
	}
	checked := 0
	for _, c := range g.Cases {
		sp := splits[c.Flag]
		if c.Reason != ReasonSplit || sp == nil {
			continue
		}
		attr := sp.BucketBy
		if attr == "" {
			attr = TargetingKey
		}
		value, ok := c.Context[attr].(string)
		if !ok {
			continue
		}
		total := 0
		for _, w := range sp.Weights {
			total += w.Weight
		}
		bucket := int(uint64(refMurmur3([]byte(c.Flag+value), 0)) * uint64(total) >> 32)
		want, cum := "", 0
		for _, w := range sp.Weights {
			cum += w.Weight
			if bucket < cum {
				want = w.Variant
				break
			}
		}
		if want != c.Variant {
			t.Errorf("%s: reference bucketing gives %q, vector says %q", c.Name, want, c.Variant)
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("only %d split vectors checked", checked)
	}
}

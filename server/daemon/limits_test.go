package daemon_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestDeepAndLargeValuesRefusedOverHTTP: a variant value nested 1,000
// levels deep (once a 500) and a description over the limit are refused
// with 400 naming the field, and nothing is created.
func TestDeepAndLargeValuesRefusedOverHTTP(t *testing.T) {
	t.Parallel()
	f := startAuthFixture(t)
	base := "http://" + f.srv.HTTPAddr().String()
	post := func(body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/v1/flags", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deep := strings.Repeat(`{"a":`, 1000) + `1` + strings.Repeat(`}`, 1000)
	if code, body := post(`{"key":"deep","type":"object","variants":[{"key":"v","value":` + deep + `}]}`); code != 400 || !strings.Contains(body, "variants[0].value") {
		t.Errorf("1,000 levels deep: %d %.300s, want 400 naming variants[0].value", code, body)
	}
	long := strings.Repeat("d", 17<<10)
	if code, body := post(`{"key":"long","type":"boolean","description":"` + long + `"}`); code != 400 || !strings.Contains(body, "description") {
		t.Errorf("long description: %d %.300s, want 400 naming description", code, body)
	}
	// 9007199254740993 arrives as the JSON number 2^53 and would be stored
	// one less than asked, without a word.
	if code, body := post(`{"key":"big","type":"integer","variants":[{"key":"v","value":9007199254740993}]}`); code != 400 || !strings.Contains(body, "variants[0].value") || !strings.Contains(body, "9007199254740991") {
		t.Errorf("integer beyond 2^53: %d %.300s, want 400 naming variants[0].value and the limit", code, body)
	}
	if code, body := post(`{"key":"safe","type":"integer","variants":[{"key":"v","value":9007199254740991}]}`); code != 200 {
		t.Errorf("largest safe integer: %d %.300s, want 200", code, body)
	}
	for _, key := range []string{"deep", "long", "big"} {
		req, _ := http.NewRequest("GET", base+"/api/v1/flags/"+key, nil)
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s after a refused create: %d, want 404", key, resp.StatusCode)
		}
	}
}

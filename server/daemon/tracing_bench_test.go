package daemon_test

import (
	"log/slog"
	"testing"

	"github.com/flagpole/flagpole/server/tracing/otlptest"
)

// BenchmarkRemoteEvaluationGRPCTraced is BenchmarkRemoteEvaluationGRPC
// with tracing on: every Evaluate call gets a server span, exported over
// OTLP/HTTP to a receiver on loopback that decodes and counts them. (With
// tracing off, the OTEL variables unset, BenchmarkRemoteEvaluationGRPC is
// the cost: no instrumentation is installed.)
func BenchmarkRemoteEvaluationGRPCTraced(b *testing.B) {
	rcv := otlptest.StartDiscarding(b)
	b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.HTTPURL)
	b.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	benchmarkGRPCEvaluate(b, slog.LevelError)
	b.ReportMetric(float64(rcv.Count())/float64(b.N), "exported-spans/op")
}

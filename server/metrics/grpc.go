package metrics

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
)

// UnaryServerInterceptor records every unary gRPC call by method and code.
func (m *Metrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		if m != nil {
			m.observeCall("grpc", info.FullMethod, status.Code(err).String(), time.Since(start))
		}
		return resp, err
	}
}

// StreamServerInterceptor records every streaming gRPC call (its whole
// lifetime) by method and code.
func (m *Metrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		if m != nil {
			m.observeCall("grpc", info.FullMethod, status.Code(err).String(), time.Since(start))
		}
		return err
	}
}

// EvaluationInterceptor counts the evaluations in EvaluationService
// responses by environment, flag and reason. source names the transport the
// interceptor is installed on (grpc or http).
func (m *Metrics) EvaluationInterceptor(source string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if m == nil || err != nil {
			return resp, err
		}
		switch r := resp.(type) {
		case *flagpolev1.EvaluateResponse:
			rq, _ := req.(*flagpolev1.EvaluateRequest)
			env := rq.GetEnvironment()
			m.Evaluated(source, env, r.GetEvaluation().GetFlagKey(), r.GetEvaluation().GetReason(), r.GetEvaluation().GetErrorCode())
		case *flagpolev1.EvaluateAllResponse:
			rq, _ := req.(*flagpolev1.EvaluateAllRequest)
			env := rq.GetEnvironment()
			for _, e := range r.GetEvaluations() {
				m.Evaluated(source, env, e.GetFlagKey(), e.GetReason(), e.GetErrorCode())
			}
		}
		return resp, err
	}
}

// Store wraps a server.Store so that the latency of every transaction is
// observed as operation "update" or "view".
func (m *Metrics) Store(s server.Store) server.Store {
	if m == nil {
		return s
	}
	return timedStore{s, m}
}

type timedStore struct {
	server.Store
	m *Metrics
}

func (t timedStore) Update(ctx context.Context, fn func(server.Tx) error) error {
	start := time.Now()
	err := t.Store.Update(ctx, fn)
	t.m.ObserveStore("update", time.Since(start), err)
	return err
}

func (t timedStore) View(ctx context.Context, fn func(server.Tx) error) error {
	start := time.Now()
	err := t.Store.View(ctx, fn)
	t.m.ObserveStore("view", time.Since(start), err)
	return err
}

package grpcapi

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server/webhook"
)

// TestTimeout bounds TestWebhook's one request.
const TestTimeout = 10 * time.Second

// RegisterWebhooks registers WebhookService, backed by m, on gs.
func RegisterWebhooks(gs grpc.ServiceRegistrar, m *webhook.Manager, log *slog.Logger) {
	pb.RegisterWebhookServiceServer(gs, &webhooks{m: m, log: log})
}

type webhooks struct {
	pb.UnimplementedWebhookServiceServer
	m   *webhook.Manager
	log *slog.Logger
}

func (w *webhooks) CreateWebhook(ctx context.Context, req *pb.CreateWebhookRequest) (*pb.CreateWebhookResponse, error) {
	s, err := w.m.Create(ctx, webhook.NewSubscription{
		URL: req.GetUrl(), Events: req.GetEvents(), Environments: req.GetEnvironments(), Slack: req.GetSlack(),
	})
	if err != nil {
		return nil, ToStatus(ctx, w.log, err)
	}
	return &pb.CreateWebhookResponse{Webhook: webhookProto(s), Secret: s.Secret}, nil
}

func (w *webhooks) ListWebhooks(ctx context.Context, _ *pb.ListWebhooksRequest) (*pb.ListWebhooksResponse, error) {
	subs, err := w.m.List(ctx)
	if err != nil {
		return nil, ToStatus(ctx, w.log, err)
	}
	resp := &pb.ListWebhooksResponse{}
	for _, s := range subs {
		resp.Webhooks = append(resp.Webhooks, webhookProto(s))
	}
	return resp, nil
}

func (w *webhooks) DeleteWebhook(ctx context.Context, req *pb.DeleteWebhookRequest) (*pb.DeleteWebhookResponse, error) {
	if err := w.m.Delete(ctx, req.GetId()); err != nil {
		return nil, ToStatus(ctx, w.log, err)
	}
	return &pb.DeleteWebhookResponse{}, nil
}

func (w *webhooks) TestWebhook(ctx context.Context, req *pb.TestWebhookRequest) (*pb.TestWebhookResponse, error) {
	r, err := w.m.Test(ctx, req.GetId(), TestTimeout)
	if err != nil {
		return nil, ToStatus(ctx, w.log, err)
	}
	return &pb.TestWebhookResponse{Status: int32(r.Status), Error: r.Error, Duration: durationpb.New(r.Duration)}, nil
}

func (w *webhooks) ListDeliveries(ctx context.Context, req *pb.ListDeliveriesRequest) (*pb.ListDeliveriesResponse, error) {
	ds, err := w.m.Deliveries(ctx, webhook.DeliveryFilter{
		WebhookID: req.GetWebhookId(), State: req.GetState(), Limit: int(req.GetPageSize()),
	})
	if err != nil {
		return nil, ToStatus(ctx, w.log, err)
	}
	resp := &pb.ListDeliveriesResponse{}
	for _, d := range ds {
		p := &pb.Delivery{
			Id: d.ID, WebhookId: d.WebhookID, Kind: d.Kind, State: d.State, Attempts: int32(d.Attempts),
			LastStatus: int32(d.LastStatus), LastError: d.LastError,
			CreateTime: timestamppb.New(d.CreatedAt), UpdateTime: timestamppb.New(d.UpdatedAt),
		}
		if d.State == webhook.StatePending {
			p.NextAttemptTime = timestamppb.New(d.NextAt)
		}
		resp.Deliveries = append(resp.Deliveries, p)
	}
	return resp, nil
}

func webhookProto(s webhook.Subscription) *pb.Webhook {
	return &pb.Webhook{
		Id: s.ID, Url: s.URL, Events: s.Events, Environments: s.Environments, Slack: s.Slack,
		CreatedBy: s.CreatedBy, CreateTime: timestamppb.New(s.CreatedAt),
	}
}

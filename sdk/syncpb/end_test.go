package syncpb

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestEndStatus(t *testing.T) {
	cancelled := status.Error(codes.Canceled, "context canceled")
	revoked := status.Error(codes.Unauthenticated, "token revoked")
	for _, tc := range []struct {
		name    string
		err     error
		trailer metadata.MD
		want    error
	}{
		{"the server's reason", cancelled, EndTrailer(revoked), revoked},
		{"cancelled without a reason", cancelled, nil, cancelled},
		{"another code keeps its status", status.Error(codes.Unavailable, "gone"), EndTrailer(revoked), status.Error(codes.Unavailable, "gone")},
		{"an unreadable code", cancelled, metadata.Pairs(EndCodeTrailer, "x"), cancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := status.Convert(EndStatus(tc.err, tc.trailer))
			want := status.Convert(tc.want)
			if got.Code() != want.Code() || got.Message() != want.Message() {
				t.Errorf("EndStatus = %v; want %v", got, want)
			}
		})
	}
}

package syncpb

import (
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The server ends a sync stream (shutdown, revoked credential, send or hello
// timeout) by cancelling it, which gRPC reports to the client as CANCELLED
// whatever the handler returns. The status the server meant travels in
// these trailers: EndTrailer writes them, EndStatus reads them back.
const (
	EndCodeTrailer    = "flagpole-end-code"
	EndMessageTrailer = "flagpole-end-message"
)

// EndTrailer is the trailer that carries err's status to EndStatus.
func EndTrailer(err error) metadata.MD {
	s := status.Convert(err)
	return metadata.Pairs(EndCodeTrailer, strconv.Itoa(int(s.Code())), EndMessageTrailer, s.Message())
}

// EndStatus returns the status a stream really ended with: err, or, when
// err is CANCELLED and the trailer names the server's reason, that reason.
func EndStatus(err error, trailer metadata.MD) error {
	if status.Code(err) != codes.Canceled {
		return err
	}
	v := trailer.Get(EndCodeTrailer)
	if len(v) == 0 {
		return err
	}
	code, cerr := strconv.ParseUint(v[0], 10, 32)
	if cerr != nil {
		return err
	}
	msg := ""
	if m := trailer.Get(EndMessageTrailer); len(m) > 0 {
		msg = m[0]
	}
	return status.Error(codes.Code(code), msg)
}

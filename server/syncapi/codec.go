package syncapi

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// encoded is a message already in its wire form. Changes are encoded once
// per environment and the same bytes are written to every stream.
type encoded []byte

// codec is the proto codec plus a pass-through for encoded messages.
type codec struct{ proto encoding.CodecV2 }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(encoded); ok {
		// SliceBuffer's Free is a no-op, so shared bytes stay intact.
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.proto.Marshal(v)
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if l, ok := v.(*lenient); ok {
		l.err = c.proto.Unmarshal(data, l.msg)
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

// lenient is a request message decoded for MalformedIsInvalidArgument: the
// codec decodes into msg and keeps a failure in err instead of returning it.
type lenient struct {
	msg any
	err error
}

// MalformedIsInvalidArgument wraps r so that every unary method registered
// through it answers a request that is not a valid message of its type with
// InvalidArgument, naming no internals. A codec's failure is otherwise
// INTERNAL: grpc-go writes that status itself as soon as decoding fails,
// before any interceptor or handler could say otherwise, so the decoding
// must not fail; the server's codec (ServerOptions) decodes the lenient
// wrapper this passes and leaves the verdict to it. Only for servers built
// with ServerOptions.
func MalformedIsInvalidArgument(r grpc.ServiceRegistrar) grpc.ServiceRegistrar {
	return malformedRegistrar{r}
}

type malformedRegistrar struct{ grpc.ServiceRegistrar }

func (m malformedRegistrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	d := *desc
	d.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, md := range desc.Methods {
		handler := md.Handler
		md.Handler = func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
			return handler(srv, ctx, func(v any) error {
				l := lenient{msg: v}
				if err := dec(&l); err != nil {
					return err
				}
				if l.err != nil {
					return status.Error(codes.InvalidArgument, "request: not a valid protobuf message of the method's request type")
				}
				return nil
			}, in)
		}
		d.Methods[i] = md
	}
	m.ServiceRegistrar.RegisterService(&d, impl)
}

func (c codec) Name() string { return protoenc.Name }

// ServerOptions returns the options a grpc.Server that serves the
// SyncService needs: a codec that writes pre-encoded changes without
// marshalling them again (every other message goes through the standard
// proto codec unchanged), a tap handle that makes each Sync stream's
// context cancellable by its handler (how a stream is ended while its
// handler waits in Recv), small per-connection buffers, and fixed
// flow-control windows (which turns off bandwidth-estimation pings, one
// more write per message on every connection), so thousands of mostly idle
// streams stay cheap.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(codec{proto: encoding.GetCodecV2(protoenc.Name)}),
		grpc.InTapHandle(tapCancel),
		grpc.SharedWriteBuffer(true),
		grpc.ReadBufferSize(4 << 10),
		grpc.WriteBufferSize(16 << 10),
		grpc.InitialWindowSize(1 << 20),
		grpc.InitialConnWindowSize(1 << 20),
		// No HPACK dynamic table for request headers: a connection carries
		// one long-lived stream, so the table would only keep its headers
		// (the credential among them) for the life of the connection.
		grpc.HeaderTableSize(0),
	}
}

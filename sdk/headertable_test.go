package sdk

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/credentials/insecure"
)

func TestHeaderTableSettingFollowsPreface(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	conn, _, err := headerTableCreds{insecure.NewCredentials(), nil}.ClientHandshake(context.Background(), "x", client)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		// gRPC writes the preface alone, then its own SETTINGS frame.
		if n, err := conn.Write([]byte(http2.ClientPreface)); err != nil || n != len(http2.ClientPreface) {
			t.Errorf("preface write = %d, %v", n, err)
		}
		_, _ = conn.Write([]byte("rest"))
	}()
	got := make([]byte, len(http2.ClientPreface)+len(noHeaderTable)+len("rest"))
	if _, err := io.ReadFull(server, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte(http2.ClientPreface)) || !bytes.HasSuffix(got, []byte("rest")) {
		t.Fatalf("stream = %q", got)
	}
	f, err := http2.NewFramer(nil, bytes.NewReader(got[len(http2.ClientPreface):])).ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() || sf.NumSettings() != 1 {
		t.Fatalf("frame after the preface = %v", f)
	}
	if v, ok := sf.Value(http2.SettingHeaderTableSize); !ok || v != 0 {
		t.Fatalf("SETTINGS_HEADER_TABLE_SIZE = %d, %v; want 0", v, ok)
	}
}

func TestHeaderTableConnPassesOtherFirstWrites(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	conn := &headerTableConn{Conn: client}
	defer conn.Close()
	go func() { _, _ = conn.Write([]byte("not a preface")) }()
	got := make([]byte, len("not a preface"))
	if _, err := io.ReadFull(server, got); err != nil || string(got) != "not a preface" {
		t.Fatalf("got %q, %v", got, err)
	}
}

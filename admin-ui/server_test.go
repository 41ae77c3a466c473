package adminui_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/testkit"
)

// testServer is the real server program (server/daemon: SQLite, gRPC, the
// HTTP API with authentication, sync, the UI) on 127.0.0.1 ports chosen
// by the system, with a temporary database and known bootstrap credentials.
type testServer struct {
	URL           string // http://127.0.0.1:port
	GRPCAddr      string
	AdminToken    string
	AdminPassword string
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// startServer starts the server program; options adjust its Config.
func startServer(t *testing.T, options ...func(*daemon.Config)) *testServer {
	t.Helper()
	logs := &testkit.Buffer{}
	ts := &testServer{AdminPassword: "pw-" + randomHex(t, 12), AdminToken: "admin-" + randomHex(t, 24)}
	cfg := daemon.Config{
		DBPath:        filepath.Join(t.TempDir(), "flagpole.db"),
		GRPCAddr:      "127.0.0.1:0",
		HTTPAddr:      "127.0.0.1:0",
		AdminPassword: ts.AdminPassword,
		AdminToken:    ts.AdminToken,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	for _, o := range options {
		o(&cfg)
	}
	srv := daemon.New(cfg)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatalf("start server: %v\n%s", err, logs)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	ts.URL = "http://" + srv.HTTPAddr().String()
	ts.GRPCAddr = srv.GRPCAddr().String()
	return ts
}

package daemon_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/testkit"
)

// authFixture is a real server with generated bootstrap secrets, its log
// captured, and an admin connection.
type authFixture struct {
	srv      *daemon.Server
	logs     *testkit.Buffer
	out      *bytes.Buffer
	clock    *testClock // tokens and sessions expire by it
	admin    *grpc.ClientConn
	password string // generated admin password
	token    string // generated admin token
}

func startAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	f := &authFixture{logs: &testkit.Buffer{}, out: &bytes.Buffer{}, clock: &testClock{}}
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.AdminToken, cfg.AdminPassword, cfg.Out = "", "", f.out
	cfg.AuthNow = f.clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.srv = daemon.New(cfg)
	if err := f.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Shutdown(context.Background()) })
	for _, line := range strings.Split(f.out.String(), "\n") {
		if _, v, ok := strings.Cut(line, "password: "); ok {
			f.password = v
		}
		if _, v, ok := strings.Cut(line, `token "admin": `); ok {
			f.token = v
		}
	}
	if f.password == "" || !auth.WellFormedToken(f.token) {
		t.Fatalf("bootstrap printed no password or token:\n%s", f.out.String())
	}
	f.admin = f.dial(t, f.token)
	return f
}

// dial connects with token ("" for none).
func (f *authFixture) dial(t *testing.T, token string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: token, Insecure: true}))
	}
	conn, err := grpc.NewClient(f.srv.GRPCAddr().String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (f *authFixture) createToken(t *testing.T, req *pb.CreateTokenRequest) string {
	t.Helper()
	resp, err := pb.NewTokenServiceClient(f.admin).CreateToken(context.Background(), req)
	if err != nil {
		t.Fatalf("CreateToken(%v): %v", req, err)
	}
	return resp.GetSecret()
}

// request builds method's request message with every "environment" field
// (top level and one message down) set to env and every "username" to
// "admin", so environment-bound and self rules have something to refuse.
func request(t *testing.T, method, env string) (proto.Message, proto.Message) {
	t.Helper()
	svc, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(name))
	in := dynamicpb.NewMessage(md.Input())
	fill(in, env, 0)
	return in, dynamicpb.NewMessage(md.Output())
}

func fill(m protoreflect.Message, env string, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsList() || fd.IsMap():
		case fd.Kind() == protoreflect.StringKind && fd.Name() == "environment":
			m.Set(fd, protoreflect.ValueOfString(env))
		case fd.Kind() == protoreflect.StringKind && fd.Name() == "username":
			m.Set(fd, protoreflect.ValueOfString("admin"))
		case fd.Kind() == protoreflect.MessageKind && depth == 0 &&
			!strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf."):
			fill(m.Mutable(fd).Message(), env, depth+1)
		}
	}
}

// call invokes method as whoever conn authenticates, naming env, and
// returns the status code.
func call(t *testing.T, conn *grpc.ClientConn, m daemon.Method, env string) codes.Code {
	t.Helper()
	in, out := request(t, m.FullName, env)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !m.Stream {
		return status.Code(conn.Invoke(ctx, m.FullName, in, out))
	}
	ctx = metadata.AppendToOutgoingContext(ctx, auth.EnvironmentHeader, env)
	st, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, m.FullName)
	if err != nil {
		return status.Code(err)
	}
	st.SendMsg(in)
	st.CloseSend()
	return status.Code(st.RecvMsg(out))
}

// TestEveryMethodRefusesWrongCredentials walks every RPC the real server
// registers (so a new RPC without a rule fails here) with no credential, a
// revoked token, an expired token, an sdk token of another environment and
// a ci token outside its environments, over a real socket.
func TestEveryMethodRefusesWrongCredentials(t *testing.T) {
	t.Parallel()
	f := startAuthFixture(t)
	ctx := context.Background()
	revoked := f.createToken(t, &pb.CreateTokenRequest{Name: "revoked", Scope: "admin"})
	if _, err := pb.NewTokenServiceClient(f.admin).RevokeToken(ctx, &pb.RevokeTokenRequest{Name: "revoked"}); err != nil {
		t.Fatal(err)
	}
	expiring := f.createToken(t, &pb.CreateTokenRequest{Name: "expiring", Scope: "admin", ExpireTime: timestamppb.New(f.clock.Now().Add(time.Hour))})
	sdk := f.createToken(t, &pb.CreateTokenRequest{Name: "svc", Scope: "sdk", Environments: []string{"staging"}})
	ci := f.createToken(t, &pb.CreateTokenRequest{Name: "deploy", Scope: "ci", Environments: []string{"staging"}})

	methods := f.srv.Methods()
	if len(methods) < 30 {
		t.Fatalf("only %d methods registered: %v", len(methods), methods)
	}
	// Every method has a rule, and only methods that read have a rule that
	// lets a ci token outside its environments or a viewer through.
	reads := regexp.MustCompile(`/(Get|List|Watch|Evaluate|WhoAmI|Sync$|ServerReflectionInfo$|Check$)`)
	for _, m := range methods {
		rule, ok := server.Permissions[m.FullName]
		switch {
		case !ok:
			t.Errorf("%s has no rule in auth.Rules", m.FullName)
		case !reads.MatchString(m.FullName) && rule.Access < server.AccessConfigure:
			t.Errorf("%s changes things but its rule only needs %s", m.FullName, rule.Access)
		}
	}
	type credential struct {
		name string
		conn *grpc.ClientConn
		want func(server.Access) codes.Code // OK means "not refused"
	}
	unauthenticated := func(a server.Access) codes.Code {
		if a == server.AccessPublic {
			return codes.OK
		}
		return codes.Unauthenticated
	}
	creds := []credential{
		{"no credential", f.dial(t, ""), unauthenticated},
		{"revoked token", f.dial(t, revoked), unauthenticated},
		{"sdk token of staging", f.dial(t, sdk), func(a server.Access) codes.Code {
			if a == server.AccessPublic || a == server.AccessAuthenticated {
				return codes.OK
			}
			return codes.PermissionDenied
		}},
		{"ci token of staging", f.dial(t, ci), func(a server.Access) codes.Code {
			switch a {
			case server.AccessPublic, server.AccessAuthenticated, server.AccessRead, server.AccessEvaluate:
				return codes.OK
			}
			return codes.PermissionDenied
		}},
		{"expired token", f.dial(t, expiring), unauthenticated},
	}
	for _, c := range creds {
		if c.name == "expired token" {
			f.clock.Advance(time.Hour) // the credential clock passes the expiry
		}
		for _, m := range methods {
			rule := server.Permissions[m.FullName]
			if rule.Access == server.AccessPublic && m.Stream {
				continue // health Watch never ends; Check shows health is open
			}
			got, want := call(t, c.conn, m, "production"), c.want(rule.Access)
			refused := got == codes.Unauthenticated || got == codes.PermissionDenied
			switch {
			case want == codes.OK && refused:
				t.Errorf("%s: %s (%s) refused with %s, want it admitted", c.name, m.FullName, rule.Access, got)
			case want != codes.OK && got != want:
				t.Errorf("%s: %s (%s) = %s, want %s", c.name, m.FullName, rule.Access, got, want)
			}
		}
	}
}

// TestSDKTokenBindsEvaluation: an sdk token evaluates in its environment
// without naming it.
func TestSDKTokenBindsEvaluation(t *testing.T) {
	t.Parallel()
	f := startAuthFixture(t)
	sdk := f.createToken(t, &pb.CreateTokenRequest{Name: "svc", Scope: "sdk", Environments: []string{"staging"}})
	if _, err := pb.NewFlagServiceClient(f.admin).CreateFlag(context.Background(), &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "beta", Type: "boolean"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := pb.NewEvaluationServiceClient(f.dial(t, sdk)).EvaluateAll(context.Background(), &pb.EvaluateAllRequest{TargetingKey: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if evs := resp.GetEvaluations(); len(evs) != 1 || evs[0].GetMetadata().GetFields()["flagSetId"].GetStringValue() != "staging" {
		t.Fatalf("EvaluateAll without an environment = %v, want beta evaluated in staging", evs)
	}
	who, err := pb.NewAuthServiceClient(f.dial(t, sdk)).WhoAmI(context.Background(), &pb.WhoAmIRequest{})
	if err != nil || who.GetScope() != "sdk" || who.GetEnvironments()[0] != "staging" {
		t.Fatalf("WhoAmI = %v, %v", who, err)
	}
}

// TestProtectedProductionOnlyAdmins: production is protected from the
// first start; an editor can change staging but not production.
func TestProtectedProductionOnlyAdmins(t *testing.T) {
	t.Parallel()
	f := startAuthFixture(t)
	ctx := context.Background()
	env, err := pb.NewEnvironmentServiceClient(f.admin).GetEnvironment(ctx, &pb.GetEnvironmentRequest{Name: "production"})
	if err != nil || !env.GetEnvironment().GetProtected() {
		t.Fatalf("production: %v, %v; want protected", env, err)
	}
	flags := pb.NewFlagServiceClient(f.admin)
	if _, err := flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "beta", Type: "boolean"}}); err != nil {
		t.Fatal(err)
	}
	ci := f.createToken(t, &pb.CreateTokenRequest{Name: "deploy", Scope: "ci", Environments: []string{"production"}})
	ciFlags := pb.NewFlagServiceClient(f.dial(t, ci))
	if _, err := ciFlags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "beta", Environment: "production", Enabled: true}); err != nil {
		t.Fatalf("ci token listing production: %v", err)
	}
	if _, err := ciFlags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "beta", Environment: "staging", Enabled: true}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("ci token on staging: %v, want PermissionDenied", err)
	}
	entries, err := pb.NewAuditServiceClient(f.admin).ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{FlagKey: "beta", Environment: "production"})
	if err != nil || len(entries.GetEntries()) == 0 {
		t.Fatalf("audit: %v, %v", entries, err)
	}
	if e := entries.GetEntries()[0]; e.GetActor() != "deploy" || e.GetActorKind() != "token" || e.GetSource() != "api" {
		t.Fatalf("audit entry actor %q kind %q source %q, want deploy, token, api", e.GetActor(), e.GetActorKind(), e.GetSource())
	}
}

// TestNoSecretInLogsOrAuditTrail runs token and user changes through the
// real server and searches the log and the audit trail for every secret.
func TestNoSecretInLogsOrAuditTrail(t *testing.T) {
	t.Parallel()
	f := startAuthFixture(t)
	ctx := metadata.AppendToOutgoingContext(context.Background(), auth.SourceHeader, "cli")
	tokens, users := pb.NewTokenServiceClient(f.admin), pb.NewUserServiceClient(f.admin)
	created, err := tokens.CreateToken(ctx, &pb.CreateTokenRequest{Name: "deploy", Scope: "ci", Environments: []string{"staging"}})
	if err != nil {
		t.Fatal(err)
	}
	secret := created.GetSecret()
	if !strings.HasPrefix(secret, "fp_ci_") {
		t.Fatalf("ci secret %q lacks fp_ci_", secret)
	}
	// Use it, fail with a near miss, revoke it.
	flags := pb.NewFlagServiceClient(f.dial(t, secret))
	flags.ListFlags(ctx, &pb.ListFlagsRequest{})
	pb.NewFlagServiceClient(f.dial(t, secret+"x")).ListFlags(ctx, &pb.ListFlagsRequest{})
	if _, err := tokens.RevokeToken(ctx, &pb.RevokeTokenRequest{Name: "deploy"}); err != nil {
		t.Fatal(err)
	}
	const pw1, pw2 = "viewer-password-one", "viewer-password-two"
	if _, err := users.CreateUser(ctx, &pb.CreateUserRequest{Username: "vi", Password: pw1, Role: "viewer"}); err != nil {
		t.Fatal(err)
	}
	if _, err := users.SetPassword(ctx, &pb.SetPasswordRequest{Username: "vi", Password: pw2}); err != nil {
		t.Fatal(err)
	}
	if _, err := users.CreateUser(ctx, &pb.CreateUserRequest{Username: "weak", Password: "short-pw", Role: "viewer"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("short password: %v, want InvalidArgument", err)
	}
	list, err := tokens.ListTokens(ctx, &pb.ListTokensRequest{IncludeRevoked: true})
	if err != nil {
		t.Fatal(err)
	}
	audit, err := pb.NewAuditServiceClient(f.admin).ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var trail strings.Builder
	actions := map[string]bool{}
	for _, e := range audit.GetEntries() {
		actions[e.GetAction()] = true
		b, _ := proto.Marshal(e)
		trail.Write(b)
	}
	for _, a := range []string{"token.create", "token.revoke", "user.create", "user.set_password"} {
		if !actions[a] {
			t.Errorf("audit trail lacks %s: %v", a, actions)
		}
	}
	for _, e := range audit.GetEntries() {
		if e.GetAction() == "token.revoke" && (e.GetActor() != "admin" || e.GetSource() != "cli") {
			t.Errorf("token.revoke by %q from %q, want admin from cli", e.GetActor(), e.GetSource())
		}
	}
	listed, _ := proto.Marshal(list)
	logs := f.logs.String()
	if !strings.Contains(logs, "token created") {
		t.Fatalf("log did not record the token creation:\n%s", logs)
	}
	for _, s := range []string{secret, secret + "x", f.token, f.password, pw1, pw2, "short-pw", "$argon2id$"} {
		if strings.Contains(logs, s) {
			t.Errorf("log contains secret %q", s)
		}
		if strings.Contains(trail.String(), s) {
			t.Errorf("audit trail contains secret %q", s)
		}
		if strings.Contains(string(listed), s) {
			t.Errorf("ListTokens contains secret %q", s)
		}
	}
}

// TestBootstrapFromEnvironmentAndRestart: given credentials work, are not
// printed, and a second start on the same file creates nothing new.
func TestBootstrapFromEnvironmentAndRestart(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "flagpole.db")
	var out bytes.Buffer
	cfg := config(dbPath)
	cfg.Out = &out
	first := daemon.New(cfg)
	conn := start(t, first)
	if out.Len() != 0 {
		t.Fatalf("given secrets printed: %q", out.String())
	}
	if _, err := pb.NewAuthServiceClient(conn).WhoAmI(context.Background(), &pb.WhoAmIRequest{}); err != nil {
		t.Fatal(err)
	}
	first.Shutdown(context.Background())
	cfg.AdminToken, cfg.AdminPassword = "", ""
	second := daemon.New(cfg)
	conn = start(t, second) // still the first start's token
	list, err := pb.NewTokenServiceClient(conn).ListTokens(context.Background(), &pb.ListTokensRequest{})
	if err != nil || len(list.GetTokens()) != 1 || out.Len() != 0 {
		t.Fatalf("after restart: %v, %v, printed %q", list, err, out.String())
	}
	bad := config(filepath.Join(t.TempDir(), "b.db"))
	bad.AdminToken = "too-short"
	if err := daemon.New(bad).Start(context.Background()); err == nil || !strings.Contains(err.Error(), "FLAGPOLE_ADMIN_TOKEN") {
		t.Fatalf("short admin token: %v, want an error naming FLAGPOLE_ADMIN_TOKEN", err)
	}
}

// TestTLS serves both ports over TLS with a self-signed certificate.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certPEM, certFile, keyFile := selfSigned(t, dir)
	cfg := config(filepath.Join(dir, "flagpole.db"))
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	srv := daemon.New(cfg)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	conn, err := grpc.NewClient(srv.GRPCAddr().String(),
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "localhost")),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: testAdminToken}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := pb.NewAuthServiceClient(conn).WhoAmI(context.Background(), &pb.WhoAmIRequest{}); err != nil {
		t.Fatalf("WhoAmI over TLS: %v", err)
	}
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	// The SDK trusts the server through a CA file.
	provider, err := sdk.NewProvider(srv.GRPCAddr().String(), sdk.WithToken(testAdminToken),
		sdk.WithEnvironment("production"), sdk.WithCAFile(certFile), sdk.WithInitTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := provider.Init(openfeature.EvaluationContext{}); err != nil {
		t.Fatalf("SDK over TLS with a CA file: %v", err)
	}
	provider.Shutdown()
	if _, err := sdk.NewProvider(srv.GRPCAddr().String(), sdk.WithCAFile(keyFile)); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("SDK with a CA file holding no certificate: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	resp, err := client.Get("https://" + srv.HTTPAddr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("https /healthz: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("https /healthz: Strict-Transport-Security %q, want max-age=…", hsts)
	}
	plain, err := grpc.NewClient(srv.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := healthpb.NewHealthClient(plain).Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext gRPC to the TLS port: %v, want Unavailable", err)
	}
	cfg.TLSKey = ""
	if err := daemon.New(cfg).Start(context.Background()); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Fatalf("cert without key: %v, want an error naming --tls-key", err)
	}
}

func selfSigned(t *testing.T, dir string) (certPEM []byte, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certPEM, certFile, keyFile
}

// TestRevokedTokenRefusedOnNextCall: a token in use (so cached by the
// server) is refused on the very next call after its revocation returns,
// over gRPC and over HTTP.
func TestRevokedTokenRefusedOnNextCall(t *testing.T) {
	t.Parallel()
	f := startAuthFixture(t)
	ctx := context.Background()
	secret := f.createToken(t, &pb.CreateTokenRequest{Name: "svc", Scope: "sdk", Environments: []string{"production"}})
	eval := pb.NewEvaluationServiceClient(f.dial(t, secret))
	url := "http://" + f.srv.HTTPAddr().String() + "/ofrep/v1/evaluate/flags"
	ofrep := func() int {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"context":{"targetingKey":"u1"}}`))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 {
		if _, err := eval.EvaluateAll(ctx, &pb.EvaluateAllRequest{TargetingKey: "u1"}); err != nil {
			t.Fatalf("evaluate with a valid sdk token: %v", err)
		}
		if code := ofrep(); code != http.StatusOK {
			t.Fatalf("OFREP with a valid sdk token: HTTP %d", code)
		}
	}
	if _, err := pb.NewTokenServiceClient(f.admin).RevokeToken(ctx, &pb.RevokeTokenRequest{Name: "svc"}); err != nil {
		t.Fatal(err)
	}
	if _, err := eval.EvaluateAll(ctx, &pb.EvaluateAllRequest{TargetingKey: "u1"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("evaluate right after revoke: %v, want Unauthenticated", err)
	}
	if code := ofrep(); code != http.StatusUnauthorized {
		t.Fatalf("OFREP right after revoke: HTTP %d, want 401", code)
	}
}

// TestTokenCannotClaimUISource checks that only a browser session is
// audited with source "ui": a token that sends the source header "ui", over
// gRPC or HTTP, is audited as "api", while "cli" stays its own to claim.
func TestTokenCannotClaimUISource(t *testing.T) {
	f := startAuthFixture(t)
	flags := pb.NewFlagServiceClient(f.admin)
	ui := metadata.AppendToOutgoingContext(context.Background(), auth.SourceHeader, "ui")
	if _, err := flags.CreateFlag(ui, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "grpc-ui", Type: "boolean"}}); err != nil {
		t.Fatal(err)
	}
	cli := metadata.AppendToOutgoingContext(context.Background(), auth.SourceHeader, "cli")
	if _, err := flags.CreateFlag(cli, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "grpc-cli", Type: "boolean"}}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+f.srv.HTTPAddr().String()+"/api/v1/flags", strings.NewReader(`{"key":"http-ui","type":"boolean"}`))
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(auth.SourceHeader, "ui")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP create: %d %s", resp.StatusCode, body)
	}
	want := map[string]string{"grpc-ui": "api", "grpc-cli": "cli", "http-ui": "api"}
	for key, source := range want {
		entries, err := pb.NewAuditServiceClient(f.admin).ListAuditEntries(context.Background(), &pb.ListAuditEntriesRequest{FlagKey: key})
		if err != nil || len(entries.GetEntries()) == 0 {
			t.Fatalf("audit of %s: %v, %v", key, entries, err)
		}
		if got := entries.GetEntries()[0].GetSource(); got != source {
			t.Errorf("flag %s created by a token audited with source %q, want %q", key, got, source)
		}
	}
}

// TestDryRunApplyNeedsOnlyRead checks that checking a change set
// (validate_only) needs only read access: a ci token of staging may check a
// file that changes production and definitions, but not apply it.
func TestDryRunApplyNeedsOnlyRead(t *testing.T) {
	f := startAuthFixture(t)
	ctx := context.Background()
	if _, err := pb.NewFlagServiceClient(f.admin).CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "beta", Type: "boolean"}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := pb.NewFlagServiceClient(f.admin).GetFlagConfig(ctx, &pb.GetFlagConfigRequest{FlagKey: "beta", Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	change := cfg.GetConfig()
	change.Enabled = true
	req := &pb.ApplyChangesRequest{Changes: []*pb.ApplyChange{
		{Change: &pb.ApplyChange_CreateFlag{CreateFlag: &syncpb.Flag{Key: "gamma", Type: "boolean"}}},
		{Change: &pb.ApplyChange_ReplaceConfig{ReplaceConfig: change}},
	}}
	ci := pb.NewFlagServiceClient(f.dial(t, f.createToken(t, &pb.CreateTokenRequest{Name: "pr-check", Scope: "ci", Environments: []string{"staging"}})))
	if _, err := ci.ApplyChanges(ctx, req); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("staging ci token applying to production: %v, want PermissionDenied", err)
	}
	req.ValidateOnly = true
	if _, err := ci.ApplyChanges(ctx, req); err != nil {
		t.Fatalf("staging ci token checking a change set: %v, want OK", err)
	}
	sdk := pb.NewFlagServiceClient(f.dial(t, f.createToken(t, &pb.CreateTokenRequest{Name: "svc", Scope: "sdk", Environments: []string{"staging"}})))
	if _, err := sdk.ApplyChanges(ctx, req); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("sdk token checking a change set: %v, want PermissionDenied (sdk tokens do not read)", err)
	}
	got, err := pb.NewFlagServiceClient(f.admin).GetFlagConfig(ctx, &pb.GetFlagConfigRequest{FlagKey: "beta", Environment: "production"})
	if err != nil || got.GetConfig().GetEnabled() {
		t.Fatalf("a dry run changed production: %v, %v", got, err)
	}
}

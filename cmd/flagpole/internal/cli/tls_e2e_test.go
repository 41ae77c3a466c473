package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, returning
// their paths; the certificate is its own CA.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "flagpole-e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"flagpole.test"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLS(t *testing.T) {
	t.Parallel()
	cert, key := selfSigned(t)
	s := startServer(t, "--tls-cert", cert, "--tls-key", key)
	env := []string{"FLAGPOLE_ADDR=" + s.addr, "FLAGPOLE_TOKEN=" + adminToken}

	if r := runCLI(t, env, "", "env", "list", "--tls-ca", cert); r.code != 0 || !strings.Contains(r.stdout, "production") {
		t.Errorf("--tls-ca: %s", r)
	}
	if r := runCLI(t, append(env, "FLAGPOLE_TLS_CA="+cert), "", "env", "list", "-o", "json"); r.code != 0 {
		t.Errorf("FLAGPOLE_TLS_CA: %s", r)
	}
	if r := runCLI(t, env, "", "env", "list", "--tls-ca", cert, "--tls-server-name", "flagpole.test"); r.code != 0 {
		t.Errorf("--tls-server-name flagpole.test: %s", r)
	}
	// The system roots do not trust a self-signed certificate.
	if r := runCLI(t, env, "", "env", "list", "--tls"); r.code != 1 || !strings.Contains(r.stderr, s.addr) {
		t.Errorf("--tls against an untrusted certificate: want exit 1 naming the address, got %s", r)
	}
	// Plaintext against a TLS server fails, naming the address.
	if r := runCLI(t, env, "", "env", "list", "--connect-timeout", "2s"); r.code != 1 || !strings.Contains(r.stderr, s.addr) {
		t.Errorf("plaintext against TLS: want exit 1 naming the address, got %s", r)
	}
	if r := runCLI(t, env, "", "env", "list", "--tls-ca", filepath.Join(t.TempDir(), "missing.pem")); r.code != 1 || !strings.Contains(r.stderr, "--tls-ca") {
		t.Errorf("missing CA file: %s", r)
	}
}

package sdk

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"log/slog"
	"time"

	"google.golang.org/grpc"
)

// Option configures a Provider.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	token         string
	environment   string
	serviceName   string
	instanceID    string
	cacheFile     string
	cacheDir      string
	caFile        string
	tls           *tls.Config
	dialOptions   []grpc.DialOption
	initTimeout   time.Duration
	errorGrace    time.Duration
	idleTimeout   time.Duration
	ackDelay      time.Duration
	backoffMin    time.Duration
	backoffMax    time.Duration
	usageInterval time.Duration
	trackInterval time.Duration
	logger        *slog.Logger
}

// The client keepalive: after KeepaliveTime without anything received the
// provider pings the server, and drops the connection when the answer takes
// longer than KeepaliveTimeout.
const (
	KeepaliveTime    = 20 * time.Second
	KeepaliveTimeout = 10 * time.Second
)

// DefaultAckDelay is the window within which the provider coalesces
// acknowledgements after one it sent; see WithAckDelay.
const DefaultAckDelay = 50 * time.Millisecond

// WithAckDelay sets the provider's acknowledgement window (default
// DefaultAckDelay; 0 acknowledges every message at once). A change applied
// after a quiet spell is acknowledged at once, so a lone change (a kill
// switch) is confirmed as soon as it is applied; changes applied within the
// delay after an acknowledgement are coalesced into one acknowledgement of
// the latest revision when the delay ends.
func WithAckDelay(d time.Duration) Option {
	return optionFunc(func(o *options) { o.ackDelay = max(d, 0) })
}

func defaultOptions() options {
	return options{
		initTimeout:   10 * time.Second,
		errorGrace:    30 * time.Second,
		idleTimeout:   45 * time.Second,
		ackDelay:      DefaultAckDelay,
		backoffMin:    250 * time.Millisecond,
		backoffMax:    2 * time.Second,
		usageInterval: 5 * time.Second,
		trackInterval: 2 * time.Second,
		logger:        slog.Default(),
	}
}

// WithToken sets the SDK token, sent as "authorization: Bearer <token>". The
// server derives the environment from it.
func WithToken(token string) Option { return optionFunc(func(o *options) { o.token = token }) }

// WithEnvironment names the environment to stream, sent as the
// x-flagpole-environment header, for servers that do not derive it from the
// token.
func WithEnvironment(env string) Option {
	return optionFunc(func(o *options) { o.environment = env })
}

// WithServiceName names the service this instance belongs to, as shown in
// the server's list of connected clients (default: the program's name).
func WithServiceName(name string) Option {
	return optionFunc(func(o *options) { o.serviceName = name })
}

// WithInstanceID sets this instance's id (default: host name and a random
// suffix).
func WithInstanceID(id string) Option { return optionFunc(func(o *options) { o.instanceID = id }) }

// WithCacheFile keeps the last received flags in a file and serves them at
// start when the server cannot be reached. A file is for one server and one
// environment: services of several environments need one file each (or
// WithCacheDir, which names the file for them).
func WithCacheFile(path string) Option { return optionFunc(func(o *options) { o.cacheFile = path }) }

// WithCacheDir keeps the cache file (see WithCacheFile) in dir, named after
// the server address and the environment, or, when the token decides the
// environment (no WithEnvironment), after a fingerprint of the token: so
// services of different servers or environments that share dir never start
// from each other's flags. WithCacheFile takes precedence. The directory
// must exist.
func WithCacheDir(dir string) Option { return optionFunc(func(o *options) { o.cacheDir = dir }) }

// cacheFileName is the name of the cache file in a WithCacheDir directory
// for a server address, environment and token: readable parts, made safe
// for a file name, and a hash of the exact key so that two keys the
// readable parts would merge stay apart.
func cacheFileName(address, environment, token string) string {
	key := environment
	if key == "" && token != "" {
		sum := sha256.Sum256([]byte(token))
		key = "token-" + hex.EncodeToString(sum[:6])
	}
	if key == "" {
		key = "default"
	}
	sum := sha256.Sum256([]byte(address + "\x00" + key))
	return "flagpole-" + fileSafe(address) + "-" + fileSafe(key) + "-" + hex.EncodeToString(sum[:4]) + ".flags"
}

// fileSafe replaces every byte outside [A-Za-z0-9._-] with '_'.
func fileSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// WithTLS connects over TLS with the given configuration. Without it the
// connection is plaintext (for a server on the same host or network).
func WithTLS(c *tls.Config) Option { return optionFunc(func(o *options) { o.tls = c }) }

// WithCAFile connects over TLS and verifies the server against the PEM
// certificates in the file (for a server run with --tls-cert signed by a
// private CA). NewProvider fails when the file cannot be read or holds no
// certificate. It may be combined with WithTLS, whose RootCAs it replaces.
func WithCAFile(path string) Option { return optionFunc(func(o *options) { o.caFile = path }) }

// WithDialOptions adds gRPC dial options (applied after the SDK's own).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(o *options) { o.dialOptions = append(o.dialOptions, opts...) })
}

// WithInitTimeout bounds how long initialisation waits for the first
// snapshot when the caller's context has no earlier deadline (default 10s).
func WithInitTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.initTimeout = d })
}

// WithErrorGracePeriod sets how long the provider stays STALE after the
// stream drops before it reports PROVIDER_ERROR (default 30s).
func WithErrorGracePeriod(d time.Duration) Option {
	return optionFunc(func(o *options) { o.errorGrace = d })
}

// WithIdleTimeout sets how long a stream may stay silent (the server sends
// heartbeats) before it is considered dead and reconnected (default 45s).
func WithIdleTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.idleTimeout = d })
}

// WithReconnectBackoff sets the first and the largest delay between
// reconnection attempts (defaults 250ms and 2s); each delay doubles, and
// the wait is drawn at random between half of it and all of it. The largest
// delay bounds how long after a server's return the provider finds it
// (gRPC's own connection backoff is reset before every attempt, so the two
// do not add up); a failed attempt costs the server a refused connection.
func WithReconnectBackoff(first, largest time.Duration) Option {
	return optionFunc(func(o *options) { o.backoffMin, o.backoffMax = first, max(first, largest) })
}

// WithUsageInterval sets how often evaluation counts are reported (default
// 5s).
func WithUsageInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.usageInterval = d })
}

// WithTrackFlushInterval sets how often the signals of guarded flags
// (tracked events attributed to variants, and exposures) are sent while
// there are any (default 2s; a longer interval is cut to 5s, the longest a
// guard waits for them).
func WithTrackFlushInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.trackInterval = d })
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(o *options) { o.logger = l }) }

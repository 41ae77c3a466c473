package daemon

import "time"

// connectionDefaults fills in the connection timeouts and limits left zero.
// The connection counts default to DefaultMaxHTTPConnections and
// DefaultMaxGRPCConnections, lowered to a quarter and a half of the
// process's descriptor limit when that is smaller, so that the store, the
// log and the other port always keep descriptors of their own.
func (c *Config) connectionDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HTTPReadHeaderTimeout, DefaultHTTPReadHeaderTimeout)
	def(&c.HTTPReadTimeout, DefaultHTTPReadTimeout)
	def(&c.HTTPIdleTimeout, DefaultHTTPIdleTimeout)
	def(&c.GRPCConnectionTimeout, DefaultGRPCConnectionTimeout)
	def(&c.GRPCKeepaliveTime, DefaultGRPCKeepaliveTime)
	def(&c.GRPCKeepaliveTimeout, DefaultGRPCKeepaliveTimeout)
	def(&c.GRPCMaxConnIdle, DefaultGRPCMaxConnIdle)
	fds := descriptorLimit()
	if c.MaxHTTPConnections <= 0 {
		c.MaxHTTPConnections = DefaultMaxHTTPConnections
		if fds > 0 {
			c.MaxHTTPConnections = max(min(c.MaxHTTPConnections, fds/4), 16)
		}
	}
	if c.MaxGRPCConnections <= 0 {
		c.MaxGRPCConnections = DefaultMaxGRPCConnections
		if fds > 0 {
			c.MaxGRPCConnections = max(min(c.MaxGRPCConnections, fds/2), 16)
		}
	}
}

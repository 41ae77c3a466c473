package webhook

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// Blocked are the destinations refused by default: link-local addresses
// (where clouds serve instance metadata and credentials) and the other
// metadata addresses clouds use. Loopback and private ranges stay allowed:
// self-hosted receivers usually are internal.
var Blocked = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),     // IPv4 link-local, incl. 169.254.169.254
	netip.MustParsePrefix("fe80::/10"),          // IPv6 link-local
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS metadata over IPv6
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud metadata
	netip.MustParsePrefix("0.0.0.0/8"),          // "this host", reaches loopback services unannounced
	netip.MustParsePrefix("::/128"),
}

// Guard decides which resolved addresses a delivery may connect to. Allow
// overrides Blocked for the prefixes an admin listed (serve
// --webhook-allow).
type Guard struct {
	Allow []netip.Prefix
}

// Check returns an error if ip is refused.
func (g Guard) Check(ip netip.Addr) error {
	ip = ip.Unmap()
	for _, p := range g.Allow {
		if p.Contains(ip) {
			return nil
		}
	}
	for _, p := range Blocked {
		if p.Contains(ip) {
			return fmt.Errorf("webhook: address %s is refused (in %s; allow it with serve --webhook-allow)", ip, p)
		}
	}
	return nil
}

// Control is a net.Dialer Control function: it runs after name resolution,
// on the very address about to be connected, so a name that resolves to a
// refused address (or is re-pointed to one later) is refused too.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("webhook: dial address %q is not an IP", address)
	}
	return g.Check(ip)
}

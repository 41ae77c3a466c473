//go:build !linux

package syncapi

import (
	"net"
	"syscall"
)

// rawConn returns nil: reads wait in Read, holding a buffer.
func rawConn(net.Conn) syscall.RawConn { return nil }

func sysRead(uintptr, []byte) (int, error) { return 0, syscall.EINVAL }

func wouldBlock(error) bool { return false }

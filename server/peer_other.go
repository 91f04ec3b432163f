//go:build !unix

package server

import "net"

// peerClosed cannot check connections on this platform.
func peerClosed(net.Conn) (closed, ok bool) { return false, false }

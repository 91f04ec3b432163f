//go:build unix

package server

import (
	"errors"
	"net"

	"golang.org/x/sys/unix"
)

// peerClosed reports whether the client closed a TCP connection, by peeking
// at the socket without blocking or consuming data: end of stream or a reset
// means gone. ok is false when the connection cannot be checked.
func peerClosed(c net.Conn) (closed, ok bool) {
	tcp, isTCP := tcpConn(c)
	if !isTCP {
		return false, false
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return false, false
	}
	var n int
	var rerr error
	buf := make([]byte, 1)
	err = raw.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true // never wait for data
	})
	switch {
	case err != nil:
		return true, true // closed on our side
	case errors.Is(rerr, unix.EAGAIN) || errors.Is(rerr, unix.EINTR):
		return false, true // open, nothing to read
	case errors.Is(rerr, unix.ECONNRESET) || errors.Is(rerr, unix.EPIPE):
		return true, true
	case rerr != nil:
		return false, false
	}
	return n == 0, true // 0 bytes without error: the peer's FIN
}

//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenShared listens on addr with SO_REUSEPORT, so that a socket of
// reservePort can hold the port while the server is stopped.
func listenShared(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// reservePort binds a socket to addr (a listenShared address) without
// listening on it: while it is open no other program can bind the port,
// nor take it as the local port of a connection, and connections to it
// are refused, as to a server that is gone. release closes it.
func reservePort(addr *net.TCPAddr) (release func(), err error) {
	ip := addr.IP.To4()
	if ip == nil {
		return nil, fmt.Errorf("reserve %s: not an IPv4 address", addr)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reserve %s: %w", addr, err)
	}
	sa := &unix.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], ip)
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	if err == nil {
		err = unix.Bind(fd, sa)
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("reserve %s: %w", addr, err)
	}
	return func() { _ = unix.Close(fd) }, nil
}

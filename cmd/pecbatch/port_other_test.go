//go:build !linux

package main

import "net"

// listenShared is net.Listen where ports cannot be shared: listenAgain
// then retries, with a bound, while the port is taken.
func listenShared(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// reservePort holds nothing where ports cannot be shared.
func reservePort(*net.TCPAddr) (release func(), err error) { return func() {}, nil }

package server

import "syscall"

// wouldBlock reports whether reading fd now would block: no data, no EOF, no error
// pending. It peeks without consuming.
func wouldBlock(fd uintptr, probe []byte) bool {
	_, _, err := syscall.Recvfrom(int(fd), probe, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err == syscall.EAGAIN
}

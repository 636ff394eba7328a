//go:build !linux

package server

// wouldBlock: without a portable non-blocking peek, never wait before the frame reader
// (which then waits itself; only the idle stack size differs).
func wouldBlock(uintptr, []byte) bool { return false }

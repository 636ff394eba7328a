package server

import (
	"errors"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// A minimal io_uring (no library) for BenchmarkWriteCPUPerDelivery's batched variant:
// the ten sends of one fan-out submitted with one io_uring_enter instead of ten write(2)s.
// It measures what batching across sockets could save; the node does not use it.

const (
	sysIOURingSetup = 425
	sysIOURingEnter = 426
	iouOffSQEs      = 0x10000000
	iouOpSend       = 26
	iouEnterGetEv   = 1
	iouFeatSingle   = 1
)

type iouSQOff struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type iouCQOff struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type iouParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sq                                                                     iouSQOff
	cq                                                                     iouCQOff
}

type iouSQE struct {
	opcode, flags   uint8
	ioprio          uint16
	fd              int32
	off, addr       uint64
	len, opFlags    uint32
	userData        uint64
	bufIndex, pers  uint16
	spliceFD        int32
	addr3, reserved uint64
}

type iouCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

type iouRing struct {
	fd                     int
	sqTail, sqMask         *uint32
	sqArray                []uint32
	sqes                   []iouSQE
	cqHead, cqTail, cqMask *uint32
	cqes                   []iouCQE
	maps                   [][]byte
}

func newIOURing(entries uint32) (*iouRing, error) {
	var p iouParams
	fd, _, e := syscall.Syscall(sysIOURingSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, e
	}
	r := &iouRing{fd: int(fd)}
	if p.features&iouFeatSingle == 0 {
		r.close()
		return nil, errors.New("io_uring without a single ring mapping")
	}
	size := max(int(p.sq.array)+int(p.sqEntries)*4, int(p.cq.cqes)+int(p.cqEntries)*int(unsafe.Sizeof(iouCQE{})))
	rb, err := syscall.Mmap(r.fd, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, err
	}
	sb, err := syscall.Mmap(r.fd, iouOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(iouSQE{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		_ = syscall.Munmap(rb)
		r.close()
		return nil, err
	}
	r.maps = [][]byte{rb, sb}
	base := unsafe.Pointer(&rb[0])
	r.sqTail = (*uint32)(unsafe.Add(base, p.sq.tail))
	r.sqMask = (*uint32)(unsafe.Add(base, p.sq.ringMask))
	r.sqArray = unsafe.Slice((*uint32)(unsafe.Add(base, p.sq.array)), p.sqEntries)
	r.cqHead = (*uint32)(unsafe.Add(base, p.cq.head))
	r.cqTail = (*uint32)(unsafe.Add(base, p.cq.tail))
	r.cqMask = (*uint32)(unsafe.Add(base, p.cq.ringMask))
	r.cqes = unsafe.Slice((*iouCQE)(unsafe.Add(base, p.cq.cqes)), p.cqEntries)
	r.sqes = unsafe.Slice((*iouSQE)(unsafe.Pointer(&sb[0])), p.sqEntries)
	return r, nil
}

func (r *iouRing) close() {
	for _, m := range r.maps {
		_ = syscall.Munmap(m)
	}
	_ = syscall.Close(r.fd)
}

// sendAll sends msg on every fd without waiting (MSG_DONTWAIT: a full socket completes
// with -EAGAIN instead of being queued in the kernel) and returns the bytes sent or
// -errno per fd, in order.
func (r *iouRing) sendAll(fds []int, msg []byte, res []int32) error {
	n := uint32(len(fds))
	tail, mask := atomic.LoadUint32(r.sqTail), *r.sqMask
	for i := uint32(0); i < n; i++ {
		idx := (tail + i) & mask
		r.sqes[idx] = iouSQE{opcode: iouOpSend, fd: int32(fds[i]), addr: uint64(uintptr(unsafe.Pointer(&msg[0]))),
			len: uint32(len(msg)), opFlags: syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL, userData: uint64(i)}
		r.sqArray[idx] = idx
	}
	atomic.StoreUint32(r.sqTail, tail+n)
	_, _, e := syscall.Syscall6(sysIOURingEnter, uintptr(r.fd), uintptr(n), uintptr(n), iouEnterGetEv, 0, 0)
	if e != 0 {
		return e
	}
	head, ctail, cmask := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail), *r.cqMask
	got := uint32(0)
	for ; head != ctail; head++ {
		c := r.cqes[head&cmask]
		res[c.userData] = c.res
		got++
	}
	atomic.StoreUint32(r.cqHead, head)
	if got != n {
		return errors.New("io_uring: not every send completed")
	}
	return nil
}

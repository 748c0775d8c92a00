package main

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerCred reads the peer's uid and pid of a unix connection (SO_PEERCRED).
func peerCred(c net.Conn) (peer, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return peer{}, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return peer{}, false
	}
	var cred *unix.Ucred
	if err := raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cred == nil {
		return peer{}, false
	}
	return peer{uid: int(cred.Uid), pid: int(cred.Pid)}, true
}

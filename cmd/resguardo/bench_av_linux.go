package main

import "syscall"

func init() {
	// clamd gets SIGKILL when the benchmark dies, however it dies.
	benchClamdAttr = func() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
}

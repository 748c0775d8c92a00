//go:build !linux

package fsutil

import (
	"os"
	"syscall"
)

// Elsewhere a full sync(2) stands in for syncfs.
func syncfs(d *os.File) error {
	syscall.Sync()
	return d.Sync()
}

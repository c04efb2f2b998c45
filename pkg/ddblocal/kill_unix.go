//go:build unix

package ddblocal

import (
	"errors"
	"os"
	"syscall"
)

func killTree(p *os.Process) error {
	// The JVM leads its own process group (Setpgid), whose id is its pid.
	err := syscall.Kill(-p.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	if err != nil {
		return p.Kill()
	}
	return nil
}

//go:build !unix

package ddblocal

import (
	"errors"
	"os"
	"runtime"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// listensOn cannot tell here; the start-up then relies on DynamoDB Local
// reporting its bind failure.
func listensOn(pid, port int) (bool, error) { return true, nil }

func killTree(p *os.Process) error { return p.Kill() }

func listensOnLsof(pid, port int) (bool, error) {
	return false, errors.New("lsof check not supported on " + runtime.GOOS)
}

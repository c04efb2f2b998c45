//go:build unix && !linux

package ddblocal

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	// Its own process group, so that Stop can kill everything the JVM might
	// spawn in one go. (Ctrl-C then no longer reaches the JVM directly;
	// RunTests stops it on SIGINT/SIGTERM instead.)
	return &syscall.SysProcAttr{Setpgid: true}
}

func listensOn(pid, port int) (bool, error) {
	return listensOnLsof(pid, port)
}

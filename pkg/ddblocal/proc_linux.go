package ddblocal

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		// Its own process group, so that Stop can kill everything the JVM
		// might spawn in one go.
		Setpgid: true,
		// The JVM dies with the process that started it, even when that
		// process is killed outright (test timeout, kill -9, Ctrl-C, which
		// no longer reaches the JVM once it has its own process group).
		Pdeathsig: syscall.SIGKILL,
	}
}

// listensOn reports whether process pid owns a listening TCP socket on port,
// by matching socket inodes in /proc/<pid>/net/tcp{,6} against the process's
// file descriptors.
func listensOn(pid, port int) (bool, error) {
	inodes := map[string]bool{}
	read := 0
	for _, name := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, name))
		if err != nil {
			continue // tcp6 is absent when IPv6 is disabled
		}
		read++
		lines := strings.Split(string(data), "\n")
		for _, line := range lines[1:] {
			f := strings.Fields(line)
			// local_address is f[1] ("ADDR:PORT" in hex), st is f[3] (0A
			// is LISTEN), inode is f[9].
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			colon := strings.LastIndexByte(f[1], ':')
			if p, err := strconv.ParseUint(f[1][colon+1:], 16, 16); err == nil && int(p) == port {
				inodes[f[9]] = true
			}
		}
	}
	if read == 0 {
		return false, fmt.Errorf("cannot read /proc/%d/net", pid)
	}
	if len(inodes) == 0 {
		return false, nil
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return false, err
	}
	for _, fd := range fds {
		link, err := os.Readlink(fdDir + "/" + fd.Name())
		if err != nil {
			continue
		}
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
			return true, nil
		}
	}
	return false, nil
}

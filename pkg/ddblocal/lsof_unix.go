//go:build unix

package ddblocal

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// listensOnLsof is listensOn for systems without /proc. lsof is part of
// macOS (in /usr/sbin, which is not always on PATH).
func listensOnLsof(pid, port int) (bool, error) {
	lsof, err := exec.LookPath("lsof")
	if err != nil {
		lsof = "/usr/sbin/lsof"
		if _, statErr := os.Stat(lsof); statErr != nil {
			return false, err
		}
	}
	out, err := exec.Command(lsof, "-nP", "-a", "-p", strconv.Itoa(pid),
		"-iTCP:"+strconv.Itoa(port), "-sTCP:LISTEN", "-Fp").Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 && len(exit.Stderr) == 0 {
		return false, nil // lsof exits 1, silently, when nothing matches
	}
	if err != nil {
		return false, err
	}
	return strings.Contains(string(out), "p"+strconv.Itoa(pid)+"\n"), nil
}

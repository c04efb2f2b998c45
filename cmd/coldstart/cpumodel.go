package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// How a run gives its processes CPU (-cpu).
//
// Lambda "allocates CPU power in proportion to the amount of memory
// configured … At 1,769 MB, a function has the equivalent of one vCPU (one
// vCPU-second of credits per second)"
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html),
// so an invocation of a 256 MB function gets 256/1769 ≈ 0.145 of a CPU.
// That page says nothing of init. That init runs with more than that share
// is an assumption, not AWS documentation: AWS Labs' Lambda Web Adapter
// says "Lambda managed runtimes offer up to 10 seconds for function
// initialization with burst CPU"
// (https://awslabs.github.io/aws-lambda-web-adapter/configuration/async-init.html),
// and published measurements report init "gets two unthrottled vCPUs, even
// at the lowest memory configurations"
// (https://bitesizedserverless.com/bite/when-is-the-lambda-init-phase-free-and-when-is-it-billed/).
// The lambda model takes that as given: init with the host's CPU, the
// proportional share from the first /next on.
const (
	cpuLambda = "lambda" // init with the host's CPU, invocations with memory/1769 of one CPU
	cpuHost   = "host"   // init and invocations alike with the host's CPU
)

// memoryPerVCPUMB is the memory at which Lambda gives one vCPU.
const memoryPerVCPUMB = 1769

// cfsPeriod is the CFS bandwidth period over which a process's quota
// (share × period) is counted. Lambda's is not documented. The kernel's
// default, 100 ms, would let a process at 0.145 of a CPU run 14.5 ms at
// full speed and then stand still for 85.5 ms, so a call's latency would
// hang on where in a period it falls (a call needing 5 ms of CPU takes 5
// ms or 90). 20 ms spreads the same share out (2.9 ms of every 20), nearer
// a steady 0.145 of a CPU, and keeps the quota well above the kernel's 1
// ms minimum.
const cfsPeriod = 20 * time.Millisecond

// cpuModel is the CPU model a run uses, as the report states it.
type cpuModel struct {
	Model string `json:"model"` // cpuLambda or cpuHost
	// InvocationCPUs is the share of one CPU a process gets from its first
	// /next on (lambda).
	InvocationCPUs float64 `json:"invocation_cpus,omitempty"`
	PeriodMs       float64 `json:"cfs_period_ms,omitempty"`
	Cgroup         string  `json:"cgroup,omitempty"` // the cpu controller's directory the processes' cgroups go under
	// Notice says why lambda was asked for and host used.
	Notice string `json:"notice,omitempty"`

	root cgroupRoot
}

// cgroupRoot is a directory of the cpu controller under which the harness
// makes a cgroup per process.
type cgroupRoot struct {
	Dir string
	V2  bool // cpu.max, rather than v1's cpu.cfs_period_us and cpu.cfs_quota_us
}

// cgroupRoots are where this machine's cpu controller may be, in the
// order tried: cgroup v1's hierarchy, then (on a cgroup v2 system) the
// harness's own cgroup if it delegates cpu to its children.
func cgroupRoots() []cgroupRoot {
	roots := []cgroupRoot{{Dir: "/sys/fs/cgroup/cpu"}}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		return roots // no unified hierarchy at /sys/fs/cgroup
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return roots
	}
	for line := range strings.Lines(string(b)) {
		if own, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			roots = append(roots, cgroupRoot{Dir: filepath.Join("/sys/fs/cgroup", own), V2: true})
		}
	}
	return roots
}

// chooseCPU is the CPU model for requested (cpuLambda or cpuHost) and a
// function of memoryMB: lambda in the first of roots where a cgroup can be
// made and limited, else host with a notice that says why. It never
// fails: without a cpu controller the run is still worth having.
func chooseCPU(requested string, memoryMB int, roots []cgroupRoot) cpuModel {
	if requested == cpuHost {
		return cpuModel{Model: cpuHost}
	}
	var why []string
	for _, root := range roots {
		probe, err := root.newCgroup("probe")
		if err == nil {
			err = probe.remove()
		}
		if err != nil {
			why = append(why, strings.ReplaceAll(err.Error(), "\n", "; "))
			continue
		}
		return cpuModel{
			Model:          cpuLambda,
			InvocationCPUs: float64(memoryMB) / memoryPerVCPUMB,
			PeriodMs:       ms(cfsPeriod),
			Cgroup:         root.Dir,
			root:           root,
		}
	}
	// One line, in the JSON as in the header.
	return cpuModel{Model: cpuHost, Notice: "no writable cgroup cpu controller, so invocations get the host's CPU as init does (" + strings.Join(why, "; ") + ")"}
}

// place puts a freshly started process in a cgroup of its own, not yet
// limited; nil under the host model.
func (m cpuModel) place(pid int) (*cgroup, error) {
	if m.Model != cpuLambda {
		return nil, nil
	}
	cg, err := m.root.newCgroup(strconv.Itoa(pid))
	if err != nil {
		return nil, err
	}
	cg.invocationCPUs = m.InvocationCPUs
	// All of the process's threads move, and those it starts later are
	// born in the cgroup.
	if err := writeControl(filepath.Join(cg.dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		return nil, errors.Join(err, cg.remove())
	}
	return cg, nil
}

// describe is the model in one line, for the report's header.
func (m cpuModel) describe(memoryMB int) string {
	if m.Model != cpuLambda {
		line := "CPU model: host (init and invocations alike with the host's CPUs)"
		if m.Notice != "" {
			line += "\nnotice: " + m.Notice
		}
		return line
	}
	return fmt.Sprintf("CPU model: lambda (init with the host's CPUs; from the first /next on %.4f of one CPU, %d MB ÷ %d MB per vCPU, as a CFS quota of %.2f ms per %.0f ms period under %s)",
		m.InvocationCPUs, memoryMB, memoryPerVCPUMB, m.InvocationCPUs*m.PeriodMs, m.PeriodMs, m.Cgroup)
}

// cgroup is one process's cgroup.
type cgroup struct {
	dir            string
	v2             bool
	invocationCPUs float64 // what throttle limits it to
}

// newCgroup makes a cgroup under root, named after name and made unique,
// with no limit yet (which also
// proves the controller is there and writable).
func (root cgroupRoot) newCgroup(name string) (*cgroup, error) {
	if root.V2 {
		// A child has cpu.max only if its parent delegates cpu.
		ctl, err := os.ReadFile(filepath.Join(root.Dir, "cgroup.subtree_control"))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(strings.Fields(string(ctl)), "cpu") {
			return nil, fmt.Errorf("%s does not delegate the cpu controller", root.Dir)
		}
	}
	dir, err := os.MkdirTemp(root.Dir, "coldstart-"+name+"-")
	if err != nil {
		return nil, err
	}
	cg := &cgroup{dir: dir, v2: root.V2}
	if err := cg.limit(0); err != nil {
		return nil, errors.Join(err, cg.remove())
	}
	return cg, nil
}

// throttle gives the cgroup's processes an invocation's share of a CPU.
func (cg *cgroup) throttle() error { return cg.limit(cg.invocationCPUs) }

// limit sets the CPU the cgroup's processes get, in CPUs; 0 for no limit.
func (cg *cgroup) limit(cpus float64) error {
	period := strconv.FormatInt(cfsPeriod.Microseconds(), 10)
	quota := "-1"
	if cg.v2 {
		quota = "max"
	}
	if cpus > 0 {
		quota = strconv.FormatInt(int64(math.Round(cpus*float64(cfsPeriod.Microseconds()))), 10)
	}
	if cg.v2 {
		return writeControl(filepath.Join(cg.dir, "cpu.max"), quota+" "+period)
	}
	if err := writeControl(filepath.Join(cg.dir, "cpu.cfs_period_us"), period); err != nil {
		return err
	}
	return writeControl(filepath.Join(cg.dir, "cpu.cfs_quota_us"), quota)
}

// remove deletes the cgroup, which must hold no process: call it once
// its process has been waited for.
func (cg *cgroup) remove() error { return os.Remove(cg.dir) }

// writeControl writes a cgroup control file, which must exist: a
// directory that is not a cgroup has none, and must not get one.
func writeControl(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	return errors.Join(err, f.Close())
}

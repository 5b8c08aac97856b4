package main

// The container's PID 1. The kubelet starts it with new PID, mount, UTS and
// IPC namespaces; here it joins the pod's network namespace, lays out the
// container's mounts, starts the container's program with its user and
// environment, forwards signals to it and reaps orphans. When the program
// exits, PID 1 exits with its status and the kernel kills whatever else is
// left in the namespace: SIGKILL of this process is "every process of the
// container dies at once", as on a node that loses power.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func init() {
	// Namespaces joined with setns belong to a thread: keep main on one.
	runtime.LockOSThread()
}

type mountSpec struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly"`
}

type containerSpec struct {
	Netns        string      `json:"netns"`
	Hostname     string      `json:"hostname"`
	Mounts       []mountSpec `json:"mounts"`
	ReadOnlyRoot bool        `json:"readOnlyRoot"`
	Argv         []string    `json:"argv"`
	Env          []string    `json:"env"`
	Dir          string      `json:"dir"`
	UID          uint32      `json:"uid"`
	GID          uint32      `json:"gid"`
	Groups       []uint32    `json:"groups"`
	// Host directories the image's programs live in (the table maps images to
	// them); a volume mounted over a parent (/tmp, when the checkout is
	// there) must not hide them.
	Keep []string `json:"keep"`
}

func containerInit(specFile string) int {
	data, err := os.ReadFile(specFile)
	if err != nil {
		return initFail("read spec: %v", err)
	}
	var s containerSpec
	if err := json.Unmarshal(data, &s); err != nil {
		return initFail("parse spec: %v", err)
	}
	if err := enterPod(&s); err != nil {
		return initFail("%v", err)
	}
	return superviseProgram(&s)
}

func enterPod(s *containerSpec) error {
	fd, err := unix.Open(s.Netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.Netns, err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("join network namespace: %w", err)
	}
	unix.Close(fd)
	if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
		return fmt.Errorf("sethostname: %w", err)
	}
	// Hold every volume by descriptor first: a volume mounted over /tmp would
	// hide the sources of the next ones when the kubelet's state lives there.
	sources := make([]string, len(s.Mounts))
	for i, m := range s.Mounts {
		fd, err := unix.Open(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open volume %s: %w", m.Source, err)
		}
		defer unix.Close(fd)
		sources[i] = fmt.Sprintf("/proc/self/fd/%d", fd)
	}
	keep := make([]int, len(s.Keep))
	for i, dir := range s.Keep {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0)
		if err != nil {
			return fmt.Errorf("open image directory %s: %w", dir, err)
		}
		defer unix.Close(fd)
		keep[i] = fd
	}
	// Nothing mounted here may leak back into the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if s.ReadOnlyRoot {
		if err := unix.Mount("/", "/", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind /: %w", err)
		}
		if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only /: %w", err)
		}
	}
	// A /proc of this PID namespace: programs that check a pid file (Patroni,
	// pg_ctl) must see the container's own processes.
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	for i, m := range s.Mounts {
		if err := unix.Mount(sources[i], m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("mount %s at %s: %w", m.Source, m.Target, err)
		}
		// A bind mount keeps the flags of the mount it comes from, which is
		// the read-only root for a readOnlyRootFilesystem container: set them.
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT)
		if m.ReadOnly {
			flags |= unix.MS_RDONLY
		}
		if err := unix.Mount("", m.Target, "", flags, ""); err != nil {
			return fmt.Errorf("remount %s: %w", m.Target, err)
		}
	}
	for i, dir := range s.Keep {
		if err := uncover(dir, keep[i]); err != nil {
			return err
		}
	}
	return nil
}

// uncover binds dir back at its own path when a volume now hides it (the
// mount point is made inside that volume).
func uncover(dir string, fd int) error {
	var want, got unix.Stat_t
	if err := unix.Fstat(fd, &want); err != nil {
		return err
	}
	if unix.Stat(dir, &got) == nil && got.Dev == want.Dev && got.Ino == want.Ino {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("image directory %s under a volume: %w", dir, err)
	}
	src := fmt.Sprintf("/proc/self/fd/%d", fd)
	if err := unix.Mount(src, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind image directory %s: %w", dir, err)
	}
	return unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
}

// superviseProgram starts the program and stays PID 1 until it exits.
func superviseProgram(s *containerSpec) int {
	if len(s.Argv) == 0 {
		return initFail("no command: the container names none and its image has no entrypoint")
	}
	prog, err := lookPath(s.Argv[0], s.Env)
	if err != nil {
		return initFail("%v", err)
	}
	dir := s.Dir
	if dir == "" {
		dir = "/"
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	pid, err := syscall.ForkExec(prog, s.Argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   s.Env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: s.UID, Gid: s.GID, Groups: s.Groups},
			Setsid:     true,
		},
	})
	if err != nil {
		return initFail("start %s: %v", prog, err)
	}
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGCHLD {
				if code, done := reap(pid); done {
					return code
				}
				continue
			}
			if sig == syscall.SIGURG { // the Go runtime's own preemption signal
				continue
			}
			_ = syscall.Kill(pid, sig.(syscall.Signal))
		}
	}
}

// reap collects every exited child; done when the program itself has exited.
func reap(pid int) (int, bool) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err != nil || got <= 0 {
			return 0, false
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ws.ExitStatus(), true
	}
}

func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathVar := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			pathVar = e[5:]
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable %q not found in PATH %s", name, pathVar)
}

func initFail(format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(os.Stderr, "pgw-kubelet container: "+msg)
	// The kubelet reports this as the container's StartError message.
	if f := os.Getenv("PGW_INIT_ERROR_FILE"); f != "" {
		_ = os.WriteFile(f, []byte(msg), 0o644)
	}
	return 128
}

package main

// One container: how its process is started (through the PID 1 helper in
// container_init.go), its environment, mounts and user, and its state as the
// pod status reports it.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type containerState struct {
	spec         corev1.Container
	init         bool
	restartCount int32
	attempt      int
	cmd          *exec.Cmd
	pid          int
	uid, gid     uint32
	env          []string
	running      bool
	started      bool // startup probe passed (or none)
	ready        bool
	startedAt    time.Time
	exited       chan struct{}
	current      *corev1.ContainerStateTerminated // set while not running, after a run
	last         *corev1.ContainerStateTerminated
	waitReason   string
	waitMessage  string
	livenessKill bool
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$`)

// expandVars does the $(VAR) expansion of command, args and env values;
// $$ is a literal $ and an unknown reference stays as written.
func expandVars(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// containerEnv is the process environment: the image's, the service
// variables of the kubernetes Service, then the container's own in order.
func (r *podRunner) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, img *image, tag, home string) ([]string, error) {
	order := []string{}
	vars := map[string]string{}
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	paths := []string{}
	for _, p := range img.Path {
		paths = append(paths, expand(p, tag))
	}
	set("PATH", strings.Join(append(paths, defaultPath), ":"))
	set("HOSTNAME", podHostname(pod))
	set("HOME", home)
	for k, v := range img.Env {
		set(k, expand(v, tag))
	}
	// No kube-proxy: the kubernetes Service is the host's address on the bridge.
	api := r.k.net.hostIP.String()
	port := strconv.Itoa(r.k.cfg.apiPort)
	set("KUBERNETES_SERVICE_HOST", api)
	set("KUBERNETES_SERVICE_PORT", port)
	set("KUBERNETES_SERVICE_PORT_HTTPS", port)
	set("KUBERNETES_PORT", "tcp://"+api+":"+port)
	for _, from := range c.EnvFrom {
		data, err := r.envFromSource(ctx, pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		for k, v := range data {
			set(from.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expandVars(e.Value, vars))
			continue
		}
		v, ok, err := r.envValueFrom(ctx, pod, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env, nil
}

func (r *podRunner) envValueFrom(ctx context.Context, pod *corev1.Pod, from *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case from.FieldRef != nil:
		v, err := podField(pod, from.FieldRef.FieldPath)
		return v, true, err
	case from.ResourceFieldRef != nil:
		v, err := resourceField(pod, from.ResourceFieldRef)
		return v, true, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := r.k.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := cm.Data[ref.Key]; ok {
				return v, true, nil
			}
			err = fmt.Errorf("configmap %q has no key %q", ref.Name, ref.Key)
		}
		if ref.Optional != nil && *ref.Optional {
			return "", false, nil
		}
		return "", false, err
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := r.k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := s.Data[ref.Key]; ok {
				return string(v), true, nil
			}
			err = fmt.Errorf("secret %q has no key %q", ref.Name, ref.Key)
		}
		if ref.Optional != nil && *ref.Optional {
			return "", false, nil
		}
		return "", false, err
	}
	return "", false, fmt.Errorf("unsupported valueFrom")
}

func (r *podRunner) envFromSource(ctx context.Context, ns string, from corev1.EnvFromSource) (map[string]string, error) {
	out := map[string]string{}
	switch {
	case from.ConfigMapRef != nil:
		cm, err := r.k.client.CoreV1().ConfigMaps(ns).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
		if err != nil {
			if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
				return out, nil
			}
			return nil, err
		}
		for k, v := range cm.Data {
			out[k] = v
		}
	case from.SecretRef != nil:
		s, err := r.k.client.CoreV1().Secrets(ns).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
		if err != nil {
			if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
				return out, nil
			}
			return nil, err
		}
		for k, v := range s.Data {
			out[k] = string(v)
		}
	}
	return out, nil
}

// identity is the user the container runs as: the container's securityContext,
// then the pod's, then root (our images run as root unless told otherwise).
func identity(pod *corev1.Pod, c *corev1.Container) (uid, gid int64, groups []uint32) {
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			uid = *psc.RunAsUser
		}
		if psc.RunAsGroup != nil {
			gid = *psc.RunAsGroup
		}
		if psc.FSGroup != nil {
			groups = append(groups, uint32(*psc.FSGroup))
		}
		for _, g := range psc.SupplementalGroups {
			groups = append(groups, uint32(g))
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = *sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = *sc.RunAsGroup
		}
	}
	return uid, gid, groups
}

// withAddresses is the pod as the downward API sees it: its addresses are the
// sandbox's, which the status in the API may not show yet.
func (r *podRunner) withAddresses(pod *corev1.Pod) *corev1.Pod {
	p := pod.DeepCopy()
	p.Status.HostIP = r.k.net.hostIP.String()
	p.Status.HostIPs = []corev1.HostIP{{IP: p.Status.HostIP}}
	if r.ip != nil {
		p.Status.PodIP = r.ip.String()
		p.Status.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}}
	}
	return p
}

func podHostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	return pod.Name
}

// startContainer launches one run of the container. The caller holds r.mu.
func (r *podRunner) startContainer(ctx context.Context, pod *corev1.Pod, cs *containerState) error {
	c := &cs.spec
	img, tag, err := r.k.images.lookup(c.Image)
	if err != nil {
		cs.waitReason, cs.waitMessage = "ErrImagePull", err.Error()
		return err
	}
	pod = r.withAddresses(pod)
	uid, gid, groups := identity(pod, c)
	if c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil && *c.SecurityContext.RunAsNonRoot && uid == 0 ||
		pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.RunAsNonRoot != nil && *pod.Spec.SecurityContext.RunAsNonRoot && uid == 0 {
		cs.waitReason = "CreateContainerConfigError"
		cs.waitMessage = "container has runAsNonRoot and image will run as root"
		return fmt.Errorf("%s", cs.waitMessage)
	}
	home := "/"
	for _, u := range img.Users {
		if int64(u.UID) == uid {
			home = u.Home
		}
	}
	env, err := r.containerEnv(ctx, pod, c, img, tag, home)
	if err != nil {
		cs.waitReason, cs.waitMessage = "CreateContainerConfigError", err.Error()
		return err
	}
	vars := map[string]string{}
	for _, e := range env {
		kv := strings.SplitN(e, "=", 2)
		vars[kv[0]] = kv[1]
	}
	argv := []string{}
	if len(c.Command) > 0 {
		for _, a := range c.Command {
			argv = append(argv, expandVars(a, vars))
		}
	} else {
		for _, a := range img.Entrypoint {
			argv = append(argv, expand(a, tag))
		}
	}
	for _, a := range c.Args {
		argv = append(argv, expandVars(a, vars))
	}
	mounts, err := r.containerMounts(pod, c, img, uid, gid)
	if err != nil {
		cs.waitReason, cs.waitMessage = "CreateContainerError", err.Error()
		return err
	}
	readOnlyRoot := c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem
	spec := containerSpec{
		Netns:        "/run/netns/" + netnsName(r.sandboxID),
		Hostname:     podHostname(pod),
		Mounts:       mounts,
		ReadOnlyRoot: readOnlyRoot,
		Argv:         argv,
		Env:          env,
		Dir:          c.WorkingDir,
		UID:          uint32(uid),
		GID:          uint32(gid),
		Groups:       groups,
		Keep:         imageRoots(),
	}
	cs.attempt++
	specFile := filepath.Join(r.dir, "containers", fmt.Sprintf("%s-%d.json", c.Name, cs.attempt))
	_ = os.MkdirAll(filepath.Dir(specFile), 0o755)
	data, _ := json.MarshalIndent(spec, "", "  ")
	if err := os.WriteFile(specFile, data, 0o600); err != nil {
		return err
	}
	_ = os.Truncate(r.terminationFile(c.Name), 0)
	initErr := filepath.Join(r.dir, "containers", c.Name+".start-error")
	_ = os.Remove(initErr)
	logf, err := os.OpenFile(r.logFile(c.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "---- %s start #%d: %s\n", time.Now().UTC().Format(time.RFC3339Nano), cs.attempt, strings.Join(argv, " "))
	self, _ := os.Executable()
	cmd := exec.Command(self, "container", specFile)
	cmd.Env = []string{"PGW_INIT_ERROR_FILE=" + initErr, "PATH=" + defaultPath}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		Pdeathsig:  0,
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		cs.waitReason, cs.waitMessage = "StartError", err.Error()
		return err
	}
	logf.Close()
	cs.cmd, cs.pid, cs.uid, cs.gid, cs.env = cmd, cmd.Process.Pid, uint32(uid), uint32(gid), env
	cs.running, cs.ready, cs.livenessKill = true, false, false
	cs.started = c.StartupProbe == nil
	cs.startedAt = time.Now()
	cs.waitReason, cs.waitMessage = "", ""
	cs.exited = make(chan struct{})
	r.k.pids.add(r.uid, cs.pid)
	return nil
}

// imageRoots are the host directories image programs come from that are not
// system directories: the checkout ({root} in the table), where the test bed's
// Patroni, PostgreSQL builds and the pgwarden binary live.
func imageRoots() []string {
	var roots []string
	for _, d := range []string{os.Getenv("PGW_TESTBED_ROOT"), os.Getenv("PGW_TESTBED_PGWARDEN")} {
		if d == "" {
			continue
		}
		if real, err := filepath.EvalSymlinks(d); err == nil {
			roots = append(roots, real)
		}
	}
	return roots
}

// containerMounts lists the bind mounts of a container; the mount points are
// made on the host first (the container shares the host's root filesystem).
func (r *podRunner) containerMounts(pod *corev1.Pod, c *corev1.Container, img *image, uid, gid int64) ([]mountSpec, error) {
	var out []mountSpec
	for _, vm := range c.VolumeMounts {
		src := volumeDir(r.dir, vm.Name)
		if real, err := filepath.EvalSymlinks(src); err == nil {
			src = real
		}
		if vm.SubPath != "" {
			src = filepath.Join(src, vm.SubPath)
			if _, err := os.Stat(src); os.IsNotExist(err) {
				_ = os.MkdirAll(src, 0o777)
			}
		}
		st, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", vm.Name, err)
		}
		if err := makeMountPoint(vm.MountPath, st.IsDir()); err != nil {
			return nil, err
		}
		out = append(out, mountSpec{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly})
	}
	// The image's identity files, the pod's hosts file and the termination log.
	if err := r.writeIdentityFiles(pod, img); err != nil {
		return nil, err
	}
	for _, f := range []string{"passwd", "group", "hosts"} {
		out = append(out, mountSpec{Source: filepath.Join(r.dir, "etc", f), Target: "/etc/" + f, ReadOnly: true})
	}
	tm := c.TerminationMessagePath
	if tm == "" {
		tm = corev1.TerminationMessagePathDefault
	}
	tf := r.terminationFile(c.Name)
	if _, err := os.Stat(tf); err != nil {
		if err := os.WriteFile(tf, nil, 0o666); err != nil {
			return nil, err
		}
	}
	_ = os.Chmod(tf, 0o666)
	if err := makeMountPoint(tm, false); err != nil {
		return nil, err
	}
	out = append(out, mountSpec{Source: tf, Target: tm})
	return out, nil
}

func makeMountPoint(p string, dir bool) error {
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	if dir {
		return os.MkdirAll(p, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, nil, 0o644)
}

func (r *podRunner) writeIdentityFiles(pod *corev1.Pod, img *image) error {
	etc := filepath.Join(r.dir, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return err
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	group := "root:x:0:\nnogroup:x:65534:\n"
	for _, u := range img.Users {
		passwd += fmt.Sprintf("%s:x:%d:%d:%s:%s:/bin/sh\n", u.Name, u.UID, u.UID, u.Name, u.Home)
		group += fmt.Sprintf("%s:x:%d:\n", u.Name, u.UID)
	}
	for f, s := range map[string]string{"passwd": passwd, "group": group, "hosts": r.hostsFile(pod)} {
		if err := os.WriteFile(filepath.Join(etc, f), []byte(s), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// hostsFile is the pod's /etc/hosts: itself, and in place of cluster DNS the
// stable names of every pod a headless Service names (hostname.subdomain),
// short within the namespace and qualified everywhere. The kubelet rewrites it
// in place as pods come and go.
func (r *podRunner) hostsFile(pod *corev1.Pod) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	name := podHostname(pod)
	if r.ip != nil && pod.Spec.Subdomain == "" {
		fmt.Fprintf(&b, "%s\t%s\n", r.ip, name)
	}
	b.WriteString(r.k.stableNames(pod.Namespace))
	return b.String()
}

func (r *podRunner) logFile(name string) string { return filepath.Join(r.logDir, name+".log") }

func (r *podRunner) terminationFile(name string) string {
	return filepath.Join(r.dir, "containers", name+".termination-log")
}

// exitState turns a finished run into the state the pod status reports.
func (r *podRunner) exitState(cs *containerState, err error) *corev1.ContainerStateTerminated {
	code := 0
	reason := "Completed"
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			} else {
				code = ee.ExitCode()
			}
		} else {
			code = 128
		}
		reason = "Error"
	}
	msg := ""
	if b, e := os.ReadFile(r.terminationFile(cs.spec.Name)); e == nil {
		msg = string(b)
	}
	startErr := filepath.Join(r.dir, "containers", cs.spec.Name+".start-error")
	if b, e := os.ReadFile(startErr); e == nil && len(b) > 0 {
		reason, msg = "StartError", string(b)
	}
	if msg == "" && code != 0 && cs.spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
		msg = tailFile(r.logFile(cs.spec.Name), 80, 2048)
	}
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	return &corev1.ContainerStateTerminated{
		ExitCode:    int32(code),
		Reason:      reason,
		Message:     msg,
		StartedAt:   metav1.NewTime(cs.startedAt),
		FinishedAt:  metav1.Now(),
		ContainerID: containerID(r.uid, cs),
	}
}

func containerID(uid string, cs *containerState) string {
	return fmt.Sprintf("pgw://%s/%s/%d", uid, cs.spec.Name, cs.attempt)
}

func tailFile(path string, lines, max int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > max {
		b = b[len(b)-max:]
	}
	parts := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

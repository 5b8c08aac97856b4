package main

// Startup, liveness and readiness probes with the real kubelet's defaults:
// httpGet and tcpSocket from the host to the pod address, exec inside the
// container's namespaces with its user and environment.

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func (r *podRunner) probe(ctx context.Context, cs *containerState) {
	c := &cs.spec
	if c.StartupProbe != nil {
		if !r.runProbe(ctx, cs, c.StartupProbe, "startup") {
			return
		}
	}
	r.mu.Lock()
	cs.started = true
	if c.ReadinessProbe == nil {
		cs.ready = true
	}
	r.mu.Unlock()
	r.notify()
	if c.ReadinessProbe != nil {
		go r.runProbe(ctx, cs, c.ReadinessProbe, "readiness")
	}
	if c.LivenessProbe != nil {
		go r.runProbe(ctx, cs, c.LivenessProbe, "liveness")
	}
}

// runProbe loops until the context ends; for a startup probe it returns true
// on the first success. A failed startup or liveness probe kills the container.
func (r *podRunner) runProbe(ctx context.Context, cs *containerState, p *corev1.Probe, kind string) bool {
	period := secondsOr(p.PeriodSeconds, 10)
	timeout := secondsOr(p.TimeoutSeconds, 1)
	failures, successes := 0, 0
	failThreshold := int(p.FailureThreshold)
	if failThreshold == 0 {
		failThreshold = 3
	}
	succThreshold := int(p.SuccessThreshold)
	if succThreshold == 0 {
		succThreshold = 1
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Duration(p.InitialDelaySeconds) * time.Second):
	}
	for {
		err := r.probeOnce(ctx, cs, p, timeout)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			failures = 0
			successes++
			if kind == "startup" {
				return true
			}
			if kind == "readiness" && successes >= succThreshold {
				r.setReady(cs, true)
			}
		} else {
			successes = 0
			failures++
			if failures >= failThreshold {
				switch kind {
				case "readiness":
					r.setReady(cs, false)
				default:
					r.k.event(ctx, r.snapshot(), corev1.EventTypeWarning, "Unhealthy",
						fmt.Sprintf("%s probe of container %s failed: %v; restarting it", kind, cs.spec.Name, err))
					r.mu.Lock()
					cs.livenessKill = true
					pid := cs.pid
					r.mu.Unlock()
					_ = syscall.Kill(pid, syscall.SIGTERM)
					go func() {
						select {
						case <-cs.exited:
						case <-time.After(30 * time.Second):
							_ = syscall.Kill(pid, syscall.SIGKILL)
						}
					}()
					return false
				}
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(period):
		}
	}
}

func (r *podRunner) setReady(cs *containerState, ready bool) {
	r.mu.Lock()
	changed := cs.ready != ready && cs.running
	if cs.running {
		cs.ready = ready
	}
	r.mu.Unlock()
	if changed {
		r.notify()
	}
}

func secondsOr(v int32, def int) time.Duration {
	if v <= 0 {
		return time.Duration(def) * time.Second
	}
	return time.Duration(v) * time.Second
}

func (r *podRunner) probeOnce(ctx context.Context, cs *containerState, p *corev1.Probe, timeout time.Duration) error {
	r.mu.Lock()
	ip := r.ip.String()
	pid, uid, gid, env := cs.pid, cs.uid, cs.gid, cs.env
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		port, err := r.resolvePort(cs, p.HTTPGet.Port)
		if err != nil {
			return err
		}
		host := p.HTTPGet.Host
		if host == "" {
			host = ip
		}
		scheme := "http"
		if p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), p.HTTPGet.Path), nil)
		if err != nil {
			return err
		}
		for _, h := range p.HTTPGet.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		req.Header.Set("User-Agent", "kube-probe/1.37")
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case p.TCPSocket != nil:
		port, err := r.resolvePort(cs, p.TCPSocket.Port)
		if err != nil {
			return err
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = ip
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case p.Exec != nil:
		cmd := nsenterCommand(ctx, pid, uid, gid, p.Exec.Command)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("exec probe: %v: %s", err, string(out))
		}
		return nil
	case p.GRPC != nil:
		return fmt.Errorf("grpc probes are not supported by the test bed")
	}
	return fmt.Errorf("probe has no handler")
}

// nsenterCommand runs argv inside the namespaces of the container whose PID 1
// (seen from the host) is pid, as uid:gid.
func nsenterCommand(ctx context.Context, pid int, uid, gid uint32, argv []string) *exec.Cmd {
	args := []string{"-t", strconv.Itoa(pid), "-m", "-u", "-i", "-n", "-p",
		"-S", strconv.Itoa(int(uid)), "-G", strconv.Itoa(int(gid)), "--wdns=/", "--"}
	return exec.CommandContext(ctx, "nsenter", append(args, argv...)...)
}

func (r *podRunner) resolvePort(cs *containerState, port intstr.IntOrString) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, c := range r.snapshot().Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port.StrVal {
				return int(p.ContainerPort), nil
			}
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", cs.spec.Name, port.StrVal)
}

package main

// One pod's life on its node: sandbox, volumes, init containers in order, app
// containers with restarts and probes, status, graceful deletion. Each pod has
// one runner goroutine; container supervisors report to it through r.mu and
// r.changed.

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

type podRunner struct {
	k         *kubelet
	uid       string
	node      string
	dir       string // volumes, spec files, identity files
	logDir    string // container logs, kept after the pod is gone
	sandboxID string
	ip        net.IP

	mu          sync.Mutex
	pod         *corev1.Pod
	inits       []*containerState
	apps        []*containerState
	initDone    bool
	appsStarted bool
	phase       corev1.PodPhase
	startTime   metav1.Time
	stopping    bool
	lost        bool          // node or pod loss: processes gone, nothing reported
	gone        chan struct{} // closed when lost is set
	changed     chan struct{}
	deleted     chan struct{} // pod has a deletionTimestamp
	done        chan struct{} // runner finished
	wg          sync.WaitGroup
}

func newPodRunner(k *kubelet, pod *corev1.Pod, restarts map[string]int32) *podRunner {
	uid := string(pod.UID)
	r := &podRunner{
		k: k, uid: uid, node: pod.Spec.NodeName, pod: pod.DeepCopy(),
		dir:       filepath.Join(k.cfg.stateDir, "pods", uid),
		logDir:    filepath.Join(k.cfg.stateDir, "logs", pod.Namespace+"_"+pod.Name+"_"+uid),
		sandboxID: shortID(uid),
		phase:     corev1.PodPending,
		startTime: metav1.Now(),
		changed:   make(chan struct{}, 1),
		gone:      make(chan struct{}),
		deleted:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	for _, c := range pod.Spec.InitContainers {
		r.inits = append(r.inits, &containerState{spec: c, init: true, restartCount: restarts[c.Name], waitReason: "PodInitializing"})
	}
	for _, c := range pod.Spec.Containers {
		reason := "ContainerCreating"
		if len(pod.Spec.InitContainers) > 0 {
			reason = "PodInitializing"
		}
		r.apps = append(r.apps, &containerState{spec: c, restartCount: restarts[c.Name], waitReason: reason})
	}
	return r
}

func shortID(uid string) string {
	id := ""
	for _, ch := range uid {
		if ch != '-' {
			id += string(ch)
		}
	}
	if len(id) > 10 {
		id = id[:10]
	}
	return id
}

func (r *podRunner) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// update hands the runner the newest version of its pod.
func (r *podRunner) update(pod *corev1.Pod) {
	r.mu.Lock()
	// Updates arrive on goroutines of their own, so an older copy may come last: it must not
	// take back a deletion already seen (the runner would end without deleting the pod, which
	// then stayed Terminating for good; found on the test bed after an eviction).
	if r.pod.DeletionTimestamp == nil || pod.DeletionTimestamp != nil {
		r.pod = pod.DeepCopy()
	}
	del := r.pod.DeletionTimestamp != nil
	r.mu.Unlock()
	if del {
		select {
		case <-r.deleted:
		default:
			close(r.deleted)
		}
	}
}

func (r *podRunner) snapshot() *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pod.DeepCopy()
}

func (r *podRunner) run(ctx context.Context) {
	defer close(r.done)
	if err := os.MkdirAll(filepath.Join(r.dir, "containers"), 0o755); err != nil {
		log.Printf("pod %s: %v", r.uid, err)
		return
	}
	_ = os.MkdirAll(r.logDir, 0o755)
	syncCtx, stopSync := context.WithCancel(ctx)
	go r.statusLoop(syncCtx)
	defer stopSync()

	if !r.prepare(ctx) {
		r.finish(ctx)
		return
	}
	if !r.runInits(ctx) {
		r.finish(ctx)
		return
	}
	r.mu.Lock()
	r.initDone = true
	for _, cs := range r.apps {
		cs.waitReason = "ContainerCreating"
	}
	r.mu.Unlock()
	r.notify()
	for _, cs := range r.apps {
		r.wg.Add(1)
		go r.supervise(ctx, cs)
	}
	allExited := make(chan struct{})
	go func() { r.wg.Wait(); close(allExited) }()
	refresh := time.NewTicker(3 * time.Second)
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			r.finish(ctx)
			return
		case <-r.deleted:
			r.finish(ctx)
			return
		case <-r.gone:
			r.finish(ctx)
			return
		case <-allExited:
			r.mu.Lock()
			if r.lost {
				r.mu.Unlock()
				r.finish(ctx)
				return
			}
			r.phase = r.terminalPhase()
			r.mu.Unlock()
			r.notify()
			<-r.deletedOrDone(ctx)
			r.finish(ctx)
			return
		case <-refresh.C:
			r.mu.Lock()
			pod := r.withAddresses(r.pod)
			r.mu.Unlock()
			r.k.volumes.refresh(ctx, pod, r.dir)
		}
	}
}

func (r *podRunner) deletedOrDone(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case <-r.deleted:
		case <-r.gone:
		case <-ctx.Done():
		}
		close(ch)
	}()
	return ch
}

// prepare makes the sandbox and the volumes; it waits (as ContainerCreating)
// for what is missing, and returns false if the pod went away meanwhile.
func (r *podRunner) prepare(ctx context.Context) bool {
	ip, err := r.k.net.allocate()
	if err != nil {
		log.Printf("pod %s: %v", r.uid, err)
		return false
	}
	r.k.net.deleteSandbox(r.sandboxID)
	if err := r.k.net.createSandbox(r.sandboxID, ip); err != nil {
		r.k.net.release(ip.String())
		log.Printf("pod %s: sandbox: %v", r.uid, err)
		return false
	}
	r.mu.Lock()
	r.ip = ip
	r.mu.Unlock()
	r.notify()
	for attempt := 0; ; attempt++ {
		r.mu.Lock()
		pod := r.withAddresses(r.pod)
		r.mu.Unlock()
		err := r.k.volumes.setUp(ctx, pod, r.dir)
		if err == nil {
			return true
		}
		if attempt%5 == 0 {
			r.k.event(ctx, r.snapshot(), corev1.EventTypeWarning, "FailedMount", err.Error())
		}
		r.mu.Lock()
		for _, cs := range append(append([]*containerState{}, r.inits...), r.apps...) {
			cs.waitReason, cs.waitMessage = "ContainerCreating", err.Error()
		}
		r.mu.Unlock()
		r.notify()
		select {
		case <-ctx.Done():
			return false
		case <-r.deleted:
			return false
		case <-r.gone:
			return false
		case <-time.After(2 * time.Second):
		}
	}
}

// runInits runs init containers one at a time; false if the pod failed or went away.
func (r *podRunner) runInits(ctx context.Context) bool {
	for _, cs := range r.inits {
		backoff := time.Second
		for {
			r.mu.Lock()
			if r.lost {
				r.mu.Unlock()
				return false
			}
			err := r.startContainer(ctx, r.pod, cs)
			r.mu.Unlock()
			r.notify()
			var exitErr error
			if err == nil {
				exitErr = r.wait(cs)
				r.notify()
				if exitErr == nil {
					break
				}
			}
			if r.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				r.mu.Lock()
				r.phase = corev1.PodFailed
				r.mu.Unlock()
				r.notify()
				<-r.deletedOrDone(ctx)
				return false
			}
			r.mu.Lock()
			cs.restartCount++
			r.mu.Unlock()
			select {
			case <-ctx.Done():
				return false
			case <-r.deleted:
				return false
			case <-r.gone:
				return false
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
		}
	}
	return true
}

// wait blocks until the container's process exits and records how it ended.
func (r *podRunner) wait(cs *containerState) error {
	err := cs.cmd.Wait()
	r.k.pids.remove(r.uid, cs.pid)
	r.mu.Lock()
	term := r.exitState(cs, err)
	if cs.livenessKill {
		term.Reason = "Error"
	}
	cs.running, cs.ready = false, false
	cs.current = term
	close(cs.exited)
	r.mu.Unlock()
	if term.ExitCode != 0 {
		return fmt.Errorf("exit %d", term.ExitCode)
	}
	return nil
}

// supervise runs one app container for the life of the pod, restarting it as
// restartPolicy says with the kubelet's doubling back-off.
func (r *podRunner) supervise(ctx context.Context, cs *containerState) {
	defer r.wg.Done()
	backoff := time.Second
	for {
		r.mu.Lock()
		if r.stopping || r.lost {
			r.mu.Unlock()
			return
		}
		err := r.startContainer(ctx, r.pod, cs)
		if err == nil {
			r.appsStarted = true
			r.phase = corev1.PodRunning
		}
		r.mu.Unlock()
		r.notify()
		var exitErr error
		if err == nil {
			probeCtx, stopProbes := context.WithCancel(ctx)
			go r.probe(probeCtx, cs)
			exitErr = r.wait(cs)
			stopProbes()
			r.notify()
		} else {
			exitErr = err
			log.Printf("pod %s container %s: %v", r.uid, cs.spec.Name, err)
		}
		r.mu.Lock()
		stop := r.stopping || r.lost
		policy := r.pod.Spec.RestartPolicy
		ranLong := err == nil && time.Since(cs.startedAt) > 60*time.Second
		r.mu.Unlock()
		if stop || policy == corev1.RestartPolicyNever || (policy == corev1.RestartPolicyOnFailure && exitErr == nil) {
			return
		}
		if ranLong {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-r.deleted:
			return
		case <-r.gone:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
		r.mu.Lock()
		if cs.current != nil {
			cs.last = cs.current
		}
		cs.restartCount++
		r.mu.Unlock()
	}
}

func (r *podRunner) terminalPhase() corev1.PodPhase {
	for _, cs := range r.apps {
		if cs.current == nil || cs.current.ExitCode != 0 {
			return corev1.PodFailed
		}
	}
	return corev1.PodSucceeded
}

// finish stops every container (SIGTERM, grace, SIGKILL), reports the final
// status and, for a deleted pod, removes it from the API.
func (r *podRunner) finish(ctx context.Context) {
	pod := r.snapshot()
	grace := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		grace = *pod.DeletionGracePeriodSeconds
	}
	r.stopAll(time.Duration(grace) * time.Second)
	r.wg.Wait()
	r.mu.Lock()
	lost := r.lost
	r.mu.Unlock()
	if lost {
		r.teardown()
		return
	}
	if pod.DeletionTimestamp != nil {
		r.mu.Lock()
		if r.phase != corev1.PodSucceeded {
			r.phase = corev1.PodFailed
			if r.terminalPhase() == corev1.PodSucceeded {
				r.phase = corev1.PodSucceeded
			}
		}
		r.mu.Unlock()
		r.syncStatus(context.Background())
		r.teardown()
		zero := int64(0)
		uid := types.UID(r.uid)
		err := r.k.client.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name,
			metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !errors.IsNotFound(err) && !errors.IsConflict(err) {
			log.Printf("pod %s/%s: delete: %v", pod.Namespace, pod.Name, err)
		}
		return
	}
	r.syncStatus(context.Background())
	r.teardown()
}

// stopAll runs each running container's preStop hook, then sends it SIGTERM,
// and SIGKILLs whatever still runs when the grace period (hooks included, as
// the real kubelet counts it) is over.
func (r *podRunner) stopAll(grace time.Duration) {
	deadline := time.Now().Add(grace)
	r.mu.Lock()
	r.stopping = true
	var running []*containerState
	for _, cs := range append(append([]*containerState{}, r.inits...), r.apps...) {
		if cs.running {
			running = append(running, cs)
		}
	}
	r.mu.Unlock()
	r.notify() // not ready from now on, as the real kubelet reports a terminating pod
	for _, cs := range running {
		go func(cs *containerState) {
			r.preStop(cs, deadline)
			r.mu.Lock()
			if cs.running {
				_ = syscall.Kill(cs.pid, syscall.SIGTERM)
			}
			r.mu.Unlock()
		}(cs)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for _, cs := range running {
		select {
		case <-cs.exited:
		case <-timer.C:
			r.killAll()
			<-cs.exited
		}
	}
}

// preStop runs the container's preStop hook (exec, httpGet, tcpSocket or
// sleep) until it ends or the deadline passes; a failed hook is an event, and
// the container is stopped all the same.
func (r *podRunner) preStop(cs *containerState, deadline time.Time) {
	lc := cs.spec.Lifecycle
	if lc == nil || lc.PreStop == nil || r.isLost() {
		return
	}
	h := lc.PreStop
	if h.Sleep != nil {
		select {
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		case <-time.After(time.Until(deadline)):
		case <-cs.exited:
		}
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}}
	if err := r.probeOnce(ctx, cs, p, time.Until(deadline)); err != nil {
		r.k.event(context.Background(), r.snapshot(), corev1.EventTypeWarning, "FailedPreStopHook",
			fmt.Sprintf("PreStopHook of container %s failed: %v", cs.spec.Name, err))
	}
}

func (r *podRunner) isLost() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost
}

// killAll SIGKILLs every container at once: the PID 1 helpers take their
// namespaces' processes with them.
func (r *podRunner) killAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, cs := range append(append([]*containerState{}, r.inits...), r.apps...) {
		if cs.running {
			_ = syscall.Kill(cs.pid, syscall.SIGKILL)
		}
	}
}

// loseNode kills the pod's processes and reports nothing, as a node that
// loses power would.
func (r *podRunner) loseNode() {
	r.mu.Lock()
	if !r.lost {
		r.lost, r.stopping = true, true
		close(r.gone)
	}
	r.mu.Unlock()
	r.killAll()
}

func (r *podRunner) teardown() {
	r.k.net.deleteSandbox(r.sandboxID)
	r.mu.Lock()
	if r.ip != nil {
		r.k.net.release(r.ip.String())
	}
	r.mu.Unlock()
	r.k.volumes.forgetPod(r.uid)
	_ = os.RemoveAll(r.dir)
}

func (r *podRunner) restartCounts() map[string]int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int32{}
	for _, cs := range append(append([]*containerState{}, r.inits...), r.apps...) {
		out[cs.spec.Name] = cs.restartCount
		if cs.attempt > 0 {
			out[cs.spec.Name]++
		}
	}
	return out
}

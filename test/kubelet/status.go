package main

// Pod status as the real kubelet writes it: phase, IPs, conditions and
// container statuses, through the status subresource, only when it changed.

import (
	"context"
	"log"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func (r *podRunner) statusLoop(ctx context.Context) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.changed:
		case <-tick.C:
		}
		// Coalesce a burst of changes into one write.
		time.Sleep(100 * time.Millisecond)
		r.syncStatus(ctx)
	}
}

func (r *podRunner) syncStatus(ctx context.Context) {
	r.mu.Lock()
	lost := r.lost
	r.mu.Unlock()
	if lost || r.k.nodeDown(r.node) {
		return
	}
	pods := r.k.client.CoreV1().Pods(r.pod.Namespace)
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := pods.Get(ctx, r.pod.Name, metav1.GetOptions{})
		if err != nil {
			if !errors.IsNotFound(err) && ctx.Err() == nil {
				log.Printf("pod %s/%s: get: %v", r.pod.Namespace, r.pod.Name, err)
			}
			return
		}
		if string(cur.UID) != r.uid {
			return
		}
		r.update(cur)
		want := r.computeStatus(cur)
		if equality.Semantic.DeepEqual(cur.Status, want) {
			return
		}
		cur.Status = want
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil || !errors.IsConflict(err) {
			if err != nil && ctx.Err() == nil {
				log.Printf("pod %s/%s: status: %v", r.pod.Namespace, r.pod.Name, err)
			}
			return
		}
	}
}

func (r *podRunner) computeStatus(cur *corev1.Pod) corev1.PodStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := *cur.Status.DeepCopy()
	st.Phase = r.phase
	st.HostIP = r.k.net.hostIP.String()
	st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	if r.ip != nil {
		st.PodIP = r.ip.String()
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	if st.StartTime == nil {
		t := r.startTime
		st.StartTime = &t
	}
	st.InitContainerStatuses = r.containerStatuses(r.inits, cur.Status.InitContainerStatuses)
	st.ContainerStatuses = r.containerStatuses(r.apps, cur.Status.ContainerStatuses)
	allReady := len(r.apps) > 0
	for _, cs := range r.apps {
		allReady = allReady && cs.ready
	}
	terminal := r.phase == corev1.PodSucceeded || r.phase == corev1.PodFailed
	if terminal || r.stopping {
		allReady = false
	}
	setCondition(&st, corev1.PodReadyToStartContainers, r.ip != nil && !terminal, "")
	setCondition(&st, corev1.PodInitialized, r.initDone, reasonIf(!r.initDone, "ContainersNotInitialized"))
	setCondition(&st, corev1.ContainersReady, allReady, reasonIf(!allReady, "ContainersNotReady"))
	setCondition(&st, corev1.PodReady, allReady, reasonIf(!allReady, "ContainersNotReady"))
	return st
}

func reasonIf(b bool, reason string) string {
	if b {
		return reason
	}
	return ""
}

// setCondition keeps lastTransitionTime when the status does not change.
func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, ok bool, reason string) {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != status {
			c.Status = status
			c.LastTransitionTime = metav1.Now()
		}
		c.Reason = reason
		return
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: status, Reason: reason, LastTransitionTime: metav1.Now()})
}

func (r *podRunner) containerStatuses(list []*containerState, prev []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(list) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, 0, len(list))
	for _, cs := range list {
		s := corev1.ContainerStatus{
			Name:         cs.spec.Name,
			Image:        cs.spec.Image,
			ImageID:      "pgw-testbed://" + cs.spec.Image,
			Ready:        cs.ready,
			RestartCount: cs.restartCount,
		}
		started := cs.running && cs.started
		s.Started = &started
		switch {
		case cs.running:
			s.ContainerID = containerID(r.uid, cs)
			s.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cs.startedAt)}
		case cs.current != nil && cs.waitReason == "":
			s.ContainerID = cs.current.ContainerID
			s.State.Terminated = cs.current.DeepCopy()
		default:
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: cs.waitReason, Message: cs.waitMessage}
			if cs.current != nil && !r.stopping && r.phase == corev1.PodRunning {
				s.State.Waiting.Reason = "CrashLoopBackOff"
			}
		}
		if cs.last != nil {
			s.LastTerminationState.Terminated = cs.last.DeepCopy()
		}
		if cs.running && cs.current != nil {
			s.LastTerminationState.Terminated = cs.current.DeepCopy()
		}
		// Keep timestamps stable between writes.
		for _, p := range prev {
			if p.Name == s.Name && p.State.Running != nil && s.State.Running != nil && p.ContainerID == s.ContainerID {
				s.State.Running.StartedAt = p.State.Running.StartedAt
			}
		}
		out = append(out, s)
	}
	return out
}

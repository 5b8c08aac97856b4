package main

// Nodes: registration, the heartbeat Lease in kube-node-lease, and the Ready
// condition. A node marked down stops its heartbeat, so the node lifecycle
// controller in kube-controller-manager sees it vanish as it would a real one.

import (
	"context"
	"fmt"
	"log"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const leaseSeconds = 40

func nodeCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("16"),
		corev1.ResourceMemory:           resource.MustParse("64Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
}

// zones spread the nodes so topology spreading and zone anti-affinity mean something.
var zones = []string{"zone-a", "zone-b", "zone-c"}

func (k *kubelet) registerNode(ctx context.Context, i int, name string) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/hostname":        name,
				"kubernetes.io/os":              "linux",
				"kubernetes.io/arch":            "amd64",
				"topology.kubernetes.io/zone":   zones[i%len(zones)],
				"topology.kubernetes.io/region": "testbed",
			},
		},
	}
	_, err := k.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !errors.IsAlreadyExists(err) {
		return fmt.Errorf("register node %s: %w", name, err)
	}
	return k.reportNodeStatus(ctx, name)
}

func (k *kubelet) reportNodeStatus(ctx context.Context, name string) error {
	for attempt := 0; attempt < 5; attempt++ {
		node, err := k.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		node.Status.Capacity = nodeCapacity()
		node.Status.Allocatable = nodeCapacity()
		node.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: k.net.hostIP.String()},
			{Type: corev1.NodeHostName, Address: name},
		}
		node.Status.NodeInfo = corev1.NodeSystemInfo{
			KubeletVersion: k.version, OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "pgw-testbed://1", MachineID: name, SystemUUID: name, BootID: k.bootID[name],
		}
		node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(kubeletAPIPort)
		conds := []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "pgw-kubelet is posting ready status"},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory"},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure"},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID"},
		}
		for i := range conds {
			conds[i].LastHeartbeatTime = now
			conds[i].LastTransitionTime = now
			for _, old := range node.Status.Conditions {
				if old.Type == conds[i].Type && old.Status == conds[i].Status {
					conds[i].LastTransitionTime = old.LastTransitionTime
				}
			}
		}
		node.Status.Conditions = conds
		_, err = k.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if err == nil || !errors.IsConflict(err) {
			return err
		}
	}
	return fmt.Errorf("node %s: status kept conflicting", name)
}

func (k *kubelet) renewLease(ctx context.Context, name string) error {
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	holder, secs := name, int32(leaseSeconds)
	l, err := leases.Get(ctx, name, metav1.GetOptions{})
	if errors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       coordv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &now},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &holder, &secs, &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// heartbeat keeps every live node's Lease fresh and its status current.
func (k *kubelet) heartbeat(ctx context.Context) {
	tick := time.NewTicker(4 * time.Second)
	defer tick.Stop()
	n := 0
	for {
		for _, name := range k.nodeNames {
			if k.nodeDown(name) {
				continue
			}
			if err := k.renewLease(ctx, name); err != nil && ctx.Err() == nil {
				log.Printf("node %s: lease: %v", name, err)
			}
			// The Ready condition every 40 s, or right away after coming back.
			if n%10 == 0 || k.takeNodeRecovered(name) {
				if err := k.reportNodeStatus(ctx, name); err != nil && ctx.Err() == nil {
					log.Printf("node %s: status: %v", name, err)
				}
			}
		}
		n++
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

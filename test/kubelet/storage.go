package main

// A tiny local provisioner: the default StorageClass "testbed-local" and, for
// each claim that waits on it, a hostPath PersistentVolume that is a directory
// under the storage dir. kube-controller-manager's PV controller binds them;
// the directory outlives pods, and outlives the claim too (Retain), so a
// test can look at what a deleted cluster left behind.
//
// Expansion works like a CSI resizer that needs no filesystem step: a bound
// claim of an expandable class whose request exceeds its volume's capacity
// gets the new capacity on the volume and in its status. "testbed-fixed" is
// the same provisioner without allowVolumeExpansion, so the apiserver refuses
// to grow its claims, as it does for any such class.

import (
	"context"
	"log"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	storageClassName      = "testbed-local"
	fixedStorageClassName = "testbed-fixed"
	provisionerName       = "pgwarden.io/testbed-local"
)

// ourClass: a class this provisioner serves.
func ourClass(name string) bool {
	return name == storageClassName || name == fixedStorageClassName
}

func (k *kubelet) ensureStorageClass(ctx context.Context) error {
	if err := k.createStorageClass(ctx, storageClassName, true, true); err != nil {
		return err
	}
	return k.createStorageClass(ctx, fixedStorageClassName, false, false)
}

func (k *kubelet) createStorageClass(ctx context.Context, name string, isDefault, expand bool) error {
	bind := storagev1.VolumeBindingImmediate
	reclaim := corev1.PersistentVolumeReclaimRetain
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: name},
		Provisioner:       provisionerName,
		ReclaimPolicy:     &reclaim,
		VolumeBindingMode: &bind,
	}
	if isDefault {
		sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	}
	if expand {
		sc.AllowVolumeExpansion = &expand
	}
	_, err := k.client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if errors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// provision creates a volume for every pending claim of our class.
func (k *kubelet) provision(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		claims, err := k.client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for i := range claims.Items {
			c := &claims.Items[i]
			if c.Status.Phase != corev1.ClaimPending || c.Spec.VolumeName != "" || c.DeletionTimestamp != nil {
				continue
			}
			if c.Spec.StorageClassName == nil || !ourClass(*c.Spec.StorageClassName) {
				continue
			}
			k.provisionClaim(ctx, c)
		}
		k.growVolumes(ctx, claims.Items)
	}
}

func (k *kubelet) provisionClaim(ctx context.Context, c *corev1.PersistentVolumeClaim) {
	name := "pvc-" + string(c.UID)
	dir := filepath.Join(k.cfg.storageDir, c.Namespace+"_"+c.Name+"_"+string(c.UID))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Printf("provision %s/%s: %v", c.Namespace, c.Name, err)
		return
	}
	hostPathType := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": provisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: c.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   c.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              *c.Spec.StorageClassName,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: c.Namespace, Name: c.Name, UID: c.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &hostPathType},
			},
		},
	}
	if _, err := k.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !errors.IsAlreadyExists(err) {
		log.Printf("provision %s/%s: %v", c.Namespace, c.Name, err)
	}
}

// growVolumes carries out a claim's expansion: a directory has no size, so
// growing is recording the new capacity on the volume and the claim. Only the
// expandable class: the apiserver lets no claim of testbed-fixed ask for more.
func (k *kubelet) growVolumes(ctx context.Context, claims []corev1.PersistentVolumeClaim) {
	for i := range claims {
		c := &claims[i]
		want := c.Spec.Resources.Requests[corev1.ResourceStorage]
		have := c.Status.Capacity[corev1.ResourceStorage]
		if c.Status.Phase != corev1.ClaimBound || want.Cmp(have) <= 0 {
			continue
		}
		pv, err := k.client.CoreV1().PersistentVolumes().Get(ctx, c.Spec.VolumeName, metav1.GetOptions{})
		if err != nil || pv.Spec.StorageClassName != storageClassName {
			continue
		}
		// The volume first, then the claim's status (a status update that failed is
		// done again on the next tick, the volume being grown already).
		if want.Cmp(pv.Spec.Capacity[corev1.ResourceStorage]) > 0 {
			pv.Spec.Capacity[corev1.ResourceStorage] = want
			if _, err := k.client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
				continue
			}
		}
		c.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: want}
		c.Status.AllocatedResources = corev1.ResourceList{corev1.ResourceStorage: want}
		if _, err := k.client.CoreV1().PersistentVolumeClaims(c.Namespace).UpdateStatus(ctx, c, metav1.UpdateOptions{}); err != nil {
			log.Printf("grow %s/%s: %v", c.Namespace, c.Name, err)
		}
	}
}

package main

// Volumes are directories under the pod's state directory, bind-mounted into
// each container at its mountPath. ConfigMap, Secret, downwardAPI and projected
// volumes are written the way the real kubelet writes them (a "..data" link to
// a timestamped directory, swapped atomically) and rewritten while the pod
// runs, so a changed Secret reaches a running pod. PVCs mount the directory of
// their bound PersistentVolume, which outlives the pod.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

type volumeManager struct {
	client kubernetes.Interface
	mu     sync.Mutex
	tokens map[string]cachedToken // pod uid + volume + path → token
}

type cachedToken struct {
	token   string
	refresh time.Time
}

// volumeDir is where a pod's volume lives on the host.
func volumeDir(podDir, name string) string { return filepath.Join(podDir, "volumes", name) }

// setUp prepares every volume of the pod; an error says what is missing, and
// the pod waits in ContainerCreating as it would on a real node.
func (vm *volumeManager) setUp(ctx context.Context, pod *corev1.Pod, podDir string) error {
	fsGroup := podFSGroup(pod)
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		dir := volumeDir(podDir, v.Name)
		switch {
		case v.EmptyDir != nil:
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return err
			}
			_ = os.Chmod(dir, 0o777)
			applyFSGroup(dir, fsGroup, false)
		case v.PersistentVolumeClaim != nil:
			src, err := vm.claimPath(ctx, pod.Namespace, v.PersistentVolumeClaim.ClaimName)
			if err != nil {
				return err
			}
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(src, dir); err != nil {
				return err
			}
			applyFSGroup(src, fsGroup, true)
		case v.HostPath != nil:
			_ = os.MkdirAll(filepath.Dir(dir), 0o755)
			_ = os.Remove(dir)
			if err := os.Symlink(v.HostPath.Path, dir); err != nil {
				return err
			}
		default:
			files, err := vm.projectedFiles(ctx, pod, v)
			if err != nil {
				return err
			}
			if files == nil {
				return fmt.Errorf("volume %q: this kind of volume is not supported by the test bed", v.Name)
			}
			if err := writeAtomic(dir, files, fsGroup); err != nil {
				return fmt.Errorf("volume %q: %w", v.Name, err)
			}
		}
	}
	return nil
}

// refresh rewrites the volumes whose content comes from the API.
func (vm *volumeManager) refresh(ctx context.Context, pod *corev1.Pod, podDir string) {
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if v.EmptyDir != nil || v.PersistentVolumeClaim != nil || v.HostPath != nil {
			continue
		}
		if files, err := vm.projectedFiles(ctx, pod, v); err == nil && files != nil {
			_ = writeAtomic(volumeDir(podDir, v.Name), files, podFSGroup(pod))
		}
	}
}

type projectedFile struct {
	data []byte
	mode os.FileMode
}

// projectedFiles computes the files of a configMap, secret, downwardAPI or
// projected volume; nil, nil for a kind that is not of this sort.
func (vm *volumeManager) projectedFiles(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) (map[string]projectedFile, error) {
	files := map[string]projectedFile{}
	switch {
	case v.ConfigMap != nil:
		err := vm.addConfigMap(ctx, pod.Namespace, files, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, modeOr(v.ConfigMap.DefaultMode, 0o644))
		return files, err
	case v.Secret != nil:
		err := vm.addSecret(ctx, pod.Namespace, files, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, modeOr(v.Secret.DefaultMode, 0o644))
		return files, err
	case v.DownwardAPI != nil:
		err := addDownward(pod, files, v.DownwardAPI.Items, modeOr(v.DownwardAPI.DefaultMode, 0o644))
		return files, err
	case v.Projected != nil:
		mode := modeOr(v.Projected.DefaultMode, 0o644)
		for _, s := range v.Projected.Sources {
			var err error
			switch {
			case s.ConfigMap != nil:
				err = vm.addConfigMap(ctx, pod.Namespace, files, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, mode)
			case s.Secret != nil:
				err = vm.addSecret(ctx, pod.Namespace, files, s.Secret.Name, s.Secret.Items, s.Secret.Optional, mode)
			case s.DownwardAPI != nil:
				err = addDownward(pod, files, s.DownwardAPI.Items, mode)
			case s.ServiceAccountToken != nil:
				var tok string
				tok, err = vm.token(ctx, pod, v.Name, s.ServiceAccountToken)
				files[s.ServiceAccountToken.Path] = projectedFile{[]byte(tok), mode}
			default:
				err = fmt.Errorf("projected source of volume %q is not supported by the test bed", v.Name)
			}
			if err != nil {
				return nil, err
			}
		}
		return files, nil
	}
	return nil, nil
}

func modeOr(m *int32, def os.FileMode) os.FileMode {
	if m == nil {
		return def
	}
	return os.FileMode(*m)
}

func itemMode(m *int32, def os.FileMode) os.FileMode { return modeOr(m, def) }

func (vm *volumeManager) addConfigMap(ctx context.Context, ns string, files map[string]projectedFile, name string, items []corev1.KeyToPath, optional *bool, mode os.FileMode) error {
	cm, err := vm.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if errors.IsNotFound(err) && optional != nil && *optional {
			return nil
		}
		return fmt.Errorf("configmap %q: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return addKeys(files, data, items, mode, "configmap "+name)
}

func (vm *volumeManager) addSecret(ctx context.Context, ns string, files map[string]projectedFile, name string, items []corev1.KeyToPath, optional *bool, mode os.FileMode) error {
	s, err := vm.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if errors.IsNotFound(err) && optional != nil && *optional {
			return nil
		}
		return fmt.Errorf("secret %q: %w", name, err)
	}
	return addKeys(files, s.Data, items, mode, "secret "+name)
}

func addKeys(files map[string]projectedFile, data map[string][]byte, items []corev1.KeyToPath, mode os.FileMode, what string) error {
	if len(items) == 0 {
		for k, v := range data {
			files[k] = projectedFile{v, mode}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("%s has no key %q", what, it.Key)
		}
		files[it.Path] = projectedFile{v, itemMode(it.Mode, mode)}
	}
	return nil
}

func addDownward(pod *corev1.Pod, files map[string]projectedFile, items []corev1.DownwardAPIVolumeFile, mode os.FileMode) error {
	for _, it := range items {
		var val string
		switch {
		case it.FieldRef != nil:
			v, err := podField(pod, it.FieldRef.FieldPath)
			if err != nil {
				return err
			}
			val = v
		case it.ResourceFieldRef != nil:
			v, err := resourceField(pod, it.ResourceFieldRef)
			if err != nil {
				return err
			}
			val = v
		}
		files[it.Path] = projectedFile{[]byte(val), itemMode(it.Mode, mode)}
	}
	return nil
}

// podField resolves a downward API field path as the real kubelet does.
func podField(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		ips := make([]string, 0, len(pod.Status.PodIPs))
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ","), nil
	}
	for _, prefix := range []string{"metadata.labels['", "metadata.annotations['"} {
		if strings.HasPrefix(path, prefix) && strings.HasSuffix(path, "']") {
			key := path[len(prefix) : len(path)-2]
			if strings.HasPrefix(prefix, "metadata.labels") {
				return pod.Labels[key], nil
			}
			return pod.Annotations[key], nil
		}
	}
	return "", fmt.Errorf("field path %q is not supported", path)
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%s", k, strconv.Quote(m[k]))
	}
	return b.String()
}

// resourceField resolves limits.*/requests.* of a container; an unset limit is
// the node's allocatable, as on a real node.
func resourceField(pod *corev1.Pod, ref *corev1.ResourceFieldSelector) (string, error) {
	var c *corev1.Container
	for i := range pod.Spec.Containers {
		if ref.ContainerName == "" || pod.Spec.Containers[i].Name == ref.ContainerName {
			c = &pod.Spec.Containers[i]
			break
		}
	}
	if c == nil {
		return "", fmt.Errorf("resource field: no container %q", ref.ContainerName)
	}
	parts := strings.SplitN(ref.Resource, ".", 2)
	if len(parts) != 2 {
		return "", fmt.Errorf("resource field %q is not supported", ref.Resource)
	}
	list := c.Resources.Limits
	if parts[0] == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(parts[1])]
	if !ok {
		q = nodeCapacity()[corev1.ResourceName(parts[1])]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if parts[1] == "cpu" {
		return strconv.FormatInt((q.MilliValue()+divisor.MilliValue()-1)/divisor.MilliValue(), 10), nil
	}
	return strconv.FormatInt((q.Value()+divisor.Value()-1)/divisor.Value(), 10), nil
}

// token asks kube-apiserver for a token bound to the pod, and renews it at 80%
// of its life, as the real kubelet does.
func (vm *volumeManager) token(ctx context.Context, pod *corev1.Pod, volume string, src *corev1.ServiceAccountTokenProjection) (string, error) {
	key := string(pod.UID) + "/" + volume + "/" + src.Path
	vm.mu.Lock()
	c, ok := vm.tokens[key]
	vm.mu.Unlock()
	if ok && time.Now().Before(c.refresh) {
		return c.token, nil
	}
	exp := int64(3600)
	if src.ExpirationSeconds != nil {
		exp = *src.ExpirationSeconds
	}
	var aud []string
	if src.Audience != "" {
		aud = []string{src.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := vm.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{
			Audiences:         aud,
			ExpirationSeconds: &exp,
			BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %q: %w", sa, err)
	}
	life := time.Until(tr.Status.ExpirationTimestamp.Time)
	vm.mu.Lock()
	vm.tokens[key] = cachedToken{tr.Status.Token, time.Now().Add(life * 8 / 10)}
	vm.mu.Unlock()
	return tr.Status.Token, nil
}

func (vm *volumeManager) forgetPod(uid string) {
	vm.mu.Lock()
	for k := range vm.tokens {
		if strings.HasPrefix(k, uid+"/") {
			delete(vm.tokens, k)
		}
	}
	vm.mu.Unlock()
}

// claimPath is the directory of the PersistentVolume bound to a claim.
func (vm *volumeManager) claimPath(ctx context.Context, ns, claim string) (string, error) {
	pvc, err := vm.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("persistentvolumeclaim %q: %w", claim, err)
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		return "", fmt.Errorf("persistentvolumeclaim %q is not bound", claim)
	}
	pv, err := vm.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("persistentvolume %q: %w", pvc.Spec.VolumeName, err)
	}
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path, nil
	case pv.Spec.Local != nil:
		return pv.Spec.Local.Path, nil
	}
	return "", fmt.Errorf("persistentvolume %q is neither hostPath nor local", pv.Name)
}

func podFSGroup(pod *corev1.Pod) *int64 {
	if pod.Spec.SecurityContext != nil {
		return pod.Spec.SecurityContext.FSGroup
	}
	return nil
}

// applyFSGroup gives a volume to the pod's fsGroup: group-owned, group
// read-write, setgid directories. onRootMismatch skips a volume whose root
// already has the group (fsGroupChangePolicy OnRootMismatch).
func applyFSGroup(dir string, fsGroup *int64, onRootMismatch bool) {
	if fsGroup == nil {
		return
	}
	gid := int(*fsGroup)
	if onRootMismatch {
		if st, err := os.Stat(dir); err == nil && statGID(st) == gid {
			return
		}
	}
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		_ = os.Lchown(p, -1, gid)
		mode := info.Mode().Perm() | 0o660
		if info.IsDir() {
			_ = os.Chmod(p, mode|0o770|os.ModeSetgid)
		} else {
			_ = os.Chmod(p, mode)
		}
		return nil
	})
}

// writeAtomic lays out files as the real kubelet's atomic writer does:
// dir/..<stamp>/<files>, dir/..data -> ..<stamp>, dir/<top> -> ..data/<top>.
// Unchanged content is left alone.
func writeAtomic(dir string, files map[string]projectedFile, fsGroup *int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if same(dir, files) {
		return nil
	}
	stamp := fmt.Sprintf("..%s", time.Now().UTC().Format("2006_01_02_15_04_05.000000000"))
	tsDir := filepath.Join(dir, stamp)
	if err := os.MkdirAll(tsDir, 0o755); err != nil {
		return err
	}
	for name, f := range files {
		p := filepath.Join(tsDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, 0o600); err != nil {
			return err
		}
		mode := f.mode.Perm()
		if fsGroup != nil {
			_ = os.Chown(p, 0, int(*fsGroup))
			mode |= 0o440
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(stamp, tmpLink); err != nil {
		return err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	tops := map[string]bool{}
	for name := range files {
		tops[strings.SplitN(name, "/", 2)[0]] = true
	}
	for top := range tops {
		link := filepath.Join(dir, top)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join("..data", top) {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(filepath.Join("..data", top), link); err != nil {
			return err
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, "..") && !tops[n] {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	if old != "" && old != stamp {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

func same(dir string, files map[string]projectedFile) bool {
	cur, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		return false
	}
	n := 0
	err = filepath.Walk(filepath.Join(dir, cur), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n++
		}
		return nil
	})
	if err != nil || n != len(files) {
		return false
	}
	for name, f := range files {
		p := filepath.Join(dir, cur, name)
		data, err := os.ReadFile(p)
		if err != nil || string(data) != string(f.data) {
			return false
		}
	}
	return true
}

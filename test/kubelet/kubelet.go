package main

// The kubelet proper: watches the pods bound to its nodes and keeps one runner
// per pod; serves the control endpoint tests use for node and pod loss and
// for finding a container's processes (the kubelet API is kubeletapi.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// version is what the Nodes report; scripts/testbed-build sets it.
var version = "v0.0.0"

type kubelet struct {
	cfg       config
	client    kubernetes.Interface
	images    *imageTable
	net       *podNetwork
	volumes   *volumeManager
	version   string
	nodeNames []string
	bootID    map[string]string
	pods      cache.Indexer

	mu        sync.Mutex
	runners   map[string]*podRunner
	finished  map[string]bool
	restarts  map[string]map[string]int32
	down      map[string]bool
	podsDown  map[string]bool // "ns/name": one pod's node lost, for that pod only
	recovered map[string]bool
	pids      *pidTracker
}

func newKubelet(ctx context.Context, cfg config, client kubernetes.Interface, images *imageTable) (*kubelet, error) {
	for _, d := range []string{cfg.stateDir, cfg.storageDir, filepath.Join(cfg.stateDir, "pods"), filepath.Join(cfg.stateDir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	k := &kubelet{
		cfg: cfg, client: client, images: images, version: version,
		volumes:   &volumeManager{client: client, tokens: map[string]cachedToken{}},
		bootID:    map[string]string{},
		runners:   map[string]*podRunner{},
		finished:  map[string]bool{},
		restarts:  map[string]map[string]int32{},
		down:      map[string]bool{},
		podsDown:  map[string]bool{},
		recovered: map[string]bool{},
		pids:      &pidTracker{file: filepath.Join(cfg.stateDir, "pids"), byPod: map[string]map[int]bool{}},
	}
	k.pids.killStale()
	deleteStaleSandboxes()
	// Pod directories of a previous run hold nothing a new run can use.
	_ = os.RemoveAll(filepath.Join(cfg.stateDir, "pods"))
	_ = os.MkdirAll(filepath.Join(cfg.stateDir, "pods"), 0o755)
	n, err := newPodNetwork(cfg.bridge, cfg.hostCIDR)
	if err != nil {
		return nil, err
	}
	k.net = n
	for i := 1; i <= cfg.nodes; i++ {
		name := cfg.nodePrefix + strconv.Itoa(i)
		k.nodeNames = append(k.nodeNames, name)
		k.bootID[name] = strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return k, nil
}

func (k *kubelet) run(ctx context.Context) {
	for {
		err := k.ensureStorageClass(ctx)
		if err == nil {
			break
		}
		log.Printf("storage class: %v", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	for i, name := range k.nodeNames {
		for {
			err := k.registerNode(ctx, i, name)
			if err == nil {
				break
			}
			log.Printf("%v", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
	go k.heartbeat(ctx)
	go k.provision(ctx)
	go k.refreshHosts(ctx)
	go k.serveControl(ctx)

	// A periodic resync (every pod passes syncPod again) finishes what an earlier sync left undone.
	factory := informers.NewSharedInformerFactory(k.client, 30*time.Second)
	inf := factory.Core().V1().Pods().Informer()
	k.pods = inf.GetIndexer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { k.syncPod(ctx, o.(*corev1.Pod)) },
		UpdateFunc: func(_, o any) { k.syncPod(ctx, o.(*corev1.Pod)) },
		DeleteFunc: func(o any) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if p, ok := o.(*corev1.Pod); ok {
				k.podGone(p)
			}
		},
	})
	factory.Start(ctx.Done())
	go k.serveKubeletAPI(ctx)
	log.Printf("pgw-kubelet: nodes %s ready", strings.Join(k.nodeNames, ", "))
	<-ctx.Done()
	k.shutdown()
}

// stableNames lists hostname.subdomain names of every running pod, as cluster
// DNS would answer them, for a pod in namespace ns.
func (k *kubelet) stableNames(ns string) string {
	if k.pods == nil {
		return ""
	}
	var lines []string
	for _, o := range k.pods.List() {
		p := o.(*corev1.Pod)
		if p.Spec.Subdomain == "" || p.Status.PodIP == "" || p.DeletionTimestamp != nil ||
			p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		h := podHostname(p)
		full := fmt.Sprintf("%s.%s.%s.svc", h, p.Spec.Subdomain, p.Namespace)
		names := full + ".cluster.local " + full + " " + h + "." + p.Spec.Subdomain + "." + p.Namespace
		if p.Namespace == ns {
			names += " " + h + "." + p.Spec.Subdomain + " " + h
		}
		lines = append(lines, p.Status.PodIP+"\t"+names+"\n")
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}

// refreshHosts keeps every pod's /etc/hosts current, writing in place so the
// containers' bind mounts see the new content.
func (k *kubelet) refreshHosts(ctx context.Context) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		k.mu.Lock()
		runners := make([]*podRunner, 0, len(k.runners))
		for _, r := range k.runners {
			runners = append(runners, r)
		}
		k.mu.Unlock()
		for _, r := range runners {
			pod := r.snapshot()
			path := filepath.Join(r.dir, "etc", "hosts")
			r.mu.Lock()
			want := r.hostsFile(pod)
			r.mu.Unlock()
			if cur, err := os.ReadFile(path); err == nil && string(cur) != want {
				_ = os.WriteFile(path, []byte(want), 0o644)
			}
		}
	}
}

func (k *kubelet) ours(node string) bool {
	for _, n := range k.nodeNames {
		if n == node {
			return true
		}
	}
	return false
}

func (k *kubelet) nodeDown(node string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.down[node]
}

func (k *kubelet) takeNodeRecovered(node string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.recovered[node]
	delete(k.recovered, node)
	return r
}

func (k *kubelet) syncPod(ctx context.Context, pod *corev1.Pod) {
	if !k.ours(pod.Spec.NodeName) {
		return
	}
	uid := string(pod.UID)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.down[pod.Spec.NodeName] || k.podsDown[pod.Namespace+"/"+pod.Name] {
		return
	}
	if r, ok := k.runners[uid]; ok {
		go r.update(pod)
		return
	}
	if k.finished[uid] {
		// Its runner is over but the pod is still there, being deleted: the runner's own
		// delete did not land (found on the test bed: a pod Terminating for good after an
		// eviction). Confirm it once its grace period is over, as a kubelet's periodic sync does.
		if pod.DeletionTimestamp != nil && time.Now().After(pod.DeletionTimestamp.Time) {
			go k.forceDelete(pod)
		}
		return
	}
	if pod.DeletionTimestamp != nil {
		// Nothing runs it here (a node that came back): confirm the deletion.
		k.finished[uid] = true
		go k.forceDelete(pod)
		return
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return
	}
	r := newPodRunner(k, pod, k.restarts[uid])
	k.runners[uid] = r
	go func() {
		r.run(ctx)
		k.mu.Lock()
		delete(k.runners, uid)
		if r.lost {
			k.restarts[uid] = r.restartCounts()
		} else {
			k.finished[uid] = true
			delete(k.restarts, uid)
		}
		k.mu.Unlock()
	}()
}

func (k *kubelet) forceDelete(pod *corev1.Pod) {
	zero := int64(0)
	uid := pod.UID
	err := k.client.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name,
		metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !errors.IsNotFound(err) && !errors.IsConflict(err) {
		log.Printf("pod %s/%s: delete: %v", pod.Namespace, pod.Name, err)
	}
}

// podGone: the pod was removed from the API without us (force deletion).
func (k *kubelet) podGone(pod *corev1.Pod) {
	k.mu.Lock()
	r := k.runners[string(pod.UID)]
	k.mu.Unlock()
	if r == nil {
		return
	}
	p := pod.DeepCopy()
	if p.DeletionTimestamp == nil {
		now := metav1.Now()
		p.DeletionTimestamp = &now
	}
	zero := int64(0)
	p.DeletionGracePeriodSeconds = &zero
	r.update(p)
}

// loseRunners marks the fault (under k.mu) and kills every runner that
// matches, without a word to the apiserver; it returns once all are gone.
func (k *kubelet) loseRunners(mark func(), match func(r *podRunner) bool) int {
	k.mu.Lock()
	mark()
	var lost []*podRunner
	for _, r := range k.runners {
		if match(r) {
			lost = append(lost, r)
		}
	}
	k.mu.Unlock()
	for _, r := range lost {
		r.loseNode()
	}
	for _, r := range lost {
		<-r.done
	}
	return len(lost)
}

// setNodeDown kills every pod of the node without a word to the apiserver.
func (k *kubelet) setNodeDown(node string) {
	n := k.loseRunners(func() { k.down[node] = true }, func(r *podRunner) bool { return r.node == node })
	log.Printf("node %s: down (%d pods lost)", node, n)
}

// setNodeUp brings the node back as after a reboot: its pods start again.
func (k *kubelet) setNodeUp(ctx context.Context, node string) {
	k.mu.Lock()
	delete(k.down, node)
	k.recovered[node] = true
	k.bootID[node] = strconv.FormatInt(time.Now().UnixNano(), 36)
	k.mu.Unlock()
	if k.pods != nil {
		for _, o := range k.pods.List() {
			if p := o.(*corev1.Pod); p.Spec.NodeName == node {
				k.syncPod(ctx, p)
			}
		}
	}
	log.Printf("node %s: up", node)
}

// setPodDown is node loss for one pod: its processes are killed, and neither
// restarted nor reported until setPodUp, so the apiserver goes on seeing the
// pod as it last was (Running, Ready) while the other pods of its node live on.
// A pod of that name created meanwhile (a StatefulSet's replacement) stays
// down too, as it would on a node that is gone.
func (k *kubelet) setPodDown(ns, name string) int {
	n := k.loseRunners(func() { k.podsDown[ns+"/"+name] = true },
		func(r *podRunner) bool { return r.pod.Namespace == ns && r.pod.Name == name })
	log.Printf("pod %s/%s: down (%d runners lost)", ns, name, n)
	return n
}

// setPodUp lets the kubelet take the pod up again, as after its node's reboot:
// containers start afresh and status is written again.
func (k *kubelet) setPodUp(ctx context.Context, ns, name string) {
	k.mu.Lock()
	delete(k.podsDown, ns+"/"+name)
	k.mu.Unlock()
	if k.pods != nil {
		for _, o := range k.pods.List() {
			if p := o.(*corev1.Pod); p.Namespace == ns && p.Name == name {
				k.syncPod(ctx, p)
			}
		}
	}
	log.Printf("pod %s/%s: up", ns, name)
}

func (k *kubelet) shutdown() {
	k.mu.Lock()
	var all []*podRunner
	for _, r := range k.runners {
		all = append(all, r)
	}
	k.mu.Unlock()
	for _, r := range all {
		r.loseNode()
	}
	for _, r := range all {
		<-r.done
	}
}

func (k *kubelet) event(ctx context.Context, pod *corev1.Pod, typ, reason, msg string) {
	now := metav1.Now()
	_, err := k.client.CoreV1().Events(pod.Namespace).Create(ctx, &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pod.Name + "."},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID, APIVersion: "v1"},
		Type: typ, Reason: reason, Message: msg,
		Source:         corev1.EventSource{Component: "kubelet", Host: pod.Spec.NodeName},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}, metav1.CreateOptions{})
	if err != nil && ctx.Err() == nil {
		log.Printf("event %s on %s/%s: %v", reason, pod.Namespace, pod.Name, err)
	}
}

// --- control endpoint ---------------------------------------------------------------

type containerInfo struct {
	PID     int      `json:"pid"`
	UID     uint32   `json:"uid"`
	GID     uint32   `json:"gid"`
	Running bool     `json:"running"`
	Env     []string `json:"env"`
	Log     string   `json:"log"`
}

type podInfo struct {
	UID        string                   `json:"uid"`
	Node       string                   `json:"node"`
	PodIP      string                   `json:"podIP"`
	Netns      string                   `json:"netns"`
	Containers map[string]containerInfo `json:"containers"`
}

func (k *kubelet) serveControl(ctx context.Context) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("POST /nodes/{node}/down", func(w http.ResponseWriter, r *http.Request) {
		if !k.ours(r.PathValue("node")) {
			http.Error(w, "no such node", http.StatusNotFound)
			return
		}
		k.setNodeDown(r.PathValue("node"))
		fmt.Fprintln(w, "down")
	})
	mux.HandleFunc("POST /nodes/{node}/up", func(w http.ResponseWriter, r *http.Request) {
		if !k.ours(r.PathValue("node")) {
			http.Error(w, "no such node", http.StatusNotFound)
			return
		}
		k.setNodeUp(ctx, r.PathValue("node"))
		fmt.Fprintln(w, "up")
	})
	mux.HandleFunc("POST /pods/{ns}/{name}/down", func(w http.ResponseWriter, r *http.Request) {
		n := k.setPodDown(r.PathValue("ns"), r.PathValue("name"))
		fmt.Fprintf(w, "down (%d running)\n", n)
	})
	mux.HandleFunc("POST /pods/{ns}/{name}/up", func(w http.ResponseWriter, r *http.Request) {
		k.setPodUp(ctx, r.PathValue("ns"), r.PathValue("name"))
		fmt.Fprintln(w, "up")
	})
	mux.HandleFunc("GET /pods/{ns}/{name}", func(w http.ResponseWriter, r *http.Request) {
		info := k.podInfo(r.PathValue("ns"), r.PathValue("name"))
		if info == nil {
			http.Error(w, "no such pod runs here", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(info)
	})
	srv := &http.Server{Addr: k.cfg.control, Handler: mux}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Printf("control endpoint: %v", err)
	}
}

func (k *kubelet) podInfo(ns, name string) *podInfo {
	k.mu.Lock()
	var r *podRunner
	for _, cand := range k.runners {
		if cand.pod.Namespace == ns && cand.pod.Name == name && !cand.lost {
			r = cand
		}
	}
	k.mu.Unlock()
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	info := &podInfo{UID: r.uid, Node: r.node, Netns: "/run/netns/" + netnsName(r.sandboxID), Containers: map[string]containerInfo{}}
	if r.ip != nil {
		info.PodIP = r.ip.String()
	}
	for _, cs := range append(append([]*containerState{}, r.inits...), r.apps...) {
		info.Containers[cs.spec.Name] = containerInfo{PID: cs.pid, UID: cs.uid, GID: cs.gid, Running: cs.running,
			Env: cs.env, Log: r.logFile(cs.spec.Name)}
	}
	return info
}

// --- processes of a previous run ----------------------------------------------------

// pidTracker remembers the PID 1 helpers on disk, so a kubelet that was killed
// does not leave containers running behind the next one.
type pidTracker struct {
	file  string
	mu    sync.Mutex
	byPod map[string]map[int]bool
}

func (p *pidTracker) add(uid string, pid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byPod[uid] == nil {
		p.byPod[uid] = map[int]bool{}
	}
	p.byPod[uid][pid] = true
	p.save()
}

func (p *pidTracker) remove(uid string, pid int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.byPod[uid], pid)
	if len(p.byPod[uid]) == 0 {
		delete(p.byPod, uid)
	}
	p.save()
}

func (p *pidTracker) save() {
	var b strings.Builder
	for _, pids := range p.byPod {
		for pid := range pids {
			fmt.Fprintf(&b, "%d\n", pid)
		}
	}
	_ = os.WriteFile(p.file+".tmp", []byte(b.String()), 0o644)
	_ = os.Rename(p.file+".tmp", p.file)
}

func (p *pidTracker) killStale() {
	data, err := os.ReadFile(p.file)
	if err != nil {
		return
	}
	for _, line := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(line)
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "container") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = os.Remove(p.file)
}

func statGID(st os.FileInfo) int {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Gid)
	}
	return -1
}

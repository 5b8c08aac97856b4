package main

// The kubelet API, as far as kube-apiserver needs it for pods/log: HTTPS on
// the host's bridge address (every Node reports it as its InternalIP, with
// daemonEndpoints port 10250), serving GET /containerLogs/NS/POD/CONTAINER.
// One listener serves all nodes: the path names the pod, the pod names its
// node. The serving certificate is self-signed at start (the apiserver checks
// it only when given --kubelet-certificate-authority, which the test bed does
// not set). With --client-ca-file the caller must present a certificate that
// CA signed (the apiserver's --kubelet-client-certificate); without it anyone
// may read logs. There is no authorization step (a real kubelet asks the
// apiserver with a SubjectAccessReview).
//
// A container's log file holds all its runs, each begun by the line
// "---- TIME start #N: ARGV" the kubelet writes before starting it; those
// lines are not container output and are never served. They make previous=
// possible (the run before the last) and give since= its granularity.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// kubeletAPIPort is what every Node reports as its daemonEndpoints port.
var kubeletAPIPort = 10250

// servingCert is a fresh self-signed certificate for the host's address.
func servingCert(ip net.IP, names []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "pgw-kubelet"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{ip, net.IPv4(127, 0, 0, 1)},
		DNSNames:     names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func (k *kubelet) serveKubeletAPI(ctx context.Context) {
	cert, err := servingCert(k.net.hostIP, k.nodeNames)
	if err != nil {
		log.Printf("kubelet API: certificate: %v", err)
		return
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if k.cfg.clientCAFile != "" {
		pem, err := os.ReadFile(k.cfg.clientCAFile)
		if err != nil {
			log.Printf("kubelet API: client CA: %v", err)
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			log.Printf("kubelet API: no certificate in %s", k.cfg.clientCAFile)
			return
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", k.containerLogs)
	addr := net.JoinHostPort(k.net.hostIP.String(), strconv.Itoa(kubeletAPIPort))
	srv := &http.Server{Addr: addr, Handler: mux, TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)} // TLS probes without a client certificate are no news
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServeTLS("", ""); err != nil && err != http.ErrServerClosed {
		log.Printf("kubelet API: %v", err)
	}
}

// logQuery is the part of PodLogOptions the kubelet sees in the query string.
type logQuery struct {
	follow, previous, timestamps bool
	tailLines, limitBytes        int64 // -1: not given
	since                        time.Time
}

func parseLogQuery(r *http.Request) (logQuery, error) {
	q := logQuery{tailLines: -1, limitBytes: -1}
	v := r.URL.Query()
	var err error
	flag := func(name string, dst *bool) {
		if s := v.Get(name); s != "" && err == nil {
			*dst, err = strconv.ParseBool(s)
		}
	}
	flag("follow", &q.follow)
	flag("previous", &q.previous)
	flag("timestamps", &q.timestamps)
	num := func(name string, dst *int64, min int64) {
		if s := v.Get(name); s != "" && err == nil {
			*dst, err = strconv.ParseInt(s, 10, 64)
			if err == nil && *dst < min {
				err = fmt.Errorf("%s must be at least %d", name, min)
			}
		}
	}
	num("tailLines", &q.tailLines, 0)
	num("limitBytes", &q.limitBytes, 1)
	var secs int64 = -1
	num("sinceSeconds", &secs, 1)
	if secs > 0 {
		q.since = time.Now().Add(-time.Duration(secs) * time.Second)
	}
	if s := v.Get("sinceTime"); s != "" && err == nil {
		q.since, err = time.Parse(time.RFC3339, s)
	}
	return q, err
}

func (k *kubelet) containerLogs(w http.ResponseWriter, r *http.Request) {
	ns, name, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	q, err := parseLogQuery(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var pod *corev1.Pod
	if k.pods != nil {
		if o, ok, _ := k.pods.GetByKey(ns + "/" + name); ok {
			pod = o.(*corev1.Pod)
		}
	}
	if pod == nil || !k.ours(pod.Spec.NodeName) {
		http.Error(w, fmt.Sprintf("pod %s/%s is not known to this kubelet", ns, name), http.StatusNotFound)
		return
	}
	k.mu.Lock()
	down := k.down[pod.Spec.NodeName] || k.podsDown[ns+"/"+name]
	k.mu.Unlock()
	if down {
		// A lost node answers nothing; say why instead of hanging the caller.
		http.Error(w, fmt.Sprintf("node %s is down", pod.Spec.NodeName), http.StatusServiceUnavailable)
		return
	}
	if !hasContainer(pod, container) {
		http.Error(w, fmt.Sprintf("container %q not found in pod %s/%s", container, ns, name), http.StatusNotFound)
		return
	}
	uid := string(pod.UID)
	path := filepath.Join(k.cfg.stateDir, "logs", ns+"_"+name+"_"+uid, container+".log")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, name), http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	runs := splitRuns(data)
	if q.previous && len(runs) < 2 {
		http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", container, name), http.StatusBadRequest)
		return
	}
	run := runs[len(runs)-1]
	if q.previous {
		run = runs[len(runs)-2]
	}
	st, _ := os.Stat(path)
	end := st.ModTime()
	if q.previous {
		end = runs[len(runs)-1].start
	}
	out := selectLines(data[run.from:run.to], end, q)
	w.Header().Set("Content-Type", "text/plain")
	lw := &limitWriter{w: w, left: q.limitBytes}
	_, _ = lw.Write(out)
	if !q.follow || q.previous || lw.full() {
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	k.followLog(r.Context(), lw, path, int64(run.to), uid, container)
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// logRun is one container run's output in the log file: bytes [from, to).
type logRun struct {
	from, to int
	start    time.Time
}

var runMarker = regexp.MustCompile(`(?m)^---- (\S+) start #\d+: .*\n?`)

// splitRuns cuts a log file at the kubelet's start lines; it always returns
// at least one run (an empty file is one empty run).
func splitRuns(data []byte) []logRun {
	var runs []logRun
	for _, m := range runMarker.FindAllSubmatchIndex(data, -1) {
		if len(runs) > 0 {
			runs[len(runs)-1].to = m[0]
		}
		t, _ := time.Parse(time.RFC3339Nano, string(data[m[2]:m[3]]))
		runs = append(runs, logRun{from: m[1], to: len(data), start: t})
	}
	if len(runs) == 0 {
		runs = []logRun{{from: 0, to: len(data)}}
	}
	return runs
}

// selectLines applies since and tailLines to one run. The file keeps no time
// per line, so since works per run: a run that ended before it (the next
// run's start, or the file's last write for the current run) is all out,
// any other run is all in.
func selectLines(out []byte, end time.Time, q logQuery) []byte {
	if !q.since.IsZero() && end.Before(q.since) {
		return nil
	}
	if q.tailLines >= 0 {
		out = tailLines(out, q.tailLines)
	}
	return out
}

func tailLines(b []byte, n int64) []byte {
	if n == 0 {
		return nil
	}
	i := len(b)
	if i > 0 && b[i-1] == '\n' {
		i-- // the last line's own newline
	}
	for ; n > 0; n-- {
		j := bytes.LastIndexByte(b[:i], '\n')
		if j < 0 {
			return b
		}
		if n > 1 {
			i = j
		} else {
			return b[j+1:]
		}
	}
	return b
}

// limitWriter is limitBytes: it takes bytes until the limit and drops the rest.
type limitWriter struct {
	w    io.Writer
	left int64 // -1: no limit
}

func (l *limitWriter) full() bool { return l.left == 0 }

func (l *limitWriter) Write(p []byte) (int, error) {
	n := len(p)
	if l.left >= 0 && int64(len(p)) > l.left {
		p = p[:l.left]
	}
	if len(p) > 0 {
		if _, err := l.w.Write(p); err != nil {
			return 0, err
		}
		if l.left >= 0 {
			l.left -= int64(len(p))
		}
	}
	return n, nil
}

// followLog streams what the container writes after offset until its run
// ends (it exits, or the next run's start line shows up), the pod's runner is
// gone or the caller goes away. Only whole lines are sent while following.
func (k *kubelet) followLog(ctx context.Context, w *limitWriter, path string, offset int64, uid, container string) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var pending []byte
	stopped := 0
	flush := func() {
		if f, ok := w.w.(http.Flusher); ok {
			f.Flush()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Read before looking at the container: what it wrote before exiting is sent.
		running := k.containerRunning(uid, container)
		if f, err := os.Open(path); err == nil {
			chunk, _ := io.ReadAll(io.NewSectionReader(f, offset, 1<<40))
			f.Close()
			offset += int64(len(chunk))
			pending = append(pending, chunk...)
		}
		if m := runMarker.FindIndex(pending); m != nil {
			_, _ = w.Write(pending[:m[0]])
			flush()
			return
		}
		if i := bytes.LastIndexByte(pending, '\n'); i >= 0 {
			if _, err := w.Write(pending[:i+1]); err != nil {
				return
			}
			pending = pending[i+1:]
			flush()
		}
		if w.full() {
			return
		}
		// Twice in a row: a run that has just begun is not "running" yet for a moment.
		if running {
			stopped = 0
		} else if stopped++; stopped >= 2 {
			_, _ = w.Write(pending)
			flush()
			return
		}
	}
}

func (k *kubelet) containerRunning(uid, container string) bool {
	k.mu.Lock()
	r := k.runners[uid]
	k.mu.Unlock()
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lost {
		return false
	}
	for _, cs := range append(append([]*containerState{}, r.inits...), r.apps...) {
		if cs.spec.Name == container {
			return cs.running
		}
	}
	return false
}

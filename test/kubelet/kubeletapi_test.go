package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

const twoRuns = "---- 2026-12-04T10:00:00Z start #1: sh -c x\none\ntwo\n" +
	"---- 2026-12-04T10:05:00Z start #2: sh -c x\nthree\nfour\nfive\n"

// logKubelet is a kubelet with one pod "p" (containers a and b) on node n1
// whose container a has logged twoRuns.
func logKubelet(t *testing.T) *kubelet {
	t.Helper()
	dir := t.TempDir()
	pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u1"},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}}
	_ = pods.Add(pod)
	logs := filepath.Join(dir, "logs", "ns_p_u1")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logs, "a.log"), []byte(twoRuns), 0o644); err != nil {
		t.Fatal(err)
	}
	return &kubelet{cfg: config{stateDir: dir}, nodeNames: []string{"n1"}, pods: pods,
		runners: map[string]*podRunner{}, down: map[string]bool{}, podsDown: map[string]bool{}}
}

func get(k *kubelet, url string) *httptest.ResponseRecorder {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", k.containerLogs)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", url, nil))
	return w
}

func TestContainerLogs(t *testing.T) {
	k := logKubelet(t)
	for _, c := range []struct {
		url, body string
		code      int
	}{
		{"/containerLogs/ns/p/a", "three\nfour\nfive\n", 200},
		{"/containerLogs/ns/p/a?tailLines=2", "four\nfive\n", 200},
		{"/containerLogs/ns/p/a?tailLines=0", "", 200},
		{"/containerLogs/ns/p/a?tailLines=9", "three\nfour\nfive\n", 200},
		{"/containerLogs/ns/p/a?limitBytes=8", "three\nfo", 200},
		{"/containerLogs/ns/p/a?previous=true", "one\ntwo\n", 200},
		{"/containerLogs/ns/p/a?previous=true&tailLines=1", "two\n", 200},
		// The previous run ended (10:05) before this: nothing of it.
		{"/containerLogs/ns/p/a?previous=true&sinceTime=2026-12-04T10:06:00Z", "", 200},
		{"/containerLogs/ns/p/a?previous=true&sinceTime=2026-12-04T10:04:00Z", "one\ntwo\n", 200},
		{"/containerLogs/ns/p/a?sinceSeconds=3600", "three\nfour\nfive\n", 200},
		{"/containerLogs/ns/p/a?tailLines=-1", "tailLines must be at least 0\n", 400},
		{"/containerLogs/ns/p/b", "container \"b\" in pod \"p\" is waiting to start: ContainerCreating\n", 400},
		{"/containerLogs/ns/p/c", "container \"c\" not found in pod ns/p\n", 404},
		{"/containerLogs/ns/q/a", "pod ns/q is not known to this kubelet\n", 404},
	} {
		w := get(k, c.url)
		if w.Code != c.code || w.Body.String() != c.body {
			t.Errorf("%s: %d %q, want %d %q", c.url, w.Code, w.Body.String(), c.code, c.body)
		}
	}
	k.down["n1"] = true
	if w := get(k, "/containerLogs/ns/p/a"); w.Code != 503 {
		t.Errorf("node down: %d %q", w.Code, w.Body.String())
	}
}

func TestPreviousWithOneRun(t *testing.T) {
	k := logKubelet(t)
	path := filepath.Join(k.cfg.stateDir, "logs", "ns_p_u1", "b.log")
	_ = os.WriteFile(path, []byte("---- 2026-12-04T10:00:00Z start #1: x\nonly\n"), 0o644)
	if w := get(k, "/containerLogs/ns/p/b?previous=true"); w.Code != 400 ||
		!strings.Contains(w.Body.String(), "previous terminated container \"b\" in pod \"p\" not found") {
		t.Errorf("%d %q", w.Code, w.Body.String())
	}
	// A file written before the start lines existed is one run.
	_ = os.WriteFile(path, []byte("x\ny\n"), 0o644)
	if w := get(k, "/containerLogs/ns/p/b?tailLines=1"); w.Body.String() != "y\n" {
		t.Errorf("%q", w.Body.String())
	}
}

// Following a container that is not running ends; a line that shows up
// meanwhile is sent, and the next run's start line ends it.
func TestFollowStopsAtNextRun(t *testing.T) {
	k := logKubelet(t)
	path := filepath.Join(k.cfg.stateDir, "logs", "ns_p_u1", "a.log")
	// A runner whose container a runs keeps the stream open.
	r := &podRunner{apps: []*containerState{{spec: corev1.Container{Name: "a"}, running: true}}}
	k.runners["u1"] = r
	done := make(chan string)
	go func() { done <- get(k, "/containerLogs/ns/p/a?follow=true").Body.String() }()
	time.Sleep(500 * time.Millisecond)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	_, _ = f.WriteString("six\n---- 2026-12-04T10:09:00Z start #3: x\nseven\n")
	f.Close()
	select {
	case body := <-done:
		if body != "three\nfour\nfive\nsix\n" {
			t.Errorf("%q", body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not stop at the next run")
	}
	r.apps[0].running = false
	if body := get(k, "/containerLogs/ns/p/a?follow=true&tailLines=1"); body.Body.String() != "seven\n" {
		t.Errorf("stopped container: %q", body.Body.String())
	}
}

// The API over TLS: a caller without a certificate from the client CA is
// turned away, one with such a certificate reads logs.
func TestKubeletAPIClientCertificate(t *testing.T) {
	k := logKubelet(t)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	_ = os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "apiserver"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	client := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	kubeletAPIPort = l.Addr().(*net.TCPAddr).Port
	l.Close()
	k.cfg.clientCAFile = caFile
	k.net = &podNetwork{hostIP: net.IPv4(127, 0, 0, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go k.serveKubeletAPI(ctx)
	url := fmt.Sprintf("https://127.0.0.1:%d/containerLogs/ns/p/a?tailLines=1", kubeletAPIPort)
	call := func(certs []tls.Certificate) (string, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: certs}}}
		var err error
		for i := 0; i < 50; i++ {
			var resp *http.Response
			if resp, err = c.Get(url); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return string(b), nil
			}
			if !strings.Contains(err.Error(), "refused") {
				return "", err
			}
			time.Sleep(50 * time.Millisecond)
		}
		return "", err
	}
	if body, err := call([]tls.Certificate{client}); err != nil || body != "five\n" {
		t.Errorf("with a client certificate: %q %v", body, err)
	}
	if body, err := call(nil); err == nil {
		t.Errorf("without a client certificate: %q", body)
	}
}

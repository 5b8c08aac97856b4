// pgw-kubelet: the test bed's kubelet. It registers Nodes with a real
// kube-apiserver and runs the pods the scheduler binds to them as local
// processes: one network namespace per pod on a bridge, one mount, PID and UTS
// namespace per container with the pod's volumes bind-mounted at their
// mountPath, probes, restarts, graceful deletion and pod status as the real
// kubelet writes them. Images are not pulled: images.yaml maps each image to
// programs installed on this machine.
//
//	pgw-kubelet run --kubeconfig F --state-dir D --images F [--nodes N] ...
//	pgw-kubelet container SPEC.json     (internal: PID 1 of one container)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	if len(os.Args) >= 3 && os.Args[1] == "container" {
		os.Exit(containerInit(os.Args[2]))
	}
	if len(os.Args) < 2 || os.Args[1] != "run" {
		fmt.Fprintln(os.Stderr, "usage: pgw-kubelet run [flags] | pgw-kubelet container SPEC.json")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var cfg config
	fs.StringVar(&cfg.kubeconfig, "kubeconfig", "", "admin kubeconfig")
	fs.StringVar(&cfg.stateDir, "state-dir", "", "pods, volumes and logs live here")
	fs.StringVar(&cfg.imagesFile, "images", "", "image table (images.yaml)")
	fs.IntVar(&cfg.nodes, "nodes", 3, "number of Nodes to register")
	fs.StringVar(&cfg.nodePrefix, "node-prefix", "testbed-node-", "Node names are this plus 1..N")
	fs.StringVar(&cfg.bridge, "bridge", "pgw0", "bridge the pod network hangs off")
	fs.StringVar(&cfg.hostCIDR, "host-cidr", "10.88.0.1/16", "the host's address on the bridge; pods get the rest")
	fs.IntVar(&cfg.apiPort, "api-port", 6443, "kube-apiserver port, reached by pods on the host's bridge address")
	fs.StringVar(&cfg.control, "control", "127.0.0.1:10250", "control endpoint (node loss, pod lookup)")
	fs.StringVar(&cfg.clientCAFile, "client-ca-file", "", "kubelet API: callers must present a certificate this CA signed (default: anyone may call)")
	fs.StringVar(&cfg.storageDir, "storage-dir", "", "PersistentVolumes are directories here (default STATE/pv)")
	_ = fs.Parse(os.Args[2:])
	if cfg.kubeconfig == "" || cfg.stateDir == "" || cfg.imagesFile == "" {
		fmt.Fprintln(os.Stderr, "pgw-kubelet: --kubeconfig, --state-dir and --images are required")
		os.Exit(2)
	}
	if cfg.storageDir == "" {
		cfg.storageDir = cfg.stateDir + "/pv"
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		fatal("kubeconfig: %v", err)
	}
	rc.QPS, rc.Burst = 200, 400
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		fatal("client: %v", err)
	}
	images, err := loadImages(cfg.imagesFile)
	if err != nil {
		fatal("images: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	k, err := newKubelet(ctx, cfg, client, images)
	if err != nil {
		fatal("%v", err)
	}
	k.run(ctx)
}

type config struct {
	kubeconfig, stateDir, imagesFile, nodePrefix, bridge, hostCIDR, control, storageDir, clientCAFile string
	nodes, apiPort                                                                                    int
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pgw-kubelet: "+format+"\n", args...)
	os.Exit(1)
}

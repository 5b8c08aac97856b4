package main

// The pod network: one bridge on the host holding the host's address, and one
// network namespace per pod with a veth into the bridge. Pods reach each other
// and the host (where kube-apiserver listens) over it; the host reaches every
// pod address, which is how kube-apiserver calls the webhook and how tests
// connect to databases.

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
)

type podNetwork struct {
	bridge string
	hostIP net.IP
	subnet *net.IPNet
	mu     sync.Mutex
	used   map[string]bool // addresses handed out
	next   uint32
}

func newPodNetwork(bridge, hostCIDR string) (*podNetwork, error) {
	ip, subnet, err := net.ParseCIDR(hostCIDR)
	if err != nil {
		return nil, err
	}
	n := &podNetwork{bridge: bridge, hostIP: ip.To4(), subnet: subnet, used: map[string]bool{}}
	n.used[n.hostIP.String()] = true
	ones, _ := subnet.Mask.Size()
	if _, err := run("ip", "link", "show", bridge); err != nil {
		if _, err := run("ip", "link", "add", bridge, "type", "bridge"); err != nil {
			return nil, err
		}
	}
	if out, _ := run("ip", "-4", "addr", "show", "dev", bridge); !strings.Contains(out, n.hostIP.String()+"/") {
		if _, err := run("ip", "addr", "add", fmt.Sprintf("%s/%d", n.hostIP, ones), "dev", bridge); err != nil {
			return nil, err
		}
	}
	if _, err := run("ip", "link", "set", bridge, "up"); err != nil {
		return nil, err
	}
	// Forward between pods and the host, never through a firewall chain.
	_, _ = run("sysctl", "-qw", "net.ipv4.ip_forward=1")
	return n, nil
}

func (n *podNetwork) allocate() (net.IP, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	base := ipToU32(n.subnet.IP)
	ones, bits := n.subnet.Mask.Size()
	size := uint32(1) << (bits - ones)
	for i := uint32(0); i < size; i++ {
		n.next = (n.next + 1) % size
		if n.next < 2 || n.next == size-1 { // network, gateway side, broadcast
			continue
		}
		ip := u32ToIP(base + n.next)
		if !n.used[ip.String()] {
			n.used[ip.String()] = true
			return ip, nil
		}
	}
	return nil, fmt.Errorf("pod network %s is full", n.subnet)
}

func (n *podNetwork) release(ip string) {
	n.mu.Lock()
	delete(n.used, ip)
	n.mu.Unlock()
}

// netnsName is the namespace of a pod sandbox (ip netns keeps it in /run/netns).
func netnsName(id string) string { return "pgw-" + id }

// createSandbox makes the pod's network namespace with ip on eth0.
func (n *podNetwork) createSandbox(id string, ip net.IP) error {
	ns := netnsName(id)
	hostEnd := "pgwv" + id
	if len(hostEnd) > 15 {
		hostEnd = hostEnd[:15]
	}
	ones, _ := n.subnet.Mask.Size()
	steps := [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"ip", "link", "set", hostEnd, "master", n.bridge, "up"},
		{"ip", "-n", ns, "addr", "add", fmt.Sprintf("%s/%d", ip, ones), "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "-n", ns, "route", "add", "default", "via", n.hostIP.String()},
	}
	for _, s := range steps {
		if _, err := run(s[0], s[1:]...); err != nil {
			n.deleteSandbox(id)
			return err
		}
	}
	return nil
}

func (n *podNetwork) deleteSandbox(id string) {
	_, _ = run("ip", "netns", "del", netnsName(id)) // takes the veth pair with it
}

// deleteStaleSandboxes removes namespaces a previous run left behind.
func deleteStaleSandboxes() {
	out, _ := run("ip", "netns", "list")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], "pgw-") {
			_, _ = run("ip", "netns", "del", f[0])
		}
	}
}

func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func ipToU32(ip net.IP) uint32 {
	ip = ip.To4()
	return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
}

func u32ToIP(v uint32) net.IP { return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }

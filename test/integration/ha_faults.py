"""Unplanned failures of a database pod on the test bed, for the HA tests and bench/failover_loss.py.

A crash is every process of the pod SIGKILLed without telling the apiserver
(as a machine that dies): the pids come from the process kubelet's
GET /pods/<ns>/<name>, and each container's processes are found under it in
/proc. The kubelet restarts killed containers after 1 s, 2 s, 4 s, ...: a
Patroni that comes back while its leader key is still valid simply starts
PostgreSQL again as the primary (no failover, nothing to lose). To get a
failover, `crash_until_failover` keeps killing the pod's processes as they
come back until another member holds the leader key: the pod is a node that
stays dead for ttl seconds, the case synchronous replication is about.

`throttle_to`, `cut_off` and `restore_network` shape a pod's egress with tc in
its network namespace, for the benchmark's "replicas farther away than the
clients" case.
"""
import os
import signal
import subprocess
import time


def leader(tb, ns, cluster):
    """The member named by Patroni's leader key (the `leader` annotation of the Endpoints `<cluster>`)."""
    st, ep = tb.api("GET", f"/api/v1/namespaces/{ns}/endpoints/{cluster}")
    if st != 200:
        return None
    return (ep.get("metadata", {}).get("annotations") or {}).get("leader")


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def pod_pids(tb, ns, pod):
    info = tb.pod_info(ns, pod) or {}
    pids = []
    for c in (info.get("containers") or {}).values():
        if c.get("running") and c.get("pid"):
            pids.extend(_descendants(c["pid"]))
    return pids


def kill_pod(tb, ns, pod):
    """SIGKILLs every process of the pod's containers; returns how many were signalled."""
    n = 0
    for pid in pod_pids(tb, ns, pod):
        try:
            os.kill(pid, signal.SIGKILL)
            n += 1
        except ProcessLookupError:
            pass
    return n


def crash_until_failover(tb, ns, cluster, pod, timeout=120):
    """Kills `pod` and every process the kubelet restarts in it until another member holds the
    leader key; returns (time of the first kill, new leader)."""
    first = time.time()
    end = time.monotonic() + timeout
    kill_pod(tb, ns, pod)
    while True:
        now = leader(tb, ns, cluster)
        if now and now != pod:
            return first, now
        if time.monotonic() > end:
            raise AssertionError(f"no failover from {pod} within {timeout} s (leader: {now})")
        kill_pod(tb, ns, pod)
        time.sleep(0.1)


def _tc(tb, ns, pod, *args, check=True):
    netns = tb.pod_info(ns, pod)["netns"]
    return subprocess.run(["nsenter", f"--net={netns}", "tc"] + list(args), check=check, capture_output=True, text=True)


def throttle_to(tb, ns, pod, ips, kbit):
    """Limits what `pod` sends to `ips` to `kbit` kbit/s (an htb class that only those addresses'
    traffic takes; the test bed's kernel has htb and u32 but no netem): replicas farther away than
    the clients, so the WAL of an acknowledged commit can still be queued when the primary dies."""
    _tc(tb, ns, pod, "qdisc", "replace", "dev", "eth0", "root", "handle", "1:", "htb", "default", "10")
    _tc(tb, ns, pod, "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit")
    _tc(tb, ns, pod, "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:20", "htb", "rate", f"{kbit}kbit")
    for ip in ips:
        _tc(tb, ns, pod, "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip",
            "dst", f"{ip}/32", "flowid", "1:20")


def cut_off(tb, ns, pod):
    """Drops everything `pod` sends from now on, and what was queued (the root qdisc is replaced):
    a machine that dies takes its unsent packets with it."""
    _tc(tb, ns, pod, "qdisc", "replace", "dev", "eth0", "root", "blackhole")


def restore_network(tb, ns, pod):
    _tc(tb, ns, pod, "qdisc", "del", "dev", "eth0", "root", check=False)

"""The few controllers pgwarden's tests need, run in one background loop.

  - StatefulSet → Pods `<sts>-<ordinal>` from the template, created through
    admission as the statefulset-controller (so pod webhooks run), with the
    ownerReference, statefulset.kubernetes.io/pod-name and pod-index labels,
    hostname/subdomain, and PVCs from volumeClaimTemplates. Scales up (ordered
    when podManagementPolicy is OrderedReady) and down (highest ordinal first).
    Existing pods are never replaced (OnDelete semantics for every strategy).
    Status: replicas, readyReplicas, currentReplicas, updatedReplicas,
    availableReplicas, observedGeneration. Create failures become
    FailedCreate Events on the StatefulSet, as upstream reports them.
  - "kubelet": a new pod becomes Running and Ready with podIP 127.0.0.x,
    unless the pod carries the annotation stand-in.pgwarden.io/ready: "false"
    or the stand-in runs with --pods-ready=false.
  - Job: startTime and active=1 at once; after --job-delay seconds, Complete
    (or Failed) per --job-mode succeed|fail|pending, overridable per Job with
    the annotation stand-in.pgwarden.io/job-result: Succeeded|Failed|Pending.
    Just before, the Job's one pod appears, already finished (phase Succeeded
    or Failed, labels job-name / batch.kubernetes.io/job-name / controller-uid,
    owned by the Job), with each container terminated; the Job's annotation
    stand-in.pgwarden.io/termination-message becomes the first container's
    state.terminated.message, as the kubelet reports terminationMessagePath.
  - Garbage collection and finalization (gc.py).
"""
import hashlib
import json
import threading
import time

from . import gc
from .errors import ApiError
from .ops import now
from .jcopy import jcopy

STS_USER = {"username": "system:serviceaccount:kube-system:statefulset-controller",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]}
NODE_USER = {"username": "system:node:stand-in", "groups": ["system:nodes", "system:authenticated"]}
JOB_USER = {"username": "system:serviceaccount:kube-system:job-controller",
            "groups": ["system:serviceaccounts", "system:authenticated"]}
READY_ANN = "stand-in.pgwarden.io/ready"
JOB_ANN = "stand-in.pgwarden.io/job-result"
TERM_ANN = "stand-in.pgwarden.io/termination-message"


class Controllers:
    def __init__(self, api, cfg, log, interval=0.1):
        self.api = api
        self.cfg = cfg  # dict: podsReady, jobMode, jobDelay
        self.log = log
        self.interval = interval
        self.stop = threading.Event()
        self.ip = 1
        self.job_started = {}  # uid -> monotonic time we saw it start
        self.last_event = {}  # (ns, sts, reason, message) already reported
        # Work found by watching commits, as the real controllers' informers do: only what changed is looked at.
        self.dirty_lock = threading.Lock()
        self.dirty_sts = set()  # (ns, name) of StatefulSets to sync
        self.dirty_pods = set()  # (ns, name) of pods the kubelet should look at
        self.retry_sts = {}  # (ns, name) -> monotonic time of the next attempt after a failure
        self.gc_due = True
        self.gc_last = 0.0
        self.full_pass = True  # the first pass looks at everything (state loaded from disk)
        api.store.listeners.append(self._on_commit)

    def _on_commit(self, ev):
        """Store listener (runs under the store lock): remember what the next pass must look at."""
        _, gr, etype, obj, old = ev
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        with self.dirty_lock:
            if gr == ("apps", "statefulsets"):
                self.dirty_sts.add(key)
            elif gr == ("", "pods"):
                self.dirty_pods.add(key)
                for r in meta.get("ownerReferences") or []:
                    if r.get("kind") == "StatefulSet" and r.get("controller"):
                        self.dirty_sts.add((key[0], r.get("name")))
            if etype == "DELETED" or meta.get("deletionTimestamp") or \
                    (old is not None and meta.get("ownerReferences") != old["metadata"].get("ownerReferences")):
                self.gc_due = True

    def _take_dirty(self):
        with self.dirty_lock:
            sts, pods = self.dirty_sts, self.dirty_pods
            self.dirty_sts, self.dirty_pods = set(), set()
            full, self.full_pass = self.full_pass, False
        t = time.monotonic()
        for k, when in list(self.retry_sts.items()):
            if when <= t:
                sts.add(k)
                del self.retry_sts[k]
        return sts, pods, full

    def res(self, group, plural):
        return self.api.registry.by_gr(group, plural)

    def run(self):
        while not self.stop.wait(self.interval):
            sts, pods, full = self._take_dirty()
            for step, arg in ((self.statefulsets, None if full else sts), (self.kubelet, None if full else pods),
                              (self.jobs, None)):
                try:
                    step(arg)
                except ApiError as e:
                    if e.code not in (404, 409):
                        self.log(f"controller {step.__name__}: {e.message}")
                except Exception as e:  # keep the loop alive; the test logs will show it
                    self.log(f"controller {step.__name__}: {type(e).__name__}: {e}")
            # Collection follows deletions and owner changes at once, and sweeps every few seconds for the
            # rest (a dependent created with an owner that is already gone); a sweep reads every object.
            t = time.monotonic()
            with self.dirty_lock:
                due, self.gc_due = self.gc_due or t - self.gc_last >= 3.0, False
            if not due:
                continue
            self.gc_last = t
            try:
                gc.run_once(self.api, self.log)
            except Exception as e:
                self.log(f"gc: {type(e).__name__}: {e}")

    # --- events -----------------------------------------------------------------------

    def event(self, obj, etype, reason, message):
        meta = obj["metadata"]
        key = (meta.get("namespace"), meta["name"], reason, message)
        if key in self.last_event:
            return
        self.last_event[key] = True
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"generateName": meta["name"] + ".", "namespace": meta.get("namespace", "default")},
              "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta["name"],
                                 "namespace": meta.get("namespace"), "uid": meta["uid"],
                                 "resourceVersion": meta.get("resourceVersion")},
              "reason": reason, "message": message, "type": etype, "count": 1,
              "firstTimestamp": now(), "lastTimestamp": now(), "source": {"component": "statefulset-controller"},
              "reportingComponent": "statefulset-controller"}
        try:
            self.api.create(self.res("", "events"), meta.get("namespace", "default"), ev, STS_USER, manager="stand-in")
        except ApiError as e:
            self.log(f"event: {e.message}")

    # --- StatefulSet --------------------------------------------------------------------

    def statefulsets(self, keys):
        """Syncs the StatefulSets in keys ((ns, name) set), or all of them when keys is None."""
        sts_res, pod_res = self.res("apps", "statefulsets"), self.res("", "pods")
        if keys is None:
            todo = self.api.store.peek(sts_res.gr)
        else:
            todo = [o for o in (self.api.store.peek_one(sts_res.gr, ns, name) for ns, name in keys) if o is not None]
        if not todo:
            return
        owned = self._pods_by_controller()
        for sts in todo:
            meta, spec = sts["metadata"], sts.get("spec") or {}
            if meta.get("deletionTimestamp"):
                continue
            ns, name = meta["namespace"], meta["name"]
            replicas = spec.get("replicas", 1)
            pods = {}
            for p in owned.get(meta["uid"], []):
                suffix = p["metadata"]["name"][len(name) + 1:]
                if p["metadata"]["name"].startswith(name + "-") and suffix.isdigit():
                    pods[int(suffix)] = p
            ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
            for i in range(replicas):
                if i in pods:
                    if ordered and not self._ready(pods[i]):
                        break
                    continue
                self._create_pod(sts, i, pod_res)
                if ordered:
                    break
            for i in sorted((i for i in pods if i >= replicas), reverse=True):
                p = pods[i]
                if not p["metadata"].get("deletionTimestamp"):
                    try:
                        self.api.delete(pod_res, ns, p["metadata"]["name"], {"preconditions": {"uid": p["metadata"]["uid"]}}, STS_USER)
                        self.event(sts, "Normal", "SuccessfulDelete", f"delete Pod {p['metadata']['name']} in StatefulSet {name} successful")
                    except ApiError as e:
                        self.event(sts, "Warning", "FailedDelete", f"delete Pod {p['metadata']['name']} in StatefulSet {name} failed error: {e.message}")
                        self.retry_sts[(ns, name)] = time.monotonic() + 1.0
                if ordered:
                    break
            self._sts_status(sts, sts_res, owned.get(meta["uid"], []))

    def _pods_by_controller(self):
        """Controller uid → the pods it owns (references into the store: read only)."""
        owned = {}
        for p in self.api.store.peek(("", "pods")):
            for r in p["metadata"].get("ownerReferences") or []:
                if r.get("controller"):
                    owned.setdefault(r.get("uid"), []).append(p)
        return owned

    def _ready(self, pod):
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])

    def _revision(self, sts):
        h = hashlib.sha256(json.dumps((sts.get("spec") or {}).get("template"), sort_keys=True).encode()).hexdigest()
        return f"{sts['metadata']['name']}-{h[:10]}"

    def _create_pod(self, sts, i, pod_res):
        meta, spec = sts["metadata"], sts.get("spec") or {}
        ns, name = meta["namespace"], meta["name"]
        tmpl = json.loads(json.dumps(spec.get("template") or {}))
        tmeta = tmpl.get("metadata") or {}
        pname = f"{name}-{i}"
        labels = dict(tmeta.get("labels") or {})
        labels.update({"statefulset.kubernetes.io/pod-name": pname, "apps.kubernetes.io/pod-index": str(i),
                       "controller-revision-hash": self._revision(sts)})
        pspec = tmpl.get("spec") or {}
        pspec["hostname"] = pname
        if spec.get("serviceName"):
            pspec["subdomain"] = spec["serviceName"]
        owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": meta["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        pvc_res = self.res("", "persistentvolumeclaims")
        retain = (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted", "Retain")
        for claim in spec.get("volumeClaimTemplates") or []:
            cname = (claim.get("metadata") or {}).get("name", "")
            pvc_name = f"{cname}-{pname}"
            vols = pspec.setdefault("volumes", [])
            if not any(v.get("name") == cname for v in vols):
                vols.append({"name": cname, "persistentVolumeClaim": {"claimName": pvc_name}})
            if self.api.store.get(pvc_res.gr, ns, pvc_name) is None:
                pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": pvc_name, "namespace": ns,
                                    "labels": dict((claim.get("metadata") or {}).get("labels") or {},
                                                   **((spec.get("selector") or {}).get("matchLabels") or {}))},
                       "spec": jcopy(claim.get("spec") or {})}
                if retain == "Delete":
                    pvc["metadata"]["ownerReferences"] = [dict(owner, controller=False)]
                try:
                    created = self.api.create(pvc_res, ns, pvc, STS_USER, manager="kube-controller-manager")
                    self.api.patch(pvc_res, ns, pvc_name, "application/merge-patch+json",
                                   {"status": {"phase": "Bound", "accessModes": (claim.get("spec") or {}).get("accessModes", []),
                                               "capacity": ((claim.get("spec") or {}).get("resources") or {}).get("requests", {})}},
                                   STS_USER, manager="kube-controller-manager", sub="status")
                    del created
                except ApiError as e:
                    self.event(sts, "Warning", "FailedCreate", f"create Claim {pvc_name} for Pod {pname} in StatefulSet {name} failed error: {e.message}")
                    self.retry_sts[(ns, name)] = time.monotonic() + 1.0
                    return
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pname, "namespace": ns, "labels": labels,
                            "annotations": dict(tmeta.get("annotations") or {}), "ownerReferences": [owner]},
               "spec": pspec}
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        try:
            self.api.create(self.res("", "pods"), ns, pod, STS_USER, manager="kube-controller-manager")
            self.event(sts, "Normal", "SuccessfulCreate", f"create Pod {pname} in StatefulSet {name} successful")
        except ApiError as e:
            self.event(sts, "Warning", "FailedCreate", f"create Pod {pname} in StatefulSet {name} failed error: {e.message}")
            self.retry_sts[(ns, name)] = time.monotonic() + 1.0  # upstream requeues with backoff

    def _sts_status(self, sts, sts_res, pods):
        meta = sts["metadata"]
        rev = self._revision(sts)
        ready = sum(1 for p in pods if self._ready(p))
        updated = sum(1 for p in pods if p["metadata"].get("labels", {}).get("controller-revision-hash") == rev)
        want = {"observedGeneration": meta.get("generation", 1), "replicas": len(pods), "readyReplicas": ready,
                "currentReplicas": updated, "updatedReplicas": updated, "availableReplicas": ready,
                "currentRevision": rev, "updateRevision": rev, "collisionCount": 0}
        cur = sts.get("status") or {}
        if any(cur.get(k) != v for k, v in want.items()):
            self.api.patch(sts_res, meta["namespace"], meta["name"], "application/merge-patch+json", {"status": want},
                           STS_USER, manager="kube-controller-manager", sub="status")

    # --- kubelet ------------------------------------------------------------------------

    def kubelet(self, keys):
        """Starts the new pods among keys ((ns, name) set), or among all pods when keys is None."""
        if not self.cfg.get("podsReady", True):
            return
        pod_res = self.res("", "pods")
        if keys is None:
            todo = self.api.store.peek(pod_res.gr)
        else:
            todo = [o for o in (self.api.store.peek_one(pod_res.gr, ns, name) for ns, name in keys) if o is not None]
        for p in todo:
            meta = p["metadata"]
            if meta.get("deletionTimestamp") or (p.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed"):
                continue
            if (meta.get("annotations") or {}).get(READY_ANN) == "false":
                continue
            self.ip = self.ip % 250 + 1
            t = now()
            conds = [{"type": c, "status": "True", "lastProbeTime": None, "lastTransitionTime": t}
                     for c in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
            statuses = [{"name": c.get("name"), "ready": True, "started": True, "restartCount": 0,
                         "image": c.get("image", ""), "imageID": "", "containerID": f"stand-in://{meta['uid']}/{c.get('name')}",
                         "state": {"running": {"startedAt": t}}} for c in (p.get("spec") or {}).get("containers") or []]
            ip = f"127.0.0.{self.ip + 1}"
            status = {"phase": "Running", "conditions": conds, "podIP": ip, "podIPs": [{"ip": ip}],
                      "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}], "startTime": t,
                      "containerStatuses": statuses, "qosClass": "BestEffort"}
            self.api.patch(pod_res, meta["namespace"], meta["name"], "application/merge-patch+json",
                           {"status": status}, NODE_USER, manager="kubelet", sub="status")

    # --- Job ----------------------------------------------------------------------------

    def jobs(self, _keys=None):
        job_res = self.res("batch", "jobs")
        for j in self.api.store.peek(job_res.gr):
            meta, st = j["metadata"], j.get("status") or {}
            if meta.get("deletionTimestamp") or (j.get("spec") or {}).get("suspend"):
                continue
            if any(c.get("type") in ("Complete", "Failed") for c in st.get("conditions") or []):
                continue
            mode = (meta.get("annotations") or {}).get(JOB_ANN) or {"succeed": "Succeeded", "fail": "Failed",
                                                                    "pending": "Pending"}[self.cfg.get("jobMode", "succeed")]
            if not st.get("startTime"):
                self.job_started[meta["uid"]] = time.monotonic()
                self.api.patch(job_res, meta["namespace"], meta["name"], "application/merge-patch+json",
                               {"status": {"startTime": now(), "active": 1, "ready": 0}}, JOB_USER,
                               manager="kube-controller-manager", sub="status")
                continue
            started = self.job_started.setdefault(meta["uid"], time.monotonic())
            if mode == "Pending" or time.monotonic() - started < float(self.cfg.get("jobDelay", 0)):
                continue
            t = now()
            self._job_pod(j, mode == "Succeeded", t)
            if mode == "Succeeded":
                status = {"active": None, "ready": 0, "succeeded": 1, "completionTime": t, "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": t, "lastTransitionTime": t},
                    {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": t, "lastTransitionTime": t}]}
            else:
                status = {"active": None, "ready": 0, "failed": 1 + int((j.get("spec") or {}).get("backoffLimit", 6)), "conditions": [
                    {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": t, "lastTransitionTime": t},
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit", "lastProbeTime": t, "lastTransitionTime": t}]}
            self.api.patch(job_res, meta["namespace"], meta["name"], "application/merge-patch+json",
                           {"status": status}, JOB_USER, manager="kube-controller-manager", sub="status")

    def _job_pod(self, job, succeeded, t):
        """The Job's finished pod (created once), carrying the termination message."""
        meta, pod_res = job["metadata"], self.res("", "pods")
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        pname = f"{name}-{hashlib.sha256(uid.encode()).hexdigest()[:5]}"
        if self.api.store.get(pod_res.gr, ns, pname) is not None:
            return
        tmpl = json.loads(json.dumps(((job.get("spec") or {}).get("template")) or {}))
        labels = dict((tmpl.get("metadata") or {}).get("labels") or {})
        labels.update({"job-name": name, "batch.kubernetes.io/job-name": name, "controller-uid": uid,
                       "batch.kubernetes.io/controller-uid": uid})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pname, "namespace": ns, "labels": labels,
                            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid,
                                                 "controller": True, "blockOwnerDeletion": True}]},
               "spec": tmpl.get("spec") or {}}
        self.api.create(pod_res, ns, pod, JOB_USER, manager="kube-controller-manager")
        message = (meta.get("annotations") or {}).get(TERM_ANN)
        statuses = []
        for i, c in enumerate((pod["spec"].get("containers") or [])):
            term = {"exitCode": 0 if succeeded else 1, "reason": "Completed" if succeeded else "Error",
                    "startedAt": t, "finishedAt": t, "containerID": f"stand-in://{uid}/{c.get('name')}"}
            if i == 0 and message is not None:
                term["message"] = message
            statuses.append({"name": c.get("name"), "ready": False, "started": False, "restartCount": 0,
                             "image": c.get("image", ""), "imageID": "", "state": {"terminated": term}})
        self.api.patch(pod_res, ns, pname, "application/merge-patch+json",
                       {"status": {"phase": "Succeeded" if succeeded else "Failed", "startTime": t,
                                   "containerStatuses": statuses, "hostIP": "127.0.0.1"}},
                       NODE_USER, manager="kubelet", sub="status")

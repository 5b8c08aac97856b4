"""The REST semantics of kube-apiserver's generic registry, independent of HTTP.

create / update / patch / apply / delete / get / list, each going through the
same steps as upstream: decode → mutating admission → prepare (uid, timestamps,
generation, status reset, defaults) → validation → validating admission →
storage with resourceVersion preconditions (409) → post-commit hooks (CRD
registration). Controllers and the garbage collector inside the stand-in use
these same functions, so their writes go through admission too.
"""
import base64
import datetime
import json
import random
import re
import uuid

from . import patch as patchlib
from . import ssa
from .admission import Attributes
from .discovery import CRD_GR
from .errors import (ApiError, already_exists, bad_request, conflict, forbidden, gone, internal, invalid,
                     not_found)
from .selectors import match_fields, match_reqs, parse_fields, parse_labels
from .jcopy import jcopy

GENERATION = {("apps", "statefulsets"), ("batch", "jobs"), ("batch", "cronjobs"),
              ("policy", "poddisruptionbudgets"), CRD_GR,
              ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
              ("admissionregistration.k8s.io", "validatingwebhookconfigurations")}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
STS_MUTABLE = {"replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
               "minReadySeconds"}
NS_GR = ("", "namespaces")
SYSTEM_USER = {"username": "system:apiserver", "groups": ["system:masters"]}


class Retry(Exception):
    pass


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strip(obj):
    """Compare objects ignoring what every write changes."""
    o = jcopy(obj)
    o.get("metadata", {}).pop("resourceVersion", None)
    o.get("metadata", {}).pop("managedFields", None)
    return o


def finalized(res, obj):
    """Being deleted with no finalizer left (namespaces also wait for spec.finalizers)."""
    meta = obj["metadata"]
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    return not (res.gr == NS_GR and (obj.get("spec") or {}).get("finalizers"))


def _outside(obj, has_status):
    return {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind") and not (has_status and k == "status")}


class Api:
    def __init__(self, registry, store, admission, log):
        self.registry = registry
        self.store = store
        self.admission = admission
        self.log = log
        self.ip_counter = 10

    # --- shared helpers -----------------------------------------------------------

    def _as_version(self, res, obj):
        obj["apiVersion"] = res.gv
        obj["kind"] = res.kind
        return obj

    def _check_body(self, res, body, ns, name=None):
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be a JSON object")
        av, kind = body.get("apiVersion"), body.get("kind")
        if av and av.rpartition("/")[0] != res.group:
            raise bad_request(f"the API version in the data ({av}) does not match the expected API version ({res.gv})")
        if kind and kind != res.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") and meta["name"] != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if name is not None:
            meta["name"] = name
        meta.pop("managedFields", None)
        self._as_version(res, body)
        return body

    def _namespace_ok(self, res, ns, name):
        if not res.namespaced:
            return
        nsobj = self.store.get(NS_GR, "", ns)
        if nsobj is None:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
        if nsobj["metadata"].get("deletionTimestamp"):
            raise forbidden(res, name, f"unable to create new content in namespace {ns} because it is being terminated")

    def _validate(self, res, obj, old):
        meta = obj["metadata"]
        name = meta.get("name", "")
        causes = []
        if not name:
            causes.append(("metadata.name", "Required value", "name or generateName is required"))
        elif len(name) > 253 or not NAME_RE.match(name):
            causes.append(("metadata.name", "Invalid value", f'"{name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character'))
        elif res.plural in ("namespaces", "services") and not res.group and (len(name) > 63 or not LABEL_RE.match(name)):
            causes.append(("metadata.name", "Invalid value", f'"{name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\', and must start and end with an alphanumeric character'))
        if old is not None:
            oldm = old["metadata"]
            if oldm.get("deletionTimestamp"):
                added = [f for f in meta.get("finalizers") or [] if f not in (oldm.get("finalizers") or [])]
                if added:
                    causes.append(("metadata.finalizers", "Forbidden", "no new finalizers can be added if the object is being deleted, found new finalizers []string{" + ", ".join(f'"{f}"' for f in added) + "}"))
            gr = res.gr
            if gr == ("apps", "statefulsets"):
                o, n = old.get("spec") or {}, obj.get("spec") or {}
                if {k: v for k, v in o.items() if k not in STS_MUTABLE} != {k: v for k, v in n.items() if k not in STS_MUTABLE}:
                    causes.append(("spec", "Forbidden", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
            if gr == ("batch", "jobs"):
                for f in ("selector", "template", "completionMode"):
                    if (old.get("spec") or {}).get(f) != (obj.get("spec") or {}).get(f):
                        causes.append((f"spec.{f}", "Invalid value", f"{json.dumps((obj.get('spec') or {}).get(f))}: field is immutable"))
            if gr in (("", "configmaps"), ("", "secrets")) and old.get("immutable"):
                for f in ("data", "binaryData", "stringData"):
                    if old.get(f) != obj.get(f):
                        causes.append((f, "Forbidden", "field is immutable when `immutable` is set"))
            if gr == ("", "persistentvolumeclaims"):
                o, n = jcopy(old.get("spec") or {}), jcopy(obj.get("spec") or {})
                o.pop("resources", None), n.pop("resources", None)
                if o != n:
                    causes.append(("spec", "Forbidden", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
        if causes:
            raise invalid(res, name, causes)

    def _defaults(self, res, obj, old):
        gr = res.gr
        if gr == ("", "services"):
            spec = obj.setdefault("spec", {})
            if old and (old.get("spec") or {}).get("clusterIP") and not spec.get("clusterIP"):
                spec["clusterIP"] = old["spec"]["clusterIP"]
                spec["clusterIPs"] = old["spec"].get("clusterIPs", [spec["clusterIP"]])
            if not spec.get("clusterIP") and spec.get("type", "ClusterIP") != "ExternalName":
                self.ip_counter += 1
                spec["clusterIP"] = f"10.96.{self.ip_counter // 250}.{self.ip_counter % 250 + 1}"
                spec["clusterIPs"] = [spec["clusterIP"]]
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
        elif gr == NS_GR:
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
            if old is None:
                obj["spec"] = {"finalizers": ["kubernetes"]}
                obj["status"] = {"phase": "Active"}
        elif gr == CRD_GR:
            spec = obj.get("spec") or {}
            storage = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
            stored = sorted(set(((old or {}).get("status") or {}).get("storedVersions", [])) | set(storage))
            t = now()
            obj["status"] = {"acceptedNames": spec.get("names", {}), "storedVersions": stored, "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": t},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": t}]}
            if old is not None and old.get("status", {}).get("conditions"):
                obj["status"]["conditions"] = old["status"]["conditions"]
        elif gr == ("", "secrets") and "stringData" in obj:
            # As kube-apiserver does: stringData is write-only, folded into data (its keys win).
            data = obj.get("data") or {}
            for k, v in (obj.pop("stringData") or {}).items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data
        elif gr == ("apps", "statefulsets"):
            spec = obj.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
            spec.setdefault("revisionHistoryLimit", 10)

    def _crd_checks(self, obj):
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        causes = []
        want = f"{names.get('plural', '')}.{spec.get('group', '')}"
        if obj["metadata"].get("name") != want:
            causes.append(("metadata.name", "Invalid value", f'"{obj["metadata"].get("name")}": must be spec.names.plural+"."+spec.group'))
        if not names.get("kind"):
            causes.append(("spec.names.kind", "Required value", ""))
        if sum(1 for v in spec.get("versions", []) if v.get("storage")) != 1:
            causes.append(("spec.versions", "Invalid value", "must have exactly one version marked as storage version"))
        return causes

    def _post_commit(self, res, etype, obj):
        if res.gr == CRD_GR:
            if etype == "DELETED":
                self.registry.unregister_crd(obj["metadata"]["name"])
            else:
                self.registry.register_crd(obj)

    def _commit(self, res, etype, obj, old, table=None):
        with self.store.lock:
            out = self.store.commit(res.gr, etype, obj, old)
            if table is not None and etype != "DELETED":
                self.store.managed[out["metadata"]["uid"]] = table
        self._post_commit(res, etype, out)
        return self._as_version(res, out)

    # --- reads ---------------------------------------------------------------------

    def get(self, res, ns, name):
        obj = self.store.get(res.gr, ns if res.namespaced else "", name)
        if obj is None:
            raise not_found(res, name)
        return self._as_version(res, obj)

    def list(self, res, ns, query):
        lsel = parse_labels(query.get("labelSelector", ""))
        fsel = parse_fields(query.get("fieldSelector", ""))
        items, rv = self.store.list(res.gr, ns if res.namespaced else None)
        start = None
        if query.get("continue"):
            try:
                tok = json.loads(base64.b64decode(query["continue"]))
                crv, start = int(tok["rv"]), tuple(tok["start"])
            except (ValueError, KeyError, TypeError):
                raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
            if self.store.too_old(crv):
                raise gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the response.")
            rv = crv
        elif query.get("resourceVersionMatch") == "Exact" and query.get("resourceVersion"):
            want = int(query["resourceVersion"])
            if self.store.too_old(want):
                raise gone(f"too old resource version: {want} ({self.store.compacted_rv})")
        items = [o for o in items if match_reqs(lsel, o["metadata"].get("labels")) and match_fields(fsel, o)]
        if start is not None:
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start]
        meta = {"resourceVersion": str(rv)}
        limit = int(query.get("limit") or 0)
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            meta["continue"] = base64.b64encode(json.dumps({"rv": rv, "start": [last.get("namespace", ""), last["name"]]}).encode()).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {"kind": res.kind + "List", "apiVersion": res.gv, "metadata": meta,
                "items": [self._as_version(res, o) for o in items]}

    def scale_of(self, obj):
        meta, spec = obj["metadata"], obj.get("spec") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
                "spec": {"replicas": spec.get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": ",".join(f"{k}={v}" for k, v in sorted(sel.items()))}}

    # --- create --------------------------------------------------------------------

    def create(self, res, ns, body, user, dry_run=False, manager="", warnings=None, table=None, options=None):
        warnings = [] if warnings is None else warnings
        body = self._check_body(res, jcopy(body), ns)
        meta = body["metadata"]
        if meta.get("resourceVersion"):
            raise internal("resourceVersion should not be set on objects to be created")
        self._namespace_ok(res, ns, meta.get("name") or meta.get("generateName", ""))
        a = Attributes("CREATE", res, ns, meta.get("name", ""), user, dry_run=dry_run, options=options or {
            "kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": manager})
        obj = self.admission.mutate(a, body, None, warnings)
        obj = self._check_body(res, obj, ns)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"):
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if res.crd is not None or res.gr in GENERATION:
            meta["generation"] = 1
        if res.status:
            obj.pop("status", None)
        self._defaults(res, obj, None)
        self._validate(res, obj, None)
        if res.gr == CRD_GR:
            causes = self._crd_checks(obj)
            if causes:
                raise invalid(res, meta["name"], causes)
            meta.setdefault("finalizers", [])
            if "customresourcecleanup.apiextensions.k8s.io" not in meta["finalizers"]:
                meta["finalizers"].append("customresourcecleanup.apiextensions.k8s.io")
        a.name = meta["name"]
        if self.store.get(res.gr, ns if res.namespaced else "", meta["name"]) is not None:
            raise already_exists(res, meta["name"])
        self.admission.validate(a, obj, None, warnings)
        if dry_run:
            return self._as_version(res, obj)
        if table is None:
            table = ssa.record_update({}, manager or "unknown", res.gv, None, obj, "", res.status)
        with self.store.lock:
            if self.store.get(res.gr, ns if res.namespaced else "", meta["name"]) is not None:
                raise already_exists(res, meta["name"])
            return self._commit(res, "ADDED", obj, None, table)

    # --- update --------------------------------------------------------------------

    def _update(self, res, old, new, a, warnings, expected_rv=None, table_fn=None, manager=""):
        """Admission, prepare, validate and commit new over old. Raises Retry when old is stale."""
        new = self.admission.mutate(a, new, old, warnings)
        ns = old["metadata"].get("namespace", "")
        new = self._check_body(res, new, ns, old["metadata"]["name"])
        meta, oldm = new["metadata"], old["metadata"]
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "generateName"):
            if k in oldm:
                meta[k] = oldm[k]
            else:
                meta.pop(k, None)
        meta["resourceVersion"] = oldm["resourceVersion"]
        if a.sub == "status":
            full = jcopy(old)
            if "status" in new:
                full["status"] = new["status"]
            else:
                full.pop("status", None)
            new = full
        elif res.status:
            if "status" in old:
                new["status"] = jcopy(old["status"])
            else:
                new.pop("status", None)
        if res.gr == NS_GR:
            new["spec"] = jcopy(old.get("spec", {})) if a.sub != "finalize" else new.get("spec", {})
        if "generation" in oldm and _outside(new, res.status) != _outside(old, res.status):
            meta["generation"] = oldm["generation"] + 1
        self._defaults(res, new, old)
        self._validate(res, new, old)
        if res.gr == CRD_GR:
            causes = self._crd_checks(new)
            if causes:
                raise invalid(res, meta["name"], causes)
        self.admission.validate(a, new, old, warnings)
        if _strip(new) == _strip(old):
            return self._as_version(res, old)
        if a.dry_run:
            return self._as_version(res, new)
        with self.store.lock:
            cur = self.store.get(res.gr, ns, oldm["name"])
            if cur is None:
                raise not_found(res, oldm["name"])
            if cur["metadata"]["resourceVersion"] != oldm["resourceVersion"]:
                if expected_rv:
                    raise conflict(res, oldm["name"])
                raise Retry()
            table = self.store.managed.get(oldm["uid"], {})
            table = table_fn(table, old, new) if table_fn else ssa.record_update(table, manager or "unknown", res.gv, old, new, a.sub, res.status)
            if finalized(res, new):
                return self._commit(res, "DELETED", new, old)
            return self._commit(res, "MODIFIED", new, old, table)

    def update(self, res, ns, name, body, user, dry_run=False, manager="", warnings=None, sub=""):
        warnings = [] if warnings is None else warnings
        body = self._check_body(res, jcopy(body), ns if res.namespaced else "", name)
        rv = body["metadata"].get("resourceVersion")
        old = self.store.get(res.gr, ns if res.namespaced else "", name)
        if old is None:
            raise not_found(res, name)
        if not rv and res.crd is not None:
            raise invalid(res, name, [("metadata.resourceVersion", "Invalid value", "0x0: must be specified for an update")])
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(res, name)
        a = Attributes("UPDATE", res, ns, name, user, sub, dry_run, {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": manager})
        for _ in range(5):
            try:
                return self._update(res, old, body, a, warnings, expected_rv=rv or None, manager=manager)
            except Retry:
                old = self.store.get(res.gr, ns if res.namespaced else "", name)
                if old is None:
                    raise not_found(res, name)
        raise conflict(res, name)

    def patch(self, res, ns, name, ctype, body, user, dry_run=False, manager="", warnings=None, sub="", force=False):
        warnings = [] if warnings is None else warnings
        ns = ns if res.namespaced else ""
        if ctype == "application/apply-patch+yaml":
            return self.apply(res, ns, name, body, user, dry_run, manager, warnings, sub, force)
        for _ in range(5):
            old = self.store.get(res.gr, ns, name)
            if old is None:
                raise not_found(res, name)
            self._as_version(res, old)
            new = patchlib.apply_patch(ctype, old, body)
            if not isinstance(new, dict):
                raise bad_request("the patch did not produce an object")
            rv = (new.get("metadata") or {}).get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(res, name)
            a = Attributes("UPDATE", res, ns, name, user, sub, dry_run, {"kind": "PatchOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": manager})
            try:
                return self._update(res, old, new, a, warnings, expected_rv=rv if rv else None, manager=manager)
            except Retry:
                continue
        raise conflict(res, name)

    def apply(self, res, ns, name, body, user, dry_run, manager, warnings, sub="", force=False):
        if not manager:
            raise bad_request("PATCH /apply requires fieldManager parameter")
        if not isinstance(body, dict) or not body.get("apiVersion") or not body.get("kind"):
            raise bad_request("invalid object type: apply requires apiVersion and kind")
        av = body["apiVersion"]
        body = self._check_body(res, jcopy(body), ns, name)
        options = {"kind": "PatchOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": manager, "force": force}
        for _ in range(5):
            old = self.store.get(res.gr, ns, name)
            if old is None:
                if sub:
                    raise not_found(res, name)
                _, table = ssa.plan_apply({}, manager, av, {}, body, "", res.status, force, res, name)
                return self.create(res, ns, body, user, dry_run, manager, warnings, table, options)
            self._as_version(res, old)
            table = self.store.managed.get(old["metadata"]["uid"], {})
            new, table2 = ssa.plan_apply(table, manager, av, old, body, sub, res.status, force, res, name)
            a = Attributes("UPDATE", res, ns, name, user, sub, dry_run, options)
            try:
                return self._update(res, old, new, a, warnings, table_fn=lambda t, o, n: table2, manager=manager)
            except Retry:
                continue
        raise conflict(res, name)

    # --- delete --------------------------------------------------------------------

    def delete(self, res, ns, name, opts, user, dry_run=False, warnings=None):
        warnings = [] if warnings is None else warnings
        ns = ns if res.namespaced else ""
        opts = opts or {}
        old = self.store.get(res.gr, ns, name)
        if old is None:
            raise not_found(res, name)
        self._as_version(res, old)
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
            raise conflict(res, name, f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {old['metadata']['uid']}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(res, name, f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in object meta: {old['metadata']['resourceVersion']}")
        if res.gr == NS_GR and name in ("default", "kube-system", "kube-public"):
            raise forbidden(res, name, "this namespace may not be deleted")
        a = Attributes("DELETE", res, ns, name, user, dry_run=dry_run, options={"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", **{k: v for k, v in opts.items() if k in ("propagationPolicy", "gracePeriodSeconds")}})
        self.admission.mutate(a, None, old, warnings)
        self.admission.validate(a, None, old, warnings)
        policy = opts.get("propagationPolicy") or ("Orphan" if opts.get("orphanDependents") else "Background")
        new = jcopy(old)
        meta = new["metadata"]
        fins = list(meta.get("finalizers") or [])
        if policy == "Orphan" and "orphan" not in fins:
            fins.append("orphan")
        if policy == "Foreground" and "foregroundDeletion" not in fins:
            fins.append("foregroundDeletion")
        pending = fins or (res.gr == NS_GR and (new.get("spec") or {}).get("finalizers"))
        if pending:
            if fins:
                meta["finalizers"] = fins
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now()
                meta["deletionGracePeriodSeconds"] = 0
                if "generation" in meta:
                    meta["generation"] += 1
                if res.gr == NS_GR:
                    new["status"] = {"phase": "Terminating"}
            if dry_run or _strip(new) == _strip(old):
                return self._as_version(res, new)
            with self.store.lock:
                cur = self.store.get(res.gr, ns, name)
                if cur is None or cur["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"]:
                    raise conflict(res, name)
                return self._commit(res, "MODIFIED", new, old)
        if dry_run:
            return old
        with self.store.lock:
            cur = self.store.get(res.gr, ns, name)
            if cur is None:
                raise not_found(res, name)
            return self._commit(res, "DELETED", cur, cur)

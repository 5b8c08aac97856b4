"""The resource registry and the discovery documents real kubectl reads.

Built-in kinds are a fixed table; CustomResourceDefinitions add and remove
entries at run time. kubectl 1.32 first asks /api and /apis for aggregated
discovery (apidiscovery.k8s.io/v2); we answer with the legacy documents and
`Content-Type: application/json`, and client-go then falls back to walking
/api/v1 and /apis/<group>/<version>, exactly as it does against old servers.
"""
import re
import threading

VERBS_ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
VERBS_SUB = ["get", "patch", "update"]


class Resource:
    """One served group/version/resource."""

    def __init__(self, group, version, kind, plural, singular=None, namespaced=True, short_names=(),
                 categories=(), status=False, crd=None, columns=None, storage_version=None):
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.singular = singular or kind.lower()
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.status = status  # has the status subresource
        self.crd = crd  # name of the defining CRD, None for built-ins
        self.columns = columns  # CRD additionalPrinterColumns for this version
        self.storage_version = storage_version or version

    @property
    def gv(self):
        return self.version if not self.group else f"{self.group}/{self.version}"

    @property
    def gr(self):
        """Storage key: one bucket per group/resource, whatever version is asked for."""
        return (self.group, self.plural)

    def api_resource(self):
        d = {"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
             "kind": self.kind, "verbs": VERBS_ALL}
        if self.short_names:
            d["shortNames"] = self.short_names
        if self.categories:
            d["categories"] = self.categories
        return d


# (group, version, kind, plural, namespaced, shortNames, categories, status subresource)
BUILTINS = [
    ("", "v1", "Namespace", "namespaces", False, ["ns"], [], True),
    ("", "v1", "Pod", "pods", True, ["po"], ["all"], True),
    ("", "v1", "Service", "services", True, ["svc"], ["all"], True),
    ("", "v1", "Endpoints", "endpoints", True, ["ep"], [], False),
    ("", "v1", "ConfigMap", "configmaps", True, ["cm"], [], False),
    ("", "v1", "Secret", "secrets", True, [], [], False),
    ("", "v1", "ServiceAccount", "serviceaccounts", True, ["sa"], [], False),
    ("", "v1", "Event", "events", True, ["ev"], [], False),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ["pvc"], [], True),
    ("apps", "v1", "StatefulSet", "statefulsets", True, ["sts"], ["all"], True),
    ("batch", "v1", "Job", "jobs", True, [], ["all"], True),
    ("batch", "v1", "CronJob", "cronjobs", True, ["cj"], ["all"], True),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ["pdb"], [], True),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", True, [], [], False),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, [], [], False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, [], [], False),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, [], [], False),
    ("coordination.k8s.io", "v1", "Lease", "leases", True, [], [], False),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
     "mutatingwebhookconfigurations", False, [], ["api-extensions"], False),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
     "validatingwebhookconfigurations", False, [], ["api-extensions"], False),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
     ["crd", "crds"], ["api-extensions"], True),
    ("events.k8s.io", "v1", "Event", "events", True, ["ev"], [], False),
]

CRD_GR = ("apiextensions.k8s.io", "customresourcedefinitions")


def version_priority(v):
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0, v)
    rank = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (rank, -int(m.group(1)), -int(m.group(3) or 0), v)


class Registry:
    def __init__(self):
        self.lock = threading.RLock()
        self.by_gvr = {}  # (group, version, plural) -> Resource
        for g, v, k, p, ns, short, cats, st in BUILTINS:
            self.add(Resource(g, v, k, p, namespaced=ns, short_names=short, categories=cats, status=st))

    def add(self, res):
        with self.lock:
            self.by_gvr[(res.group, res.version, res.plural)] = res

    def get(self, group, version, plural):
        with self.lock:
            return self.by_gvr.get((group, version, plural))

    def by_gr(self, group, plural):
        """The storage-version Resource of a group/resource."""
        with self.lock:
            for (g, _, p), r in self.by_gvr.items():
                if g == group and p == plural and r.version == r.storage_version:
                    return r
        return None

    def by_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        with self.lock:
            for (g, v, _), r in self.by_gvr.items():
                if g == group and v == version and r.kind == kind:
                    return r
        return None

    def all(self):
        with self.lock:
            return list(self.by_gvr.values())

    # --- CRDs ---------------------------------------------------------------

    def register_crd(self, crd):
        """(Re)register every served version of a CRD object."""
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        group = spec.get("group", "")
        self.unregister_crd(crd["metadata"]["name"])
        storage = next((v["name"] for v in spec.get("versions", []) if v.get("storage")), None)
        for v in spec.get("versions", []):
            if not v.get("served", True):
                continue
            self.add(Resource(group, v["name"], names.get("kind", ""), names.get("plural", ""),
                              singular=names.get("singular") or names.get("kind", "").lower(),
                              namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                              short_names=names.get("shortNames", []), categories=names.get("categories", []),
                              status="status" in (v.get("subresources") or {}), crd=crd["metadata"]["name"],
                              columns=v.get("additionalPrinterColumns") or [],
                              storage_version=storage or v["name"]))

    def unregister_crd(self, name):
        with self.lock:
            for key in [k for k, r in self.by_gvr.items() if r.crd == name]:
                del self.by_gvr[key]

    # --- documents ------------------------------------------------------------

    def groups(self):
        """group -> sorted served versions."""
        out = {}
        for r in self.all():
            if r.group:
                out.setdefault(r.group, set()).add(r.version)
        return {g: sorted(vs, key=version_priority) for g, vs in out.items()}

    def api_group(self, group, versions):
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def api_group_list(self):
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [self.api_group(g, vs) for g, vs in sorted(self.groups().items())]}

    def resource_list(self, group, version):
        res = sorted((r for r in self.all() if r.group == group and r.version == version), key=lambda r: r.plural)
        if not res:
            return None
        items = []
        for r in res:
            items.append(r.api_resource())
            if r.status:
                items.append({"name": f"{r.plural}/status", "singularName": "", "namespaced": r.namespaced,
                              "kind": r.kind, "verbs": VERBS_SUB})
            if r.gr == ("apps", "statefulsets"):
                items.append({"name": f"{r.plural}/scale", "singularName": "", "namespaced": True, "group": "autoscaling",
                              "version": "v1", "kind": "Scale", "verbs": VERBS_SUB})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": r.gv, "resources": items}


# --- OpenAPI v3 (only what kubectl needs) ------------------------------------------
#
# kubectl apply/create with --validate=strict (the default) asks /openapi/v3
# whether the server supports the fieldValidation query parameter for the
# kind: it looks for a PATCH operation tagged with the kind's
# x-kubernetes-group-version-kind that lists a `fieldValidation` parameter.
# We publish exactly that for every served resource, with no schemas, so
# validation is left to the server (which, here, does no schema validation).

def _gv_path(group, version):
    return "api/v1" if not group else f"apis/{group}/{version}"


def openapi_v3_gv(registry, group, version):
    paths = {}
    params = [{"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
              for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
    for r in registry.all():
        if r.group != group or r.version != version:
            continue
        base = "/" + _gv_path(group, version) + ("/namespaces/{namespace}" if r.namespaced else "") + f"/{r.plural}"
        gvk = {"group": group, "version": version, "kind": r.kind}
        op = {"operationId": f"patch{r.kind}", "x-kubernetes-action": "patch",
              "x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {"200": {"description": "OK"}}}
        paths[base + "/{name}"] = {"patch": op, "parameters": [{"name": "name", "in": "path", "required": True,
                                                               "schema": {"type": "string"}}]}
        if r.status:
            paths[base + "/{name}/status"] = {"patch": dict(op, operationId=f"patch{r.kind}Status")}
    if not paths:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
            "components": {"schemas": {}}}


def openapi_v3_root(registry):
    import hashlib
    import json
    out = {}
    gvs = {(r.group, r.version) for r in registry.all()}
    for g, v in sorted(gvs):
        doc = openapi_v3_gv(registry, g, v)
        h = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
        out[_gv_path(g, v)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash={h}"}
    return {"paths": out}

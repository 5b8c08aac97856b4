"""Garbage collection and finalization, as kube-controller-manager does it.

One pass (run by the controller loop every tick):
  - a dependent whose ownerReferences all point to uids that no longer exist is
    deleted in the background; dangling references next to live owners are
    removed;
  - `orphan` finalizer: the owner's references are removed from its dependents,
    then the finalizer is dropped;
  - `foregroundDeletion` finalizer: dependents are deleted first, the finalizer
    is dropped when none is left;
  - a terminating Namespace has its contents deleted, then spec.finalizers
    emptied (the namespace then disappears);
  - a terminating CRD has its custom objects deleted, then its
    `customresourcecleanup.apiextensions.k8s.io` finalizer dropped.
All writes go through the same API operations as clients' writes.
"""
from .discovery import CRD_GR
from .errors import ApiError

USER = {"username": "system:serviceaccount:kube-system:generic-garbage-collector",
        "groups": ["system:serviceaccounts", "system:authenticated"]}
NS_USER = {"username": "system:serviceaccount:kube-system:namespace-controller",
           "groups": ["system:serviceaccounts", "system:authenticated"]}
CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"


def _snapshot(store):
    with store.lock:
        return [(gr, obj) for gr, bucket in store.objects.items() for obj in list(bucket.values())]


def _res(api, gr):
    return api.registry.by_gr(gr[0], gr[1])


def _drop_finalizer(api, res, obj, fin, user):
    meta = obj["metadata"]
    fins = [f for f in meta.get("finalizers") or [] if f != fin]
    body = {"metadata": {"finalizers": fins or None, "resourceVersion": meta["resourceVersion"]}}
    api.patch(res, meta.get("namespace", ""), meta["name"], "application/merge-patch+json", body, user, manager="stand-in-gc")


def _delete(api, res, obj, user):
    meta = obj["metadata"]
    if meta.get("deletionTimestamp"):
        return
    api.delete(res, meta.get("namespace", ""), meta["name"], {"propagationPolicy": "Background",
               "preconditions": {"uid": meta["uid"]}}, user)


def run_once(api, log):
    objs = _snapshot(api.store)
    uids = {o["metadata"]["uid"] for _, o in objs}
    dependents = {}
    for gr, o in objs:
        for ref in o["metadata"].get("ownerReferences") or []:
            dependents.setdefault(ref.get("uid"), []).append((gr, o))
    for gr, o in objs:
        res = _res(api, gr)
        if res is None:
            continue
        meta = o["metadata"]
        try:
            refs = meta.get("ownerReferences") or []
            if refs:
                alive = [r for r in refs if r.get("uid") in uids]
                if not alive:
                    _delete(api, res, o, USER)
                    continue
                if len(alive) != len(refs):
                    api.patch(res, meta.get("namespace", ""), meta["name"], "application/merge-patch+json",
                              {"metadata": {"ownerReferences": alive, "resourceVersion": meta["resourceVersion"]}},
                              USER, manager="stand-in-gc")
                    continue
            if not meta.get("deletionTimestamp"):
                continue
            fins = meta.get("finalizers") or []
            mine = dependents.get(meta["uid"], [])
            if "orphan" in fins:
                for dgr, d in mine:
                    dres = _res(api, dgr)
                    keep = [r for r in d["metadata"]["ownerReferences"] if r.get("uid") != meta["uid"]]
                    api.patch(dres, d["metadata"].get("namespace", ""), d["metadata"]["name"],
                              "application/merge-patch+json", {"metadata": {"ownerReferences": keep or None}},
                              USER, manager="stand-in-gc")
                _drop_finalizer(api, res, o, "orphan", USER)
            elif "foregroundDeletion" in fins:
                if mine:
                    for dgr, d in mine:
                        _delete(api, _res(api, dgr), d, USER)
                else:
                    _drop_finalizer(api, res, o, "foregroundDeletion", USER)
            elif gr == ("", "namespaces") and (o.get("spec") or {}).get("finalizers"):
                content = [(cgr, c) for cgr, c in objs if c["metadata"].get("namespace") == meta["name"]]
                for cgr, c in content:
                    _delete(api, _res(api, cgr), c, NS_USER)
                if not content:
                    body = dict(o, spec={"finalizers": []})
                    api.update(res, "", meta["name"], body, NS_USER, manager="stand-in-namespace-controller", sub="finalize")
            elif gr == CRD_GR and CRD_CLEANUP in fins:
                spec = o.get("spec") or {}
                cgr = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
                content = [c for g, c in objs if g == cgr]
                cres = _res(api, cgr)
                for c in content:
                    _delete(api, cres, c, USER)
                if not content:
                    _drop_finalizer(api, res, o, CRD_CLEANUP, USER)
        except ApiError as e:
            if e.code not in (404, 409):
                log(f"gc: {res.plural}/{meta['name']}: {e.message}")

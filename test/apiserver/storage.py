"""Object storage: one global resourceVersion counter, an event log, persistence.

Objects live in memory keyed by (group, resource) then (namespace, name), like
etcd keys. Every committed write takes the next global resourceVersion and
appends an event to a bounded log; watches replay that log. Events older than
the retained window are "compacted": a watch or continue token from before
that point gets 410 Expired, as with etcd compaction. The store is saved to a
JSON file on shutdown and periodically, and reloaded at start; a restart
therefore keeps objects and resourceVersions but starts with an empty event
log, just as kube-apiserver's watch cache does.

Locking: `lock` guards everything; `cond` is notified on every commit.
Callers never keep references to stored dicts: reads return deep copies.
"""
import bisect
import copy
import json
import os
import threading
from .jcopy import jcopy


class Store:
    def __init__(self, window=1000):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)  # every commit (and dropped watches)
        self.conds = {}  # (group, plural) -> Condition: commits of that resource only, so watches wake for their own
        self.rv = 0
        self.objects = {}  # (group, plural) -> {(ns, name): obj}
        self.events = []  # (rv, gr, type, obj, old)
        self.event_rvs = []
        self.window = window
        self.compacted_rv = 0  # watches must start at or after this RV
        self.managed = {}  # uid -> {manager: {"operation", "apiVersion", "fields": [paths]}}
        self.by_uid = {}  # uid -> (gr, ns, name)
        self.listeners = []  # callables(event tuple), called under the lock

    # --- reads ----------------------------------------------------------------

    def get(self, gr, ns, name):
        with self.lock:
            obj = self.objects.get(gr, {}).get((ns or "", name))
            return jcopy(obj) if obj is not None else None

    def list(self, gr, ns=None):
        """(items sorted by namespace/name, current RV)."""
        with self.lock:
            bucket = self.objects.get(gr, {})
            keys = sorted(k for k in bucket if ns is None or k[0] == ns)
            return [jcopy(bucket[k]) for k in keys], self.rv

    def peek(self, gr, ns=None):
        """References to the stored objects of gr (optionally one namespace), in no order.
        Read-only: for the stand-in's own controllers, which never mutate what they read."""
        with self.lock:
            bucket = self.objects.get(gr, {})
            return [o for k, o in bucket.items() if ns is None or k[0] == ns]

    def peek_one(self, gr, ns, name):
        """The stored object itself, or None. Read-only, like peek()."""
        with self.lock:
            return self.objects.get(gr, {}).get((ns or "", name))

    def locate_uid(self, uid):
        with self.lock:
            return self.by_uid.get(uid)

    def namespaces_in_use(self, ns):
        with self.lock:
            return sum(1 for bucket in self.objects.values() for k in bucket if k[0] == ns)

    # --- writes (caller holds no references afterwards) -----------------------

    def next_rv(self):
        self.rv += 1
        return self.rv

    def commit(self, gr, etype, obj, old=None):
        """Store (ADDED/MODIFIED) or remove (DELETED) obj; stamps a fresh RV. Returns a copy."""
        with self.lock:
            obj = jcopy(obj)
            meta = obj["metadata"]
            rv = self.next_rv()
            meta["resourceVersion"] = str(rv)
            key = (meta.get("namespace", ""), meta["name"])
            bucket = self.objects.setdefault(gr, {})
            if etype == "DELETED":
                bucket.pop(key, None)
                self.by_uid.pop(meta.get("uid"), None)
                self.managed.pop(meta.get("uid"), None)
            else:
                bucket[key] = obj
                self.by_uid[meta["uid"]] = (gr, key[0], key[1])
            ev = (rv, gr, etype, obj, old)  # stored objects are never mutated: no copy needed
            self.events.append(ev)
            self.event_rvs.append(rv)
            if len(self.events) > self.window:
                drop = len(self.events) - self.window
                self.compacted_rv = self.event_rvs[drop - 1]
                del self.events[:drop]
                del self.event_rvs[:drop]
            for fn in self.listeners:
                fn(ev)
            self.cond.notify_all()
            per_gr = self.conds.get(gr)
            if per_gr is not None:
                per_gr.notify_all()
            return jcopy(obj)

    def cond_for(self, gr):
        """The Condition (on the store lock) notified when an object of gr is committed."""
        with self.lock:
            return self.conds.setdefault(gr, threading.Condition(self.lock))

    def notify_all_watchers(self):
        with self.lock:
            self.cond.notify_all()
            for c in self.conds.values():
                c.notify_all()

    def events_after(self, rv):
        """Events with resourceVersion > rv (caller holds the lock)."""
        i = bisect.bisect_right(self.event_rvs, rv)
        return self.events[i:]

    def too_old(self, rv):
        return rv < self.compacted_rv

    def compact_now(self):
        """Drop the whole event log (fault injection and tests)."""
        with self.lock:
            if self.events:
                self.compacted_rv = self.rv
                self.events.clear()
                self.event_rvs.clear()

    # --- persistence ----------------------------------------------------------

    def save(self, path):
        # Stored objects are replaced, never mutated, so they can be serialised outside the lock;
        # managed fields are edited in place and are copied under it.
        with self.lock:
            rv, managed = self.rv, json.dumps(self.managed)
            objects = [[list(gr), obj] for gr, bucket in self.objects.items() for obj in bucket.values()]
        text = '{"rv": %d, "managed": %s, "objects": %s}' % (rv, managed, json.dumps(objects))
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    def load(self, path):
        with open(path) as f:
            data = json.load(f)
        with self.lock:
            self.rv = data["rv"]
            self.compacted_rv = self.rv
            self.managed = data.get("managed", {})
            for gr, obj in data["objects"]:
                gr = tuple(gr)
                meta = obj["metadata"]
                self.objects.setdefault(gr, {})[(meta.get("namespace", ""), meta["name"])] = obj
                self.by_uid[meta["uid"]] = (gr, meta.get("namespace", ""), meta["name"])

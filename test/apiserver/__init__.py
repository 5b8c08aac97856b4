"""A kube-apiserver stand-in for pgwarden's tests (standard library only).

kube-apiserver cannot be installed on the test machines, so this package plays
its part: discovery for real kubectl, CRUD with resourceVersion/409/410, watch
with bookmarks, merge/JSON/strategic patches, server-side apply, the status
subresource, admission webhooks called as configured, owner garbage collection,
a minimal StatefulSet→Pod step and fault injection. README.md lists what is
faithful and what is simplified. Run it with `python3 -m apiserver` from test/.
"""

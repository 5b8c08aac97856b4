"""metav1.Status errors, worded as kube-apiserver words them.

Every failure the stand-in reports to a client is an ApiError carrying the
Status body; kubectl and client libraries branch on `reason` and `code`, and
users read `message`, so these strings follow the upstream formats.
"""


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or []

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            st["details"] = self.details
        return st


def qualified(res):
    """`pods` for core, `postgresclusters.pgwarden.io` otherwise."""
    return res.plural if not res.group else f"{res.plural}.{res.group}"


def _details(res, name):
    d = {"kind": res.plural}
    if name:
        d["name"] = name
    if res.group:
        d["group"] = res.group
    return d


def not_found(res, name):
    return ApiError(404, "NotFound", f'{qualified(res)} "{name}" not found', _details(res, name))


def already_exists(res, name):
    return ApiError(409, "AlreadyExists", f'{qualified(res)} "{name}" already exists', _details(res, name))


def conflict(res, name, why="the object has been modified; please apply your changes to the latest version and try again"):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(res)} "{name}": {why}',
                    _details(res, name))


def invalid(res, name, causes):
    """causes: list of (field, type, detail) -> 422 Invalid with details.causes."""
    kind_group = res.kind if not res.group else f"{res.kind}.{res.group}"
    parts = [f"{f}: {t}: {d}" if f else f"{t}: {d}" for f, t, d in causes]
    msg = f'{kind_group} "{name}" is invalid: '
    msg += parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    det = {"name": name, "kind": res.kind, "causes": [
        {"reason": "Field" + t.replace(" ", ""), "message": f"{t}: {d}", "field": f} for f, t, d in causes]}
    if res.group:
        det["group"] = res.group
    return ApiError(422, "Invalid", msg, det)


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def forbidden(res, name, why):
    return ApiError(403, "Forbidden", f'{qualified(res)} "{name}" is forbidden: {why}', _details(res, name))


def gone(msg):
    return ApiError(410, "Expired", msg)


def internal(msg):
    return ApiError(500, "InternalError", f"Internal error occurred: {msg}",
                    {"causes": [{"message": msg}]})


def method_not_allowed(msg="the server does not allow this method on the requested resource"):
    return ApiError(405, "MethodNotAllowed", msg)


def unsupported_media(ctype):
    return ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got "{ctype}")')

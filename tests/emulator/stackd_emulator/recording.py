"""WSGI middleware that logs every signed AWS request and serves the call log.

Tests read the log to check which AWS operations stackd sent, for example
that a second reconcile of an unchanged stack sends no mutating call. The
control endpoints under ``/_stackd/`` never reach moto:

- ``GET /_stackd/calls`` returns the log as a JSON list, oldest first.
- ``POST /_stackd/calls/reset`` empties it.
- ``GET /_stackd/health`` returns ``{"status": "ok"}``.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from .operations import credential_scope_service, name_operation

CONTROL_PREFIX = "/_stackd/"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RecordingMiddleware:
    """Wraps a WSGI app, appending one record per signed AWS request.

    Each record is a dict with ``service`` (the SigV4 signing name, such as
    ``ec2``), ``operation``, ``method``, ``path``, ``mutating`` and
    ``status`` (the HTTP status, None until the response starts, and 500
    when moto raised an exception).
    Requests without a SigV4 signature are passed on unrecorded.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._serve_control(environ, path, start_response)

        record = self._describe(environ)
        if record is None:
            return self.app(environ, start_response)
        with self._lock:
            self._calls.append(record)

        def start_and_record_status(status: str, headers: Any, exc_info: Any = None) -> Any:
            record["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start_and_record_status)
        except Exception:
            # Werkzeug turns the exception into a 500 response after this,
            # for example when moto lacks the operation (NotImplementedError).
            record["status"] = 500
            raise

    def calls(self) -> list[dict[str, Any]]:
        """Return a copy of the log, oldest call first."""
        with self._lock:
            return [dict(call) for call in self._calls]

    def reset(self) -> int:
        """Empty the log and return how many records it contained."""
        with self._lock:
            count = len(self._calls)
            self._calls.clear()
            return count

    def _describe(self, environ: dict[str, Any]) -> dict[str, Any] | None:
        query = environ.get("QUERY_STRING", "")
        service = credential_scope_service(environ.get("HTTP_AUTHORIZATION"), query)
        if service is None:
            return None

        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        operation = name_operation(
            service=service,
            method=method,
            path=path,
            query=query,
            target=environ.get("HTTP_X_AMZ_TARGET"),
            form_action=_form_action(environ),
            copy_source=environ.get("HTTP_X_AMZ_COPY_SOURCE"),
        )
        return {
            "service": service,
            "operation": operation.name,
            "method": method,
            "path": path,
            "mutating": operation.mutating,
            "status": None,
        }

    def _serve_control(
        self, environ: dict[str, Any], path: str, start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        routes: dict[str, tuple[str, Callable[[], Any]]] = {
            "/_stackd/calls": ("GET", self.calls),
            "/_stackd/calls/reset": ("POST", lambda: {"cleared": self.reset()}),
            "/_stackd/health": ("GET", lambda: {"status": "ok"}),
        }
        route = routes.get(path.rstrip("/"))
        if route is None:
            return _json_response(
                start_response, "404 Not Found", {"error": f"no control endpoint {path}"}
            )
        allowed, handler = route
        if method != allowed:
            return _json_response(
                start_response,
                "405 Method Not Allowed",
                {"error": f"{path} accepts {allowed}, not {method}"},
                [("Allow", allowed)],
            )
        return _json_response(start_response, "200 OK", handler())


def _form_action(environ: dict[str, Any]) -> str | None:
    """Return the ``Action`` field of a form-encoded body, leaving the body readable.

    The body is read into memory and ``wsgi.input`` replaced by a copy, so
    moto still finds the whole body after this.
    """
    content_type = environ.get("CONTENT_TYPE", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None

    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        # Werkzeug marks a chunked body this way, and it can be read to its end.
        body = stream.read()
    else:
        return None
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))

    fields = dict(parse_qsl(body.decode("utf-8", errors="replace")))
    return fields.get("Action")


def _json_response(
    start_response: Callable[..., Any],
    status: str,
    payload: Any,
    extra_headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(status, headers + (extra_headers or []))
    return [body]

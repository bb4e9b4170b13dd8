"""Where an assign's time goes, measured inside the server: for bench/push_latency.py only.

Off unless BENCH_SPANS names a file (the benchmark sets it for the Daphne processes it starts;
nothing else does). Then, for each `POST /api/v1/incidents/{id}/assign`, one JSON line records
when each stage of the request began and ended (time.perf_counter, which on Linux is the
machine's monotonic clock, so the benchmark can set them beside its own times), and for each
`assignment.created` a socket of this process sends, one line says when the channel layer
handed it to the socket and when the socket had sent it; and one line for each full pass of
the garbage collector, which stops every socket of the process while it runs. The stages are
taken by wrapping the functions that do them, so the code that runs is the code a program runs.
"""

import contextvars
import functools
import gc
import json
import os
import threading
import time

clock = time.perf_counter
_current: contextvars.ContextVar[dict | None] = contextvars.ContextVar("bench_span", default=None)
_write_lock = threading.Lock()
_out = None


def _write(record: dict) -> None:
    with _write_lock:
        while _passes:  # the collector's passes noted since the last line (_full_passes)
            _out.write(json.dumps(_passes.pop(0)) + "\n")
        _out.write(json.dumps(record) + "\n")
        _out.flush()


def _mark(name: str) -> None:
    record = _current.get()
    if record is not None:
        record.setdefault(name, clock())


def _timed(name: str, func):
    """Wrap `func` so the current request records `<name>` (start) and `<name>_end`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        record = _current.get()
        if record is None:
            return func(*args, **kwargs)
        record.setdefault(name, clock())
        try:
            return func(*args, **kwargs)
        finally:
            record[f"{name}_end"] = clock()

    return wrapper


def _http(app):
    async def spanned(scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/assign"):
            return await app(scope, receive, send)
        record = {"kind": "assign", "app": clock(), "queries": 0, "query_s": 0.0}
        token = _current.set(record)

        async def spanned_send(message):
            if message["type"] == "http.response.start":
                record.setdefault("answer", clock())
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                record["answer_end"] = clock()

        try:
            return await app(scope, receive, spanned_send)
        finally:
            _current.reset(token)
            record["app_end"] = clock()
            _write(record)

    return spanned


def _patch() -> None:
    from django.db.backends import utils
    from rest_framework.views import APIView

    from dispatch import events, services
    from dispatch.consumers import EventStreamConsumer

    APIView.initial = _timed("view", APIView.initial)
    APIView.perform_authentication = _timed("auth", APIView.perform_authentication)
    timed_create = _timed("service", services.assignment_create)

    @functools.wraps(timed_create)
    def assignment_create(*args, **kwargs):
        assignment = timed_create(*args, **kwargs)
        record = _current.get()
        if record is not None:
            record["assignment"] = str(assignment.pk)
        return assignment

    services.assignment_create = assignment_create

    def on_commit_hooks(original):
        # The commit itself (the COMMIT's round trip) ends where the hooks (the push) begin.
        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):
            _mark("commit")
            return original(self, *args, **kwargs)

        return wrapper

    from django.db.backends.base.base import BaseDatabaseWrapper

    BaseDatabaseWrapper.commit = on_commit_hooks(BaseDatabaseWrapper.commit)
    BaseDatabaseWrapper.run_and_clear_commit_hooks = _timed(
        "hooks", BaseDatabaseWrapper.run_and_clear_commit_hooks
    )

    original_send = events.events_send

    @functools.wraps(original_send)
    def events_send(pushes):
        record = _current.get()
        if record is not None:
            record["events"] = [m["event"]["id"] for _groups, m in pushes]
            record["push"] = clock()
        try:
            return original_send(pushes)
        finally:
            if record is not None:
                record["push_end"] = clock()

    events.events_send = events_send

    def counted(original):
        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):
            record = _current.get()
            if record is None:
                return original(self, *args, **kwargs)
            began = clock()
            try:
                return original(self, *args, **kwargs)
            finally:
                record["queries"] += 1
                record["query_s"] += clock() - began

        return wrapper

    utils.CursorWrapper._execute = counted(utils.CursorWrapper._execute)
    utils.CursorWrapper._executemany = counted(utils.CursorWrapper._executemany)

    original_deliver = EventStreamConsumer.event_deliver

    @functools.wraps(original_deliver)
    async def event_deliver(self, message):
        event = message.get("event") or {}
        if event.get("type") != "assignment.created":
            return await original_deliver(self, message)
        got = clock()
        await original_deliver(self, message)
        _write({"kind": "socket", "event": event["id"], "got": got, "sent": clock()})

    EventStreamConsumer.event_deliver = event_deliver


_pass_began = [0.0]
_passes: list[dict] = []


def _full_passes(phase: str, info: dict) -> None:
    """One line for each of the collector's full passes (config/collector.py): while one runs,
    every socket of the process waits. Noted here and written with the next span: a pass may
    start inside _write, on a thread that holds its lock."""
    if info["generation"] != 2:
        return
    if phase == "start":
        _pass_began[0] = clock()
    else:
        _passes.append({"kind": "gc", "start": _pass_began[0], "end": clock(), "freed": info["collected"]})


def install(application):
    """The ASGI application, with the spans recorded when BENCH_SPANS is set."""
    global _out
    path = os.environ.get("BENCH_SPANS", "")
    if not path:
        return application
    _out = open(path, "a", buffering=1)  # noqa: SIM115 - open for the life of the process
    _patch()
    gc.callbacks.append(_full_passes)
    application.application_mapping["http"] = _http(application.application_mapping["http"])
    return application

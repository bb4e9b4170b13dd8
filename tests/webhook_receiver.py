"""A real HTTP receiver on 127.0.0.1 for webhook tests: it keeps every request it was sent and
answers as the test tells it (a list of statuses to give first, a delay, a hang)."""

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict
    body: str
    answered: int | None

    @property
    def message(self) -> dict:
        return json.loads(self.body)

    @property
    def event_id(self) -> int:
        return self.message["id"]


class Receiver:
    """`answers`: the statuses for the first requests, in order (then 200). `delay`: seconds
    before answering. `hang`: requests wait until `release()` (or 30 s) and get no answer."""

    def __init__(self, answers=(), delay: float = 0.0):
        self.answers = list(answers)
        self.delay = delay
        self.hang = False
        self.received: list[Received] = []
        self.got_one = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                with receiver._lock:
                    hang = receiver.hang
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    received = Received(dict(self.headers.items()), body, None if hang else status)
                    receiver.received.append(received)
                receiver.got_one.set()
                if hang:
                    receiver._released.wait(30)
                    return
                if receiver.delay:
                    receiver._released.wait(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cad"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

    def release(self):
        self._released.set()

    def delivered_ids(self) -> list[int]:
        """The event ids it answered 2xx to, in the order they came."""
        return [r.event_id for r in self.received if r.answered is not None and 200 <= r.answered < 300]

    def ids(self) -> list[int]:
        return [r.event_id for r in self.received]

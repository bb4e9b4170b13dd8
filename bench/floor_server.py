"""The floor: the least a server can do to push an assignment to a tablet.

One asyncio process: a `websockets` server for the tablets and a bare HTTP/1.1 server (asyncio
streams, keep-alive) for the API calls the benchmark makes. No database, no channel layer, no
framework: an assign answers by sending one message to each connected tablet of the unit, straight
from memory. It speaks just enough of CONTRACT.md for the benchmark's tablets to run unchanged:
the session cookie identifies the tablet (the map comes from a JSON file), events carry growing
ids, `resume` replays from an in-memory per-unit log, and a reconnecting tablet is not sent an id
twice on one connection.

    python bench/floor_server.py --http-port P1 --ws-port P2 --tablets tablets.json
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import uuid
from datetime import UTC, datetime

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

event_ids = itertools.count(1)
unit_logs: dict[str, list[dict]] = {}  # callsign -> events, id order
unit_sockets: dict[str, set] = {}  # callsign -> connected websockets
sent_by_socket: dict[object, set[int]] = {}
incidents: dict[str, dict] = {}
assignments: dict[str, dict] = {}
sessions: dict[str, str] = {}  # session value -> callsign
cookie_name = "sessionid"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def send_once(ws, event: dict) -> None:
    sent = sent_by_socket.get(ws)
    if sent is None or event["id"] in sent:
        return
    sent.add(event["id"])
    with contextlib.suppress(ConnectionClosed):
        await ws.send(json.dumps(event))


async def publish(callsign: str, type_: str, data: dict) -> dict:
    event = {"id": next(event_ids), "type": type_, "at": now_iso(), "data": data}
    unit_logs.setdefault(callsign, []).append(event)
    for ws in list(unit_sockets.get(callsign, ())):
        await send_once(ws, event)
    return event


def session_of(ws) -> str | None:
    for part in (ws.request.headers.get("Cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == cookie_name:
            return value
    return None


async def tablet(ws):
    callsign = sessions.get(session_of(ws) or "")
    if callsign is None:
        await ws.close(4401)
        return
    sent_by_socket[ws] = set()
    unit_sockets.setdefault(callsign, set()).add(ws)
    try:
        await ws.send(json.dumps({"type": "shift", "unit_id": callsign}))
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "resume":
                last = message.get("last_event_id", 0)
                for event in list(unit_logs.get(callsign, ())):
                    if event["id"] > last:
                        await send_once(ws, event)
    except ConnectionClosed:
        pass
    finally:
        unit_sockets[callsign].discard(ws)
        sent_by_socket.pop(ws, None)


def respond(writer, status: int, body: dict) -> None:
    payload = json.dumps(body).encode()
    reason = {200: "OK", 201: "Created", 404: "Not Found", 400: "Bad Request"}.get(status, "Error")
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )


async def route(method: str, path: str, body: dict) -> tuple[int, dict]:
    parts = [p for p in path.split("?")[0].split("/") if p]
    if method == "GET" and parts == ["healthz"]:
        return 200, {"status": "ok"}
    if method != "POST" or parts[:2] != ["api", "v1"]:
        return 404, {"detail": "Not found."}
    rest = parts[2:]
    if rest == ["incidents"]:
        incident = {**body, "id": str(uuid.uuid4()), "status": "pending"}
        incidents[incident["id"]] = incident
        return 201, incident
    if len(rest) == 3 and rest[0] == "incidents" and rest[2] == "assign" and rest[1] in incidents:
        assignment = {
            "id": str(uuid.uuid4()),
            "incident": rest[1],
            "unit": body["unit"],
            "status": "dispatched",
            "dispatched_at": now_iso(),
        }
        assignments[assignment["id"]] = assignment
        await publish(body["unit"], "assignment.created", {**assignment, "incident": incidents[rest[1]]})
        return 201, assignment
    if len(rest) == 3 and rest[0] == "assignments" and rest[2] == "status" and rest[1] in assignments:
        assignment = assignments[rest[1]]
        assignment["status"] = body["status"]
        await publish(assignment["unit"], "assignment.updated", dict(assignment))
        return 200, assignment
    return 404, {"detail": "Not found."}


async def http_client(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            raw = await reader.readexactly(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
                status, answer = await route(method, path, body)
            except (ValueError, KeyError, TypeError):
                status, answer = 400, {"detail": "Bad request."}
            respond(writer, status, answer)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(args) -> None:
    global cookie_name
    with open(args.tablets) as f:
        spec = json.load(f)
    cookie_name = spec["session_cookie"]
    for t in spec["tablets"]:
        sessions[t["session"]] = spec["units"][t["unit"]]["callsign"]
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    http = await asyncio.start_server(http_client, "127.0.0.1", args.http_port)
    async with serve(tablet, "127.0.0.1", args.ws_port, compression=None, max_queue=None), http:
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--ws-port", type=int, required=True)
    parser.add_argument("--tablets", required=True, help="the JSON bench/fixture.py printed")
    asyncio.run(main(parser.parse_args()))

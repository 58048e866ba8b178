"""Load generators: wrk for closed-loop maximum throughput, an open-loop client for latency.

``wrk`` (Debian's package) saturates an endpoint from a second process; its Lua script
POSTs a fixed body. For latency at a fixed offered load, :func:`open_loop` sends requests
on a schedule (not when the previous one returns) over keep-alive HTTP/1.1 connections
and measures each from its *scheduled* start, so a stall shows up as latency instead of
silently lowering the rate (coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


class LoadError(RuntimeError):
    """The load generator could not run."""


def ensure_wrk() -> str:
    """The wrk binary (installed from Debian's packages if missing and we are root)."""
    found = shutil.which("wrk")
    if found:
        return found
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", "wrk"],
        capture_output=True,
        text=True,
        check=False,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    found = shutil.which("wrk")
    if not found:
        raise LoadError(f"wrk is not installed and apt-get failed: {result.stderr[-500:]}")
    return found


@dataclass(frozen=True, slots=True)
class WrkResult:
    """Closed-loop throughput of one endpoint."""

    requests_per_s: float
    non_2xx: int
    errors: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None


_LUA = """
wrk.method = "POST"
wrk.body = io.open("{body}", "rb"):read("*a")
wrk.headers["Content-Type"] = "{content_type}"
wrk.headers["Authorization"] = "Bearer {key}"
"""

# Unique bodies: every request replaces the marker in the template with "<run>-<n>" (n
# counts this thread's requests), so no two requests of any run carry the same event ids.
_LUA_UNIQUE = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "{content_type}"
wrk.headers["Authorization"] = "Bearer {key}"
local template = io.open("{body}", "rb"):read("*a")
local threads = 0
local n = 0
local prefix = "{run}"
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
request = function()
  n = n + 1
  local id = prefix .. "t" .. tostring(tid) .. "n" .. tostring(n)
  local body = template:gsub("{marker}", id)
  return wrk.format(nil, nil, nil, body)
end
"""

# The marker a unique-body template carries where each request's own id goes.
MARKER = "@N@"


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise LoadError(f"cannot read wrk latency {text!r}")
    value, unit = float(m[1]), m[2]
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(
    url: str,
    *,
    body: bytes,
    key: str,
    seconds: int,
    connections: int,
    threads: int = 1,
    content_type: str = "application/json",
    unique: bool = False,
) -> WrkResult:
    """Run wrk against ``url`` POSTing ``body``; requests/s and latency percentiles.

    ``unique``: ``body`` is a template; each request replaces every :data:`MARKER` in it
    with an id of its own (the run's random prefix, the thread and a counter), so every
    request carries new event ids, as real traffic does.
    """
    binary = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="paceline-wrk-") as d:
        body_path = Path(d) / "body"
        body_path.write_bytes(body)
        script = Path(d) / "post.lua"
        if unique:
            if MARKER.encode() not in body:
                raise LoadError(f"a unique-body template must contain {MARKER}")
            lua = _LUA_UNIQUE.format(
                body=body_path,
                content_type=content_type,
                key=key,
                run=uuid.uuid4().hex[:8],
                marker=MARKER,
            )
        else:
            lua = _LUA.format(body=body_path, content_type=content_type, key=key)
        script.write_text(lua)
        out = subprocess.run(
            [
                binary,
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 60,
        )
    text = out.stdout
    if out.returncode != 0 or "Requests/sec" not in text:
        raise LoadError(f"wrk failed: {out.stderr[-500:]} {text[-500:]}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1])  # type: ignore[index]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    p50 = re.search(r"\s50%\s+([\d.]+\w+)", text)
    p99 = re.search(r"\s99%\s+([\d.]+\w+)", text)
    return WrkResult(
        requests_per_s=rps,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        errors=sum(int(x) for x in errors.groups()) if errors else 0,
        latency_p50_ms=_ms(p50[1]) if p50 else None,
        latency_p99_ms=_ms(p99[1]) if p99 else None,
    )


@dataclass(frozen=True, slots=True)
class OpenLoopResult:
    """Latencies (ms, from each request's scheduled start) at a fixed offered rate."""

    offered_per_s: float
    achieved_per_s: float
    latencies_ms: tuple[float, ...]
    failures: int


async def _connection(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def open_loop(
    host: str,
    port: int,
    *,
    path: str,
    bodies: list[bytes],
    key: str,
    rate_per_s: float,
    seconds: float,
    connections: int = 32,
) -> OpenLoopResult:
    """Send ``rate_per_s`` POSTs per second for ``seconds``, on a fixed schedule."""
    total = int(rate_per_s * seconds)
    interval = 1.0 / rate_per_s
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    latencies: list[float] = []
    failures = 0
    done = 0

    def raw(body: bytes) -> bytes:
        return (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def worker() -> None:
        nonlocal failures, done
        reader, writer = await _connection(host, port)
        try:
            while True:
                scheduled, body = await queue.get()
                try:
                    async with asyncio.timeout(60):  # a stuck connection must not hang the run
                        status = await _request(reader, writer, raw(body))
                    if status >= 300:
                        failures += 1
                except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError):
                    failures += 1
                    writer.close()
                    try:
                        reader, writer = await _connection(host, port)
                    except OSError:
                        await asyncio.sleep(0.1)
                        reader, writer = await _connection(host, port)
                finally:
                    # Counted even when it failed: queue.join() must always end.
                    latencies.append((time.perf_counter() - scheduled) * 1000)
                    done += 1
                    queue.task_done()
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    started = time.perf_counter()
    for i in range(total):
        scheduled = started + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((scheduled, bodies[i % len(bodies)]))
    await queue.join()
    elapsed = time.perf_counter() - started
    for w in workers:
        w.cancel()
    for w in workers:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await w
    return OpenLoopResult(
        offered_per_s=rate_per_s,
        achieved_per_s=done / elapsed if elapsed > 0 else 0.0,
        latencies_ms=tuple(latencies),
        failures=failures,
    )

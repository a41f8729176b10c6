"""Runs deploy/entrypoint.sh for real, as the release image does, and checks what it promises.

1. No replica configured: the entrypoint becomes `voxedge serve` itself, which serves /healthz.
2. A file:// replica: Litestream runs voxedge as its child with VOXEDGE_WAL_AUTOCHECKPOINT=0 and VOXEDGE_REPLICA_URL
   set; a tenant created with `voxedge tenant create` and a later write through GraphQL reach the replica, and
   `litestream restore` of the tenant file and of the catalog gives databases holding them; SIGTERM stops both
   cleanly (exit 0). Then the entrypoint starts on a fresh, empty data directory with the same replica: it restores
   the region's data first (`voxedge restore --from-replica`), and the tenant and its write are there.
3. An S3 replica on a local S3 server (moto): the same, through the S3 API, restored from the bucket.

Run by deploy/test-entrypoint, which provides VOXEDGE_BIN, LITESTREAM_BIN and a Python with moto and boto3.
"""

import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
VOXEDGE = os.environ["VOXEDGE_BIN"]
LITESTREAM = os.environ["LITESTREAM_BIN"]
TIMEOUT = 20.0
passed = 0


def check(condition, message):
    global passed
    if not condition:
        raise SystemExit(f"test-entrypoint: FAILED: {message}")
    passed += 1
    print(f"  ok: {message}")


def wait_for(what, probe, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise SystemExit(f"test-entrypoint: FAILED: timed out waiting for {what}")
        time.sleep(0.2)


class Entrypoint:
    """deploy/entrypoint.sh in the background, its stderr collected."""

    def __init__(self, tmp, extra_env):
        self.data = tmp / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VOXEDGE_", "LITESTREAM_", "FLY_"))}
        # The machine may point AWS_CA_BUNDLE at a CA file; Litestream 0.5.17's S3 client refuses to start with it
        # ("unable to add custom RootCAs"), and the local S3 server speaks plain HTTP anyway.
        env.pop("AWS_CA_BUNDLE", None)
        env.update(
            VOXEDGE_BIN=VOXEDGE,
            LITESTREAM_BIN=LITESTREAM,
            LITESTREAM_CONFIG=str(tmp / "litestream.yml"),
            VOXEDGE_DATA_DIR=str(self.data),
            VOXEDGE_LISTEN="127.0.0.1:0",
            VOXEDGE_LOG_FORMAT="json",
            VOXEDGE_MODELS_DIR=str(tmp / "no-models"),
            VOXEDGE_SHUTDOWN_GRACE_SECS="2",
        )
        env.update(extra_env)
        self.env = env
        self.lines = []
        self.proc = subprocess.Popen(
            [str(DEPLOY / "entrypoint.sh")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        threading.Thread(target=self._collect, daemon=True).start()
        self.url = wait_for("voxedge to listen", self._address)

    def _collect(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def _address(self):
        if self.proc.poll() is not None:
            raise SystemExit(f"test-entrypoint: FAILED: entrypoint exited {self.proc.returncode}:\n" + self.log())
        for line in list(self.lines):
            match = re.search(r'"address":"([0-9.:]+)"', line)
            if match and "voxedge listening" in line:
                return f"http://{match.group(1)}"
        return None

    def log(self):
        return "\n".join(self.lines[-40:])

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return response.status, response.read().decode()

    def graphql(self, key, query, variables):
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(
            self.url + "/graphql",
            body,
            {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise SystemExit(f"test-entrypoint: FAILED: GraphQL errors {answer['errors']}")
        return answer["data"]

    def voxedge(self, *args):
        out = subprocess.run(
            [VOXEDGE, "--log-format", "text", *args], env=self.env, check=True, capture_output=True, text=True
        )
        return out.stdout

    def children(self):
        tasks = Path(f"/proc/{self.proc.pid}/task")
        pids = []
        for task in tasks.iterdir():
            pids += (task / "children").read_text().split()
        return [int(p) for p in pids]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise SystemExit("test-entrypoint: FAILED: still running 20 s after SIGTERM:\n" + self.log())


def exe_name(pid):
    return Path(os.readlink(f"/proc/{pid}/exe")).name


def environ(pid):
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def rows(db, sql, *args):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def restore(replica_url, out, extra_env=None):
    env = {**os.environ, **(extra_env or {})}
    env.pop("AWS_CA_BUNDLE", None)
    if out.exists():
        out.unlink()
    result = subprocess.run([LITESTREAM, "restore", "-o", str(out), replica_url], env=env, capture_output=True, text=True)
    return result.returncode == 0


def comes_back_on_a_fresh_volume(tmp, extra_env, tenant):
    """A replaced machine: the entrypoint on an empty data directory restores everything from the replica first."""
    fresh = tmp / "fresh"
    fresh.mkdir()
    app = Entrypoint(fresh, extra_env)
    try:
        check(any("restoring this region's data from the replica" in line for line in app.lines),
              "on a fresh volume the entrypoint restores from the replica before serving")
        check(tenant in app.voxedge("tenant", "list", "--json"), "the restored data directory has the tenant")
        with sqlite3.connect(fresh / "data" / "tenants" / f"{tenant}.db") as conn:
            keys = conn.execute("select count(*) from api_keys where name = 'written after start'").fetchone()[0]
        check(keys == 1, "the restored tenant has the key written through GraphQL")
    finally:
        check(app.stop() == 0, "SIGTERM stops the restored server cleanly")


def replica_url(root, path):
    """A path under a replica root URL, before its query string."""
    base, _, query = root.partition("?")
    return f"{base}/{path}" + (f"?{query}" if query else "")


def replication_case(tmp, extra_env, root, region, restore_env=None):
    """Tenant writes reach the replica; returns nothing, raises on failure."""
    replica_url_of = lambda path: replica_url(root, path)
    app = Entrypoint(tmp, extra_env)
    try:
        check(exe_name(app.proc.pid) == "litestream", "with a replica, the entrypoint process is litestream")
        child = wait_for("voxedge under litestream", lambda: app.children())
        check(exe_name(child[0]) == Path(VOXEDGE).name, "voxedge runs as litestream's child")
        child_env = environ(child[0])
        check(
            child_env.get("VOXEDGE_WAL_AUTOCHECKPOINT") == "0",
            "voxedge leaves checkpoints to litestream (VOXEDGE_WAL_AUTOCHECKPOINT=0)",
        )
        check(
            child_env.get("VOXEDGE_REPLICA_URL") == root,
            f"voxedge reads the replicas at VOXEDGE_REPLICA_URL ({child_env.get('VOXEDGE_REPLICA_URL')})",
        )
        check(app.get("/healthz")[0] == 200, "/healthz answers 200")

        created = json.loads(app.voxedge("tenant", "create", "--name", "Backed up"))
        tenant, key = created["tenant_id"], created["api_key"]
        data = app.graphql(
            key,
            "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } } }",
            {"input": {"name": "written after start", "role": "VIEWER"}},
        )
        check(bool(data["createApiKey"]["apiKey"]["id"]), "a GraphQL write to the tenant succeeds")

        restored = tmp / "restored-tenant.db"

        def tenant_replicated():
            if not restore(replica_url_of(f"regions/{region}/tenants/{tenant}.db"), restored, restore_env):
                return False
            return rows(restored, "select count(*) from api_keys where name = 'written after start'") == [(1,)]

        wait_for("the tenant's writes in the replica", tenant_replicated)
        check(True, f"litestream restore of tenants/{tenant}.db has the key written through GraphQL")

        catalog = tmp / "restored-catalog.db"

        def catalog_replicated():
            if not restore(replica_url_of("catalog"), catalog, restore_env):
                return False
            return rows(catalog, "select name from tenants where id = ?", tenant) == [("Backed up",)]

        wait_for("the tenant in the replicated catalog", catalog_replicated)
        check(True, "litestream restore of the catalog has the tenant row")
    finally:
        status = app.stop()
    check(status == 0, f"SIGTERM stops litestream and voxedge cleanly (exit {status})")
    voxedge_lines = [line for line in app.lines if line.startswith("{")]  # voxedge logs JSON, Litestream text
    check(any("shut" in line.lower() or "drain" in line.lower() for line in voxedge_lines), "voxedge logged its shutdown")
    comes_back_on_a_fresh_volume(tmp, extra_env, tenant)


def main():
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="voxedge-entrypoint-") as t:
        tmp = Path(t)

        print("no replica configured:")
        (tmp / "plain").mkdir()
        app = Entrypoint(tmp / "plain", {})
        check(exe_name(app.proc.pid) == Path(VOXEDGE).name, "without a replica, the entrypoint process is voxedge")
        check(app.get("/healthz")[0] == 200, "/healthz answers 200")
        check(app.stop() == 0, "SIGTERM stops voxedge cleanly")
        check(any("not backed up" in line for line in app.lines), "the entrypoint says the data is not backed up")

        print("file:// replica:")
        case = tmp / "file"
        case.mkdir()
        replica = case / "replica"
        replication_case(case, {"LITESTREAM_REPLICA_URL": f"file://{replica}"}, f"file://{replica}", "local")
        check((replica / "regions" / "local" / "tenants").is_dir() and (replica / "catalog").is_dir()
              and (replica / "regions" / "local" / "region").is_dir(),
              "replica has catalog/, regions/local/tenants/ and regions/local/region/")

        print("S3 replica (moto):")
        from moto.server import ThreadedMotoServer
        import boto3

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            creds = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
            s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
            s3.create_bucket(Bucket="voxedge-backups")
            case = tmp / "s3"
            case.mkdir()
            env = {
                **creds,
                "BUCKET_NAME": "voxedge-backups",  # as `fly storage create` sets it
                "AWS_ENDPOINT_URL_S3": endpoint,
                "FLY_REGION": "fra",
                "LITESTREAM_FORCE_PATH_STYLE": "true",
            }
            prefix = "voxedge"
            root = f"s3://voxedge-backups/{prefix}?endpoint={endpoint}&region=us-east-1&forcePathStyle=true"
            replication_case(case, env, root, "fra", creds)
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket="voxedge-backups").get("Contents", [])]
            check(any(k.startswith(prefix + "/catalog/") for k in keys), f"bucket has {prefix}/catalog/…")
            check(any(k.startswith(prefix + "/regions/fra/tenants/") for k in keys),
                  f"bucket has {prefix}/regions/fra/tenants/…")
        finally:
            server.stop()

    print(f"test-entrypoint: {passed} checks in {time.monotonic() - started:.0f} s")
    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()

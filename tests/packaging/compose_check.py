#!/usr/bin/env python3
"""Checks the zakpos-backup service of a merged Compose configuration (the
output of `docker-compose config` for the stack's file plus
docker-compose.backup.yml) against what the tool and the stack need:

* it shares a network with zakpos-postgres, and that network is
  zakpos-network;
* the Docker socket is mounted where DOCKER_HOST points, and the socket's
  group is added (the image does not run as root);
* secrets are Docker secrets defined with a file, read through the tool's
  file variables under /run/secrets; no secret value is in the environment;
* the repository and the state folder are named volumes at the paths the
  tool uses, and the stack's bind-mounted files are mounted at the paths of
  the example configuration's [paths], from the same host paths the stack
  mounts;
* it runs the daemon and restarts;
* every variable the service sets is one the tool reads: `zakpos-backup
  config check` with the example configuration and this environment (the
  secrets' files in place of /run/secrets) succeeds and reports each of them
  as the origin of a setting.

Exit 0 when all hold; otherwise one line per failure on stderr, each
starting "compose: ", and exit 1.
"""
import argparse
import configparser
import os
import re
import subprocess
import sys

import yaml

SERVICE = "zakpos-backup"
SOCKET = "/var/run/docker.sock"
# Variables that name a file holding a secret (or a public key).
FILE_VARIABLES = ("ZAKPOS_BACKUP_PG_PASSWORD_FILE", "ZAKPOS_BACKUP_PASSPHRASE_FILE", "ZAKPOS_BACKUP_RECIPIENTS",
                  "ZAKPOS_BACKUP_KEY_FILE", "ZAKPOS_BACKUP_SIGNING_KEY_FILE", "ZAKPOS_BACKUP_PG_CONNINFO_FILE", "ZAKPOS_BACKUP_WEBHOOK_URL_FILE")
# Variables whose value would itself be a secret.
SECRET_VALUES = ("ZAKPOS_BACKUP_PASSPHRASE", "ZAKPOS_BACKUP_WEBHOOK_URL", "PGPASSWORD")

failures = []


def fail(message):
    failures.append(message)
    print("compose: " + message, file=sys.stderr)


def mounts(service):
    """(source, target, read_only) of each volume entry, short or long syntax."""
    result = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            result.append((v.get("source"), v.get("target"), bool(v.get("read_only"))))
        else:
            parts = v.split(":")
            if len(parts) == 1:
                result.append((None, parts[0], False))
            else:
                result.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return result


def networks(service):
    n = service.get("networks", ["default"])
    return set(n if isinstance(n, list) else n.keys())


def environment(service):
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--merged", required=True, help="the output of docker-compose config")
    ap.add_argument("--config", required=True, help="the example configuration")
    ap.add_argument("--binary", required=True)
    ap.add_argument("--docker-gid", required=True, help="the DOCKER_GID the configuration was made with")
    args = ap.parse_args()

    doc = yaml.safe_load(open(args.merged, encoding="utf-8"))
    services = doc.get("services", {})
    svc = services.get(SERVICE)
    if not svc:
        fail(f"no service {SERVICE}")
        return 1
    env = environment(svc)
    volumes = mounts(svc)

    # the stack's network
    pg = services.get("zakpos-postgres")
    if not pg:
        fail("the stack has no zakpos-postgres service to back up")
    else:
        shared = networks(svc) & networks(pg)
        if not shared:
            fail(f"{SERVICE} shares no network with zakpos-postgres")
        names = {doc.get("networks", {}).get(n, {}).get("name", n) for n in shared}
        if "zakpos-network" not in names:
            fail(f"{SERVICE} is not on zakpos-network (networks shared with zakpos-postgres: {sorted(names)})")
        conninfo = env.get("ZAKPOS_BACKUP_PG_CONNINFO", "")
        if "@zakpos-postgres:" not in conninfo and "host=zakpos-postgres" not in conninfo:
            fail(f"ZAKPOS_BACKUP_PG_CONNINFO does not reach the database as zakpos-postgres: '{conninfo}'")
        if re.search(r"://[^/@]*:[^/@]*@", conninfo) or "password=" in conninfo:
            fail("ZAKPOS_BACKUP_PG_CONNINFO holds a password; use a secret")

    # the Docker socket, as a non-root user
    socket_target = None
    for source, target, _ in volumes:
        if source == SOCKET:
            socket_target = target
    if not socket_target:
        fail(f"the Docker socket {SOCKET} is not mounted")
    elif env.get("DOCKER_HOST", "unix://" + SOCKET) != "unix://" + socket_target:
        fail(f"DOCKER_HOST {env.get('DOCKER_HOST')} is not the mounted socket {socket_target}")
    user = str(svc.get("user", ""))
    if user not in ("root", "0", "0:0") and [str(g) for g in svc.get("group_add", [])] != [args.docker_gid]:
        fail(f"group_add is {svc.get('group_add')}, not the Docker socket's group {args.docker_gid}")

    # secrets
    defined = doc.get("secrets", {})
    used = {s["source"] if isinstance(s, dict) else s for s in svc.get("secrets", [])}
    for name in used:
        if not defined.get(name, {}).get("file"):
            fail(f"secret {name} is not defined with a file")
    secret_files = {}
    for var in FILE_VARIABLES:
        for path in env.get(var, "").split():
            m = re.fullmatch(r"/run/secrets/([^/]+)", path)
            if not m:
                fail(f"{var}={path} is not a Docker secret (/run/secrets/NAME)")
            elif m.group(1) not in used:
                fail(f"{var} names secret {m.group(1)}, which the service does not use")
            else:
                secret_files[path] = defined.get(m.group(1), {}).get("file", "")
    for var in SECRET_VALUES:
        if var in env:
            fail(f"{var} puts a secret in the environment; use a *_FILE variable and a Docker secret")
    if "ZAKPOS_BACKUP_PG_PASSWORD_FILE" not in env:
        fail("the database password does not come from a secret (ZAKPOS_BACKUP_PG_PASSWORD_FILE)")
    if not ("ZAKPOS_BACKUP_RECIPIENTS" in env or "ZAKPOS_BACKUP_PASSPHRASE_FILE" in env):
        fail("no recipient key or passphrase secret protects the archives")

    # volumes
    config = configparser.ConfigParser(comment_prefixes=("#", ";"), inline_comment_prefixes=None,
                                       interpolation=None)
    config.read(args.config)
    repo = env.get("ZAKPOS_BACKUP_REPO", config.get("repository", "path", fallback="/var/backups/zakpos-backup"))
    state = env.get("ZAKPOS_BACKUP_STATE_DIR", config.get("daemon", "state_dir", fallback="/var/lib/zakpos-backup"))
    named = set(doc.get("volumes", {}))
    for what, path in (("repository", repo), ("state folder", state)):
        found = [s for s, t, _ in volumes if t == path]
        if not found:
            fail(f"the {what} {path} is not a volume")
        elif found[0] not in named and not (found[0] or "").startswith("/"):
            fail(f"the {what} {path} is mounted from {found[0]}, which is neither a named volume nor a host folder")
    stack_binds = {}
    for name, other in services.items():
        if name != SERVICE:
            for source, target, _ in mounts(other):
                if source and source.startswith("/"):
                    stack_binds[os.path.basename(source.rstrip("/"))] = source
    for name, path in (config["paths"].items() if config.has_section("paths") else []):
        found = [(s, ro) for s, t, ro in volumes if t == path]
        if not found:
            fail(f"paths.{name} ({path}) is not mounted into the container")
            continue
        source, read_only = found[0]
        if stack_binds.get(os.path.basename(source.rstrip("/"))) != source:
            fail(f"paths.{name} is mounted from {source}, which no stack service mounts")
        if not read_only:
            fail(f"paths.{name} is mounted read-write; a backup only reads it")

    # how it runs
    if svc.get("command") not in (None, ["daemon"], "daemon"):
        fail(f"the service runs {svc.get('command')}, not the daemon")
    if svc.get("restart") not in ("always", "unless-stopped"):
        fail(f"restart is {svc.get('restart')}: the daemon would stay down after a failure or reboot")

    # every variable is one the tool reads
    run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for var, value in env.items():
        run_env[var] = " ".join(secret_files.get(p, p) for p in value.split()) if var in FILE_VARIABLES else value
    result = subprocess.run([args.binary, "--log-format", "text", "config", "check", "--config", args.config],
                            capture_output=True, text=True, env=run_env)
    if result.returncode != 0:
        fail(f"config check with the service's environment exits {result.returncode}: {result.stderr.strip()}")
    else:
        for var in env:
            if f"(env {var})" not in result.stdout:
                fail(f"{var} is not a variable zakpos-backup reads (config check reports no setting from it)")

    if failures:
        return 1
    print(f"compose: service {SERVICE} checked, {len(env)} variables read by the tool")
    return 0


if __name__ == "__main__":
    sys.exit(main())

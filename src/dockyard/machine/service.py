"""The machine commands' flows (docker-machine's libmachine and host actions), printing progress
through ``log`` in docker-machine's words; the CLI owns argument parsing and tables."""

from __future__ import annotations

import contextlib
import json
import os
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from dockyard.machine import certs, engine
from dockyard.machine.driver import Driver
from dockyard.machine.drivers import driver_class, driver_for
from dockyard.machine.errors import HostAlreadyInState, HostNotRunning, MachineError
from dockyard.machine.model import ENGINE_PORT, RUNNING, STOPPED, AuthOptions, EngineOptions, Host
from dockyard.machine.store import Store


@dataclass
class Listing:
    """One row of `ls` (docker-machine's HostListItem)."""

    name: str
    active: str
    driver: str
    state: str
    url: str
    docker: str
    error: str

    def template_fields(self) -> dict:
        return {"Name": self.name, "Active": self.active, "ActiveHost": self.active == "*", "ActiveSwarm": False,
                "DriverName": self.driver, "State": self.state, "URL": self.url, "Swarm": "",
                "DockerVersion": self.docker, "Error": self.error}


class Machines:
    def __init__(self, store: Store, log: Callable[[str], None] = print) -> None:
        self.store = store
        self.log = log

    def load(self, name: str) -> Host:
        return self.store.load(name)

    def driver(self, host: Host) -> Driver:
        return driver_for(self.store, host)

    # -- create ------------------------------------------------------------------------------------
    def create(self, name: str, driver_name: str, driver_flags: dict[str, str], options: EngineOptions,
               tls_sans: list[str], program: str = "dockyard machine") -> Host:
        cls = driver_class(driver_name)
        self.log("Running pre-create checks...")
        try:
            import cryptography  # noqa: F401 - the CA and certificates are made with it
        except ImportError:
            raise MachineError("machines need the cryptography package for their certificates: "
                               "pip install 'dockyard[machine]' (make install does)") from None
        engine.check(options)
        directory = self.store.reserve(name)
        auth = AuthOptions(self.store.certs, os.path.join(self.store.certs, "ca.pem"),
                           os.path.join(self.store.certs, "ca-key.pem"), os.path.join(self.store.certs, "cert.pem"),
                           os.path.join(self.store.certs, "key.pem"), os.path.join(directory, "server.pem"),
                           os.path.join(directory, "server-key.pem"), self.store.root, list(tls_sans))
        host = Host(name, driver_name, {}, options, auth)
        driver = cls(self.store, host)
        pool = ThreadPoolExecutor(1)
        try:
            with self.store.lock():
                driver.configure(driver_flags)  # chooses the address: saved before the lock goes
                self.store.save(host)
                ca, client = certs.bootstrap(self.store.certs, self.log)
            self.log("Creating machine...")
            self.log(f"({name}) Copying certs to the local machine directory...")
            # The server pair (most of it loading cryptography) is made on a thread while the driver
            # makes the host (mostly waiting for ip, unshare and iptables); the engine, which reads
            # it, starts once it is written.
            making = pool.submit(certs.machine_certs, ca, client, directory, name, driver.ip(), tls_sans)
            self.log(f"({name}) Creating a {driver_name} machine with address {driver.ip()}...")
            self.log("Waiting for machine to be running, this may take a few minutes...")
            driver.start(replace(engine.spec(options), files_ready=making.result))
            self.log("Checking connection to Docker...")
            self.docker_version(host, timeout=10)
        except BaseException:
            pool.shutdown(cancel_futures=True)  # the certificates are written before the machine goes
            with contextlib.suppress(Exception):
                driver.remove()
            with contextlib.suppress(OSError):
                self.store.remove(name)
            raise
        finally:
            pool.shutdown()
        self.log("Docker is up and running!")
        self.log("To see how to connect your Docker Client to the Docker Engine running on this virtual machine, "
                 f"run: {program} env {name}")
        return host

    # -- state -------------------------------------------------------------------------------------
    def state(self, host: Host) -> tuple[str, str]:
        return self.driver(host).state()

    def url(self, host: Host) -> str:
        return f"tcp://{self.driver(host).ip()}:{ENGINE_PORT}"

    def require_running(self, host: Host) -> Driver:
        driver = self.driver(host)
        if driver.state()[0] != RUNNING:
            raise HostNotRunning(host.name)
        return driver

    def tls_context(self, host: Host) -> ssl.SSLContext:
        directory = self.store.machine_dir(host.name)
        context = ssl.create_default_context(cafile=os.path.join(directory, "ca.pem"))
        context.load_cert_chain(os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem"))
        return context

    def docker_version(self, host: Host, timeout: float = 10) -> str:
        """The engine's version, asked over TLS the way a client will (so the certificates are checked too)."""
        import socket

        ip = self.driver(host).ip()
        try:
            with socket.create_connection((ip, ENGINE_PORT), timeout=timeout) as raw:
                with self.tls_context(host).wrap_socket(raw, server_hostname=ip) as tls:
                    tls.sendall(f"GET /version HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n".encode())
                    answer = b""
                    while chunk := tls.recv(65536):
                        answer += chunk
        except (OSError, ssl.SSLError) as exc:
            raise MachineError(f"Error checking TLS connection: {exc}") from None
        head, _, body = answer.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1] if head.count(b" ") >= 1 else b""
        if status != b"200":
            raise MachineError(f"Error checking TLS connection: the engine answered {status.decode() or 'nothing'}")
        if b"chunked" in head.lower():
            body = _unchunk(body)
        try:
            return json.loads(body).get("Version", "")
        except ValueError:
            raise MachineError("Error checking TLS connection: the engine's /version is not JSON") from None

    def listing(self, host: Host, timeout: float) -> Listing:
        try:
            state, error = self.state(host)
        except MachineError as exc:
            return Listing(host.name, "-", host.driver_name, "Error", "", "Unknown", str(exc))
        url, version = "", "Unknown"
        if state == RUNNING:
            url = self.url(host)
            try:
                version = "v" + self.docker_version(host, timeout)
            except MachineError as exc:
                error = str(exc)
        active = "*" if state == RUNNING and url == os.environ.get("DOCKER_HOST") else "-"
        return Listing(host.name, active, host.driver_name, state, url, version if state == RUNNING else "Unknown",
                       error)

    # -- actions -----------------------------------------------------------------------------------
    def start(self, host: Host) -> None:
        driver = self.driver(host)
        self.log(f'Starting "{host.name}"...')
        if driver.state()[0] == RUNNING:
            raise HostAlreadyInState(host.name, RUNNING)
        driver.start(engine.spec(host.engine))
        self.log(f'Machine "{host.name}" was started.')

    def stop(self, host: Host) -> None:
        driver = self.driver(host)
        self.log(f'Stopping "{host.name}"...')
        if driver.state()[0] == STOPPED:
            raise HostAlreadyInState(host.name, STOPPED)
        driver.stop()
        self.log(f'Machine "{host.name}" was stopped.')

    def kill(self, host: Host) -> None:
        driver = self.driver(host)
        self.log(f'Killing "{host.name}"...')
        if driver.state()[0] == STOPPED:
            raise HostAlreadyInState(host.name, STOPPED)
        driver.kill()
        self.log(f'Machine "{host.name}" was killed.')

    def restart(self, host: Host) -> None:
        driver = self.driver(host)
        self.log(f'Restarting "{host.name}"...')
        if driver.state()[0] != STOPPED:
            driver.stop()
        driver.start(engine.spec(host.engine))

    def remove(self, name: str, force: bool) -> None:
        """The machine's host resources, then its directory; with ``force`` the directory goes even
        when the record cannot be read or the driver fails."""
        try:
            host = self.load(name)
            self.driver(host).remove()
        except MachineError:
            if not force or not os.path.isdir(self.store.machine_dir(name)):
                raise
        self.store.remove(name)

    def provision(self, host: Host) -> None:
        """docker-machine provision: the machine's set-up made again from its record (server
        certificate, the host's side, the engine with the record's options); containers keep running."""
        driver = self.require_running(host)
        with self.store.lock():
            ca, client = certs.bootstrap(self.store.certs, self.log)
        self.log(f"({host.name}) Copying certs to the local machine directory...")
        certs.machine_certs(ca, client, self.store.machine_dir(host.name), host.name, driver.ip(),
                            host.auth.server_cert_sans)
        self.log(f"({host.name}) Setting Docker configuration on the remote daemon...")
        driver.provision(engine.spec(host.engine))
        self.docker_version(host)

    def upgrade(self, host: Host) -> None:
        """docker-machine upgrade: the engine restarted on the host's installed dockyardd (a VM's
        would upgrade its package); a stopped machine is started first. Containers keep running."""
        driver = self.driver(host)
        started = driver.state()[0] != RUNNING
        if started:
            self.log("Starting machine so machine can be upgraded...")
            self.start(host)
        self.log("Upgrading docker...")
        self.log("Restarting docker...")
        if not started:  # a machine just started runs the installed dockyardd already
            driver.restart_engine(engine.spec(host.engine))
        self.docker_version(host)

    def mount(self, host: Host, path: str, mountpoint: str, unmount: bool) -> None:
        self.driver(host).mount(path, mountpoint, unmount)

    def regenerate_certs(self, host: Host, client_certs: bool) -> None:
        driver = self.driver(host)
        with self.store.lock():
            if client_certs:
                self.log("Regenerating local certificates")
            ca, client = certs.bootstrap(self.store.certs, self.log, regenerate=client_certs)
        directory = self.store.machine_dir(host.name)
        self.log("Copying certs to the local machine directory...")
        certs.machine_certs(ca, client, directory, host.name, driver.ip(), host.auth.server_cert_sans)
        if driver.state()[0] == RUNNING:
            self.log("Restarting docker...")
            driver.restart_engine(engine.spec(host.engine))


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2:]
    return out

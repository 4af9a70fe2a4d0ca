#!/usr/bin/python3
"""A STAND-IN FOR KUBELET, not kubelet: its plugin manager and its DRA
manager, as far as a DRA driver sees them, played with Debian's
python3-grpcio for the tests of kyborg-dra-driver. Written from kubelet's own
sources (kubernetes/kubernetes and k8s.io/kubelet, releases 1.34 to 1.36 and
master as of mid 2026):
  pkg/kubelet/pluginmanager/pluginwatcher/plugin_watcher.go   which files count
  pkg/kubelet/pluginmanager/reconciler/reconciler.go           re-registration
  pkg/kubelet/pluginmanager/operationexecutor/operation_generator.go
                                                               the registration call sequence
  pkg/kubelet/pluginmanager/pluginwatcher/monitor.go           GetInfo probes (newer kubelets)
  pkg/kubelet/cm/dra/plugin/dra_plugin_manager.go, dra_plugin.go
                                                               versions, connections, slice wiping
  pkg/kubelet/cm/dra/manager.go                                Prepare/Unprepare results
  pkg/kubelet/cm/dra/healthinfo.go                             the health cache
  staging/src/k8s.io/kubelet/pkg/apis/{pluginregistration/v1,dra/v1,dra/v1beta1,
  dra-health/v1alpha1,dra-health/v1}                           the wire (dra/proto here)
What it does, as kubelet does:
  - watches --registration-dir and its subdirectories for UNIX sockets whose
    names do not start with '.'; a new socket (or one re-created: a new
    inode or creation time, since a file system may give the new socket the
    inode number the old one freed; kubelet's fsnotify sees the Create event)
    is registered, a removed one deregistered. Kubelet uses fsnotify; this
    polls every 100 ms.
  - registration: dial (10 s), GetInfo (1 s deadline), type must be
    "DRAPlugin", endpoint defaults to the registration socket, the first of
    the plugin's supported_versions that this kubelet supports is chosen
    (--versions, default "v1.DRAPlugin,v1beta1.DRAPlugin" as 1.34-1.36), an
    endpoint registered twice for one driver is refused, then
    NotifyRegistrationStatus (5 s) with kubelet's own error texts. A failed
    registration is retried with kubelet's backoff (0.5 s doubling, at most
    2 min 2 s) while the socket exists.
  - NodePrepareResources / NodeUnprepareResources on the chosen service with a
    45 s deadline (--call-timeout), to the latest connected plugin of the
    driver; every claim must be answered, per-claim errors fail the call the
    way kubelet reports them.
  - NodeWatchResources on the DRA socket (v1 preferred over v1alpha1 among
    --health-versions), restarted 5 s after it ends, given up on
    UNIMPLEMENTED; the health cache treats a device not reported again within
    its health_check_timeout_seconds (default 30 s) as Unknown.
  - with --api-server: deletes the node's ResourceSlices at start
    (fieldSelector spec.nodeName=NODE) and a driver's slices when no plugin of
    it has been connected for --wipe-delay seconds (default 30; kubelet's
    fieldSelector spec.driver=D,spec.nodeName=NODE), cancelled when one comes
    back; retried with kubelet's backoff (1 s doubling, cap 5 min).
  - --socket-monitor S (newer kubelets, monitor.go): GetInfo on each
    registered socket every S seconds; two failures in a row deregister it.
What it does not do: pods, containers, CDI injection, reservedFor checks,
podresources, checkpoints of its own.

Usage:
  dra_kubelet.py --registration-dir DIR --desc dra.desc [options]
Options: --versions LIST  --health-versions LIST (default v1alpha1.DRAResourceHealth)
  --health-mode advertised|always|off   (advertised: only when the plugin lists
      a health service, as master does; always: v1alpha1 even when not listed,
      as kubelets before that check did)
  --call-timeout S  --node-name N  --api-server URL --token-file F --ca-file F
  --wipe-delay S  --socket-monitor S (0: off)  --events FILE (JSON lines)
  --verbose (events on stderr too; also with KYTEST_VERBOSE set)

Protocol: one command per line on stdin; exactly one JSON object per command
on stdout ({"cmd": ..., "ok": true|false, ...}); EOF or "quit" stops it.
  wait TYPE [KEY=VALUE...] [timeout=MS] [after=SEQ]
        the first event of TYPE with seq > SEQ whose fields match; "event": {...}
  events                         all events so far
  plugins                        registered plugins: driver, endpoint, service,
                                 health_service, connected, socket
  prepare DRIVER NS/NAME/UID...  NodePrepareResources; "claims": {uid: {"error",
                                 "devices": [{"request_names","pool","device",
                                 "cdi","share_id"}]}}, "error": kubelet's message
  unprepare DRIVER NS/NAME/UID...
  prepare-claim NS NAME          GETs the claim from --api-server and prepares it
                                 with each driver in status.allocation.devices.results,
                                 as kubelet does; remembers it for unprepare-claim
  unprepare-claim NS NAME        from what prepare-claim remembered (works after
                                 the claim was deleted, as kubelet's cache does)
  health DRIVER                  kubelet's view: [{"pool","device","health","message"}]
  quit
Events ("type"): registered {driver, endpoint, socket, service, health_service,
  versions}, registration_failed {socket, error}, deregistered {driver,
  endpoint, socket, reason}, connected / disconnected {driver, endpoint},
  health {driver, service, devices: [{pool, device, health, timeout, message}]},
  health_stream_ended {driver, code, details}, wiped {driver, selector, code},
  notify_failed {socket, error}.
Every event has "seq" (1, 2, ...) and "time" (seconds since start)."""
import argparse
import json
import os
import queue
import shlex
import socket
import ssl
import stat
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import grpc

import draapi

REG = "/pluginregistration.Registration/"
DRA_PATH = {"v1.DRAPlugin": "/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/",
            "v1beta1.DRAPlugin": "/k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin/"}
HEALTH_PATH = {"v1alpha1.DRAResourceHealth": "/v1alpha1.DRAResourceHealth/NodeWatchResources",
               "v1.DRAResourceHealth": "/v1.DRAResourceHealth/NodeWatchResources"}
# operation_generator.go and monitor.go
DIAL_TIMEOUT = 10.0
GETINFO_TIMEOUT = 1.0
NOTIFY_TIMEOUT = 5.0
MONITOR_GETINFO_TIMEOUT = 10.0
# nestedpendingoperations' exponential backoff for failed registrations
REG_BACKOFF_INITIAL = 0.5
REG_BACKOFF_MAX = 122.0
# dra_plugin_manager.go: the health stream is restarted with this period
HEALTH_RETRY = 5.0
# healthinfo.go
DEFAULT_HEALTH_TIMEOUT = 30
POLL = 0.1
# Events also go to stderr with --verbose or KYTEST_VERBOSE set.
VERBOSE = bool(os.environ.get("KYTEST_VERBOSE"))


def go_q_list(items):
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


def grpc_err(e):
    """How a gRPC status error prints in Go (status.Error(...).Error())."""
    return "rpc error: code = %s desc = %s" % (_go_code(e.code()), e.details())


# grpc-go's codes.Code.String().
GO_CODES = {"OK": "OK", "CANCELLED": "Canceled", "UNKNOWN": "Unknown", "INVALID_ARGUMENT": "InvalidArgument",
            "DEADLINE_EXCEEDED": "DeadlineExceeded", "NOT_FOUND": "NotFound", "ALREADY_EXISTS": "AlreadyExists",
            "PERMISSION_DENIED": "PermissionDenied", "RESOURCE_EXHAUSTED": "ResourceExhausted",
            "FAILED_PRECONDITION": "FailedPrecondition", "ABORTED": "Aborted", "OUT_OF_RANGE": "OutOfRange",
            "UNIMPLEMENTED": "Unimplemented", "INTERNAL": "Internal", "UNAVAILABLE": "Unavailable",
            "DATA_LOSS": "DataLoss", "UNAUTHENTICATED": "Unauthenticated"}


def _go_code(code):
    return GO_CODES.get(code.name, code.name)


class Events:
    def __init__(self, path):
        self.cond = threading.Condition()
        self.items = []
        self.start = time.monotonic()
        self.file = open(path, "a") if path else None

    def add(self, type_, **fields):
        with self.cond:
            ev = {"seq": len(self.items) + 1, "type": type_, "time": round(time.monotonic() - self.start, 3)}
            ev.update(fields)
            self.items.append(ev)
            if self.file:
                self.file.write(json.dumps(ev) + "\n")
                self.file.flush()
            self.cond.notify_all()
        if VERBOSE:
            sys.stderr.write("dra_kubelet: %s\n" % json.dumps(ev))
        return ev

    def wait(self, type_, match, after, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.items[after:]:
                    if ev["type"] == type_ and all(str(ev.get(k)) == v for k, v in match.items()):
                        return ev
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


class ApiClient:
    """Just enough of a Kubernetes client: bearer token (re-read each call),
    the CA, JSON."""

    def __init__(self, server, token_file, ca_file):
        self.server = server.rstrip("/")
        self.token_file = token_file
        self.ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()

    def request(self, method, path, query=None):
        url = self.server + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        req = urllib.request.Request(url, method=method)
        with open(self.token_file) as f:
            req.add_header("Authorization", "Bearer " + f.read().strip())
        req.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                return e.code, json.loads(body)
            except ValueError:
                return e.code, {"message": body.decode(errors="replace")}


def close_quietly(channel):
    """Closes a channel once grpc's connectivity poller (which runs while
    anyone is subscribed, and notices an unsubscribe within 0.2 s) has
    stopped: closing under it kills that thread with a traceback."""
    state = getattr(channel, "_connectivity_state", None)
    end = time.monotonic() + 1.0
    while state is not None and getattr(state, "polling", False) and time.monotonic() < end:
        time.sleep(0.02)
    channel.close()


class Plugin:
    def __init__(self, driver, endpoint, sock, service, health_service, versions):
        self.driver = driver
        self.endpoint = endpoint
        self.socket = sock
        self.service = service
        self.health_service = health_service
        self.versions = versions
        self.connected = False
        self.removed = threading.Event()
        self.channel = grpc.insecure_channel("unix:" + endpoint)
        self.health_call = None
        self.conn_thread = None

    def close(self):
        self.removed.set()
        call = self.health_call
        if call is not None:
            call.cancel()
        # The connection loop unsubscribes first: closing a channel under a
        # live subscription kills grpc's polling thread with a traceback.
        t = self.conn_thread
        if t is not None and t is not threading.current_thread():
            t.join(5)
        close_quietly(self.channel)


class Kubelet:
    def __init__(self, args, api, events):
        self.args = args
        self.api = api
        self.ev = events
        self.lock = threading.RLock()
        self.store = {}        # driver -> [Plugin] in the order they were added
        self.by_socket = {}    # registration socket -> Plugin
        self.seen = {}         # socket path -> (inode, mtime) being (or already) handled
        self.wipes = {}        # driver -> threading.Event (cancel)
        self.health = {}       # driver -> {pool/device: dict}
        self.claims = {}       # ns/name -> {"uid": .., "drivers": [..]}
        self.stop = threading.Event()
        self.kubelet_versions = [v for v in args.versions.split(",") if v]
        self.health_versions = [v for v in args.health_versions.split(",") if v]

    # ---- the plugin watcher: which files count ----

    def scan(self):
        found = {}
        for root, dirs, files in os.walk(self.args.registration_dir):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files + [d for d in dirs]:
                if name.startswith("."):
                    continue
                path = os.path.join(root, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISSOCK(st.st_mode):
                    found[path] = (st.st_ino, st.st_mtime_ns)
        return found

    def watch(self):
        os.makedirs(self.args.registration_dir, exist_ok=True)
        while not self.stop.is_set():
            found = self.scan()
            with self.lock:
                for path, ino in found.items():
                    if self.seen.get(path) != ino:
                        if path in self.seen:
                            self.deregister(path, "socket re-created")
                        self.seen[path] = ino
                        threading.Thread(target=self.register_loop, args=(path, ino), daemon=True).start()
                for path in list(self.seen):
                    if path not in found:
                        del self.seen[path]
                        self.deregister(path, "socket removed")
            self.stop.wait(POLL)

    # ---- registration (operation_generator.go, reconciler backoff) ----

    def register_loop(self, path, ino):
        delay = REG_BACKOFF_INITIAL
        while not self.stop.is_set():
            with self.lock:
                if self.seen.get(path) != ino:
                    return
            err = self.register(path)
            if err is None:
                return
            self.ev.add("registration_failed", socket=path, error=err)
            if self.stop.wait(delay):
                return
            delay = min(delay * 2, REG_BACKOFF_MAX)

    def validate(self, driver, endpoint, versions):
        """validateSupportedServices of dra_plugin_manager.go: the first of the
        plugin's services that kubelet supports."""
        if not versions:
            return None, "empty list of supported gRPC services (aka supported versions)"
        for v in versions:
            if v in self.kubelet_versions:
                return v, None
        return None, "none of services supported by the plugin (%s) are supported by the kubelet (%s)" % (
            go_q_list(versions), go_q_list(self.kubelet_versions))

    def pick_health(self, versions):
        mode = self.args.health_mode
        if mode == "off":
            return None
        if mode == "always":
            return "v1alpha1.DRAResourceHealth"
        # master's pickHealthService: v1 wins over v1alpha1.
        for v in ("v1.DRAResourceHealth", "v1alpha1.DRAResourceHealth"):
            if v in versions and v in self.health_versions:
                return v
        return None

    def register(self, path):
        api = self.args.draapi
        # The blocking dial (10 s), done as connect() attempts: a grpc
        # channel_ready_future here would leave a connectivity poller behind.
        end = time.monotonic() + DIAL_TIMEOUT
        while not self.can_connect(path, 1.0):
            if time.monotonic() >= end or self.stop.is_set():
                return "RegisterPlugin error -- dial failed at socket %s, err: failed to dial socket %s, err: context deadline exceeded" % (path, path)
            time.sleep(0.05)
        ch = grpc.insecure_channel("unix:" + path)
        try:
            get_info = ch.unary_unary(REG + "GetInfo", request_serializer=api.reg.InfoRequest.SerializeToString,
                                      response_deserializer=api.reg.PluginInfo.FromString)
            notify_rpc = ch.unary_unary(REG + "NotifyRegistrationStatus",
                                        request_serializer=api.reg.RegistrationStatus.SerializeToString,
                                        response_deserializer=api.reg.RegistrationStatusResponse.FromString)

            def notify(registered, err_str):
                try:
                    notify_rpc(api.reg.RegistrationStatus(plugin_registered=registered, error=err_str),
                               timeout=NOTIFY_TIMEOUT)
                except grpc.RpcError as e:
                    # The plugin answering an error to a negative status is what
                    # the kubeletplugin helper does; kubelet only wraps it.
                    self.ev.add("notify_failed", socket=path, registered=registered, error=grpc_err(e))
                    return "%s: %s" % (err_str, grpc_err(e))
                return None

            try:
                info = get_info(api.reg.InfoRequest(), timeout=GETINFO_TIMEOUT)
            except grpc.RpcError as e:
                return "RegisterPlugin error -- failed to get plugin info using RPC GetInfo at socket %s, err: %s" % (
                    path, grpc_err(e))
            if info.type != "DRAPlugin":
                msg = "RegisterPlugin error -- no handler registered for plugin type: %s at socket %s" % (info.type, path)
                notify(False, msg)
                return msg
            endpoint = info.endpoint or path
            versions = list(info.supported_versions)
            service, verr = self.validate(info.name, endpoint, versions)
            if verr:
                verr = "invalid supported gRPC versions of DRA driver plugin %s at endpoint %s: %s" % (info.name, endpoint, verr)
                notify(False, "RegisterPlugin error -- plugin validation failed with err: %s" % verr)
                return "RegisterPlugin error -- pluginHandler.ValidatePluginFunc failed: " + verr
            with self.lock:
                for p in self.store.get(info.name, []):
                    if p.endpoint == endpoint:
                        msg = "RegisterPlugin error -- plugin registration failed with err: endpoint %s already registered for DRA driver plugin %s" % (endpoint, info.name)
                        notify(False, msg)
                        return msg
                if self.seen.get(path) is None:
                    return "RegisterPlugin error -- socket %s is gone" % path
                plugin = Plugin(info.name, endpoint, path, service, self.pick_health(versions), versions)
                self.store.setdefault(info.name, []).append(plugin)
                self.by_socket[path] = plugin
            # Notify comes after RegisterPlugin: even a failed notify leaves the
            # plugin registered, as in kubelet.
            nerr = notify(True, "")
            self.ev.add("registered", driver=info.name, endpoint=endpoint, socket=path, service=service,
                        health_service=plugin.health_service, versions=versions,
                        warnings=self.warnings(info.name, endpoint))
            plugin.conn_thread = threading.Thread(target=self.connection_loop, args=(plugin,), daemon=True)
            plugin.conn_thread.start()
            if plugin.health_service:
                threading.Thread(target=self.health_loop, args=(plugin,), daemon=True).start()
            if self.args.socket_monitor > 0:
                threading.Thread(target=self.monitor_loop, args=(plugin,), daemon=True).start()
            if nerr:
                self.ev.add("registration_failed", socket=path,
                            error="RegisterPlugin error -- failed to send registration status at socket %s, err: %s" % (path, nerr))
            return None
        finally:
            ch.close()

    @staticmethod
    def warnings(driver, endpoint):
        """What kubelet would accept but a driver should not send."""
        w = []
        if not driver:
            w.append("empty driver name: kubelet cannot find the plugin by it")
        if not os.path.isabs(endpoint):
            w.append("endpoint %s is not absolute: kubelet would resolve it in its own working directory" % endpoint)
        return w

    def deregister(self, path, reason):
        with self.lock:
            plugin = self.by_socket.pop(path, None)
            if plugin is None:
                return
            plugins = self.store.get(plugin.driver, [])
            if plugin in plugins:
                plugins.remove(plugin)
            if not plugins:
                self.store.pop(plugin.driver, None)
        plugin.close()
        self.ev.add("deregistered", driver=plugin.driver, endpoint=plugin.endpoint, socket=path, reason=reason)
        self.sync(plugin.driver)

    # ---- connections and ResourceSlice wiping (dra_plugin_manager.go) ----

    def connection_loop(self, plugin):
        """The gRPC connection to the DRA endpoint, as kubelet's stats
        handler sees it: READY is connected, anything else is not; when it
        ends, a reconnect is asked for at once (kubelet: conn.Connect())."""
        states = queue.Queue()
        callback = states.put
        plugin.channel.subscribe(callback, try_to_connect=True)
        try:
            while not plugin.removed.is_set() and not self.stop.is_set():
                try:
                    state = states.get(timeout=0.2)
                except queue.Empty:
                    state = None
                if state is not None:
                    up = state == grpc.ChannelConnectivity.READY
                    changed = False
                    with self.lock:
                        if up != plugin.connected and not plugin.removed.is_set():
                            plugin.connected = up
                            changed = True
                    if changed:
                        self.ev.add("connected" if up else "disconnected", driver=plugin.driver,
                                    endpoint=plugin.endpoint)
                        self.sync(plugin.driver)
                if not plugin.connected and states.empty() and not plugin.removed.is_set():
                    ready = grpc.channel_ready_future(plugin.channel)
                    try:
                        ready.result(timeout=0.5)
                    except grpc.FutureTimeoutError:
                        pass
                    finally:
                        ready.cancel()  # drops its subscription before the channel may close
        finally:
            try:
                plugin.channel.unsubscribe(callback)
            except Exception:
                pass

    @staticmethod
    def can_connect(path, timeout):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(path)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def usable(self, driver):
        return any(p.connected for p in self.store.get(driver, []))

    def sync(self, driver):
        if self.api is None or not self.args.node_name:
            return
        with self.lock:
            if self.usable(driver):
                cancel = self.wipes.pop(driver, None)
                if cancel:
                    cancel.set()
                return
            if driver in self.wipes:
                return  # already queued: the first deadline stands
            cancel = threading.Event()
            self.wipes[driver] = cancel
        threading.Thread(target=self.wipe, args=(driver, cancel, self.args.wipe_delay), daemon=True).start()

    def wipe(self, driver, cancel, delay):
        if delay and cancel.wait(delay):
            return
        # fields.Set{...}.String() sorts the keys.
        sel = {"spec.nodeName": self.args.node_name}
        if driver:
            sel["spec.driver"] = driver
        selector = ",".join("%s=%s" % (k, sel[k]) for k in sorted(sel))
        backoff = 1.0
        for _ in range(100):
            if cancel.is_set() or self.stop.is_set():
                return
            try:
                code, _ = self.api.request("DELETE", "/apis/resource.k8s.io/v1/resourceslices",
                                           {"fieldSelector": selector})
            except OSError as e:
                code = "%s" % e
            if code in (200, 404):
                self.ev.add("wiped", driver=driver, selector=selector, code=code)
                break
            self.ev.add("wipe_failed", driver=driver, selector=selector, code=code)
            if cancel.wait(backoff):
                return
            backoff = min(backoff * 2, 300.0)
        with self.lock:
            if self.wipes.get(driver) is cancel:
                del self.wipes[driver]

    # ---- monitor.go: GetInfo probes on registered sockets ----

    def monitor_loop(self, plugin):
        api = self.args.draapi
        failures = 0
        while not plugin.removed.wait(self.args.socket_monitor):
            ch = grpc.insecure_channel("unix:" + plugin.socket)
            try:
                ch.unary_unary(REG + "GetInfo", request_serializer=api.reg.InfoRequest.SerializeToString,
                               response_deserializer=api.reg.PluginInfo.FromString)(
                    api.reg.InfoRequest(), timeout=MONITOR_GETINFO_TIMEOUT)
                failures = 0
            except grpc.RpcError:
                failures += 1
            finally:
                ch.close()
            if failures >= 2:
                with self.lock:
                    # Forgotten: the watcher registers it again once it answers.
                    self.seen.pop(plugin.socket, None)
                self.deregister(plugin.socket, "GetInfo failed twice")
                return

    # ---- health (dra_plugin_manager.go, manager.go, healthinfo.go) ----

    def health_loop(self, plugin):
        service = plugin.health_service
        ns = self.args.draapi.health[service.split(".")[0]]
        while not plugin.removed.is_set() and not self.stop.is_set():
            code, details = "OK", ""
            try:
                call = plugin.channel.unary_stream(
                    HEALTH_PATH[service], request_serializer=ns.NodeWatchResourcesRequest.SerializeToString,
                    response_deserializer=ns.NodeWatchResourcesResponse.FromString)(ns.NodeWatchResourcesRequest())
                plugin.health_call = call
                for msg in call:
                    self.health_update(plugin, ns, msg)
            except grpc.RpcError as e:
                code, details = e.code().name, e.details()
            except ValueError as e:  # closed channel
                code, details = "CANCELLED", str(e)
            with self.lock:
                self.health.pop(plugin.driver, None)  # clearDriver on stream exit
            if plugin.removed.is_set():
                return
            self.ev.add("health_stream_ended", driver=plugin.driver, code=code, details=details)
            if code == "UNIMPLEMENTED":
                return
            plugin.removed.wait(HEALTH_RETRY)

    def health_update(self, plugin, ns, msg):
        names = ns.HealthStatus_names
        now = time.monotonic()
        devices = []
        with self.lock:
            cache = self.health.setdefault(plugin.driver, {})
            for d in msg.devices:
                timeout = d.health_check_timeout_seconds if d.health_check_timeout_seconds > 0 else DEFAULT_HEALTH_TIMEOUT
                entry = {"pool": d.device.pool_name, "device": d.device.device_name,
                         "health": names.get(d.health, str(d.health)), "timeout": timeout,
                         "message": d.message[:1021] + "..." if len(d.message) > 1024 else d.message,
                         "last_updated_time": d.last_updated_time}
                cache[entry["pool"] + "/" + entry["device"]] = dict(entry, received=now)
                devices.append(entry)
        self.ev.add("health", driver=plugin.driver, service=plugin.health_service, devices=devices)

    def health_view(self, driver):
        now = time.monotonic()
        out = []
        with self.lock:
            for key, e in sorted(self.health.get(driver, {}).items()):
                stale = now - e["received"] > e["timeout"]
                out.append({"pool": e["pool"], "device": e["device"],
                            "health": "UNKNOWN" if stale else e["health"], "message": "" if stale else e["message"]})
        return out

    # ---- NodePrepareResources / NodeUnprepareResources (manager.go) ----

    def get_plugin(self, driver):
        if not driver:
            return None, "DRA driver name is empty"
        with self.lock:
            plugins = self.store.get(driver, [])
            for p in reversed(plugins):
                if p.connected:
                    return p, None
            if plugins:
                return plugins[-1], None
        return None, "DRA driver %s is not registered" % driver

    def call(self, verb, driver, claims):
        """verb: "NodePrepareResources" or "NodeUnprepareResources"; claims:
        [(ns, name, uid)]. Returns the reply dict."""
        out = {"ok": False, "driver": driver, "claims": {}, "error": None}
        plugin, err = self.get_plugin(driver)
        if err:
            out["error"] = err
            return out
        out["service"] = plugin.service
        if not self.can_connect(plugin.endpoint, 1.0):
            out["error"] = "failed to ensure gRPC connection: failed to create gRPC connection to %s: failed to verify socket connectivity: dial unix %s: connect: connection refused" % (plugin.endpoint, plugin.endpoint)
            return out
        ns = self.args.draapi.v1 if plugin.service == "v1.DRAPlugin" else self.args.draapi.v1beta1
        if verb == "NodePrepareResources":
            req_cls, resp_cls = ns.NodePrepareResourcesRequest, ns.NodePrepareResourcesResponse
        else:
            req_cls, resp_cls = ns.NodeUnprepareResourcesRequest, ns.NodeUnprepareResourcesResponse
        req = req_cls()
        for c_ns, c_name, c_uid in claims:
            req.claims.add(namespace=c_ns, name=c_name, uid=c_uid)
        rpc = plugin.channel.unary_unary(DRA_PATH[plugin.service] + verb, request_serializer=req_cls.SerializeToString,
                                         response_deserializer=resp_cls.FromString)
        start = time.monotonic()
        try:
            resp = rpc(req, timeout=self.args.call_timeout)
        except grpc.RpcError as e:
            out["error"] = "%s: %s" % (verb, grpc_err(e))
            out["grpc_code"] = e.code().name
            return out
        finally:
            out["seconds"] = round(time.monotonic() - start, 3)
        names = {c[2]: c[1] for c in claims}
        errors = []
        for uid, result in resp.claims.items():
            entry = {"error": result.error}
            if verb == "NodePrepareResources":
                entry["devices"] = [{"request_names": list(d.request_names), "pool": d.pool_name,
                                     "device": d.device_name, "cdi": list(d.cdi_device_ids),
                                     "share_id": getattr(d, "share_id", "") or None} for d in result.devices]
            out["claims"][uid] = entry
            if uid not in names:
                errors.append("%s returned result for unknown claim UID %s" % (verb, uid))
            elif result.error:
                errors.append("%s failed for ResourceClaim %s: %s" % (verb, names[uid], result.error))
        unfinished = len(claims) - len(resp.claims)
        if unfinished:
            errors.append("%s skipped %d ResourceClaims" % (verb, unfinished))
        if errors:
            # Kubelet stops at the first one it meets; Go maps have no order,
            # so all of them are reported and "error" is the first.
            out["error"] = errors[0]
            out["errors"] = errors
        else:
            out["ok"] = True
        return out

    def prepare_claim(self, ns, name):
        if self.api is None:
            return {"ok": False, "error": "no --api-server"}
        code, claim = self.api.request("GET", "/apis/resource.k8s.io/v1/namespaces/%s/resourceclaims/%s" % (ns, name))
        if code != 200:
            return {"ok": False, "error": "fetch ResourceClaim %s: %s" % (name, (claim or {}).get("message")), "code": code}
        alloc = (claim.get("status") or {}).get("allocation")
        if not alloc:
            return {"ok": False, "error": "ResourceClaim %s: not allocated" % name}
        drivers = []
        for r in (alloc.get("devices") or {}).get("results") or []:
            if r.get("driver") and r["driver"] not in drivers:
                drivers.append(r["driver"])
        uid = claim["metadata"]["uid"]
        for d in drivers:
            if self.get_plugin(d)[1]:
                return {"ok": False, "error": self.get_plugin(d)[1], "drivers": drivers}
        with self.lock:
            self.claims["%s/%s" % (ns, name)] = {"uid": uid, "drivers": drivers}
        results = {d: self.call("NodePrepareResources", d, [(ns, name, uid)]) for d in drivers}
        err = next((r["error"] for r in results.values() if r["error"]), None)
        return {"ok": err is None, "error": err, "uid": uid, "drivers": results}

    def unprepare_claim(self, ns, name):
        with self.lock:
            info = self.claims.get("%s/%s" % (ns, name))
        if info is None:
            return {"ok": True, "error": None, "drivers": {}, "note": "not prepared by this kubelet"}
        results = {d: self.call("NodeUnprepareResources", d, [(ns, name, info["uid"])]) for d in info["drivers"]}
        err = next((r["error"] for r in results.values() if r["error"]), None)
        if err is None:
            with self.lock:
                self.claims.pop("%s/%s" % (ns, name), None)
        return {"ok": err is None, "error": err, "uid": info["uid"], "drivers": results}

    def plugins(self):
        with self.lock:
            return [{"driver": p.driver, "endpoint": p.endpoint, "socket": p.socket, "service": p.service,
                     "health_service": p.health_service, "connected": p.connected}
                    for ps in self.store.values() for p in ps]


def parse_claims(args):
    out = []
    for a in args:
        parts = a.split("/")
        if len(parts) != 3:
            raise ValueError("claim %r: want NAMESPACE/NAME/UID" % a)
        out.append(tuple(parts))
    return out


def command(k, line):
    words = shlex.split(line)
    if not words:
        return None
    cmd, args = words[0], words[1:]
    reply = {"cmd": cmd}
    try:
        if cmd == "wait":
            match, timeout, after = {}, 10000, 0
            for a in args[1:]:
                key, _, val = a.partition("=")
                if key == "timeout":
                    timeout = int(val)
                elif key == "after":
                    after = int(val)
                else:
                    match[key] = val
            ev = k.ev.wait(args[0], match, after, timeout / 1000.0)
            reply.update(ok=ev is not None, event=ev)
            if ev is None:
                reply["error"] = "no %s event matching %s within %d ms" % (args[0], match, timeout)
        elif cmd == "events":
            with k.ev.cond:
                reply.update(ok=True, events=list(k.ev.items))
        elif cmd == "plugins":
            reply.update(ok=True, plugins=k.plugins())
        elif cmd in ("prepare", "unprepare"):
            verb = "NodePrepareResources" if cmd == "prepare" else "NodeUnprepareResources"
            reply.update(k.call(verb, args[0], parse_claims(args[1:])))
        elif cmd == "prepare-claim":
            reply.update(k.prepare_claim(args[0], args[1]))
        elif cmd == "unprepare-claim":
            reply.update(k.unprepare_claim(args[0], args[1]))
        elif cmd == "health":
            reply.update(ok=True, driver=args[0], devices=k.health_view(args[0]))
        elif cmd == "quit":
            reply["ok"] = True
        else:
            reply.update(ok=False, error="unknown command %s" % cmd)
    except (IndexError, ValueError) as e:
        reply.update(ok=False, error="bad arguments to %s: %s" % (cmd, e))
    return reply


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--registration-dir", required=True)
    p.add_argument("--desc", required=True, help="dra.desc from dra/proto")
    p.add_argument("--versions", default="v1.DRAPlugin,v1beta1.DRAPlugin")
    p.add_argument("--health-versions", default="v1alpha1.DRAResourceHealth")
    p.add_argument("--health-mode", choices=("advertised", "always", "off"), default="advertised")
    p.add_argument("--call-timeout", type=float, default=45.0)
    p.add_argument("--node-name", default="")
    p.add_argument("--api-server")
    p.add_argument("--token-file")
    p.add_argument("--ca-file")
    p.add_argument("--wipe-delay", type=float, default=30.0)
    p.add_argument("--socket-monitor", type=float, default=10.0)
    p.add_argument("--events")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    global VERBOSE
    VERBOSE = VERBOSE or args.verbose
    args.draapi = draapi.load(args.desc)
    api = ApiClient(args.api_server, args.token_file, args.ca_file) if args.api_server else None
    k = Kubelet(args, api, Events(args.events))
    if api is not None and args.node_name:
        # NewDRAPluginManager: no driver is usable before it registers.
        threading.Thread(target=k.wipe, args=("", threading.Event(), 0), daemon=True).start()
    threading.Thread(target=k.watch, daemon=True).start()
    for line in sys.stdin:
        reply = command(k, line)
        if reply is None:
            continue
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if reply["cmd"] == "quit":
            break
    k.stop.set()
    with k.lock:
        plugins = list(k.by_socket.values())
    for plugin in plugins:
        plugin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

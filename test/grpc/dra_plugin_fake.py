#!/usr/bin/python3
"""A fake DRA plugin, only to test the kubelet stand-in (dra_kubelet.py)
itself: the real peer of dra_kubelet.py is kyborg-dra-driver. Serves the
registration socket DIR/<driver>-reg.sock and the DRA socket
PLUGIN_DIR/dra.sock the way k8s.io/dynamic-resource-allocation/kubeletplugin
lays them out, with Debian's python3-grpcio.

Usage: dra_plugin_fake.py --desc dra.desc --registration-dir DIR --plugin-dir PDIR
  [--driver NAME] [--type DRAPlugin] [--versions v1.DRAPlugin,v1beta1.DRAPlugin,v1alpha1.DRAResourceHealth]
  [--serve v1,v1beta1,v1alpha1] (the services actually served; default: what --versions names)
  [--endpoint PATH] (what GetInfo answers; default PDIR/dra.sock)
  [--getinfo-delay S] [--device POOL/NAME ...] [--log FILE]
Claims: name "fail-..." is answered with a per-claim error, "skip-..." is left
out of the answer, "slow-..." takes 3 s; others get one entry per --device with
CDI ID "<driver>/fake=<uid>-<device>" (and share_id "share-<uid>" on v1).
Health: the device list every 0.5 s, HEALTHY, or UNHEALTHY for devices named
"sick-...". Each call is appended to --log as a JSON line. SIGTERM removes
both sockets and exits 0."""
import argparse
import json
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

import draapi


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--desc", required=True)
    p.add_argument("--registration-dir", required=True)
    p.add_argument("--plugin-dir", required=True)
    p.add_argument("--driver", default="fake.kyborg.io")
    p.add_argument("--type", default="DRAPlugin")
    p.add_argument("--versions", default="v1.DRAPlugin,v1beta1.DRAPlugin,v1alpha1.DRAResourceHealth")
    p.add_argument("--serve")
    p.add_argument("--endpoint")
    p.add_argument("--getinfo-delay", type=float, default=0.0)
    p.add_argument("--device", action="append", default=[])
    p.add_argument("--log")
    a = p.parse_args()
    api = draapi.load(a.desc)
    versions = [v for v in a.versions.split(",") if v]
    serve = a.serve.split(",") if a.serve is not None else [v.split(".")[0] for v in versions]
    os.makedirs(a.plugin_dir, exist_ok=True)
    dra_sock = os.path.join(a.plugin_dir, "dra.sock")
    reg_sock = os.path.join(a.registration_dir, a.driver + "-reg.sock")
    endpoint = dra_sock if a.endpoint is None else a.endpoint
    lock = threading.Lock()

    def log(**entry):
        if a.log:
            with lock, open(a.log, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def get_info(req, ctx):
        log(call="GetInfo")
        time.sleep(a.getinfo_delay)
        return api.reg.PluginInfo(type=a.type, name=a.driver, endpoint=endpoint, supported_versions=versions)

    def notify(req, ctx):
        log(call="NotifyRegistrationStatus", registered=req.plugin_registered, error=req.error)
        if not req.plugin_registered:
            # As the kubeletplugin helper answers a refusal.
            ctx.abort(grpc.StatusCode.UNKNOWN, "failed registration process: %s" % req.error)
        return api.reg.RegistrationStatusResponse()

    def devices_of(name):
        return [tuple(d.split("/", 1)) for d in a.device] if a.device else [("pool", name)]

    def prepare_for(ns, version):
        def prepare(req, ctx):
            resp = ns.NodePrepareResourcesResponse()
            for c in req.claims:
                log(call="NodePrepareResources", version=version, namespace=c.namespace, name=c.name, uid=c.uid)
                if c.name.startswith("skip-"):
                    continue
                if c.name.startswith("slow-"):
                    time.sleep(3)
                r = resp.claims[c.uid]
                if c.name.startswith("fail-"):
                    r.error = "claim %s/%s: refused by the fake" % (c.namespace, c.name)
                    continue
                for pool, dev in devices_of(c.name):
                    d = r.devices.add(request_names=["req"], pool_name=pool, device_name=dev,
                                      cdi_device_ids=["%s/fake=%s-%s" % (a.driver, c.uid, dev)])
                    if version == "v1":
                        d.share_id = "share-" + c.uid
            return resp
        return prepare

    def unprepare_for(ns, version):
        def unprepare(req, ctx):
            resp = ns.NodeUnprepareResourcesResponse()
            for c in req.claims:
                log(call="NodeUnprepareResources", version=version, namespace=c.namespace, name=c.name, uid=c.uid)
                if c.name.startswith("skip-"):
                    continue
                r = resp.claims[c.uid]
                if c.name.startswith("fail-"):
                    r.error = "claim %s/%s: refused by the fake" % (c.namespace, c.name)
            return resp
        return unprepare

    def watch_for(ns, version):
        def watch(req, ctx):
            log(call="NodeWatchResources", version=version)
            while ctx.is_active():
                msg = ns.NodeWatchResourcesResponse()
                for pool, dev in devices_of("dev0"):
                    h = msg.devices.add()
                    h.device.pool_name = pool
                    h.device.device_name = dev
                    h.health = ns.UNHEALTHY if dev.startswith("sick-") else ns.HEALTHY
                    h.last_updated_time = int(time.time())
                    h.message = "fake says so"
                yield msg
                time.sleep(0.5)
        return watch

    def unary(fn, req_cls, resp_cls):
        return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=req_cls.FromString,
                                                   response_serializer=resp_cls.SerializeToString)

    reg = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    reg.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("pluginregistration.Registration", {
        "GetInfo": unary(get_info, api.reg.InfoRequest, api.reg.PluginInfo),
        "NotifyRegistrationStatus": unary(notify, api.reg.RegistrationStatus, api.reg.RegistrationStatusResponse),
    }),))
    dra = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    handlers = []
    for version, ns in (("v1", api.v1), ("v1beta1", api.v1beta1)):
        if version in serve:
            handlers.append(grpc.method_handlers_generic_handler(ns.package + ".DRAPlugin", {
                "NodePrepareResources": unary(prepare_for(ns, version), ns.NodePrepareResourcesRequest,
                                              ns.NodePrepareResourcesResponse),
                "NodeUnprepareResources": unary(unprepare_for(ns, version), ns.NodeUnprepareResourcesRequest,
                                                ns.NodeUnprepareResourcesResponse),
            }))
    for version, ns in api.health.items():
        if version in serve:
            handlers.append(grpc.method_handlers_generic_handler(version + ".DRAResourceHealth", {
                "NodeWatchResources": grpc.unary_stream_rpc_method_handler(
                    watch_for(ns, version), request_deserializer=ns.NodeWatchResourcesRequest.FromString,
                    response_serializer=ns.NodeWatchResourcesResponse.SerializeToString),
            }))
    dra.add_generic_rpc_handlers(tuple(handlers))
    # DRA socket first, then the registration socket: kubelet may call at once.
    dra.add_insecure_port("unix:" + dra_sock)
    dra.start()
    reg.add_insecure_port("unix:" + reg_sock)
    reg.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.2):
        pass
    for path in (reg_sock, dra_sock):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    reg.stop(0)
    dra.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

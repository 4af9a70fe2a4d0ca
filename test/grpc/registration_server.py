#!/usr/bin/python3
"""Plays kubelet's Registration service on DIR/kubelet.sock, with Debian's
python3-grpcio (a stand-in, written from kubelet's
pkg/kubelet/cm/devicemanager/plugin/v1beta1/server.go). As kubelet does, it
dials the plugin's endpoint (relative to DIR) and calls
GetDevicePluginOptions before it answers Register, with a context of its
own: a plugin that gives up on its Register does not stop the dial-back.
Every Register received is appended to DIR/register-calls as
"resource endpoint" at once (kubelet counts them in its
device_plugin_registration_total metric); each accepted registration to
DIR/registered as "resource endpoint pre_start_required
get_preferred_allocation_available".
Usage: registration_server.py DIR DESC [--delay-ms N] [--tag T]
  --delay-ms N  wait N ms before the dial-back (a kubelet busy elsewhere)
  --tag T       write DIR/register-calls.T and DIR/registered.T instead, so
                that two incarnations in one DIR keep their counts apart
Runs until SIGTERM."""
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

import dpapi


def main():
    d, desc = sys.argv[1:3]
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    delay = int(opts.get("--delay-ms", "0")) / 1000.0
    suffix = "." + opts["--tag"] if "--tag" in opts else ""
    api = dpapi.load(desc)
    lock = threading.Lock()

    def append(name, line):
        with lock, open(os.path.join(d, name + suffix), "a") as f:
            f.write(line)

    def register(req, ctx):
        append("register-calls", "%s %s\n" % (req.resource_name, req.endpoint))
        if req.version != "v1beta1":
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported version %s" % req.version)
        if req.resource_name == "kyborg.io/reject":
            ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, "rejected: résumé 100%")
        if req.resource_name == "kyborg.io/slow":
            time.sleep(3)
        time.sleep(delay)
        with grpc.insecure_channel("unix:" + os.path.join(d, req.endpoint)) as ch:
            get = ch.unary_unary("/v1beta1.DevicePlugin/GetDevicePluginOptions",
                                 request_serializer=api.Empty.SerializeToString,
                                 response_deserializer=api.DevicePluginOptions.FromString)
            try:
                # Kubelet dials with WithBlock and a 10 s timeout: a socket
                # that is not there yet is waited for.
                got = get(api.Empty(), timeout=10, wait_for_ready=True)
            except grpc.RpcError as e:
                ctx.abort(grpc.StatusCode.UNAVAILABLE, "dial back %s: %s" % (req.endpoint, e.code()))
        append("registered", "%s %s %d %d\n" % (req.resource_name, req.endpoint, got.pre_start_required,
                                                  got.get_preferred_allocation_available))
        return api.Empty()

    handler = grpc.method_handlers_generic_handler("v1beta1.Registration", {
        "Register": grpc.unary_unary_rpc_method_handler(
            register, request_deserializer=api.RegisterRequest.FromString,
            response_serializer=api.Empty.SerializeToString),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port("unix:" + os.path.join(d, "kubelet.sock"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    while not stop.wait(0.5):
        pass
    server.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())

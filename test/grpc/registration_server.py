#!/usr/bin/python3
"""Plays kubelet's Registration service on DIR/kubelet.sock, with Debian's
python3-grpcio. As kubelet does, it dials the plugin's endpoint (relative to
DIR) and calls GetDevicePluginOptions before it answers Register. Each
accepted registration is appended to DIR/registered as one line:
"resource endpoint pre_start_required get_preferred_allocation_available".
Usage: registration_server.py DIR DESC. Runs until SIGTERM."""
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
    api = dpapi.load(desc)

    def register(req, ctx):
        if req.version != "v1beta1":
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported version %s" % req.version)
        if req.resource_name == "kyborg.io/reject":
            ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, "rejected: résumé 100%")
        if req.resource_name == "kyborg.io/slow":
            time.sleep(3)
        with grpc.insecure_channel("unix:" + os.path.join(d, req.endpoint)) as ch:
            get = ch.unary_unary("/v1beta1.DevicePlugin/GetDevicePluginOptions",
                                 request_serializer=api.Empty.SerializeToString,
                                 response_deserializer=api.DevicePluginOptions.FromString)
            try:
                opts = get(api.Empty(), timeout=5)
            except grpc.RpcError as e:
                ctx.abort(grpc.StatusCode.UNAVAILABLE, "dial back %s: %s" % (req.endpoint, e.code()))
        with open(os.path.join(d, "registered"), "a") as f:
            f.write("%s %s %d %d\n" % (req.resource_name, req.endpoint,
                                       opts.pre_start_required, opts.get_preferred_allocation_available))
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

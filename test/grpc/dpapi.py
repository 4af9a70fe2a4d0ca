"""Message classes of deviceplugin/api.proto, built at run time from the
FileDescriptorSet protoc-c wrote (no protoc or grpc-tools needed)."""
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def load(desc_path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(desc_path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)

    class Api:
        pass

    api = Api()
    for fd in fds.file:
        for name in fd.message_type:
            desc = pool.FindMessageTypeByName(fd.package + "." + name.name)
            setattr(api, name.name, factory.GetPrototype(desc))
    return api

# protoc-c names a service's C function-pointer member after the rpc in
# lower case: Registration.Register becomes `register`, a C keyword, and the
# header does not compile. Rename the member; the wire format is untouched
# (our gRPC layer dispatches by method path, not by these structs).
# Run as: cmake -DHEADER=<api.pb-c.h> -P protoc_c_fixup.cmake
file(READ ${HEADER} text)
string(REPLACE "(*register)(" "(*register_)(" text "${text}")
string(REPLACE "## register " "## register_ " text "${text}")
file(WRITE ${HEADER} "${text}")

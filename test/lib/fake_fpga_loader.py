# Stand-in for an admin's FPGA loader in tests (no FPGA here): records the
# load ("ID IMAGE SHA256-OF-WHAT-IT-READ") and sets the port's afu_id as a
# real partial reconfiguration would.
# argv: LOG SYSFS_PORT_DIR ID IMAGE [GATE]
# With GATE, it first creates GATE.started and waits (20 s at most) until
# GATE exists: a load that lasts as long as the test wants.
import hashlib
import os
import sys
import time

log, sysfs, afu, image = sys.argv[1:5]
if len(sys.argv) > 5:
    gate = sys.argv[5]
    open(gate + ".started", "w").close()
    deadline = time.monotonic() + 20
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            sys.exit("fake_fpga_loader: gate never opened")
        time.sleep(0.01)
with open(image, "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
with open(log, "a") as f:
    f.write("%s %s %s\n" % (afu, image, digest))
with open(sysfs + "/afu_id", "w") as f:
    f.write(afu.replace("-", "").lower() + "\n")

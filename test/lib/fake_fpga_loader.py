# Stand-in for an admin's FPGA loader in tests (no FPGA here): records the
# load and sets the port's afu_id as a real partial reconfiguration would.
# argv: LOG SYSFS_PORT_DIR ID IMAGE
import sys

log, sysfs, afu, image = sys.argv[1:5]
with open(image, "rb") as f:
    f.read()
with open(log, "a") as f:
    f.write("%s %s\n" % (afu, image))
with open(sysfs + "/afu_id", "w") as f:
    f.write(afu.replace("-", "").lower() + "\n")

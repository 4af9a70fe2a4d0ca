#!/usr/bin/python3
"""The node demo, interrupted with Ctrl-C half way (SIGINT to its whole
process group, as a terminal sends it) once both pods are up: it must say so,
exit non-zero, and leave no link, netns, process or file of its own.

Usage: check_demo_interrupt.py NODE_DEMO BUILD_DIR"""
import os
import re
import signal
import subprocess
import sys
import time


def main():
    demo, build = sys.argv[1:3]
    p = subprocess.Popen(["/usr/bin/python3", "-u", demo, "--build", build], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    tag = "kyd%d" % (p.pid % 100000)
    out, tmp, sent = [], None, False
    deadline = time.monotonic() + 60
    for line in p.stdout:
        out.append(line)
        m = re.search(r"(/tmp/kyborg-demo\.[^/\s]+)", line)
        if m and not tmp:
            tmp = m.group(1)
        # Both pods are up: the node is at its busiest.
        if not sent and line.startswith("[7]"):
            os.killpg(p.pid, signal.SIGINT)
            sent = True
        if time.monotonic() > deadline:
            break
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        rc = p.wait()
    text = "".join(out)
    failures = []
    if not sent:
        failures.append("the demo never reached step 7 (both pods up)")
    if rc == 0:
        failures.append("exit status 0 after an interrupt")
    if "interrupted: cleaning up" not in text:
        failures.append("no 'interrupted: cleaning up' line")
    if "nothing of the demo is left" not in text:
        failures.append("the demo did not report a clean machine")
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    left = sorted(set(re.findall(r"\d+: (%s[^:@\s]*)" % tag, links)))
    left += [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
             if n.startswith(tag)]
    if tmp and os.path.exists(tmp):
        left.append(tmp)
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if tmp and tmp.encode() in f.read():
                        left.append("process %s" % pid)
            except OSError:
                pass
    if left:
        failures.append("left behind: " + ", ".join(left))
    sys.stdout.write(text)
    if failures:
        print("\nFAIL: " + "; ".join(failures))
        return 1
    print("\nok: interrupted at step 7, exit status %d, nothing of the demo (%s*, %s) is left" % (rc, tag, tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())

/* Network namespaces: open one by path, and run a piece of work inside it,
 * always coming back to the caller's namespace, also on error. */
#pragma once

struct ky_error;

typedef int (*ky_netns_fn)(void *arg, struct ky_error **err);

/* Opens `path` (e.g. /var/run/netns/x or /proc/PID/ns/net) O_CLOEXEC and
 * checks that it is a network namespace. -EINVAL naming the path if not. */
int ky_netns_open(const char *path, int *fd, struct ky_error **err);

/* Runs fn(arg) with the calling thread inside the netns `fd` (or `path`), and
 * returns fn's result. Sockets fn opens stay in that netns. If the thread
 * cannot return to its original netns, -ENOTRECOVERABLE: the caller must
 * stop (the library never exits on its own). */
int ky_netns_run_fd(int fd, ky_netns_fn fn, void *arg, struct ky_error **err);
int ky_netns_run(const char *path, ky_netns_fn fn, void *arg, struct ky_error **err);

/* Whether two fds refer to the same network namespace (same inode). */
int ky_netns_same(int fd_a, int fd_b);

/* One run of a verb over one attachment: the state store, the
 * attachment's lock and record (the journal of cni_steps.c, and how it is
 * written), the netns the plugin started in and the pod's, and a netlink
 * socket in each. Below the verbs and the steps, which both use it. */
#include "cni_private.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netns.h"
#include "kyborg/state/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Whether the key's record was last written before this boot. A clock set
 * forward can make a record of this boot look older, but nothing of this
 * boot tears a record (ky_state_write_fast is atomic). */
static bool written_before_boot(struct ky_state_lock *l)
{
	struct timespec mtime;
	return ky_state_mtime(l, &mtime) == 0 && ky_boot_before(&mtime);
}

static int open_nl_here(void *arg, struct ky_error **err)
{
	return ky_nl_open(arg, err);
}

int ky_cni_run_pod_nl(struct ky_cni_run *r, struct ky_nl **out, struct ky_error **err)
{
	if (!r->pod_nl) {
		if (r->netns_fd < 0)
			return ky_error_set(err, ENOENT, "pod netns %s is gone", r->netns_path ? r->netns_path : "");
		int ret = ky_netns_run_fd(r->netns_fd, open_nl_here, &r->pod_nl, err);
		if (ret < 0)
			return ret;
	}
	*out = r->pod_nl;
	return 0;
}

void ky_cni_run_drop_netns(struct ky_cni_run *r)
{
	ky_nl_close(r->pod_nl);
	r->pod_nl = NULL;
	if (r->netns_fd >= 0)
		close(r->netns_fd);
	r->netns_fd = -1;
}

static void *close_fd(void *arg)
{
	close((int)(intptr_t)arg);
	return NULL;
}

void ky_cni_run_close_later(struct ky_cni_run *r, int fd)
{
	if (fd < 0)
		return;
	if (r->closer_started || pthread_create(&r->closer, NULL, close_fd, (void *)(intptr_t)fd) != 0) {
		close(fd);
		return;
	}
	r->closer_started = true;
}

void ky_cni_run_close(struct ky_cni_run *r)
{
	if (r->closer_started)
		pthread_join(r->closer, NULL);
	ky_state_unlock(r->lock);
	ky_state_close(r->store);
	ky_nl_close(r->nl);
	ky_cni_record_free(r->rec);
	ky_cni_run_drop_netns(r);
	if (r->host_fd >= 0)
		close(r->host_fd);
	memset(r, 0, sizeof(*r));
}

void ky_cni_run_closep(struct ky_cni_run **r)
{
	ky_cni_run_close(*r);
}

int ky_cni_state_open(struct ky_cni *c, struct ky_state_store **out, struct ky_error **err)
{
	int ret = ky_state_open(c->conf.state_dir, out, err);
	if (ret < 0) {
		ky_error_prefix(err, "stateDir");
		/* A symlink, or a directory others can write: the config's. */
		return ky_error_set_status(err, ret == -ELOOP || ret == -ENOTDIR || ret == -EPERM ? KY_CNI_E_CONFIG :
										       KY_CNI_E_IO);
	}
	return 0;
}

int ky_cni_run_open(struct ky_cni *c, struct ky_cni_run *r, const char *container_id, const char *ifname,
		    int lock_flags, struct ky_error **err)
{
	*r = (struct ky_cni_run){ .c = c, .container_id = container_id, .ifname = ifname, .netns_fd = -1, .host_fd = -1 };
	char key[KY_STATE_KEY_MAX + 1];
	int ret = ky_cni_state_key(c->conf.name, container_id, ifname, key, sizeof(key));
	if (ret < 0) {
		ky_error_set(err, -ret, "network name, container ID and ifname make no valid state key");
		return ky_error_set_status(err, KY_CNI_E_CONFIG);
	}
	if ((ret = ky_cni_state_open(c, &r->store, err)) < 0)
		return ret;
	if ((ret = ky_state_lock(r->store, key, lock_flags, &r->lock, err)) < 0)
		return ky_error_set_status(err, ret == -EWOULDBLOCK ? KY_CNI_E_AGAIN : KY_CNI_E_IO);
	if ((ret = ky_nl_open(&r->nl, err)) < 0)
		return ky_error_set_status(err, KY_CNI_E_INTERNAL);
	r->host_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (r->host_fd < 0) {
		ky_error_set(err, errno, "open own netns: %s", strerror(errno));
		return ky_error_set_status(err, KY_CNI_E_INTERNAL);
	}
	ret = ky_cni_record_load(r->lock, &r->rec, err);
	if (ret == -EBADMSG && written_before_boot(r->lock)) {
		/* Our writes are atomic against any process's death, so an
		 * unreadable record is a crash's work (an atomic-only write
		 * not yet on disk, see cni_steps.c), and a crash reboots the
		 * node: nothing of the attachment is left in the kernel. It is
		 * then as if there were no record (DEL still releases the IPAM
		 * address with the runtime's config); it must not fail DEL for
		 * ever. An unreadable record from this boot is still an error. */
		ky_log_err(KY_LOG_WARN, "stale-record-dropped", *err, "container=%s ifname=%s", container_id, ifname);
		ky_error_clear(err);
		if ((ret = ky_state_delete(r->lock, err)) < 0)
			return ky_error_set_status(err, KY_CNI_E_IO);
		return 0;
	}
	if (ret == -ENOENT) {
		ky_error_clear(err);
		return 0;
	}
	if (ret < 0)
		return ky_error_set_status(err, KY_CNI_E_STATE);
	return 1;
}

void ky_cni_run_open_netns(struct ky_cni_run *r, const char *netns_path)
{
	const char *path = netns_path ? netns_path : r->rec->netns;
	r->netns_path = path;
	if (path && ky_netns_open(path, &r->netns_fd, NULL) < 0)
		r->netns_fd = -1;
	/* The host is no pod: nothing of ours is "in the pod" there, and
	 * undo looks for the device in the host anyway. */
	if (r->netns_fd >= 0 && ky_netns_same(r->netns_fd, r->host_fd) != 0)
		ky_cni_run_drop_netns(r);
}

int ky_cni_run_write(struct ky_cni_run *r, bool durable, struct ky_error **err)
{
	/* Once a record that must survive a crash is on disk, an atomic-only
	 * write must not replace it: on a file system that does not flush a
	 * file renamed over another, a crash could leave the name on an empty
	 * file, and the durable record lost with it. */
	r->durable |= durable;
	int ret = ky_cni_record_save(r->lock, r->rec, r->durable, err);
	if (ret < 0)
		return ky_error_prefix(err, "write state record");
	return 0;
}

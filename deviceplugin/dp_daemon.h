/* The daemon's state, one struct passed down (no globals): the loop, the
 * config, the discovered devices, one plugin per resource (its gRPC server,
 * open ListAndWatch streams and registration), and the plugin-dir watch. */
#pragma once

#include "dp.h"
#include "kyborg/device/device_fpga.h"
#include "kyborg/device/device_watch.h"
#include "kyborg/grpc/grpc.h"
#include "kyborg/loop/loop.h"
#include "kyborg/net/link_watch.h"
#include "kyborg/state/state_store.h"

struct dp_daemon;

/* GetDevicePluginOptions, ListAndWatch, GetPreferredAllocation, Allocate. */
#define DP_SERVER_METHODS 4

struct dp_plugin {
	struct dp_daemon *d;
	const struct ky_device_resource *res;
	const struct ky_devlist *devs;
	char *endpoint;    /* socket name in the plugin dir, as Register sends it */
	char *socket_path;
	struct ky_grpc_method methods[DP_SERVER_METHODS + 1]; /* + PreStartContainer */
	struct ky_grpc_server *srv;
	bool cdi_written; /* the CDI spec is in place: Allocate names CDI devices */
	struct ky_grpc_stream **streams;
	size_t n_streams, cap_streams;
	/* Registration with kubelet. */
	struct ky_grpc_call *call;
	/* The kubelet.sock the call is connected to (its device and inode; 0:
	 * not known): one kubelet incarnation. */
	dev_t call_dev;
	ino_t call_ino;
	struct ky_loop_timer *retry;
	uint64_t backoff_ms;
	bool registered;
};

/* An allocation waiting for its checkpoint record (copies: a reload may
 * free the plugin before the flush). */
struct dp_pending {
	char *resource, *id, *pci;
	const char *kind;
	const char *bitstream; /* only for dp_checkpoint_programmed */
	char at[32];
};

struct dp_job;

struct dp_daemon {
	const struct dp_options *opts;
	struct ky_loop *loop;
	struct ky_device_config *cfg;
	struct ky_pci_list *pci;
	struct ky_devlist *devs;
	/* plugins[i] serves cfg->resources[i] with devs[i]; NULL where the
	 * resource's front end is another (the DRA driver serves it). */
	struct dp_plugin **plugins;
	size_t n_plugins;
	/* The plugin dir, watched for kubelet's restarts. */
	int inotify_fd;
	struct ky_loop_io *inotify_io;
	struct ky_loop_timer *reconcile;
	bool kubelet_sock_created;
	/* Hot-plug: udev events trigger a new discovery shortly after. */
	struct ky_device_watch *watch;
	/* PF carrier: rtnetlink link events (NULL when the socket failed). */
	struct ky_link_watch *links;
	/* <state dir>/allocations: one checkpoint record per resource. */
	struct ky_state_store *checkpoint;
	struct dp_pending *pending;
	size_t n_pending, cap_pending;
	struct ky_loop_timer *flush;
	/* PreStartContainer calls programming in a child process. */
	struct dp_job *jobs;
	/* The image cache, and bitstream downloads running in children,
	 * reaped when they end. */
	char *image_cache;
	struct ky_device_images images;
	struct ky_device_prefetch *prefetches;
};

/* dp_plugin.c: a resource's plugin. Allocated: its address is the
 * userdata of its methods, timer and call. */
int dp_plugin_new(struct dp_daemon *d, const struct ky_device_resource *res, const struct ky_devlist *devs,
		  struct dp_plugin **out, struct ky_error **err);
void dp_plugin_free(struct dp_plugin *p);

/* dp_server.c: the resource's gRPC server and its DevicePlugin service. */
/* Fills the service's methods (all but PreStartContainer). */
void dp_server_methods(struct dp_plugin *p, struct ky_grpc_method m[DP_SERVER_METHODS]);
/* Serves on the plugin's socket (a server already there is replaced). */
int dp_server_start(struct dp_plugin *p, struct ky_error **err);
void dp_server_stop(struct dp_plugin *p);
/* Stops, and frees what the open streams needed. */
void dp_server_release(struct dp_plugin *p);
/* Our socket is still the file we listen on. */
bool dp_server_socket_present(const struct dp_plugin *p);
/* Sends the full device list to every open ListAndWatch stream. */
void dp_server_broadcast(struct dp_plugin *p);
/* Writes the resource's CDI spec (a failure is logged: kubelet's device
 * specs still carry the nodes); Allocate names CDI devices once it is. */
void dp_server_write_cdi(struct dp_plugin *p);

/* dp_prestart.c: PreStartContainer served by a child process, answered
 * when it reports (the loop serves everything else meanwhile). */
void dp_prestart_method(struct dp_plugin *p, struct ky_grpc_method *m);
/* Forgets running jobs (their children finish on their own). */
void dp_prestart_release(struct dp_daemon *d);

/* dp_register.c: Register with kubelet, retried with backoff. */
#define DP_REGISTER_TIMEOUT_MS 5000
/* kubelet.sock appears at bind(), a moment before kubelet listens: the
 * first retry comes soon. */
#define DP_BACKOFF_MIN_MS 50
#define DP_BACKOFF_MAX_MS 5000
int dp_register_init(struct dp_plugin *p, struct ky_error **err);
/* Starts a registration now (an earlier one in flight is dropped), serving
 * our socket first where it is not served. */
void dp_register_start(struct dp_plugin *p);
/* The same with the backoff back at its minimum (kubelet came back). */
void dp_register_restart(struct dp_plugin *p);
/* kubelet.sock appeared, or our socket was lost (and is served again here):
 * registers again, unless a Register to the kubelet.sock that is there now
 * (the same inode: the same kubelet) is still in flight. That one is left
 * to finish, as kubelet dials back by path; a second would be a second
 * registration with the same kubelet, which drops the first endpoint. */
void dp_register_kubelet_changed(struct dp_plugin *p);
void dp_register_release(struct dp_plugin *p);

/* dp_watch.c: the plugin-dir watch that serves and registers again after
 * kubelet restarts. */
int dp_watch_start(struct dp_daemon *d, struct ky_error **err);
void dp_watch_stop(struct dp_daemon *d);

/* dp_hotplug.c: PCI uevents lead to a new discovery; resources whose list
 * changed send it on every ListAndWatch stream. */
int dp_hotplug_start(struct dp_daemon *d, struct ky_error **err);
void dp_hotplug_stop(struct dp_daemon *d);

/* dp_link.c: PF link health. Watches link events (a failure leaves health
 * to the drivers, with a warning); a carrier change sends the lists it
 * changes. */
int dp_link_start(struct dp_daemon *d, struct ky_error **err);
void dp_link_stop(struct dp_daemon *d);
/* Takes health again for lists built from cfg and pci (changed: per
 * resource, may be NULL). */
void dp_link_apply(struct dp_daemon *d, const struct ky_device_config *cfg, struct ky_devlist *devs,
		   const struct ky_pci_list *pci, bool *changed);

/* dp_checkpoint.c: allocations kept in the state store, a record per device. */
/* Opens <state dir>/allocations and logs how many records a daemon before
 * us left there. */
int dp_checkpoint_open(struct dp_daemon *d, struct ky_error **err);
/* Writes every queued record now (on a timer armed by
 * dp_checkpoint_allocated, before reload and at exit). */
void dp_checkpoint_flush(struct dp_daemon *d);
/* Flushes, then closes the store. */
void dp_checkpoint_close(struct dp_daemon *d);
/* Queues records for ids (known to p->devs) as allocated now; written on
 * the next loop round, after the answer is sent. */
int dp_checkpoint_allocated(struct dp_plugin *p, char *const *ids, size_t n, struct ky_error **err);
/* Adds the bitstream a PreStartContainer left in an allocated port to its
 * record (none: nothing to do). */
int dp_checkpoint_programmed(struct dp_daemon *d, const char *resource, const char *id, const char *bitstream,
			     struct ky_error **err);

/* dp_reload.c: SIGHUP. Loads the config again: resources that changed (or
 * are new) are served and registered afresh, removed ones stop serving, the
 * others keep their sockets and streams. A bad config changes nothing. */
int dp_reload(struct dp_daemon *d, struct ky_error **err);

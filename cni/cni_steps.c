/* ADD as a list of steps, each with its undo; the state record is the
 * journal. A step is written into the journal before it touches the
 * kernel, so a process killed anywhere leaves a record naming every change
 * that may have happened; undos therefore tolerate steps that never ran.
 * That tolerance also lets one write name a step together with the "early"
 * steps after it (an undo that changes nothing when its step never ran), so
 * an ADD of a netdev writes the record twice, not once per step.
 *
 * Which journal writes are durable (fsync of the record and of the state
 * directory, ky_state_write) and which are only atomic (rename, no fsync,
 * ky_state_write_fast), and why:
 * - What the journal must survive is this plugin being killed (SIGKILL,
 *   OOM, the runtime's timeout) at any point, followed by DEL, GC or ADD
 *   again. A killed process leaves its writes in the page cache, which every
 *   later reader sees, and rename(2) replaces the record whole: the atomic
 *   write is enough for that, fsync adds nothing to it.
 * - fsync only matters when the kernel itself dies (power loss, panic).
 *   The node then reboots: every pod netns is gone, a veth with it, and a
 *   physical netdev is back in the host under a boot-time name with a
 *   boot-time MAC and MTU. The steps move, link and addresses leave nothing
 *   behind that outlives the kernel, so the journal writes before them are
 *   atomic only. Whatever a crash makes of such a record (the old record,
 *   none, or on some file systems an empty one), DEL has nothing of those
 *   steps to undo; ky_cni_run_open drops a record left unreadable from
 *   before the last boot (see there) so that it cannot block DEL.
 * - Two steps change what can outlive the kernel: vf-config (the VF's
 *   settings live in the PF's driver and firmware; on a SmartNIC whose
 *   eswitch is run by its own OS they outlive a host crash) and ipam (a
 *   host-local reservation is a file on disk, a DHCP lease lives on a
 *   server). The record naming them, with the VF's previous settings and
 *   the IPAM config, is written durably before they run, so DEL and GC
 *   after a crash still restore the PF and release the address; every
 *   write after that one is durable too (ky_cni_run_write), the record
 *   of the finished ADD included.
 * - bpf and offload change nothing that outlives the kernel: programs,
 *   their pins (bpffs lives in memory) and tc filters go with it. Their
 *   records are atomic only, unless an earlier write was durable.
 * - The record of a finished ADD without either step is written atomically
 *   only, like the journal before it: after a crash there is nothing of
 *   such an attachment to undo, and the runtime's DEL succeeds with the
 *   record lost (no record), stale (undos of steps whose effects the reboot
 *   already undid find the device as it was) or empty (dropped, see
 *   ky_cni_run_open). A durable write would buy nothing there.
 * - DEL's removal of the record is atomic only (ky_state_delete_fast). A
 *   record a crash brings back is one of many: every record of a pod alive
 *   at the crash outlives it the same way. Each record carries the boot ID
 *   it was written in, and one from an earlier boot claims no device (its
 *   pod went with the boot), so it never refuses a device to a new pod; and
 *   its DEL or GC, when its device is by then another attachment's, undoes
 *   only its IPAM reservation and leaves the device and its VF settings to
 *   their new owner (ky_cni_del_attachment). */
#include "cni_private.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fault.h"
#include "kyborg/base/log.h"
#include "kyborg/net/announce.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netlink_addr.h"
#include "kyborg/net/netlink_vf.h"
#include "kyborg/net/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct ky_step {
	const char *name;
	bool (*needed)(struct ky_cni_run *r);
	int (*apply)(struct ky_cni_run *r, struct ky_error **err);
	int (*undo)(struct ky_cni_run *r, struct ky_error **err);
	bool durable; /* its effect can outlive the kernel: journal it durably */
	bool early;   /* its undo changes nothing when it never ran: an earlier write may name it */
};

/* ---- reserve: the record itself ---- */

static int step_reserve(struct ky_cni_run *r, struct ky_error **err)
{
	(void)r;
	(void)err;
	return 0; /* the journal write before this step is the reservation */
}

static int undo_reserve(struct ky_cni_run *r, struct ky_error **err)
{
	(void)r;
	(void)err;
	return 0; /* ky_cni_steps_undo removes the record once all else is undone */
}

/* ---- vf-config: the VF's settings on its PF ---- */

static bool need_vf(struct ky_cni_run *r)
{
	return r->dev.is_vf && r->vf.mask;
}

static int step_vf(struct ky_cni_run *r, struct ky_error **err)
{
	struct ky_vf_config prev;
	int ret = ky_vf_get(r->nl, r->dev.pf, (unsigned)r->dev.vf_index, &prev, err);
	if (ret == -ENODEV) {
		/* The PF reports no such VF: a setting that cannot be applied
		 * (code 100), not a device that is missing (101). */
		_cleanup_free_ char *msg = strdup(ky_error_msg(*err));
		return ky_error_set(err, ENXIO, "%s", msg ? msg : "no such VF");
	}
	if (ret < 0)
		return ret;
	/* Only what we are about to change is restored. */
	prev.mask &= r->vf.mask;
	r->rec->has_vf_saved = true;
	r->rec->vf_saved = prev;
	/* Durable: the PF's settings can outlive a crash of this kernel. */
	if ((ret = ky_cni_run_write(r, true, err)) < 0)
		return ret;
	ret = ky_vf_set(r->nl, r->dev.pf, (unsigned)r->dev.vf_index, &r->vf, err);
	if (ret < 0)
		return ky_error_prefix(err, "configure VF %d on %s", r->dev.vf_index, r->dev.pf);
	return 0;
}

static int undo_vf(struct ky_cni_run *r, struct ky_error **err)
{
	struct ky_vf_config prev = r->rec->vf_saved;
	if (!r->dev.is_vf || !prev.mask)
		return 0; /* killed before anything was changed (or nothing readable saved) */
	/* Only what differs is set back. rtnetlink applies a request's VF
	 * fields one by one and stops at the first the driver refuses: a
	 * refused field was never changed, and asking for it again would
	 * refuse the whole restore. */
	struct ky_vf_config now;
	unsigned differ;
	if (ky_vf_get(r->nl, r->dev.pf, (unsigned)r->dev.vf_index, &now, NULL) == 0) {
		ky_vf_config_diff(&prev, &now, prev.mask & now.mask, &differ, NULL, NULL);
		prev.mask &= differ | ~now.mask;
		if (!prev.mask)
			return 0;
	}
	int ret = ky_vf_set(r->nl, r->dev.pf, (unsigned)r->dev.vf_index, &prev, err);
	if (ret == -ENODEV)
		return 0; /* the PF or its VFs are gone: nothing left to restore */
	if (ret < 0)
		return ky_error_prefix(err, "restore VF %d on %s", r->dev.vf_index, r->dev.pf);
	return 0;
}

/* ---- move: into the pod netns under CNI_IFNAME ---- */

static bool need_netdev(struct ky_cni_run *r)
{
	return r->dev.has_netdev;
}

static int step_move(struct ky_cni_run *r, struct ky_error **err)
{
	int ret = ky_link_move_to_netns(r->nl, r->dev.name, r->netns_fd, r->ifname, err);
	if (ret < 0)
		return ky_error_prefix(err, "move %s into %s as %s", r->dev.name, r->netns_path, r->ifname);
	/* The name the kernel gave is the one asked for: every later step
	 * and CHECK look for CNI_IFNAME. */
	struct ky_nl *nl;
	struct ky_link l;
	if ((ret = ky_cni_run_pod_nl(r, &nl, err)) < 0)
		return ret;
	if (ky_link_get(nl, r->ifname, &l, NULL) < 0 || (l.has_mac && memcmp(l.mac, r->dev.mac, 6) != 0))
		return ky_error_set(err, EIO, "%s moved into %s, but %s there is not it", r->dev.name, r->netns_path,
				    r->ifname);
	return 0;
}

static int move_back_from_pod(struct ky_cni_run *r, const char *name, struct ky_error **err)
{
	struct ky_nl *nl;
	int ret = ky_cni_run_pod_nl(r, &nl, err);
	if (ret < 0)
		return ret;
	ky_link_set_up(nl, name, false, NULL);
	return ky_link_move_to_netns(nl, name, r->host_fd, r->dev.name, err);
}

static int undo_move(struct ky_cni_run *r, struct ky_error **err)
{
	enum ky_cni_where where = r->where;
	struct ky_link link = r->link;
	int ret = 0;
	if (!r->located && (ret = ky_cni_dev_locate(r, &where, &link, err)) < 0)
		return ret;
	r->located = false;
	if (where == KY_CNI_GONE) {
		/* A virtual device (a veth) dies with its netns. */
		ky_info("device-gone", "device=%s", r->dev.name);
		return 0;
	}
	/* The state it has once back under its name: the kernel closes a
	 * device it moves to another netns, and we close it to rename it. */
	bool up = link.up;
	if (where == KY_CNI_IN_POD) {
		ret = move_back_from_pod(r, link.name, err);
		if (ret < 0)
			return ky_error_prefix(err, "move %s back to the host as %s", link.name, r->dev.name);
		up = false;
	} else if (strcmp(link.name, r->dev.name) != 0) {
		ky_link_set_up(r->nl, link.name, false, NULL);
		ret = ky_link_rename(r->nl, link.name, r->dev.name, err);
		if (ret < 0)
			return ky_error_prefix(err, "rename %s back to %s", link.name, r->dev.name);
		up = false;
	}
	if (up != r->dev.up && (ret = ky_link_set_up(r->nl, r->dev.name, r->dev.up, err)) < 0)
		return ky_error_prefix(err, "restore %s", r->dev.name);
	return 0;
}

/* ---- link: MAC, MTU, up, in the pod ---- */

struct link_cfg {
	const char *name;
	bool set_mac;
	const uint8_t *mac;
	unsigned mtu;
	bool up;
	struct ky_link after;
};

/* Through nl, in whichever netns nl was opened in. */
static int link_cfg(struct ky_nl *nl, struct link_cfg *l, struct ky_error **err)
{
	int ret;
	if (!l->up)
		ky_link_set_up(nl, l->name, false, NULL);
	if (l->set_mac && (ret = ky_link_set_mac(nl, l->name, l->mac, err)) < 0)
		return ret;
	if (l->mtu && (ret = ky_link_set_mtu(nl, l->name, l->mtu, err)) < 0)
		return ret;
	if (l->up && (ret = ky_link_set_up(nl, l->name, true, err)) < 0)
		return ret;
	return ky_link_get(nl, l->name, &l->after, err);
}

static int step_link(struct ky_cni_run *r, struct ky_error **err)
{
	const struct ky_cni_conf *conf = &r->c->conf;
	struct link_cfg l = { .name = r->ifname, .set_mac = conf->has_mac, .mac = conf->mac, .mtu = conf->mtu,
			      .up = true };
	struct ky_nl *nl;
	int ret = ky_cni_run_pod_nl(r, &nl, err);
	if (ret == 0)
		ret = link_cfg(nl, &l, err);
	if (ret < 0)
		return ky_error_prefix(err, "configure %s in %s", r->ifname, r->netns_path);
	r->rec->pod.present = r->rec->pod.has_mac = true;
	memcpy(r->rec->pod.mac, l.after.mac, 6);
	r->rec->pod.mtu = l.after.mtu;
	/* The kernel keeps the index across the move unless the pod has it
	 * taken; undo finds the device by index, never by a name. */
	r->rec->pod_ifindex = l.after.ifindex;
	return 0;
}

static int undo_link(struct ky_cni_run *r, struct ky_error **err)
{
	enum ky_cni_where where;
	struct ky_link link;
	int ret = ky_cni_dev_locate(r, &where, &link, err);
	if (ret < 0 || where == KY_CNI_GONE)
		return ret;
	/* Only what differs is set back: nothing at all when ADD kept the
	 * device's MAC and MTU. */
	struct link_cfg l = { .name = link.name, .set_mac = !link.has_mac || memcmp(link.mac, r->dev.mac, 6) != 0,
			      .mac = r->dev.mac, .mtu = link.mtu != r->dev.mtu ? r->dev.mtu : 0 };
	if (!l.set_mac && !l.mtu) {
		/* Unchanged: undo_move, next, need not look again. */
		r->located = true;
		r->where = where;
		r->link = link;
		return 0;
	}
	struct ky_nl *nl = r->nl;
	if (where == KY_CNI_IN_POD)
		ret = ky_cni_run_pod_nl(r, &nl, err);
	if (ret == 0)
		ret = link_cfg(nl, &l, err);
	if (ret < 0)
		return ky_error_prefix(err, "restore MAC and MTU of %s", link.name);
	return 0;
}

/* ---- ipam: delegate, and keep the result ---- */

static bool need_ipam(struct ky_cni_run *r)
{
	return r->c->conf.has_ipam;
}

static void ipam_call(struct ky_cni_run *r, const char *cmd, const char *conf, struct ky_cni_ipam_call *call)
{
	*call = (struct ky_cni_ipam_call){
		.type = r->rec->ipam_type, .cni_path = r->c->env.path, .command = cmd,
		.container_id = r->container_id, .netns = r->netns_path, .ifname = r->ifname,
		.args = r->c->env.args, .environ = r->c->environ, .conf = conf,
	};
}

static int step_ipam(struct ky_cni_run *r, struct ky_error **err)
{
	struct ky_cni_ipam_call call;
	ipam_call(r, "ADD", r->rec->ipam_conf, &call);
	_cleanup_(cJSON_Deletep) cJSON *res = NULL, *norm = NULL;
	int ret = ky_cni_ipam_exec(&call, &res, NULL, err);
	if (ret == 0)
		ret = ky_cni_result_from_ipam(res, 0, &norm, err);
	if (ret < 0) {
		/* Whatever went wrong in the delegation is an IPAM failure to
		 * the runtime (code 103), the cause in the message. */
		_cleanup_free_ char *msg = strdup(ky_error_msg(*err));
		return ky_error_set(err, EREMOTEIO, "%s", msg ? msg : "IPAM failed");
	}
	cJSON_Delete(r->rec->ipam_result);
	r->rec->ipam_result = TAKE_PTR(norm);
	return 0;
}

static int undo_ipam(struct ky_cni_run *r, struct ky_error **err)
{
	const char *conf = r->rec->ipam_conf;
	if (!conf || !r->rec->ipam_type)
		return 0;
	struct ky_cni_ipam_call call;
	ipam_call(r, "DEL", conf, &call);
	int ret = ky_cni_ipam_exec(&call, NULL, NULL, err);
	if (ret == -ENOENT || ret == -EACCES) {
		/* A plugin that cannot be started cannot hold a reservation
		 * from us either: ADD never got one from it. */
		ky_log_err(KY_LOG_WARN, "ipam-missing", *err, "container=%s", r->container_id);
		ky_error_clear(err);
		return 0;
	}
	return ret;
}

/* ---- addresses: the IPAM result configured in the pod ---- */

struct addr_cfg {
	const char *ifname;
	const cJSON *res;
};

static int addresses_in(struct ky_nl *nl, struct addr_cfg *a, struct ky_error **err)
{
	int ret;
	struct ky_link l;
	if ((ret = ky_link_get(nl, a->ifname, &l, err)) < 0)
		return ret;
	const cJSON *ip, *rt;
	cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(a->res, "ips"))
	{
		struct ky_cidr c;
		if (ky_parse_cidr(ky_cni_result_str(ip, "address"), &c) < 0)
			continue;
		if ((ret = ky_addr_add(nl, l.ifindex, &c, err)) < 0)
			return ret;
	}
	cJSON_ArrayForEach(rt, cJSON_GetObjectItemCaseSensitive(a->res, "routes"))
	{
		struct ky_cidr dst;
		struct ky_ip gw;
		const char *gws = ky_cni_result_str(rt, "gw");
		if (ky_parse_cidr(ky_cni_result_str(rt, "dst"), &dst) < 0)
			continue;
		/* SPEC.md: a route without gw uses the IP's gateway. */
		if (!gws) {
			const cJSON *ip2;
			cJSON_ArrayForEach(ip2, cJSON_GetObjectItemCaseSensitive(a->res, "ips"))
			{
				struct ky_ip g;
				const char *s = ky_cni_result_str(ip2, "gateway");
				if (s && ky_parse_ip(s, &g) == 0 && g.family == dst.ip.family) {
					gws = s;
					break;
				}
			}
		}
		bool has_gw = gws && ky_parse_ip(gws, &gw) == 0;
		if ((ret = ky_route_add(nl, l.ifindex, &dst, has_gw ? &gw : NULL, err)) < 0)
			return ret;
	}
	return 0;
}

static bool need_addresses(struct ky_cni_run *r)
{
	return r->c->conf.has_ipam && r->dev.has_netdev;
}

static int step_addresses(struct ky_cni_run *r, struct ky_error **err)
{
	struct addr_cfg a = { .ifname = r->ifname, .res = r->rec->ipam_result };
	struct ky_nl *nl;
	int ret = ky_cni_run_pod_nl(r, &nl, err);
	if (ret == 0)
		ret = addresses_in(nl, &a, err);
	if (ret < 0)
		return ky_error_prefix(err, "configure addresses on %s", r->ifname);
	return 0;
}

static int undo_addresses(struct ky_cni_run *r, struct ky_error **err)
{
	(void)r;
	(void)err;
	/* Moving the netdev out of the pod (undo_move, next) flushes its
	 * addresses and the routes through it. */
	return 0;
}

/* ---- announce: the addresses told to the link, as sriov-cni does ---- */

/* sriov-cni's wait for carrier before it announces. A link that has none
 * by then drops what it is given, and a VF's carrier follows its PF's. */
#define CARRIER_WAIT_MS 200
#define MAX_ANNOUNCED 16

struct announce {
	const char *ifname;
	int ifindex;
	uint8_t mac[6];
	struct ky_ip ips[MAX_ANNOUNCED];
	size_t n;
	int fd;       /* the packet socket, left open for ky_cni_run_close_later */
};

/* In the pod netns: its packet socket must be opened there, and
 * ndisc_notify has no rtnetlink attribute, only its /proc/sys file. */
static int announce_in_pod(void *arg, struct ky_error **err)
{
	struct announce *a = arg;
	char path[96];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/ndisc_notify", a->ifname);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && write(fd, "1", 1) != 1)
		ky_warn("ndisc-notify-failed", "ifname=%s errno=%d", a->ifname, errno);
	if (a->n == 0)
		return 0;
	if ((a->fd = ky_announce_open(err)) < 0)
		return a->fd;
	return ky_announce_send(a->fd, a->ifindex, a->mac, a->ips, a->n, CARRIER_WAIT_MS, err);
}

static int step_announce(struct ky_cni_run *r, struct ky_error **err)
{
	struct announce a = { .ifname = r->ifname, .ifindex = r->rec->pod_ifindex, .fd = -1 };
	memcpy(a.mac, r->rec->pod.mac, 6);
	const cJSON *ip;
	cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(r->rec->ipam_result, "ips"))
	{
		struct ky_cidr c;
		if (a.n < MAX_ANNOUNCED && ky_parse_cidr(ky_cni_result_str(ip, "address"), &c) == 0)
			a.ips[a.n++] = c.ip;
	}
	/* Telling the neighbours is an optimisation (RFC 4861 7.2.6): a pod
	 * is not failed for it, as sriov-cni fails none. Only a thread that
	 * could not leave the pod's netns stops the plugin. */
	_cleanup_error_ struct ky_error *e = NULL;
	struct ky_nl *nl;
	int ret = ky_cni_run_pod_nl(r, &nl, &e);
	if (ret == 0)
		ret = ky_link_set_arp_notify(nl, a.ifindex, true, &e);
	if (ret < 0) {
		ky_log_err(KY_LOG_WARN, "arp-notify-failed", e, "container=%s ifname=%s", r->container_id, r->ifname);
		ky_error_clear(&e);
	}
	ret = ky_netns_run_fd(r->netns_fd, announce_in_pod, &a, &e);
	/* Its close waits for an RCU grace period: let that overlap the
	 * journal's last, durable write. */
	ky_cni_run_close_later(r, a.fd);
	if (ret == -ENOTRECOVERABLE)
		return ky_error_set(err, ENOTRECOVERABLE, "%s", ky_error_msg(e));
	if (ret < 0)
		ky_log_err(KY_LOG_WARN, "announce-failed", e, "container=%s ifname=%s", r->container_id, r->ifname);
	else
		ky_debug("announced", "container=%s ifname=%s addresses=%zu", r->container_id, r->ifname, a.n);
	return 0;
}

static int undo_announce(struct ky_cni_run *r, struct ky_error **err)
{
	(void)r;
	(void)err;
	/* arp_notify and ndisc_notify live in the link's inet devices, which
	 * the kernel makes anew, with the host's defaults, when undo_move
	 * takes the link out of the pod. */
	return 0;
}

/* vf-config is not marked durable: its journal entry alone changes
 * nothing, and step_vf writes the VF's previous settings durably before it
 * touches the PF. ipam is not early: its undo is an IPAM DEL. */
static const struct ky_step add_steps[] = {
	{ .name = "reserve", .apply = step_reserve, .undo = undo_reserve },
	{ .name = "vf-config", .needed = need_vf, .apply = step_vf, .undo = undo_vf, .early = true },
	/* cni_rdma.c; before move, while the kernel still tells the host
	 * netns which RDMA port the netdev is. */
	{ .name = "rdma", .needed = ky_cni_rdma_needed, .apply = ky_cni_rdma_apply, .undo = ky_cni_rdma_undo,
	  .early = true },
	{ .name = "move", .needed = need_netdev, .apply = step_move, .undo = undo_move, .early = true },
	{ .name = "link", .needed = need_netdev, .apply = step_link, .undo = undo_link, .early = true },
	{ .name = "ipam", .needed = need_ipam, .apply = step_ipam, .undo = undo_ipam, .durable = true },
	{ .name = "addresses", .needed = need_addresses, .apply = step_addresses, .undo = undo_addresses,
	  .early = true },
	{ .name = "announce", .needed = need_netdev, .apply = step_announce, .undo = undo_announce, .early = true },
	/* cni_bpf.c; early: with nothing recorded, their undos only remove
	 * pins that are not there. */
	{ .name = "bpf", .needed = ky_cni_bpf_needed, .apply = ky_cni_bpf_apply, .undo = ky_cni_bpf_undo, .early = true },
	{ .name = "offload", .needed = ky_cni_bpf_offload_needed, .apply = ky_cni_bpf_offload_apply,
	  .undo = ky_cni_bpf_offload_undo, .early = true },
};

static const struct ky_step *find_step(const char *name)
{
	for (size_t i = 0; name && i < KY_ARRAY_SIZE(add_steps); i++)
		if (strcmp(add_steps[i].name, name) == 0)
			return &add_steps[i];
	return NULL;
}

static bool is_needed(struct ky_cni_run *r, const struct ky_step *s)
{
	return !s->needed || s->needed(r);
}

int ky_cni_steps_apply(struct ky_cni_run *r, struct ky_error **err)
{
	bool named[KY_ARRAY_SIZE(add_steps)] = { false };
	for (size_t i = 0; i < KY_ARRAY_SIZE(add_steps); i++) {
		const struct ky_step *s = &add_steps[i];
		if (!is_needed(r, s))
			continue;
		if (!named[i]) {
			/* One write names this step and the early ones that
			 * follow it: each file write costs a create, a rename
			 * and the release of the old record's blocks. */
			bool durable = false;
			for (size_t k = i; k < KY_ARRAY_SIZE(add_steps); k++) {
				const struct ky_step *n = &add_steps[k];
				if (!is_needed(r, n))
					continue;
				if (k > i && !n->early)
					break;
				if (ky_cni_record_journal_add(r->rec, n->name) < 0)
					return ky_error_set(err, ENOMEM, "journal: out of memory");
				named[k] = true;
				durable |= n->durable;
			}
			int ret = ky_cni_run_write(r, durable, err);
			if (ret < 0)
				return ret;
		}
		int ret = s->apply(r, err);
		if (ret < 0)
			return ky_error_prefix(err, "step %s", s->name);
		ky_debug("step-done", "step=%s container=%s ifname=%s", s->name, r->container_id, r->ifname);
		char fault[64];
		snprintf(fault, sizeof(fault), "add-after-%s", s->name);
		ky_fault_point(fault);
	}
	return 0;
}

int ky_cni_steps_undo(struct ky_cni_run *r, struct ky_error **err)
{
	int first_err = 0;
	for (size_t i = r->rec->n_journal; i-- > 0;) {
		const char *name = r->rec->journal[i];
		const struct ky_step *s = find_step(name);
		if (!s) {
			ky_warn("unknown-step", "step=%s", name);
			continue;
		}
		/* A record from an earlier boot whose device is now another
		 * attachment's: only its IPAM reservation is still its own. */
		if (r->device_taken && strcmp(s->name, "ipam") != 0)
			continue;
		_cleanup_error_ struct ky_error *e = NULL;
		int ret = s->undo(r, &e);
		if (ret < 0) {
			/* Keep going: every other undo is still worth doing, and
			 * the record stays for DEL to try again. */
			ky_log_err(KY_LOG_ERROR, "undo-failed", e, "step=%s container=%s ifname=%s", s->name,
				   r->container_id, r->ifname);
			if (!first_err) {
				first_err = ret;
				ky_error_set(err, -ret, "undo %s: %s", s->name, ky_error_msg(e));
			}
		}
	}
	if (first_err)
		return first_err;
	int ret = ky_state_delete_fast(r->lock, err);
	if (ret < 0)
		return ky_error_prefix(err, "remove state record");
	return 0;
}

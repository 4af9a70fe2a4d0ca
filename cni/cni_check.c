/* CHECK: the kernel compared with the journal record and prevResult;
 * a drift is code 104 naming what differs. */
#include "cni_private.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netlink_addr.h"
#include "kyborg/net/netns.h"
#include "kyborg/net/netlink_vf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct check_pod {
	const char *ifname;
	struct ky_link link;
	struct ky_cidr *addrs;
	size_t n;
};

static int check_here(void *arg, struct ky_error **err)
{
	struct check_pod *p = arg;
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	int ret = ky_nl_open(&nl, err);
	if (ret < 0 || (ret = ky_link_get(nl, p->ifname, &p->link, err)) < 0)
		return ret;
	return ky_addr_list(nl, p->link.ifindex, &p->addrs, &p->n, err);
}

static int drift(struct ky_error **err, const char *fmt, const char *a, const char *b)
{
	ky_error_set(err, EUCLEAN, fmt, a, b);
	return ky_error_set_status(err, KY_CNI_E_CHECK);
}

static int check_netdev(struct ky_cni *c, struct ky_cni_run *r, struct ky_error **err);
static int check_vf(struct ky_cni *c, struct ky_cni_run *r, struct ky_error **err);

int ky_cni_check(struct ky_cni *c, struct ky_error **err)
{
	struct ky_cni_run r_ = { .netns_fd = -1, .host_fd = -1 };
	_cleanup_(ky_cni_run_closep) struct ky_cni_run *r = &r_;
	int ret = ky_cni_run_open(c, r, c->env.container_id, c->env.ifname, 0, err);
	if (ret < 0)
		return ret;
	if (ret == 0 || !r->rec->complete) {
		ky_error_set(err, ENOENT, "no attachment %s/%s", c->env.container_id, c->env.ifname);
		return ky_error_set_status(err, KY_CNI_E_CONTAINER);
	}
	if ((ret = ky_cni_dev_load(r, err)) < 0)
		return ret;
	ky_cni_run_open_netns(r, c->env.netns);
	if (r->netns_fd < 0) {
		ky_error_set(err, ENOENT, "netns %s is gone", c->env.netns);
		return ky_error_set_status(err, KY_CNI_E_CONTAINER);
	}
	if (r->dev.has_netdev && (ret = check_netdev(c, r, err)) < 0)
		return ret;
	if ((ret = check_vf(c, r, err)) < 0)
		return ret;
	if ((ret = ky_cni_rdma_check(r, err)) < 0)
		return ky_error_set_status(err, KY_CNI_E_CHECK);
	if ((ret = ky_cni_bpf_check(r, err)) < 0)
		return ky_error_set_status(err, KY_CNI_E_CHECK);
	return 0;
}

static int check_netdev(struct ky_cni *c, struct ky_cni_run *r, struct ky_error **err)
{
	int ret;
	struct check_pod p = { .ifname = r->ifname };
	ret = ky_netns_run_fd(r->netns_fd, check_here, &p, err);
	_cleanup_free_ struct ky_cidr *addrs = p.addrs;
	if (ret < 0) {
		/* Renamed in the pod, or gone from it: say which. */
		enum ky_cni_where where;
		struct ky_link l;
		if (ky_cni_dev_locate(r, &where, &l, NULL) == 0 && where != KY_CNI_GONE) {
			ky_error_clear(err);
			if (where == KY_CNI_IN_POD)
				return drift(err, "interface %s is %s in the pod now (renamed since ADD)", r->ifname, l.name);
			return drift(err, "interface %s%s", r->ifname, " has left the pod for the host");
		}
		return drift(err, "interface %s%s", r->ifname, ky_error_msg(*err)[0] ? " is missing" : "");
	}
	char mac[KY_MAC_STRLEN], rmac[KY_MAC_STRLEN], want[32], have[32];
	ky_format_mac(p.link.mac, mac);
	if (r->rec->pod.has_mac && strcmp(ky_format_mac(r->rec->pod.mac, rmac), mac) != 0)
		return drift(err, "mac of the interface is %s, ADD set %s", mac, rmac);
	snprintf(want, sizeof(want), "%d", (int)r->rec->pod.mtu);
	snprintf(have, sizeof(have), "%u", p.link.mtu);
	if (strcmp(want, have) != 0)
		return drift(err, "mtu of the interface is %s, ADD set %s", have, want);
	if (!p.link.up)
		return drift(err, "interface %s is down%s", r->ifname, "");
	/* SPEC.md: CHECK compares with prevResult, the runtime's copy of
	 * our ADD result. */
	const cJSON *ip;
	cJSON_ArrayForEach(ip, cJSON_GetObjectItemCaseSensitive(c->conf.prev_result, "ips"))
	{
		struct ky_cidr want_c;
		const char *a = ky_cni_result_str(ip, "address");
		if (!a || ky_parse_cidr(a, &want_c) < 0) {
			ky_error_set(err, EINVAL, "prevResult: bad address");
			return ky_error_set_status(err, KY_CNI_E_CONFIG);
		}
		bool found = false;
		for (size_t i = 0; i < p.n && !found; i++)
			found = addrs[i].prefix == want_c.prefix && addrs[i].ip.family == want_c.ip.family &&
				memcmp(addrs[i].ip.addr, want_c.ip.addr, 16) == 0;
		if (!found)
			return drift(err, "address %s is missing from %s", a, r->ifname);
	}
	return 0;
}

static int check_vf(struct ky_cni *c, struct ky_cni_run *r, struct ky_error **err)
{
	int ret;
	if (!r->dev.is_vf || !r->rec->has_vf_saved)
		return 0;
	struct ky_vf_config now, want = c->conf.vf;
	/* As ADD does: a VF's "mac" is set on its PF too. */
	if (c->conf.has_mac) {
		want.mask |= KY_VF_MAC;
		memcpy(want.mac, c->conf.mac, 6);
	}
	if ((ret = ky_vf_get(r->nl, r->dev.pf, (unsigned)r->dev.vf_index, &now, err)) < 0) {
		ky_error_prefix(err, "VF settings unreadable");
		return ky_error_set_status(err, KY_CNI_E_CHECK);
	}
	char have[KY_VF_TEXT_LEN], set[KY_VF_TEXT_LEN];
	/* A field the driver does not report cannot be checked. */
	const char *field = ky_vf_config_diff(&now, &want, want.mask & now.mask, NULL, have, set);
	if (field) {
		ky_error_set(err, EUCLEAN, "VF %d of %s: %s is %s, ADD set %s", r->dev.vf_index, r->dev.pf, field,
			     have, set);
		return ky_error_set_status(err, KY_CNI_E_CHECK);
	}
	return 0;
}

/* Kernel tier (runs in the qemu guest, scripts/kernel-tier/): SR-IOV VF
 * settings applied with ky_vf_set on a netdevsim PF, read back with ky_vf_get
 * and with `ip -j link show` (the independent peer), restored exactly, and
 * refused for a VF the PF does not have. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_ether.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/net/netlink.h"
#include "kyborg/net/netlink_vf.h"
#include "kytest.h"
#include "kytest_net.h"
#include "kytest_nsim.h"

#define ALL (KY_VF_MAC | KY_VF_VLAN | KY_VF_RATE | KY_VF_SPOOFCHK | KY_VF_TRUST | KY_VF_LINK_STATE)
#define NUM_VFS 4

KY_DEFINE_CLEANUP(cJSON, cJSON_Delete)

static struct kyt_nsim nsim;
static struct ky_nl *nl;

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	int r = kyt_nsim_new(&nsim, NUM_VFS);
	cr_assert_eq(r, 0, "netdevsim device: %s (runs in the kernel tier's guest)", strerror(-r));
	cr_assert_eq(ky_nl_open(&nl, NULL), 0);
}

static void teardown(void)
{
	if (nl)
		ky_nl_close(nl);
	nl = NULL;
	kyt_nsim_del(&nsim);
}

TestSuite(ktier_vf, .init = setup, .fini = teardown);

static void get_vf(unsigned vf, struct ky_vf_config *c)
{
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_vf_get(nl, nsim.pf, vf, c, &err);
	cr_assert_eq(r, 0, "get VF %u: %s", vf, ky_error_msg(err));
}

static void set_vf(unsigned vf, const struct ky_vf_config *c)
{
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_vf_set(nl, nsim.pf, vf, c, &err);
	cr_assert_eq(r, 0, "set VF %u: %s", vf, ky_error_msg(err));
}

/* Field by field, with the field's name in the failure. */
static void assert_same(const struct ky_vf_config *a, const struct ky_vf_config *b, unsigned mask, const char *what)
{
	if (mask & KY_VF_MAC)
		cr_assert_arr_eq(a->mac, b->mac, 6, "%s: mac", what);
	if (mask & KY_VF_VLAN) {
		cr_assert_eq(a->vlan, b->vlan, "%s: vlan %u != %u", what, a->vlan, b->vlan);
		cr_assert_eq(a->qos, b->qos, "%s: qos %u != %u", what, a->qos, b->qos);
		cr_assert_eq(a->vlan_proto, b->vlan_proto, "%s: vlan_proto %#x != %#x", what, a->vlan_proto,
			     b->vlan_proto);
	}
	if (mask & KY_VF_RATE) {
		cr_assert_eq(a->min_tx_rate, b->min_tx_rate, "%s: min_tx_rate", what);
		cr_assert_eq(a->max_tx_rate, b->max_tx_rate, "%s: max_tx_rate", what);
	}
	if (mask & KY_VF_SPOOFCHK)
		cr_assert_eq(a->spoofchk, b->spoofchk, "%s: spoofchk", what);
	if (mask & KY_VF_TRUST)
		cr_assert_eq(a->trust, b->trust, "%s: trust", what);
	if (mask & KY_VF_LINK_STATE)
		cr_assert_eq(a->link_state, b->link_state, "%s: link_state", what);
}

static int json_int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);
	return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* What iproute2 prints for the VF, compared with c. */
static void assert_ip_shows(unsigned vf, const struct ky_vf_config *c)
{
	_cleanup_(cJSON_Deletep) cJSON *j = kyt_ip_vf(nsim.pf, vf);
	cr_assert_not_null(j, "ip -j link show dev %s has no VF %u", nsim.pf, vf);
	char mac[18];
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", c->mac[0], c->mac[1], c->mac[2], c->mac[3],
		 c->mac[4], c->mac[5]);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "address")), mac);
	const cJSON *vlan = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vlan_list"), 0);
	cr_assert_eq(json_int(vlan, "vlan"), c->vlan);
	cr_assert_eq(json_int(vlan, "qos"), c->qos);
	const char *proto = cJSON_GetStringValue(cJSON_GetObjectItem(vlan, "protocol"));
	/* iproute2 names the protocol only when it is not 802.1Q. */
	if (c->vlan_proto == ETH_P_8021AD)
		cr_assert(proto && strcmp(proto, "802.1ad") == 0, "protocol %s", proto ? proto : "(none)");
	else
		cr_assert_null(proto, "protocol %s", proto);
	const cJSON *rate = cJSON_GetObjectItem(j, "rate");
	cr_assert_eq(json_int(rate, "min_tx"), (int)c->min_tx_rate);
	cr_assert_eq(json_int(rate, "max_tx"), (int)c->max_tx_rate);
	cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(j, "spoofchk")), c->spoofchk);
	cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(j, "trust")), c->trust);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "link_state")),
			 ky_vf_link_state_name(c->link_state));
}

static const struct ky_vf_config wanted = {
	.mask = ALL,
	.mac = { 0x02, 0x4b, 0x59, 0x00, 0x00, 0x02 },
	.vlan = 100, .qos = 5, .vlan_proto = ETH_P_8021Q,
	.min_tx_rate = 10, .max_tx_rate = 1000,
	.spoofchk = true, .trust = true, .link_state = KY_VF_LINK_STATE_DISABLE,
};

Test(ktier_vf, every_field_set_reads_back_through_netlink_and_iproute2)
{
	struct ky_vf_config before[NUM_VFS], got;
	for (unsigned i = 0; i < NUM_VFS; i++)
		get_vf(i, &before[i]);
	cr_assert_eq(before[2].mask, ALL, "netdevsim reports every field: mask %#x", before[2].mask);

	set_vf(2, &wanted);
	get_vf(2, &got);
	cr_assert_eq(got.mask, ALL);
	assert_same(&got, &wanted, ALL, "VF 2 through netlink");
	assert_ip_shows(2, &wanted);

	for (unsigned i = 0; i < NUM_VFS; i++) {
		if (i == 2)
			continue;
		get_vf(i, &got);
		assert_same(&got, &before[i], ALL, "a VF that was not asked for");
	}
}

/* One field changed at a time, then given back its previous value: the rest
 * never moves, and iproute2 shows the VF exactly as before (same JSON). Done
 * from the driver's pristine state and from a configured one. */
Test(ktier_vf, each_field_restores_to_its_exact_previous_value)
{
	const struct ky_vf_config configured = {
		.mask = ALL,
		.mac = { 0x02, 0x4b, 0x59, 0x00, 0x01, 0x01 },
		.vlan = 10, .qos = 1, .vlan_proto = ETH_P_8021Q,
		.min_tx_rate = 5, .max_tx_rate = 50,
		.spoofchk = true, .trust = false, .link_state = KY_VF_LINK_STATE_ENABLE,
	};
	const unsigned fields[] = { KY_VF_MAC, KY_VF_VLAN, KY_VF_RATE, KY_VF_SPOOFCHK, KY_VF_TRUST,
				    KY_VF_LINK_STATE };
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			set_vf(1, &configured);
		struct ky_vf_config before;
		get_vf(1, &before);
		_cleanup_(cJSON_Deletep) cJSON *ip_before = kyt_ip_vf(nsim.pf, 1);
		cr_assert_not_null(ip_before);

		for (size_t f = 0; f < KY_ARRAY_SIZE(fields); f++) {
			struct ky_vf_config change = wanted, got;
			change.mask = fields[f];
			if (round == 1 && fields[f] == KY_VF_TRUST)
				change.trust = true; /* differs from configured's */
			set_vf(1, &change);
			get_vf(1, &got);
			assert_same(&got, &change, fields[f], "the field set");
			assert_same(&got, &before, ALL & ~fields[f], "the fields not set");

			struct ky_vf_config restore = before;
			restore.mask = fields[f];
			set_vf(1, &restore);
			get_vf(1, &got);
			assert_same(&got, &before, ALL, "after restore");
			_cleanup_(cJSON_Deletep) cJSON *ip_after = kyt_ip_vf(nsim.pf, 1);
			char *a = cJSON_PrintUnformatted(ip_before), *b = cJSON_PrintUnformatted(ip_after);
			bool same = cJSON_Compare(ip_before, ip_after, true);
			cr_expect(same, "round %d field %#x: iproute2 before %s, after %s", round, fields[f], a, b);
			free(a);
			free(b);
			cr_assert(same);
		}
	}
}

Test(ktier_vf, whole_config_restores_exactly_in_one_request)
{
	struct ky_vf_config before, got;
	get_vf(3, &before);
	_cleanup_(cJSON_Deletep) cJSON *ip_before = kyt_ip_vf(nsim.pf, 3);
	set_vf(3, &wanted);
	get_vf(3, &got);
	assert_same(&got, &wanted, ALL, "applied");
	set_vf(3, &before);
	get_vf(3, &got);
	assert_same(&got, &before, ALL, "restored");
	_cleanup_(cJSON_Deletep) cJSON *ip_after = kyt_ip_vf(nsim.pf, 3);
	cr_assert(cJSON_Compare(ip_before, ip_after, true));
}

Test(ktier_vf, an_out_of_range_vf_is_refused_and_nothing_changes)
{
	set_vf(0, &wanted);
	char *out = NULL;
	cr_assert_eq(kyt_run(&out, "ip", "-j", "link", "show", "dev", nsim.pf, NULL), 0);
	_cleanup_(cJSON_Deletep) cJSON *before = cJSON_Parse(out);
	free(out);
	cr_assert_not_null(before);

	const unsigned bad[] = { NUM_VFS, 63, 4096 };
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		struct ky_vf_config c = wanted;
		c.mac[5] = 0x99;
		int r = ky_vf_set(nl, nsim.pf, bad[i], &c, &err);
		cr_assert_eq(r, -EINVAL, "VF %u: %d %s", bad[i], r, ky_error_msg(err));
		char want[96];
		snprintf(want, sizeof(want), "set VF %u of %s (a PF with %d VFs)", bad[i], nsim.pf, NUM_VFS);
		cr_assert(strstr(ky_error_msg(err), want), "%s", ky_error_msg(err));

		struct ky_vf_config got;
		ky_error_clear(&err);
		cr_assert_eq(ky_vf_get(nl, nsim.pf, bad[i], &got, &err), -ENODEV);
		snprintf(want, sizeof(want), "read VF %u of %s: the device has %d VFs", bad[i], nsim.pf, NUM_VFS);
		cr_assert(strstr(ky_error_msg(err), want), "%s", ky_error_msg(err));
	}

	cr_assert_eq(kyt_run(&out, "ip", "-j", "link", "show", "dev", nsim.pf, NULL), 0);
	_cleanup_(cJSON_Deletep) cJSON *after = cJSON_Parse(out);
	free(out);
	cr_assert(cJSON_Compare(before, after, true), "the PF's VFs changed");
}

/* A rate with only one limit (the other 0, "none") reads back as set, and
 * 0/0 reads back as a rate too: both were lost through libnl-route once. */
Test(ktier_vf, a_rate_with_one_limit_reads_back)
{
	const struct ky_vf_config rates[] = {
		{ .mask = KY_VF_RATE, .min_tx_rate = 10, .max_tx_rate = 0 },
		{ .mask = KY_VF_RATE, .min_tx_rate = 0, .max_tx_rate = 20 },
		{ .mask = KY_VF_RATE, .min_tx_rate = 0, .max_tx_rate = 0 },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(rates); i++) {
		struct ky_vf_config got;
		set_vf(2, &rates[i]);
		get_vf(2, &got);
		cr_assert(got.mask & KY_VF_RATE, "case %zu: no rate read back", i);
		assert_same(&got, &rates[i], KY_VF_RATE, "rate");
	}
}

/* netdevsim keeps the protocol it is given (rtnetlink admits only 802.1Q
 * and 802.1ad) and reports it back; iproute2 names it. */
Test(ktier_vf, qinq_vlan_protocol_is_stored_and_reported)
{
	struct ky_vf_config c = { .mask = KY_VF_VLAN, .vlan = 300, .qos = 2, .vlan_proto = ETH_P_8021AD }, got;
	set_vf(0, &c);
	get_vf(0, &got);
	assert_same(&got, &c, KY_VF_VLAN, "802.1ad");
	_cleanup_(cJSON_Deletep) cJSON *j = kyt_ip_vf(nsim.pf, 0);
	const cJSON *vlan = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "vlan_list"), 0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(vlan, "protocol")), "802.1ad");
	cr_assert_eq(json_int(vlan, "vlan"), 300);

	c.vlan_proto = ETH_P_8021Q;
	set_vf(0, &c);
	get_vf(0, &got);
	assert_same(&got, &c, KY_VF_VLAN, "back to 802.1Q");
}

/* netdevsim would store VLAN 4095 (its bound is 4095); the library refuses
 * it before the kernel sees it, and the VF keeps its VLAN. */
Test(ktier_vf, vlan_4095_is_refused_before_the_driver_sees_it)
{
	struct ky_vf_config c = { .mask = KY_VF_VLAN, .vlan = 20, .vlan_proto = ETH_P_8021Q }, got;
	set_vf(1, &c);
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_vf_config bad = { .mask = KY_VF_VLAN, .vlan = 4095, .vlan_proto = ETH_P_8021Q };
	cr_assert_eq(ky_vf_set(nl, nsim.pf, 1, &bad, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), "vlan: 4095"), "%s", ky_error_msg(err));
	get_vf(1, &got);
	cr_assert_eq(got.vlan, 20);
}

/* The VF count as the PF reports it over netlink follows sriov_numvfs, and
 * the driver's rules for changing it are those of real SR-IOV PFs. */
Test(ktier_vf, vf_count_follows_sriov_numvfs)
{
	struct ky_link l;
	cr_assert_eq(ky_link_get(nl, nsim.pf, &l, NULL), 0);
	cr_assert_eq(l.num_vf, NUM_VFS);
	cr_assert_eq(kyt_ip_vf_count(nsim.pf), NUM_VFS);
	cr_assert_eq(kyt_nsim_set_num_vfs(&nsim, 2), -EBUSY, "a non-zero count changes only through 0");
	cr_assert_eq(kyt_nsim_set_num_vfs(&nsim, 0), 0);
	cr_assert_eq(ky_link_get(nl, nsim.pf, &l, NULL), 0);
	cr_assert_eq(l.num_vf, 0);

	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_vf_config got;
	cr_assert_eq(ky_vf_get(nl, nsim.pf, 0, &got, &err), -ENODEV);
	cr_assert(strstr(ky_error_msg(err), "has 0 VFs"), "%s", ky_error_msg(err));
	ky_error_clear(&err);
	cr_assert_lt(ky_vf_set(nl, nsim.pf, 0, &wanted, &err), 0);
	cr_assert(strstr(ky_error_msg(err), "(a PF with 0 VFs)"), "%s", ky_error_msg(err));

	cr_assert_eq(kyt_nsim_set_num_vfs(&nsim, 5), -ENOMEM, "netdevsim's maximum is 4");
	cr_assert_eq(kyt_nsim_set_num_vfs(&nsim, 2), 0);
	cr_assert_eq(ky_link_get(nl, nsim.pf, &l, NULL), 0);
	cr_assert_eq(l.num_vf, 2);
	cr_assert_eq(kyt_ip_vf_count(nsim.pf), 2);
}

/* SR-IOV VF settings held by a PF: read and set over rtnetlink. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ky_error;
struct ky_nl;
struct nl_msg;

enum {
	KY_VF_MAC = 1 << 0,
	KY_VF_VLAN = 1 << 1,       /* vlan, qos and vlan_proto together */
	KY_VF_RATE = 1 << 2,       /* min_tx_rate and max_tx_rate together */
	KY_VF_SPOOFCHK = 1 << 3,
	KY_VF_TRUST = 1 << 4,
	KY_VF_LINK_STATE = 1 << 5,
};

enum ky_vf_link_state {
	KY_VF_LINK_STATE_AUTO = 0, /* the kernel's IFLA_VF_LINK_STATE_* values */
	KY_VF_LINK_STATE_ENABLE = 1,
	KY_VF_LINK_STATE_DISABLE = 2,
};

struct ky_vf_config {
	unsigned mask;        /* KY_VF_*: which fields are meaningful */
	uint8_t mac[6];
	uint16_t vlan;        /* 0-4094, 0 = none */
	uint8_t qos;          /* 0-7 */
	uint16_t vlan_proto;  /* ETH_P_8021Q or ETH_P_8021AD, host order */
	uint32_t min_tx_rate; /* Mbps, 0 = no limit */
	uint32_t max_tx_rate;
	bool spoofchk;
	bool trust;
	enum ky_vf_link_state link_state;
};

/* Validates the ranges of the fields named in cfg->mask. -EINVAL naming the
 * field. Pure. */
int ky_vf_config_check(const struct ky_vf_config *cfg, struct ky_error **err);

/* Where a and b differ among the fields named in mask: returns the first
 * such field as the CNI config names it ("mac", "vlanQoS", "max_tx_rate"),
 * NULL when they agree. *groups (may be NULL) gets every KY_VF_* group
 * with a difference; a_text and b_text (may be NULL) the first field's two
 * values as text. Pure. */
#define KY_VF_TEXT_LEN 32
const char *ky_vf_config_diff(const struct ky_vf_config *a, const struct ky_vf_config *b, unsigned mask,
			      unsigned *groups, char a_text[KY_VF_TEXT_LEN], char b_text[KY_VF_TEXT_LEN]);

/* Builds the RTM_SETLINK request that applies the fields in cfg->mask to VF
 * `vf` of the PF with `pf_ifindex`. Pure: no socket. */
int ky_vf_build_set(int pf_ifindex, unsigned vf, const struct ky_vf_config *cfg, struct nl_msg **out,
		    struct ky_error **err);

/* Reads VF `vf` of PF `pf` as the PF reports it (every field the kernel
 * gives is in out->mask). -ENODEV when the PF has no such VF. */
int ky_vf_get(struct ky_nl *nl, const char *pf, unsigned vf, struct ky_vf_config *out, struct ky_error **err);
/* Applies the fields in cfg->mask. The kernel refuses VF settings on a
 * device without VFs: the error says so. */
int ky_vf_set(struct ky_nl *nl, const char *pf, unsigned vf, const struct ky_vf_config *cfg,
	      struct ky_error **err);

/* Makes VF `vf` of `pf` hold the fields in want->mask, setting only the
 * groups that differ from what the PF reports (and any the PF does not
 * report): asked twice, the second call sets nothing. rtnetlink applies a
 * request's VF fields one by one and stops at the first the driver
 * refuses, so a group already right is never asked for again (which could
 * refuse the whole request). *changed (may be NULL): whether it set
 * anything. -ENODEV when the PF reports no such VF. A restore of previous
 * values is the same call with them. */
int ky_vf_ensure(struct ky_nl *nl, const char *pf, unsigned vf, const struct ky_vf_config *want, bool *changed,
		 struct ky_error **err);

/* "802.1q" / "802.1ad" <-> ETH_P_*; "auto"/"enable"/"disable". Pure. */
int ky_vf_vlan_proto_parse(const char *s, uint16_t *out);
const char *ky_vf_vlan_proto_name(uint16_t proto);
int ky_vf_link_state_parse(const char *s, enum ky_vf_link_state *out);
const char *ky_vf_link_state_name(enum ky_vf_link_state s);

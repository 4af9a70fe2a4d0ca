/* tc flower rules on an interface's clsact hook (libnl-route's flower
 * classifier and gact action), with the hardware-offload flags, and their
 * removal by handle and priority, built as raw rtnetlink messages: libnl
 * 3.7's flower API has no IPv6, ip_proto or port keys, and no police
 * action. `nl` is a socket in the interface's network namespace. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kyborg/json/json.h"

struct ky_error;
struct ky_nl;

enum ky_flower_dir { KY_FLOWER_INGRESS, KY_FLOWER_EGRESS };
enum ky_flower_proto { KY_FLOWER_ALL, KY_FLOWER_IP, KY_FLOWER_IPV6, KY_FLOWER_ARP };
enum ky_flower_action { KY_FLOWER_DROP, KY_FLOWER_PASS, KY_FLOWER_POLICE };
/* required: skip_sw, and ADD fails unless the kernel reports it in
 * hardware; preferred: no flag; never: skip_hw. */
enum ky_flower_hw { KY_FLOWER_HW_REQUIRED, KY_FLOWER_HW_PREFERRED, KY_FLOWER_HW_NEVER };

struct ky_flower_rule {
	enum ky_flower_dir dir;
	enum ky_flower_proto proto;
	bool has_src, has_dst;
	struct ky_cidr src, dst;
	uint8_t ip_proto;   /* IPPROTO_*, 0: any */
	uint16_t dst_port;  /* 0: any (needs tcp or udp) */
	enum ky_flower_action action;
	uint32_t rate_mbit, burst_kb; /* police */
	enum ky_flower_hw hw;
};

struct ky_flower_added {
	enum ky_flower_dir dir;
	uint32_t handle, priority;
	bool in_hw;
};

/* A free place for a rule on dir of ifindex, so that a record of it can be
 * written before it is added: handle 1 at prio_hint, or at the nearest
 * priority above it that no filter of the hook uses (higher runs later). */
int ky_flower_plan(struct ky_nl *nl, int ifindex, enum ky_flower_dir dir, uint32_t prio_hint,
		   struct ky_flower_added *out, struct ky_error **err);
/* Adds the rule (the clsact qdisc must be there) at out's handle and
 * priority when out->priority is set (ky_flower_plan), else where the
 * kernel chooses; out gets the place and whether the rule is in hardware. -EOPNOTSUPP when the
 * kernel has no flower classifier or the action cannot be built,
 * -EREMOTEIO when hw is required and the rule did not land in hardware
 * (it is then removed again). */
int ky_flower_add(struct ky_nl *nl, int ifindex, const struct ky_flower_rule *rule, struct ky_flower_added *out,
		  struct ky_error **err);
/* 0 when the filter is where it was added, -ENOENT when not. */
int ky_flower_check(struct ky_nl *nl, int ifindex, const struct ky_flower_added *a, struct ky_error **err);
/* 1 removed, 0 already gone. */
int ky_flower_del(struct ky_nl *nl, int ifindex, const struct ky_flower_added *a, struct ky_error **err);

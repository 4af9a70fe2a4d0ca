/* The `bpf` and `offload` fields of the network config: per-pod programs
 * and tc flower rules for the pod's interface. Pure: everything is checked
 * here, before ADD changes anything, and each error names its entry. */
#include "cni.h"
#include "kyborg/base/error.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static const char *const prog_keys[] = { "object", "program", "attach", "xdpMode", "hw", NULL };
static const char *const rule_keys[] = { "direction", "match", "action", "hw", NULL };
static const char *const match_keys[] = { "proto", "src", "dst", "ipProto", "dstPort", NULL };
static const char *const directions[] = { "ingress", "egress", NULL };
static const char *const protos[] = { "all", "ip", "ipv6", "arp", NULL };
static const char *const ip_protos[] = { "tcp", "udp", "icmp", NULL };
static const char *const actions[] = { "drop", "pass", NULL };
static const char *const hw_modes[] = { "required", "preferred", "never", NULL };

/* A C identifier, as a BPF program's function name is; it is also a file
 * name in the pin directory. */
static bool c_identifier(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return false;
	return true;
}

static int parse_prog(const struct ky_jnode *e, struct ky_cni_conf *c, struct ky_cni_bpf_prog *p,
		      struct ky_error **err)
{
	struct ky_jnode f, n;
	int r, idx;
	if ((r = ky_json_object(e, NULL, KY_JSON_REQUIRED, &f, err)) < 0 || (r = ky_json_check_keys(&f, prog_keys, err)) < 0)
		return r;
	if ((r = ky_json_string(&f, "object", KY_JSON_REQUIRED, &p->object, err)) < 0)
		return r;
	if (p->object[0] != '/' || ky_bpf_object_name(p->object, p->name, sizeof(p->name)) < 0) {
		ky_json_child(&f, "object", 0, &n, NULL);
		return ky_json_error(&n, err, "not an absolute path to an object named [A-Za-z0-9_-]{1,64}.bpf.o: "
					       "\"%.80s\"", p->object);
	}
	if ((r = ky_json_string(&f, "program", KY_JSON_REQUIRED, &p->program, err)) < 0)
		return r;
	if (!c_identifier(p->program)) {
		ky_json_child(&f, "program", 0, &n, NULL);
		return ky_json_error(&n, err, "not a function name: \"%.80s\"", p->program);
	}
	if ((r = ky_json_enum(&f, "attach", KY_JSON_REQUIRED, ky_bpf_hook_names, &idx, err)) < 0)
		return r;
	p->hook = (enum ky_bpf_hook)idx;
	if ((r = ky_json_enum(&f, "xdpMode", 0, ky_bpf_xdp_mode_names, &idx, err)) < 0)
		return r;
	p->xdp_mode = r > 0 ? (enum ky_bpf_xdp_mode)(idx + 1) : KY_XDP_AUTO;
	if (r > 0 && p->hook != KY_BPF_XDP) {
		ky_json_child(&f, "xdpMode", 0, &n, NULL);
		return ky_json_error(&n, err, "only for \"attach\": \"xdp\"");
	}
	if ((r = ky_json_enum(&f, "hw", 0, ky_bpf_hw_names, &idx, err)) < 0)
		return r;
	p->hw = r > 0 ? (enum ky_bpf_hw)(idx + 1) : KY_BPF_HW_DEFAULT;
	if (p->hw == KY_BPF_HW_PREFERRED) {
		/* A driver offloads only a program loaded for its device, and such
		 * a program cannot run in software: there is no program that may
		 * land in either (offload rules have "preferred"). */
		ky_json_child(&f, "hw", 0, &n, NULL);
		return ky_json_error(&n, err, "\"preferred\" is for offload rules: a program is loaded either for "
					       "the device (\"required\") or for the host (\"never\", or no \"hw\")");
	}
	if (r > 0 && p->hook == KY_BPF_XDP) {
		ky_json_child(&f, "hw", 0, &n, NULL);
		return ky_json_error(&n, err, "only for \"attach\": \"tc-ingress\" or \"tc-egress\" (XDP in hardware is "
					       "\"xdpMode\": \"offload\")");
	}
	for (size_t i = 0; i < c->n_bpf; i++) {
		const struct ky_cni_bpf_prog *q = &c->bpf[i];
		if (p->hook == KY_BPF_XDP && q->hook == KY_BPF_XDP)
			return ky_json_error(e, err, "an interface has one XDP program: bpf[%zu] is XDP already", i);
		if (strcmp(q->name, p->name) == 0 && strcmp(q->object, p->object) != 0)
			return ky_json_error(e, err, "object has the name %s of bpf[%zu].object, another file: their "
						     "pins would collide", p->name, i);
		if (strcmp(q->object, p->object) == 0 && strcmp(q->program, p->program) == 0 && q->hook == p->hook)
			return ky_json_error(e, err, "the same as bpf[%zu]", i);
		/* An object is loaded once per pod, for the device's hardware
		 * or for the host, never both. */
		if (strcmp(q->object, p->object) == 0 && ky_cni_bpf_for_device(q) != ky_cni_bpf_for_device(p))
			return ky_json_error(e, err, "its object is bpf[%zu]'s, and only one of them is offloaded: "
						     "use another copy of the object", i);
	}
	return 0;
}

static int parse_match(const struct ky_jnode *rule, struct ky_flower_rule *fr, struct ky_error **err)
{
	struct ky_jnode m, n;
	int r, idx;
	if ((r = ky_json_object(rule, "match", 0, &m, err)) < 0 || (r = ky_json_check_keys(&m, match_keys, err)) < 0)
		return r;
	fr->proto = KY_FLOWER_ALL;
	if ((r = ky_json_enum(&m, "proto", 0, protos, &idx, err)) < 0)
		return r;
	if (r > 0)
		fr->proto = (enum ky_flower_proto)idx;
	static const char *const addr_keys[] = { "src", "dst" };
	for (int k = 0; k < 2; k++) {
		struct ky_cidr *cidr = k ? &fr->dst : &fr->src;
		if ((r = ky_json_cidr(&m, addr_keys[k], KY_JSON_NETWORK, cidr, err)) < 0)
			return r;
		if (r == 0)
			continue;
		*(k ? &fr->has_dst : &fr->has_src) = true;
		int want = fr->proto == KY_FLOWER_IP ? AF_INET : fr->proto == KY_FLOWER_IPV6 ? AF_INET6 : 0;
		if (cidr->ip.family != want) {
			ky_json_child(&m, addr_keys[k], 0, &n, NULL);
			return ky_json_error(&n, err, "an %s prefix needs \"proto\": \"%s\"",
					     cidr->ip.family == AF_INET ? "IPv4" : "IPv6",
					     cidr->ip.family == AF_INET ? "ip" : "ipv6");
		}
	}
	if ((r = ky_json_enum(&m, "ipProto", 0, ip_protos, &idx, err)) < 0)
		return r;
	if (r > 0) {
		if (fr->proto != KY_FLOWER_IP && fr->proto != KY_FLOWER_IPV6) {
			ky_json_child(&m, "ipProto", 0, &n, NULL);
			return ky_json_error(&n, err, "needs \"proto\": \"ip\" or \"ipv6\"");
		}
		fr->ip_proto = idx == 0 ? IPPROTO_TCP : idx == 1 ? IPPROTO_UDP :
			       fr->proto == KY_FLOWER_IPV6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	}
	if ((r = ky_json_u16(&m, "dstPort", 0, 1, 65535, &fr->dst_port, err)) < 0)
		return r;
	if (r > 0 && fr->ip_proto != IPPROTO_TCP && fr->ip_proto != IPPROTO_UDP) {
		ky_json_child(&m, "dstPort", 0, &n, NULL);
		return ky_json_error(&n, err, "needs \"ipProto\": \"tcp\" or \"udp\"");
	}
	return 0;
}

static int parse_rule(const struct ky_jnode *e, struct ky_flower_rule *fr, struct ky_error **err)
{
	struct ky_jnode f, a, pol;
	int r, idx;
	memset(fr, 0, sizeof(*fr));
	if ((r = ky_json_object(e, NULL, KY_JSON_REQUIRED, &f, err)) < 0 || (r = ky_json_check_keys(&f, rule_keys, err)) < 0)
		return r;
	if ((r = ky_json_enum(&f, "direction", KY_JSON_REQUIRED, directions, &idx, err)) < 0)
		return r;
	fr->dir = (enum ky_flower_dir)idx;
	if ((r = parse_match(&f, fr, err)) < 0)
		return r;
	fr->hw = KY_FLOWER_HW_PREFERRED;
	if ((r = ky_json_enum(&f, "hw", 0, hw_modes, &idx, err)) < 0)
		return r;
	if (r > 0)
		fr->hw = (enum ky_flower_hw)idx;
	if ((r = ky_json_child(&f, "action", KY_JSON_REQUIRED, &a, err)) < 0)
		return r;
	if (cJSON_IsString(a.j)) {
		if ((r = ky_json_enum(&f, "action", KY_JSON_REQUIRED, actions, &idx, err)) < 0)
			return r;
		fr->action = idx == 0 ? KY_FLOWER_DROP : KY_FLOWER_PASS;
		return 0;
	}
	static const char *const action_keys[] = { "police", NULL };
	static const char *const police_keys[] = { "rateMbit", "burstKB", NULL };
	if (!cJSON_IsObject(a.j))
		return ky_json_error(&a, err, "must be \"drop\", \"pass\" or {\"police\": {...}}, got a %s",
				     ky_json_type_name(a.j));
	if ((r = ky_json_check_keys(&a, action_keys, err)) < 0 ||
	    (r = ky_json_object(&a, "police", KY_JSON_REQUIRED, &pol, err)) < 0 ||
	    (r = ky_json_check_keys(&pol, police_keys, err)) < 0 ||
	    (r = ky_json_u32(&pol, "rateMbit", KY_JSON_REQUIRED, 1, 4000000, &fr->rate_mbit, err)) < 0 ||
	    (r = ky_json_u32(&pol, "burstKB", KY_JSON_REQUIRED, 1, 4000000, &fr->burst_kb, err)) < 0)
		return r;
	fr->action = KY_FLOWER_POLICE;
	return 0;
}

int ky_cni_conf_parse_bpf(const struct ky_jnode *root, struct ky_cni_conf *c, struct ky_error **err)
{
	struct ky_jnode arr, e;
	size_t n, i;
	int r = ky_json_array(root, "bpf", KY_JSON_NULLABLE, &arr, &n, err);
	if (r < 0)
		return r;
	if (n > KY_CNI_MAX_BPF)
		return ky_json_error(&arr, err, "%zu programs, at most %d", n, KY_CNI_MAX_BPF);
	ky_json_foreach(&arr, i, e)
	{
		if ((r = parse_prog(&e, c, &c->bpf[i], err)) < 0)
			return r;
		c->n_bpf = i + 1;
	}
	if ((r = ky_json_array(root, "offload", KY_JSON_NULLABLE, &arr, &n, err)) < 0)
		return r;
	if (n > KY_CNI_MAX_OFFLOAD)
		return ky_json_error(&arr, err, "%zu rules, at most %d", n, KY_CNI_MAX_OFFLOAD);
	ky_json_foreach(&arr, i, e)
	{
		if ((r = parse_rule(&e, &c->offload[i], err)) < 0)
			return r;
		c->n_offload = i + 1;
	}
	return 0;
}

/* The CNI plugin's pure logic: environment, network config, results in
 * each version, state keys. No root, no kernel. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "cni.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/state/state_store.h"

static int parse(const char *text, enum ky_cni_cmd cmd, int *code)
{
	struct ky_cni_conf c;
	_cleanup_error_ struct ky_error *err = NULL;
	*code = 0;
	int r = ky_cni_conf_parse(text, strlen(text), cmd, &c, code, &err);
	ky_cni_conf_free(&c);
	return r;
}

#define BASE "\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"kyborg\""

Test(cni_config, a_device_config_parses)
{
	struct ky_cni_conf c;
	_cleanup_error_ struct ky_error *err = NULL;
	int code;
	const char *t = "{" BASE ",\"device\":\"eth1\",\"mtu\":9000,\"mac\":\"02:00:00:00:00:01\","
			"\"ipam\":{\"type\":\"host-local\"},\"runtimeConfig\":{\"portMappings\":[]}}";
	cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &code, &err), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(c.device, "eth1");
	cr_assert_eq(c.mtu, 9000);
	cr_assert(c.has_mac);
	cr_assert(c.has_ipam);
	cr_assert_str_eq(c.ipam_type, "host-local");
	cr_assert_str_eq(c.state_dir, KY_CNI_DEFAULT_STATE_DIR);
	cr_assert_eq(c.version, KY_CNI_V110);
	ky_cni_conf_free(&c);
}

Test(cni_config, pci_fields_normalise_and_agree)
{
	struct ky_cni_conf c;
	int code;
	const char *t = "{" BASE ",\"deviceID\":\"18:01.0\",\"runtimeConfig\":{\"deviceID\":\"0000:18:01.0\"},\"vlan\":5}";
	cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &code, NULL), 0);
	cr_assert_eq(c.dev_source, KY_CNI_DEV_PCI);
	cr_assert_str_eq(c.pci, "0000:18:01.0");
	cr_assert_str_eq(c.vf_field, "vlan");
	cr_assert_eq(c.vf.vlan, 5);
	ky_cni_conf_free(&c);
}

Test(cni_config, codes_for_bad_configs)
{
	static const struct {
		const char *text;
		int code;
	} cases[] = {
		{ "", KY_CNI_E_DECODE },
		{ "{", KY_CNI_E_DECODE },
		{ "[]", KY_CNI_E_DECODE },
		{ "{} x", KY_CNI_E_DECODE },
		{ "{\"name\":\"n\",\"type\":\"kyborg\",\"device\":\"e\"}", KY_CNI_E_CONFIG },
		{ "{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"k\",\"device\":\"e\"}", KY_CNI_E_VERSION },
		{ "{\"cniVersion\":\"9.9.9\",\"name\":\"n\",\"type\":\"k\",\"device\":\"e\"}", KY_CNI_E_VERSION },
		{ "{\"cniVersion\":110,\"name\":\"n\",\"type\":\"k\",\"device\":\"e\"}", KY_CNI_E_CONFIG },
		{ "{" BASE "}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"deviceID\":\"0000:18:01.0\"}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"deviceID\":\"0000:18:01.0\",\"pciBusID\":\"0000:18:01.1\"}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"../../etc\"}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"vlan\":4095}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"vlan\":-1}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"vlan\":\"5\"}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"vlanQoS\":8,\"vlan\":1}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"vlanProto\":\"802.1x\",\"vlan\":1}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"spoofchk\":true}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"trust\":\"yes\"}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"link_state\":\"up\"}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"min_tx_rate\":100,\"max_tx_rate\":10}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"mac\":\"zz:00:00:00:00:00\"}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"mac\":\"01:00:00:00:00:00\"}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"mtu\":10}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"mtu\":1500.5}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"vlna\":5}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"ipam\":{\"type\":\"../bin/sh\"}}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"ipam\":{\"subnet\":\"x\"}}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"device\":\"e\",\"stateDir\":\"relative/dir\"}", KY_CNI_E_CONFIG },
		{ "{\"cniVersion\":\"1.1.0\",\"name\":\"../x\",\"type\":\"k\",\"device\":\"e\"}", KY_CNI_E_CONFIG },
		{ "{" BASE ",\"deviceID\":\"not-pci\"}", KY_CNI_E_CONFIG },
		/* A repeated key is refused while decoding, at any depth. */
		{ "{" BASE ",\"device\":\"e\",\"name\":\"n\"}", KY_CNI_E_DECODE },
		{ "{" BASE ",\"device\":\"e\",\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:01\",\"mac\":\"02:00:00:00:00:02\"}}",
		  KY_CNI_E_DECODE },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++) {
		int code;
		cr_expect_lt(parse(cases[i].text, KY_CNI_ADD, &code), 0, "%s accepted", cases[i].text);
		cr_expect_eq(code, cases[i].code, "%s: code %d, want %d", cases[i].text, code, cases[i].code);
	}
}

Test(cni_config, bpf_and_offload_entries_parse)
{
	struct ky_cni_conf c;
	_cleanup_error_ struct ky_error *err = NULL;
	int code;
	const char *t = "{" BASE ",\"device\":\"eth1\",\"bpf\":["
			"{\"object\":\"/d/kyborg_counters.bpf.o\",\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\"},"
			"{\"object\":\"/d/kyborg_counters.bpf.o\",\"program\":\"kyborg_count_xdp\",\"attach\":\"xdp\","
			"\"xdpMode\":\"generic\"}],"
			"\"offload\":[{\"direction\":\"egress\",\"match\":{\"proto\":\"ipv6\",\"src\":\"fd00::/64\","
			"\"ipProto\":\"udp\",\"dstPort\":53},\"action\":\"drop\",\"hw\":\"required\"},"
			"{\"direction\":\"ingress\",\"action\":\"pass\"},"
			"{\"direction\":\"ingress\",\"action\":{\"police\":{\"rateMbit\":100,\"burstKB\":64}}}]}";
	cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &code, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(c.n_bpf, 2);
	cr_assert_str_eq(c.bpf[0].name, "kyborg_counters");
	cr_assert_eq(c.bpf[0].hook, KY_BPF_TC_INGRESS);
	cr_assert_eq(c.bpf[1].hook, KY_BPF_XDP);
	cr_assert_eq(c.bpf[1].xdp_mode, KY_XDP_GENERIC);
	cr_assert_eq(c.n_offload, 3);
	cr_assert_eq(c.offload[2].action, KY_FLOWER_POLICE);
	cr_assert_eq(c.offload[2].rate_mbit, 100);
	cr_assert_eq(c.offload[2].burst_kb, 64);
	cr_assert_eq(c.offload[0].dir, KY_FLOWER_EGRESS);
	cr_assert_eq(c.offload[0].proto, KY_FLOWER_IPV6);
	cr_assert(c.offload[0].has_src);
	cr_assert_eq(c.offload[0].ip_proto, 17);
	cr_assert_eq(c.offload[0].dst_port, 53);
	cr_assert_eq(c.offload[0].hw, KY_FLOWER_HW_REQUIRED);
	cr_assert_eq(c.offload[1].proto, KY_FLOWER_ALL);
	cr_assert_eq(c.offload[1].action, KY_FLOWER_PASS);
	cr_assert_eq(c.offload[1].hw, KY_FLOWER_HW_PREFERRED);
	cr_assert_not(c.chained);
	cr_assert_eq(c.bpf[0].hw, KY_BPF_HW_DEFAULT, "no hw: attached as before, no flag");
	cr_assert_eq(c.bpf[1].hw, KY_BPF_HW_DEFAULT);
	ky_cni_conf_free(&c);
}

/* hw on a tc program: each of its two values, and which entries are
 * loaded for the device (required; offloaded XDP) rather than the host. */
Test(cni_config, bpf_hw_modes_parse)
{
	static const char *const modes[] = { "required", "never" };
	static const enum ky_bpf_hw want[] = { KY_BPF_HW_REQUIRED, KY_BPF_HW_NEVER };
	for (int i = 0; i < 2; i++) {
		char *t = NULL;
		cr_assert_geq(asprintf(&t, "{" BASE ",\"device\":\"eth1\",\"bpf\":[{\"object\":\"/d/c.bpf.o\","
				       "\"program\":\"f\",\"attach\":\"tc-ingress\",\"hw\":\"%s\"}]}", modes[i]), 0);
		struct ky_cni_conf c;
		_cleanup_error_ struct ky_error *err = NULL;
		int code;
		cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &code, &err), 0, "%s: %s", modes[i],
			     ky_error_msg(err));
		cr_assert_eq(c.bpf[0].hw, want[i], "%s", modes[i]);
		cr_assert_eq(ky_cni_bpf_for_device(&c.bpf[0]), i == 0, "%s", modes[i]);
		ky_cni_conf_free(&c);
		free(t);
	}
}

/* Each bad entry is refused before anything changes, its JSON path first. */
Test(cni_config, bad_bpf_and_offload_entries_name_their_path)
{
#define P "{\"object\":\"/d/p.bpf.o\",\"program\":\"f\",\"attach\":\"tc-egress\"}"
	static const struct {
		const char *fields, *want;
	} cases[] = {
		{ "\"bpf\":[" P ",{\"object\":\"/d/p.bpf.o\",\"program\":\"g\",\"attach\":\"tc-sideways\"}]", "bpf[1].attach: " },
		{ "\"bpf\":[{\"object\":\"rel/p.bpf.o\",\"program\":\"f\",\"attach\":\"xdp\"}]", "bpf[0].object: " },
		{ "\"bpf\":[{\"object\":\"/d/p q.bpf.o\",\"program\":\"f\",\"attach\":\"xdp\"}]", "bpf[0].object: " },
		{ "\"bpf\":[{\"object\":\"/d/p.bpf.o\",\"program\":\"f/../g\",\"attach\":\"xdp\"}]", "bpf[0].program: " },
		{ "\"bpf\":[" P ",{\"object\":\"/d/p.bpf.o\",\"program\":\"f\",\"attach\":\"tc-egress\",\"xdpMode\":\"native\"}]",
		  "bpf[1].xdpMode: " },
		{ "\"bpf\":[{\"object\":\"/d/p.bpf.o\",\"program\":\"f\",\"attach\":\"xdp\"},"
		  "{\"object\":\"/d/p.bpf.o\",\"program\":\"g\",\"attach\":\"xdp\"}]", "bpf[1]: " },
		{ "\"bpf\":[" P "," P "]", "bpf[1]: the same as bpf[0]" },
		{ "\"bpf\":[" P ",{\"object\":\"/e/p.bpf.o\",\"program\":\"f\",\"attach\":\"tc-egress\"}]", "bpf[1]: " },
		{ "\"bpf\":[{\"object\":\"/d/p.bpf.o\",\"program\":\"f\",\"attach\":\"xdp\",\"prio\":1}]", "bpf[0].prio: " },
		{ "\"bpf\":{}", "bpf: " },
		{ "\"bpf\":[{\"object\":\"/d/p.bpf.o\",\"program\":\"f\",\"attach\":\"tc-egress\",\"hw\":\"maybe\"}]",
		  "bpf[0].hw: " },
		{ "\"bpf\":[{\"object\":\"/d/p.bpf.o\",\"program\":\"f\",\"attach\":\"tc-egress\",\"hw\":true}]",
		  "bpf[0].hw: " },
		{ "\"bpf\":[{\"object\":\"/d/p.bpf.o\",\"program\":\"f\",\"attach\":\"tc-egress\",\"hw\":\"preferred\"}]",
		  "bpf[0].hw: \"preferred\" is for offload rules" },
		{ "\"bpf\":[" P ",{\"object\":\"/d/q.bpf.o\",\"program\":\"g\",\"attach\":\"xdp\",\"hw\":\"required\"}]",
		  "bpf[1].hw: only for \"attach\": \"tc-ingress\" or \"tc-egress\"" },
		{ "\"bpf\":[{\"object\":\"/d/p.bpf.o\",\"program\":\"g\",\"attach\":\"xdp\",\"xdpMode\":\"offload\","
		  "\"hw\":\"never\"}]", "bpf[0].hw: " },
		/* One object is loaded for the device or for the host. */
		{ "\"bpf\":[" P ",{\"object\":\"/d/p.bpf.o\",\"program\":\"g\",\"attach\":\"tc-ingress\",\"hw\":\"required\"}]",
		  "bpf[1]: its object is bpf[0]'s" },
		{ "\"offload\":[{\"direction\":\"up\",\"action\":\"drop\"}]", "offload[0].direction: " },
		{ "\"offload\":[{\"direction\":\"egress\"}]", "offload[0].action: " },
		{ "\"offload\":[{\"direction\":\"egress\",\"action\":\"reject\"}]", "offload[0].action: " },
		{ "\"offload\":[{\"direction\":\"egress\",\"action\":\"drop\",\"match\":{\"src\":\"10.0.0.0/8\"}}]",
		  "offload[0].match.src: " },
		{ "\"offload\":[{\"direction\":\"egress\",\"action\":\"drop\",\"match\":{\"proto\":\"ip\",\"dst\":\"10.0.0.1/8\"}}]",
		  "offload[0].match.dst: " },
		{ "\"offload\":[{\"direction\":\"egress\",\"action\":\"drop\",\"match\":{\"proto\":\"arp\",\"ipProto\":\"tcp\"}}]",
		  "offload[0].match.ipProto: " },
		{ "\"offload\":[{\"direction\":\"egress\",\"action\":\"drop\",\"match\":{\"proto\":\"ip\",\"ipProto\":\"icmp\","
		  "\"dstPort\":1}}]", "offload[0].match.dstPort: " },
		{ "\"offload\":[{\"direction\":\"egress\",\"action\":\"drop\",\"hw\":\"maybe\"}]", "offload[0].hw: " },
		{ "\"offload\":[{\"direction\":\"egress\",\"action\":{\"police\":{\"rateMbit\":10}}}]",
		  "offload[0].action.police.burstKB: " },
		{ "\"offload\":[{\"direction\":\"egress\",\"action\":{\"police\":{\"rateMbit\":0,\"burstKB\":64}}}]",
		  "offload[0].action.police.rateMbit: " },
		{ "\"offload\":[{\"direction\":\"egress\",\"action\":{\"shape\":{}}}]", "offload[0].action.shape: " },
	};
#undef P
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = NULL;
		cr_assert_geq(asprintf(&t, "{" BASE ",\"device\":\"eth1\",%s}", cases[i].fields), 0);
		struct ky_cni_conf c;
		_cleanup_error_ struct ky_error *err = NULL;
		int code;
		cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &code, &err), -EINVAL, "case %zu", i);
		cr_assert_eq(code, 7, "case %zu", i);
		cr_assert(strncmp(ky_error_msg(err), cases[i].want, strlen(cases[i].want)) == 0, "case %zu: %s", i,
			  ky_error_msg(err));
		ky_cni_conf_free(&c);
		free(t);
	}
}

Test(cni_config, prev_result_without_a_device_is_chained_and_touches_no_device)
{
	struct ky_cni_conf c;
	_cleanup_error_ struct ky_error *err = NULL;
	int code;
	const char *t = "{" BASE ",\"prevResult\":{\"interfaces\":[{\"name\":\"net1\"}]},\"bpf\":[]}";
	cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &code, &err), 0, "%s", ky_error_msg(err));
	cr_assert(c.chained);
	ky_cni_conf_free(&c);
	static const char *const refused[] = { "\"mtu\":1400", "\"mac\":\"02:00:00:00:00:01\"", "\"vlan\":3",
					       "\"ipam\":{\"type\":\"host-local\"}" };
	for (size_t i = 0; i < 4; i++) {
		char *u = NULL;
		cr_assert_geq(asprintf(&u, "{" BASE ",\"prevResult\":{},%s}", refused[i]), 0);
		cr_assert_eq(ky_cni_conf_parse(u, strlen(u), KY_CNI_ADD, &c, &code, &err), -EINVAL, "%s", refused[i]);
		cr_assert(strstr(ky_error_msg(err), "chained mode"), "%s", ky_error_msg(err));
		ky_cni_conf_free(&c);
		free(u);
	}
	t = "{" BASE ",\"device\":\"eth1\",\"prevResult\":{}}";
	cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_CHECK, &c, &code, &err), 0);
	cr_assert_not(c.chained, "a device field means the plugin owns the device");
	ky_cni_conf_free(&c);
}

Test(cni_config, commands_need_their_version)
{
	int code;
	cr_assert_lt(parse("{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"k\",\"device\":\"e\"}", KY_CNI_CHECK,
			   &code), 0);
	cr_assert_eq(code, KY_CNI_E_VERSION);
	cr_assert_lt(parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"k\",\"cni.dev/valid-attachments\":[]}",
			   KY_CNI_GC, &code), 0);
	cr_assert_eq(code, KY_CNI_E_VERSION);
	cr_assert_eq(parse("{" BASE ",\"cni.dev/valid-attachments\":[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]}",
			   KY_CNI_GC, &code), 0);
	cr_assert_lt(parse("{" BASE ",\"cni.dev/valid-attachments\":[{\"containerID\":\"a\"}]}", KY_CNI_GC, &code), 0);
	cr_assert_eq(code, KY_CNI_E_CONFIG);
	cr_assert_eq(parse("{" BASE "}", KY_CNI_DEL, &code), 0, "DEL needs no device");
}

static int env(char *const e[], struct ky_cni_env *out)
{
	_cleanup_error_ struct ky_error *err = NULL;
	return ky_cni_env_parse(e, out, &err);
}

Test(cni_env, each_command_needs_its_variables)
{
	struct ky_cni_env e;
	char *const version[] = { "CNI_COMMAND=VERSION", NULL };
	cr_assert_eq(env(version, &e), 0);
	cr_assert_eq(e.cmd, KY_CNI_VERSION);
	char *const add[] = { "CNI_COMMAND=ADD", "CNI_CONTAINERID=abc", "CNI_NETNS=/var/run/netns/x",
			      "CNI_IFNAME=eth0", "CNI_PATH=/opt/cni/bin", NULL };
	cr_assert_eq(env(add, &e), 0);
	char *const del_no_netns[] = { "CNI_COMMAND=DEL", "CNI_CONTAINERID=abc", "CNI_IFNAME=eth0",
				       "CNI_PATH=/x", NULL };
	cr_assert_eq(env(del_no_netns, &e), 0);
	cr_assert_null(e.netns);
	char *const bad[][6] = {
		{ NULL },
		{ "CNI_COMMAND=FROB", NULL },
		{ "CNI_COMMAND=ADD", "CNI_NETNS=/n", "CNI_IFNAME=eth0", "CNI_PATH=/x", NULL },
		{ "CNI_COMMAND=ADD", "CNI_CONTAINERID=../../x", "CNI_NETNS=/n", "CNI_IFNAME=eth0", "CNI_PATH=/x", NULL },
		{ "CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_NETNS=/n", "CNI_IFNAME=../e", "CNI_PATH=/x", NULL },
		{ "CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_NETNS=/n", "CNI_IFNAME=sixteen-chars-xx", "CNI_PATH=/x", NULL },
		{ "CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_IFNAME=eth0", "CNI_PATH=/x", NULL },
		{ "CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_NETNS=rel", "CNI_IFNAME=eth0", "CNI_PATH=/x", NULL },
		{ "CNI_COMMAND=ADD", "CNI_CONTAINERID=a", "CNI_NETNS=/n", "CNI_IFNAME=eth0", NULL },
		{ "CNI_COMMAND=DEL", "CNI_CONTAINERID=a", "CNI_PATH=/x", NULL },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++)
		cr_expect_eq(env(bad[i], &e), -EINVAL, "case %zu accepted", i);
}

Test(cni_state_key, parts_are_escaped_into_one_valid_key)
{
	char key[KY_STATE_KEY_MAX + 1];
	cr_assert_eq(ky_cni_state_key("net-a", "c1", "eth0", key, sizeof(key)), 0);
	cr_assert_str_eq(key, "net-a:c1:eth0");
	cr_assert_eq(ky_cni_state_key(".hidden", "c1", "a@b+c", key, sizeof(key)), 0);
	cr_assert_str_eq(key, "@2ehidden:c1:a@40b@2bc");
	cr_assert(ky_state_key_valid(key));
	char longid[300];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	cr_assert_eq(ky_cni_state_key("n", longid, "eth0", key, sizeof(key)), -ENAMETOOLONG);
	cr_assert_eq(ky_cni_state_key_prefix("net-a", key, sizeof(key)), 0);
	cr_assert_str_eq(key, "net-a:");
}

Test(cni_state_key, keys_parse_back_into_their_parts)
{
	char key[KY_STATE_KEY_MAX + 1], cid[64], ifn[16];
	cr_assert_eq(ky_cni_state_key(".net", "c:1/x", "a@b+c", key, sizeof(key)), 0);
	cr_assert_eq(ky_cni_state_key_parse(key, ".net", cid, sizeof(cid), ifn, sizeof(ifn)), 0);
	cr_assert_str_eq(cid, "c:1/x");
	cr_assert_str_eq(ifn, "a@b+c");
	/* Another network's key, and keys not of the form. */
	cr_assert_eq(ky_cni_state_key_parse(key, "net", cid, sizeof(cid), ifn, sizeof(ifn)), -EINVAL);
	static const char *const bad[] = { "n:", "n:c1", "n::eth0", "n:c1:", "n:c@4:eth0", "n:c@zz:eth0" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++)
		cr_expect_eq(ky_cni_state_key_parse(bad[i], "n", cid, sizeof(cid), ifn, sizeof(ifn)), -EINVAL, "%s",
			     bad[i]);
	cr_assert_eq(ky_cni_state_key_parse("n:c1:eth0-much-too-long", "n", cid, sizeof(cid), ifn, sizeof(ifn)),
		     -ENAMETOOLONG);
}

static cJSON *sample(void)
{
	return cJSON_Parse("{\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"02:00:00:00:00:01\",\"mtu\":1500,"
			   "\"sandbox\":\"/n\",\"pciID\":\"0000:18:01.0\"}],"
			   "\"ips\":[{\"address\":\"10.0.0.2/24\",\"gateway\":\"10.0.0.1\",\"interface\":0},"
			   "{\"address\":\"fd00::2/64\",\"interface\":0}],"
			   "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"priority\":5}],\"dns\":{}}");
}

Test(cni_result, v110_keeps_everything)
{
	_cleanup_(cJSON_Deletep) cJSON *in = sample(), *out = ky_cni_result_convert(in, KY_CNI_V110);
	cr_assert_str_eq(out->child->string, "cniVersion", "cniVersion comes first");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(out, "cniVersion")), "1.1.0");
	cJSON *i0 = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "interfaces"), 0);
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(i0, "pciID")), "0000:18:01.0");
	cr_assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "ips"), 0), "version"));
}

Test(cni_result, v100_drops_new_fields_and_has_no_ip_version)
{
	_cleanup_(cJSON_Deletep) cJSON *in = sample(), *out = ky_cni_result_convert(in, KY_CNI_V100);
	cJSON *i0 = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "interfaces"), 0);
	cr_assert_null(cJSON_GetObjectItem(i0, "pciID"));
	cr_assert_null(cJSON_GetObjectItem(i0, "mtu"));
	cr_assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "routes"), 0), "priority"));
	cr_assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "ips"), 0), "version"));
}

Test(cni_result, v031_and_v040_name_ip_versions)
{
	for (int v = KY_CNI_V030; v <= KY_CNI_V040; v++) {
		_cleanup_(cJSON_Deletep) cJSON *in = sample(), *out = ky_cni_result_convert(in, v);
		cJSON *ips = cJSON_GetObjectItem(out, "ips");
		cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ips, 0), "version")), "4");
		cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ips, 1), "version")), "6");
		cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(out, "cniVersion")), ky_cni_versions[v]);
	}
}

Test(cni_result, ipam_results_of_any_version_normalise)
{
	_cleanup_(cJSON_Deletep) cJSON *old = cJSON_Parse(
		"{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":\"4\",\"address\":\"10.1.0.5/16\",\"gateway\":\"10.1.0.1\"}],"
		"\"routes\":[{\"dst\":\"0.0.0.0/0\"}],\"dns\":{\"nameservers\":[\"10.1.0.1\"]}}");
	_cleanup_(cJSON_Deletep) cJSON *norm = NULL;
	cr_assert_eq(ky_cni_result_from_ipam(old, 0, &norm, NULL), 0);
	cJSON *ip0 = cJSON_GetArrayItem(cJSON_GetObjectItem(norm, "ips"), 0);
	cr_assert_null(cJSON_GetObjectItem(ip0, "version"));
	cr_assert_eq(cJSON_GetObjectItem(ip0, "interface")->valueint, 0);
	_cleanup_(cJSON_Deletep) cJSON *bad = cJSON_Parse("{\"ips\":[{\"address\":\"10.1.0.5\"}]}");
	_cleanup_(cJSON_Deletep) cJSON *n2 = NULL;
	cr_assert_eq(ky_cni_result_from_ipam(bad, 0, &n2, NULL), -EINVAL);
}

Test(cni_version, supported_list_and_ordering)
{
	cr_assert_eq(ky_cni_version_index("0.4.0"), KY_CNI_V040);
	cr_assert_eq(ky_cni_version_index("0.2.0"), -1);
	cr_assert_lt(ky_cni_version_cmp("0.4.0", "1.0.0"), 0);
	cr_assert_gt(ky_cni_version_cmp("1.10.0", "1.9.0"), 0);
	_cleanup_(cJSON_Deletep) cJSON *info = ky_cni_version_info();
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(info, "supportedVersions")), 5);
}

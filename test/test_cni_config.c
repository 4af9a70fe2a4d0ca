/* The CNI plugin's pure logic: environment, network config, results in
 * each version, state keys. No root, no kernel. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "cni.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/state/paths.h"
#include "kyborg/state/state_store.h"

static int parse(const char *text, enum ky_cni_cmd cmd, int *code)
{
	struct ky_cni_conf c;
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_cni_conf_parse(text, strlen(text), cmd, &c, &err);
	*code = ky_error_status(err);
	ky_cni_conf_free(&c);
	return r;
}

#define BASE "\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"kyborg\""

Test(cni_config, a_device_config_parses)
{
	struct ky_cni_conf c;
	_cleanup_error_ struct ky_error *err = NULL;
	const char *t = "{" BASE ",\"device\":\"eth1\",\"mtu\":9000,\"mac\":\"02:00:00:00:00:01\","
			"\"ipam\":{\"type\":\"host-local\"},\"runtimeConfig\":{\"portMappings\":[]}}";
	cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &err), 0, "%s", ky_error_msg(err));
	cr_assert_str_eq(c.device, "eth1");
	cr_assert_eq(c.mtu, 9000);
	cr_assert(c.has_mac);
	cr_assert(c.has_ipam);
	cr_assert_str_eq(c.ipam_type, "host-local");
	cr_assert_str_eq(c.state_dir, KY_CNI_STATE_DIR_DEFAULT);
	cr_assert_eq(c.version, KY_CNI_V110);
	ky_cni_conf_free(&c);
}

Test(cni_config, pci_fields_normalise_and_agree)
{
	struct ky_cni_conf c;
	const char *t = "{" BASE ",\"deviceID\":\"18:01.0\",\"runtimeConfig\":{\"deviceID\":\"0000:18:01.0\"},\"vlan\":5}";
	cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, NULL), 0);
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
	const char *t = "{" BASE ",\"device\":\"eth1\",\"bpf\":["
			"{\"object\":\"/d/kyborg_counters.bpf.o\",\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\"},"
			"{\"object\":\"/d/kyborg_counters.bpf.o\",\"program\":\"kyborg_count_xdp\",\"attach\":\"xdp\","
			"\"xdpMode\":\"generic\"}],"
			"\"offload\":[{\"direction\":\"egress\",\"match\":{\"proto\":\"ipv6\",\"src\":\"fd00::/64\","
			"\"ipProto\":\"udp\",\"dstPort\":53},\"action\":\"drop\",\"hw\":\"required\"},"
			"{\"direction\":\"ingress\",\"action\":\"pass\"},"
			"{\"direction\":\"ingress\",\"action\":{\"police\":{\"rateMbit\":100,\"burstKB\":64}}}]}";
	cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &err), 0, "%s", ky_error_msg(err));
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
		cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &err), 0, "%s: %s", modes[i],
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
		cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &err), -EINVAL, "case %zu", i);
		cr_assert_eq(ky_error_status(err), 7, "case %zu", i);
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
	const char *t = "{" BASE ",\"prevResult\":{\"interfaces\":[{\"name\":\"net1\"}]},\"bpf\":[]}";
	cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &err), 0, "%s", ky_error_msg(err));
	cr_assert(c.chained);
	ky_cni_conf_free(&c);
	static const char *const refused[] = { "\"mtu\":1400", "\"mac\":\"02:00:00:00:00:01\"", "\"vlan\":3",
					       "\"ipam\":{\"type\":\"host-local\"}" };
	for (size_t i = 0; i < 4; i++) {
		char *u = NULL;
		cr_assert_geq(asprintf(&u, "{" BASE ",\"prevResult\":{},%s}", refused[i]), 0);
		cr_assert_eq(ky_cni_conf_parse(u, strlen(u), KY_CNI_ADD, &c, &err), -EINVAL, "%s", refused[i]);
		cr_assert(strstr(ky_error_msg(err), "chained mode"), "%s", ky_error_msg(err));
		ky_cni_conf_free(&c);
		free(u);
	}
	t = "{" BASE ",\"device\":\"eth1\",\"prevResult\":{}}";
	cr_assert_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_CHECK, &c, &err), 0);
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

/* Issue 14: the kernel takes "net%d" as a name template (the fuzz input
 * cni_env/I1-ifname-template); the name we give the pod's interface is
 * one of an allow-list of characters. */
Test(cni_env, cni_ifname_is_letters_digits_and_few_marks)
{
	static const char *const bad[] = { "net%d", "%d", "a+b", "a@b", "e\x01", "a=b", "." };
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		char ifname[40];
		snprintf(ifname, sizeof(ifname), "CNI_IFNAME=%s", bad[i]);
		char *const e[] = { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", "CNI_NETNS=/var/run/netns/p", ifname,
				    "CNI_PATH=/opt/cni/bin", NULL };
		struct ky_cni_env out;
		_cleanup_error_ struct ky_error *err = NULL;
		cr_expect_eq(ky_cni_env_parse(e, &out, &err), -EINVAL, "%s accepted", bad[i]);
		cr_expect_eq(ky_error_status(err), KY_CNI_E_ENV);
		cr_expect(strstr(ky_error_msg(err), "CNI_IFNAME"), "%s", ky_error_msg(err));
	}
	static const char *const good[] = { "eth0", "net1", "eth0.100", "pod_if-2" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(good); i++)
		cr_expect(ky_cni_ifname_valid(good[i]), "%s", good[i]);
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

/* Issue 14: "." and ".." passed as network names (the fuzz input
 * cni_config/I2-network-name-dotdot), and so did names with no letter or
 * digit first; the network's name is a directory under bpffs. */
Test(cni_config, a_network_name_starts_with_a_letter_or_digit)
{
	static const char *const bad[] = { "..", ".", ".hidden", "-net", "_net" };
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		char text[200];
		snprintf(text, sizeof(text), "{\"cniVersion\":\"1.1.0\",\"name\":\"%s\",\"type\":\"kyborg\","
			 "\"device\":\"e0\"}", bad[i]);
		for (enum ky_cni_cmd cmd = KY_CNI_ADD; cmd <= KY_CNI_CHECK; cmd++) {
			int code;
			cr_expect_lt(parse(text, cmd, &code), 0, "%s accepted", text);
			cr_expect_eq(code, KY_CNI_E_CONFIG, "%s: code %d", text, code);
		}
		cr_expect_not(ky_cni_network_name_valid(bad[i]), "%s", bad[i]);
	}
	cr_assert(ky_cni_network_name_valid("0net.a-b_c"));
}

/* The device lock's key for any name the kernel allows (issue 14:
 * "kysec+x" made no valid key, so its ADD failed with code 5). */
Test(cni_state_key, device_keys_escape_any_netdev_name)
{
	char key[KY_STATE_KEY_MAX + 1];
	cr_assert_eq(ky_cni_device_key("kysec+x", key, sizeof(key)), 0);
	cr_assert_str_eq(key, "device@kysec@2bx");
	cr_assert_eq(ky_cni_device_key("0000:18:01.0", key, sizeof(key)), 0);
	cr_assert_str_eq(key, "device@0000@3a18@3a01.0");
	cr_assert_eq(ky_cni_device_key(".a\x01~", key, sizeof(key)), 0);
	cr_assert(ky_state_key_valid(key), "%s", key);
	cr_assert_eq(ky_cni_device_key("", key, sizeof(key)), -EINVAL);
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

/* ---- Compatibility with sriov-cni and host-device (issue 15) ---- */

static struct ky_cni_conf parsed(const char *text, enum ky_cni_cmd cmd)
{
	struct ky_cni_conf c;
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_cni_conf_parse(text, strlen(text), cmd, &c, &err), 0, "%s: %s", text, ky_error_msg(err));
	return c;
}

Test(cni_config, vlan_proto_is_read_in_any_case)
{
	static const struct {
		const char *v;
		uint16_t proto;
	} cases[] = { { "802.1q", 0x8100 }, { "802.1Q", 0x8100 }, { "802.1ad", 0x88a8 }, { "802.1AD", 0x88a8 },
		      { "802.1Ad", 0x88a8 } };
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++) {
		char *t = NULL;
		cr_assert_geq(asprintf(&t, "{" BASE ",\"deviceID\":\"0000:18:01.0\",\"vlan\":10,\"vlanProto\":\"%s\"}",
				       cases[i].v), 0);
		struct ky_cni_conf c = parsed(t, KY_CNI_ADD);
		cr_expect_eq(c.vf.vlan_proto, cases[i].proto, "%s", cases[i].v);
		ky_cni_conf_free(&c);
		free(t);
	}
	int code;
	cr_assert_lt(parse("{" BASE ",\"deviceID\":\"0000:18:01.0\",\"vlan\":10,\"vlanProto\":\"802.1x\"}", KY_CNI_ADD,
			   &code), 0);
	cr_assert_eq(code, 7);
}

Test(cni_config, every_sriov_cni_log_level_is_a_level)
{
	static const struct {
		const char *v;
		enum ky_log_level level;
	} cases[] = { { "panic", KY_LOG_ERROR }, { "error", KY_LOG_ERROR }, { "warning", KY_LOG_WARN },
		      { "info", KY_LOG_INFO },   { "debug", KY_LOG_DEBUG }, { "", KY_LOG_INFO },
		      { "Debug", KY_LOG_DEBUG } };
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++) {
		char *t = NULL;
		cr_assert_geq(asprintf(&t, "{" BASE ",\"device\":\"eth1\",\"logLevel\":\"%s\",\"logFile\":\"/tmp/x.log\"}",
				       cases[i].v), 0);
		struct ky_cni_conf c = parsed(t, KY_CNI_ADD);
		cr_expect_eq(c.log_level_value, cases[i].level, "%s", cases[i].v);
		cr_expect_str_eq(c.log_file, "/tmp/x.log");
		ky_cni_conf_free(&c);
		free(t);
	}
	int code;
	cr_assert_lt(parse("{" BASE ",\"device\":\"eth1\",\"logLevel\":\"loud\"}", KY_CNI_ADD, &code), 0);
	cr_assert_eq(code, 7);
}

Test(cni_config, host_device_fields_name_the_device)
{
	struct ky_cni_conf c = parsed("{" BASE ",\"hwaddr\":\"0A:58:0A:F4:00:05\"}", KY_CNI_ADD);
	cr_assert_eq(c.dev_source, KY_CNI_DEV_HWADDR);
	cr_assert_str_eq(c.dev_field, "hwaddr");
	const uint8_t want[6] = { 0x0a, 0x58, 0x0a, 0xf4, 0x00, 0x05 };
	cr_assert_arr_eq(c.hwaddr, want, 6);
	cr_assert_not(c.has_mac, "hwaddr chooses the device, it sets no MAC");
	ky_cni_conf_free(&c);
	c = parsed("{" BASE ",\"kernelpath\":\"/sys/devices/pci0000:00/0000:00:1f.6\"}", KY_CNI_ADD);
	cr_assert_eq(c.dev_source, KY_CNI_DEV_KERNELPATH);
	cr_assert_str_eq(c.kernelpath, "/sys/devices/pci0000:00/0000:00:1f.6");
	ky_cni_conf_free(&c);
	c = parsed("{" BASE ",\"pciBusID\":\"0000:3d:00.1\"}", KY_CNI_ADD);
	cr_assert_eq(c.dev_source, KY_CNI_DEV_PCI);
	ky_cni_conf_free(&c);

	static const char *const bad[] = {
		"\"hwaddr\":\"0a:58\"",
		"\"kernelpath\":\"sys/devices/x\"",
		"\"kernelpath\":\"/sys/class/net/eth0\"",
		"\"kernelpath\":\"/sys/devices/../../etc\"",
		"\"kernelpath\":\"/sys/devices/pci0000:00/./x\"",
		"\"kernelpath\":\"/sys/devices//x\"",
		"\"kernelpath\":\"/sys/devices/\"",
		"\"kernelpath\":\"/sys/devices/a\\nb\"",
		"\"hwaddr\":\"02:00:00:00:00:01\",\"device\":\"eth1\"",
		"\"kernelpath\":\"/sys/devices/x\",\"pciBusID\":\"0000:3d:00.1\"",
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		char *t = NULL;
		int code;
		cr_assert_geq(asprintf(&t, "{" BASE ",%s}", bad[i]), 0);
		cr_expect_lt(parse(t, KY_CNI_ADD, &code), 0, "%s accepted", bad[i]);
		cr_expect_eq(code, 7, "%s", bad[i]);
		free(t);
	}
}

/* ADD refuses a near miss naming the field meant; an unknown field that is
 * no near miss is left aside with a note, as sriov-cni and host-device
 * leave it. */
Test(cni_config, add_refuses_a_near_miss_and_notes_any_other_unknown_field)
{
	static const struct {
		const char *key, *meant;
	} near[] = {
		{ "vlan_qos", "vlanQoS" }, { "spoofChk", "spoofchk" }, { "LogLevel", "logLevel" },
		{ "hwAddr", "hwaddr" },    { "kernelPath", "kernelpath" }, { "deviceId", "deviceID" },
		{ "MAC", "mac" },          { "vlna", "vlan" },          { "linkState", "link_state" },
		{ "maxTxRate", "max_tx_rate" }, { "pciBusId", "pciBusID" }, { "statedir", "stateDir" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(near); i++) {
		char *t = NULL, want[96];
		cr_assert_geq(asprintf(&t, "{" BASE ",\"device\":\"eth1\",\"%s\":1}", near[i].key), 0);
		struct ky_cni_conf c;
		_cleanup_error_ struct ky_error *err = NULL;
		cr_expect_eq(ky_cni_conf_parse(t, strlen(t), KY_CNI_ADD, &c, &err), -EINVAL, "%s accepted", near[i].key);
		cr_expect_eq(ky_error_status(err), 7, "%s", near[i].key);
		snprintf(want, sizeof(want), "%s: unknown field; did you mean %s?", near[i].key, near[i].meant);
		cr_expect_str_eq(ky_error_msg(err), want);
		ky_cni_conf_free(&c);
		free(t);
	}
	struct ky_cni_conf c = parsed("{" BASE ",\"device\":\"eth1\",\"vlan_trunk\":\"2,4\",\"tag\":1,"
				      "\"metaPlugins\":{},\"ips\":[]}", KY_CNI_ADD);
	cr_assert_eq(c.n_notes, 4);
	cr_assert_str_eq(c.notes[0], "field \"vlan_trunk\": unknown, ignored");
	cr_assert_str_eq(c.notes[3], "field \"ips\": unknown, ignored");
	ky_cni_conf_free(&c);
	c = parsed("{" BASE ",\"device\":\"eth1\",\"mtu\":1500}", KY_CNI_ADD);
	cr_assert_eq(c.n_notes, 0, "known fields leave no note");
	ky_cni_conf_free(&c);
}

/* The other commands read only what they use: a config that gained a near
 * miss or a bad value since ADD, or lost its device, passes them. */
Test(cni_config, del_gc_status_never_fail_on_a_field_they_do_not_need)
{
	static const char *const extra[] = {
		"\"vlan_qos\":3",
		"\"spoofChk\":\"off\"",
		"\"deviceID\":\"not-a-pci-address\"",
		"\"device\":\"eth1\",\"deviceID\":\"0000:18:01.0\"",
		"\"vlan\":99999,\"device\":\"eth1\"",
		"\"mtu\":1,\"device\":\"eth1\"",
		"\"kernelpath\":\"/etc/passwd\"",
		"\"bpf\":{}",
		"\"logLevel\":\"loud\"",
		"\"logFile\":\"relative.log\"",
		"\"runtimeConfig\":7",
		"\"prevResult\":[],\"device\":\"eth1\"",
		"",
	};
	static const enum ky_cni_cmd cmds[] = { KY_CNI_DEL, KY_CNI_GC, KY_CNI_STATUS };
	for (size_t i = 0; i < KY_ARRAY_SIZE(extra); i++)
		for (size_t k = 0; k < KY_ARRAY_SIZE(cmds); k++) {
			char *t = NULL;
			cr_assert_geq(asprintf(&t, "{" BASE ",\"cni.dev/valid-attachments\":[]%s%s}", extra[i][0] ? "," : "",
					       extra[i]), 0);
			struct ky_cni_conf c;
			_cleanup_error_ struct ky_error *err = NULL;
			cr_expect_eq(ky_cni_conf_parse(t, strlen(t), cmds[k], &c, &err), 0, "command %d, %s: %s", cmds[k],
				     extra[i], ky_error_msg(err));
			cr_expect_str_eq(c.name, "n");
			cr_expect_str_eq(c.state_dir, KY_CNI_STATE_DIR_DEFAULT);
			ky_cni_conf_free(&c);
			free(t);
		}
	/* A bad value of a field DEL uses when good is left aside, and noted. */
	struct ky_cni_conf c = parsed("{" BASE ",\"logLevel\":\"loud\",\"ipam\":{\"type\":\"../x\"}}", KY_CNI_DEL);
	cr_assert_not(c.has_ipam);
	cr_assert_eq(c.log_level_value, KY_LOG_INFO);
	cr_assert_eq(c.n_notes, 2);
	cr_assert(strstr(c.notes[0], "logLevel: ") && strstr(c.notes[0], "DEL does not need it"), "%s", c.notes[0]);
	cr_assert(strstr(c.notes[1], "ipam.type: "), "%s", c.notes[1]);
	ky_cni_conf_free(&c);
	/* What each needs still fails it. */
	int code;
	cr_assert_lt(parse("{" BASE ",\"stateDir\":\"rel\"}", KY_CNI_DEL, &code), 0);
	cr_assert_eq(code, 7);
	cr_assert_lt(parse("{\"cniVersion\":\"1.1.0\",\"type\":\"kyborg\"}", KY_CNI_DEL, &code), 0, "no name");
	cr_assert_lt(parse("{" BASE ",\"ipam\":{\"type\":\"../x\"}}", KY_CNI_STATUS, &code), 0, "STATUS runs ipam");
	cr_assert_lt(parse("{" BASE ",\"cni.dev/valid-attachments\":7}", KY_CNI_GC, &code), 0);
}

/* CHECK compares the VF fields, the MAC and prevResult: those it needs;
 * the device it takes from the record. */
Test(cni_config, check_needs_the_fields_it_compares_and_not_the_device)
{
	int code;
	cr_assert_eq(parse("{" BASE ",\"deviceID\":\"nonsense\",\"vlan_qos\":1,\"mtu\":1}", KY_CNI_CHECK, &code), 0);
	cr_assert_eq(parse("{" BASE "}", KY_CNI_CHECK, &code), 0, "no device");
	cr_assert_lt(parse("{" BASE ",\"vlan\":99999}", KY_CNI_CHECK, &code), 0);
	cr_assert_lt(parse("{" BASE ",\"mac\":\"x\"}", KY_CNI_CHECK, &code), 0);
	cr_assert_lt(parse("{" BASE ",\"prevResult\":[]}", KY_CNI_CHECK, &code), 0);
}

/* sriov-cni: runtimeConfig.mac over CNI_ARGS MAC over "mac". */
Test(cni_config, mac_comes_from_runtime_config_then_cni_args_then_the_config)
{
	static const struct {
		const char *fields, *args, *want, *field;
	} cases[] = {
		{ ",\"mac\":\"02:00:00:00:00:01\"", NULL, "02:00:00:00:00:01", "mac" },
		{ ",\"mac\":\"02:00:00:00:00:01\"", "IgnoreUnknown=1;MAC=02:00:00:00:00:02;K8S_POD_NAME=p",
		  "02:00:00:00:00:02", "CNI_ARGS MAC" },
		{ ",\"mac\":\"02:00:00:00:00:01\",\"runtimeConfig\":{\"mac\":\"CA:FE:C0:FF:EE:00\"}",
		  "MAC=02:00:00:00:00:02", "ca:fe:c0:ff:ee:00", "runtimeConfig.mac" },
		{ "", "K8S_POD_NAMESPACE=x;MAC=02:00:00:00:00:03", "02:00:00:00:00:03", "CNI_ARGS MAC" },
		{ "", "mac=02:00:00:00:00:03", NULL, NULL },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++) {
		char *t = NULL;
		cr_assert_geq(asprintf(&t, "{" BASE ",\"device\":\"eth1\"%s}", cases[i].fields), 0);
		struct ky_cni_conf c = parsed(t, KY_CNI_ADD);
		_cleanup_error_ struct ky_error *err = NULL;
		cr_assert_eq(ky_cni_conf_apply_args(&c, KY_CNI_ADD, cases[i].args, &err), 0, "%s", ky_error_msg(err));
		char mac[KY_MAC_STRLEN];
		cr_expect_eq(c.has_mac, cases[i].want != NULL, "case %zu", i);
		if (cases[i].want) {
			cr_expect_str_eq(ky_format_mac(c.mac, mac), cases[i].want, "case %zu", i);
			cr_expect_str_eq(c.mac_field, cases[i].field, "case %zu", i);
		}
		ky_cni_conf_free(&c);
		free(t);
	}
	struct ky_cni_conf c = parsed("{" BASE ",\"device\":\"eth1\"}", KY_CNI_ADD);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(ky_cni_conf_apply_args(&c, KY_CNI_ADD, "MAC=01:00:5e:00:00:01", &err), -EINVAL);
	cr_assert_eq(ky_error_status(err), KY_CNI_E_ENV);
	cr_assert(strstr(ky_error_msg(err), "CNI_ARGS: MAC"), "%s", ky_error_msg(err));
	ky_error_clear(&err);
	cr_assert_eq(ky_cni_conf_apply_args(&c, KY_CNI_DEL, "MAC=zz", &err), 0, "DEL does not need it");
	ky_cni_conf_free(&c);
}

/* ---- RDMA: whether the device's RDMA device goes with it ---- */

Test(cni_rdma, only_exclusive_mode_moves_the_rdma_device_of_the_netdev)
{
	static const struct {
		struct ky_cni_rdma_facts f;
		enum ky_cni_rdma_action want;
		const char *why;
	} cases[] = {
		{ { true, true, KY_RDMA_NETNS_EXCLUSIVE, true }, KY_CNI_RDMA_MOVE, "exclusive netns mode" },
		{ { true, true, KY_RDMA_NETNS_SHARED, true }, KY_CNI_RDMA_NONE, "shared netns mode" },
		{ { true, true, KY_RDMA_NETNS_EXCLUSIVE, false }, KY_CNI_RDMA_NONE, "no RDMA device has a port" },
		{ { true, false, KY_RDMA_NETNS_EXCLUSIVE, true }, KY_CNI_RDMA_NONE, "the node has no RDMA" },
		{ { false, true, KY_RDMA_NETNS_EXCLUSIVE, true }, KY_CNI_RDMA_NONE, "userspace driver" },
		{ { false, false, KY_RDMA_NETNS_SHARED, false }, KY_CNI_RDMA_NONE, "userspace driver" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(cases); i++) {
		const char *why = NULL;
		cr_expect_eq(ky_cni_rdma_plan(&cases[i].f, &why), cases[i].want, "case %zu", i);
		cr_expect(why && strstr(why, cases[i].why), "case %zu: %s", i, why ? why : "(none)");
	}
	/* An unknown fact counts for moving: asked early, it never says
	 * NONE for a reason that is not known yet. */
	struct ky_cni_rdma_facts f = { .has_netdev = true, .node_has_rdma = true, .mode = KY_RDMA_NETNS_EXCLUSIVE,
				       .found = true };
	cr_assert_eq(ky_cni_rdma_plan(&f, NULL), KY_CNI_RDMA_MOVE);
}

Test(cni_rdma, del_moves_back_only_a_recorded_device_still_in_a_live_pod)
{
	cr_assert_eq(ky_cni_rdma_undo_plan(true, true, true), KY_CNI_RDMA_MOVE);
	cr_assert_eq(ky_cni_rdma_undo_plan(true, false, true), KY_CNI_RDMA_NONE, "netns gone: back in the initial one");
	cr_assert_eq(ky_cni_rdma_undo_plan(true, true, false), KY_CNI_RDMA_NONE, "never moved, or back already");
	cr_assert_eq(ky_cni_rdma_undo_plan(false, true, true), KY_CNI_RDMA_NONE, "ADD moved none");
}

/* ---- a VF a DRA claim holds (cni_dra.c) ---- */

Test(cni_dra, the_claims_vf_settings_are_left_to_it_when_the_config_repeats_them_and_refused_otherwise)
{
	const struct ky_vf_config claim = { .mask = KY_VF_VLAN | KY_VF_RATE, .vlan = 100, .vlan_proto = 0x8100,
					    .max_tx_rate = 1000 };
	struct ky_vf_config conf = { .mask = KY_VF_VLAN | KY_VF_SPOOFCHK | KY_VF_TRUST, .vlan = 100,
				     .vlan_proto = 0x8100, .spoofchk = true };
	unsigned apply = 0;
	const char *field = "x";
	char a[KY_VF_TEXT_LEN], b[KY_VF_TEXT_LEN];
	/* The same VLAN: the claim's; spoofchk and trust: the config's. */
	cr_assert(ky_cni_dra_vf_plan(&conf, &claim, &apply, &field, a, b));
	cr_assert_null(field);
	cr_assert_eq(apply, KY_VF_SPOOFCHK | KY_VF_TRUST);
	/* Another VLAN, then another priority of the same VLAN: the first
	 * field that differs, with both values. */
	conf.vlan = 200;
	cr_assert_not(ky_cni_dra_vf_plan(&conf, &claim, &apply, &field, a, b));
	cr_assert_str_eq(field, "vlan");
	cr_assert_str_eq(a, "200");
	cr_assert_str_eq(b, "100");
	conf.vlan = 100;
	conf.qos = 3;
	cr_assert_not(ky_cni_dra_vf_plan(&conf, &claim, &apply, &field, a, b));
	cr_assert_str_eq(field, "vlanQoS");
	/* A claim that set nothing leaves everything to the config. */
	const struct ky_vf_config none = { 0 };
	cr_assert(ky_cni_dra_vf_plan(&conf, &none, &apply, &field, a, b));
	cr_assert_eq(apply, conf.mask);
}

Test(cni_dra, the_drivers_state_dir_is_the_nodes_word_and_an_absolute_path)
{
	struct ky_cni_node n;
	char *const none[] = { NULL };
	cr_assert_eq(ky_cni_node_from_env(none, &n), 0);
	cr_assert_str_eq(n.dra_state_dir, KY_DRA_STATE_DIR_DEFAULT);
	ky_cni_node_free(&n);
	char *const set[] = { "KYBORG_DRA_STATE_DIR=/srv/kyborg", NULL };
	cr_assert_eq(ky_cni_node_from_env(set, &n), 0);
	cr_assert_str_eq(n.dra_state_dir, "/srv/kyborg");
	ky_cni_node_free(&n);
	char *const relative[] = { "KYBORG_DRA_STATE_DIR=srv/kyborg", NULL };
	cr_assert_eq(ky_cni_node_from_env(relative, &n), 0);
	cr_assert_str_eq(n.dra_state_dir, KY_DRA_STATE_DIR_DEFAULT, "a relative path would follow the runtime's cwd");
	ky_cni_node_free(&n);
}

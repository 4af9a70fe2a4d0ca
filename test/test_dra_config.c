/* A claim's opaque configs (dra/dra_config.h), pure: every kind with every
 * field, each field bad with the error naming its JSON path as issue 17
 * writes it ("config[0].opaque.parameters.vlan: must be between 0 and
 * 4094"), unknown kinds and fields, other drivers' configs passed by, the
 * order in which they apply (the class's first, the last of a device's
 * family winning whole, as NVIDIA's driver does), subrequests, the places
 * a claim may take a bitstream from, and the rule for claims sharing a
 * GPU. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <string.h>

#include "dra_config.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define AFU "d8424dc4a4a3c413f89e433683f9040b"

static const struct dra_config_rules rules = { .driver = "kyborg.io", .bitstream_dir = "/var/lib/kyborg/bitstreams" };

/* One FromClaim config of ours for `requests` (a JSON array or NULL) with
 * the parameters' fields after apiVersion and kind. */
static char *entry(const char *source, const char *requests, const char *kind, const char *fields)
{
	char *s;
	cr_assert_geq(asprintf(&s,
			       "{\"source\":\"%s\",%s%s%s\"opaque\":{\"driver\":\"kyborg.io\",\"parameters\":"
			       "{\"apiVersion\":\"kyborg.io/v1alpha1\",\"kind\":\"%s\"%s%s}}}",
			       source, requests ? "\"requests\":" : "", requests ? requests : "", requests ? "," : "", kind,
			       *fields ? "," : "", fields),
		      0);
	return s;
}

/* Parses "[...]" and returns the result; *msg the error's text or "". */
static int parse(const char *array, struct dra_configs *out, char *msg, size_t size)
{
	_cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(array);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_not_null(j, "not JSON: %s", array);
	int r = dra_configs_parse(j, &rules, out, &err);
	snprintf(msg, size, "%s", r < 0 ? ky_error_msg(err) : "");
	return r;
}

static int parse_one(const char *kind, const char *fields, struct dra_configs *out, char *msg, size_t size)
{
	_cleanup_free_ char *e = entry("FromClaim", NULL, kind, fields), *arr = NULL;
	cr_assert_geq(asprintf(&arr, "[%s]", e), 0);
	return parse(arr, out, msg, size);
}

Test(dra_config, a_vf_config_with_every_field_is_read_as_the_cni_reads_it)
{
	struct dra_configs c;
	char msg[512];
	cr_assert_eq(parse_one("VfConfig",
			       "\"vlan\":100,\"vlanQoS\":5,\"vlanProto\":\"802.1AD\",\"mac\":\"02:4b:59:00:01:01\","
			       "\"spoofchk\":\"off\",\"trust\":true,\"link_state\":\"disable\",\"min_tx_rate\":10,"
			       "\"max_tx_rate\":1000,\"driver\":\"vfio-pci\"",
			       &c, msg, sizeof(msg)),
		     0, "%s", msg);
	cr_assert_eq(c.n, 1);
	const struct dra_config *v = &c.v[0];
	cr_assert_str_eq(v->path, "config[0]");
	cr_assert_eq(v->kind, DRA_CONFIG_VF);
	cr_assert_not(v->from_class);
	cr_assert_eq(v->vf.mask, KY_VF_VLAN | KY_VF_MAC | KY_VF_SPOOFCHK | KY_VF_TRUST | KY_VF_LINK_STATE | KY_VF_RATE);
	cr_assert_eq(v->vf.vlan, 100);
	cr_assert_eq(v->vf.qos, 5);
	cr_assert_eq(v->vf.vlan_proto, ETH_P_8021AD);
	cr_assert_eq(v->vf.mac[5], 0x01);
	cr_assert_not(v->vf.spoofchk);
	cr_assert(v->vf.trust, "a JSON boolean is taken as the CNI's \"on\"");
	cr_assert_eq(v->vf.link_state, KY_VF_LINK_STATE_DISABLE);
	cr_assert_eq(v->vf.min_tx_rate, 10);
	cr_assert_eq(v->vf.max_tx_rate, 1000);
	cr_assert_eq(v->vf_driver, KY_DRA_VF_DRIVER_VFIO);
	dra_configs_release(&c);

	cr_assert_eq(parse_one("VfConfig", "\"vlan\":7,\"driver\":\"netdevice\"", &c, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(c.v[0].vf.mask, KY_VF_VLAN, "only what is named is set");
	cr_assert_eq(c.v[0].vf.vlan_proto, ETH_P_8021Q);
	cr_assert_eq(c.v[0].vf_driver, KY_DRA_VF_DRIVER_NETDEVICE);
	dra_configs_release(&c);
	cr_assert_eq(parse_one("VfConfig", "", &c, msg, sizeof(msg)), 0, "an empty VfConfig changes nothing: %s", msg);
	cr_assert_eq(c.v[0].vf.mask, 0);
	cr_assert_eq(c.v[0].vf_driver, KY_DRA_VF_DRIVER_KEEP);
	dra_configs_release(&c);
}

Test(dra_config, each_bad_vf_field_fails_naming_its_path)
{
	static const struct {
		const char *fields, *want;
	} bad[] = {
		{ "\"vlan\":4095", "config[0].opaque.parameters.vlan: must be between 0 and 4094" },
		{ "\"vlan\":\"100\"", "config[0].opaque.parameters.vlan: expected an integer" },
		{ "\"vlan\":1,\"vlanQoS\":8", "config[0].opaque.parameters.vlanQoS: must be between 0 and 7" },
		{ "\"vlanQoS\":3", "config[0].opaque.parameters.vlanQoS: needs a vlan other than 0" },
		{ "\"vlan\":1,\"vlanProto\":\"802.1x\"", "config[0].opaque.parameters.vlanProto: must be one of 802.1q, 802.1ad" },
		{ "\"vlanProto\":\"802.1ad\"", "config[0].opaque.parameters.vlanProto: needs a vlan other than 0" },
		{ "\"mac\":\"02:4b:59\"", "config[0].opaque.parameters.mac: " },
		{ "\"mac\":\"03:00:00:00:00:01\"", "config[0].opaque.parameters.mac: a multicast address" },
		{ "\"spoofchk\":\"yes\"", "config[0].opaque.parameters.spoofchk: must be one of on, off" },
		{ "\"trust\":1", "config[0].opaque.parameters.trust: must be \"on\", \"off\", true or false" },
		{ "\"link_state\":\"up\"", "config[0].opaque.parameters.link_state: must be one of auto, enable, disable" },
		{ "\"min_tx_rate\":-1", "config[0].opaque.parameters.min_tx_rate: must be between 0 and 4294967295" },
		{ "\"max_tx_rate\":1.5", "config[0].opaque.parameters.max_tx_rate: " },
		{ "\"min_tx_rate\":100,\"max_tx_rate\":10", "config[0].opaque.parameters.min_tx_rate: 100 is above max_tx_rate 10" },
		{ "\"driver\":\"uio\"", "config[0].opaque.parameters.driver: must be one of netdevice, vfio-pci" },
		{ "\"vlan_qos\":3", "config[0].opaque.parameters.vlan_qos: unknown field" },
		{ "\"vlan\":1,\"vlan\":2", "config[0].opaque.parameters.vlan: duplicate field" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		struct dra_configs c;
		char msg[512];
		cr_expect_eq(parse_one("VfConfig", bad[i].fields, &c, msg, sizeof(msg)), -EINVAL, "%s", bad[i].fields);
		cr_expect(strncmp(msg, bad[i].want, strlen(bad[i].want)) == 0, "%s: got \"%s\", want \"%s...\"",
			  bad[i].fields, msg, bad[i].want);
	}
}

Test(dra_config, an_fpga_config_takes_an_image_by_url_or_from_the_bitstream_dir)
{
	struct dra_configs c;
	char msg[512];
	cr_assert_eq(parse_one("FpgaConfig",
			       "\"bitstream\":{\"id\":\"" AFU "\",\"url\":\"https://images.example/nlb.gbs\",\"sha256\":\"" SHA "\"}",
			       &c, msg, sizeof(msg)),
		     0, "%s", msg);
	cr_assert_str_eq(c.v[0].bitstream.id, AFU);
	cr_assert_str_eq(c.v[0].bitstream.url, "https://images.example/nlb.gbs");
	cr_assert_str_eq(c.v[0].bitstream.sha256, SHA);
	dra_configs_release(&c);
	static const char *const good[] = {
		"\"bitstream\":{\"id\":\"d8424dc4-a4a3-c413-f89e-433683f9040b\",\"path\":\"/var/lib/kyborg/bitstreams/nlb.gbs\",\"sha256\":\"" SHA "\"}",
		"\"bitstream\":{\"id\":\"" AFU "\",\"url\":\"file:///var/lib/kyborg/bitstreams/a/nlb.gbs\",\"sha256\":\"" SHA "\"}",
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(good); i++) {
		cr_assert_eq(parse_one("FpgaConfig", good[i], &c, msg, sizeof(msg)), 0, "%s: %s", good[i], msg);
		dra_configs_release(&c);
	}
	static const struct {
		const char *fields, *want;
	} bad[] = {
		{ "", "config[0].opaque.parameters.bitstream: missing required field" },
		{ "\"bitstream\":{\"id\":\"" AFU "\",\"path\":\"/etc/shadow\",\"sha256\":\"" SHA "\"}",
		  "config[0].opaque.parameters.bitstream.path: a claim's bitstream on the node must be under /var/lib/kyborg/bitstreams" },
		{ "\"bitstream\":{\"id\":\"" AFU "\",\"path\":\"/var/lib/kyborg/bitstreams/../../../etc/shadow\",\"sha256\":\"" SHA "\"}",
		  "config[0].opaque.parameters.bitstream.path: a claim's bitstream on the node must be under" },
		{ "\"bitstream\":{\"id\":\"" AFU "\",\"path\":\"/var/lib/kyborg/bitstreams\",\"sha256\":\"" SHA "\"}",
		  "config[0].opaque.parameters.bitstream.path: a claim's bitstream on the node must be under" },
		{ "\"bitstream\":{\"id\":\"" AFU "\",\"url\":\"file:///etc/passwd\",\"sha256\":\"" SHA "\"}",
		  "config[0].opaque.parameters.bitstream.url: a claim's bitstream on the node must be under" },
		{ "\"bitstream\":{\"id\":\"" AFU "\",\"url\":\"file:///var/lib/kyborg/bitstreams/%2e%2e/x\",\"sha256\":\"" SHA "\"}",
		  "config[0].opaque.parameters.bitstream.url: a claim's bitstream on the node must be under" },
		{ "\"bitstream\":{\"id\":\"" AFU "\",\"url\":\"http://images.example/x\",\"sha256\":\"" SHA "\"}",
		  "config[0].opaque.parameters.bitstream.url: must be an https:// or file:/// URL" },
		{ "\"bitstream\":{\"id\":\"" AFU "\",\"path\":\"x.gbs\",\"sha256\":\"" SHA "\"}",
		  "config[0].opaque.parameters.bitstream.path: must be an absolute path" },
		{ "\"bitstream\":{\"id\":\"" AFU "\",\"url\":\"https://a/b\",\"path\":\"/var/lib/kyborg/bitstreams/a\",\"sha256\":\"" SHA "\"}",
		  "config[0].opaque.parameters.bitstream: give exactly one of path or url" },
		{ "\"bitstream\":{\"id\":\"" AFU "\",\"url\":\"https://a/b\",\"sha256\":\"12ab\"}",
		  "config[0].opaque.parameters.bitstream.sha256: must be 64 hex digits" },
		{ "\"bitstream\":{\"id\":\"nlb\",\"url\":\"https://a/b\",\"sha256\":\"" SHA "\"}",
		  "config[0].opaque.parameters.bitstream.id: must be an AFU id" },
		{ "\"bitstream\":{\"url\":\"https://a/b\",\"sha256\":\"" SHA "\"}",
		  "config[0].opaque.parameters.bitstream.id: missing required field" },
		{ "\"bitstream\":{\"id\":\"" AFU "\",\"url\":\"https://a/b\",\"sha256\":\"" SHA "\",\"size\":1}",
		  "config[0].opaque.parameters.bitstream.size: unknown field" },
		{ "\"bitstream\":\"nlb\"", "config[0].opaque.parameters.bitstream: must be an object" },
		{ "\"region\":0", "config[0].opaque.parameters.region: unknown field" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		cr_expect_eq(parse_one("FpgaConfig", bad[i].fields, &c, msg, sizeof(msg)), -EINVAL, "%s", bad[i].fields);
		cr_expect(strncmp(msg, bad[i].want, strlen(bad[i].want)) == 0, "%s: got \"%s\", want \"%s...\"",
			  bad[i].fields, msg, bad[i].want);
	}
}

Test(dra_config, a_gpu_config_has_a_sharing_and_an_environment_that_names_no_reserved_variable)
{
	struct dra_configs c;
	char msg[512];
	cr_assert_eq(parse_one("GpuConfig", "\"sharing\":\"timeSliced\",\"env\":{\"CUDA_MPS_PIPE_DIRECTORY\":\"/tmp/mps\",\"A\":\"\"}",
			       &c, msg, sizeof(msg)),
		     0, "%s", msg);
	cr_assert(c.v[0].has_sharing);
	cr_assert_eq(c.v[0].sharing, DRA_GPU_TIME_SLICED);
	cr_assert_eq(c.v[0].n_env, 2);
	cr_assert_str_eq(c.v[0].env[0], "CUDA_MPS_PIPE_DIRECTORY=/tmp/mps");
	cr_assert_str_eq(c.v[0].env[1], "A=");
	dra_configs_release(&c);
	cr_assert_eq(parse_one("GpuConfig", "", &c, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_not(c.v[0].has_sharing);
	cr_assert_eq(c.v[0].n_env, 0);
	dra_configs_release(&c);
	static const struct {
		const char *fields, *want;
	} bad[] = {
		{ "\"sharing\":\"mps\"", "config[0].opaque.parameters.sharing: must be one of exclusive, timeSliced" },
		{ "\"env\":[\"A=b\"]", "config[0].opaque.parameters.env: " },
		{ "\"env\":{\"NVIDIA_VISIBLE_DEVICES\":\"all\"}",
		  "config[0].opaque.parameters.env.NVIDIA_VISIBLE_DEVICES: NVIDIA_* is the driver's and the runtime's" },
		{ "\"env\":{\"PCIDEVICE_KYBORG_IO_GPU\":\"x\"}", "config[0].opaque.parameters.env.PCIDEVICE_KYBORG_IO_GPU: PCIDEVICE_*" },
		{ "\"env\":{\"KYBORG_GPU_SHARING\":\"x\"}", "config[0].opaque.parameters.env.KYBORG_GPU_SHARING: KYBORG_*" },
		{ "\"env\":{\"1A\":\"x\"}", "config[0].opaque.parameters.env.1A: not a variable name" },
		{ "\"env\":{\"A B\":\"x\"}", "config[0].opaque.parameters.env[\"A B\"]: not a variable name" },
		{ "\"env\":{\"A\":1}", "config[0].opaque.parameters.env.A: expected a string" },
		{ "\"env\":{\"A\":\"x\\ny\"}", "config[0].opaque.parameters.env.A: control characters" },
		{ "\"env\":{\"A\":\"x\",\"A\":\"y\"}", "config[0].opaque.parameters.env.A: duplicate variable" },
		{ "\"replicas\":2", "config[0].opaque.parameters.replicas: unknown field" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		cr_expect_eq(parse_one("GpuConfig", bad[i].fields, &c, msg, sizeof(msg)), -EINVAL, "%s", bad[i].fields);
		cr_expect(strncmp(msg, bad[i].want, strlen(bad[i].want)) == 0, "%s: got \"%s\", want \"%s...\"",
			  bad[i].fields, msg, bad[i].want);
	}
	/* A value of 4097 bytes. */
	char fields[4200];
	snprintf(fields, sizeof(fields), "\"env\":{\"A\":\"%04097d\"}", 0);
	cr_assert_eq(parse_one("GpuConfig", fields, &c, msg, sizeof(msg)), -EINVAL);
	cr_assert(strstr(msg, "env.A: at most 4096 bytes"), "%s", msg);
}

Test(dra_config, an_unknown_kind_a_wrong_api_version_or_a_bad_entry_fails_naming_it)
{
	static const struct {
		const char *array, *want;
	} bad[] = {
		{ "[{\"source\":\"FromClaim\",\"opaque\":{\"driver\":\"kyborg.io\",\"parameters\":{\"apiVersion\":\"kyborg.io/v1alpha1\",\"kind\":\"NicConfig\"}}}]",
		  "config[0].opaque.parameters.kind: must be one of VfConfig, FpgaConfig, GpuConfig, got \"NicConfig\"" },
		{ "[{\"source\":\"FromClaim\",\"opaque\":{\"driver\":\"kyborg.io\",\"parameters\":{\"apiVersion\":\"kyborg.io/v1\",\"kind\":\"VfConfig\"}}}]",
		  "config[0].opaque.parameters.apiVersion: must be kyborg.io/v1alpha1, got \"kyborg.io/v1\"" },
		{ "[{\"source\":\"FromClaim\",\"opaque\":{\"driver\":\"kyborg.io\",\"parameters\":{\"kind\":\"VfConfig\"}}}]",
		  "config[0].opaque.parameters.apiVersion: missing required field" },
		{ "[{\"source\":\"FromClaim\",\"opaque\":{\"driver\":\"kyborg.io\",\"parameters\":{\"apiVersion\":\"kyborg.io/v1alpha1\"}}}]",
		  "config[0].opaque.parameters.kind: missing required field" },
		{ "[{\"source\":\"FromClaim\",\"opaque\":{\"driver\":\"kyborg.io\"}}]", "config[0].opaque.parameters: missing required field" },
		{ "[{\"source\":\"FromClaim\",\"opaque\":{\"driver\":\"kyborg.io\",\"parameters\":[]}}]", "config[0].opaque.parameters: " },
		{ "[{\"source\":\"FromSomewhere\",\"opaque\":{\"driver\":\"kyborg.io\",\"parameters\":{}}}]",
		  "config[0].source: must be one of FromClass, FromClaim" },
		{ "[{\"source\":\"FromClaim\"}]", "config[0]: only opaque parameters are supported" },
		{ "[{\"source\":\"FromClaim\",\"requests\":[1],\"opaque\":{\"driver\":\"kyborg.io\",\"parameters\":{}}}]",
		  "config[0].requests[0]: " },
		{ "{}", "config: expected an array" },
		{ "[3]", "config[0]: expected an object" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		struct dra_configs c;
		char msg[512];
		cr_expect_eq(parse(bad[i].array, &c, msg, sizeof(msg)), -EINVAL, "%s", bad[i].array);
		cr_expect(strncmp(msg, bad[i].want, strlen(bad[i].want)) == 0, "%s: got \"%s\", want \"%s...\"", bad[i].array,
			  msg, bad[i].want);
	}
	/* The second config is at fault: its index names it. */
	_cleanup_free_ char *a = entry("FromClaim", NULL, "VfConfig", "\"vlan\":1"),
			    *b = entry("FromClaim", "[\"nic\"]", "VfConfig", "\"vlan\":5000"), *arr = NULL;
	cr_assert_geq(asprintf(&arr, "[%s,%s]", a, b), 0);
	struct dra_configs c;
	char msg[512];
	cr_assert_eq(parse(arr, &c, msg, sizeof(msg)), -EINVAL);
	static const char want[] = "config[1].opaque.parameters.vlan: must be between 0 and 4094";
	cr_assert(strncmp(msg, want, strlen(want)) == 0, "%s", msg);
}

Test(dra_config, another_drivers_configs_are_passed_by_whatever_they_hold)
{
	struct dra_configs c;
	char msg[512];
	_cleanup_free_ char *ours = entry("FromClaim", NULL, "GpuConfig", "");
	_cleanup_free_ char *arr = NULL;
	cr_assert_geq(asprintf(&arr,
			       "[{\"source\":\"FromClass\",\"opaque\":{\"driver\":\"gpu.nvidia.com\",\"parameters\":{\"kind\":\"GpuConfig\",\"bogus\":1}}},%s]",
			       ours),
		      0);
	cr_assert_eq(parse(arr, &c, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(c.n, 1);
	cr_assert_str_eq(c.v[0].path, "config[1]", "the index is the entry's in the allocation's list");
	dra_configs_release(&c);
	cr_assert_eq(parse("[]", &c, msg, sizeof(msg)), 0);
	cr_assert_eq(c.n, 0);
	dra_configs_release(&c);
	_cleanup_error_ struct ky_error *err = NULL;
	cr_assert_eq(dra_configs_parse(NULL, &rules, &c, &err), 0, "no config at all");
	cr_assert_eq(c.n, 0);
}

Test(dra_config, the_class_config_comes_first_and_the_last_of_a_devices_family_wins_whole)
{
	_cleanup_free_ char *claim = entry("FromClaim", "[\"nic\"]", "VfConfig", "\"vlan\":100"),
			    *cls = entry("FromClass", "[\"nic/fast\"]", "VfConfig", "\"spoofchk\":true"),
			    *gpu = entry("FromClaim", NULL, "GpuConfig", "\"sharing\":\"exclusive\""), *arr = NULL;
	/* Out of the API's order on purpose: the class's still comes first. */
	cr_assert_geq(asprintf(&arr, "[%s,%s,%s]", claim, cls, gpu), 0);
	struct dra_configs c;
	char msg[512];
	cr_assert_eq(parse(arr, &c, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(c.n, 3);
	cr_assert(c.v[0].from_class);
	cr_assert_str_eq(c.v[0].path, "config[1]");

	_cleanup_error_ struct ky_error *err = NULL;
	const struct dra_config *got;
	cr_assert_eq(dra_configs_for(&c, "nic/fast", "vf-0000-18-01-1", KY_DEVICE_NIC_VF, &got, &err), 0);
	cr_assert_str_eq(got->path, "config[0]", "the claim's VfConfig replaces the class's");
	cr_assert_eq(got->vf.mask, KY_VF_VLAN, "whole: the class's spoofchk is not merged in");
	cr_assert_eq(dra_configs_for(&c, "nic/slow", "vf-0000-18-01-1", KY_DEVICE_NIC_VF, &got, &err), 0);
	cr_assert_str_eq(got->path, "config[0]", "\"nic\" covers each of its subrequests");
	cr_assert_eq(dra_configs_for(&c, "gpu", "gpu-0000-3b-00-0", KY_DEVICE_GPU, &got, &err), 0);
	cr_assert_str_eq(got->path, "config[2]", "a config for every request passes the VF by and takes the GPU");
	cr_assert_eq(dra_configs_for(&c, "fpga", "fpga-0000-af-00-0", KY_DEVICE_FPGA, &got, &err), 0);
	cr_assert_null(got, "no config is of an FPGA's kind");
	dra_configs_release(&c);

	/* Only the class's config: it applies to its subrequest alone. */
	_cleanup_free_ char *arr2 = NULL;
	cr_assert_geq(asprintf(&arr2, "[%s]", cls), 0);
	cr_assert_eq(parse(arr2, &c, msg, sizeof(msg)), 0);
	cr_assert_eq(dra_configs_for(&c, "nic/fast", "vf-0000-18-01-1", KY_DEVICE_NIC_VF, &got, &err), 0);
	cr_assert_not_null(got);
	cr_assert_eq(dra_configs_for(&c, "nic/slow", "vf-0000-18-01-1", KY_DEVICE_NIC_VF, &got, &err), 0);
	cr_assert_null(got, "nic/fast does not cover nic/slow");
	cr_assert_eq(dra_configs_for(&c, "nic", "vf-0000-18-01-1", KY_DEVICE_NIC_VF, &got, &err), 0);
	cr_assert_null(got, "nor the main request");
	dra_configs_release(&c);
}

Test(dra_config, a_config_that_names_a_request_of_another_family_fails_the_claim)
{
	_cleanup_free_ char *vf = entry("FromClaim", "[\"gpu\"]", "VfConfig", "\"vlan\":100"), *arr = NULL;
	cr_assert_geq(asprintf(&arr, "[%s]", vf), 0);
	struct dra_configs c;
	char msg[512];
	cr_assert_eq(parse(arr, &c, msg, sizeof(msg)), 0);
	_cleanup_error_ struct ky_error *err = NULL;
	const struct dra_config *got;
	cr_assert_eq(dra_configs_for(&c, "gpu", "gpu-0000-3b-00-0", KY_DEVICE_GPU, &got, &err), -EINVAL);
	cr_assert_str_eq(ky_error_msg(err), "config[0].opaque.parameters.kind: a VfConfig cannot configure request gpu: "
					    "device gpu-0000-3b-00-0 is a gpu");
	dra_configs_release(&c);
}

Test(dra_config, claims_sharing_a_gpu_must_use_it_alike)
{
	char *env_a[] = { "CUDA_MPS_PIPE_DIRECTORY=/tmp/a", NULL }, *env_b[] = { "CUDA_MPS_PIPE_DIRECTORY=/tmp/b", NULL };
	struct ky_dra_record_gpu ts_a = { .sharing = "timeSliced", .env = env_a, .n_env = 1 },
				 ts_b = { .sharing = "timeSliced", .env = env_b, .n_env = 1 },
				 ex = { .sharing = "exclusive" };
	struct dra_gpu_use held, want;
	char field[64], why[256];
	dra_gpu_use_of(&ts_a, true, &held);
	dra_gpu_use_of(&ts_a, true, &want);
	cr_assert_null(dra_gpu_use_conflict(&held, &want, "ns/a", field, sizeof(field), why, sizeof(why)));
	dra_gpu_use_of(&ts_b, true, &want);
	cr_assert_str_eq(dra_gpu_use_conflict(&held, &want, "ns/a", field, sizeof(field), why, sizeof(why)),
			 "env.CUDA_MPS_PIPE_DIRECTORY");
	cr_assert_str_eq(why, "the GPU is shared with claim ns/a, which sets CUDA_MPS_PIPE_DIRECTORY=/tmp/a");
	dra_gpu_use_of(NULL, true, &want);
	cr_assert_eq(want.sharing, DRA_GPU_TIME_SLICED, "without a GpuConfig a shared GPU is time-sliced");
	cr_assert_str_eq(dra_gpu_use_conflict(&held, &want, "ns/a", field, sizeof(field), why, sizeof(why)),
			 "env.CUDA_MPS_PIPE_DIRECTORY");
	cr_assert_str_eq(why, "the GPU is shared with claim ns/a, which sets CUDA_MPS_PIPE_DIRECTORY=/tmp/a");
	dra_gpu_use_of(&ex, true, &want);
	cr_assert_str_eq(dra_gpu_use_conflict(&held, &want, "ns/a", field, sizeof(field), why, sizeof(why)), "sharing");
	cr_assert_str_eq(why, "exclusive, but claim ns/a holds the GPU already");
	dra_gpu_use_of(&ex, true, &held);
	dra_gpu_use_of(NULL, true, &want);
	cr_assert_str_eq(dra_gpu_use_conflict(&held, &want, "ns/a", field, sizeof(field), why, sizeof(why)), "sharing");
	cr_assert_str_eq(why, "claim ns/a holds the GPU exclusively");
	dra_gpu_use_of(NULL, false, &want);
	cr_assert_eq(want.sharing, DRA_GPU_EXCLUSIVE, "a GPU its resource does not share is the claim's alone");
}

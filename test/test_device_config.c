/* The devices config, the device plugin's and the DRA driver's: a good
 * config parses into resources with their selectors, sharing and bitstream;
 * every malformed config is refused with the JSON path of the field at
 * fault. Pure. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "kyborg/device/device_config.h"
#include "kyborg/base/error.h"
#include "kytest.h"

#define SHA "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"

static const char good[] =
	"{ \"resources\": ["
	"  { \"name\": \"kyborg.io/gpu\", \"kind\": \"gpu\","
	"    \"selector\": { \"vendors\": [\"10de\"], \"devices\": [\"2330\"], \"drivers\": [\"nvidia\"] },"
	"    \"sharing\": { \"replicas\": 4, \"strategy\": \"spread\" } },"
	"  { \"name\": \"kyborg.io/fpga-nlb\", \"kind\": \"fpga\","
	"    \"selector\": { \"vendors\": [\"8086\"], \"devices\": [\"0B30\"], \"classes\": [\"12\"] },"
	"    \"bitstream\": { \"id\": \"nlb\", \"path\": \"/var/lib/kyborg/bitstreams/nlb.gbs\", \"sha256\": \"" SHA "\" } },"
	"  { \"name\": \"kyborg.io/sriov-vf\", \"kind\": \"nic-vf\", \"frontend\": \"dra\","
	"    \"selector\": { \"pfNames\": [\"ens1f0\"], \"drivers\": [\"iavf\"], \"pciAddresses\": [\"18:01.0\"],"
	"                    \"numaNodes\": [0, 1] } } ] }";

static struct ky_device_config *parse_ok(const char *text)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_device_config *cfg = NULL;
	cr_assert_eq(ky_device_config_parse(text, strlen(text), &cfg, &err), 0, "%s", ky_error_msg(err));
	return cfg;
}

Test(device_config, good_config_gives_every_resource_and_selector)
{
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(good);
	cr_assert_eq(cfg->n_resources, 3);
	const struct ky_device_resource *gpu = &cfg->resources[0], *fpga = &cfg->resources[1], *vf = &cfg->resources[2];
	cr_assert_str_eq(gpu->name, "kyborg.io/gpu");
	cr_assert_eq(gpu->kind, KY_DEVICE_GPU);
	cr_assert_eq(gpu->replicas, 4);
	cr_assert_eq(gpu->strategy, KY_DEVICE_SPREAD);
	cr_assert_eq(gpu->selectors[0].pci.n_vendors, 1);
	cr_assert_eq(gpu->selectors[0].pci.vendors[0], 0x10de);
	cr_assert_eq(gpu->selectors[0].pci.devices[0], 0x2330);
	cr_assert_str_eq(gpu->selectors[0].pci.drivers[0], "nvidia");
	cr_assert_not(gpu->has_bitstream);

	cr_assert_eq(fpga->kind, KY_DEVICE_FPGA);
	cr_assert_eq(fpga->replicas, 1, "no sharing means one device per function");
	cr_assert_eq(fpga->selectors[0].pci.devices[0], 0x0b30, "hex in any case");
	cr_assert_eq(fpga->selectors[0].pci.classes[0], 0x12);
	cr_assert_eq(fpga->selectors[0].pci.class_digits[0], 2);
	cr_assert(fpga->has_bitstream);
	cr_assert_str_eq(fpga->bitstream.id, "nlb");
	cr_assert_str_eq(fpga->bitstream.path, "/var/lib/kyborg/bitstreams/nlb.gbs");
	cr_assert_null(fpga->bitstream.url);
	cr_assert_str_eq(fpga->bitstream.sha256, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

	cr_assert_eq(vf->kind, KY_DEVICE_NIC_VF);
	cr_assert_str_eq(vf->selectors[0].pci.pf_names[0].pf, "ens1f0");
	cr_assert_str_eq(vf->selectors[0].pci.pci_addresses[0], "0000:18:01.0", "addresses are made canonical");
	cr_assert_eq(vf->selectors[0].pci.n_numa_nodes, 2);
	cr_assert_eq(vf->selectors[0].pci.numa_nodes[1], 1);
	cr_assert_eq(vf->strategy, KY_DEVICE_PACK);
	cr_assert_eq(vf->frontend, KY_FRONTEND_DRA);
	cr_assert_eq(gpu->frontend, KY_FRONTEND_DEVICE_PLUGIN, "the device plugin serves a resource unless told");
	cr_assert_str_eq(ky_device_frontend_name(vf->frontend), "dra");
	cr_assert_str_eq(ky_device_frontend_name(gpu->frontend), "devicePlugin");
}

Test(device_config, bitstream_by_url_is_accepted)
{
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		"{\"resources\":[{\"name\":\"a.io/f\",\"kind\":\"fpga\",\"selector\":{\"vendors\":[\"8086\"]},"
		"\"bitstream\":{\"id\":\"x\",\"url\":\"https://example.com/x.gbs\",\"sha256\":\"" SHA "\"}}]}");
	cr_assert_str_eq(cfg->resources[0].bitstream.url, "https://example.com/x.gbs");
	cr_assert_null(cfg->resources[0].bitstream.path);
}

Test(device_config, a_dra_fpga_resource_may_have_a_loader_and_no_image_of_its_own)
{
	/* Its claims bring their images (FpgaConfig, issue 17). */
	_cleanup_(ky_device_config_freep) struct ky_device_config *cfg = parse_ok(
		"{\"resources\":[{\"name\":\"a.io/f\",\"kind\":\"fpga\",\"frontend\":\"dra\",\"selector\":{\"vendors\":[\"8086\"]},"
		"\"program\":[\"/usr/bin/fpgaconf\",\"{image}\"]}]}");
	cr_assert_not(cfg->resources[0].has_bitstream);
	cr_assert_str_eq(cfg->resources[0].program[0], "/usr/bin/fpgaconf");
	cr_assert_not(ky_device_resource_programs(&cfg->resources[0]), "nothing to program without a claim's image");
}

struct bad_case {
	const char *json;
	const char *message; /* must appear in the error */
};

#define RES(body) "{\"resources\":[" body "]}"
#define GPU(extra) RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]}" extra "}")
#define FPGA_BS(bs)                                                                                         \
	RES("{\"name\":\"kyborg.io/f\",\"kind\":\"fpga\",\"selector\":{\"vendors\":[\"8086\"]},\"bitstream\":" bs \
	    "}")

static const struct bad_case bad[] = {
	{ "", "cannot decode JSON" },
	{ "[]", "must be a JSON object" },
	{ "{}", "needs resources (kyborg's schema) or resourceList" },
	{ "{\"resources\":[],\"resourceList\":[]}", "has both resources" },
	{ "{\"resources\":[]}", "resources: " },
	{ "{\"resources\":[], \"extra\":1}", "extra: unknown field" },
	{ RES("3"), "resources[0]: must be an object" },
	{ RES("{\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]}}"), "resources[0].name: missing required field" },
	{ RES("{\"name\":\"gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]}}"), "resources[0].name: must be <domain>/<name>" },
	{ RES("{\"name\":\"Kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]}}"), "resources[0].name: the domain" },
	{ RES("{\"name\":\"kubernetes.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]}}"), "resources[0].name: the kubernetes.io domain is reserved" },
	{ RES("{\"name\":\"kyborg.io/gpu!\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]}}"), "resources[0].name: the name after '/'" },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"tpu\",\"selector\":{\"vendors\":[\"10de\"]}}"), "resources[0].kind: must be one of gpu, fpga, nic-vf" },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\"}"), "resources[0].selector: missing required field" },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{}}"), "resources[0].selector: needs at least one of" },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendor\":[\"10de\"]}}"), "resources[0].selector.vendor: unknown field" },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\",\"nvidia\"]}}"), "resources[0].selector.vendors[1]: not a vendor ID" },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"devices\":[\"0x2330\"]}}"), "resources[0].selector.devices[0]: not a device ID" },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":\"10de\"}}"), "resources[0].selector.vendors: " },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"classes\":[\"030\"]}}"), "resources[0].selector.classes[0]: not a PCI class" },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"drivers\":[\"\"]}}"), "resources[0].selector.drivers[0]: " },
	{ RES("{\"name\":\"a.io/v\",\"kind\":\"nic-vf\",\"selector\":{\"pfNames\":[\"ens1f0\",\"a-very-long-interface-name\"]}}"), "resources[0].selector.pfNames[1]: not an interface name" },
	{ RES("{\"name\":\"a.io/v\",\"kind\":\"nic-vf\",\"selector\":{\"pciAddresses\":[\"0000:18:01.9\"]}}"), "resources[0].selector.pciAddresses[0]: not a PCI address" },
	{ RES("{\"name\":\"a.io/v\",\"kind\":\"nic-vf\",\"selector\":{\"numaNodes\":[-1]}}"), "resources[0].selector.numaNodes[0]: " },
	{ RES("{\"name\":\"a.io/v\",\"kind\":\"nic-vf\",\"selector\":{\"numaNodes\":[0.5]}}"), "resources[0].selector.numaNodes[0]: " },
	{ GPU(",\"frontend\":\"DRA\""), "resources[0].frontend: must be one of devicePlugin, dra" },
	{ GPU(",\"frontend\":true"), "resources[0].frontend: " },
	{ GPU(",\"sharing\":{\"replicas\":0}"), "resources[0].sharing.replicas: " },
	{ GPU(",\"sharing\":{\"replicas\":100000}"), "resources[0].sharing.replicas: " },
	{ GPU(",\"sharing\":{}"), "resources[0].sharing.replicas: missing required field" },
	{ GPU(",\"sharing\":{\"replicas\":2,\"strategy\":\"random\"}"), "resources[0].sharing.strategy: must be one of pack, spread" },
	{ GPU(",\"sharing\":{\"replicas\":2,\"time\":1}"), "resources[0].sharing.time: unknown field" },
	{ RES("{\"name\":\"a.io/v\",\"kind\":\"nic-vf\",\"selector\":{\"drivers\":[\"iavf\"]},\"sharing\":{\"replicas\":2}}"), "resources[0].sharing: only for kind gpu" },
	{ GPU(",\"bitstream\":{\"id\":\"x\",\"path\":\"/x\",\"sha256\":\"" SHA "\"}"), "resources[0].bitstream: only for kind fpga" },
	{ FPGA_BS("{\"path\":\"/x\",\"sha256\":\"" SHA "\"}"), "resources[0].bitstream.id: missing required field" },
	{ FPGA_BS("{\"id\":\"x\",\"sha256\":\"" SHA "\"}"), "resources[0].bitstream: give exactly one of path or url" },
	{ FPGA_BS("{\"id\":\"x\",\"path\":\"/x\",\"url\":\"https://h/x\",\"sha256\":\"" SHA "\"}"), "resources[0].bitstream: give exactly one of path or url" },
	{ FPGA_BS("{\"id\":\"x\",\"path\":\"x.gbs\",\"sha256\":\"" SHA "\"}"), "resources[0].bitstream.path: must be an absolute path" },
	{ FPGA_BS("{\"id\":\"x\",\"url\":\"http://h/x\",\"sha256\":\"" SHA "\"}"), "resources[0].bitstream.url: must be an https:// or file:/// URL" },
	{ FPGA_BS("{\"id\":\"x\",\"path\":\"/x\",\"sha256\":\"abc\"}"), "resources[0].bitstream.sha256: must be 64 hex digits" },
	{ FPGA_BS("{\"id\":\"x\",\"path\":\"/x\"}"), "resources[0].bitstream.sha256: missing required field" },
	{ GPU(",\"program\":[\"/usr/bin/fpgaconf\"]"), "resources[0].program: only for kind fpga" },
	{ RES("{\"name\":\"kyborg.io/f\",\"kind\":\"fpga\",\"selector\":{\"vendors\":[\"8086\"]},\"program\":[\"/usr/bin/fpgaconf\"]}"),
	  "resources[0].program: only with a bitstream (or with frontend dra" },
	{ FPGA_BS("{\"id\":\"x\",\"path\":\"/x\",\"sha256\":\"" SHA "\"},\"program\":[\"fpgaconf\",\"{image}\"]"),
	  "resources[0].program[0]: must be an absolute path (no PATH lookup, no shell)" },
	{ FPGA_BS("{\"id\":\"x\",\"path\":\"/x\",\"sha256\":\"" SHA "\"},\"program\":[]"),
	  "resources[0].program: must not be empty" },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]}},"
	      "{\"name\":\"kyborg.io/gpu\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"1002\"]}}"),
	  "resources[1].name: duplicate resource kyborg.io/gpu" },
	{ RES("{\"name\":\"kyborg.io/gpu\",\"name\":\"kyborg.io/x\",\"kind\":\"gpu\",\"selector\":{\"vendors\":[\"10de\"]}}"), "resources[0].name: duplicate field" },
};

Test(device_config, every_malformed_config_names_its_field)
{
	cr_assert_geq(KY_ARRAY_SIZE(bad), 15);
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		struct ky_device_config *cfg = NULL;
		int r = ky_device_config_parse(bad[i].json, strlen(bad[i].json), &cfg, &err);
		cr_expect_eq(r, -EINVAL, "case %zu accepted (r=%d): %s", i, r, bad[i].json);
		cr_expect_null(cfg);
		cr_expect(strstr(ky_error_msg(err), bad[i].message), "case %zu: got \"%s\", want \"%s\"", i,
			  ky_error_msg(err), bad[i].message);
		ky_device_config_free(cfg);
	}
}

Test(device_config, load_prefixes_the_file_and_reports_a_missing_one)
{
	_cleanup_free_ char *dir = kyt_tmpdir("kydpcfg");
	_cleanup_free_ char *path = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_device_config *cfg = NULL;
	cr_assert_geq(asprintf(&path, "%s/c.json", dir), 0);
	cr_assert_eq(ky_device_config_load(path, &cfg, &err), -ENOENT);
	cr_assert(strstr(ky_error_msg(err), path));
	cr_assert_eq(kyt_write_file(path, "{\"resources\":[3]}"), 0);
	cr_assert_eq(ky_device_config_load(path, &cfg, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), "c.json: resources[0]: must be an object"), "%s", ky_error_msg(err));
	cr_assert_eq(kyt_write_file(path, good), 0);
	cr_assert_eq(ky_device_config_load(path, &cfg, &err), 0);
	cr_assert_eq(cfg->n_resources, 3);
	ky_device_config_free(cfg);
	kyt_rmrf(dir);
}

Test(device_config, resources_compare_equal_only_when_nothing_that_matters_changed)
{
	_cleanup_(ky_device_config_freep) struct ky_device_config *a = parse_ok(good);
	_cleanup_(ky_device_config_freep) struct ky_device_config *b = parse_ok(good);
	for (size_t i = 0; i < 3; i++)
		cr_assert(ky_device_resource_equal(&a->resources[i], &b->resources[i]), "resource %zu", i);
	cr_assert_not(ky_device_resource_equal(&a->resources[0], &b->resources[1]));
	b->resources[0].replicas = 5;
	cr_assert_not(ky_device_resource_equal(&a->resources[0], &b->resources[0]), "replicas");
	b->resources[1].bitstream.sha256[0] = 'f';
	cr_assert_not(ky_device_resource_equal(&a->resources[1], &b->resources[1]), "bitstream digest");
	b->resources[2].selectors[0].pci.numa_nodes[1] = 7;
	cr_assert_not(ky_device_resource_equal(&a->resources[2], &b->resources[2]), "selector");
	b->resources[0].replicas = a->resources[0].replicas;
	b->resources[0].frontend = KY_FRONTEND_DRA;
	cr_assert_not(ky_device_resource_equal(&a->resources[0], &b->resources[0]), "front end");
}

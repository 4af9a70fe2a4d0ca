/* The node profile kyborgctl plan/apply read: a good profile gives every
 * entry, and every malformed one is refused naming its field. Pure. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/node/node_profile.h"

#define SHA "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"

static const char good[] =
	"{ \"devices\": ["
	"  { \"pciAddress\": \"18:00.0\", \"kind\": \"nic\", \"numVfs\": 8, \"eswitchMode\": \"switchdev\","
	"    \"vfDriver\": \"vfio-pci\" },"
	"  { \"selector\": { \"vendors\": [\"15b3\"] }, \"kind\": \"nic\", \"eswitchMode\": \"legacy\" },"
	"  { \"selector\": { \"vendors\": [\"10de\"] }, \"kind\": \"gpu\", \"command\": { \"state\": \"mig-7\","
	"    \"apply\": [\"/usr/sbin/layout\", \"set\"], \"read\": [\"/usr/sbin/layout\", \"get\"], \"reboot\": true,"
	"    \"timeoutSeconds\": 30 } },"
	"  { \"pciAddress\": \"0000:af:00.0\", \"kind\": \"fpga\", \"image\": { \"id\": \"nic-v2\","
	"    \"url\": \"https://images.example/nic-v2.gbs\", \"sha256\": \"" SHA "\" } }"
	"] }";

Test(node_profile, good_profile_gives_every_entry)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_profile_freep) struct ky_profile *p = NULL;
	cr_assert_eq(ky_profile_parse(good, strlen(good), &p, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(p->n, 4);

	const struct ky_profile_entry *nic = &p->entries[0];
	cr_assert_str_eq(nic->path, "devices[0]");
	cr_assert_eq(nic->kind, KY_PROFILE_NIC);
	cr_assert_str_eq(nic->pci_addr, "0000:18:00.0", "addresses are made canonical");
	cr_assert_eq(nic->num_vfs, 8);
	cr_assert_eq(nic->eswitch, KY_ESWITCH_SWITCHDEV);
	cr_assert_str_eq(nic->vf_driver, "vfio-pci");

	const struct ky_profile_entry *mlx = &p->entries[1];
	cr_assert(mlx->has_selector);
	cr_assert_eq(mlx->selector.vendors[0], 0x15b3);
	cr_assert_eq(mlx->num_vfs, -1, "numVfs left alone");
	cr_assert_null(mlx->vf_driver);
	cr_assert_eq(mlx->eswitch, KY_ESWITCH_LEGACY);

	const struct ky_profile_entry *gpu = &p->entries[2];
	cr_assert(gpu->has_command);
	cr_assert_str_eq(gpu->command.state, "mig-7");
	cr_assert_str_eq(gpu->command.apply[1], "set");
	cr_assert_null(gpu->command.apply[2]);
	cr_assert_str_eq(gpu->command.read[0], "/usr/sbin/layout");
	cr_assert(gpu->command.disruptive, "disruptive unless told otherwise");
	cr_assert(gpu->command.reboot);
	cr_assert_eq(gpu->command.timeout_ms, 30000);

	const struct ky_profile_entry *fpga = &p->entries[3];
	cr_assert(fpga->has_image);
	cr_assert_str_eq(fpga->image.id, "nic-v2");
	cr_assert_null(fpga->image.path);
	cr_assert_str_eq(fpga->image.sha256, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	cr_assert_null(fpga->program, "the kernel's DFL partial reconfiguration unless a loader is given");
}

Test(node_profile, an_empty_device_list_is_a_profile_that_changes_nothing)
{
	_cleanup_(ky_profile_freep) struct ky_profile *p = NULL;
	cr_assert_eq(ky_profile_parse("{\"devices\":[]}", 14, &p, NULL), 0);
	cr_assert_eq(p->n, 0);
}

struct bad_case {
	const char *json;
	const char *want; /* the message starts with it */
};

#define DEV(body) "{\"devices\":[" body "]}"
#define NIC(extra) DEV("{\"pciAddress\":\"0000:18:00.0\",\"kind\":\"nic\"" extra "}")
#define GPU_CMD(cmd) DEV("{\"pciAddress\":\"0000:3b:00.0\",\"kind\":\"gpu\",\"command\":" cmd "}")
#define FPGA_IMG(img) DEV("{\"pciAddress\":\"0000:af:00.0\",\"kind\":\"fpga\",\"image\":" img "}")
#define ARGV "\"apply\":[\"/a\"],\"read\":[\"/r\"]"

static const struct bad_case bad[] = {
	{ "", "cannot decode JSON" },
	{ "[]", "the profile must be a JSON object" },
	{ "{}", "devices: missing required field" },
	{ "{\"devices\":[],\"nodes\":1}", "nodes: unknown field" },
	{ DEV("1"), "devices[0]: must be an object, got number" },
	{ DEV("{\"pciAddress\":\"0000:18:00.0\",\"numVfs\":2}"), "devices[0].kind: missing required field" },
	{ DEV("{\"pciAddress\":\"0000:18:00.0\",\"kind\":\"tpu\"}"), "devices[0].kind: must be one of nic, gpu, fpga" },
	{ DEV("{\"kind\":\"nic\",\"numVfs\":2}"), "devices[0]: give exactly one of pciAddress or selector" },
	{ DEV("{\"pciAddress\":\"0000:18:00.0\",\"selector\":{\"vendors\":[\"8086\"]},\"kind\":\"nic\",\"numVfs\":2}"),
	  "devices[0]: give exactly one of pciAddress or selector" },
	{ DEV("{\"pciAddress\":\"0000:18:00.9\",\"kind\":\"nic\",\"numVfs\":2}"), "devices[0].pciAddress: not a PCI address" },
	{ DEV("{\"pciAddress\":18,\"kind\":\"nic\",\"numVfs\":2}"), "devices[0].pciAddress: " },
	{ DEV("{\"selector\":{\"vendor\":[\"8086\"]},\"kind\":\"nic\",\"numVfs\":2}"), "devices[0].selector.vendor: unknown field" },
	{ DEV("{\"selector\":{},\"kind\":\"nic\",\"numVfs\":2}"), "devices[0].selector: needs at least one of" },
	{ NIC(""), "devices[0]: a nic entry needs at least one of numVfs, eswitchMode, vfDriver" },
	{ NIC(",\"numVFs\":2"), "devices[0].numVFs: unknown field" },
	{ NIC(",\"numVfs\":\"2\""), "devices[0].numVfs: " },
	{ NIC(",\"numVfs\":-1"), "devices[0].numVfs: " },
	{ NIC(",\"numVfs\":2.5"), "devices[0].numVfs: " },
	{ NIC(",\"numVfs\":100000"), "devices[0].numVfs: " },
	{ NIC(",\"eswitchMode\":\"SwitchDev\""), "devices[0].eswitchMode: must be one of legacy, switchdev" },
	{ NIC(",\"vfDriver\":\"../vfio-pci\""), "devices[0].vfDriver: not a driver name" },
	{ NIC(",\"vfDriver\":\"\""), "devices[0].vfDriver: " },
	{ NIC(",\"numVfs\":0,\"vfDriver\":\"vfio-pci\""), "devices[0].vfDriver: makes no sense with numVfs 0" },
	{ NIC(",\"numVfs\":2,\"command\":{\"state\":\"x\"," ARGV "}"), "devices[0].command: only for kind gpu" },
	{ NIC(",\"firmware\":{\"version\":\"2.1\"}"), "devices[0].firmware: refused: Kyborg never writes firmware" },
	{ NIC(",\"firmwareVersion\":\"2.1\""), "devices[0].firmwareVersion: refused: Kyborg never writes firmware" },
	{ DEV("{\"pciAddress\":\"0000:3b:00.0\",\"kind\":\"gpu\",\"numVfs\":2}"), "devices[0].numVfs: only for kind nic" },
	{ DEV("{\"pciAddress\":\"0000:3b:00.0\",\"kind\":\"gpu\"}"), "devices[0].command: missing required field" },
	{ GPU_CMD("{" ARGV "}"), "devices[0].command.state: missing required field" },
	{ GPU_CMD("{\"state\":\"a\\nb\"," ARGV "}"), "devices[0].command.state: must be one line" },
	{ GPU_CMD("{\"state\":\"x\",\"apply\":[\"layout\"],\"read\":[\"/r\"]}"), "devices[0].command.apply[0]: must be an absolute path" },
	{ GPU_CMD("{\"state\":\"x\",\"apply\":\"/a set\",\"read\":[\"/r\"]}"), "devices[0].command.apply: " },
	{ GPU_CMD("{\"state\":\"x\",\"apply\":[],\"read\":[\"/r\"]}"), "devices[0].command.apply: " },
	{ GPU_CMD("{\"state\":\"x\",\"apply\":[\"/a\"]}"), "devices[0].command.read: missing required field" },
	{ GPU_CMD("{\"state\":\"x\"," ARGV ",\"shell\":true}"), "devices[0].command.shell: unknown field" },
	{ GPU_CMD("{\"state\":\"x\"," ARGV ",\"reboot\":\"no\"}"), "devices[0].command.reboot: " },
	{ GPU_CMD("{\"state\":\"x\"," ARGV ",\"timeoutSeconds\":0}"), "devices[0].command.timeoutSeconds: " },
	{ FPGA_IMG("{\"id\":\"x\",\"sha256\":\"" SHA "\"}"), "devices[0].image: give exactly one of path or url" },
	{ FPGA_IMG("{\"id\":\"x\",\"path\":\"x.gbs\",\"sha256\":\"" SHA "\"}"), "devices[0].image.path: must be an absolute path" },
	{ FPGA_IMG("{\"id\":\"x\",\"url\":\"http://h/x\",\"sha256\":\"" SHA "\"}"), "devices[0].image.url: must be an https:// or file:/// URL" },
	{ FPGA_IMG("{\"id\":\"x\",\"path\":\"/x\",\"sha256\":\"abc\"}"), "devices[0].image.sha256: must be 64 hex digits" },
	{ FPGA_IMG("{\"id\":\"x\",\"path\":\"/x\"}"), "devices[0].image.sha256: missing required field" },
	{ FPGA_IMG("{\"id\":\"x\",\"path\":\"/x\",\"sha256\":\"" SHA "\",\"size\":1}"), "devices[0].image.size: unknown field" },
	{ DEV("{\"pciAddress\":\"0000:af:00.0\",\"kind\":\"fpga\",\"image\":{\"id\":\"x\",\"path\":\"/x\",\"sha256\":\"" SHA
	      "\"},\"program\":[\"loader\",\"{image}\"]}"),
	  "devices[0].program[0]: must be an absolute path" },
	{ NIC(",\"numVfs\":2,\"program\":[\"/l\"]"), "devices[0].program: only for kind fpga" },
	{ DEV("{\"pciAddress\":\"0000:18:00.0\",\"kind\":\"nic\",\"numVfs\":2},"
	      "{\"pciAddress\":\"18:00.0\",\"kind\":\"nic\",\"numVfs\":4}"),
	  "devices[1].pciAddress: 0000:18:00.0 is also devices[0]" },
	{ DEV("{\"pciAddress\":\"0000:18:00.0\",\"kind\":\"nic\",\"numVfs\":2,\"numVfs\":4}"), "devices[0].numVfs: duplicate field" },
};

Test(node_profile, every_malformed_profile_is_refused_naming_its_field)
{
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		_cleanup_error_ struct ky_error *err = NULL;
		struct ky_profile *p = NULL;
		int r = ky_profile_parse(bad[i].json, strlen(bad[i].json), &p, &err);
		cr_expect_eq(r, -EINVAL, "case %zu accepted (r=%d): %s", i, r, bad[i].json);
		cr_expect_null(p);
		ky_profile_free(p);
		cr_expect(strncmp(ky_error_msg(err), bad[i].want, strlen(bad[i].want)) == 0,
			  "case %zu: got \"%s\", want \"%s...\"", i, ky_error_msg(err), bad[i].want);
	}
}

Test(node_profile, load_names_the_file_and_refuses_what_is_not_a_regular_file)
{
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_profile *p = NULL;
	cr_assert_eq(ky_profile_load("/nonexistent/profile.json", &p, &err), -ENOENT);
	cr_assert(strstr(ky_error_msg(err), "/nonexistent/profile.json"), "%s", ky_error_msg(err));
	cr_assert_eq(ky_profile_load("/tmp", &p, &err), -EINVAL);
	cr_assert(strstr(ky_error_msg(err), "not a regular file"), "%s", ky_error_msg(err));
	cr_assert_null(p);
}

Test(node_profile, the_example_profile_parses)
{
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(ky_profile_freep) struct ky_profile *p = NULL;
	cr_assert_eq(ky_profile_load(KYTEST_DATA_DIR "/../../examples/kyborgctl/node-profile.json", &p, &err), 0, "%s",
		     ky_error_msg(err));
	cr_assert_geq(p->n, 3);
}

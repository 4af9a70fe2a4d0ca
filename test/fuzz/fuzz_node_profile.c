/* The node profile kyborgctl converges a node to
 * (common/src/node/node_profile.c: ky_profile_parse). Checked: an accepted
 * profile chooses each entry's devices one way (a canonical address or a
 * selector) with no address named twice, has only its kind's settings
 * within bounds, runs programs by absolute path only, and names a VF
 * driver that is one sysfs path component. */
#include <errno.h>

#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/node/node_profile.h"

static void check_argv(char **argv, const char *what, size_t i)
{
	FUZZ_ASSERT(argv && argv[0] && argv[0][0] == '/', "devices[%zu]: %s not by absolute path", i, what);
}

static void check_entry(const struct ky_profile *p, size_t i)
{
	const struct ky_profile_entry *e = &p->entries[i];
	FUZZ_ASSERT(e->path[0], "devices[%zu] has no path", i);
	FUZZ_ASSERT(ky_profile_kind_name(e->kind), "kind %d", (int)e->kind);
	FUZZ_ASSERT(!e->pci_addr[0] != !e->has_selector, "devices[%zu]: address %s and selector %d", i, e->pci_addr,
		    e->has_selector);
	if (e->pci_addr[0]) {
		FUZZ_ASSERT(ky_pci_addr_valid(e->pci_addr), "address %s", e->pci_addr);
		for (size_t k = 0; k < i; k++)
			FUZZ_ASSERT(strcmp(p->entries[k].pci_addr, e->pci_addr) != 0, "address %s named twice",
				    e->pci_addr);
	}
	FUZZ_ASSERT(e->num_vfs >= -1 && e->num_vfs <= KY_PROFILE_MAX_VFS, "numVfs %d", e->num_vfs);
	if (e->kind != KY_PROFILE_NIC)
		FUZZ_ASSERT(e->num_vfs == -1 && !e->vf_driver, "NIC settings on a %s", ky_profile_kind_name(e->kind));
	if (e->vf_driver) {
		FUZZ_ASSERT(e->vf_driver[0] && e->vf_driver[0] != '.' && !strchr(e->vf_driver, '/'),
			    "vfDriver %s is not one path component", e->vf_driver);
		FUZZ_ASSERT(e->num_vfs != 0, "vfDriver with numVfs 0");
	}
	FUZZ_ASSERT(e->has_command == (e->kind == KY_PROFILE_GPU), "command on a %s", ky_profile_kind_name(e->kind));
	if (e->has_command) {
		check_argv(e->command.apply, "apply", i);
		check_argv(e->command.read, "read", i);
		FUZZ_ASSERT(e->command.state && !strpbrk(e->command.state, "\r\n"), "state of more than one line");
		FUZZ_ASSERT(e->command.timeout_ms >= 1000 && e->command.timeout_ms <= 3600 * 1000, "timeout %d ms",
			    e->command.timeout_ms);
	}
	FUZZ_ASSERT(e->has_image == (e->kind == KY_PROFILE_FPGA), "image on a %s", ky_profile_kind_name(e->kind));
	if (e->has_image) {
		FUZZ_ASSERT(e->image.id && *e->image.id && !e->image.path != !e->image.url, "image spec");
		FUZZ_ASSERT(!e->image.path || e->image.path[0] == '/', "image path %s", e->image.path);
		FUZZ_ASSERT(ky_sha256_hex_valid(e->image.sha256), "image sha256 %s", e->image.sha256);
		FUZZ_ASSERT(ky_image_spec_equal(&e->image, &e->image), "image differs from itself");
	}
	if (e->program)
		check_argv(e->program, "program", i);
	if (e->has_selector)
		FUZZ_ASSERT(ky_pci_selector_equal(&e->selector, &e->selector), "selector differs from itself");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ky_profile *p = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_profile_parse((const char *)data, size, &p, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM, "parse returned %d", r);
		FUZZ_ASSERT(!p, "a profile with a failure");
		FUZZ_ASSERT(ky_error_msg(err)[0], "refused without a message");
		for (const unsigned char *q = (const unsigned char *)ky_error_msg(err); *q; q++)
			FUZZ_ASSERT(*q >= 0x20, "error message with raw byte 0x%02x", *q);
		return 0;
	}
	FUZZ_ASSERT(p, "success without a profile");
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	FUZZ_ASSERT(ky_json_parse((const char *)data, size, &doc, NULL) == 0, "accepted, yet not JSON");
	fuzz_assert_decoded(data, size, doc);
	for (size_t i = 0; i < p->n; i++)
		check_entry(p, i);
	ky_profile_free(p);
	return 0;
}

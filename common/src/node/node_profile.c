/* The node profile: parsing and validation of the JSON document kyborgctl
 * plan/apply read, with the JSON path of the first bad field. Pure. */
#include "kyborg/node/node_profile.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const kind_names[] = { "nic", "gpu", "fpga", NULL };
static const char *const eswitch_names[] = { "legacy", "switchdev", NULL };

#define DEFAULT_COMMAND_TIMEOUT_S 120

const char *ky_profile_kind_name(enum ky_profile_kind kind)
{
	return (unsigned)kind < 3 ? kind_names[kind] : "unknown";
}

static void entry_release(struct ky_profile_entry *e)
{
	ky_pci_selector_release(&e->selector);
	free(e->vf_driver);
	free(e->command.state);
	ky_strv_free(e->command.apply);
	ky_strv_free(e->command.read);
	ky_image_spec_release(&e->image);
	ky_strv_free(e->program);
}

void ky_profile_free(struct ky_profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		entry_release(&p->entries[i]);
	free(p->entries);
	free(p);
}

static int field_error(const struct ky_jnode *obj, const char *key, struct ky_error **err, const char *msg)
{
	struct ky_jnode n;
	ky_json_child(obj, key, 0, &n, NULL);
	return ky_json_error(&n, err, "%s", msg);
}

/* A driver name is one sysfs path component: /sys/bus/pci/drivers/<name>. */
static bool driver_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* ---- NIC PF ---- */

static int parse_nic(const struct ky_jnode *node, struct ky_profile_entry *e, struct ky_error **err)
{
	int64_t vfs;
	int mode, r;
	const char *drv;
	if ((r = ky_json_int(node, "numVfs", 0, 0, KY_PROFILE_MAX_VFS, &vfs, err)) < 0)
		return r;
	if (r > 0)
		e->num_vfs = (int)vfs;
	if ((r = ky_json_enum(node, "eswitchMode", 0, eswitch_names, &mode, err)) < 0)
		return r;
	if (r > 0)
		e->eswitch = mode == 0 ? KY_ESWITCH_LEGACY : KY_ESWITCH_SWITCHDEV;
	if ((r = ky_json_string(node, "vfDriver", 0, &drv, err)) < 0)
		return r;
	if (r > 0) {
		if (!driver_name_ok(drv))
			return field_error(node, "vfDriver", err,
					   "not a driver name (letters, digits, '-', '_', '.'; e.g. vfio-pci)");
		if (e->num_vfs == 0)
			return field_error(node, "vfDriver", err, "makes no sense with numVfs 0");
		if (!(e->vf_driver = strdup(drv)))
			return ky_error_set(err, ENOMEM, "out of memory");
	}
	if (e->num_vfs < 0 && e->eswitch == KY_ESWITCH_UNKNOWN && !e->vf_driver)
		return ky_json_error(node, err, "a nic entry needs at least one of numVfs, eswitchMode, vfDriver");
	return 0;
}

/* ---- GPU: the command backend ---- */

static int get_argv(const struct ky_jnode *cmd, const char *key, char ***out, struct ky_error **err)
{
	size_t n;
	int r = ky_json_string_array(cmd, key, KY_JSON_REQUIRED | KY_JSON_NONEMPTY, out, &n, err);
	if (r < 0)
		return r;
	if ((*out)[0][0] != '/') {
		struct ky_jnode arr, first;
		ky_json_array(cmd, key, 0, &arr, NULL, NULL);
		ky_json_index(&arr, 0, &first);
		return ky_json_error(&first, err, "must be an absolute path (no PATH lookup, no shell)");
	}
	return 0;
}

static int parse_command(const struct ky_jnode *node, struct ky_profile_entry *e, struct ky_error **err)
{
	static const char *const keys[] = { "state", "apply", "read", "disruptive", "reboot", "timeoutSeconds", NULL };
	struct ky_jnode cmd;
	const char *state;
	int64_t timeout = DEFAULT_COMMAND_TIMEOUT_S;
	int r;
	if ((r = ky_json_object(node, "command", KY_JSON_REQUIRED, &cmd, err)) < 0 ||
	    (r = ky_json_check_keys(&cmd, keys, err)) < 0 ||
	    (r = ky_json_string(&cmd, "state", KY_JSON_REQUIRED, &state, err)) < 0)
		return r;
	if (strpbrk(state, "\n\r"))
		return field_error(&cmd, "state", err, "must be one line (it is compared with what `read` prints)");
	e->command.disruptive = true;
	if ((r = get_argv(&cmd, "apply", &e->command.apply, err)) < 0 ||
	    (r = get_argv(&cmd, "read", &e->command.read, err)) < 0 ||
	    (r = ky_json_bool(&cmd, "disruptive", 0, &e->command.disruptive, err)) < 0 ||
	    (r = ky_json_bool(&cmd, "reboot", 0, &e->command.reboot, err)) < 0 ||
	    (r = ky_json_int(&cmd, "timeoutSeconds", 0, 1, 3600, &timeout, err)) < 0)
		return r;
	e->command.timeout_ms = (int)timeout * 1000;
	if (!(e->command.state = strdup(state)))
		return ky_error_set(err, ENOMEM, "out of memory");
	e->has_command = true;
	return 0;
}

/* ---- FPGA: the whole device's image ---- */

static int parse_image(const struct ky_jnode *node, struct ky_profile_entry *e, struct ky_error **err)
{
	struct ky_jnode img;
	int r;
	if ((r = ky_json_object(node, "image", KY_JSON_REQUIRED, &img, err)) < 0 ||
	    (r = ky_image_spec_parse(&img, &e->image, err)) < 0)
		return r;
	e->has_image = true;
	if (!cJSON_GetObjectItemCaseSensitive(node->j, "program"))
		return 0;
	return get_argv(node, "program", &e->program, err);
}

/* ---- Entries ---- */

/* Fields of one kind given to another: named, with the kind they belong to. */
static int check_kind_fields(const struct ky_jnode *node, enum ky_profile_kind kind, struct ky_error **err)
{
	static const struct {
		const char *key;
		enum ky_profile_kind kind;
	} owned[] = {
		{ "numVfs", KY_PROFILE_NIC },	  { "eswitchMode", KY_PROFILE_NIC }, { "vfDriver", KY_PROFILE_NIC },
		{ "command", KY_PROFILE_GPU },	  { "image", KY_PROFILE_FPGA }, { "program", KY_PROFILE_FPGA },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(owned); i++) {
		if (owned[i].kind == kind || !cJSON_GetObjectItemCaseSensitive(node->j, owned[i].key))
			continue;
		struct ky_jnode n;
		ky_json_child(node, owned[i].key, 0, &n, NULL);
		return ky_json_error(&n, err, "only for kind %s, this entry is kind %s", kind_names[owned[i].kind],
				     kind_names[kind]);
	}
	return 0;
}

static int parse_entry(const struct ky_jnode *node, struct ky_profile_entry *e, struct ky_error **err)
{
	static const char *const keys[] = { "pciAddress", "selector", "kind", "numVfs", "eswitchMode", "vfDriver",
					    "command", "image", "program", NULL };
	static const char *const firmware_keys[] = { "firmware", "firmwareVersion", "firmwareImage", NULL };
	const char *addr = NULL;
	int kind, r;

	snprintf(e->path, sizeof(e->path), "%s", node->path);
	e->num_vfs = -1;
	if (!cJSON_IsObject(node->j))
		return ky_json_error(node, err, "must be an object, got %s", ky_json_type_name(node->j));
	for (size_t i = 0; firmware_keys[i]; i++)
		if (cJSON_GetObjectItemCaseSensitive(node->j, firmware_keys[i]))
			return field_error(node, firmware_keys[i], err,
					   "refused: Kyborg never writes firmware; the device's own life cycle "
					   "(firmware, its settings) belongs to the server's management");
	if ((r = ky_json_check_keys(node, keys, err)) < 0 ||
	    (r = ky_json_enum(node, "kind", KY_JSON_REQUIRED, kind_names, &kind, err)) < 0)
		return r;
	e->kind = (enum ky_profile_kind)kind;
	if ((r = ky_json_string(node, "pciAddress", 0, &addr, err)) < 0)
		return r;
	bool has_sel = cJSON_GetObjectItemCaseSensitive(node->j, "selector") != NULL;
	if (!addr == !has_sel)
		return ky_json_error(node, err, "give exactly one of pciAddress or selector");
	if (addr && ky_pci_addr_normalize(addr, e->pci_addr) < 0) {
		char q[64];
		struct ky_jnode n;
		ky_json_child(node, "pciAddress", 0, &n, NULL);
		return ky_json_error(&n, err, "not a PCI address (DDDD:BB:SS.F): %s", ky_json_quote(addr, q, sizeof(q)));
	}
	if (has_sel) {
		if ((r = ky_pci_selector_parse(node, "selector", &e->selector, err)) < 0)
			return r;
		e->has_selector = true;
	}
	if ((r = check_kind_fields(node, e->kind, err)) < 0)
		return r;
	switch (e->kind) {
	case KY_PROFILE_NIC:
		return parse_nic(node, e, err);
	case KY_PROFILE_GPU:
		return parse_command(node, e, err);
	case KY_PROFILE_FPGA:
		return parse_image(node, e, err);
	}
	return 0;
}

int ky_profile_parse(const char *text, size_t len, struct ky_profile **out, struct ky_error **err)
{
	static const char *const keys[] = { "devices", NULL };
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	_cleanup_(ky_profile_freep) struct ky_profile *p = NULL;
	struct ky_jnode root, arr, e;
	size_t n, i;
	int r;

	if ((r = ky_json_parse_object(text, len, "the profile", &doc, &root, err)) < 0)
		return r;
	if ((r = ky_json_check_keys(&root, keys, err)) < 0 ||
	    (r = ky_json_array(&root, "devices", KY_JSON_REQUIRED, &arr, &n, err)) < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p || (n && !(p->entries = calloc(n, sizeof(*p->entries)))))
		return ky_error_set(err, ENOMEM, "out of memory");
	ky_json_foreach(&arr, i, e)
	{
		p->n = i + 1;
		if ((r = parse_entry(&e, &p->entries[i], err)) < 0)
			return r;
		const char *a = p->entries[i].pci_addr;
		for (size_t j = 0; *a && j < i; j++) {
			if (strcmp(p->entries[j].pci_addr, a) == 0) {
				struct ky_jnode pa;
				ky_json_child(&e, "pciAddress", 0, &pa, NULL);
				return ky_json_error(&pa, err, "%s is also devices[%zu]", a, j);
			}
		}
	}
	*out = TAKE_PTR(p);
	return 0;
}

int ky_profile_load(const char *path, struct ky_profile **out, struct ky_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;
	if (fd < 0)
		return ky_error_set(err, errno, "cannot open profile %s: %m", path);
	if (fstat(fd, &st) < 0)
		return ky_error_set(err, errno, "stat %s: %m", path);
	if (!S_ISREG(st.st_mode))
		return ky_error_set(err, EINVAL, "profile %s is not a regular file", path);
	int r = ky_read_all(fd, KY_PROFILE_MAX_SIZE, &buf, &len);
	if (r == -EFBIG)
		return ky_error_set(err, EFBIG, "profile %s is over %u bytes", path, KY_PROFILE_MAX_SIZE);
	if (r < 0)
		return ky_error_set(err, -r, "read %s: %s", path, strerror(-r));
	if ((r = ky_profile_parse(buf, len, out, err)) < 0)
		return ky_error_prefix(err, "%s", path);
	return 0;
}

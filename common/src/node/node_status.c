/* kyborgctl status: the inventory plus each device's front end and users,
 * its eswitch mode and the firmware version the kernel reports. Reading
 * the node is ky_node_live_read and ky_node_served_read; matching the
 * config (ky_node_served) and the reports are pure. */
#include "kyborg/node/node_status.h"
#include "kyborg/device/device_config.h"
#include "kyborg/device/device_list.h"
#include "kyborg/device/device_watch.h"
#include "kyborg/net/devlink.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/fpga.h"
#include "kyborg/pci/inventory.h"
#include "kyborg/json/json.h"
#include "kyborg/pci/pci.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/* ETHTOOL_GDRVINFO's fw_version; NULL when empty or unanswered. */
static char *firmware_of(int sock, const char *ifname)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };
	if (sock < 0 || strlen(ifname) >= sizeof(ifr.ifr_name))
		return NULL;
	memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
	ifr.ifr_data = (void *)&info;
	if (ioctl(sock, SIOCETHTOOL, &ifr) < 0)
		return NULL;
	info.fw_version[sizeof(info.fw_version) - 1] = '\0';
	if (!info.fw_version[0] || strcmp(info.fw_version, "N/A") == 0)
		return NULL;
	return strdup(info.fw_version);
}

void ky_node_live_free(struct ky_dev_live *live, size_t n)
{
	for (size_t i = 0; live && i < n; i++) {
		free(live[i].firmware);
		free(live[i].fpga_image);
	}
	free(live);
}

int ky_node_live_read(const struct ky_pci_list *list, struct ky_dev_live **out, struct ky_error **err)
{
	struct ky_dev_live *live = calloc(list->n ? list->n : 1, sizeof(*live));
	if (!live)
		return ky_error_set(err, ENOMEM, "out of memory");
	_cleanup_close_ int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (size_t i = 0; i < list->n; i++) {
		const struct ky_pci_dev *d = &list->devs[i];
		if (d->n_netdevs)
			live[i].firmware = firmware_of(sock, d->netdevs[0]);
		if (strcmp(ky_pci_family(d), "nic") == 0 && !ky_pci_is_vf(d) &&
		    ky_devlink_eswitch_get("pci", d->addr, &live[i].eswitch, NULL) < 0)
			live[i].eswitch = KY_ESWITCH_UNKNOWN;
		if (strcmp(ky_pci_family(d), "fpga") == 0 && d->syspath) {
			struct ky_fpga *f = NULL;
			if (ky_fpga_find(d->syspath, d->addr, &f, NULL) == 0)
				ky_fpga_loaded_id(f, &live[i].fpga_image, NULL);
			ky_fpga_free(f);
		}
	}
	*out = live;
	return 0;
}

static bool is_nic_pf(const struct ky_pci_dev *d)
{
	return strcmp(ky_pci_family(d), "nic") == 0 && !ky_pci_is_vf(d);
}

/* ---- Front ends ---- */

static const char *const frontend_names[] = { "none", "devicePlugin", "dra" };
static const char *const frontend_titles[] = { "none", "device plugin", "DRA" };

const char *ky_node_frontend_name(enum ky_node_frontend f)
{
	return (unsigned)f < KY_ARRAY_SIZE(frontend_names) ? frontend_names[f] : "unknown";
}

/* The one place that reads which front end serves a resource: the
 * config's "frontend" (devicePlugin, the default, or dra). */
static enum ky_node_frontend resource_frontend(const struct ky_device_resource *res)
{
	return res->frontend == KY_FRONTEND_DRA ? KY_NODE_FRONTEND_DRA : KY_NODE_FRONTEND_DEVICE_PLUGIN;
}

int ky_node_served(const struct ky_device_config *cfg, const struct ky_pci_list *list,
		   const struct ky_device_host *host, struct ky_dev_served **out, struct ky_error **err)
{
	_cleanup_free_ struct ky_dev_served *served = calloc(list->n ? list->n : 1, sizeof(*served));
	struct ky_devlist *lists = NULL;
	if (!served)
		return ky_error_set(err, ENOMEM, "out of memory");
	int r = ky_devices_build_host(cfg, list, host, &lists, err);
	if (r < 0)
		return r;
	for (size_t k = 0; k < cfg->n_resources; k++) {
		const struct ky_device_resource *res = &cfg->resources[k];
		for (size_t d = 0; d < lists[k].n; d++) {
			/* The lists borrow list's functions: the index is the offset. */
			size_t i = (size_t)(lists[k].devs[d].pci - list->devs);
			if (i < list->n)
				served[i] = (struct ky_dev_served){ .frontend = resource_frontend(res), .resource = res->name };
		}
	}
	ky_devlists_free(lists, cfg->n_resources);
	*out = TAKE_PTR(served);
	return 0;
}

int ky_node_served_read(const char *config_path, const struct ky_pci_list *list, struct ky_device_config **cfg,
			struct ky_dev_served **out, struct ky_error **err)
{
	_cleanup_(ky_device_config_freep) struct ky_device_config *c = NULL;
	struct ky_device_host host = { 0 };
	int r = ky_device_config_load(config_path, &c, err);
	if (r < 0)
		return r;
	if ((r = ky_device_host_probe(c, &host, err)) >= 0)
		r = ky_node_served(c, list, &host, out, err);
	ky_device_host_release(&host);
	if (r < 0)
		return r;
	*cfg = TAKE_PTR(c);
	return 0;
}

/* ---- Reports ---- */

static bool add_string_or_null(cJSON *o, const char *key, const char *s)
{
	return s ? cJSON_AddStringToObject(o, key, s) != NULL : cJSON_AddNullToObject(o, key) != NULL;
}

int ky_node_status_json(const struct ky_node_status *st, cJSON **out, struct ky_error **err)
{
	const struct ky_pci_list *list = st->list;
	const struct ky_dev_live *live = st->live;
	const struct ky_node_usage *usage = st->usage;
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	int r = ky_inventory_to_json(list, &doc, err);
	if (r < 0)
		return r;
	cJSON *fns = cJSON_GetObjectItemCaseSensitive(doc, "pci_functions");
	for (size_t i = 0; list && i < list->n; i++) {
		const struct ky_pci_dev *d = &list->devs[i];
		cJSON *fn = cJSON_GetArrayItem(fns, (int)i), *users = cJSON_CreateArray();
		bool ok = users && cJSON_AddItemToObject(fn, "used_by", users);
		if (!ok)
			cJSON_Delete(users);
		for (size_t u = 0; ok && usage && u < usage->n; u++)
			if (strcmp(usage->users[u].addr, d->addr) == 0)
				ok = cJSON_AddItemToArray(users, cJSON_CreateString(usage->users[u].who));
		const struct ky_dev_served *sv = st->served ? &st->served[i] : NULL;
		ok = ok && add_string_or_null(fn, "frontend", sv ? ky_node_frontend_name(sv->frontend) : NULL) &&
		     add_string_or_null(fn, "resource", sv ? sv->resource : NULL) &&
		     add_string_or_null(fn, "firmware_version", live ? live[i].firmware : NULL);
		if (ok && strcmp(ky_pci_family(d), "fpga") == 0)
			ok = add_string_or_null(fn, "fpga_image", live ? live[i].fpga_image : NULL);
		if (ok && is_nic_pf(d)) {
			enum ky_eswitch_mode m = live ? live[i].eswitch : KY_ESWITCH_UNKNOWN;
			ok = add_string_or_null(fn, "eswitch_mode", m == KY_ESWITCH_UNKNOWN ? NULL : ky_eswitch_mode_name(m));
		}
		if (!ok)
			return ky_error_set(err, ENOMEM, "status JSON: out of memory");
	}
	cJSON *notes = cJSON_AddArrayToObject(doc, "notes");
	bool ok = notes != NULL;
	for (size_t n = 0; ok && n < st->n_notes; n++)
		ok = cJSON_AddItemToArray(notes, cJSON_CreateString(st->notes[n]));
	if (!ok)
		return ky_error_set(err, ENOMEM, "status JSON: out of memory");
	*out = TAKE_PTR(doc);
	return 0;
}

/* Who holds each function: shown are the accelerators the inventory lists
 * (GPUs, FPGAs, NICs) and any other function a resource takes or a user
 * holds; one line per user, the first beside the function. */
static bool shown_in_holders(const struct ky_node_status *st, size_t i)
{
	const struct ky_pci_dev *d = &st->list->devs[i];
	if (strcmp(ky_pci_family(d), "other") != 0 || (st->served && st->served[i].frontend != KY_NODE_FRONTEND_NONE))
		return true;
	for (size_t u = 0; st->usage && u < st->usage->n; u++)
		if (strcmp(st->usage->users[u].addr, d->addr) == 0)
			return true;
	return false;
}

static void write_holders(const struct ky_node_status *st, FILE *f)
{
	const struct ky_pci_list *list = st->list;
	int w_fe = (int)strlen("FRONT END"), w_res = (int)strlen("RESOURCE");
	for (size_t i = 0; i < list->n; i++) {
		const struct ky_dev_served *sv = st->served ? &st->served[i] : NULL;
		if (!shown_in_holders(st, i))
			continue;
		if (sv && (int)strlen(frontend_titles[sv->frontend]) > w_fe)
			w_fe = (int)strlen(frontend_titles[sv->frontend]);
		if (sv && sv->resource && (int)strlen(sv->resource) > w_res)
			w_res = (int)strlen(sv->resource);
	}
	fprintf(f, "\nFront ends and users:\n  %-*s  %-*s  %-*s  %s\n", KY_PCI_ADDR_LEN - 1, "ADDRESS", w_fe,
		"FRONT END", w_res, "RESOURCE", "USED BY");
	for (size_t i = 0; i < list->n; i++) {
		const struct ky_dev_served *sv = st->served ? &st->served[i] : NULL;
		if (!shown_in_holders(st, i))
			continue;
		fprintf(f, "  %-*s  %-*s  %-*s", KY_PCI_ADDR_LEN - 1, list->devs[i].addr, w_fe,
			sv ? frontend_titles[sv->frontend] : "unknown", w_res, sv && sv->resource ? sv->resource : "-");
		bool any = false;
		for (size_t u = 0; st->usage && u < st->usage->n; u++) {
			if (strcmp(st->usage->users[u].addr, list->devs[i].addr) != 0)
				continue;
			if (any)
				fprintf(f, "  %-*s  %-*s  %-*s", KY_PCI_ADDR_LEN - 1, "", w_fe, "", w_res, "");
			fprintf(f, "  %s\n", st->usage->users[u].who);
			any = true;
		}
		if (!any)
			fputs("  -\n", f);
	}
	/* A record may name a function that has left the node: say so rather
	 * than drop its user. */
	for (size_t u = 0; st->usage && u < st->usage->n; u++)
		if (!ky_pci_list_find(list, st->usage->users[u].addr))
			fprintf(f, "  %-*s  %-*s  %s\n", KY_PCI_ADDR_LEN - 1, st->usage->users[u].addr, w_fe + w_res + 2,
				"(not on this node)", st->usage->users[u].who);
	for (size_t n = 0; n < st->n_notes; n++)
		fprintf(f, "  (%s)\n", st->notes[n]);
}

int ky_node_status_write_text(const struct ky_node_status *st, FILE *f, struct ky_error **err)
{
	static const struct ky_pci_list empty;
	const struct ky_pci_list *list = st->list ? st->list : &empty;
	const struct ky_dev_live *live = st->live;
	int r = ky_inventory_write_text(list, f, err);
	if (r < 0)
		return r;
	bool head = false;
	for (size_t i = 0; i < list->n; i++) {
		const struct ky_pci_dev *d = &list->devs[i];
		bool fpga = strcmp(ky_pci_family(d), "fpga") == 0;
		if (!is_nic_pf(d) && !fpga && !(live && live[i].firmware))
			continue;
		if (!head)
			fputs("\nWhole-device state:\n", f);
		head = true;
		fprintf(f, "  %s", d->addr);
		if (is_nic_pf(d))
			fprintf(f, "  eswitch %s", ky_eswitch_mode_name(live ? live[i].eswitch : KY_ESWITCH_UNKNOWN));
		if (fpga)
			fprintf(f, "  image %s", live && live[i].fpga_image ? live[i].fpga_image : "unknown");
		fprintf(f, "  firmware %s\n", live && live[i].firmware ? live[i].firmware : "unknown");
	}
	struct ky_node_status s = *st;
	s.list = list;
	write_holders(&s, f);
	if (fflush(f) != 0 || ferror(f))
		return ky_error_set(err, EIO, "write status: %s", strerror(errno ? errno : EIO));
	return 0;
}

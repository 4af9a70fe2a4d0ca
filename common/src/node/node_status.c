/* kyborgctl status: the inventory plus each device's users, its eswitch
 * mode and the firmware version the kernel reports. Reading the kernel is
 * ky_node_live_read; the reports are pure. */
#include "kyborg/node/node_status.h"
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

int ky_node_status_json(const struct ky_pci_list *list, const struct ky_dev_live *live,
			const struct ky_node_usage *usage, cJSON **out, struct ky_error **err)
{
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
		const char *fw = live ? live[i].firmware : NULL;
		ok = ok && (fw ? cJSON_AddStringToObject(fn, "firmware_version", fw) :
				 cJSON_AddNullToObject(fn, "firmware_version"));
		if (ok && strcmp(ky_pci_family(d), "fpga") == 0) {
			const char *img = live ? live[i].fpga_image : NULL;
			ok = img ? cJSON_AddStringToObject(fn, "fpga_image", img) != NULL :
				   cJSON_AddNullToObject(fn, "fpga_image") != NULL;
		}
		if (ok && is_nic_pf(d)) {
			enum ky_eswitch_mode m = live ? live[i].eswitch : KY_ESWITCH_UNKNOWN;
			ok = m == KY_ESWITCH_UNKNOWN ? cJSON_AddNullToObject(fn, "eswitch_mode") != NULL :
						       cJSON_AddStringToObject(fn, "eswitch_mode", ky_eswitch_mode_name(m)) != NULL;
		}
		if (!ok)
			return ky_error_set(err, ENOMEM, "status JSON: out of memory");
	}
	*out = TAKE_PTR(doc);
	return 0;
}

int ky_node_status_write_text(const struct ky_pci_list *list, const struct ky_dev_live *live,
			      const struct ky_node_usage *usage, FILE *f, struct ky_error **err)
{
	int r = ky_inventory_write_text(list, f, err);
	if (r < 0)
		return r;
	bool head = false;
	for (size_t i = 0; list && i < list->n; i++) {
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
	fprintf(f, "\nIn use: %s\n", usage && usage->n ? "" : "none");
	for (size_t u = 0; usage && u < usage->n; u++)
		fprintf(f, "  %s  %s\n", usage->users[u].addr, usage->users[u].who);
	if (fflush(f) != 0 || ferror(f))
		return ky_error_set(err, EIO, "write status: %s", strerror(errno ? errno : EIO));
	return 0;
}

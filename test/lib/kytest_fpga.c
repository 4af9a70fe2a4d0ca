/* umockdev's emulation of the DFL FME ioctl; see kytest_fpga.h. */
#include "kytest_fpga.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/fpga-dfl.h>

static struct {
	GMutex lock;
	struct kyt_dfl_pr pr;
	UMockdevTestbed *tb;
	UMockdevIoctlBase *fme;
	char port[256], afu[64];
} emu;

/* umockdev runs this in its worker thread. */
static gboolean on_fme_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer data)
{
	(void)base;
	(void)data;
	if (umockdev_ioctl_client_get_request(client) != DFL_FPGA_FME_PORT_PR) {
		umockdev_ioctl_client_complete(client, -1, ENOTTY);
		return TRUE;
	}
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	g_autoptr(UMockdevIoctlData) req = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct dfl_fpga_fme_port_pr), NULL);
	if (!req) {
		umockdev_ioctl_client_complete(client, -1, EFAULT);
		return TRUE;
	}
	struct dfl_fpga_fme_port_pr r;
	memcpy(&r, req->data, sizeof(r));
	g_autoptr(UMockdevIoctlData) img = r.buffer_size < sizeof(emu.pr.image) ?
		umockdev_ioctl_data_resolve(req, offsetof(struct dfl_fpga_fme_port_pr, buffer_address), r.buffer_size, NULL) :
		NULL;
	g_mutex_lock(&emu.lock);
	emu.pr.calls++;
	emu.pr.argsz = r.argsz;
	emu.pr.port_id = r.port_id;
	emu.pr.size = r.buffer_size;
	if (img)
		memcpy(emu.pr.image, img->data, r.buffer_size);
	g_mutex_unlock(&emu.lock);
	/* The region now holds the image: the port reports its AFU id. */
	umockdev_testbed_set_attribute(emu.tb, emu.port, "afu_id", emu.afu);
	umockdev_ioctl_client_complete(client, 0, 0);
	return TRUE;
}

void kyt_dfl_fme_attach(UMockdevTestbed *tb, const char *port_sysfs, const char *afu_id)
{
	g_autoptr(GError) gerr = NULL;
	memset(&emu.pr, 0, sizeof(emu.pr));
	emu.tb = tb;
	snprintf(emu.port, sizeof(emu.port), "%s", port_sysfs);
	snprintf(emu.afu, sizeof(emu.afu), "%s\n", afu_id);
	emu.fme = g_object_new(UMOCKDEV_TYPE_IOCTL_BASE, NULL);
	g_signal_connect(emu.fme, "handle-ioctl", G_CALLBACK(on_fme_ioctl), NULL);
	cr_assert(umockdev_testbed_attach_ioctl(tb, "/dev/dfl-fme.0", emu.fme, &gerr), "%s", gerr ? gerr->message : "");
}

void kyt_dfl_fme_detach(void)
{
	if (!emu.fme)
		return;
	umockdev_testbed_detach_ioctl(emu.tb, "/dev/dfl-fme.0", NULL);
	g_clear_object(&emu.fme);
	emu.tb = NULL;
}

struct kyt_dfl_pr kyt_dfl_fme_received(void)
{
	g_mutex_lock(&emu.lock);
	struct kyt_dfl_pr pr = emu.pr;
	g_mutex_unlock(&emu.lock);
	return pr;
}

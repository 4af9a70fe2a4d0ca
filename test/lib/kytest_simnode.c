/* The simulated node in an umockdev testbed; see kytest_simnode.h. */
#include "kytest_simnode.h"
#include "kytest.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool ifname_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 15)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == '@' || *s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

char *kyt_simnode_render(const char *pf_ifname, const char *const vf_ifnames[4])
{
	if (!ifname_ok(pf_ifname) || !vf_ifnames) {
		errno = EINVAL;
		return NULL;
	}
	for (int i = 0; i < 4; i++) {
		if (!ifname_ok(vf_ifnames[i])) {
			errno = EINVAL;
			return NULL;
		}
	}
	char *tmpl = kyt_read_file(KYTEST_DATA_DIR "/sim-node.umockdev");
	if (!tmpl)
		return NULL;

	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	if (!m) {
		free(tmpl);
		return NULL;
	}
	for (const char *p = tmpl; *p;) {
		if (strncmp(p, "@PF@", 4) == 0) {
			fputs(pf_ifname, m);
			p += 4;
		} else if (strncmp(p, "@VF", 3) == 0 && p[3] >= '0' && p[3] <= '3' && p[4] == '@') {
			fputs(vf_ifnames[p[3] - '0'], m);
			p += 5;
		} else {
			fputc(*p++, m);
		}
	}
	free(tmpl);
	if (fclose(m) != 0) {
		free(out);
		errno = ENOMEM;
		return NULL;
	}
	return out;
}

int kyt_testbed_add(UMockdevTestbed *tb, const char *record)
{
	GError *gerr = NULL;
	if (!umockdev_testbed_add_from_string(tb, record, &gerr)) {
		fprintf(stderr, "umockdev: cannot add record: %s\n", gerr ? gerr->message : "unknown error");
		g_clear_error(&gerr);
		return -EINVAL;
	}
	return 0;
}

int kyt_simnode_load(UMockdevTestbed *tb, const char *pf_ifname, const char *const vf_ifnames[4])
{
	char *text = kyt_simnode_render(pf_ifname, vf_ifnames);
	if (!text)
		return -errno;
	int r = kyt_testbed_add(tb, text);
	free(text);
	return r;
}

int kyt_testbed_add_file(UMockdevTestbed *tb, const char *path, const char *const subs[])
{
	char *tmpl = kyt_read_file(path);
	if (!tmpl)
		return -errno;
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	int r = m ? 0 : -ENOMEM;
	for (const char *p = tmpl; m && *p && r == 0;) {
		const char *end = p[0] == '@' ? strchr(p + 1, '@') : NULL;
		if (!end || end == p + 1 || memchr(p + 1, '\n', (size_t)(end - p - 1))) {
			fputc(*p++, m);
			continue;
		}
		const char *value = NULL;
		for (size_t i = 0; subs && subs[i]; i += 2)
			if (strlen(subs[i]) == (size_t)(end - p - 1) && strncmp(subs[i], p + 1, (size_t)(end - p - 1)) == 0)
				value = subs[i + 1];
		if (!value || !ifname_ok(value)) {
			fprintf(stderr, "%s: no value for %.*s\n", path, (int)(end - p + 1), p);
			r = -EINVAL;
			break;
		}
		fputs(value, m);
		p = end + 1;
	}
	free(tmpl);
	if (m && fclose(m) != 0 && r == 0)
		r = -ENOMEM;
	if (r == 0)
		r = kyt_testbed_add(tb, out);
	free(out);
	return r;
}

UMockdevTestbed *kyt_simnode_testbed(char pf_name[16], char vf_names[4][16])
{
	char own[4][16];
	char (*names)[16] = vf_names ? vf_names : own;
	const char *vfs[4];
	UMockdevTestbed *tb = umockdev_testbed_new();
	cr_assert_not_null(tb);
	cr_assert(umockdev_in_mock_environment(), "run this test under umockdev-wrapper");
	kyt_unique_name(pf_name, 16, "kypf");
	for (int i = 0; i < 4; i++) {
		kyt_unique_name(names[i], 16, "kyvf");
		vfs[i] = names[i];
	}
	cr_assert_eq(kyt_simnode_load(tb, pf_name, vfs), 0);
	return tb;
}

void kyt_testbed_free(UMockdevTestbed **tb)
{
	if (!*tb)
		return;
	umockdev_testbed_clear(*tb);
	g_clear_object(tb);
}

char *kyt_simnode_gpu1_record(void)
{
	static const char *const vfs[4] = { "v0", "v1", "v2", "v3" };
	char *all = kyt_simnode_render("p0", vfs);
	cr_assert_not_null(all);
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	cr_assert_not_null(m);
	for (char *block = all; *block;) {
		char *end = strstr(block, "\n\n");
		size_t n = end ? (size_t)(end - block) + 2 : strlen(block);
		if (strncmp(block, "P: /devices/pci0000:85/", 23) == 0)
			fwrite(block, 1, n, m);
		block += n;
	}
	fclose(m);
	free(all);
	return out;
}

const char kyt_simnode_userspace_vf_record[] =
	"P: /devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0\n"
	"E: DRIVER=ice\nE: PCI_CLASS=20000\nE: PCI_ID=8086:1592\nE: PCI_SLOT_NAME=0000:5e:00.0\nE: SUBSYSTEM=pci\n"
	"A: vendor=0x8086\nA: device=0x1592\nA: class=0x020000\nA: numa_node=0\n"
	"A: sriov_totalvfs=8\nA: sriov_numvfs=1\n"
	"L: driver=../../../../bus/pci/drivers/ice\n"
	"L: virtfn0=../0000:5e:01.0\n"
	"\n"
	"P: /devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0/net/%s\n"
	"E: INTERFACE=%s\nE: SUBSYSTEM=net\nA: address=02:00:00:00:5e:00\nA: addr_len=6\nA: mtu=1500\nA: type=1\n"
	"L: device=../../../0000:5e:00.0\n"
	"\n"
	"P: /devices/pci0000:5d/0000:5d:00.0/0000:5e:01.0\n"
	"E: DRIVER=vfio-pci\nE: PCI_CLASS=20000\nE: PCI_ID=8086:1889\nE: PCI_SLOT_NAME=0000:5e:01.0\nE: SUBSYSTEM=pci\n"
	"A: vendor=0x8086\nA: device=0x1889\nA: class=0x020000\nA: numa_node=0\n"
	"L: driver=../../../../bus/pci/drivers/vfio-pci\n"
	"L: iommu_group=../../../../kernel/iommu_groups/300\n"
	"L: physfn=../0000:5e:00.0\n";

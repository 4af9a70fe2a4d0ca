/* netdevsim fixtures for the kernel tier; see kytest_nsim.h. */
#include "kytest_nsim.h"
#include "kytest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NSIM_BUS "/sys/bus/netdevsim"

/* A sysfs store's errno is the driver's answer: keep it. */
static int sysfs_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, value, strlen(value));
	int r = w < 0 ? -errno : (size_t)w == strlen(value) ? 0 : -EIO;
	close(fd);
	return r;
}

static cJSON *ip_json(const char *arg0, ...) __attribute__((sentinel));
static cJSON *ip_json(const char *arg0, ...)
{
	const char *argv[16] = { arg0 };
	va_list ap;
	va_start(ap, arg0);
	for (size_t i = 1; i < 15 && (argv[i] = va_arg(ap, const char *)); i++)
		;
	va_end(ap);
	char *out = NULL;
	int r = kyt_runv(&out, (char *const *)argv);
	cJSON *doc = r == 0 && out ? cJSON_Parse(out) : NULL;
	free(out);
	return doc;
}

/* The netdev of device `id` whose phys_port_name is port, or with port NULL
 * the first one (the PF right after creation: the only one). */
static bool find_netdev(unsigned id, const char *port, char *ifname, size_t size)
{
	char parent[32];
	snprintf(parent, sizeof(parent), "netdevsim%u", id);
	cJSON *doc = ip_json("ip", "-d", "-j", "link", "show", NULL), *l;
	bool found = false;
	cJSON_ArrayForEach(l, doc) {
		const cJSON *dev = cJSON_GetObjectItem(l, "parentdev");
		const cJSON *pn = cJSON_GetObjectItem(l, "phys_port_name");
		const cJSON *name = cJSON_GetObjectItem(l, "ifname");
		if (!cJSON_IsString(dev) || strcmp(dev->valuestring, parent) != 0 || !cJSON_IsString(name))
			continue;
		if (port && (!cJSON_IsString(pn) || strcmp(pn->valuestring, port) != 0))
			continue;
		snprintf(ifname, size, "%s", name->valuestring);
		found = true;
		break;
	}
	cJSON_Delete(doc);
	return found;
}

static bool pf_appeared(void *arg)
{
	struct kyt_nsim *n = arg;
	return find_netdev(n->id, NULL, n->pf, sizeof(n->pf));
}

int kyt_nsim_new(struct kyt_nsim *n, unsigned num_vfs)
{
	static unsigned counter;
	char buf[64];
	memset(n, 0, sizeof(*n));
	/* Unique across the Criterion workers: each is its own process. */
	unsigned id = (unsigned)getpid() * 8 + (counter++ % 8);
	snprintf(buf, sizeof(buf), "%u 1", id);
	int r = sysfs_write(NSIM_BUS "/new_device", buf);
	if (r < 0)
		return r;
	n->id = id;
	snprintf(n->devlink, sizeof(n->devlink), "netdevsim/netdevsim%u", id);
	if (!kyt_wait_until(pf_appeared, n, 5000))
		return -ETIMEDOUT;
	return num_vfs ? kyt_nsim_set_num_vfs(n, num_vfs) : 0;
}

void kyt_nsim_del(struct kyt_nsim *n)
{
	if (!n || !n->devlink[0])
		return;
	char buf[32];
	snprintf(buf, sizeof(buf), "%u", n->id);
	sysfs_write(NSIM_BUS "/del_device", buf);
	n->devlink[0] = '\0';
}

int kyt_nsim_set_num_vfs(const struct kyt_nsim *n, unsigned num_vfs)
{
	char path[96], buf[16];
	snprintf(path, sizeof(path), NSIM_BUS "/devices/netdevsim%u/sriov_numvfs", n->id);
	snprintf(buf, sizeof(buf), "%u", num_vfs);
	return sysfs_write(path, buf);
}

bool kyt_nsim_port_netdev(const struct kyt_nsim *n, const char *port, char *ifname, size_t size)
{
	return find_netdev(n->id, port, ifname, size);
}

static cJSON *vf_list(const char *pf, cJSON **doc)
{
	*doc = ip_json("ip", "-j", "link", "show", "dev", pf, NULL);
	return cJSON_GetObjectItem(cJSON_GetArrayItem(*doc, 0), "vfinfo_list");
}

cJSON *kyt_ip_vf(const char *pf, unsigned vf)
{
	cJSON *doc = NULL, *e, *found = NULL;
	/* cJSON_ArrayForEach evaluates its list twice: fetch it once. */
	cJSON *list = vf_list(pf, &doc);
	cJSON_ArrayForEach(e, list) {
		const cJSON *i = cJSON_GetObjectItem(e, "vf");
		if (cJSON_IsNumber(i) && i->valueint == (int)vf) {
			found = cJSON_Duplicate(e, 1);
			break;
		}
	}
	cJSON_Delete(doc);
	return found;
}

int kyt_ip_vf_count(const char *pf)
{
	cJSON *doc = NULL;
	cJSON *list = vf_list(pf, &doc);
	int n = doc ? cJSON_GetArraySize(list) : -1;
	cJSON_Delete(doc);
	return n;
}

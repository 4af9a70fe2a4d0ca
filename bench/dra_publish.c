/* Benchmark (not a test) of the DRA driver's ResourceSlice publisher
 * (dra/dra_publish.c) against the kube-apiserver stand-in, which
 * bench/dra_publish.py starts: how long from start until the node's slices
 * are published, from kubelet wiping them until they are back, and from a
 * health change until it is published; and the memory a daemon holds for it
 * (VmRSS, VmHWM, RssAnon, RssFile after each step: libcurl and OpenSSL are
 * file-backed pages, shared with every other process mapping them).
 *
 * The devices are N VFs (64 a PF) shaped as discovery leaves them: a
 * ky_pci_list with the strings libudev gives (sysfs path, driver, names),
 * then one struct dra_dev each, as the daemon will hold them.
 *
 * Usage: kyborg-bench-dra SERVER TOKEN_FILE CA_FILE NODE DEVICES [WRITES_IN_FLIGHT] */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dra_publish.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/k8s/k8s_client.h"
#include "kyborg/loop/loop.h"
#include "kyborg/pci/pci.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of this process (user + system), ms: what the publisher and the
 * client cost, apart from waiting on the server. */
static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

static void report(const char *step)
{
	printf("  rss  %-44s VmRSS=%6ld kB VmHWM=%6ld kB RssAnon=%6ld kB RssFile=%6ld kB\n", step,
	       status_kib("VmRSS"), status_kib("VmHWM"), status_kib("RssAnon"), status_kib("RssFile"));
	fflush(stdout);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *s = NULL;
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* n VFs under n/64 PFs (rounded up), every string malloc'd as discovery's. */
static struct ky_pci_list *fake_node(unsigned n)
{
	unsigned n_pf = (n + 63) / 64;
	struct ky_pci_list *l = calloc(1, sizeof(*l));
	l->devs = calloc(n + n_pf, sizeof(*l->devs));
	l->n = n + n_pf;
	for (unsigned p = 0; p < n_pf; p++) {
		struct ky_pci_dev *pf = &l->devs[p];
		snprintf(pf->addr, sizeof(pf->addr), "0001:%02x:00.0", p & 0xff);
		pf->syspath = fmt("/sys/devices/pci0001:%02x/%s", p & 0xff, pf->addr);
		pf->vendor = 0x8086, pf->device = 0x1592, pf->class_code = 0x020000;
		pf->driver = strdup("ice");
		pf->numa_node = (int)(p % 2), pf->iommu_group = (int)p, pf->sriov_totalvfs = 64, pf->sriov_numvfs = 64;
		pf->netdevs = calloc(1, sizeof(char *));
		pf->netdevs[0] = fmt("ens%uf%u", p / 2, p % 2);
		pf->n_netdevs = 1;
		pf->virtfns = calloc(64, sizeof(char *));
		pf->n_virtfns = 64;
		pf->vendor_name = strdup("Intel Corporation");
		pf->device_name = strdup("Ethernet Controller E810-C for QSFP");
	}
	for (unsigned i = 0; i < n; i++) {
		struct ky_pci_dev *vf = &l->devs[n_pf + i];
		struct ky_pci_dev *pf = &l->devs[i / 64];
		snprintf(vf->addr, sizeof(vf->addr), "0000:%02x:%02x.%u", (0x20 + i / 256) & 0xff, (i / 8) % 32, i % 8);
		vf->syspath = fmt("/sys/devices/pci0000:1f/0000:1f:00.0/%s", vf->addr);
		vf->vendor = 0x8086, vf->device = 0x1889, vf->class_code = 0x020000;
		vf->driver = strdup("iavf");
		vf->numa_node = pf->numa_node, vf->iommu_group = (int)(1000 + i);
		vf->sriov_totalvfs = -1, vf->sriov_numvfs = -1;
		snprintf(vf->physfn, sizeof(vf->physfn), "%s", pf->addr);
		pf->virtfns[i % 64] = strdup(vf->addr);
		vf->netdevs = calloc(1, sizeof(char *));
		vf->netdevs[0] = fmt("%sv%u", pf->netdevs[0], i % 64);
		vf->n_netdevs = 1;
		vf->vendor_name = strdup("Intel Corporation");
		vf->device_name = strdup("Ethernet Adaptive Virtual Function");
	}
	return l;
}

extern char **environ;

static unsigned publishes(struct dra_publish *p)
{
	struct dra_publish_stats s;
	dra_publish_stats(p, &s);
	return s.publishes;
}

/* Runs the loop until the publisher is in step with a publish count past
 * before; returns the milliseconds it took, or -1. */
static double until_published(struct ky_loop *loop, struct dra_publish *p, unsigned before, double t0)
{
	double end = now_ms() + 120000;
	while (!(dra_publish_in_step(p) && publishes(p) > before)) {
		if (now_ms() > end)
			return -1;
		ky_loop_run_once(loop, 5, NULL);
	}
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	double t_main = now_ms();
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: %s SERVER TOKEN_FILE CA_FILE NODE DEVICES [WRITES_IN_FLIGHT]\n", argv[0]);
		return 2;
	}
	unsigned n = (unsigned)atoi(argv[5]);
	unsigned inflight = argc == 7 ? (unsigned)atoi(argv[6]) : 0;
	ky_log_set_level(getenv("KYBORG_BENCH_DEBUG") ? KY_LOG_DEBUG : KY_LOG_WARN);
	report("start");
	struct ky_pci_list *node = fake_node(n);
	report("discovered (the daemon's ky_pci_list)");
	struct dra_dev *devs = calloc(n, sizeof(*devs));
	struct ky_error *e = NULL;
	unsigned n_pf = (n + 63) / 64;
	for (unsigned i = 0; i < n; i++) {
		if (dra_dev_from_pci(&node->devs[n_pf + i], node, DRA_KIND_VF, "kyborg.io/sriov-vf", &devs[i], &e) < 0) {
			fprintf(stderr, "%s\n", ky_error_msg(e));
			return 1;
		}
	}
	report("struct dra_dev for each device");

	struct ky_loop *loop = NULL;
	struct ky_k8s_config *cfg = NULL;
	struct ky_k8s_client *client = NULL;
	struct dra_publish *pub = NULL;
	double t_start = now_ms(), c_start = cpu_ms();
	if (ky_loop_new(&loop, &e) < 0 || ky_k8s_config_new(argv[1], argv[2], argv[3], &cfg, &e) < 0 ||
	    ky_k8s_client_new(loop, cfg, &client, &e) < 0 ||
	    dra_publish_new(loop, client, "kyborg.io", argv[4], &(struct dra_publish_opts){ .no_owner = true, .max_inflight = inflight }, &pub,
			    &e) < 0 ||
	    dra_publish_set(pub, devs, n, &e) < 0) {
		fprintf(stderr, "%s\n", ky_error_msg(e));
		return 1;
	}
	ky_k8s_config_free(cfg);
	double t_first = until_published(loop, pub, 0, t_start);
	if (t_first < 0) {
		fprintf(stderr, "not published\n");
		return 1;
	}
	struct dra_publish_stats s;
	dra_publish_stats(pub, &s);
	printf("  time start (loop, client, publisher, set) -> %zu slices published: %8.1f ms (%.1f ms since main; %u "
	       "creates; CPU %.1f ms)\n",
	       s.slices, t_first, now_ms() - t_main, s.creates, cpu_ms() - c_start);
	report("published");

	/* Kubelet wipes the node's slices (its start, or the plugin gone 30 s),
	 * from another process: curl, so that the DELETE's answer (every
	 * slice deleted) is not parsed in this one. */
	char url[512], hdr_path[] = "/tmp/kydrabench-hdr-XXXXXX";
	snprintf(url, sizeof(url), "%s/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName%%3D%s",
		 argv[1], argv[4]);
	int hfd = mkstemp(hdr_path);
	FILE *tf = fopen(argv[2], "re");
	char token[4096] = "";
	if (hfd < 0 || !tf || !fgets(token, sizeof(token), tf) ||
	    dprintf(hfd, "Authorization: Bearer %.*s\n", (int)strcspn(token, "\r\n"), token) < 0) {
		fprintf(stderr, "token header: %m\n");
		return 1;
	}
	fclose(tf);
	close(hfd);
	char hdr_arg[64];
	snprintf(hdr_arg, sizeof(hdr_arg), "@%s", hdr_path);
	char *const curl_argv[] = { "curl", "-sS", "-o", "/dev/null", "--cacert", argv[3], "-H", hdr_arg, "-X", "DELETE",
				    url, NULL };
	unsigned before = publishes(pub);
	struct dra_publish_stats s0 = s;
	double t_wipe = now_ms(), c_wipe = cpu_ms();
	pid_t curl;
	if (posix_spawnp(&curl, "curl", NULL, NULL, curl_argv, environ) != 0) {
		fprintf(stderr, "curl: %m\n");
		return 1;
	}
	double t_back = until_published(loop, pub, before, t_wipe);
	dra_publish_stats(pub, &s);
	printf("  time kubelet's DELETE sent -> all slices published again:            %8.1f ms (%u creates, %u updates; "
	       "CPU %.1f ms)\n",
	       t_back, s.creates - s0.creates, s.updates - s0.updates, cpu_ms() - c_wipe);
	waitpid(curl, NULL, 0);
	unlink(hdr_path);
	report("republished");

	/* One device turns unhealthy: one slice changes. */
	devs[n / 2].healthy = false;
	devs[n / 2].unhealthy_reason = "pf-down";
	before = publishes(pub);
	s0 = s;
	double t_health = now_ms(), c_health = cpu_ms();
	dra_publish_set(pub, devs, n, &e);
	double t_taint = until_published(loop, pub, before, t_health);
	dra_publish_stats(pub, &s);
	printf("  time health change -> published:                                    %8.1f ms (%u creates, %u updates; "
	       "CPU %.1f ms)\n",
	       t_taint, s.creates - s0.creates, s.updates - s0.updates, cpu_ms() - c_health);

	/* Idle: watching, nothing to write. */
	double idle_end = now_ms() + 2000;
	while (now_ms() < idle_end)
		ky_loop_run_once(loop, 50, NULL);
	report("idle 2 s, watching");
	/* What of that is freed memory glibc keeps (parsed bodies of up to
	 * ~0.1 MiB each, freed): returned to the kernel, what stays is live. */
	malloc_trim(0);
	report("after malloc_trim(0)");

	dra_publish_free(pub);
	ky_k8s_client_free(client);
	ky_loop_free(loop);
	free(devs);
	ky_pci_list_free(node);
	return 0;
}

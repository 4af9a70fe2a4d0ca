/* What the CNI plugin's question "does a DRA claim hold this VF?"
 * (ky_dra_record_find_by_pci, cni/cni_dra.c) costs per ADD, on a node
 * without the DRA driver (no state directory), with the driver and N
 * prepared claims none of which holds the VF, and when one does (its record
 * read): median and p99 in microseconds over many calls, the page cache
 * warm as on a node where the driver just wrote them. Not a test.
 *   kyborg-bench-dra-lookup [--iterations N] [--claims N] */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/state/dra_record.h"
#include "kyborg/state/state_store.h"

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(const char *what, struct ky_error *err)
{
	fprintf(stderr, "%s: %s\n", what, err ? ky_error_msg(err) : strerror(errno));
	exit(1);
}

/* A claim holding the VF at 0000:<bus>:<slot>.<fn>, with a VfConfig, as
 * the driver writes it. */
static void put_claim(struct ky_state_store *records, struct ky_state_store *links, int i)
{
	char text[1024];
	struct ky_error *err = NULL;
	snprintf(text, sizeof(text),
		 "{\"version\":2,\"claimUID\":\"uid-%04d\",\"namespace\":\"ns1\",\"name\":\"c%d\",\"driver\":\"kyborg.io\","
		 "\"state\":\"prepared\",\"cdiSpec\":\"/var/run/cdi/x.json\",\"devices\":[{\"requests\":[\"nic\"],"
		 "\"pool\":\"node-a\",\"device\":\"vf-0000-%02x-%02x-%d\",\"pci\":\"0000:%02x:%02x.%d\",\"kind\":\"vf\","
		 "\"resource\":\"kyborg.io/sriov-vf\",\"cdiID\":\"kyborg.io/claim=uid-%04d\",\"configPath\":\"config[0]\","
		 "\"vf\":{\"pf\":\"ens1f0\",\"vfIndex\":%d,\"set\":{\"mask\":2,\"mac\":\"00:00:00:00:00:00\",\"vlan\":100,"
		 "\"qos\":0,\"vlanProto\":33024,\"minTxRate\":0,\"maxTxRate\":0,\"spoofchk\":false,\"trust\":false,"
		 "\"linkState\":0}}}]}",
		 i, i, 0x18 + i / 64, 1 + (i % 64) / 8, i % 8, 0x18 + i / 64, 1 + (i % 64) / 8, i % 8, i, i);
	cJSON *doc = cJSON_Parse(text);
	struct ky_dra_record rec = { 0 };
	struct ky_state_lock *l = NULL;
	if (!doc || ky_dra_record_from_json(doc, &rec, &err) < 0 || ky_state_lock(records, rec.claim_uid, 0, &l, &err) < 0 ||
	    ky_dra_record_save(l, &rec, false, &err) < 0 || ky_dra_links_add(links, &rec, &err) < 0)
		die("write a claim", err);
	ky_state_unlock(l);
	ky_dra_record_clear(&rec);
	cJSON_Delete(doc);
}

static void measure(const char *label, const char *dir, const char *pci, int want, int n)
{
	double *s = calloc((size_t)n, sizeof(*s));
	for (int i = 0; i < n; i++) {
		struct ky_error *err = NULL;
		struct ky_dra_record rec = { 0 };
		size_t k;
		double t0 = now_us();
		int r = ky_dra_record_find_by_pci(dir, pci, &rec, &k, &err);
		s[i] = now_us() - t0;
		if (r != want)
			die(label, err);
		if (r == 0)
			ky_dra_record_clear(&rec);
		ky_error_free(err);
	}
	qsort(s, (size_t)n, sizeof(*s), cmp);
	printf("%-44s %8.1f %8.1f\n", label, s[n / 2], s[(size_t)(n * 0.99)]);
	free(s);
}

int main(int argc, char **argv)
{
	int n = 20000, claims = 64;
	static const struct option opts[] = { { "iterations", required_argument, 0, 'n' },
					      { "claims", required_argument, 0, 'c' },
					      { 0, 0, 0, 0 } };
	for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		if (o == 'n')
			n = atoi(optarg);
		else if (o == 'c')
			claims = atoi(optarg);
		else
			return 2;
	}
	if (n < 100 || claims < 1 || claims > 512)
		return 2;
	char dir[] = "/tmp/kydralookup.XXXXXX";
	if (!mkdtemp(dir))
		die("mkdtemp", NULL);
	char none[600], rdir[600], ldir[600];
	snprintf(none, sizeof(none), "%s/no-dra", dir);
	snprintf(rdir, sizeof(rdir), "%s/dra-claims", dir);
	snprintf(ldir, sizeof(ldir), "%s/dra-devices", dir);
	struct ky_state_store *records = NULL, *links = NULL;
	struct ky_error *err = NULL;
	if (ky_state_open(rdir, &records, &err) < 0 || ky_state_open(ldir, &links, &err) < 0)
		die("open the stores", err);
	for (int i = 0; i < claims; i++)
		put_claim(records, links, i);
	printf("ky_dra_record_find_by_pci, %d calls each, %d claims prepared  p50 us   p99 us\n", n, claims);
	measure("no DRA driver on the node", none, "0000:18:01.1", -ENOENT, n);
	measure("driver, no claim holds the VF", dir, "0000:af:01.1", -ENOENT, n);
	measure("driver, a claim holds the VF (record read)", dir, "0000:18:01.1", 0, n);
	ky_state_close(records);
	ky_state_close(links);
	char *argv_rm[] = { "rm", "-rf", dir, NULL };
	pid_t pid = fork();
	if (pid == 0) {
		execvp("rm", argv_rm);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return 0;
}

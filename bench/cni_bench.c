/* ADD+DEL cost of the kyborg CNI plugin beside Debian's host-device and the
 * kernel floor (two small processes doing only the netns moves), measured in
 * one run, interleaved, in a private network namespace.
 *   kyborg-bench-cni [--iterations N] [--parallel P] [--rounds R]
 *                    --plugin PATH --floor PATH [--host-device PATH] [--cni-path DIR]
 *                    [--bpf-dir DIR [--rules]] [--baseline PATH]
 * Prints median and p99 of wall time, CPU time (user+system of the plugin
 * processes) and peak RSS, and the ratios to the targets. With --bpf-dir
 * (where kyborg_antispoof.bpf.o and kyborg_counters.bpf.o are), also kyborg
 * with two per-pod programs (and with --rules, on a kernel with cls_flower,
 * two offload rules), and what they add. With --baseline (another build of
 * the plugin, main's say), that build too, with and without IPAM,
 * interleaved with the others, and the differences: a loaded machine
 * moves both alike. Each veth's far end is up, as a switch port is: the
 * pod's end has carrier, which the plugin waits for (200 ms at most)
 * before it announces the pod's addresses. Not a test. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sample {
	double wall_ms, cpu_ms, rss_kib;
};

enum kind { FLOOR, KYBORG, HOSTDEV, BASELINE };

struct bcase {
	const char *label;
	enum kind kind;
	bool ipam;
	int extras; /* 0: none; 1: two BPF programs; 2: and two flower rules */
	struct sample *s;
	size_t n;
};

static struct {
	const char *plugin, *floor, *hostdev, *cni_path, *bpf_dir, *baseline;
	char tmp[64];
	char netns[32][32];
	int n_netns;
} g = { .hostdev = "/usr/lib/cni/host-device", .cni_path = "/usr/lib/cni" };

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int run_quiet(const char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0), dup2(null, 1), dup2(null, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Starts argv with envp and stdin text; returns the pid. */
static pid_t spawn(char *const argv[], char *const envp[], const char *input)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(p[0], 0), dup2(null, 1), dup2(null, 2);
		close(p[0]), close(p[1]);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(p[0]);
	if (input) {
		size_t len = strlen(input), off = 0;
		while (off < len) {
			ssize_t w = write(p[1], input + off, len - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	close(p[1]);
	return pid;
}

static int reap(pid_t pid, struct sample *s)
{
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0)
		return -1;
	s->cpu_ms += (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	if (ru.ru_maxrss > s->rss_kib)
		s->rss_kib = (double)ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct call {
	char *argv[8];
	char *envp[8];
	char input[2048];
	char buf[8][160];
};

static void prepare(struct call *c, const struct bcase *bc, bool add, const char *veth, const char *ns, int id)
{
	memset(c, 0, sizeof(*c));
	char nspath[96];
	snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", ns);
	if (bc->kind == FLOOR) {
		c->argv[0] = (char *)g.floor;
		c->argv[1] = add ? "add" : "del";
		snprintf(c->buf[1], sizeof(c->buf[1]), "%s", veth);
		c->argv[2] = c->buf[1];
		snprintf(c->buf[0], sizeof(c->buf[0]), "%s", nspath);
		c->argv[3] = c->buf[0];
		c->argv[4] = "net1";
		c->input[0] = '\0';
		return;
	}
	bool ours = bc->kind == KYBORG || bc->kind == BASELINE;
	c->argv[0] = (char *)(bc->kind == KYBORG ? g.plugin : bc->kind == BASELINE ? g.baseline : g.hostdev);
	snprintf(c->buf[0], 160, "CNI_COMMAND=%s", add ? "ADD" : "DEL");
	snprintf(c->buf[1], 160, "CNI_CONTAINERID=kybench%d", id);
	snprintf(c->buf[2], 160, "CNI_NETNS=%s", nspath);
	snprintf(c->buf[3], 160, "CNI_IFNAME=net1");
	snprintf(c->buf[4], 160, "CNI_PATH=%s", g.cni_path);
	snprintf(c->buf[5], 160, "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	int n = 6;
	/* The node allows the plugin the objects of --bpf-dir. */
	if (g.bpf_dir && bc->kind == KYBORG)
		snprintf(c->buf[n++], 160, "KYBORG_BPF_OBJECT_DIRS=%s", g.bpf_dir);
	for (int i = 0; i < n; i++)
		c->envp[i] = c->buf[i];
	char ipam[256] = "";
	if (bc->ipam)
		snprintf(ipam, sizeof(ipam),
			 ",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s/ipam-%s\","
			 "\"ranges\":[[{\"subnet\":\"10.250.0.0/16\"}]]}",
			 g.tmp, ours ? "ky" : "hd");
	char extras[1024] = "";
	if (bc->extras)
		snprintf(extras, sizeof(extras),
			 ",\"bpf\":[{\"object\":\"%s/kyborg_antispoof.bpf.o\",\"program\":\"kyborg_antispoof\","
			 "\"attach\":\"tc-egress\"},{\"object\":\"%s/kyborg_counters.bpf.o\","
			 "\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\"}]%s",
			 g.bpf_dir, g.bpf_dir,
			 bc->extras < 2 ? "" :
			 ",\"offload\":[{\"direction\":\"ingress\",\"match\":{\"proto\":\"ip\",\"ipProto\":\"tcp\","
			 "\"dstPort\":9},\"action\":\"drop\",\"hw\":\"never\"},{\"direction\":\"egress\","
			 "\"match\":{\"proto\":\"ip\",\"dst\":\"192.0.2.0/24\"},\"action\":\"drop\",\"hw\":\"never\"}]");
	if (ours)
		snprintf(c->input, sizeof(c->input),
			 "{\"cniVersion\":\"1.0.0\",\"name\":\"kybench%d\",\"type\":\"kyborg\",\"device\":\"%s\","
			 "\"stateDir\":\"%s/state\"%s%s}",
			 (int)getpid(), veth, g.tmp, ipam, extras);
	else
		snprintf(c->input, sizeof(c->input),
			 "{\"cniVersion\":\"1.0.0\",\"name\":\"kybench\",\"type\":\"host-device\",\"device\":\"%s\"%s}",
			 veth, ipam);
}

static int one(const struct bcase *bc, bool add, const char *veth, const char *ns, int id, struct sample *s)
{
	struct call c;
	prepare(&c, bc, add, veth, ns, id);
	pid_t pid = spawn(c.argv, c.envp, c.input);
	return pid < 0 ? -1 : reap(pid, s);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

struct stats {
	double wall50, wall99, cpu50, cpu99, rss50, rss99;
};

static struct stats summarize(const struct bcase *bc)
{
	double *v = calloc(bc->n, sizeof(double));
	struct stats st;
	for (size_t i = 0; i < bc->n; i++)
		v[i] = bc->s[i].wall_ms;
	st.wall50 = pct(v, bc->n, 0.5), st.wall99 = pct(v, bc->n, 0.99);
	for (size_t i = 0; i < bc->n; i++)
		v[i] = bc->s[i].cpu_ms;
	st.cpu50 = pct(v, bc->n, 0.5), st.cpu99 = pct(v, bc->n, 0.99);
	for (size_t i = 0; i < bc->n; i++)
		v[i] = bc->s[i].rss_kib / 1024.0;
	st.rss50 = pct(v, bc->n, 0.5), st.rss99 = pct(v, bc->n, 0.99);
	free(v);
	return st;
}

static void cleanup(void)
{
	for (int i = 0; i < g.n_netns; i++) {
		const char *argv[] = { "ip", "netns", "del", g.netns[i], NULL };
		run_quiet(argv);
	}
	if (g.tmp[0]) {
		const char *argv[] = { "rm", "-rf", "--one-file-system", g.tmp, NULL };
		run_quiet(argv);
	}
}

static void on_signal(int sig)
{
	(void)sig;
	cleanup();
	_exit(130);
}

static void die(const char *what)
{
	fprintf(stderr, "kyborg-bench-cni: %s\n", what);
	exit(1);
}

static void add_netns(void)
{
	snprintf(g.netns[g.n_netns], sizeof(g.netns[0]), "kybench%d-%d", (int)getpid() % 100000, g.n_netns);
	const char *argv[] = { "ip", "netns", "add", g.netns[g.n_netns], NULL };
	if (run_quiet(argv) != 0)
		die("ip netns add failed");
	g.n_netns++;
}

static void add_veth(const char *a, const char *b)
{
	const char *argv[] = { "ip", "link", "add", a, "type", "veth", "peer", "name", b, NULL };
	const char *up[] = { "ip", "link", "set", b, "up", NULL };
	if (run_quiet(argv) != 0 || run_quiet(up) != 0)
		die("ip link add veth failed");
}

/* P pods at once: every ADD started together, then every DEL; total wall
 * time of each wave, median over the rounds. */
static void parallel(const struct bcase *bc, int pods, int rounds, double *add_ms, double *del_ms)
{
	double *adds = calloc((size_t)rounds, sizeof(double)), *dels = calloc((size_t)rounds, sizeof(double));
	pid_t *pids = calloc((size_t)pods, sizeof(pid_t));
	struct call *calls = calloc((size_t)pods, sizeof(struct call));
	for (int r = 0; r < rounds; r++) {
		for (int wave = 0; wave < 2; wave++) {
			bool add = wave == 0;
			char veth[16];
			for (int p = 0; p < pods; p++) {
				snprintf(veth, sizeof(veth), "kbp%d", p);
				prepare(&calls[p], bc, add, veth, g.netns[p], 1000 + p);
			}
			double t0 = now_ms();
			for (int p = 0; p < pods; p++)
				pids[p] = spawn(calls[p].argv, calls[p].envp, calls[p].input);
			for (int p = 0; p < pods; p++) {
				struct sample s = { 0 };
				if (reap(pids[p], &s) != 0)
					die(add ? "parallel ADD failed" : "parallel DEL failed");
			}
			(add ? adds : dels)[r] = now_ms() - t0;
		}
	}
	*add_ms = pct(adds, (size_t)rounds, 0.5);
	*del_ms = pct(dels, (size_t)rounds, 0.5);
	free(adds), free(dels), free(pids), free(calls);
}

int main(int argc, char **argv)
{
	int iterations = 200, pods = 32, rounds = 5;
	bool rules = false;
	static const struct option opts[] = {
		{ "iterations", required_argument, 0, 'n' }, { "parallel", required_argument, 0, 'p' },
		{ "rounds", required_argument, 0, 'r' },     { "plugin", required_argument, 0, 'k' },
		{ "floor", required_argument, 0, 'f' },      { "host-device", required_argument, 0, 'h' },
		{ "cni-path", required_argument, 0, 'c' },   { "bpf-dir", required_argument, 0, 'b' },
		{ "rules", no_argument, 0, 'R' },            { "baseline", required_argument, 0, 'B' },
		{ 0, 0, 0, 0 },
	};
	for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		switch (o) {
		case 'n': iterations = atoi(optarg); break;
		case 'p': pods = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'k': g.plugin = optarg; break;
		case 'f': g.floor = optarg; break;
		case 'h': g.hostdev = optarg; break;
		case 'c': g.cni_path = optarg; break;
		case 'b': g.bpf_dir = optarg; break;
		case 'R': rules = true; break;
		case 'B': g.baseline = optarg; break;
		default: return 2;
		}
	}
	if (!g.plugin || !g.floor || iterations < 1 || pods < 1 || pods > 32 || rounds < 1) {
		fprintf(stderr, "usage: %s --plugin PATH --floor PATH [--iterations N] [--parallel 1-32] [--rounds R] "
				"[--host-device PATH] [--cni-path DIR]\n", argv[0]);
		return 2;
	}
	if (access(g.hostdev, X_OK) < 0)
		die("host-device not found (Debian: containernetworking-plugins)");

	/* A namespace of our own: whatever the run leaves behind vanishes with it. */
	if (unshare(CLONE_NEWNET) < 0)
		die("unshare(CLONE_NEWNET): run as root");
	const char *lo[] = { "ip", "link", "set", "lo", "up", NULL };
	run_quiet(lo);
	snprintf(g.tmp, sizeof(g.tmp), "/tmp/kybench.XXXXXX");
	if (!mkdtemp(g.tmp))
		die("mkdtemp");
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (int i = 0; i < pods; i++)
		add_netns();

	struct bcase cases[9] = {
		{ "floor (kernel work only)", FLOOR, false, 0, NULL, 0 },
		{ "kyborg", KYBORG, false, 0, NULL, 0 },
		{ "host-device", HOSTDEV, false, 0, NULL, 0 },
		{ "kyborg + host-local", KYBORG, true, 0, NULL, 0 },
		{ "host-device + host-local", HOSTDEV, true, 0, NULL, 0 },
		{ "kyborg + 2 programs", KYBORG, false, 1, NULL, 0 },
		{ "kyborg + 2 progs + 2 rules", KYBORG, false, 2, NULL, 0 },
	};
	/* The BPF cases only with --bpf-dir, the rules only with --rules; the
	 * baseline's after them. */
	size_t nc = !g.bpf_dir ? 5 : rules ? 7 : 6;
	const size_t n_extras = nc;
	if (g.baseline) {
		cases[nc++] = (struct bcase){ "baseline", BASELINE, false, 0, NULL, 0 };
		cases[nc++] = (struct bcase){ "baseline + host-local", BASELINE, true, 0, NULL, 0 };
	}
	char veth[nc][16];
	for (size_t c = 0; c < nc; c++) {
		char peer[16];
		snprintf(veth[c], 16, "kbs%u", (unsigned)c % 100);
		snprintf(peer, 16, "kbs%up", (unsigned)c % 100);
		add_veth(veth[c], peer);
		cases[c].s = calloc((size_t)iterations, sizeof(struct sample));
	}

	fprintf(stderr, "ADD+DEL x %d, interleaved across %zu cases...\n", iterations, nc);
	for (int i = 0; i < iterations; i++) {
		for (size_t c = 0; c < nc; c++) {
			struct sample s = { 0 };
			double t0 = now_ms();
			if (one(&cases[c], true, veth[c], g.netns[0], i, &s) != 0)
				die("ADD failed");
			if (one(&cases[c], false, veth[c], g.netns[0], i, &s) != 0)
				die("DEL failed");
			s.wall_ms = now_ms() - t0;
			cases[c].s[cases[c].n++] = s;
		}
	}

	printf("ADD+DEL of one veth into a netns, %d iterations (two processes per iteration)\n\n", iterations);
	printf("%-26s %9s %9s %9s %9s %9s %9s\n", "", "wall p50", "wall p99", "cpu p50", "cpu p99", "rss p50", "rss p99");
	printf("%-26s %9s %9s %9s %9s %9s %9s\n", "", "ms", "ms", "ms", "ms", "MiB", "MiB");
	struct stats st[9];
	for (size_t c = 0; c < nc; c++) {
		st[c] = summarize(&cases[c]);
		printf("%-26s %9.1f %9.1f %9.2f %9.2f %9.2f %9.2f\n", cases[c].label, st[c].wall50, st[c].wall99,
		       st[c].cpu50, st[c].cpu99, st[c].rss50, st[c].rss99);
	}
	printf("\nratios (medians)                          measured  target\n");
	printf("kyborg wall / floor wall                  %8.2fx  <= 1.10x\n", st[1].wall50 / st[0].wall50);
	printf("kyborg cpu / floor cpu                    %8.2fx  <= 1.50x\n", st[1].cpu50 / st[0].cpu50);
	printf("kyborg rss / host-device rss              %8.2fx  <= 0.60x\n", st[1].rss50 / st[2].rss50);
	printf("kyborg wall / host-device wall            %8.2fx\n", st[1].wall50 / st[2].wall50);
	printf("kyborg cpu / host-device cpu              %8.2fx\n", st[1].cpu50 / st[2].cpu50);
	printf("kyborg+ipam cpu / host-device+ipam cpu    %8.2fx\n", st[3].cpu50 / st[4].cpu50);
	for (size_t c = 5; c < n_extras; c++)
		printf("%s adds: wall p50 %+.2f ms, p99 %+.2f ms; cpu p50 %+.2f ms, p99 %+.2f ms; rss p50 %+.2f MiB\n",
		       cases[c].label, st[c].wall50 - st[1].wall50, st[c].wall99 - st[1].wall99, st[c].cpu50 - st[1].cpu50,
		       st[c].cpu99 - st[1].cpu99, st[c].rss50 - st[1].rss50);
	if (g.baseline)
		for (size_t k = 0; k < 2; k++) {
			const struct stats *a = &st[k ? 3 : 1], *b = &st[n_extras + k];
			printf("%s vs %s: wall p50 %+.2f ms, p99 %+.2f ms; cpu p50 %+.2f ms, p99 %+.2f ms; rss p50 %+.2f MiB\n",
			       cases[k ? 3 : 1].label, cases[n_extras + k].label, a->wall50 - b->wall50,
			       a->wall99 - b->wall99, a->cpu50 - b->cpu50, a->cpu99 - b->cpu99, a->rss50 - b->rss50);
		}

	for (int p = 0; p < pods; p++) {
		char a[16], b[16];
		snprintf(a, 16, "kbp%d", p);
		snprintf(b, 16, "kbp%dp", p);
		add_veth(a, b);
	}
	printf("\n%d pods in parallel (one netns and one veth each), median of %d rounds\n", pods, rounds);
	printf("%-26s %12s %12s\n", "", "all ADDs ms", "all DELs ms");
	const int par[] = { 0, 1, 2 };
	for (size_t i = 0; i < 3; i++) {
		double a, d;
		parallel(&cases[par[i]], pods, rounds, &a, &d);
		printf("%-26s %12.1f %12.1f\n", cases[par[i]].label, a, d);
	}
	for (size_t c = 0; c < nc; c++)
		free(cases[c].s);
	return 0;
}

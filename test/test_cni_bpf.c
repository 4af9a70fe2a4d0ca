/* Per-pod BPF programs and offload rules of the kyborg CNI plugin against
 * the real kernel: the example programs (examples/bpf) act on real
 * traffic between two pods, and ADD, CHECK and DEL attach, verify and
 * remove exactly their own programs, pins and filters. Each test has a
 * private netns as the host, two named netns as pods joined by a veth
 * pair, host-local as IPAM, and its own network name, so its pins under
 * /sys/fs/bpf/kyborg/<network>/ are its own. */
#include <criterion/criterion.h>
#include <bpf/bpf.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kytest.h"
#include "kytest_bpf.h"
#include "kytest_cni.h"
#include "kytest_net.h"
#include "kyborg/bpf/kyborg_pod.h"

#define CNI_PATH "/usr/lib/cni"
#define ANTISPOOF KYBORG_BPF_DIR "/kyborg_antispoof.bpf.o"
#define COUNTERS KYBORG_BPF_DIR "/kyborg_counters.bpf.o"

static char dev[16], peer[16], ns1[16], ns2[16], ns1_path[64], ns2_path[64], net[16];
static char *tmp, state_dir[512], ipam_dir[512], pins[256];

static void pod_netns(char *name, char *path)
{
	cr_assert_eq(kyt_netns_add(name, 16), 0);
	kyt_netns_path(name, path, 64);
	/* IPv4 only, so that the pods send nothing but what a test sends:
	 * counters then count exactly. */
	cr_assert_eq(kyt_run(NULL, "ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
			     "net.ipv6.conf.default.disable_ipv6=1", NULL), 0);
}

static void setup(void)
{
	cr_assert_eq(kyt_private_netns(), 0, "needs root");
	struct statfs s;
	if (statfs("/sys/fs/bpf", &s) < 0 || (unsigned long)s.f_type != 0xcafe4a11UL)
		cr_assert_eq(mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL), 0, "mount bpffs: %s", strerror(errno));
	cr_assert_eq(kyt_veth_add(dev, peer, sizeof(dev)), 0);
	pod_netns(ns1, ns1_path);
	pod_netns(ns2, ns2_path);
	kyt_unique_name(net, sizeof(net), "kybpf");
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/kyborg/%s", net);
	kyt_cni_scratch("kybpf", &tmp, state_dir, ipam_dir, sizeof(state_dir));
}

static void teardown(void)
{
	kyt_netns_del(ns1);
	kyt_netns_del(ns2);
	ns1[0] = ns2[0] = '\0';
	kyt_cni_scratch_free(&tmp);
	kyt_rmrf(pins);
	/* Where libbpf would pin kyborg_pinned.bpf.o's map by default. */
	unlink("/sys/fs/bpf/kyt_pinned_map");
}

TestSuite(cni_bpf, .init = setup, .fini = teardown, .timeout = 120);

/* Criterion runs no .fini for a test that skips itself: tear down first,
 * or the skipped test leaves its namespaces behind. */
#define skip_test(...) \
	do { \
		teardown(); \
		cr_skip_test(__VA_ARGS__); \
	} while (0)

/* A config for device on 10.<subnet>.0.0/24 with `bpf` and `offload`
 * arrays (JSON text, or NULL). */
static char *conf_for(const char *device, int subnet, const char *bpf, const char *offload)
{
	char *s = NULL;
	cr_assert_geq(asprintf(&s,
			       "{\"cniVersion\":\"1.1.0\",\"name\":\"%s\",\"type\":\"kyborg\",\"device\":\"%s\","
			       "\"stateDir\":\"%s\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"%s\","
			       "\"ranges\":[[{\"subnet\":\"10.%d.0.0/24\"}]]}%s%s%s%s}",
			       net, device, state_dir, ipam_dir, subnet, bpf ? ",\"bpf\":" : "", bpf ? bpf : "",
			       offload ? ",\"offload\":" : "", offload ? offload : ""),
		      0);
	return s;
}

static int cni(const char *cmd, const char *cid, const char *netns, const char *conf, cJSON **out)
{
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = cmd, .container_id = cid, .netns = netns,
				  .ifname = "net1", .path = CNI_PATH, .conf = conf };
	return kyt_cni_run(&c, out);
}

static const char *msg_of(const cJSON *out)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(out, "msg")) ?: "";
}

static const char *const counters_both =
	"[{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\"},"
	"{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_egress\",\"attach\":\"tc-egress\"}]";
static const char *const antispoof = "[{\"object\":\"" ANTISPOOF "\",\"program\":\"kyborg_antispoof\","
				     "\"attach\":\"tc-egress\"}]";

static char *pin_path(const char *cid, const char *obj, const char *name)
{
	char *p = NULL;
	cr_assert_geq(asprintf(&p, "%s/%s/net1/%s/%s", pins, cid, obj, name), 0);
	return p;
}

static struct kyborg_counter read_counter(const char *cid, int dir)
{
	_cleanup_free_ char *p = pin_path(cid, "kyborg_counters", "kyborg_counters");
	int fd = bpf_obj_get(p);
	cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
	__u32 key = (__u32)dir;
	struct kyborg_counter c;
	cr_assert_eq(bpf_map_lookup_elem(fd, &key, &c), 0);
	close(fd);
	return c;
}

static __u64 read_drops(const char *cid, int reason)
{
	_cleanup_free_ char *p = pin_path(cid, "kyborg_antispoof", "kyborg_drops");
	int fd = bpf_obj_get(p);
	cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
	__u32 key = (__u32)reason;
	__u64 v = 0;
	cr_assert_eq(bpf_map_lookup_elem(fd, &key, &v), 0);
	close(fd);
	return v;
}

/* The program id behind a pin, 0 when the pin is gone. */
static __u32 pinned_prog_id(const char *cid, const char *obj, const char *prog)
{
	_cleanup_free_ char *p = pin_path(cid, obj, prog);
	return kyt_bpf_pinned_prog_id(p);
}

static void assert_prog_freed(__u32 id)
{
	cr_assert_neq(id, 0);
	cr_assert(kyt_wait_until(kyt_bpf_prog_gone, &id, 5000), "program %u is still loaded", id);
}

/* Filters on a hook of ifname in netns (NULL: the host), as tc prints them. */
static char *filters(const char *netns, const char *ifname, const char *hook)
{
	char *out = NULL;
	if (netns)
		kyt_run(&out, "tc", "-n", netns, "filter", "show", "dev", ifname, hook, NULL);
	else
		kyt_run(&out, "tc", "filter", "show", "dev", ifname, hook, NULL);
	return out ? out : strdup("");
}

static bool dir_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* Two pods on one veth pair, pod1 (dev, 10.<subnet>.0.2) and pod2 (peer,
 * 10.<subnet>.0.3), each with the given programs, and static neighbours so
 * that no ARP adds to the counts. */
static void two_pods(int subnet, const char *bpf1, const char *bpf2, char **conf1, char **conf2)
{
	*conf1 = conf_for(dev, subnet, bpf1, NULL);
	*conf2 = conf_for(peer, subnet, bpf2, NULL);
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", "pod1", ns1_path, *conf1, &out), 0, "%s", msg_of(out));
	cJSON_Delete(out);
	cr_assert_eq(cni("ADD", "pod2", ns2_path, *conf2, &out), 0, "%s", msg_of(out));
	cJSON_Delete(out);
	struct kyt_ip_link l1, l2;
	cr_assert(kyt_ip_link(ns1, "net1", &l1));
	cr_assert(kyt_ip_link(ns2, "net1", &l2));
	char a2[32], a3[32];
	snprintf(a2, sizeof(a2), "10.%d.0.2", subnet);
	snprintf(a3, sizeof(a3), "10.%d.0.3", subnet);
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns1, "neigh", "replace", a3, "lladdr", l2.address, "dev", "net1", "nud",
			     "permanent", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns2, "neigh", "replace", a2, "lladdr", l1.address, "dev", "net1", "nud",
			     "permanent", NULL), 0);
}

static int ping(const char *netns, const char *from, const char *to)
{
	if (from)
		return kyt_run(NULL, "ip", "netns", "exec", netns, "ping", "-q", "-n", "-c", "3", "-i", "0.2", "-W", "1",
			       "-I", from, to, NULL);
	return kyt_run(NULL, "ip", "netns", "exec", netns, "ping", "-q", "-n", "-c", "3", "-i", "0.2", "-W", "1", to,
		       NULL);
}

Test(cni_bpf, counters_count_exactly_the_pings_between_two_pods)
{
	char *c1, *c2;
	two_pods(81, antispoof, counters_both, &c1, &c2);
	struct kyborg_counter in0 = read_counter("pod2", KYBORG_DIR_INGRESS);
	struct kyborg_counter out0 = read_counter("pod2", KYBORG_DIR_EGRESS);
	cr_assert_eq(ping(ns1, NULL, "10.81.0.3"), 0, "pod1 cannot reach pod2 through the programs");
	struct kyborg_counter in1 = read_counter("pod2", KYBORG_DIR_INGRESS);
	struct kyborg_counter out1 = read_counter("pod2", KYBORG_DIR_EGRESS);
	/* 3 echo requests in, 3 replies out; 98 bytes each on the wire:
	 * Ethernet 14 + IPv4 20 + ICMP 8 + ping's 56 bytes. */
	cr_assert_eq(in1.packets - in0.packets, 3);
	cr_assert_eq(in1.bytes - in0.bytes, 3 * 98);
	cr_assert_eq(out1.packets - out0.packets, 3);
	cr_assert_eq(out1.bytes - out0.bytes, 3 * 98);
	cr_assert_eq(read_drops("pod1", KYBORG_DROP_SRC_IPV4) + read_drops("pod1", KYBORG_DROP_SRC_MAC), 0,
		     "the pod's own packets were dropped");
	cr_assert_eq(cni("DEL", "pod1", ns1_path, c1, NULL), 0);
	cr_assert_eq(cni("DEL", "pod2", ns2_path, c2, NULL), 0);
	free(c1);
	free(c2);
}

/* ping resends what the kernel refuses with ENOBUFS (a tc drop), so the
 * number of spoofed packets is counted on the way out instead: the egress
 * counter runs before anti-spoofing on pod1's hook (programs of one hook
 * run in the config's order) and sees every packet the pod sent. */
Test(cni_bpf, a_spoofed_source_address_is_dropped_and_counted)
{
	char *c1, *c2;
	two_pods(82,
		 "[{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_egress\",\"attach\":\"tc-egress\"},"
		 "{\"object\":\"" ANTISPOOF "\",\"program\":\"kyborg_antispoof\",\"attach\":\"tc-egress\"}]",
		 counters_both, &c1, &c2);
	/* An address IPAM never gave the pod: the pod's root can add one. */
	cr_assert_eq(kyt_run(NULL, "ip", "-n", ns1, "addr", "add", "10.82.0.99/24", "dev", "net1", NULL), 0);
	struct kyborg_counter in0 = read_counter("pod2", KYBORG_DIR_INGRESS);
	struct kyborg_counter sent0 = read_counter("pod1", KYBORG_DIR_EGRESS);
	__u64 d0 = read_drops("pod1", KYBORG_DROP_SRC_IPV4);
	cr_assert_neq(ping(ns1, "10.82.0.99", "10.82.0.3"), 0, "the spoofed pings got an answer");
	__u64 sent = read_counter("pod1", KYBORG_DIR_EGRESS).packets - sent0.packets;
	__u64 dropped = read_drops("pod1", KYBORG_DROP_SRC_IPV4) - d0;
	cr_assert_geq(sent, 3);
	cr_assert_eq(dropped, sent, "%llu spoofed packets dropped, %llu sent", (unsigned long long)dropped,
		     (unsigned long long)sent);
	cr_assert_eq(read_counter("pod2", KYBORG_DIR_INGRESS).packets, in0.packets, "a spoofed packet reached pod2");
	cr_assert_eq(read_drops("pod1", KYBORG_DROP_SRC_MAC) + read_drops("pod1", KYBORG_DROP_ARP), 0);
	/* The pod's own address still passes, and nothing of it is dropped. */
	cr_assert_eq(ping(ns1, "10.82.0.2", "10.82.0.3"), 0);
	cr_assert_eq(read_counter("pod2", KYBORG_DIR_INGRESS).packets - in0.packets, 3);
	cr_assert_eq(read_drops("pod1", KYBORG_DROP_SRC_IPV4) - d0, dropped);
	cr_assert_eq(cni("DEL", "pod1", ns1_path, c1, NULL), 0);
	cr_assert_eq(cni("DEL", "pod2", ns2_path, c2, NULL), 0);
	free(c1);
	free(c2);
}

/* Frames a pod's raw socket writes with VLAN tags inside them: python3
 * sends them on an AF_PACKET socket in the pod (a tc drop fails the send,
 * which it ignores). argv: ifname, then frames as "tags:source" where
 * tags is how many 802.1Q/802.1ad tags stand before an IPv4 header. */
static const char send_tagged[] =
	"import socket, struct, sys\n"
	"ifname = sys.argv[1]\n"
	"mac = bytes.fromhex(open('/sys/class/net/%s/address' % ifname).read().strip().replace(':', ''))\n"
	"s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
	"s.bind((ifname, 0))\n"
	"for spec in sys.argv[2:]:\n"
	"    n, src = spec.split(':')\n"
	"    f = b'\\xff' * 6 + mac\n"
	"    for i in range(int(n)):\n"
	"        f += struct.pack('!HH', 0x88a8 if i == 0 and int(n) > 1 else 0x8100, 5)\n"
	"    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20, 0, 0, 64, 17, 0, socket.inet_aton(src),\n"
	"                     socket.inet_aton('10.83.0.3'))\n"
	"    f += b'\\x08\\x00' + ip + bytes(26)\n"
	"    try:\n"
	"        s.send(f)\n"
	"    except OSError:\n"
	"        pass\n";

Test(cni_bpf, a_vlan_tag_in_the_frame_hides_no_forged_source)
{
	char *c1, *c2;
	two_pods(83, "[{\"object\":\"" ANTISPOOF "\",\"program\":\"kyborg_antispoof\",\"attach\":\"tc-egress\"}]", NULL,
		 &c1, &c2);
	__u64 ip0 = read_drops("pod1", KYBORG_DROP_SRC_IPV4), vlan0 = read_drops("pod1", KYBORG_DROP_VLAN);
	/* One tag and two (802.1ad outside 802.1Q) in front of a forged
	 * source, three tags, and one tag in front of the pod's own address. */
	cr_assert_eq(kyt_run(NULL, "ip", "netns", "exec", ns1, "/usr/bin/python3", "-c", send_tagged, "net1",
			     "1:10.83.0.99", "2:10.83.0.99", "3:10.83.0.99", "1:10.83.0.2", NULL),
		     0);
	cr_assert_eq(read_drops("pod1", KYBORG_DROP_SRC_IPV4) - ip0, 2, "a tag hid a forged source");
	cr_assert_eq(read_drops("pod1", KYBORG_DROP_VLAN) - vlan0, 1, "three tags were not dropped");
	cr_assert_eq(read_drops("pod1", KYBORG_DROP_SRC_MAC) + read_drops("pod1", KYBORG_DROP_ARP), 0);
	cr_assert_eq(cni("DEL", "pod1", ns1_path, c1, NULL), 0);
	cr_assert_eq(cni("DEL", "pod2", ns2_path, c2, NULL), 0);
	free(c1);
	free(c2);
}

Test(cni_bpf, xdp_native_and_generic_count_what_arrives)
{
	static const char *const modes[] = { "native", "generic" };
	for (int m = 0; m < 2; m++) {
		char *bpf = NULL, *c1, *c2;
		cr_assert_geq(asprintf(&bpf, "[{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_xdp\","
				       "\"attach\":\"xdp\",\"xdpMode\":\"%s\"}]", modes[m]), 0);
		two_pods(83 + m, NULL, bpf, &c1, &c2);
		char *xdp = NULL;
		kyt_run(&xdp, "ip", "-n", ns2, "link", "show", "dev", "net1", NULL);
		cr_assert(strstr(xdp, m == 0 ? " xdp qdisc" : " xdpgeneric qdisc"), "%s: %s", modes[m], xdp);
		free(xdp);
		char to[32];
		snprintf(to, sizeof(to), "10.%d.0.3", 83 + m);
		struct kyborg_counter in0 = read_counter("pod2", KYBORG_DIR_INGRESS);
		cr_assert_eq(ping(ns1, NULL, to), 0);
		struct kyborg_counter in1 = read_counter("pod2", KYBORG_DIR_INGRESS);
		cr_assert_eq(in1.packets - in0.packets, 3, "%s", modes[m]);
		cr_assert_eq(in1.bytes - in0.bytes, 3 * 98, "%s", modes[m]);
		__u32 id = pinned_prog_id("pod2", "kyborg_counters", "kyborg_count_xdp");
		cr_assert_eq(cni("DEL", "pod1", ns1_path, c1, NULL), 0);
		cr_assert_eq(cni("DEL", "pod2", ns2_path, c2, NULL), 0);
		assert_prog_freed(id);
		free(c1);
		free(c2);
		free(bpf);
	}
}

Test(cni_bpf, add_again_stacks_no_second_copy)
{
	char *conf = conf_for(dev, 85, counters_both, NULL);
	cr_assert_eq(cni("ADD", "pod1", ns1_path, conf, NULL), 0);
	char *eg = filters(ns1, "net1", "egress"), *in = filters(ns1, "net1", "ingress");
	__u32 id = pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_egress");
	cr_assert_eq(cni("ADD", "pod1", ns1_path, conf, NULL), 0);
	char *eg2 = filters(ns1, "net1", "egress"), *in2 = filters(ns1, "net1", "ingress");
	cr_assert_str_eq(eg2, eg);
	cr_assert_str_eq(in2, in);
	cr_assert_eq(pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_egress"), id);
	cr_assert_eq(cni("DEL", "pod1", ns1_path, conf, NULL), 0);
	free(eg);
	free(in);
	free(eg2);
	free(in2);
	free(conf);
}

Test(cni_bpf, check_names_the_program_someone_detached)
{
	char *conf = conf_for(dev, 86, counters_both, NULL), *chk = NULL;
	cJSON *res = NULL, *out = NULL;
	cr_assert_eq(cni("ADD", "pod1", ns1_path, conf, &res), 0);
	char *prev = cJSON_PrintUnformatted(res);
	cr_assert_geq(asprintf(&chk, "%.*s,\"prevResult\":%s}", (int)strlen(conf) - 1, conf, prev), 0);
	cr_assert_eq(cni("CHECK", "pod1", ns1_path, chk, &out), 0, "%s", msg_of(out));
	/* Someone removes every filter from the egress hook. */
	cr_assert_eq(kyt_run(NULL, "tc", "-n", ns1, "filter", "del", "dev", "net1", "egress", NULL), 0);
	cr_assert_neq(cni("CHECK", "pod1", ns1_path, chk, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 104);
	cr_assert(strstr(msg_of(out), "bpf[1]") && strstr(msg_of(out), "kyborg_count_egress"), "%s", msg_of(out));
	cJSON_Delete(out);
	cr_assert_eq(cni("DEL", "pod1", ns1_path, conf, NULL), 0);
	cJSON_Delete(res);
	free(prev);
	free(chk);
	free(conf);
}

Test(cni_bpf, del_leaves_no_program_pin_or_filter)
{
	char *conf = conf_for(dev, 87, counters_both, NULL);
	cr_assert_eq(cni("ADD", "pod1", ns1_path, conf, NULL), 0);
	__u32 in = pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_ingress");
	__u32 eg = pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_egress");
	cr_assert_eq(cni("DEL", "pod1", ns1_path, conf, NULL), 0);
	assert_prog_freed(in);
	assert_prog_freed(eg);
	cr_assert_not(dir_exists(pins), "pins left under %s", pins);
	char *f = filters(NULL, dev, "egress"), *qd = NULL;
	cr_assert_str_empty(f, "%s", f);
	free(f);
	kyt_run(&qd, "tc", "qdisc", "show", "dev", dev, NULL);
	cr_assert_null(strstr(qd, "clsact"), "%s", qd);
	free(qd);
	free(conf);
}

Test(cni_bpf, del_after_the_netns_is_gone_unpins)
{
	char *conf = conf_for(dev, 88, counters_both, NULL);
	cr_assert_eq(cni("ADD", "pod1", ns1_path, conf, NULL), 0);
	__u32 id = pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_ingress");
	kyt_netns_del(ns1);
	cr_assert_eq(cni("DEL", "pod1", ns1_path, conf, NULL), 0);
	cr_assert_not(dir_exists(pins), "pins left under %s", pins);
	assert_prog_freed(id);
	free(conf);
}

/* A plugin killed (KYBORG_FAULT) between its two attaches, or right after
 * both: the record names every program before the first attach, and DEL
 * takes away whatever of them is there. */
Test(cni_bpf, killed_while_attaching_then_del_leaves_nothing)
{
	static const char *const faults[] = { "bpf-attached-0", "add-after-bpf" };
	for (int f = 0; f < 2; f++) {
		char *before = kyt_node_snapshot(state_dir, ipam_dir);
		char *conf = conf_for(dev, 92, counters_both, NULL);
		struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "ADD", .container_id = "pod1",
					  .netns = ns1_path, .ifname = "net1", .path = CNI_PATH, .conf = conf,
					  .fault = faults[f] };
		cr_assert_neq(kyt_cni_run(&c, NULL), 0, "%s did not kill the plugin", faults[f]);
		__u32 in = pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_ingress");
		__u32 eg = pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_egress");
		char *f_in = filters(ns1, "net1", "ingress"), *f_eg = filters(ns1, "net1", "egress");
		cr_assert(strstr(f_in, "kyborg_count_in"), "%s: %s", faults[f], f_in);
		cr_assert((strstr(f_eg, "kyborg_count_eg") != NULL) == (f == 1), "%s: %s", faults[f], f_eg);
		free(f_in);
		free(f_eg);
		cr_assert_eq(cni("DEL", "pod1", ns1_path, conf, NULL), 0);
		assert_prog_freed(in);
		assert_prog_freed(eg);
		cr_assert_not(dir_exists(pins), "%s: pins left under %s", faults[f], pins);
		char *after = kyt_node_snapshot(state_dir, ipam_dir);
		cr_assert_str_eq(after, before, "the node changed:\n--- before\n%s--- after\n%s", before, after);
		free(after);
		free(conf);
		free(before);
	}
}

/* XDP, unlike tc's qdiscs, stays on a device that leaves a netns: a device
 * found back in the host (moved out of a pod netns that still exists, or
 * whose pod netns died) loses our program there, and DEL does not trip over
 * the tc hook it no longer finds in the pod. */
Test(cni_bpf, del_takes_xdp_off_a_device_back_in_the_host)
{
	char *conf = conf_for(dev, 93,
			      "[{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\"},"
			      "{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_xdp\",\"attach\":\"xdp\","
			      "\"xdpMode\":\"generic\"}]", NULL);
	for (int netns_dies = 0; netns_dies < 2; netns_dies++) {
		cJSON *out = NULL;
		cr_assert_eq(cni("ADD", "pod1", ns1_path, conf, &out), 0, "%s", msg_of(out));
		cJSON_Delete(out);
		__u32 id = pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_xdp");
		char pid[16], *l = NULL;
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		cr_assert_eq(kyt_run(NULL, "ip", "-n", ns1, "link", "set", "net1", "netns", pid, NULL), 0);
		if (netns_dies)
			kyt_netns_del(ns1);
		kyt_run(&l, "ip", "link", "show", "dev", "net1", NULL);
		cr_assert(strstr(l, "xdpgeneric"), "the program left with the netns move: %s", l);
		free(l);
		cr_assert_eq(cni("DEL", "pod1", ns1_path, conf, &out), 0, "%s", msg_of(out));
		l = NULL;
		kyt_run(&l, "ip", "link", "show", "dev", dev, NULL);
		cr_assert(l && strstr(l, dev) && !strstr(l, "xdp"), "%s", l ? l : "(device gone)");
		free(l);
		assert_prog_freed(id);
		cr_assert_not(dir_exists(pins), "pins left under %s", pins);
	}
	free(conf);
}

/* GC of an attachment no longer valid takes its programs and pins away and
 * leaves the valid one's. */
Test(cni_bpf, gc_removes_the_programs_of_attachments_not_listed_as_valid)
{
	char *c1 = conf_for(dev, 94, counters_both, NULL), *c2 = conf_for(peer, 94, counters_both, NULL), *gc = NULL;
	cr_assert_eq(cni("ADD", "pod1", ns1_path, c1, NULL), 0);
	cr_assert_eq(cni("ADD", "pod2", ns2_path, c2, NULL), 0);
	__u32 stale = pinned_prog_id("pod2", "kyborg_counters", "kyborg_count_ingress");
	__u32 kept = pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_ingress");
	cr_assert_geq(asprintf(&gc, "%.*s,\"cni.dev/valid-attachments\":[{\"containerID\":\"pod1\",\"ifname\":\"net1\"}]}",
			       (int)strlen(c1) - 1, c1), 0);
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "GC", .path = CNI_PATH, .conf = gc };
	cJSON *out = NULL;
	cr_assert_eq(kyt_cni_run(&c, &out), 0, "%s", msg_of(out));
	assert_prog_freed(stale);
	_cleanup_free_ char *p2 = NULL;
	cr_assert_geq(asprintf(&p2, "%s/pod2", pins), 0);
	cr_assert_not(dir_exists(p2), "the stale attachment's pins are left");
	cr_assert_eq(pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_ingress"), kept);
	char *f = filters(ns1, "net1", "ingress");
	cr_assert(strstr(f, "kyborg_count_in"), "the valid attachment lost its program: %s", f);
	free(f);
	cr_assert_eq(cni("DEL", "pod1", ns1_path, c1, NULL), 0);
	cr_assert_not(dir_exists(pins), "pins left under %s", pins);
	free(gc);
	free(c1);
	free(c2);
}

/* What a failed ADD must leave: the node as it was, no pins, no program. */
static void assert_rolled_back(const char *before, const char *conf, const char *want1, const char *want2)
{
	cJSON *out = NULL;
	cr_assert_neq(cni("ADD", "pod1", ns1_path, conf, &out), 0);
	cr_assert(strstr(msg_of(out), want1) && strstr(msg_of(out), want2), "%s", msg_of(out));
	cJSON_Delete(out);
	char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before, "the node changed:\n--- before\n%s--- after\n%s", before, after);
	free(after);
	cr_assert_not(dir_exists(pins), "pins left under %s", pins);
	char *qd = NULL;
	kyt_run(&qd, "tc", "qdisc", "show", "dev", dev, NULL);
	cr_assert_null(strstr(qd, "clsact"), "%s", qd);
	free(qd);
}

Test(cni_bpf, a_program_the_verifier_refuses_rolls_back_the_ones_before_it)
{
	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	char *conf = conf_for(dev, 89,
			      "[{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\"},"
			      "{\"object\":\"" KYBORG_TEST_BPF_DIR "/kyborg_bad.bpf.o\",\"program\":\"kyborg_unchecked_read\","
			      "\"attach\":\"tc-egress\"}]",
			      NULL);
	assert_rolled_back(before, conf, "bpf[1]", "invalid access to packet");
	free(conf);
	free(before);
}

Test(cni_bpf, an_object_that_does_not_exist_changes_nothing)
{
	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	char *conf = conf_for(dev, 90,
			      "[{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\"},"
			      "{\"object\":\"" KYBORG_BPF_DIR "/kyborg_none.bpf.o\",\"program\":\"x\",\"attach\":\"tc-egress\"}]",
			      NULL);
	assert_rolled_back(before, conf, "bpf[1].object", "No such file");
	free(conf);
	free(before);
}

/* Issue 14 (high): bpf[].object took any absolute path. An object is
 * loaded only from a directory the node allows (KYBORG_BPF_OBJECT_DIRS in
 * the plugin's environment, here tmp/allowed), opened without following a
 * symlink, and only when the file and its directory are root's and not
 * writable by group or others. Each is refused before ADD changes
 * anything, code 7 naming the entry. */
Test(cni_bpf, objects_only_from_where_the_node_allows_them)
{
	char allowed[600], other[600], env_dirs[700];
	snprintf(allowed, sizeof(allowed), "%s/allowed", tmp);
	snprintf(other, sizeof(other), "%s/other", tmp);
	snprintf(env_dirs, sizeof(env_dirs), "KYBORG_BPF_OBJECT_DIRS=%s", allowed);
	cr_assert_eq(mkdir(allowed, 0755), 0);
	cr_assert_eq(mkdir(other, 0755), 0);
	char copy_out[700], link_in[700], gw_in[700], ok_in[700];
	snprintf(copy_out, sizeof(copy_out), "%s/kyborg_elsewhere.bpf.o", other);
	snprintf(link_in, sizeof(link_in), "%s/kyborg_linked.bpf.o", allowed);
	snprintf(gw_in, sizeof(gw_in), "%s/kyborg_shared.bpf.o", allowed);
	snprintf(ok_in, sizeof(ok_in), "%s/kyborg_mine.bpf.o", allowed);
	cr_assert_eq(kyt_run(NULL, "cp", COUNTERS, copy_out, NULL), 0);
	cr_assert_eq(symlink(COUNTERS, link_in), 0);
	cr_assert_eq(kyt_run(NULL, "cp", COUNTERS, gw_in, NULL), 0);
	cr_assert_eq(chmod(gw_in, 0664), 0);
	cr_assert_eq(kyt_run(NULL, "cp", COUNTERS, ok_in, NULL), 0);
	cr_assert_eq(chmod(ok_in, 0644), 0);
	const struct {
		const char *object, *why;
	} bad[] = {
		{ copy_out, "not in a directory the node allows" },
		{ link_in, "symbolic link" },
		{ gw_in, "not writable by group or others" },
	};
	const char *const env[] = { env_dirs, NULL };
	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	for (size_t i = 0; i < 3; i++) {
		char *bpf = NULL;
		cr_assert_geq(asprintf(&bpf, "[{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_ingress\","
					     "\"attach\":\"tc-ingress\"},{\"object\":\"%s\",\"program\":"
					     "\"kyborg_count_egress\",\"attach\":\"tc-egress\"}]",
				      bad[i].object),
			      0);
		char *conf = conf_for(dev, 97, bpf, NULL);
		/* COUNTERS itself is allowed too in this run: only bpf[1] is bad. */
		char both[1500];
		snprintf(both, sizeof(both), "%s:" KYBORG_BPF_DIR, env_dirs);
		const char *const env2[] = { both, NULL };
		struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "ADD", .container_id = "pod1",
					  .netns = ns1_path, .ifname = "net1", .path = CNI_PATH, .conf = conf, .env = env2 };
		cJSON *out = NULL;
		int rc = kyt_cni_run(&c, &out);
		cr_expect_eq(rc, 1, "%s was loaded", bad[i].object);
		if (rc == 0) {
			c.command = "DEL";
			kyt_cni_run(&c, NULL);
		} else {
			cr_expect_eq(kyt_cni_code(out), 7, "%s", msg_of(out));
			cr_expect(strstr(msg_of(out), "bpf[1].object") && strstr(msg_of(out), bad[i].why), "%s",
				  msg_of(out));
		}
		char *after = kyt_node_snapshot(state_dir, ipam_dir);
		cr_expect_str_eq(after, before, "%s: the node changed", bad[i].object);
		cr_expect_not(dir_exists(pins), "pins left under %s", pins);
		cJSON_Delete(out);
		free(after);
		free(conf);
		free(bpf);
	}
	/* A private copy in the allowed directory is loaded. */
	char *bpf = NULL;
	cr_assert_geq(asprintf(&bpf, "[{\"object\":\"%s\",\"program\":\"kyborg_count_egress\",\"attach\":"
				     "\"tc-egress\"}]", ok_in),
		      0);
	char *conf = conf_for(dev, 97, bpf, NULL);
	struct kyt_cni_call c = { .bin = KYBORG_CNI_BIN, .command = "ADD", .container_id = "pod1", .netns = ns1_path,
				  .ifname = "net1", .path = CNI_PATH, .conf = conf, .env = env };
	cJSON *out = NULL;
	cr_assert_eq(kyt_cni_run(&c, &out), 0, "%s", msg_of(out));
	c.command = "DEL";
	cr_assert_eq(kyt_cni_run(&c, NULL), 0);
	cJSON_Delete(out);
	free(conf);
	free(bpf);
	free(before);
}

/* Issue 14 (high): a map declared LIBBPF_PIN_BY_NAME was pinned by libbpf
 * at /sys/fs/bpf/<name> (or another component's map pinned there reused)
 * and DEL left it. It is pinned inside the attachment's pin directory now,
 * and DEL leaves nothing under /sys/fs/bpf. */
#define PINNED_AT_ROOT "/sys/fs/bpf/kyt_pinned_map"
Test(cni_bpf, a_map_pinned_by_name_stays_in_the_attachments_directory)
{
	char *conf = conf_for(dev, 98,
			      "[{\"object\":\"" KYBORG_TEST_BPF_DIR "/kyborg_pinned.bpf.o\",\"program\":"
			      "\"kyborg_count_pinned\",\"attach\":\"tc-egress\"}]",
			      NULL);
	cJSON *out = NULL;
	cr_assert_eq(cni("ADD", "pod1", ns1_path, conf, &out), 0, "%s", msg_of(out));
	char *map = pin_path("pod1", "kyborg_pinned", "kyt_pinned_map");
	cr_expect(dir_exists(map), "the map is not pinned at %s", map);
	cr_expect_not(dir_exists(PINNED_AT_ROOT), "the map is pinned at " PINNED_AT_ROOT);
	cr_assert_eq(cni("DEL", "pod1", ns1_path, conf, NULL), 0);
	cr_expect_not(dir_exists(PINNED_AT_ROOT), "DEL left " PINNED_AT_ROOT);
	cr_expect_not(dir_exists(pins), "DEL left %s", pins);
	cJSON_Delete(out);
	free(map);
	free(conf);
}

/* hw on tc programs of a device without offload (a veth): "never" attaches
 * with skip_hw, no "hw" with no flag (the kernel marks it not_in_hw), both
 * checked and removed like any program. */
Test(cni_bpf, hw_never_and_no_hw_attach_with_their_flag_check_and_del_clean)
{
	char *conf = conf_for(dev, 95,
			      "[{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\","
			      "\"hw\":\"never\"},"
			      "{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_egress\",\"attach\":\"tc-egress\"}]",
			      NULL),
	     *chk = NULL;
	cJSON *res = NULL, *out = NULL;
	cr_assert_eq(cni("ADD", "pod1", ns1_path, conf, &res), 0, "%s", msg_of(res));
	char *in = filters(ns1, "net1", "ingress"), *eg = filters(ns1, "net1", "egress");
	cr_assert(strstr(in, "kyborg_count_ingress") && strstr(in, "skip_hw") && strstr(in, "direct-action"), "%s", in);
	cr_assert(strstr(eg, "kyborg_count_eg") && strstr(eg, "not_in_hw") && !strstr(eg, "skip_"), "%s", eg);
	free(in);
	free(eg);
	char *prev = cJSON_PrintUnformatted(res);
	cr_assert_geq(asprintf(&chk, "%.*s,\"prevResult\":%s}", (int)strlen(conf) - 1, conf, prev), 0);
	cr_assert_eq(cni("CHECK", "pod1", ns1_path, chk, &out), 0, "%s", msg_of(out));
	__u32 ids[2] = { pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_ingress"),
			 pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_egress") };
	cr_assert_eq(cni("DEL", "pod1", ns1_path, conf, NULL), 0);
	assert_prog_freed(ids[0]);
	assert_prog_freed(ids[1]);
	cr_assert_not(dir_exists(pins), "pins left under %s", pins);
	char *qd = NULL;
	kyt_run(&qd, "tc", "qdisc", "show", "dev", dev, NULL);
	cr_assert_null(strstr(qd, "clsact"), "%s", qd);
	free(qd);
	cJSON_Delete(res);
	cJSON_Delete(out);
	free(prev);
	free(chk);
	free(conf);
}

/* hw: required on a device that has no BPF offload (a veth): the program
 * cannot even be loaded for it; ADD fails naming the entry, and the entry
 * before it, the address and the record go. (The kernel tier proves the
 * same with a netdevsim port whose tc offload is off, and the success.) */
Test(cni_bpf, hw_required_on_a_veth_fails_naming_the_entry_and_rolls_back)
{
	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	char *conf = conf_for(dev, 96,
			      "[{\"object\":\"" ANTISPOOF "\",\"program\":\"kyborg_antispoof\",\"attach\":\"tc-egress\"},"
			      "{\"object\":\"" COUNTERS "\",\"program\":\"kyborg_count_ingress\",\"attach\":\"tc-ingress\","
			      "\"hw\":\"required\"}]",
			      NULL);
	assert_rolled_back(before, conf, "bpf[1]", "hardware");
	free(conf);
	free(before);
}

/* Whether the kernel has cls_flower: a rule tried on the host end of the
 * test's veth pair (in the test's private netns), then removed. */
static bool kernel_has_flower(void)
{
	if (kyt_run(NULL, "tc", "qdisc", "add", "dev", peer, "clsact", NULL) != 0)
		return false;
	bool ok = kyt_run(NULL, "tc", "filter", "add", "dev", peer, "ingress", "protocol", "all", "flower", "action",
			  "pass", NULL) == 0;
	kyt_run(NULL, "tc", "qdisc", "del", "dev", peer, "clsact", NULL);
	return ok;
}

static const char *const drop_web =
	"[{\"direction\":\"ingress\",\"match\":{\"proto\":\"ip\",\"dst\":\"10.91.0.0/24\","
	"\"ipProto\":\"tcp\",\"dstPort\":80},\"action\":\"drop\",\"hw\":\"never\"}]";

/* The build machines' kernel: the rule fails, naming itself, and the
 * programs attached before it go. (The kernel tier runs the next test.) */
Test(cni_bpf, an_offload_rule_without_flower_fails_clearly_and_leaves_nothing)
{
	if (kernel_has_flower())
		skip_test("this kernel has cls_flower");
	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	char *conf = conf_for(dev, 91, counters_both, drop_web);
	cJSON *out = NULL;
	cr_assert_neq(cni("ADD", "pod1", ns1_path, conf, &out), 0);
	cr_assert(strstr(msg_of(out), "offload[0]") && strstr(msg_of(out), "no flower classifier"), "%s", msg_of(out));
	cJSON_Delete(out);
	char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before, "the node changed:\n--- before\n%s--- after\n%s", before, after);
	free(after);
	cr_assert_not(dir_exists(pins), "pins left under %s", pins);
	char *qd = NULL;
	kyt_run(&qd, "tc", "qdisc", "show", "dev", dev, NULL);
	cr_assert_null(strstr(qd, "clsact"), "%s", qd);
	free(qd);
	free(conf);
	free(before);
}

/* Where the kernel has cls_flower (the kernel tier's): the rule is added
 * beside the programs, CHECK names it once someone removed it, DEL leaves
 * nothing; a rule required in hardware on a veth fails and rolls back. */
Test(cni_bpf, offload_rules_are_added_checked_and_removed_where_the_kernel_has_flower)
{
	if (!kernel_has_flower())
		skip_test("this kernel has no cls_flower");
	char *conf = conf_for(dev, 91, antispoof, drop_web), *chk = NULL;
	cJSON *res = NULL, *out = NULL;
	cr_assert_eq(cni("ADD", "pod1", ns1_path, conf, &res), 0, "%s", msg_of(res));
	char *f = filters(ns1, "net1", "ingress");
	cr_assert(strstr(f, "flower") && strstr(f, "dst_port 80") && strstr(f, "skip_hw"), "%s", f);
	free(f);
	char *prev = cJSON_PrintUnformatted(res);
	cr_assert_geq(asprintf(&chk, "%.*s,\"prevResult\":%s}", (int)strlen(conf) - 1, conf, prev), 0);
	cr_assert_eq(cni("CHECK", "pod1", ns1_path, chk, &out), 0, "%s", msg_of(out));
	cr_assert_eq(kyt_run(NULL, "tc", "-n", ns1, "filter", "del", "dev", "net1", "ingress", NULL), 0);
	cr_assert_neq(cni("CHECK", "pod1", ns1_path, chk, &out), 0);
	cr_assert_eq(kyt_cni_code(out), 104);
	cr_assert(strstr(msg_of(out), "offload[0]"), "%s", msg_of(out));
	cJSON_Delete(out);
	cr_assert_eq(cni("DEL", "pod1", ns1_path, conf, NULL), 0);
	cr_assert_not(dir_exists(pins), "pins left under %s", pins);
	char *qd = NULL;
	kyt_run(&qd, "tc", "qdisc", "show", "dev", dev, NULL);
	cr_assert_null(strstr(qd, "clsact"), "%s", qd);
	free(qd);

	char *before = kyt_node_snapshot(state_dir, ipam_dir);
	char *req = conf_for(dev, 91, antispoof,
			     "[{\"direction\":\"egress\",\"action\":\"drop\",\"hw\":\"required\"}]");
	cr_assert_neq(cni("ADD", "pod1", ns1_path, req, &out), 0, "a veth put a rule in hardware");
	cr_assert(strstr(msg_of(out), "offload[0]") && strstr(msg_of(out), "hardware"), "%s", msg_of(out));
	cJSON_Delete(out);
	char *after = kyt_node_snapshot(state_dir, ipam_dir);
	cr_assert_str_eq(after, before, "the node changed:\n--- before\n%s--- after\n%s", before, after);
	free(after);
	cr_assert_not(dir_exists(pins), "pins left under %s", pins);
	free(before);
	free(req);
	cJSON_Delete(res);
	free(prev);
	free(chk);
	free(conf);
}

/* A conflist: Debian's host-device moves the device into the pod, then
 * kyborg, chained, puts programs on it and passes the result through. Its
 * DEL takes away its own filters only. */
Test(cni_bpf, chained_after_host_device_leaves_others_filters_alone)
{
	char *hd = NULL;
	cr_assert_geq(asprintf(&hd, "{\"cniVersion\":\"1.0.0\",\"name\":\"%s\",\"type\":\"host-device\",\"device\":\"%s\"}",
			       net, dev), 0);
	struct kyt_cni_call c = { .bin = CNI_PATH "/host-device", .command = "ADD", .container_id = "pod1",
				  .netns = ns1_path, .ifname = "net1", .path = CNI_PATH, .conf = hd };
	cJSON *prev = NULL, *out = NULL;
	cr_assert_eq(kyt_cni_run(&c, &prev), 0, "host-device ADD");
	char *prev_s = cJSON_PrintUnformatted(prev), *conf = NULL;
	cr_assert_geq(asprintf(&conf, "{\"cniVersion\":\"1.0.0\",\"name\":\"%s\",\"type\":\"kyborg\",\"stateDir\":\"%s\","
			       "\"bpf\":%s,\"prevResult\":%s}", net, state_dir, counters_both, prev_s), 0);
	/* Someone else's clsact and filter on the same hook, there first. */
	cr_assert_eq(kyt_run(NULL, "tc", "-n", ns1, "qdisc", "add", "dev", "net1", "clsact", NULL), 0);
	cr_assert_eq(kyt_run(NULL, "tc", "-n", ns1, "filter", "add", "dev", "net1", "egress", "pref", "7", "bpf", "da",
			     "obj", KYBORG_TEST_BPF_DIR "/kyborg_other.bpf.o", "sec", "classifier", NULL), 0);
	/* And a filter of another kind exactly where ours would go first
	 * (0xbf01, the second entry's): a query for a bpf filter there cannot
	 * see it; the plan must still leave that priority alone. */
	cr_assert_eq(kyt_run(NULL, "tc", "-n", ns1, "filter", "add", "dev", "net1", "egress", "pref", "48897", "protocol",
			     "ip", "u32", "match", "u32", "0", "0", NULL), 0);

	cr_assert_eq(cni("ADD", "pod1", ns1_path, conf, &out), 0, "%s", msg_of(out));
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "interfaces"), 0),
								  "name")), "net1", "prevResult passes through");
	cJSON_Delete(out);
	__u32 id = pinned_prog_id("pod1", "kyborg_counters", "kyborg_count_egress");
	char *f = filters(ns1, "net1", "egress");
	cr_assert(strstr(f, "kyborg_someone_") && strstr(f, "kyborg_count_eg"), "%s", f);
	free(f);
	cr_assert_eq(cni("CHECK", "pod1", ns1_path, conf, &out), 0, "%s", msg_of(out));

	cr_assert_eq(cni("DEL", "pod1", ns1_path, conf, NULL), 0);
	assert_prog_freed(id);
	f = filters(ns1, "net1", "egress");
	cr_assert(strstr(f, "kyborg_someone_") && strstr(f, "pref 48897 u32"), "someone else's filter went: %s", f);
	cr_assert_null(strstr(f, "kyborg_count"), "%s", f);
	free(f);
	cr_assert(kyt_ip_link(ns1, "net1", &(struct kyt_ip_link){ 0 }), "chained DEL touched the device");
	cr_assert_not(dir_exists(pins), "pins left under %s", pins);

	c.command = "DEL";
	cr_assert_eq(kyt_cni_run(&c, NULL), 0, "host-device DEL");
	cJSON_Delete(prev);
	free(prev_s);
	free(conf);
	free(hd);
}

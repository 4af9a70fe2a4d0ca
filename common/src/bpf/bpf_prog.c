/* Loading, pinning, attaching and detaching per-interface BPF programs
 * (kyborg/bpf.h), over libbpf loaded with dlopen (bpf_libbpf.h). */
#include "kyborg/bpf/bpf_prog.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/net/netlink.h"
#include "bpf_libbpf.h"
#include "kyborg/bpf/kyborg_pod.h"
#include "kyborg/net/tc_bpf.h"
#include "kyborg/net/tc_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

const char *const ky_bpf_hook_names[] = { "tc-ingress", "tc-egress", "xdp", NULL };
const char *const ky_bpf_xdp_mode_names[] = { "native", "generic", "offload", NULL };
const char *const ky_bpf_hw_names[] = { "required", "preferred", "never", NULL };

struct ky_bpf_obj {
	const struct ky_libbpf *lib;
	struct bpf_object *obj;
	char *path;
};

int ky_bpf_available(struct ky_error **err)
{
	const struct ky_libbpf *lib;
	return ky_libbpf_get(&lib, err);
}

int ky_bpf_fs_check(const char *path, struct ky_error **err)
{
	struct statfs s;
	if (statfs(path, &s) < 0)
		return ky_error_set(err, errno, "%s: %s (is bpffs mounted?)", path, strerror(errno));
	if ((unsigned long)s.f_type != BPF_FS_MAGIC)
		return ky_error_set(err, ENOENT, "%s is not a bpffs mount (mount -t bpf bpf %s)", path, path);
	return 0;
}

int ky_bpf_object_name(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 6 && strcmp(base + n - 6, ".bpf.o") == 0)
		n -= 6;
	else if (n > 2 && strcmp(base + n - 2, ".o") == 0)
		n -= 2;
	if (n == 0 || n > 64 || n >= size)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = base[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-'))
			return -EINVAL;
	}
	memcpy(out, base, n);
	out[n] = '\0';
	return 0;
}

void ky_bpf_obj_free(struct ky_bpf_obj *o)
{
	if (!o)
		return;
	if (o->obj)
		o->lib->bpf_object__close(o->obj);
	free(o->path);
	free(o);
}

/* The directory part of path when it is exactly one of dirs, else NULL. */
static const char *allowed_dir(const char *path, char *const *dirs)
{
	const char *slash = strrchr(path, '/');
	if (!slash || path[0] != '/')
		return NULL;
	size_t n = (size_t)(slash - path);
	for (size_t i = 0; dirs[i]; i++) {
		size_t m = strlen(dirs[i]);
		while (m > 1 && dirs[i][m - 1] == '/')
			m--;
		if (m == n && strncmp(dirs[i], path, n) == 0)
			return dirs[i];
	}
	return NULL;
}

static const char *untrusted_why(const struct stat *st)
{
	static char why[96];
	snprintf(why, sizeof(why), "owned by uid %u with mode %04o: it must be root's and not writable by group or "
		 "others", (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
	return why;
}

int ky_bpf_object_read(const char *path, char *const *dirs, char **buf, size_t *len, struct ky_error **err)
{
	const char *base = strrchr(path, '/');
	if (!base || path[0] != '/')
		return ky_error_set(err, EINVAL, "%s: not an absolute path", path);
	base++;
	_cleanup_free_ char *dir = strndup(path, (size_t)(base - 1 - path));
	if (!dir)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (dirs && !allowed_dir(path, dirs)) {
		char list[512] = "";
		for (size_t i = 0, o = 0; dirs[i] && o < sizeof(list); i++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ":" : "", dirs[i]);
		return ky_error_set(err, EPERM, "%s is not in a directory the node allows for BPF objects (%s)", path,
				    list[0] ? list : "none");
	}
	struct stat st;
	_cleanup_close_ int dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0)
		return ky_error_set(err, errno, "%s: %s", dir[0] ? dir : "/", strerror(errno));
	if (dirs && !ky_stat_trusted(&st))
		return ky_error_set(err, EPERM, "%s: its directory is %s", path, untrusted_why(&st));
	_cleanup_close_ int fd = ky_open_regular_at(dfd, base, &st);
	if (fd < 0)
		return ky_error_set(err, -fd, "%s: %s", path, fd == -ELOOP ? "a symbolic link, not the object itself" :
							     fd == -EINVAL ? "not a regular file" : strerror(-fd));
	if (dirs && !ky_stat_trusted(&st))
		return ky_error_set(err, EPERM, "%s: %s", path, untrusted_why(&st));
	if (!buf)
		return 0;
	int r = ky_read_all(fd, KY_BPF_OBJECT_MAX, buf, len);
	if (r < 0)
		return ky_error_set(err, -r, "read %s: %s", path, strerror(-r));
	return 0;
}

int ky_bpf_obj_load(const char *path, const struct ky_bpf_load *opts, struct ky_bpf_obj **out,
		    struct ky_error **err)
{
	const struct ky_libbpf *lib;
	int r = ky_libbpf_get(&lib, err);
	if (r < 0)
		return r;
	_cleanup_(ky_bpf_obj_freep) struct ky_bpf_obj *o = calloc(1, sizeof(*o));
	if (!o || !(o->path = strdup(path)))
		return ky_error_set(err, ENOMEM, "allocate BPF object");
	o->lib = lib;
	/* libbpf is handed the bytes checked, not a path it would open again. */
	_cleanup_free_ char *bytes = NULL;
	size_t len = 0;
	if ((r = ky_bpf_object_read(path, opts->dirs, &bytes, &len, err)) < 0)
		return r;
	ky_libbpf_log_reset();
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = path, .pin_root_path = opts->pin_dir);
	o->obj = lib->bpf_object__open_mem(bytes, len, &oo);
	if (!o->obj) {
		int e = errno ? errno : EINVAL;
		return ky_error_set(err, e, "open BPF object %s: %s", path, strerror(e));
	}
	struct bpf_map *m = NULL;
	while ((m = lib->bpf_object__next_map(o->obj, m))) {
		const char *pin = lib->bpf_map__pin_path(m);
		size_t pn = opts->pin_dir ? strlen(opts->pin_dir) : 0;
		if (pin && (!opts->pin_dir || strncmp(pin, opts->pin_dir, pn) != 0 || pin[pn] != '/'))
			return ky_error_set(err, EPERM, "BPF object %s: map %s is pinned at %s, outside %s", path,
					    lib->bpf_map__name(m), pin, opts->pin_dir ? opts->pin_dir : "any pin directory");
		/* An offloaded program reaches only maps that live on its device. */
		if (opts->offload_ifindex > 0)
			lib->bpf_map__set_ifindex(m, (__u32)opts->offload_ifindex);
	}
	struct bpf_program *p = NULL;
	while ((p = lib->bpf_object__next_program(o->obj, p))) {
		bool wanted = false;
		for (size_t i = 0; i < opts->n && !wanted; i++)
			wanted = strcmp(lib->bpf_program__name(p), opts->programs[i]) == 0;
		lib->bpf_program__set_autoload(p, wanted);
		if (wanted && opts->offload_ifindex > 0)
			lib->bpf_program__set_ifindex(p, (__u32)opts->offload_ifindex);
	}
	for (size_t i = 0; i < opts->n; i++)
		if (!lib->bpf_object__find_program_by_name(o->obj, opts->programs[i]))
			return ky_error_set(err, ENOENT, "BPF object %s has no program %s", path, opts->programs[i]);
	r = lib->bpf_object__load(o->obj);
	if (r < 0) {
		const char *why = ky_libbpf_log_tail();
		return ky_error_set(err, -r, "load BPF object %s: %s%s%s", path, strerror(-r), *why ? ": " : "", why);
	}
	*out = TAKE_PTR(o);
	return 0;
}

int ky_bpf_obj_set_pod(struct ky_bpf_obj *o, const struct ky_bpf_pod *pod, struct ky_error **err)
{
	struct bpf_map *m = o->lib->bpf_object__find_map_by_name(o->obj, KYBORG_POD_MAP);
	if (!m)
		return 0;
	if (o->lib->bpf_map__value_size(m) != sizeof(struct kyborg_pod))
		return ky_error_set(err, EINVAL, "%s: map %s holds %u bytes, struct kyborg_pod %zu", o->path,
				    KYBORG_POD_MAP, o->lib->bpf_map__value_size(m), sizeof(struct kyborg_pod));
	struct kyborg_pod v;
	memset(&v, 0, sizeof(v));
	memcpy(v.mac, pod->mac, 6);
	v.ifindex = (__u32)pod->ifindex;
	for (size_t i = 0; i < pod->n_ips; i++) {
		const struct ky_ip *ip = &pod->ips[i];
		if (ip->family == AF_INET && v.n_ipv4 < KYBORG_POD_MAX_IPV4)
			memcpy(&v.ipv4[v.n_ipv4++], ip->addr, 4);
		else if (ip->family == AF_INET6 && v.n_ipv6 < KYBORG_POD_MAX_IPV6)
			memcpy(v.ipv6[v.n_ipv6++], ip->addr, 16);
	}
	__u32 key = 0;
	int r = o->lib->bpf_map_update_elem(o->lib->bpf_map__fd(m), &key, &v, BPF_ANY);
	if (r < 0)
		return ky_error_set(err, -r, "%s: write map %s: %s", o->path, KYBORG_POD_MAP, strerror(-r));
	return 1;
}

static int pin_one(const struct ky_libbpf *lib, int fd, const char *dir, const char *name, struct ky_error **err)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return ky_error_set(err, ENAMETOOLONG, "pin path under %s too long", dir);
	int r = lib->bpf_obj_pin(fd, path);
	if (r == -EEXIST) {
		/* Left by an ADD whose undo has run since (it unpins first
		 * thing): not anyone else's, as the directory is this pod's. */
		unlink(path);
		r = lib->bpf_obj_pin(fd, path);
	}
	if (r < 0)
		return ky_error_set(err, -r, "pin %s: %s", path, strerror(-r));
	return 0;
}

int ky_bpf_obj_pin(struct ky_bpf_obj *o, const char *dir, struct ky_error **err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return ky_error_set(err, errno, "mkdir %s: %s", dir, strerror(errno));
	const struct ky_libbpf *lib = o->lib;
	int r;
	struct bpf_map *m = NULL;
	while ((m = lib->bpf_object__next_map(o->obj, m))) {
		/* .rodata, .bss and friends are the object's internals. */
		if (lib->bpf_map__name(m)[0] == '.' || strchr(lib->bpf_map__name(m), '.'))
			continue;
		if ((r = pin_one(lib, lib->bpf_map__fd(m), dir, lib->bpf_map__name(m), err)) < 0)
			return r;
	}
	struct bpf_program *p = NULL;
	while ((p = lib->bpf_object__next_program(o->obj, p))) {
		if (!lib->bpf_program__autoload(p))
			continue;
		if ((r = pin_one(lib, lib->bpf_program__fd(p), dir, lib->bpf_program__name(p), err)) < 0)
			return r;
	}
	return 0;
}

/* ---- tc (clsact) and XDP ---- */

static uint32_t xdp_mode_flag(enum ky_bpf_xdp_mode m)
{
	switch (m) {
	case KY_XDP_NATIVE: return XDP_FLAGS_DRV_MODE;
	case KY_XDP_GENERIC: return XDP_FLAGS_SKB_MODE;
	case KY_XDP_OFFLOAD: return XDP_FLAGS_HW_MODE;
	default: return 0;
	}
}

static struct bpf_tc_hook tc_hook(int ifindex, enum bpf_tc_attach_point where)
{
	struct bpf_tc_hook h;
	memset(&h, 0, sizeof(h));
	h.sz = sizeof(h);
	h.ifindex = ifindex;
	h.attach_point = where;
	return h;
}

int ky_bpf_clsact_ensure(int ifindex, bool *created, struct ky_error **err)
{
	const struct ky_libbpf *lib;
	int r = ky_libbpf_get(&lib, err);
	if (r < 0)
		return r;
	struct bpf_tc_hook h = tc_hook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
	r = lib->bpf_tc_hook_create(&h);
	*created = r == 0;
	if (r < 0 && r != -EEXIST)
		return ky_error_set(err, -r, "add clsact qdisc on ifindex %d: %s", ifindex, strerror(-r));
	return 0;
}

static int count_filters(struct nl_sock *sk, int ifindex, uint32_t parent, int *n)
{
	struct nl_cache *cache = NULL;
	int r = rtnl_cls_alloc_cache(sk, ifindex, parent, &cache);
	if (r < 0)
		return r;
	*n += nl_cache_nitems(cache);
	nl_cache_free(cache);
	return 0;
}

int ky_bpf_clsact_has_filters(int ifindex, struct ky_error **err)
{
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk)
		return ky_error_set(err, ENOMEM, "allocate netlink socket");
	int n = 0, r = nl_connect(sk, NETLINK_ROUTE);
	if (r == 0)
		r = count_filters(sk, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), &n);
	if (r == 0)
		r = count_filters(sk, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), &n);
	nl_socket_free(sk);
	if (r < 0)
		return ky_error_set(err, EIO, "list tc filters on ifindex %d: %s", ifindex, nl_geterror(r));
	return n > 0;
}

int ky_bpf_clsact_release(int ifindex, struct ky_error **err)
{
	const struct ky_libbpf *lib;
	int r = ky_libbpf_get(&lib, err);
	if (r < 0)
		return r;
	char name[IF_NAMESIZE];
	if (!if_indextoname((unsigned)ifindex, name))
		return 0; /* the device left this netns, its qdiscs torn down on the way */
	if ((r = ky_bpf_clsact_has_filters(ifindex, err)) != 0)
		return r < 0 ? r : 0;
	struct bpf_tc_hook h = tc_hook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
	r = lib->bpf_tc_hook_destroy(&h);
	if (r == -ENOENT || r == -EINVAL || r == -ENODEV)
		return 0;
	if (r < 0)
		return ky_error_set(err, -r, "remove clsact qdisc on ifindex %d: %s", ifindex, strerror(-r));
	return 1;
}

static struct bpf_program *loaded_program(struct ky_bpf_obj *o, const char *program, struct ky_error **err)
{
	struct bpf_program *p = o->lib->bpf_object__find_program_by_name(o->obj, program);
	if (!p || !o->lib->bpf_program__autoload(p)) {
		ky_error_set(err, ENOENT, "%s: program %s is not loaded", o->path, program);
		return NULL;
	}
	return p;
}

int ky_bpf_plan(struct ky_bpf_obj *o, const char *program, enum ky_bpf_hook hook, enum ky_bpf_xdp_mode mode,
		int ifindex, uint32_t prio_hint, struct ky_bpf_attached *out, struct ky_error **err)
{
	const struct ky_libbpf *lib = o->lib;
	struct bpf_program *p = loaded_program(o, program, err);
	if (!p)
		return -ENOENT;
	enum bpf_prog_type want = hook == KY_BPF_XDP ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS;
	if (lib->bpf_program__type(p) != want)
		return ky_error_set(err, EINVAL, "%s: program %s is not a%s program (SEC(\"%s\"))", o->path, program,
				    hook == KY_BPF_XDP ? "n XDP" : " tc", hook == KY_BPF_XDP ? "xdp" : "tc");
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	memset(&info, 0, sizeof(info));
	int r = lib->bpf_obj_get_info_by_fd(lib->bpf_program__fd(p), &info, &len);
	if (r < 0)
		return ky_error_set(err, -r, "read the id of %s: %s", program, strerror(-r));
	memset(out, 0, sizeof(*out));
	out->hook = hook;
	out->ifindex = ifindex;
	out->prog_id = info.id;
	if (hook == KY_BPF_XDP) {
		out->xdp_flags = xdp_mode_flag(mode);
		return 0;
	}
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	uint32_t prio;
	if ((r = ky_nl_open(&nl, err)) < 0 ||
	    (r = ky_tc_free_prio(nl, ifindex, hook == KY_BPF_TC_EGRESS, prio_hint, -1, &prio, err)) < 0)
		return r;
	out->handle = 1;
	out->priority = prio;
	return 0;
}

static const char *hw_name(enum ky_bpf_hw hw)
{
	return hw == KY_BPF_HW_DEFAULT ? "default" : ky_bpf_hw_names[hw - 1];
}

/* libbpf's bpf_tc_attach() sets neither skip_sw nor skip_hw: the filter
 * goes as raw rtnetlink instead, and the kernel's echo says where it
 * landed. */
static int attach_tc_hw(const char *program, int fd, struct ky_bpf_attached *a, struct ky_error **err)
{
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	int r = ky_nl_open(&nl, err);
	if (r < 0)
		return r;
	uint32_t flags = a->hw == KY_BPF_HW_REQUIRED ? TCA_CLS_FLAGS_SKIP_SW :
			 a->hw == KY_BPF_HW_NEVER ? TCA_CLS_FLAGS_SKIP_HW : 0;
	bool egress = a->hook == KY_BPF_TC_EGRESS;
	struct ky_tc_bpf_info info;
	r = ky_tc_bpf_add(nl, a->ifindex, egress, a->handle, a->priority, fd, a->prog_id, program, flags, &info, err);
	if (r < 0 && a->hw == KY_BPF_HW_REQUIRED)
		/* skip_sw where the driver offloads no such program, its tc
		 * offload is off (ethtool -K hw-tc-offload), or it holds one
		 * already: the kernel's extended ack says which. */
		return ky_error_prefix(err, "the device of ifindex %d did not take %s in hardware on %s (hw: required)",
				       a->ifindex, program, ky_bpf_hook_names[a->hook]);
	if (r < 0)
		return ky_error_prefix(err, "attach %s to %s of ifindex %d (priority %u, hw: %s)", program,
				       ky_bpf_hook_names[a->hook], a->ifindex, a->priority, hw_name(a->hw));
	a->in_hw = (info.gen_flags & TCA_CLS_FLAGS_IN_HW) != 0;
	if (a->hw == KY_BPF_HW_REQUIRED && !a->in_hw) {
		ky_bpf_detach(a, NULL);
		return ky_error_set(err, EREMOTEIO, "the kernel did not report %s in the hardware of ifindex %d "
						    "(hw: required)", program, a->ifindex);
	}
	return 0;
}

int ky_bpf_attach(struct ky_bpf_obj *o, const char *program, struct ky_bpf_attached *a, struct ky_error **err)
{
	const struct ky_libbpf *lib = o->lib;
	struct bpf_program *p = loaded_program(o, program, err);
	if (!p)
		return -ENOENT;
	int fd = lib->bpf_program__fd(p), r;
	if (a->hook != KY_BPF_XDP && a->hw != KY_BPF_HW_DEFAULT)
		return attach_tc_hw(program, fd, a, err);
	if (a->hook != KY_BPF_XDP) {
		struct bpf_tc_hook h = tc_hook(a->ifindex, a->hook == KY_BPF_TC_INGRESS ? BPF_TC_INGRESS : BPF_TC_EGRESS);
		struct bpf_tc_opts opts;
		memset(&opts, 0, sizeof(opts));
		opts.sz = sizeof(opts);
		opts.prog_fd = fd;
		opts.handle = a->handle;
		opts.priority = a->priority;
		r = lib->bpf_tc_attach(&h, &opts);
		if (r < 0)
			return ky_error_set(err, -r, "attach %s to %s of ifindex %d (priority %u): %s", program,
					    ky_bpf_hook_names[a->hook], a->ifindex, a->priority, strerror(-r));
		return 0;
	}
	r = lib->bpf_xdp_attach(a->ifindex, fd, XDP_FLAGS_UPDATE_IF_NOEXIST | a->xdp_flags, NULL);
	if (r == -EBUSY || r == -EEXIST)
		return ky_error_set(err, EBUSY, "attach %s to XDP of ifindex %d: it has an XDP program already",
				    program, a->ifindex);
	if (r < 0)
		return ky_error_set(err, -r, "attach %s to XDP (%s) of ifindex %d: %s", program,
				    a->xdp_flags == XDP_FLAGS_DRV_MODE ? "native" :
				    a->xdp_flags == XDP_FLAGS_SKB_MODE ? "generic" :
				    a->xdp_flags == XDP_FLAGS_HW_MODE ? "offload" : "auto",
				    a->ifindex, strerror(-r));
	if (!a->xdp_flags) {
		/* Record the mode the kernel chose: a query names one. */
		uint32_t id = 0;
		a->xdp_flags = lib->bpf_xdp_query_id(a->ifindex, XDP_FLAGS_DRV_MODE, &id) == 0 && id == a->prog_id ?
				       XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	}
	return 0;
}

/* The id of the program at a's place, 0 when there is none; *libp is
 * libbpf, loaded on first use. */
static int attached_id(const struct ky_libbpf **libp, const struct ky_bpf_attached *a, uint32_t *id,
		       struct ky_error **err)
{
	*id = 0;
	int r = ky_libbpf_get(libp, err);
	if (r < 0)
		return r;
	const struct ky_libbpf *lib = *libp;
	if (a->hook == KY_BPF_XDP) {
		r = lib->bpf_xdp_query_id(a->ifindex, (int)a->xdp_flags, id);
		if (r == -ENODEV || r == -ENOENT)
			return 0;
	} else {
		struct bpf_tc_hook h = tc_hook(a->ifindex, a->hook == KY_BPF_TC_INGRESS ? BPF_TC_INGRESS : BPF_TC_EGRESS);
		struct bpf_tc_opts opts;
		memset(&opts, 0, sizeof(opts));
		opts.sz = sizeof(opts);
		opts.handle = a->handle;
		opts.priority = a->priority;
		r = lib->bpf_tc_query(&h, &opts);
		/* No such filter, or no clsact (EINVAL), or no device. */
		if (r == -ENOENT || r == -EINVAL || r == -ENODEV)
			return 0;
		*id = opts.prog_id;
	}
	if (r < 0)
		return ky_error_set(err, -r, "query %s of ifindex %d: %s", ky_bpf_hook_names[a->hook], a->ifindex,
				    strerror(-r));
	return 0;
}

int ky_bpf_check(const struct ky_bpf_attached *a, struct ky_error **err)
{
	const struct ky_libbpf *lib;
	uint32_t id;
	int r = attached_id(&lib, a, &id, err);
	if (r < 0)
		return r;
	if (id == 0)
		return ky_error_set(err, ENOENT, "program %u is no longer on %s of ifindex %d", a->prog_id,
				    ky_bpf_hook_names[a->hook], a->ifindex);
	if (id != a->prog_id)
		return ky_error_set(err, ESTALE, "program %u on %s of ifindex %d was replaced by program %u",
				    a->prog_id, ky_bpf_hook_names[a->hook], a->ifindex, id);
	if (a->hook == KY_BPF_XDP || a->hw != KY_BPF_HW_REQUIRED)
		return 0;
	_cleanup_(ky_nl_closep) struct ky_nl *nl = NULL;
	struct ky_tc_bpf_info info;
	if ((r = ky_nl_open(&nl, err)) < 0 ||
	    (r = ky_tc_bpf_get(nl, a->ifindex, a->hook == KY_BPF_TC_EGRESS, a->handle, a->priority, &info, err)) < 0)
		return r == -ENOENT ? ky_error_set(err, ENOENT, "program %u is no longer on %s of ifindex %d",
						   a->prog_id, ky_bpf_hook_names[a->hook], a->ifindex) : r;
	if (!(info.gen_flags & TCA_CLS_FLAGS_IN_HW))
		return ky_error_set(err, EREMOTEIO, "program %u on %s of ifindex %d is no longer in hardware "
						    "(hw: required)", a->prog_id, ky_bpf_hook_names[a->hook], a->ifindex);
	return 0;
}

int ky_bpf_detach(const struct ky_bpf_attached *a, struct ky_error **err)
{
	const struct ky_libbpf *lib;
	uint32_t id;
	int r = attached_id(&lib, a, &id, err);
	if (r < 0)
		return r;
	if (id != a->prog_id || id == 0)
		return 0;
	if (a->hook == KY_BPF_XDP) {
		_cleanup_close_ int fd = lib->bpf_prog_get_fd_by_id(a->prog_id);
		if (fd < 0)
			return 0;
		/* REPLACE with the expected program: never someone else's,
		 * even one attached since the query. */
		struct bpf_xdp_attach_opts opts;
		memset(&opts, 0, sizeof(opts));
		opts.sz = sizeof(opts);
		opts.old_prog_fd = fd;
		r = lib->bpf_xdp_attach(a->ifindex, -1, a->xdp_flags | XDP_FLAGS_REPLACE, &opts);
		if (r == -EEXIST)
			return 0;
	} else {
		struct bpf_tc_hook h = tc_hook(a->ifindex, a->hook == KY_BPF_TC_INGRESS ? BPF_TC_INGRESS : BPF_TC_EGRESS);
		struct bpf_tc_opts opts;
		memset(&opts, 0, sizeof(opts));
		opts.sz = sizeof(opts);
		opts.handle = a->handle;
		opts.priority = a->priority;
		r = lib->bpf_tc_detach(&h, &opts);
		if (r == -ENOENT)
			return 0;
	}
	if (r < 0)
		return ky_error_set(err, -r, "detach program %u from %s of ifindex %d: %s", a->prog_id,
				    ky_bpf_hook_names[a->hook], a->ifindex, strerror(-r));
	return 1;
}

/* ---- pins ---- */

static int unpin_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	int r = type == FTW_DP ? rmdir(path) : unlink(path);
	return r < 0 && errno != ENOENT ? -errno : 0;
}

int ky_bpf_unpin(const char *dir, struct ky_error **err)
{
	size_t n = strlen(KY_BPF_FS);
	if (strncmp(dir, KY_BPF_FS "/", n + 1) != 0 || strstr(dir, "/../") || strstr(dir, "/./"))
		return ky_error_set(err, EINVAL, "refusing to unpin %s: not under %s", dir, KY_BPF_FS);
	struct stat st;
	if (lstat(dir, &st) < 0 && errno == ENOENT)
		return 0;
	/* nftw returns what unpin_one returned (-errno), or -1 with errno
	 * set when the walk itself failed. */
	int r = nftw(dir, unpin_one, 8, FTW_DEPTH | FTW_PHYS);
	if (r == -1)
		r = errno == ENOENT ? 0 : -errno;
	if (r < 0)
		return ky_error_set(err, -r, "unpin %s: %s", dir, strerror(-r));
	return 0;
}

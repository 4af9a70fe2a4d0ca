/* libbpf through dlopen (see bpf_libbpf.h), and where its messages go: to
 * our log at debug level, the last of them kept for error messages. */
#include "bpf_libbpf.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ky_libbpf lib;
static int loaded; /* 0: not tried, 1: ready, <0: the failure */
static char tail[400];

const char *ky_libbpf_log_tail(void)
{
	return tail;
}

void ky_libbpf_log_reset(void)
{
	tail[0] = '\0';
}

/* Keeps the last warnings that fit: the verifier's log comes as one
 * multi-line warning that ends with the reason ("invalid access to packet",
 * "R1 offset is outside of the packet", "processed N insns"). */
static void keep(const char *line)
{
	size_t have = strlen(tail), need = strlen(line) + 3;
	if (need >= sizeof(tail))
		return;
	while (have + need >= sizeof(tail)) {
		/* Drop the oldest line. */
		char *p = strstr(tail, " | ");
		if (!p) {
			have = 0;
			break;
		}
		memmove(tail, p + 3, strlen(p + 3) + 1);
		have = strlen(tail);
	}
	snprintf(tail + have, sizeof(tail) - have, "%s%s", have ? " | " : "", line);
}

static int on_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* Whole: a verifier log can be long, and its reason is at its end. */
	char *msg = NULL, *save = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		return 0;
	for (char *line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (ky_log_enabled(KY_LOG_DEBUG))
			ky_debug("libbpf", "level=%d msg=%s", (int)level, line);
		if (level == LIBBPF_WARN && strncmp(line, "-- ", 3) != 0 && strncmp(line, "libbpf: prog '", 14) != 0)
			keep(line);
	}
	free(msg);
	return 0;
}

int ky_libbpf_get(const struct ky_libbpf **out, struct ky_error **err)
{
	static char why[256];
	if (loaded == 0) {
		void *h = dlopen("libbpf.so.1", RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			snprintf(why, sizeof(why), "cannot load libbpf.so.1 (install libbpf1): %s", dlerror());
			loaded = -ENOENT;
		}
#define KY_LIBBPF_SYM(f)                                                                               \
	if (loaded == 0 && !(lib.f = (__typeof__(&f))dlsym(h, #f))) {                                     \
		snprintf(why, sizeof(why), "libbpf.so.1 has no %s (libbpf 1.0 or newer needed)", #f);    \
		loaded = -ENOSYS;                                                                         \
	}
		KY_LIBBPF_FUNCS(KY_LIBBPF_SYM)
#undef KY_LIBBPF_SYM
		if (loaded == 0) {
			lib.libbpf_set_print(on_print);
			loaded = 1;
		}
	}
	if (loaded < 0)
		return ky_error_set(err, -loaded, "%s", why);
	*out = &lib;
	return 0;
}

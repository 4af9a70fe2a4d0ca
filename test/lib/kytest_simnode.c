/* The simulated node in an umockdev testbed; see kytest_simnode.h. */
#include "kytest_simnode.h"
#include "kytest.h"

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

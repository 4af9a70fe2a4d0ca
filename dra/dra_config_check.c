/* --check-opaque-config: a DeviceClass's or a claim's config list read from
 * a file (or stdin) and run through the parser Prepare uses (dra_config.c),
 * so a manifest is judged by the driver's own rules, with the same paths. */
#include "dra.h"
#include "dra_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/json/json.h"

/* A config list is part of one API object: etcd's limit is 1.5 MiB. */
#define CONFIG_MAX (2u << 20)

int dra_check_opaque_config(const struct dra_options *opts, const char *file, FILE *out, struct ky_error **err)
{
	bool std_in = strcmp(file, "-") == 0;
	const char *name = std_in ? "stdin" : file;
	_cleanup_close_ int fd = std_in ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *text = NULL, *bitstream_dir = dra_options_bitstream_dir(opts);
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	struct dra_configs cs = { 0 };
	size_t len;
	int r;
	if (fd < 0)
		return ky_error_set(err, errno, "%s: %s", name, strerror(errno));
	if (!bitstream_dir)
		return ky_error_set(err, ENOMEM, "out of memory");
	if ((r = ky_read_all(fd, CONFIG_MAX, &text, &len)) < 0)
		return ky_error_set(err, -r, "%s: %s", name, r == -EFBIG ? "larger than 2 MiB" : strerror(-r));
	if ((r = ky_json_parse(text, len, &doc, err)) < 0)
		return ky_error_prefix(err, "%s", name);
	const struct dra_config_rules rules = {
		.driver = opts->driver_name,
		.bitstream_dir = bitstream_dir,
		.spec = true,
	};
	if ((r = dra_configs_parse(doc, &rules, &cs, err)) < 0)
		return ky_error_prefix(err, "%s", name);
	for (size_t i = 0; i < cs.n; i++) {
		const struct dra_config *c = &cs.v[i];
		fprintf(out, "%s: %s for %s", c->path, dra_config_kind_name(c->kind),
			c->n_requests ? "requests" : "every request");
		for (size_t k = 0; k < c->n_requests; k++)
			fprintf(out, " %s", c->requests[k]);
		fputc('\n', out);
	}
	fprintf(out, "%s: OK, %zu of %d configs are %s's\n", name, cs.n, cJSON_GetArraySize(doc),
		opts->driver_name);
	dra_configs_release(&cs);
	return 0;
}

/* A STAND-IN claim source for tests, until the core's Kubernetes API client
 * lands (then dra_claims_api.c serves): each ResourceClaim is the object the
 * API server would answer for GET
 * /apis/resource.k8s.io/v1/namespaces/NS/resourceclaims/NAME, read from
 * <dir>/<NS>/<NAME>.json; a missing file is the API's 404. The answer comes
 * from the loop, a round later, as a request's would. NS and NAME were
 * checked by dra_claim_ref_problem (no '/', no "..") before they get here. */
#include "dra_claims.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/json/json.h"
#include "kyborg/loop/loop.h"

#define MAX_CLAIM_SIZE (1u << 20)

struct file_source {
	struct dra_claim_source base;
	struct ky_loop *loop;
	char *dir;
};

static int read_claim(const struct file_source *fs, const struct dra_claim_get *g, cJSON **out,
		      struct ky_error **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	size_t len = 0;
	if (asprintf(&path, "%s/%s/%s.json", fs->dir, g->ns, g->name) < 0) {
		path = NULL;
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return ky_error_set(err, ENOENT, "resourceclaims.resource.k8s.io \"%s\" not found", g->name);
	if (fd < 0)
		return ky_error_set(err, errno, "open %s: %s", path, strerror(errno));
	int r = ky_read_all(fd, MAX_CLAIM_SIZE, &text, &len);
	if (r < 0)
		return ky_error_set(err, -r, "read %s: %s", path, strerror(-r));
	if (!(*out = cJSON_ParseWithLength(text, len)))
		return ky_error_set(err, EBADMSG, "%s: not JSON", path);
	return 0;
}

static void on_timer(struct ky_loop_timer *t, void *userdata)
{
	struct dra_claim_get *g = userdata;
	struct file_source *fs = (struct file_source *)g->src;
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_(cJSON_Deletep) cJSON *claim = NULL;
	g->impl = NULL;
	ky_loop_timer_free(t);
	read_claim(fs, g, &claim, &err);
	dra_claim_get_fetched(g, claim, err);
}

static int file_start(struct dra_claim_source *src, struct dra_claim_get *g, struct ky_error **err)
{
	struct file_source *fs = (struct file_source *)src;
	struct ky_loop_timer *t = NULL;
	int r = ky_loop_timer_new(fs->loop, on_timer, g, &t, err);
	if (r < 0)
		return r;
	ky_loop_timer_arm(t, 0, 0);
	g->impl = t;
	return 0;
}

static void file_cancel(struct dra_claim_source *src, struct dra_claim_get *g)
{
	(void)src;
	ky_loop_timer_free(g->impl);
	g->impl = NULL;
}

static void file_free(struct dra_claim_source *src)
{
	struct file_source *fs = (struct file_source *)src;
	free(fs->dir);
	free(fs);
}

static const struct dra_claim_source_ops file_ops = {
	.name = "file stand-in",
	.start = file_start,
	.cancel = file_cancel,
	.free = file_free,
};

int dra_claims_file_new(struct ky_loop *loop, const char *dir, struct dra_claim_source **out, struct ky_error **err)
{
	struct file_source *fs = calloc(1, sizeof(*fs));
	if (!fs || !(fs->dir = strdup(dir))) {
		free(fs);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	fs->base.ops = &file_ops;
	fs->loop = loop;
	*out = &fs->base;
	return 0;
}

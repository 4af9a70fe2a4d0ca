/* Every request kubelet sends the DRA driver, as its handlers take it
 * (dra/dra_register.c, dra_prepare.c, dra_unprepare.c, dra_health.c): the
 * protobuf unpack of the message (protoc-c's code generated from
 * dra/proto), then what the handler does before any I/O: each claim's
 * reference checked (dra_claim_ref_problem), and the answer built as
 * pack_answer and unprepare build it (an error naming the claim, or the
 * claim's device with its CDI ID) and packed.
 *
 * Input: byte 0 picks the method (bits 0-2); the rest is the message.
 * Checked: v1 and v1beta1 read a request alike (the driver serves both
 * with v1's code); a reference that passes makes a valid state key, CDI
 * spec file and CDI device name; the answer decodes as kubelet decodes it,
 * v1 and v1beta1 alike (v1beta1's lacks share_id), one entry per claim
 * with its error; and where kubelet's strings are valid UTF-8 (Go sends
 * nothing else), so is every string of the answer (grpc-go refuses a whole
 * answer with one invalid proto3 string). */
#include "dra_claims.h"
#include "dra_proto.h"
#include "dra_v1beta1.pb-c.h"
#include "dra_health_v1.pb-c.h"
#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/device/cdi_spec.h"
#include "kyborg/state/state_store.h"

#define DRIVER "kyborg.io"
#define DEVICE "gpu-0000-3b-00-0"

/* RFC 3629, as Go's utf8.ValidString: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		unsigned c = *s++;
		int n;
		unsigned min;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			min = 0x80;
			c &= 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			min = 0x800;
			c &= 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			min = 0x10000;
			c &= 0x07;
		} else {
			return false;
		}
		for (int i = 0; i < n; i++) {
			if ((*s & 0xc0) != 0x80)
				return false;
			c = c << 6 | (*s++ & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
	}
	return true;
}

/* What the handler answers for one claim: an error, or the device. */
struct answer {
	char *error; /* NULL: prepared */
	char *cdi;
};

static void answer_claim(const dra_pb_claim *c, struct answer *a)
{
	char buf[256];
	const char *problem = dra_claim_ref_problem(c->namespace_, c->name, c->uid, buf, sizeof(buf));
	*a = (struct answer){ 0 };
	if (problem) {
		FUZZ_ASSERT(asprintf(&a->error, "claim %s", problem) > 0, "out of memory");
		return;
	}
	FUZZ_ASSERT(ky_state_key_valid(c->uid), "uid %s is no state key", c->uid);
	_cleanup_free_ char *spec = ky_cdi_claim_spec_name(DRIVER, c->uid);
	FUZZ_ASSERT(spec && !strchr(spec, '/'), "CDI spec file %s", spec);
	_cleanup_free_ char *name = ky_cdi_claim_device_name(c->uid, DEVICE);
	FUZZ_ASSERT(name && ky_cdi_name_valid(name), "CDI device name %s", name);
	a->cdi = ky_cdi_claim_device_id(DRIVER, c->uid, DEVICE);
	FUZZ_ASSERT(a->cdi, "out of memory");
}

static bool claims_utf8(const dra_pb_claim *const *claims, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!utf8_valid(claims[i]->namespace_) || !utf8_valid(claims[i]->name) || !utf8_valid(claims[i]->uid))
			return false;
	return true;
}

static void same_claims(const dra_pb_claim *const *a, size_t na,
			const K8s__Io__Kubelet__Pkg__Apis__Dra__V1beta1__Claim *const *b, size_t nb)
{
	FUZZ_ASSERT(na == nb, "v1 reads %zu claims, v1beta1 %zu", na, nb);
	for (size_t i = 0; i < na; i++)
		FUZZ_ASSERT(!strcmp(a[i]->namespace_, b[i]->namespace_) && !strcmp(a[i]->name, b[i]->name) &&
				    !strcmp(a[i]->uid, b[i]->uid),
			    "claim %zu reads differently in v1beta1", i);
}

static void prepare(const uint8_t *msg, size_t len)
{
	dra_pb_prepare_req *r = k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__unpack(NULL, len,
														    msg);
	K8s__Io__Kubelet__Pkg__Apis__Dra__V1beta1__NodePrepareResourcesRequest *b =
		k8s__io__kubelet__pkg__apis__dra__v1beta1__node_prepare_resources_request__unpack(NULL, len, msg);
	FUZZ_ASSERT(!r == !b, "v1 %s the request, v1beta1 %s", r ? "reads" : "refuses", b ? "reads" : "refuses");
	if (!r)
		return;
	same_claims((const dra_pb_claim *const *)r->claims, r->n_claims,
		    (const K8s__Io__Kubelet__Pkg__Apis__Dra__V1beta1__Claim *const *)b->claims, b->n_claims);
	k8s__io__kubelet__pkg__apis__dra__v1beta1__node_prepare_resources_request__free_unpacked(b, NULL);

	size_t n = r->n_claims;
	struct answer *ans = calloc(n + 1, sizeof(*ans));
	dra_pb_prepare_entry *entries = calloc(n + 1, sizeof(*entries));
	dra_pb_prepare_entry **entryp = calloc(n + 1, sizeof(*entryp));
	dra_pb_prepare_claim *claims = calloc(n + 1, sizeof(*claims));
	dra_pb_device *devs = calloc(n + 1, sizeof(*devs));
	dra_pb_device **devp = calloc(n + 1, sizeof(*devp));
	FUZZ_ASSERT(ans && entries && entryp && claims && devs && devp, "out of memory");
	static char *requests[] = { "gpu" };
	for (size_t i = 0; i < n; i++) {
		answer_claim(r->claims[i], &ans[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__claims_entry__init(&entries[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resource_response__init(&claims[i]);
		entries[i].key = r->claims[i]->uid;
		entries[i].value = &claims[i];
		entryp[i] = &entries[i];
		if (ans[i].error) {
			claims[i].error = ans[i].error;
			continue;
		}
		k8s__io__kubelet__pkg__apis__dra__v1__device__init(&devs[i]);
		devs[i].n_request_names = 1;
		devs[i].request_names = requests;
		devs[i].pool_name = "node-a";
		devs[i].device_name = DEVICE;
		devs[i].n_cdi_device_ids = 1;
		devs[i].cdi_device_ids = &ans[i].cdi;
		devs[i].share_id = "8c1f6f4e-6a4c-4b59-9b7e-3d2f4c1b0a99";
		devp[i] = &devs[i];
		claims[i].n_devices = 1;
		claims[i].devices = &devp[i];
	}
	dra_pb_prepare_resp out = K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_PREPARE_RESOURCES_RESPONSE__INIT;
	out.n_claims = n;
	out.claims = entryp;
	size_t plen = protobuf_c_message_get_packed_size(&out.base);
	uint8_t *packed = malloc(plen ? plen : 1);
	FUZZ_ASSERT(packed, "out of memory");
	FUZZ_ASSERT(protobuf_c_message_pack(&out.base, packed) == plen, "packed size");

	/* As kubelet reads it, through either version. */
	dra_pb_prepare_resp *back =
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__unpack(NULL, plen, packed);
	K8s__Io__Kubelet__Pkg__Apis__Dra__V1beta1__NodePrepareResourcesResponse *old =
		k8s__io__kubelet__pkg__apis__dra__v1beta1__node_prepare_resources_response__unpack(NULL, plen, packed);
	FUZZ_ASSERT(back && old, "our answer does not decode (v1 %p, v1beta1 %p)", (void *)back, (void *)old);
	FUZZ_ASSERT(back->n_claims == n && old->n_claims == n, "%zu/%zu entries for %zu claims", back->n_claims,
		    old->n_claims, n);
	bool utf8 = claims_utf8((const dra_pb_claim *const *)r->claims, n);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(!strcmp(back->claims[i]->key, r->claims[i]->uid) && !strcmp(old->claims[i]->key, back->claims[i]->key),
			    "entry %zu keyed %s", i, back->claims[i]->key);
		const char *e = back->claims[i]->value ? back->claims[i]->value->error : "";
		FUZZ_ASSERT(!strcmp(e, ans[i].error ? ans[i].error : ""), "entry %zu error %s", i, e);
		FUZZ_ASSERT(!strcmp(old->claims[i]->value ? old->claims[i]->value->error : "", e), "v1beta1 error differs");
		/* F5 (fixed): dra_claim_ref_problem quoted up to 64 bytes of a
		 * reference ("%.64s"), which could cut a character in two. */
		if (utf8)
			FUZZ_ASSERT(utf8_valid(e), "the answer's error is not UTF-8 (grpc-go refuses it): %s", e);
		if (!ans[i].error)
			FUZZ_ASSERT(back->claims[i]->value->n_devices == 1 &&
					    !strcmp(back->claims[i]->value->devices[0]->cdi_device_ids[0], ans[i].cdi) &&
					    old->claims[i]->value->n_devices == 1,
				    "entry %zu's device", i);
	}
	k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__free_unpacked(back, NULL);
	k8s__io__kubelet__pkg__apis__dra__v1beta1__node_prepare_resources_response__free_unpacked(old, NULL);
	free(packed);
	for (size_t i = 0; i < n; i++) {
		free(ans[i].error);
		free(ans[i].cdi);
	}
	free(ans);
	free(entries);
	free(entryp);
	free(claims);
	free(devs);
	free(devp);
	k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__free_unpacked(r, NULL);
}

static void unprepare(const uint8_t *msg, size_t len)
{
	dra_pb_unprepare_req *r =
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__unpack(NULL, len, msg);
	K8s__Io__Kubelet__Pkg__Apis__Dra__V1beta1__NodeUnprepareResourcesRequest *b =
		k8s__io__kubelet__pkg__apis__dra__v1beta1__node_unprepare_resources_request__unpack(NULL, len, msg);
	FUZZ_ASSERT(!r == !b, "v1 %s the request, v1beta1 %s", r ? "reads" : "refuses", b ? "reads" : "refuses");
	if (!r)
		return;
	same_claims((const dra_pb_claim *const *)r->claims, r->n_claims,
		    (const K8s__Io__Kubelet__Pkg__Apis__Dra__V1beta1__Claim *const *)b->claims, b->n_claims);
	k8s__io__kubelet__pkg__apis__dra__v1beta1__node_unprepare_resources_request__free_unpacked(b, NULL);
	size_t n = r->n_claims;
	struct answer *ans = calloc(n + 1, sizeof(*ans));
	dra_pb_unprepare_entry *entries = calloc(n + 1, sizeof(*entries));
	dra_pb_unprepare_entry **entryp = calloc(n + 1, sizeof(*entryp));
	dra_pb_unprepare_claim *claims = calloc(n + 1, sizeof(*claims));
	FUZZ_ASSERT(ans && entries && entryp && claims, "out of memory");
	for (size_t i = 0; i < n; i++) {
		answer_claim(r->claims[i], &ans[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_response__claims_entry__init(&entries[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resource_response__init(&claims[i]);
		entries[i].key = r->claims[i]->uid;
		entries[i].value = &claims[i];
		entryp[i] = &entries[i];
		if (ans[i].error)
			claims[i].error = ans[i].error;
	}
	dra_pb_unprepare_resp out = K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_UNPREPARE_RESOURCES_RESPONSE__INIT;
	out.n_claims = n;
	out.claims = entryp;
	size_t plen = protobuf_c_message_get_packed_size(&out.base);
	uint8_t *packed = malloc(plen ? plen : 1);
	FUZZ_ASSERT(packed, "out of memory");
	protobuf_c_message_pack(&out.base, packed);
	K8s__Io__Kubelet__Pkg__Apis__Dra__V1beta1__NodeUnprepareResourcesResponse *old =
		k8s__io__kubelet__pkg__apis__dra__v1beta1__node_unprepare_resources_response__unpack(NULL, plen, packed);
	FUZZ_ASSERT(old && old->n_claims == n, "our answer does not decode as v1beta1");
	bool utf8 = claims_utf8((const dra_pb_claim *const *)r->claims, n);
	for (size_t i = 0; i < n; i++) {
		const char *e = old->claims[i]->value ? old->claims[i]->value->error : "";
		FUZZ_ASSERT(!strcmp(e, ans[i].error ? ans[i].error : ""), "entry %zu error %s", i, e);
		if (utf8)
			FUZZ_ASSERT(utf8_valid(e), "the answer's error is not UTF-8 (grpc-go refuses it): %s", e);
	}
	k8s__io__kubelet__pkg__apis__dra__v1beta1__node_unprepare_resources_response__free_unpacked(old, NULL);
	free(packed);
	for (size_t i = 0; i < n; i++) {
		free(ans[i].error);
		free(ans[i].cdi);
	}
	free(ans);
	free(entries);
	free(entryp);
	free(claims);
	k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__free_unpacked(r, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *msg = data + 1;
	size_t len = size - 1;
	switch (data[0] & 7) {
	case 0: { /* Registration.GetInfo */
		Pluginregistration__InfoRequest *m = pluginregistration__info_request__unpack(NULL, len, msg);
		if (m)
			pluginregistration__info_request__free_unpacked(m, NULL);
		break;
	}
	case 1: { /* Registration.NotifyRegistrationStatus: the error is logged */
		Pluginregistration__RegistrationStatus *m = pluginregistration__registration_status__unpack(NULL, len, msg);
		if (m) {
			FUZZ_ASSERT(m->error, "no error string");
			pluginregistration__registration_status__free_unpacked(m, NULL);
		}
		break;
	}
	case 2:
	case 3:
		prepare(msg, len);
		break;
	case 4:
	case 5:
		unprepare(msg, len);
		break;
	case 6: { /* v1alpha1 NodeWatchResources */
		V1alpha1__NodeWatchResourcesRequest *m = v1alpha1__node_watch_resources_request__unpack(NULL, len, msg);
		if (m)
			v1alpha1__node_watch_resources_request__free_unpacked(m, NULL);
		break;
	}
	default: { /* v1 NodeWatchResources */
		V1__NodeWatchResourcesRequest *m = v1__node_watch_resources_request__unpack(NULL, len, msg);
		if (m)
			v1__node_watch_resources_request__free_unpacked(m, NULL);
		break;
	}
	}
	return 0;
}

/* The DRA driver's reading of a ResourceClaim (dra_claims.c): the UID
 * check, the allocation results of every driver, the configs kept for
 * later, and kubelet's claim references checked before they become keys,
 * file names and paths. Pure. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

#include "dra_claims.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"

/* The shape of dra-facts' example claim (resource.k8s.io/v1). */
static const char claim[] =
	"{\"apiVersion\":\"resource.k8s.io/v1\",\"kind\":\"ResourceClaim\","
	" \"metadata\":{\"name\":\"gpu\",\"namespace\":\"ns1\",\"uid\":\"5c1e-1\"},"
	" \"status\":{\"allocation\":{\"devices\":{"
	"  \"results\":["
	"   {\"request\":\"gpu\",\"driver\":\"kyborg.io\",\"pool\":\"node-a\",\"device\":\"gpu-0000-3b-00-0\","
	"    \"shareID\":\"8c1f6f4e-6a4c-4b59-9b7e-3d2f4c1b0a99\",\"consumedCapacity\":{\"memory\":\"10Gi\"}},"
	"   {\"request\":\"nic/fast\",\"driver\":\"kyborg.io\",\"pool\":\"node-a\",\"device\":\"vf-0000-5e-02-1\","
	"    \"tolerations\":[{\"key\":\"kyborg.io/unhealthy\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]},"
	"   {\"request\":\"x\",\"driver\":\"other.io\",\"pool\":\"p\",\"device\":\"d\"}],"
	"  \"config\":[{\"source\":\"FromClaim\",\"requests\":[\"nic\"],\"opaque\":{\"driver\":\"kyborg.io\","
	"   \"parameters\":{\"apiVersion\":\"kyborg.io/v1alpha1\",\"kind\":\"VfConfig\",\"vlan\":100}}}]}}}}";

static cJSON *parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	cr_assert_not_null(j, "test JSON: %s", text);
	return j;
}

Test(dra_claims, an_allocated_claim_gives_every_result_and_its_configs)
{
	_cleanup_(cJSON_Deletep) cJSON *j = parse(claim);
	_cleanup_error_ struct ky_error *err = NULL;
	struct dra_claim_alloc *a = NULL;
	cr_assert_eq(dra_claim_parse(j, "ns1", "gpu", "5c1e-1", &a, &err), 0, "%s", ky_error_msg(err));
	cr_assert_eq(a->n, 3, "other drivers' results are kept: the driver filters by its name");
	cr_assert_str_eq(a->results[0].device, "gpu-0000-3b-00-0");
	cr_assert_str_eq(a->results[0].share_id, "8c1f6f4e-6a4c-4b59-9b7e-3d2f4c1b0a99");
	cr_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(a->results[0].consumed_capacity, "memory")), "10Gi");
	cr_assert_str_eq(a->results[1].request, "nic/fast");
	cr_assert_null(a->results[1].share_id);
	cr_assert_str_eq(a->results[2].driver, "other.io");
	cr_assert_eq(cJSON_GetArraySize(a->config), 1, "the opaque configs are kept for per-claim settings");
	dra_claim_alloc_free(a);
}

Test(dra_claims, a_replaced_unallocated_or_malformed_claim_is_refused_naming_why)
{
	static const struct {
		const char *json, *uid, *message;
		int code;
	} bad[] = {
		{ claim, "other-uid", "claim ns1/gpu got replaced: UID 5c1e-1, not other-uid", -ESTALE },
		{ "{\"metadata\":{\"uid\":\"u\"}}", "u", "claim ns1/gpu is not allocated", -EINVAL },
		{ "{\"metadata\":{\"uid\":\"u\"},\"status\":{\"allocation\":{\"devices\":{\"results\":{}}}}}", "u",
		  "status.allocation.devices.results: not an array", -EINVAL },
		{ "{\"metadata\":{\"uid\":\"u\"},\"status\":{\"allocation\":{\"devices\":{\"results\":[{\"request\":\"r\","
		  "\"driver\":\"kyborg.io\",\"pool\":\"p\"}]}}}}",
		  "u", "claim ns1/gpu: status.allocation.devices.results[0].device: missing or not a string", -EINVAL },
		{ "{\"metadata\":{\"uid\":\"u\"},\"status\":{\"allocation\":{\"devices\":{\"results\":[{\"request\":\"r\","
		  "\"driver\":\"kyborg.io\",\"pool\":\"p\",\"device\":\"d\",\"shareID\":7}]}}}}",
		  "u", "results[0].shareID: missing or not a string", -EINVAL },
		{ "[]", "u", "claim ns1/gpu: the API answered no object", -EINVAL },
		{ "{\"metadata\":{}}", "u", "got replaced: UID (none), not u", -ESTALE },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++) {
		_cleanup_(cJSON_Deletep) cJSON *j = parse(bad[i].json);
		_cleanup_error_ struct ky_error *err = NULL;
		struct dra_claim_alloc *a = NULL;
		cr_expect_eq(dra_claim_parse(j, "ns1", "gpu", bad[i].uid, &a, &err), bad[i].code, "case %zu", i);
		cr_expect_null(a);
		cr_expect(strstr(ky_error_msg(err), bad[i].message), "case %zu: \"%s\"", i, ky_error_msg(err));
	}
}

Test(dra_claims, claim_references_are_dns_names_and_a_plain_uid)
{
	char buf[256];
	cr_assert_null(dra_claim_ref_problem("ns1", "gpu.claim-0", "5c1e2f30-0d4f-4c6e-9a3b-1234567890ab", buf, sizeof(buf)));
	static const char *const bad[][3] = {
		{ "", "n", "u" },        { "Ns", "n", "u" },    { "ns/x", "n", "u" },   { "ns", "", "u" },
		{ "ns", "..", "u" },     { "ns", "a/b", "u" },  { "ns", "-a", "u" },    { "ns", "a.", "u" },
		{ "ns", "n", "" },       { "ns", "n", "a/b" },  { "ns", "n", "../x" },  { "ns", "n", "-u" },
		{ "ns", "n", "u u" },    { "ns", "n", "u@1" },
	};
	for (size_t i = 0; i < KY_ARRAY_SIZE(bad); i++)
		cr_expect_not_null(dra_claim_ref_problem(bad[i][0], bad[i][1], bad[i][2], buf, sizeof(buf)),
				   "%s/%s/%s accepted", bad[i][0], bad[i][1], bad[i][2]);
	cr_assert_str_eq(dra_claim_ref_problem("ns", "n", "a/b", buf, sizeof(buf)),
			 "uid \"a/b\": must be 1 to 128 letters, digits and '-'");
}

Test(dra_claims, a_refused_reference_is_quoted_whole_characters_and_one_line)
{
	/* Fuzz finding F5: "%.64s" cut kubelet's string inside a character,
	 * and the refusal (a proto3 string of the answer) was invalid UTF-8. */
	char buf[256], ns[100];
	memset(ns, 'a', 63);
	strcpy(ns + 63, "\xc3\xa9xxxxxxxxxxxxxxxxxxxx"); /* U+00E9 as bytes 64 and 65 */
	const char *p = dra_claim_ref_problem(ns, "n", "u", buf, sizeof(buf));
	cr_assert_not_null(p);
	for (const char *c = p; *c; c++)
		cr_assert((unsigned char)*c != 0xc3 || (unsigned char)c[1] == 0xa9, "a character cut in two: %s", p);
	cr_assert(strstr(p, "...\": must be a DNS label"), "%s", p);
	cr_assert_str_eq(dra_claim_ref_problem("ns", "a\nb", "u", buf, sizeof(buf)),
			 "name \"a\\nb\": must be a DNS subdomain");
}

/* kyborg_dra_proto (dra/proto) against kubelet's own API definitions: the
 * gRPC service and method names that make the :path kubelet calls, and every
 * field number and type of staging/src/k8s.io/kubelet/pkg/apis/{
 * pluginregistration/v1,dra/v1,dra/v1beta1,dra-health/v1alpha1,dra-health/v1}
 * /api.proto, written down here from those files. A renumbered or retyped
 * field, or a renamed package, fails here before it fails against kubelet. */
#include <criterion/criterion.h>
#include <string.h>

#include "dra_health_v1.pb-c.h"
#include "dra_health_v1alpha1.pb-c.h"
#include "dra_v1.pb-c.h"
#include "dra_v1beta1.pb-c.h"
#include "pluginregistration_v1.pb-c.h"

struct want_field {
	const char *name;
	unsigned id;
	ProtobufCType type;
	ProtobufCLabel label;
};

#define OPT PROTOBUF_C_LABEL_NONE /* proto3 singular */
#define REP PROTOBUF_C_LABEL_REPEATED

static void assert_fields(const ProtobufCMessageDescriptor *d, const struct want_field *want, unsigned n)
{
	cr_assert_eq(d->n_fields, n, "%s has %u fields, upstream %u", d->name, d->n_fields, n);
	for (unsigned i = 0; i < n; i++) {
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, want[i].name);
		cr_assert_not_null(f, "%s.%s is missing", d->name, want[i].name);
		cr_assert_eq(f->id, want[i].id, "%s.%s is field %u, upstream %u", d->name, want[i].name, f->id, want[i].id);
		cr_assert_eq(f->type, want[i].type, "%s.%s has another type", d->name, want[i].name);
		cr_assert_eq(f->label, want[i].label, "%s.%s: repeated or not differs", d->name, want[i].name);
	}
}

static void assert_service(const ProtobufCServiceDescriptor *s, const char *full_name, const char *const methods[])
{
	cr_assert_str_eq(s->name, full_name);
	unsigned n = 0;
	while (methods[n])
		n++;
	cr_assert_eq(s->n_methods, n);
	for (unsigned i = 0; i < n; i++)
		cr_assert_not_null(protobuf_c_service_descriptor_get_method_by_name(s, methods[i]), "%s/%s", full_name,
				   methods[i]);
}

TestSuite(dra_proto);

Test(dra_proto, service_names_are_the_grpc_paths_kubelet_calls)
{
	/* :path is "/" + service full name + "/" + method. */
	assert_service(&pluginregistration__registration__descriptor, "pluginregistration.Registration",
		       (const char *[]){ "GetInfo", "NotifyRegistrationStatus", NULL });
	assert_service(&k8s__io__kubelet__pkg__apis__dra__v1__draplugin__descriptor,
		       "k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin",
		       (const char *[]){ "NodePrepareResources", "NodeUnprepareResources", NULL });
	assert_service(&k8s__io__kubelet__pkg__apis__dra__v1beta1__draplugin__descriptor,
		       "k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin",
		       (const char *[]){ "NodePrepareResources", "NodeUnprepareResources", NULL });
	assert_service(&v1alpha1__draresource_health__descriptor, "v1alpha1.DRAResourceHealth",
		       (const char *[]){ "NodeWatchResources", NULL });
	assert_service(&v1__draresource_health__descriptor, "v1.DRAResourceHealth",
		       (const char *[]){ "NodeWatchResources", NULL });
}

Test(dra_proto, registration_fields_are_kubelets)
{
	assert_fields(&pluginregistration__plugin_info__descriptor,
		      (struct want_field[]){ { "type", 1, PROTOBUF_C_TYPE_STRING, OPT },
					     { "name", 2, PROTOBUF_C_TYPE_STRING, OPT },
					     { "endpoint", 3, PROTOBUF_C_TYPE_STRING, OPT },
					     { "supported_versions", 4, PROTOBUF_C_TYPE_STRING, REP } },
		      4);
	assert_fields(&pluginregistration__registration_status__descriptor,
		      (struct want_field[]){ { "plugin_registered", 1, PROTOBUF_C_TYPE_BOOL, OPT },
					     { "error", 2, PROTOBUF_C_TYPE_STRING, OPT } },
		      2);
	cr_assert_eq(pluginregistration__info_request__descriptor.n_fields, 0);
	cr_assert_eq(pluginregistration__registration_status_response__descriptor.n_fields, 0);
}

#define DRA_MESSAGES(P)                                                                                              \
	do {                                                                                                         \
		assert_fields(&P##__node_prepare_resources_request__descriptor,                                      \
			      (struct want_field[]){ { "claims", 1, PROTOBUF_C_TYPE_MESSAGE, REP } }, 1);            \
		assert_fields(&P##__node_prepare_resources_response__descriptor,                                     \
			      (struct want_field[]){ { "claims", 1, PROTOBUF_C_TYPE_MESSAGE, REP } }, 1);            \
		assert_fields(&P##__node_prepare_resources_response__claims_entry__descriptor,                       \
			      (struct want_field[]){ { "key", 1, PROTOBUF_C_TYPE_STRING, OPT },                      \
						     { "value", 2, PROTOBUF_C_TYPE_MESSAGE, OPT } },                 \
			      2);                                                                                    \
		assert_fields(&P##__node_prepare_resource_response__descriptor,                                      \
			      (struct want_field[]){ { "devices", 1, PROTOBUF_C_TYPE_MESSAGE, REP },                 \
						     { "error", 2, PROTOBUF_C_TYPE_STRING, OPT } },                  \
			      2);                                                                                    \
		assert_fields(&P##__node_unprepare_resources_request__descriptor,                                    \
			      (struct want_field[]){ { "claims", 1, PROTOBUF_C_TYPE_MESSAGE, REP } }, 1);            \
		assert_fields(&P##__node_unprepare_resources_response__descriptor,                                   \
			      (struct want_field[]){ { "claims", 1, PROTOBUF_C_TYPE_MESSAGE, REP } }, 1);            \
		assert_fields(&P##__node_unprepare_resource_response__descriptor,                                    \
			      (struct want_field[]){ { "error", 1, PROTOBUF_C_TYPE_STRING, OPT } }, 1);              \
		assert_fields(&P##__claim__descriptor,                                                               \
			      (struct want_field[]){ { "namespace", 1, PROTOBUF_C_TYPE_STRING, OPT },                \
						     { "uid", 2, PROTOBUF_C_TYPE_STRING, OPT },                      \
						     { "name", 3, PROTOBUF_C_TYPE_STRING, OPT } },                   \
			      3);                                                                                    \
	} while (0)

Test(dra_proto, dra_fields_are_kubelets)
{
	DRA_MESSAGES(k8s__io__kubelet__pkg__apis__dra__v1);
	DRA_MESSAGES(k8s__io__kubelet__pkg__apis__dra__v1beta1);
	assert_fields(&k8s__io__kubelet__pkg__apis__dra__v1__device__descriptor,
		      (struct want_field[]){ { "request_names", 1, PROTOBUF_C_TYPE_STRING, REP },
					     { "pool_name", 2, PROTOBUF_C_TYPE_STRING, OPT },
					     { "device_name", 3, PROTOBUF_C_TYPE_STRING, OPT },
					     { "cdi_device_ids", 4, PROTOBUF_C_TYPE_STRING, REP },
					     { "share_id", 5, PROTOBUF_C_TYPE_STRING, OPT } },
		      5);
	assert_fields(&k8s__io__kubelet__pkg__apis__dra__v1beta1__device__descriptor,
		      (struct want_field[]){ { "request_names", 1, PROTOBUF_C_TYPE_STRING, REP },
					     { "pool_name", 2, PROTOBUF_C_TYPE_STRING, OPT },
					     { "device_name", 3, PROTOBUF_C_TYPE_STRING, OPT },
					     { "cdi_device_ids", 4, PROTOBUF_C_TYPE_STRING, REP } },
		      4);
}

#define HEALTH_MESSAGES(P)                                                                                           \
	do {                                                                                                         \
		cr_assert_eq(P##__node_watch_resources_request__descriptor.n_fields, 0);                              \
		assert_fields(&P##__device_identifier__descriptor,                                                   \
			      (struct want_field[]){ { "pool_name", 1, PROTOBUF_C_TYPE_STRING, OPT },                \
						     { "device_name", 2, PROTOBUF_C_TYPE_STRING, OPT } },            \
			      2);                                                                                    \
		assert_fields(&P##__device_health__descriptor,                                                       \
			      (struct want_field[]){ { "device", 1, PROTOBUF_C_TYPE_MESSAGE, OPT },                  \
						     { "health", 2, PROTOBUF_C_TYPE_ENUM, OPT },                     \
						     { "last_updated_time", 3, PROTOBUF_C_TYPE_INT64, OPT },         \
						     { "health_check_timeout_seconds", 4, PROTOBUF_C_TYPE_INT64, OPT }, \
						     { "message", 5, PROTOBUF_C_TYPE_STRING, OPT } },                \
			      5);                                                                                    \
		assert_fields(&P##__node_watch_resources_response__descriptor,                                       \
			      (struct want_field[]){ { "devices", 1, PROTOBUF_C_TYPE_MESSAGE, REP } }, 1);           \
		cr_assert_eq(protobuf_c_enum_descriptor_get_value_by_name(&P##__health_status__descriptor, "UNKNOWN")->value, 0); \
		cr_assert_eq(protobuf_c_enum_descriptor_get_value_by_name(&P##__health_status__descriptor, "HEALTHY")->value, 1); \
		cr_assert_eq(protobuf_c_enum_descriptor_get_value_by_name(&P##__health_status__descriptor, "UNHEALTHY")->value, 2); \
	} while (0)

Test(dra_proto, health_fields_are_kubelets)
{
	HEALTH_MESSAGES(v1alpha1);
	HEALTH_MESSAGES(v1);
}

Test(dra_proto, claim_bytes_as_kubelet_sends_them_decode)
{
	/* Claim{namespace: "ns", uid: "u-1", name: "gpu"} encoded by hand from the
	 * protobuf wire format: tag (field << 3 | 2), length, bytes. */
	static const uint8_t wire[] = { 0x0a, 2, 'n', 's', 0x12, 3, 'u', '-', '1', 0x1a, 3, 'g', 'p', 'u' };
	K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Claim *c =
		k8s__io__kubelet__pkg__apis__dra__v1__claim__unpack(NULL, sizeof(wire), wire);
	cr_assert_not_null(c);
	cr_assert_str_eq(c->namespace_, "ns");
	cr_assert_str_eq(c->uid, "u-1");
	cr_assert_str_eq(c->name, "gpu");
	k8s__io__kubelet__pkg__apis__dra__v1__claim__free_unpacked(c, NULL);
}

Test(dra_proto, share_id_without_optional_is_absent_when_empty_and_ignored_by_v1beta1)
{
	/* An empty share_id is not written at all, exactly like the unset
	 * `optional` field upstream; a set one is field 5, which a v1beta1 reader
	 * skips. */
	K8s__Io__Kubelet__Pkg__Apis__Dra__V1__Device d = K8S__IO__KUBELET__PKG__APIS__DRA__V1__DEVICE__INIT;
	d.pool_name = "node-a";
	d.device_name = "gpu-0";
	uint8_t buf[128];
	size_t n = k8s__io__kubelet__pkg__apis__dra__v1__device__pack(&d, buf);
	cr_assert_eq(n, 2 + 6 + 2 + 5, "no bytes for an empty share_id");
	d.share_id = "8c1f6f4e-6a4c-4b59-9b7e-3d2f4c1b0a99";
	n = k8s__io__kubelet__pkg__apis__dra__v1__device__pack(&d, buf);
	cr_assert_eq(buf[15], (5 << 3) | 2, "share_id is field 5, length-delimited");
	K8s__Io__Kubelet__Pkg__Apis__Dra__V1beta1__Device *old =
		k8s__io__kubelet__pkg__apis__dra__v1beta1__device__unpack(NULL, n, buf);
	cr_assert_not_null(old);
	cr_assert_str_eq(old->device_name, "gpu-0");
	k8s__io__kubelet__pkg__apis__dra__v1beta1__device__free_unpacked(old, NULL);
}

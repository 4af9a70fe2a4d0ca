/* The API server's rules for a ResourceSlice (resource.k8s.io/v1,
 * pkg/apis/resource/validation/validation.go), checked before sending so a
 * device that would make the whole slice fail with 422 is refused by name
 * instead (pure). Errors are -EINVAL "<field path>: <what is wrong>". */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

struct ky_error;

#define DRA_NAME_MAX 63            /* a device name is a DNS label */
#define DRA_VALUE_MAX 64           /* an attribute's string or version, in bytes */
#define DRA_MAX_ATTRS 32           /* attributes plus capacities of one device */
#define DRA_MAX_TAINTS 16          /* taints of one device */
#define DRA_SLICE_MAX_DEVICES 128  /* devices of one slice ... */
#define DRA_SLICE_MAX_TAINTED 64   /* ... when one of them has a taint */

/* RFC 1123 label: 1-63 of [a-z0-9-], alphanumeric at both ends. */
bool dra_is_dns_label(const char *s);
/* RFC 1123 subdomain: at most 253, dot-separated labels. */
bool dra_is_dns_subdomain(const char *s);
/* A label value: at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends;
 * empty is valid. */
bool dra_is_label_value(const char *s);
/* A label key: [<DNS subdomain>/]<name>, the name as a non-empty label value. */
bool dra_is_label_key(const char *s);
/* Semantic Versioning 2.0.0 (a version attribute). */
bool dra_is_semver(const char *s);

/* An attribute or capacity name: a C identifier of at most 32, optionally
 * behind "<domain>/" (domain at most 63 and a DNS subdomain). */
int dra_check_qualified_name(const char *name, const char *field, struct ky_error **err);
/* One device of spec.devices; field names it ("spec.devices[3]"). */
int dra_check_device(const cJSON *device, const char *field, struct ky_error **err);
/* A whole ResourceSlice object as this driver writes it (one node's pool):
 * driver, pool, nodeName, the device count limit and unique device names,
 * then each device. */
int dra_check_slice(const cJSON *slice, struct ky_error **err);

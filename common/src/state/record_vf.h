/* A VF's settings (net/netlink_vf.h) as the records that cross binaries
 * write them: the CNI's attachment record ("vfSaved") and the DRA driver's
 * claim record (a device's "vf"). One description of the keys for both. */
#pragma once

#include <cjson/cJSON.h>

#include "kyborg/net/netlink_vf.h"

/* Adds v's fields to the object o; false when out of memory. */
bool ky_record_vf_to_json(const struct ky_vf_config *v, cJSON *o);
/* Reads what ky_record_vf_to_json wrote into *v. An object without a
 * readable MAC reads as mask 0: settings that cannot all be read are not
 * ours to restore. */
void ky_record_vf_from_json(const cJSON *o, struct ky_vf_config *v);

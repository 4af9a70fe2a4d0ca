/* A VF's settings as the records that cross binaries write them: one JSON
 * shape for the CNI record's "vfSaved" (the settings before ADD changed
 * them) and the DRA record's "vf" (the settings a claim's VfConfig set),
 * so a key renamed in one cannot drift from the other:
 *
 *   { "mask": 6, "mac": "02:00:00:00:00:01", "vlan": 100, "qos": 0,
 *     "vlanProto": 33024, "minTxRate": 0, "maxTxRate": 1000,
 *     "spoofchk": true, "trust": false, "linkState": 0 }
 *
 * "mask" holds KY_VF_* (kyborg/net/netlink_vf.h): which fields mean
 * something; the others are written all the same. */
#pragma once

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "kyborg/net/netlink_vf.h"

/* Adds the settings' keys to the object o: false when out of memory. */
bool ky_vf_record_to_json(const struct ky_vf_config *v, cJSON *o);
/* The settings an object holds, read leniently as the records always were
 * (a key absent or of another type reads as 0). Without a readable "mac"
 * they are not a record we wrote: *v is zeroed (mask 0) and false is
 * returned. */
bool ky_vf_record_from_json(const cJSON *o, struct ky_vf_config *v);

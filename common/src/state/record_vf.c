/* A VF's settings in a record's JSON (record_vf.h): the keys, named once. */
#include "record_vf.h"

#include <stdint.h>
#include <string.h>

#include "kyborg/base/inet.h"
#include "kyborg/json/json.h"

#define K_MASK "mask"
#define K_MAC "mac"
#define K_VLAN "vlan"
#define K_QOS "qos"
#define K_VLAN_PROTO "vlanProto"
#define K_MIN_TX_RATE "minTxRate"
#define K_MAX_TX_RATE "maxTxRate"
#define K_SPOOFCHK "spoofchk"
#define K_TRUST "trust"
#define K_LINK_STATE "linkState"

bool ky_record_vf_to_json(const struct ky_vf_config *v, cJSON *o)
{
	char mac[KY_MAC_STRLEN];
	return o && cJSON_AddNumberToObject(o, K_MASK, v->mask) &&
	       cJSON_AddStringToObject(o, K_MAC, ky_format_mac(v->mac, mac)) &&
	       cJSON_AddNumberToObject(o, K_VLAN, v->vlan) && cJSON_AddNumberToObject(o, K_QOS, v->qos) &&
	       cJSON_AddNumberToObject(o, K_VLAN_PROTO, v->vlan_proto) &&
	       cJSON_AddNumberToObject(o, K_MIN_TX_RATE, v->min_tx_rate) &&
	       cJSON_AddNumberToObject(o, K_MAX_TX_RATE, v->max_tx_rate) &&
	       cJSON_AddBoolToObject(o, K_SPOOFCHK, v->spoofchk) && cJSON_AddBoolToObject(o, K_TRUST, v->trust) &&
	       cJSON_AddNumberToObject(o, K_LINK_STATE, v->link_state);
}

/* The integer at k in [0, max], else 0: a number out of the field's range
 * is not converted (fuzz finding F3: a plain cast of 1e99 was undefined). */
static int64_t num(const cJSON *o, const char *k, int64_t max)
{
	int64_t v = 0;
	ky_json_int_at(o, k, 0, max, &v);
	return v;
}

void ky_record_vf_from_json(const cJSON *o, struct ky_vf_config *v)
{
	memset(v, 0, sizeof(*v));
	const char *mac = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, K_MAC));
	if (!cJSON_IsObject(o) || !mac || ky_parse_mac(mac, v->mac) < 0)
		return;
	v->mask = (unsigned)num(o, K_MASK, UINT32_MAX);
	v->vlan = (uint16_t)num(o, K_VLAN, UINT16_MAX);
	v->qos = (uint8_t)num(o, K_QOS, UINT8_MAX);
	v->vlan_proto = (uint16_t)num(o, K_VLAN_PROTO, UINT16_MAX);
	v->min_tx_rate = (uint32_t)num(o, K_MIN_TX_RATE, UINT32_MAX);
	v->max_tx_rate = (uint32_t)num(o, K_MAX_TX_RATE, UINT32_MAX);
	v->spoofchk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, K_SPOOFCHK));
	v->trust = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, K_TRUST));
	v->link_state = (enum ky_vf_link_state)num(o, K_LINK_STATE, KY_VF_LINK_STATE_DISABLE);
}

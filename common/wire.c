/* wire.c — checked JSON parsing and the topic framing of broker events. */
#include "wire.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

/* One pass over the text outside strings: nesting depth, and "\u0000" inside strings (cJSON
 * would silently cut the string there). */
static const char *
wire_prescan(const char *s, size_t len)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\') {
				if (i + 5 < len && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0)
					return "strings may not contain \\u0000";
				i++;
			} else if (c == '"') {
				in_str = false;
			}
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++depth > MADANG_JSON_DEPTH_MAX)
				return "JSON nested too deeply";
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == '\0') {
			return "NUL byte in JSON";
		}
	}
	return NULL;
}

cJSON *
wire_parse_object(const char *buf, size_t len, size_t max, const char **why)
{
	const char *end = NULL;
	cJSON *root;

	if (len > max) {
		*why = "request too large";
		return NULL;
	}
	if (!utf8_valid(buf, len)) {
		*why = "not valid UTF-8";
		return NULL;
	}
	if ((*why = wire_prescan(buf, len)) != NULL)
		return NULL;
	root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (root == NULL) {
		*why = "not valid JSON";
		return NULL;
	}
	/* Only white space may follow the value. */
	for (const char *p = end; p != NULL && p < buf + len; p++) {
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			cJSON_Delete(root);
			*why = "trailing data after JSON";
			return NULL;
		}
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		*why = "not a JSON object";
		return NULL;
	}
	*why = NULL;
	return root;
}

const char *
wire_str(const cJSON *obj, const char *key, size_t *len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return NULL;
	if (len)
		*len = strlen(v->valuestring);
	return v->valuestring;
}

bool
wire_int(const cJSON *obj, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d > 9007199254740992.0 || d < -9007199254740992.0)
		return false;
	*out = (int64_t)d;
	return true;
}

bool
wire_bool(const cJSON *obj, const char *key, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsBool(v))
		return false;
	*out = cJSON_IsTrue(v);
	return true;
}

bool
wire_has(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

cJSON *
wire_error(const char *code, const char *message)
{
	cJSON *r = cJSON_CreateObject();

	if (r == NULL)
		return NULL;
	cJSON_AddBoolToObject(r, "ok", 0);
	cJSON_AddStringToObject(r, "error", code);
	cJSON_AddStringToObject(r, "message", message);
	return r;
}

cJSON *
wire_ok(void)
{
	cJSON *r = cJSON_CreateObject();

	if (r != NULL)
		cJSON_AddBoolToObject(r, "ok", 1);
	return r;
}

size_t
wire_topic(char *buf, size_t size, char kind, const char *id)
{
	int n = snprintf(buf, size, "%c/%s\n", kind, id);

	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}

bool
wire_split_event(const char *body, size_t len, const char **topic, size_t *topic_len,
		 const char **json, size_t *json_len)
{
	const char *nl = memchr(body, '\n', len < WIRE_TOPIC_MAX + 1 ? len : WIRE_TOPIC_MAX + 1);

	if (nl == NULL || nl == body)
		return false;
	*topic = body;
	*topic_len = (size_t)(nl - body);
	*json = nl + 1;
	*json_len = len - *topic_len - 1;
	return *json_len > 0;
}

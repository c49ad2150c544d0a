/* endpoints.h — inside madang-api's handler (not for other modules): the endpoint functions that
 * api_handle() dispatches to, and the response helpers they share. Each endpoint fills r with the
 * complete answer, success or error. */
#ifndef MADANG_API_ENDPOINTS_H
#define MADANG_API_ENDPOINTS_H

#include "api.h"

#define API_JSON_TYPE    "application/json; charset=utf-8"
#define API_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Replaces r's body with the JSON text of obj (deleted here; NULL means out of memory: 500). */
void api_set_json(struct api_response *r, int status, cJSON *obj);

void api_ep_rooms(const struct api_config *cfg, const struct api_input *in, struct api_response *r);
void api_ep_room(const struct api_config *cfg, const struct api_input *in, const char *room_id,
                 struct api_response *r);
void api_ep_messages(const struct api_config *cfg, const struct api_input *in,
                     const struct api_request *rq, const char *room_id, struct api_response *r);
void api_ep_create(const struct api_config *cfg, const struct api_input *in,
                   const struct api_request *rq, struct api_response *r);
void api_ep_delete(const struct api_config *cfg, const struct api_input *in, const char *room_id,
                   struct api_response *r);
void api_ep_health(const struct api_config *cfg, const struct api_input *in,
                   struct api_response *r);
void api_ep_metrics(const struct api_config *cfg, const struct api_input *in,
                    struct api_response *r);

/* Reads and drops up to API_DRAIN_MAX bytes of an oversized body, so that the web server is not
 * cut off in the middle of sending it. */
void api_ep_drain(const struct api_input *in);

#endif

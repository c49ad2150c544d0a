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

/* Sends req (deleted here) to the broker. Returns the reply when it says ok:true; otherwise fills
 * r with the matching error response (broker errors mapped to HTTP statuses) and returns NULL. */
cJSON *api_broker(const struct api_config *cfg, const struct api_input *in, cJSON *req,
                  struct api_response *r);

/* {"op":name,"room_id":room_id}, or NULL when out of memory. */
cJSON *api_op_room(const char *name, const char *room_id);

/* Adds "actor":{"name","subject"?,"admin"} naming who (the admin token's actor has no subject)
 * to req. False when out of memory. */
bool api_add_actor(cJSON *req, const struct api_actor *who);

/* Copies the listed fields (NULL-terminated) of src that exist into a new object, in order. */
cJSON *api_pick(const cJSON *src, const char *const *keys);

/* Reads the request body as one JSON object (application/json, at most API_BODY_MAX bytes).
 * Returns it (cJSON_Delete it), or NULL with r filled (415 with type_msg, 413, 400). */
cJSON *api_read_object(const struct api_input *in, const struct api_request *rq,
                       const char *type_msg, struct api_response *r);

/* A 204 answer without a body. */
void api_set_empty(struct api_response *r);

void api_ep_rooms(const struct api_config *cfg, const struct api_input *in, struct api_response *r);
void api_ep_room(const struct api_config *cfg, const struct api_input *in, const char *room_id,
                 const struct api_actor *who, struct api_response *r);
void api_ep_messages(const struct api_config *cfg, const struct api_input *in,
                     const struct api_request *rq, const char *room_id, struct api_response *r);
void api_ep_create(const struct api_config *cfg, const struct api_input *in,
                   const struct api_request *rq, const struct api_actor *who,
                   struct api_response *r);
void api_ep_delete(const struct api_config *cfg, const struct api_input *in, const char *room_id,
                   struct api_response *r);
void api_ep_health(const struct api_config *cfg, const struct api_input *in,
                   struct api_response *r);
void api_ep_metrics(const struct api_config *cfg, const struct api_input *in,
                    struct api_response *r);

/* The moderation endpoints (moderation.c): kicks, bans, mutes, deleting a message, PATCH of a
 * room, the audit trail. who has the admin token or a valid JWT (checked by api_handle). */
void api_ep_moderate(const struct api_config *cfg, const struct api_input *in,
                     const struct api_request *rq, const struct api_route *rt,
                     const struct api_actor *who, struct api_response *r);

/* Reads and drops up to API_DRAIN_MAX bytes of an oversized body, so that the web server is not
 * cut off in the middle of sending it. */
void api_ep_drain(const struct api_input *in);

#endif

/* ws_rpc_text.c — what madang-ws's broker requests say: the request object every caller starts
 * from (rpc_req) and the name of a failure (rpc_strerror). ws_rpc.h. */
#include <nng/nng.h>

#include "ws_rpc.h"
#include "ws_state.h"

const char *
rpc_strerror(int rv)
{
	return rv == RPC_EBUSY    ? "too many requests waiting"
	       : rv == RPC_ENOMEM ? "out of memory"
	                          : nng_strerror(rv);
}

cJSON *
rpc_req(const char *op, const struct ws_session *s)
{
	cJSON *r = cJSON_CreateObject();

	if (r == NULL)
		return NULL;
	cJSON_AddStringToObject(r, "op", op);
	cJSON_AddStringToObject(r, "frontend", ws->o.id);
	if (s != NULL)
		cJSON_AddStringToObject(r, "session", s->id);
	return r;
}

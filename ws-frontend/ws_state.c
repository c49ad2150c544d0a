/* ws_state.c — the state every layer of madang-ws reads (ws_state.h). */
#include "ws_state.h"

static struct ws_shared shared;
struct ws_shared *ws = &shared;

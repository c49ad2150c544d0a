#!/bin/sh
# 31-ws-libev.sh — the whole madang-ws suite (30-ws.sh) again with --event-loop libev: the
# same daemons and tests, with lws running on libev's epoll loop instead of poll().
export WS_LOOP_ARGS="--event-loop libev" T_NAME=ws-libev
exec sh "$MADANG_ROOT/tests/suites/30-ws.sh"

#!/bin/sh
# 31-ws-poll.sh — the whole madang-ws suite (30-ws.sh) again with --event-loop poll: the same
# daemons and tests, with lws walking its sockets with poll() instead of the default libev.
export WS_LOOP_ARGS="--event-loop poll" T_NAME=ws-poll
exec sh "$MADANG_ROOT/tests/suites/30-ws.sh"

#!/bin/sh
# 31-ws-poll.sh — the whole madang-ws suite (30-ws.sh) again with --event-loop poll: the same
# daemons and tests, with lws walking its sockets with poll() instead of the default libev, and
# with the broker's --no-bundles, so that room events reach the front-ends on their room topics
# (r/<room_id>) rather than bundled. brokers.test.mjs, which starts its own daemons with their
# defaults, runs in 30-ws only.
# runner: alongside (tests/run.sh: beside 41-apache, which has daemons, Apache and ports of its own)
export WS_LOOP_ARGS="--event-loop poll" WS_BROKER_ARGS="--no-bundles" T_NAME=ws-poll
exec sh "$MADANG_ROOT/tests/suites/30-ws.sh"

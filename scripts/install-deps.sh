#!/bin/sh
# install-deps.sh — installs the Debian packages madang needs, only those missing.
#
# Usage: scripts/install-deps.sh [build|test|run|bench|all]...
#   build  compilers and -dev libraries (the default)
#   test   build + what the test suites drive for real (nginx, apache2, PostgreSQL 15, chromium and a
#          Korean font for its screenshots, node, clang for fuzzing, valgrind, systemd)
#   run    build + nginx
#   bench  build + nginx, jq and node (the reference server)
# Idempotent: it asks dpkg first and calls apt-get only when something is missing, as root or
# through sudo. Prints nothing when everything is already there.
set -eu

want_build="gcc make pkg-config libc6-dev libwebsockets-dev libnng-dev libfcgi-dev libcjson-dev \
libcmocka-dev libssl-dev libsqlite3-dev libunistring-dev libpq-dev"
want_run="nginx"
want_bench="nginx jq"
want_test="apache2 chromium fonts-nanum nodejs npm procps curl clang valgrind systemd util-linux \
postgresql-15"

set -- "${@:-build}"
pkgs="$want_build"
for what in "$@"; do
	case "$what" in
	build) ;;
	run) pkgs="$pkgs $want_run" ;;
	bench) pkgs="$pkgs $want_bench nodejs npm" ;;
	test | all) pkgs="$pkgs $want_run $want_bench $want_test" ;;
	*)
		echo "install-deps: unknown set '$what' (build, test, run, bench, all)" >&2
		exit 2
		;;
	esac
done

missing=""
for p in $pkgs; do
	case "$p" in
	nodejs | npm)
		# The machine may carry its own Node.js outside dpkg; any working node/npm will do.
		command -v "${p%js}" >/dev/null 2>&1 && continue
		[ "$p" = nodejs ] && command -v node >/dev/null 2>&1 && continue
		;;
	nginx)
		command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] && continue
		;;
	esac
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo -n"
else
	echo "install-deps: not root and no sudo; install these by hand:$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; refresh them once when apt cannot find a package.
if ! $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1; then
	$sudo apt-get update -q >/dev/null
	$sudo apt-get install -y -q --no-install-recommends $missing
fi

#!/bin/sh
# render-apache.sh — writes a complete, private Apache 2.4 configuration for madang: the site
# deploy/apache/madang.conf with its marked directives ("# @vhost", "# @root", "# @rootdir",
# "# @api", "# @ws" on the line above each) rewritten, inside a server config that loads its
# modules from /usr/lib/apache2/modules and keeps every file it writes under DIR.
#
# Usage: scripts/render-apache.sh --out DIR --port PORT --web-root DIR
#                                 --api unix:PATH|HOST:PORT --ws HOST:PORT[,HOST:PORT...]
#                                 [--tls-cert FILE --tls-key FILE]
# Then:  apache2 -f DIR/httpd.conf -DFOREGROUND
#
# With --tls-cert and --tls-key the site is deploy/apache/madang-tls.conf: HTTPS (and wss://) on
# PORT with that certificate (mod_ssl); its HTTP-to-HTTPS redirect host is left out.
#
# It listens on 127.0.0.1:PORT only. Apache never serves as root: started as root (as the tests
# and `make run` are here) its workers switch to www-data (or nobody), who must be able to read
# the web root and, for --api unix:PATH, connect to that socket (madang-api makes it 0666; its
# directory must be searchable). Started as another user, everything runs as that user.
set -eu

die() {
	echo "render-apache: $*" >&2
	exit 2
}

out="" port="" web_root="" api="" ws="" tls_cert="" tls_key=""
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || die "$1 needs a value"
	case "$1" in
	--out) out=$2 ;;
	--port) port=$2 ;;
	--web-root) web_root=$2 ;;
	--api) api=$2 ;;
	--ws) ws=$2 ;;
	--tls-cert) tls_cert=$2 ;;
	--tls-key) tls_key=$2 ;;
	*) die "unknown option $1 (see the usage at the top of $0)" ;;
	esac
	shift 2
done
[ -n "$out" ] && [ -n "$port" ] && [ -n "$web_root" ] && [ -n "$api" ] && [ -n "$ws" ] ||
	die "usage: $0 --out DIR --port PORT --web-root DIR --api unix:PATH|HOST:PORT --ws HOST:PORT[,...]"

root=$(cd "$(dirname "$0")/.." && pwd)
site="$root/deploy/apache/madang.conf"
mods=/usr/lib/apache2/modules

safe_path() {
	case "$1" in
	/*) ;;
	*) die "$2 must be an absolute path: $1" ;;
	esac
	case "$1" in
	*[!A-Za-z0-9_./+@-]*) die "$2 has characters Apache would misread: $1" ;;
	esac
}
host_port() {
	echo "$1" | grep -Eq '^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$' ||
		die "$2 must be HOST:PORT: $1"
}
case "$port" in
'' | *[!0-9]*) die "--port must be a number: $port" ;;
esac
[ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "--port must be 1..65535: $port"
out=$(mkdir -p "$out" && cd "$out" && pwd)
safe_path "$out" --out
web_root=$(cd "$web_root" 2>/dev/null && pwd) || die "--web-root is not a directory"
safe_path "$web_root" --web-root
case "$api" in
unix:*)
	safe_path "${api#unix:}" --api
	api_url="unix:${api#unix:}|fcgi://localhost/api/"
	;;
*)
	host_port "$api" --api
	api_url="fcgi://$api/api/"
	;;
esac
ws_list=$(echo "$ws" | tr ',' ' ')
for a in $ws_list; do host_port "$a" --ws; done
tls_mods=""
if [ -n "$tls_cert$tls_key" ]; then
	[ -f "$tls_cert" ] && [ -f "$tls_key" ] || die "--tls-cert and --tls-key must both be files"
	tls_cert=$(cd "$(dirname "$tls_cert")" && pwd)/$(basename "$tls_cert")
	tls_key=$(cd "$(dirname "$tls_key")" && pwd)/$(basename "$tls_key")
	safe_path "$tls_cert" --tls-cert
	safe_path "$tls_key" --tls-key
	site="$root/deploy/apache/madang-tls.conf"
	tls_mods="ssl socache_shmcb"
fi
[ -f "$site" ] || die "missing $site"
[ -f "$mods/mod_proxy_fcgi.so" ] || die "missing $mods/mod_proxy_fcgi.so (is apache2 installed?)"
mkdir -p "$out/logs" "$out/run"

awk -v port="$port" -v web_root="$web_root" -v api="$api_url" -v ws="$ws_list" \
	-v cert="$tls_cert" -v key="$tls_key" -v logs="$out/logs" '
function indent(line) { match(line, /^[ \t]*/); return substr(line, 1, RLENGTH) }
skipping { if ($0 ~ /^<\/VirtualHost>/) skipping = 0; next }
/^[ \t]*# @[a-z]+$/ { mark = $0; sub(/^[ \t]*# @/, "", mark); next }
mark == "redirect" { skipping = 1; mark = ""; next }
mark == "cert"    { print indent($0) "SSLCertificateFile \"" cert "\""; mark = ""; next }
mark == "key"     { print indent($0) "SSLCertificateKeyFile \"" key "\""; mark = ""; next }
mark == "vhost"   { print "<VirtualHost 127.0.0.1:" port ">"; mark = ""; next }
mark == "root"    { print indent($0) "DocumentRoot \"" web_root "\""; mark = ""; next }
mark == "rootdir" { print indent($0) "<Directory \"" web_root "\">"; mark = ""; next }
mark == "log" || mark == "wslog" {
	line = $0
	sub(/"\$\{APACHE_LOG_DIR\}/, "\"" logs, line)
	print line; mark = ""; next
}
mark == "api"     { print indent($0) "ProxyPass \"/api/\" \"" api "\" retry=0 timeout=15"; mark = ""; next }
mark == "ws"      {
	n = split(ws, a, " ")
	for (i = 1; i <= n; i++)
		print indent($0) "BalancerMember \"http://" a[i] "\" upgrade=websocket timeout=3600 retry=2"
	mark = ""
	next
}
{ print }
' "$site" >"$out/madang-site.conf"

user_lines="# not root: the workers keep this user"
if [ "$(id -u)" -eq 0 ]; then
	if getent passwd www-data >/dev/null 2>&1; then
		user_lines="User www-data
Group www-data"
	else
		user_lines="User nobody
Group nogroup"
	fi
fi

{
	cat <<CONF
# Generated by scripts/render-apache.sh; edit deploy/apache/madang.conf instead.
# Run: apache2 -f $out/httpd.conf -DFOREGROUND
ServerRoot "$out"
DefaultRuntimeDir "$out/run"
PidFile "$out/run/httpd.pid"
Mutex file:$out/run default
Listen 127.0.0.1:$port
ServerName 127.0.0.1
ServerTokens Prod
ServerSignature Off
ErrorLog "$out/logs/error.log"
LogLevel warn
CONF
	# Debian compiles unixd and log_config in; load them only where they are modules.
	builtin=$(apache2 -l 2>/dev/null || /usr/sbin/apache2 -l 2>/dev/null || true)
	for m in mpm_event unixd authz_core mime dir headers deflate filter log_config \
		proxy proxy_fcgi proxy_http proxy_wstunnel proxy_balancer lbmethod_byrequests \
		slotmem_shm $tls_mods; do
		case "$builtin" in *"mod_$m.c"*) continue ;; esac
		[ -f "$mods/mod_$m.so" ] || die "missing $mods/mod_$m.so"
		echo "LoadModule ${m}_module $mods/mod_$m.so"
	done
	cat <<CONF
$user_lines
StartServers 1
ServerLimit 2
ThreadsPerChild 64
MaxRequestWorkers 128
TypesConfig /etc/mime.types
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog "$out/logs/access.log" common
<Directory />
	AllowOverride None
	Require all denied
</Directory>
Include "$out/madang-site.conf"
CONF
} >"$out/httpd.conf"

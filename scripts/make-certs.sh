#!/bin/sh
# make-certs.sh — a deployment's CA and one certificate per madang host, for tls+tcp:// links
# (docs/security.md "TLS between the daemons", docs/deploy-systemd.md "More than one machine").
set -eu

usage() {
	cat <<'EOF'
usage: scripts/make-certs.sh [--dir DIR] [--days N] [--ca-days N] [--new-ca] [--renew]
                             HOST[:NAME,ADDR,...] ...

Makes, with openssl, in DIR (default ./madang-certs, created mode 0700):
  ca.crt, ca.key     the deployment's CA (EC P-256); made once, then reused
  HOST.pem           HOST's certificate followed by its key (mode 0600): the
                     file --tls-cert takes on that host
  HOST.crt           the certificate alone (to inspect it)
Every daemon gets --tls-ca DIR/ca.crt (copy ca.crt, never ca.key, to the hosts).

HOST is the host's name; it and every NAME or ADDR after the colon go into the
certificate's subjectAltName (an address as both IP and DNS entry: the mbedTLS in
Debian's nng matches --tls-server-name against DNS entries only). A certificate
serves both sides of a link: the broker presents it to front-ends, and
front-ends present theirs to the broker.

  --dir DIR     output directory (default ./madang-certs)
  --days N      validity of host certificates in days (default 825)
  --ca-days N   validity of a new CA in days (default 3650)
  --new-ca      replace an existing CA (every certificate it signed stops working)
  --renew       replace existing host certificates (default: keep them)
  -h, --help    this text

Without --new-ca an existing CA is never overwritten, and without --renew an existing
HOST.pem is kept, so running the script again only adds what is missing.

Example (one broker, two front-end hosts):
  scripts/make-certs.sh --dir /root/madang-certs broker:broker.example.net,10.0.0.10 \
      edge-1:10.0.0.21 edge-2:10.0.0.22
EOF
}

die() {
	echo "make-certs.sh: $*" >&2
	exit 2
}

dir=./madang-certs
days=825
ca_days=3650
new_ca=0
renew=0
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) [ $# -ge 2 ] || die "--dir needs a value"; dir=$2; shift 2 ;;
	--days) [ $# -ge 2 ] || die "--days needs a value"; days=$2; shift 2 ;;
	--ca-days) [ $# -ge 2 ] || die "--ca-days needs a value"; ca_days=$2; shift 2 ;;
	--new-ca) new_ca=1; shift ;;
	--renew) renew=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage >&2; die "unknown option $1" ;;
	*) break ;;
	esac
done
case "$days" in '' | *[!0-9]*) die "--days is a number of days" ;; esac
case "$ca_days" in '' | *[!0-9]*) die "--ca-days is a number of days" ;; esac
[ "$days" -ge 1 ] && [ "$days" -le 36500 ] || die "--days is 1..36500"
[ "$ca_days" -ge 1 ] && [ "$ca_days" -le 36500 ] || die "--ca-days is 1..36500"
command -v openssl >/dev/null 2>&1 || die "openssl is not installed"

# Check every host spec before writing anything.
for spec in "$@"; do
	host=${spec%%:*}
	case "$host" in
	'' | *[!A-Za-z0-9.-]*) die "host '$host': use letters, digits, '.' and '-'" ;;
	esac
	[ "${#host}" -le 64 ] || die "host '$host': at most 64 characters"
	if [ "$spec" != "$host" ]; then
		sans=${spec#*:}
		case "$sans" in
		'' | *[!A-Za-z0-9.:,-]*) die "'$spec': names and addresses are letters, digits, '.', ':' and '-'" ;;
		esac
	fi
done

umask 077
if [ ! -d "$dir" ]; then
	mkdir -p "$dir"
fi
chmod 700 "$dir"

ca_crt=$dir/ca.crt
ca_key=$dir/ca.key
if [ -e "$ca_crt" ] || [ -e "$ca_key" ]; then
	if [ "$new_ca" = 1 ]; then
		echo "make-certs.sh: replacing the CA in $dir (--new-ca): certificates it signed stop working"
		rm -f "$ca_crt" "$ca_key"
	else
		[ -f "$ca_crt" ] && [ -f "$ca_key" ] ||
			die "$dir has only one of ca.crt and ca.key: fix it, or give --new-ca"
		echo "make-certs.sh: reusing the CA in $dir"
	fi
fi
if [ ! -e "$ca_crt" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$ca_key" -out "$ca_crt" -days "$ca_days" -subj "/CN=madang CA" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null ||
		die "openssl could not make the CA"
	chmod 600 "$ca_key"
	chmod 644 "$ca_crt"
	echo "make-certs.sh: made a new CA: $ca_crt"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

for spec in "$@"; do
	host=${spec%%:*}
	pem=$dir/$host.pem
	if [ -e "$pem" ] && [ "$renew" = 0 ]; then
		if openssl verify -CAfile "$ca_crt" "$pem" >/dev/null 2>&1; then
			echo "make-certs.sh: $pem exists, kept (--renew replaces it)"
			continue
		fi
		die "$pem exists but is not signed by $ca_crt: give --renew to replace it"
	fi
	san="DNS:$host"
	if [ "$spec" != "$host" ]; then
		old_ifs=$IFS
		IFS=,
		for n in ${spec#*:}; do
			[ -n "$n" ] || continue
			# An address goes in as IP (for verifiers that match addresses) and as
			# DNS (the only kind mbedTLS 2.28 compares with the server name).
			if printf '%s' "$n" | grep -Eq '^([0-9]{1,3}[.]){3}[0-9]{1,3}$|:'; then
				san="$san,IP:$n,DNS:$n"
			else
				san="$san,DNS:$n"
			fi
		done
		IFS=$old_ifs
	fi
	cat >"$work/ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
EOF
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key" \
		-out "$work/csr" -subj "/CN=$host" 2>/dev/null ||
		die "openssl could not make a key for $host"
	openssl x509 -req -in "$work/csr" -CA "$ca_crt" -CAkey "$ca_key" \
		-set_serial "0x$(openssl rand -hex 16)" -days "$days" -extfile "$work/ext" \
		-out "$work/crt" 2>/dev/null || die "openssl could not sign $host's certificate"
	cat "$work/crt" "$work/key" >"$work/pem"
	chmod 600 "$work/pem"
	chmod 644 "$work/crt"
	mv -f "$work/pem" "$pem"
	mv -f "$work/crt" "$dir/$host.crt"
	rm -f "$work/key" "$work/csr"
	echo "make-certs.sh: $pem ($san)"
done

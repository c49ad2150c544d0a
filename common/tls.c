/* tls.c — the --tls-* options, their start-up checks (with OpenSSL's libcrypto: nng's mbedTLS
 * loads a key that does not match its certificate without a word) and nng's TLS configs. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <nng/supplemental/tls/tls.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "log.h"

int
tls_opt_set(struct tls_opts *o, int c, const char *optarg)
{
	switch (c) {
	case TLS_OPT_CA:
		o->ca_file = optarg;
		return 1;
	case TLS_OPT_CERT:
		o->cert_file = optarg;
		return 1;
	case TLS_OPT_SERVER_NAME:
		o->server_name = optarg;
		return 1;
	default:
		return 0;
	}
}

bool
tls_url_is_tls(const char *url)
{
	return strncmp(url, "tls+tcp://", 10) == 0 || strncmp(url, "tls+tcp4://", 11) == 0 ||
	       strncmp(url, "tls+tcp6://", 11) == 0;
}

static bool
url_is_plain_tcp(const char *url)
{
	return strncmp(url, "tcp://", 6) == 0 || strncmp(url, "tcp4://", 7) == 0 ||
	       strncmp(url, "tcp6://", 7) == 0;
}

int
tls_url_host(const char *url, char *out, size_t outsz)
{
	const char *h = strstr(url, "://"), *end;

	if (h == NULL)
		return -1;
	h += 3;
	if (*h == '[') {
		h++;
		if ((end = strchr(h, ']')) == NULL || end[1] != ':')
			return -1;
	} else if ((end = strrchr(h, ':')) == NULL || strchr(h, '/') != NULL) {
		return -1;
	}
	if ((size_t)(end - h) >= outsz)
		return -1;
	memcpy(out, h, (size_t)(end - h));
	out[end - h] = '\0';
	return 0;
}

bool
tls_url_is_loopback(const char *url)
{
	char host[TLS_NAME_MAX + 1];
	struct in6_addr a6;
	struct in_addr a4;

	if (tls_url_host(url, host, sizeof(host)) != 0)
		return false;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return strcmp(host, "localhost") == 0;
}

/* Never prompts for a passphrase: an encrypted key is refused (nng gets no passphrase). */
static int
no_password_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Opens path for reading, or writes why not into err. */
static FILE *
open_pem(const char *flag, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "re");

	if (f == NULL)
		snprintf(err, errsz, "%s %s: cannot read it: %s", flag, path, strerror(errno));
	return f;
}

/* Reads every certificate of path into a new store (the trusted CAs). */
static X509_STORE *
load_ca(const char *path, char *err, size_t errsz)
{
	X509_STORE *store;
	X509 *x;
	FILE *f;
	int n = 0;

	if ((f = open_pem("--tls-ca", path, err, errsz)) == NULL)
		return NULL;
	if ((store = X509_STORE_new()) == NULL) {
		fclose(f);
		snprintf(err, errsz, "--tls-ca %s: out of memory", path);
		return NULL;
	}
	while ((x = PEM_read_X509(f, NULL, no_password_cb, NULL)) != NULL) {
		int rv = X509_STORE_add_cert(store, x);
		X509_free(x);
		if (rv != 1)
			break;
		n++;
	}
	fclose(f);
	ERR_clear_error(); /* the end of the file reads as "no start line" */
	if (n == 0) {
		snprintf(err, errsz, "--tls-ca %s: no PEM certificate in it", path);
		X509_STORE_free(store);
		return NULL;
	}
	return store;
}

/* Checks --tls-cert: its first certificate, the ones after it (a chain), its key, that the key
 * matches, and that the certificate verifies against the CAs in store now. */
static int
check_cert(const char *path, X509_STORE *store, const char *who, char *err, size_t errsz)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	X509_STORE_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *x;
	struct stat st;
	FILE *f;
	int rv = -1;

	if (chain == NULL || (f = open_pem("--tls-cert", path, err, errsz)) == NULL)
		goto out;
	if ((cert = PEM_read_X509(f, NULL, no_password_cb, NULL)) == NULL) {
		fclose(f);
		snprintf(err, errsz, "--tls-cert %s: no PEM certificate in it", path);
		goto out;
	}
	while ((x = PEM_read_X509(f, NULL, no_password_cb, NULL)) != NULL)
		if (!sk_X509_push(chain, x))
			X509_free(x);
	ERR_clear_error();
	rewind(f);
	key = PEM_read_PrivateKey(f, NULL, no_password_cb, NULL);
	ERR_clear_error();
	if (key != NULL && fstat(fileno(f), &st) == 0 && (st.st_mode & 0077) != 0)
		log_warn("%s: --tls-cert %s holds a private key and others may read it (chmod 600)",
		         who, path);
	fclose(f);
	if (key == NULL) {
		snprintf(err, errsz,
		         "--tls-cert %s: no unencrypted private key in it (the file must hold the "
		         "certificate and then its key, as scripts/make-certs.sh writes it)",
		         path);
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		snprintf(err, errsz, "--tls-cert %s: the key does not match the certificate", path);
		goto out;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, store, cert, chain) != 1) {
		snprintf(err, errsz, "--tls-cert %s: out of memory", path);
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		snprintf(err, errsz,
		         "--tls-cert %s: the certificate does not verify against --tls-ca: %s",
		         path, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		ERR_clear_error();
		goto out;
	}
	rv = 0;
out:
	X509_STORE_CTX_free(ctx);
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(chain, X509_free);
	return rv;
}

int
tls_check(const struct tls_opts *o, const char *const *urls, size_t n, bool dialer, const char *who,
          char *err, size_t errsz)
{
	const char *tls_url = NULL;
	X509_STORE *store;
	int rv;

	for (size_t i = 0; i < n; i++) {
		if (tls_url_is_tls(urls[i]) && tls_url == NULL)
			tls_url = urls[i];
		else if (url_is_plain_tcp(urls[i]) && !tls_url_is_loopback(urls[i]))
			log_warn(
			    "%s: %s is plain tcp:// off loopback: the link is neither encrypted "
			    "nor authenticated (use tls+tcp:// with --tls-ca and --tls-cert)",
			    who, urls[i]);
	}
	if (tls_url == NULL) {
		if (o->ca_file == NULL && o->cert_file == NULL && o->server_name == NULL)
			return 0;
		snprintf(err, errsz,
		         "--tls-%s given but no URL is tls+tcp:// (the link would not "
		         "be protected)",
		         o->ca_file != NULL     ? "ca"
		         : o->cert_file != NULL ? "cert"
		                                : "server-name");
		return -1;
	}
	if (o->ca_file == NULL || o->cert_file == NULL) {
		snprintf(err, errsz, "%s needs --tls-ca and --tls-cert (missing: %s)", tls_url,
		         o->ca_file == NULL && o->cert_file == NULL ? "both"
		         : o->ca_file == NULL                       ? "--tls-ca"
		                                                    : "--tls-cert");
		return -1;
	}
	if (dialer && o->server_name != NULL &&
	    (o->server_name[0] == '\0' || strlen(o->server_name) > TLS_NAME_MAX)) {
		snprintf(err, errsz, "--tls-server-name must have 1 to %d bytes", TLS_NAME_MAX);
		return -1;
	}
	if ((store = load_ca(o->ca_file, err, errsz)) == NULL)
		return -1;
	rv = check_cert(o->cert_file, store, who, err, errsz);
	X509_STORE_free(store);
	return rv;
}

/* A TLS config in mode with o's CA and certificate, peers' certificates required. */
static int
config_new(nng_tls_config **out, nng_tls_mode mode, const struct tls_opts *o, char *err,
           size_t errsz)
{
	nng_tls_config *c;
	int rv;

	if (o == NULL || o->ca_file == NULL || o->cert_file == NULL) {
		snprintf(err, errsz, "tls+tcp:// needs --tls-ca and --tls-cert");
		return NNG_EINVAL;
	}
	if ((rv = nng_tls_config_alloc(&c, mode)) != 0) {
		snprintf(err, errsz, "TLS: %s", nng_strerror(rv));
		return rv;
	}
	if ((rv = nng_tls_config_ca_file(c, o->ca_file)) != 0) {
		snprintf(err, errsz, "--tls-ca %s: %s", o->ca_file, nng_strerror(rv));
		goto fail;
	}
	/* One PEM with the certificate and its key: a separate key file fails in nng 1.5.2. */
	if ((rv = nng_tls_config_cert_key_file(c, o->cert_file, NULL)) != 0) {
		snprintf(err, errsz, "--tls-cert %s: %s", o->cert_file, nng_strerror(rv));
		goto fail;
	}
	if ((rv = nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
		snprintf(err, errsz, "TLS: %s", nng_strerror(rv));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	nng_tls_config_free(c);
	return rv;
}

int
tls_listener_config(nng_listener l, const struct tls_opts *o, char *err, size_t errsz)
{
	nng_tls_config *c;
	int rv;

	if ((rv = config_new(&c, NNG_TLS_MODE_SERVER, o, err, errsz)) != 0)
		return rv;
	if ((rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, c)) != 0)
		snprintf(err, errsz, "TLS: %s", nng_strerror(rv));
	nng_tls_config_free(c); /* the listener holds its own reference */
	return rv;
}

int
tls_dialer_config(nng_dialer d, const char *url, const struct tls_opts *o, char *err, size_t errsz)
{
	char host[TLS_NAME_MAX + 1];
	const char *name = o != NULL ? o->server_name : NULL;
	nng_tls_config *c;
	int rv;

	if (name == NULL) {
		if (tls_url_host(url, host, sizeof(host)) != 0 || host[0] == '\0') {
			snprintf(err, errsz,
			         "%s: no host to check the broker's certificate against "
			         "(give --tls-server-name)",
			         url);
			return NNG_EADDRINVAL;
		}
		name = host;
	}
	if ((rv = config_new(&c, NNG_TLS_MODE_CLIENT, o, err, errsz)) != 0)
		return rv;
	if ((rv = nng_tls_config_server_name(c, name)) != 0 ||
	    (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c)) != 0)
		snprintf(err, errsz, "TLS: %s", nng_strerror(rv));
	nng_tls_config_free(c); /* the dialer holds its own reference */
	return rv;
}

/* The watcher: endpoints are added under the lock, read by the one watcher thread. */
struct watch {
	bool listener;
	nng_listener l;
	nng_dialer d;
	char url[256];
	char who[32];
	uint64_t auth, proto; /* counts already logged */
	uint64_t expected; /* refusals still to come that are not a stranger's (tls_watch_expect) */
	uint64_t ours;     /* refusals that were not (in auth, not in the totals logged) */
};

static pthread_mutex_t watch_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct watch watches[TLS_WATCH_MAX];
static int nwatches;
static bool watch_started;

static uint64_t
stat_value(nng_stat *ep, const char *name)
{
	nng_stat *s = ep != NULL ? nng_stat_find(ep, name) : NULL;

	return s != NULL ? nng_stat_value(s) : 0;
}

/* The scope of the listener or dialer (kind) with this id. nng_stat_find_listener in nng 1.5.2
 * returns the first listener whatever its id, so the scopes are matched on their "id" here. */
static nng_stat *
find_endpoint(nng_stat *s, const char *kind, int id)
{
	nng_stat *found, *sid;

	for (; s != NULL; s = nng_stat_next(s)) {
		if (nng_stat_type(s) != NNG_STAT_SCOPE)
			continue;
		if (strcmp(nng_stat_name(s), kind) == 0 && (sid = nng_stat_find(s, "id")) != NULL &&
		    nng_stat_value(sid) == (uint64_t)id)
			return s;
		if ((found = find_endpoint(nng_stat_child(s), kind, id)) != NULL)
			return found;
	}
	return NULL;
}

static void
watch_poll(struct watch *w, nng_stat *all)
{
	nng_stat *ep = w->listener ? find_endpoint(all, "listener", nng_listener_id(w->l))
	                           : find_endpoint(all, "dialer", nng_dialer_id(w->d));
	uint64_t auth = stat_value(ep, "auth"), proto = stat_value(ep, "proto"), mine;

	if (ep == NULL || (auth <= w->auth && proto <= w->proto))
		return;
	mine = auth - w->auth < w->expected ? auth - w->auth : w->expected;
	w->expected -= mine;
	w->ours += mine;
	w->auth += mine;
	if (auth <= w->auth && proto <= w->proto)
		return;
	if (w->listener)
		log_warn("%s: %s refused %llu connection(s) in the TLS handshake (no client "
		         "certificate, one not signed by --tls-ca, or not TLS) and %llu after it "
		         "(not SP); totals %llu and %llu",
		         w->who, w->url, (unsigned long long)(auth - w->auth),
		         (unsigned long long)(proto - w->proto),
		         (unsigned long long)(auth - w->ours), (unsigned long long)proto);
	else
		log_warn("%s: the TLS handshake with the broker at %s failed %llu time(s): its "
		         "certificate is not signed by --tls-ca or does not carry the expected "
		         "name, or it refused ours; total %llu",
		         w->who, w->url, (unsigned long long)(auth - w->auth + proto - w->proto),
		         (unsigned long long)(auth + proto));
	w->auth = auth;
	w->proto = proto;
}

static void *
watch_thread(void *arg)
{
	struct timespec ts = {TLS_WATCH_INTERVAL_MS / 1000,
	                      (TLS_WATCH_INTERVAL_MS % 1000) * 1000000L};
	nng_stat *all;

	(void)arg;
	for (;;) {
		nanosleep(&ts, NULL);
		if (nng_stats_get(&all) != 0)
			continue;
		pthread_mutex_lock(&watch_mtx);
		for (int i = 0; i < nwatches; i++)
			watch_poll(&watches[i], all);
		pthread_mutex_unlock(&watch_mtx);
		nng_stats_free(all);
	}
	return NULL;
}

static int
watch_add(bool listener, nng_listener l, nng_dialer d, const char *url, const char *who)
{
	pthread_t t;
	int rv = -1;

	pthread_mutex_lock(&watch_mtx);
	if (!watch_started) {
		if (pthread_create(&t, NULL, watch_thread, NULL) != 0)
			goto out;
		pthread_detach(t);
		watch_started = true;
	}
	if (nwatches < TLS_WATCH_MAX) {
		struct watch *w = &watches[nwatches++];
		memset(w, 0, sizeof(*w));
		w->listener = listener;
		w->l = l;
		w->d = d;
		snprintf(w->url, sizeof(w->url), "%s", url);
		snprintf(w->who, sizeof(w->who), "%s", who);
		rv = 0;
	}
out:
	pthread_mutex_unlock(&watch_mtx);
	return rv;
}

int
tls_watch_listener(nng_listener l, const char *url, const char *who)
{
	return watch_add(true, l, (nng_dialer)NNG_DIALER_INITIALIZER, url, who);
}

int
tls_watch_dialer(nng_dialer d, const char *url, const char *who)
{
	return watch_add(false, (nng_listener)NNG_LISTENER_INITIALIZER, d, url, who);
}

/* Forgets the watch of the listener or dialer with this id, if any. */
static void
watch_remove(bool listener, int id)
{
	pthread_mutex_lock(&watch_mtx);
	for (int i = 0; i < nwatches; i++) {
		int wid = listener ? nng_listener_id(watches[i].l) : nng_dialer_id(watches[i].d);
		if (watches[i].listener == listener && wid == id) {
			watches[i] = watches[--nwatches];
			break;
		}
	}
	pthread_mutex_unlock(&watch_mtx);
}

void
tls_unwatch_dialer(nng_dialer d)
{
	watch_remove(false, nng_dialer_id(d));
}

void
tls_unwatch_listener(nng_listener l)
{
	watch_remove(true, nng_listener_id(l));
}

void
tls_watch_expect(nng_listener l)
{
	pthread_mutex_lock(&watch_mtx);
	for (int i = 0; i < nwatches; i++)
		if (watches[i].listener && nng_listener_id(watches[i].l) == nng_listener_id(l))
			watches[i].expected++;
	pthread_mutex_unlock(&watch_mtx);
}

int
tls_dial(nng_socket sock, const char *url, const struct tls_opts *o, const char *who, char *err,
         size_t errsz, nng_dialer *out)
{
	nng_dialer d;
	int rv;

	if ((rv = nng_dialer_create(&d, sock, url)) != 0) {
		snprintf(err, errsz, "%s: %s", url, nng_strerror(rv));
		return rv;
	}
	if (tls_url_is_tls(url)) {
		if (o == NULL) {
			snprintf(err, errsz, "%s: a tls+tcp:// URL needs --tls-ca and --tls-cert",
			         url);
			nng_dialer_close(d);
			return NNG_EINVAL;
		}
		char why[512];
		if ((rv = tls_dialer_config(d, url, o, why, sizeof(why))) != 0) {
			snprintf(err, errsz, "%s: %s", url, why);
			nng_dialer_close(d);
			return rv;
		}
	}
	if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(err, errsz, "%s: %s", url, nng_strerror(rv));
		nng_dialer_close(d);
		return rv;
	}
	if (tls_url_is_tls(url))
		tls_watch_dialer(d, url, who);
	if (out != NULL)
		*out = d;
	return 0;
}

/* tls.h — mutual TLS on madang's nng links (tls+tcp://): the --tls-* options every daemon takes,
 * the start-up checks of the files they name, the nng TLS configurations of listeners (the
 * broker: a client certificate signed by the CA is required) and dialers (madang-api, madang-ws:
 * the broker's certificate and name are verified), and a watcher that logs refused handshakes.
 * docs/security.md ("TLS between the daemons") is the operator's side of this. */
#ifndef MADANG_TLS_H
#define MADANG_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <nng/nng.h>

/* What the command line gave; NULL when a flag was not given. The strings are not copied. */
struct tls_opts {
	const char *ca_file;     /* --tls-ca: PEM, the CA that signs every madang peer */
	const char *cert_file;   /* --tls-cert: PEM, this daemon's certificate and its key */
	const char *server_name; /* --tls-server-name (dialers): default the URL's host */
};

/* getopt_long codes of the flags, above every short option and other daemons' codes. */
enum { TLS_OPT_CA = 0x7400, TLS_OPT_CERT, TLS_OPT_SERVER_NAME };

/* Entries for a daemon's struct option table (getopt.h must be included before use). */
#define TLS_LONG_OPTIONS_LISTENER                                 \
	{"tls-ca", required_argument, NULL, TLS_OPT_CA},          \
	{                                                         \
		"tls-cert", required_argument, NULL, TLS_OPT_CERT \
	}
#define TLS_LONG_OPTIONS_DIALER                                                 \
	TLS_LONG_OPTIONS_LISTENER,                                              \
	{                                                                       \
		"tls-server-name", required_argument, NULL, TLS_OPT_SERVER_NAME \
	}

/* Their lines in --help. */
#define TLS_USAGE_COMMON                                                                       \
	"  --tls-ca FILE           with tls+tcp:// URLs: the CA (PEM) that signs every peer\n" \
	"  --tls-cert FILE         with tls+tcp:// URLs: this daemon's certificate and key,\n" \
	"                          one PEM file (scripts/make-certs.sh writes it)\n"
#define TLS_USAGE_LISTENER                                                                     \
	TLS_USAGE_COMMON                                                                       \
	"                          tls+tcp:// listeners require a client certificate signed\n" \
	"                          by --tls-ca; tcp:// off loopback logs a warning\n"
#define TLS_USAGE_DIALER                                                                     \
	TLS_USAGE_COMMON                                                                     \
	"  --tls-server-name NAME  the name the broker's certificate must carry (default:\n" \
	"                          the URL's host); tcp:// off loopback logs a warning\n"

/* Longest --tls-server-name or URL host accepted (a DNS name is at most 253 bytes). */
#define TLS_NAME_MAX 253

/* Stores optarg for a TLS option code c. Returns 1 when c is one of TLS_OPT_*, else 0. */
int tls_opt_set(struct tls_opts *o, int c, const char *optarg);

/* True for URLs nng runs over TLS (tls+tcp://, tls+tcp4://, tls+tcp6://). */
bool tls_url_is_tls(const char *url);

/* Writes url's host (without IPv6 brackets) into out. Returns 0, or -1 when url has no
 * scheme://host:port shape or the host does not fit in outsz. */
int tls_url_host(const char *url, char *out, size_t outsz);

/* True when a tcp:// URL stays on this machine: host 127.0.0.0/8, ::1 or localhost. */
bool tls_url_is_loopback(const char *url);

/* The start-up check of a daemon's TLS flags against its n URLs; dialer says which side it is.
 * Refuses (returns -1 with a reason in err) when: a URL is tls+tcp:// and --tls-ca or
 * --tls-cert is missing; a TLS flag is given but no URL is tls+tcp:// (the operator meant to
 * protect a link that is not protected); a file cannot be read, holds no PEM certificate, or
 * the certificate file holds no key (or an encrypted one); the key does not match the
 * certificate; the certificate is not signed by the CA or is expired or not yet valid; the
 * server name is too long. Logs a warning (prefixed "who: ") for every tcp:// URL off
 * loopback (the link is unauthenticated) and for key files others may read. Returns 0. */
int tls_check(const struct tls_opts *o, const char *const *urls, size_t n, bool dialer,
              const char *who, char *err, size_t errsz);

/* Sets l (a tls+tcp:// listener, not yet started) to present o's certificate and require a
 * client certificate signed by o's CA. Returns 0 or an nng error, with a reason in err. */
int tls_listener_config(nng_listener l, const struct tls_opts *o, char *err, size_t errsz);

/* Sets d (a dialer of the tls+tcp:// URL url, not yet started) to present o's certificate and
 * verify that the broker's is signed by o's CA and carries o->server_name, or url's host when
 * that is NULL. Returns 0 or an nng error, with a reason in err. */
int tls_dialer_config(nng_dialer d, const char *url, const struct tls_opts *o, char *err,
                      size_t errsz);

/* Most endpoints one process watches, and how often their counters are read. */
#define TLS_WATCH_MAX         8
#define TLS_WATCH_INTERVAL_MS 1000

/* Logs, as "who: ...", the handshakes nng refused on a started listener or dialer of url: nng
 * does not tell the application which peer failed, only counts failures per endpoint (its
 * "auth" statistic: bad or missing certificate, wrong name; "proto": not TLS, or not SP).
 * One thread reads the counters every TLS_WATCH_INTERVAL_MS and logs one line per endpoint
 * whose counts grew. Returns 0, or -1 when TLS_WATCH_MAX endpoints are watched already or
 * the thread could not start (nothing is logged for this endpoint then). */
int tls_watch_listener(nng_listener l, const char *url, const char *who);
int tls_watch_dialer(nng_dialer d, const char *url, const char *who);
/* Stops watching dialer d (before it is closed: common/redial.h replaces dialers); nothing when
 * it is not watched. */
void tls_unwatch_dialer(nng_dialer d);
/* The same for a listener (the broker listens anew: broker/listen.c). */
void tls_unwatch_listener(nng_listener l);
/* One more of listener l's refused handshakes is expected, and is not logged: the broker's own
 * probe (broker/listen.c). A refusal that has not shown in nng's counter yet stays expected
 * until it does. Nothing when l is not watched. */
void tls_watch_expect(nng_listener l);

/* Adds a dialer of url to sock, dialing in the background (it keeps redialing while the broker
 * is down, unless nng gives it up: common/redial.h). A tls+tcp:// url gets o's configuration
 * (tls_dialer_config: o must then be non-NULL and already checked by tls_check) and its
 * refused handshakes are logged as "who: ..." (tls_watch_dialer); other URLs ignore o. The
 * dialer goes to *out unless out is NULL. Returns 0, or an nng error with the URL and the
 * reason in err. madang-ws, madang-api and rpc_open_urls (the tests) dial brokers this way. */
int tls_dial(nng_socket sock, const char *url, const struct tls_opts *o, const char *who, char *err,
             size_t errsz, nng_dialer *out);

#endif

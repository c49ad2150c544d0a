/* test_tls.c — common/tls: the --tls-* options, URL helpers, and every way tls_check refuses a
 * configuration, with certificates made by openssl in a temp dir at the start of the group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <getopt.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "log.h"
#include "tls.h"

static char dir[] = "/tmp/madang-test-tls.XXXXXX";
static char path_buf[8][512];
static int path_next;

/* dir/name, in one of a few rotating buffers. */
static const char *
P(const char *name)
{
	char *b = path_buf[path_next++ % 8];
	snprintf(b, sizeof(path_buf[0]), "%s/%s", dir, name);
	return b;
}

static int
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* ca.crt and its host.pem (cert + key), other-ca's other.pem, self.pem (self-signed),
 * nokey.pem (certificate only), mismatch.pem (host's certificate, other's key), garbage.pem. */
static int
make_certs(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	const char *k = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
	if (sh("(cd %s && openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 -subj /CN=ca && "
	       "openssl req -x509 %s -keyout oca.key -out oca.crt -days 2 -subj /CN=oca && "
	       "openssl req %s -keyout host.key -out host.csr -subj /CN=host && "
	       "openssl x509 -req -in host.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 2 "
	       "-out host.crt && "
	       "openssl req %s -keyout other.key -out other.csr -subj /CN=other && "
	       "openssl x509 -req -in other.csr -CA oca.crt -CAkey oca.key -set_serial 3 -days 2 "
	       "-out other.crt && "
	       "openssl req -x509 %s -keyout self.key -out self.crt -days 2 -subj /CN=self && "
	       "cat host.crt host.key >host.pem && cat other.crt other.key >other.pem && "
	       "cat self.crt self.key >self.pem && cp host.crt nokey.pem && "
	       "cat host.crt other.key >mismatch.pem && echo garbage >garbage.pem && "
	       "chmod 600 *.pem) >/dev/null 2>&1",
	       dir, k, k, k, k, k) != 0)
		return -1;
	log_init("test_tls", LOG_LVL_ERROR); /* the off-loopback warnings are not checked here */
	return 0;
}

static int
remove_certs(void **state)
{
	(void)state;
	return sh("rm -rf %s", dir);
}

static const char *tls_urls[] = {"tls+tcp://127.0.0.1:4000", "tls+tcp://broker:4001"};
static const char *plain_urls[] = {"ipc:///run/x.rpc", "tcp://127.0.0.1:4001"};

/* tls_check of o over urls refuses with a reason containing want. */
static void
expect_refused(const struct tls_opts *o, const char **urls, bool dialer, const char *want)
{
	char err[512] = "";

	assert_int_equal(tls_check(o, urls, 2, dialer, "test", err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("refused with \"%s\", expected \"%s\"", err, want);
}

static void
test_opt_set_takes_only_tls_codes(void **state)
{
	struct tls_opts o = {NULL, NULL, NULL};
	(void)state;

	assert_int_equal(tls_opt_set(&o, TLS_OPT_CA, "a"), 1);
	assert_int_equal(tls_opt_set(&o, TLS_OPT_CERT, "b"), 1);
	assert_int_equal(tls_opt_set(&o, TLS_OPT_SERVER_NAME, "c"), 1);
	assert_int_equal(tls_opt_set(&o, 'v', "d"), 0);
	assert_string_equal(o.ca_file, "a");
	assert_string_equal(o.cert_file, "b");
	assert_string_equal(o.server_name, "c");
}

static void
test_url_helpers(void **state)
{
	char h[64];
	(void)state;

	assert_true(tls_url_is_tls("tls+tcp://a:1"));
	assert_true(tls_url_is_tls("tls+tcp6://[::1]:1"));
	assert_false(tls_url_is_tls("tcp://a:1"));
	assert_false(tls_url_is_tls("ipc:///x"));
	assert_int_equal(tls_url_host("tls+tcp://broker.example:4000", h, sizeof(h)), 0);
	assert_string_equal(h, "broker.example");
	assert_int_equal(tls_url_host("tcp://[::1]:4000", h, sizeof(h)), 0);
	assert_string_equal(h, "::1");
	assert_int_equal(tls_url_host("tcp://host", h, sizeof(h)), -1);
	assert_int_equal(tls_url_host("ipc:///run/madang/broker.rpc", h, sizeof(h)), -1);
	assert_int_equal(tls_url_host("tcp://[::1:4000", h, sizeof(h)), -1);
	assert_int_equal(tls_url_host("tcp://a-rather-long-name:1", h, 5), -1);
	assert_true(tls_url_is_loopback("tcp://127.0.0.1:1"));
	assert_true(tls_url_is_loopback("tcp://127.8.9.10:1"));
	assert_true(tls_url_is_loopback("tcp://[::1]:1"));
	assert_true(tls_url_is_loopback("tcp://localhost:1"));
	assert_false(tls_url_is_loopback("tcp://10.0.0.1:1"));
	assert_false(tls_url_is_loopback("tcp://*:1"));
	assert_false(tls_url_is_loopback("tcp://:1"));
	assert_false(tls_url_is_loopback("tcp://127.example.com:1"));
	assert_false(tls_url_is_loopback("tcp://[::ffff:10.0.0.1]:1"));
}

static void
test_check_without_tls_needs_nothing(void **state)
{
	struct tls_opts o = {NULL, NULL, NULL};
	char err[256];
	(void)state;

	assert_int_equal(tls_check(&o, plain_urls, 2, false, "test", err, sizeof(err)), 0);
}

static void
test_check_refuses_tls_url_without_files(void **state)
{
	struct tls_opts none = {NULL, NULL, NULL}, ca_only = {P("ca.crt"), NULL, NULL},
	                cert_only = {NULL, P("host.pem"), NULL};
	(void)state;

	expect_refused(&none, tls_urls, false,
	               "tls+tcp://127.0.0.1:4000 needs --tls-ca and --tls-cert (missing: both)");
	expect_refused(&ca_only, tls_urls, false, "(missing: --tls-cert)");
	expect_refused(&cert_only, tls_urls, true, "(missing: --tls-ca)");
}

static void
test_check_refuses_flags_without_tls_url(void **state)
{
	struct tls_opts o = {P("ca.crt"), P("host.pem"), NULL}, n = {NULL, NULL, "broker"};
	(void)state;

	expect_refused(&o, plain_urls, false, "--tls-ca given but no URL is tls+tcp://");
	expect_refused(&n, plain_urls, true, "--tls-server-name given but no URL is tls+tcp://");
}

static void
test_check_refuses_unreadable_files(void **state)
{
	struct tls_opts ca = {P("none.crt"), P("host.pem"), NULL},
	                cert = {P("ca.crt"), P("none.pem"), NULL};
	(void)state;

	expect_refused(&ca, tls_urls, false, "none.crt: cannot read it: No such file or directory");
	expect_refused(&cert, tls_urls, false,
	               "none.pem: cannot read it: No such file or directory");
}

static void
test_check_refuses_files_that_are_not_pem(void **state)
{
	struct tls_opts ca = {P("garbage.pem"), P("host.pem"), NULL},
	                cert = {P("ca.crt"), P("garbage.pem"), NULL},
	                key_as_ca = {P("host.key"), P("host.pem"), NULL};
	(void)state;

	expect_refused(&ca, tls_urls, false, "garbage.pem: no PEM certificate in it");
	expect_refused(&cert, tls_urls, false, "garbage.pem: no PEM certificate in it");
	expect_refused(&key_as_ca, tls_urls, false, "host.key: no PEM certificate in it");
}

static void
test_check_refuses_certificate_without_key(void **state)
{
	struct tls_opts o = {P("ca.crt"), P("nokey.pem"), NULL};
	(void)state;

	expect_refused(&o, tls_urls, false, "nokey.pem: no unencrypted private key in it");
}

static void
test_check_refuses_mismatched_key(void **state)
{
	struct tls_opts o = {P("ca.crt"), P("mismatch.pem"), NULL};
	(void)state;

	expect_refused(&o, tls_urls, true, "mismatch.pem: the key does not match the certificate");
}

static void
test_check_refuses_certificate_of_another_ca(void **state)
{
	struct tls_opts other = {P("ca.crt"), P("other.pem"), NULL},
	                self = {P("ca.crt"), P("self.pem"), NULL};
	(void)state;

	expect_refused(&other, tls_urls, false,
	               "other.pem: the certificate does not verify against --tls-ca: unable to "
	               "get local issuer certificate");
	expect_refused(&self, tls_urls, false,
	               "self.pem: the certificate does not verify against --tls-ca: self-signed "
	               "certificate");
}

static void
test_check_refuses_bad_server_name(void **state)
{
	static char longname[TLS_NAME_MAX + 2];
	struct tls_opts empty = {P("ca.crt"), P("host.pem"), ""},
	                toolong = {P("ca.crt"), P("host.pem"), longname};
	(void)state;

	memset(longname, 'a', TLS_NAME_MAX + 1);
	expect_refused(&empty, tls_urls, true, "--tls-server-name must have 1 to 253 bytes");
	expect_refused(&toolong, tls_urls, true, "--tls-server-name must have 1 to 253 bytes");
}

static void
test_check_accepts_good_files(void **state)
{
	struct tls_opts o = {P("ca.crt"), P("host.pem"), "broker"};
	char err[256] = "";
	(void)state;

	assert_int_equal(tls_check(&o, tls_urls, 2, true, "test", err, sizeof(err)), 0);
	o.server_name = NULL;
	assert_int_equal(tls_check(&o, tls_urls, 2, false, "test", err, sizeof(err)), 0);
}

static void
test_configs_set_on_endpoints(void **state)
{
	struct tls_opts o = {P("ca.crt"), P("host.pem"), NULL}, none = {NULL, NULL, NULL};
	nng_socket rep, req;
	nng_listener l;
	nng_dialer d;
	char err[256];
	(void)state;

	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(nng_req0_open(&req), 0);
	assert_int_equal(nng_listener_create(&l, rep, "tls+tcp://127.0.0.1:0"), 0);
	assert_int_equal(tls_listener_config(l, &o, err, sizeof(err)), 0);
	assert_int_equal(tls_listener_config(l, &none, err, sizeof(err)), NNG_EINVAL);
	assert_string_equal(err, "tls+tcp:// needs --tls-ca and --tls-cert");
	assert_int_equal(nng_dialer_create(&d, req, "tls+tcp://127.0.0.1:9"), 0);
	assert_int_equal(tls_dialer_config(d, "tls+tcp://127.0.0.1:9", &o, err, sizeof(err)), 0);
	/* No host in the URL and no --tls-server-name: nothing to check the broker against. */
	assert_int_equal(tls_dialer_config(d, "tls+tcp://:9", &o, err, sizeof(err)),
	                 NNG_EADDRINVAL);
	assert_non_null(strstr(err, "give --tls-server-name"));
	nng_close(req);
	nng_close(rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_opt_set_takes_only_tls_codes),
	    cmocka_unit_test(test_url_helpers),
	    cmocka_unit_test(test_check_without_tls_needs_nothing),
	    cmocka_unit_test(test_check_refuses_tls_url_without_files),
	    cmocka_unit_test(test_check_refuses_flags_without_tls_url),
	    cmocka_unit_test(test_check_refuses_unreadable_files),
	    cmocka_unit_test(test_check_refuses_files_that_are_not_pem),
	    cmocka_unit_test(test_check_refuses_certificate_without_key),
	    cmocka_unit_test(test_check_refuses_mismatched_key),
	    cmocka_unit_test(test_check_refuses_certificate_of_another_ca),
	    cmocka_unit_test(test_check_refuses_bad_server_name),
	    cmocka_unit_test(test_check_accepts_good_files),
	    cmocka_unit_test(test_configs_set_on_endpoints),
	};
	return cmocka_run_group_tests_name("tls", tests, make_certs, remove_certs);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration over TLS, end to end: two kvmig-vm processes, kvmig
 * incoming and kvmig migrate with --tls-creds, over loopback TCP, while
 * the guest writes memory (needs /dev/kvm; test_tls covers the library
 * without it).
 *
 *  - refused, before a page moved, with the message each end prints: a
 *    plaintext source to a TLS destination, a TLS source to a plaintext
 *    destination, a CA the source does not trust, a --tls-hostname the
 *    certificate does not carry, an expired destination certificate, a
 *    source DN --tls-authz does not list, a wrong PSK; after each, the
 *    source guest runs on and the destination VMM still waits;
 *  - then, on the same VMs, a migration over TLS x509 (3 channels,
 *    --tls-authz) completes with --verify: every page hashed and equal,
 *    and the destination guest runs on with a clean self-check;
 *  - and one over PSK on a new pair.
 */
#include <stdio.h>
#include <unistd.h>

#include "harness.h"

static const char *const vm_args[] = {
	"--vcpus", "2", "--mem", "48M", "--slot", "16M,gap=32M",
	"--workload", "0:dirty,rate=2000p,ws=8M,pattern=random,data=text",
	"--workload", "1:io,period=500", NULL,
};




/*
 * kvmig incoming with @inc, kvmig migrate with @mig: both must fail, the
 * source saying @src_why, the destination @dst_why; the source guest runs
 * on and the destination VMM waits for the next migration (2 results).
 */
static void refused(struct mig *m, const char *name, const char *const *inc,
		    const char *const *mig, const char *src_why, const char *dst_why)
{
	const char *err, *log;
	json_t *st;
	int rc, irc;
	bool runs;

	start_incoming_with(m, true, inc);
	rc = migrate(m, mig, &st);
	irc = test_wait(m->inc, 30);
	err = st ? json_string_value(json_object_get(st, "error-desc")) : NULL;
	ksft_print_msg("%s: kvmig migrate exit %d, '%s'\n", name, rc, err ? err : "");
	runs = test_vm_progresses(&m->src, test_pages_written(&m->src));
	ksft_test_result(rc == 1 && st && err && strstr(err, src_why) &&
			 !strcmp(json_string_value(json_object_get(st, "status")) ?: "",
				 "failed") &&
			 !strcmp(test_vm_status(&m->src), "running") && runs,
			 "%s: the source refuses or is refused ('%s'), its guest runs on",
			 name, src_why);
	log = test_slurp(m->inc_log);
	ksft_print_msg("%s: kvmig incoming exit %d: %s", name, irc, log);
	ksft_test_result(irc == 1 && strstr(log, dst_why) &&
			 test_vm_waits_incoming(&m->dst),
			 "%s: the destination says '%s' and waits for the next one",
			 name, dst_why);
	json_decref(st);
}

int main(void)
{
	static const struct test_cert dst = { "kvmig-dst", "localhost", 0, false };
	static const struct test_cert src = { "kvmig-src", NULL, 0, false };
	static const struct test_cert dst_old = { "kvmig-dst", "localhost", 0, true };
	struct mig m;

	test_require_kvm();
	ksft_print_header();
	if (!test_have_tls())
		ksft_exit_skip("libkvmig built without TLS (TLS=0: a static link)");
	ksft_set_plan(7 * 2 + 3 + 3);
	test_tls_dir(test_tls_path("srv"), true, 0, &dst);
	test_tls_dir(test_tls_path("srv-expired"), true, 0, &dst_old);
	test_tls_dir(test_tls_path("cli"), false, 0, &src);
	test_tls_dir(test_tls_path("cli-ca1"), false, 1, &src);
	test_tls_psk_dir(test_tls_path("psk"), "kvmig", "00112233445566778899aabbccddeeff");
	test_tls_psk_dir(test_tls_path("psk-other"), "kvmig",
			 "ffeeddccbbaa99887766554433221100");

	start_vms(&m, vm_args, vm_args);
	{
		const char *const inc[] = { "--tls-creds", test_tls_path("srv"), NULL };

		refused(&m, "plaintext source, TLS destination", inc, NULL,
			"the destination refused: channel 0: the source did not "
			"start TLS", "the source did not start TLS: it sent a "
			"plaintext kvmig frame");
	}
	{
		const char *const mig[] = { "--tls-creds", test_tls_path("cli"), NULL };

		refused(&m, "TLS source, plaintext destination", NULL, mig,
			"channel 0: the destination does not speak TLS: it answered "
			"with a plaintext kvmig frame", "the peer started TLS (a TLS "
			"ClientHello), and this end has no --tls-creds");
	}
	{
		const char *const inc[] = { "--tls-creds", test_tls_path("srv"), NULL };
		const char *const mig[] = { "--tls-creds", test_tls_path("cli-ca1"), NULL };

		refused(&m, "wrong CA", inc, mig, "the destination's certificate is "
			"refused: The certificate is NOT trusted. The certificate "
			"issuer is unknown", "the source refused the TLS handshake: "
			"CA is unknown");
	}
	{
		const char *const inc[] = { "--tls-creds", test_tls_path("srv"), NULL };
		const char *const mig[] = { "--tls-creds", test_tls_path("cli"), "--tls-hostname",
					    "kvmig.invalid", NULL };

		refused(&m, "wrong name", inc, mig, "The name in the certificate does "
			"not match the expected. (expected: 'kvmig.invalid', "
			"--tls-hostname)", "the source refused the TLS handshake: "
			"Certificate is bad");
	}
	{
		const char *const inc[] = { "--tls-creds", test_tls_path("srv-expired"), NULL };
		const char *const mig[] = { "--tls-creds", test_tls_path("cli"), NULL };

		refused(&m, "expired certificate", inc, mig, "The certificate chain "
			"uses expired certificate", "the source refused the TLS "
			"handshake: Certificate is expired");
	}
	{
		const char *const inc[] = { "--tls-creds", test_tls_path("srv"), "--tls-authz",
					    "CN=other,O=kvmig", NULL };
		const char *const mig[] = { "--tls-creds", test_tls_path("cli"), NULL };

		refused(&m, "source DN not in --tls-authz", inc, mig,
			"the destination refused: channel 0: the source's certificate, "
			"'CN=kvmig-src,O=kvmig', is not one --tls-authz lets in",
			"'CN=kvmig-src,O=kvmig', is not one --tls-authz lets in");
	}
	{
		const char *const inc[] = { "--tls-creds", test_tls_path("psk"), NULL };
		const char *const mig[] = { "--tls-creds", test_tls_path("psk-other"), NULL };

		refused(&m, "wrong PSK", inc, mig, "keys.psk?)", "keys.psk?)");
	}
	{
		const char *const inc[] = { "--tls-creds", test_tls_path("srv"), "--tls-authz",
					    "CN=kvmig-src,O=kvmig", NULL };
		const char *const mig[] = { "--tls-creds", test_tls_path("cli"), "--channels", "3",
					    "--verify", "--keep-vm", NULL };

		start_incoming_with(&m, true, inc);
		json_decref(migrate_verified("TLS x509, 3 channels, after the refusals",
					     &m, mig, "converged"));
	}
	{
		const char *const inc[] = { "--tls-creds", test_tls_path("psk"), NULL };
		const char *const mig[] = { "--tls-creds", test_tls_path("psk"), "--verify",
					    "--keep-vm", NULL };

		start_vms(&m, vm_args, vm_args);
		start_incoming_with(&m, true, inc);
		json_decref(migrate_verified("TLS PSK", &m, mig, "converged"));
	}
	ksft_finished();
}

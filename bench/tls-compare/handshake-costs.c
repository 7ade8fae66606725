/* Where a full TLS 1.2 handshake's client CPU goes, step by step, with the agent's mbedTLS build
 * (bench/handshake-costs.sh). Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID, which
 * qemu-user passes to the host), so other load on the machine barely moves them.
 *   handshake-costs DIR N   DIR holds ca.pem, ec.pem/ec.pub/ec.sig, rsa.pub/rsa.sig, rca.pem, rsar.pem, msg */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "mbedtls/ecdh.h"
#include "mbedtls/pk.h"
#include "mbedtls/sha256.h"
#include "mbedtls/x509_crt.h"

static const char *dir;
static unsigned char buf[8192];

/* As the agent: straight from the kernel, never blocking (tls.c reads /dev/urandom). */
static int rng(void *p, unsigned char *out, size_t len)
{
    (void)p;
    static int fd = -1;
    if (fd < 0)
        fd = open("/dev/urandom", O_RDONLY);
    return read(fd, out, len) == (ssize_t)len ? 0 : -1;
}

static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static size_t slurp(const char *name, unsigned char *b, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, b, cap - 1);
    if (n < 0) {
        perror(path);
        exit(1);
    }
    close(fd);
    b[n] = 0;
    return (size_t)n;
}

/* The client's half of an ECDHE: its key pair, then the shared secret with the server's share. */
static double ecdhe_ms(mbedtls_ecp_group_id id, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        mbedtls_ecdh_context srv, cli;
        unsigned char params[200], pub[200], secret[66];
        size_t plen, qlen, slen;
        const unsigned char *p = params;
        mbedtls_ecdh_init(&srv);
        mbedtls_ecdh_init(&cli);
        if (mbedtls_ecdh_setup(&srv, id) || mbedtls_ecdh_make_params(&srv, &plen, params, sizeof params, rng, NULL))
            exit(2);
        double t = cpu_ms();
        if (mbedtls_ecdh_read_params(&cli, &p, params + plen) ||
            mbedtls_ecdh_make_public(&cli, &qlen, pub, sizeof pub, rng, NULL) ||
            mbedtls_ecdh_calc_secret(&cli, &slen, secret, sizeof secret, rng, NULL))
            exit(3);
        total += cpu_ms() - t;
        mbedtls_ecdh_free(&srv);
        mbedtls_ecdh_free(&cli);
    }
    return total / n;
}

/* The ServerKeyExchange signature check (one public-key verify). */
static double verify_ms(const char *pub, const char *sig, int n)
{
    unsigned char hash[32], s[600];
    size_t mlen = slurp("msg", buf, sizeof buf), slen;
    mbedtls_pk_context pk;
    mbedtls_sha256(buf, mlen, hash, 0);
    mbedtls_pk_init(&pk);
    slurp(pub, buf, sizeof buf);
    if (mbedtls_pk_parse_public_key(&pk, buf, strlen((char *)buf) + 1))
        exit(4);
    slen = slurp(sig, s, sizeof s);
    double t = cpu_ms();
    for (int i = 0; i < n; i++)
        if (mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, 32, s, slen))
            exit(5);
    t = (cpu_ms() - t) / n;
    mbedtls_pk_free(&pk);
    return t;
}

/* Parse the CA and the server's certificate (PEM), verify the chain and the name. */
static double chain_ms(const char *ca_name, const char *crt_name, int n)
{
    static unsigned char ca_pem[8192], crt_pem[8192];
    slurp(ca_name, ca_pem, sizeof ca_pem);
    slurp(crt_name, crt_pem, sizeof crt_pem);
    double t = cpu_ms();
    for (int i = 0; i < n; i++) {
        mbedtls_x509_crt ca, crt;
        uint32_t flags;
        mbedtls_x509_crt_init(&ca);
        mbedtls_x509_crt_init(&crt);
        if (mbedtls_x509_crt_parse(&ca, ca_pem, strlen((char *)ca_pem) + 1) ||
            mbedtls_x509_crt_parse(&crt, crt_pem, strlen((char *)crt_pem) + 1) ||
            mbedtls_x509_crt_verify(&crt, &ca, NULL, "localhost", &flags, NULL, NULL))
            exit(6);
        mbedtls_x509_crt_free(&ca);
        mbedtls_x509_crt_free(&crt);
    }
    return (cpu_ms() - t) / n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: handshake-costs DIR N\n");
        return 2;
    }
    dir = argv[1];
    int n = atoi(argv[2]);
    double t = cpu_ms();
    for (int i = 0; i < n * 10; i++)
        rng(NULL, buf, 32);
    printf("random 32 bytes (/dev/urandom)|%.3f\n", (cpu_ms() - t) / (n * 10));
    printf("ECDHE X25519, client half|%.1f\n", ecdhe_ms(MBEDTLS_ECP_DP_CURVE25519, n));
    printf("ECDHE P-256, client half|%.1f\n", ecdhe_ms(MBEDTLS_ECP_DP_SECP256R1, n));
    printf("ECDHE P-384, client half|%.1f\n", ecdhe_ms(MBEDTLS_ECP_DP_SECP384R1, n));
    printf("key exchange signature, ECDSA P-256|%.1f\n", verify_ms("ec.pub", "ec.sig", n));
    printf("key exchange signature, RSA-2048|%.1f\n", verify_ms("rsa.pub", "rsa.sig", n));
    printf("chain: ECDSA P-256 CA, ECDSA leaf|%.1f\n", chain_ms("ca.pem", "ec.pem", n));
    printf("chain: RSA-2048 CA, RSA leaf|%.1f\n", chain_ms("rca.pem", "rsar.pem", n));
    return 0;
}

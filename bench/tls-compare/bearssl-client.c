/* bearssl-client PORT CAFILE: the same job as mbedtls-client.c with BearSSL, configured for the
 * same suites (TLS 1.2, ECDHE-ECDSA/RSA, AES-GCM, ChaCha20-Poly1305) with a CA parsed from PEM. */
#include "common.h"
#include "bearssl.h"

struct dbuf { unsigned char *p; size_t len, cap; };
static void append(void *ctx, const void *b, size_t l)
{
    struct dbuf *d = ctx;
    if (d->len + l <= d->cap) {
        memcpy(d->p + d->len, b, l);
        d->len += l;
    }
}
static int sock_read(void *c, unsigned char *b, size_t l)
{
    ssize_t n = recv(*(int *)c, b, l, 0);
    return n <= 0 ? -1 : (int)n;
}
static int sock_write(void *c, const unsigned char *b, size_t l)
{
    ssize_t n = send(*(int *)c, b, l, 0);
    return n <= 0 ? -1 : (int)n;
}

static const uint16_t suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

int main(int argc, char **argv)
{
    static br_ssl_client_context sc;
    static br_x509_minimal_context xc;
    static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI], der[8192], dn[1024], buf[16384];
    static br_x509_decoder_context dc;
    br_pem_decoder_context pc;
    br_sslio_context ioc;
    br_x509_trust_anchor ta;
    struct dbuf d = { der, 0, sizeof(der) }, dnb = { dn, 0, sizeof(dn) };
    size_t len, off = 0, total = 0;
    const char *pem = slurp(argv[2], &len);
    int fd, r, in_obj = 0;
    double t0, t1;

    br_pem_decoder_init(&pc);
    while (off < len) {
        off += br_pem_decoder_push(&pc, pem + off, len - off);
        r = br_pem_decoder_event(&pc);
        if (r == BR_PEM_BEGIN_OBJ) {
            br_pem_decoder_setdest(&pc, append, &d);
            in_obj = 1;
        } else if (r == BR_PEM_END_OBJ && in_obj) {
            break;
        } else if (r == BR_PEM_ERROR) {
            return 2;
        }
    }
    br_x509_decoder_init(&dc, append, &dnb);
    br_x509_decoder_push(&dc, der, d.len);
    if (!br_x509_decoder_get_pkey(&dc))
        return 2;
    ta.dn.data = dn;
    ta.dn.len = dnb.len;
    ta.flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
    ta.pkey = *br_x509_decoder_get_pkey(&dc);

    br_ssl_client_zero(&sc);
    br_ssl_engine_set_versions(&sc.eng, BR_TLS12, BR_TLS12);
    br_x509_minimal_init(&xc, &br_sha256_vtable, &ta, 1);
    br_ssl_engine_set_suites(&sc.eng, suites, sizeof(suites) / sizeof(suites[0]));
    br_ssl_client_set_default_rsapub(&sc);
    br_ssl_engine_set_default_rsavrfy(&sc.eng);
    br_ssl_engine_set_default_ecdsa(&sc.eng);
    br_x509_minimal_set_rsa(&xc, br_ssl_engine_get_rsavrfy(&sc.eng));
    br_x509_minimal_set_ecdsa(&xc, br_ssl_engine_get_ec(&sc.eng), br_ssl_engine_get_ecdsa(&sc.eng));
    br_ssl_engine_set_hash(&sc.eng, br_sha256_ID, &br_sha256_vtable);
    br_ssl_engine_set_hash(&sc.eng, br_sha384_ID, &br_sha384_vtable);
    br_x509_minimal_set_hash(&xc, br_sha256_ID, &br_sha256_vtable);
    br_x509_minimal_set_hash(&xc, br_sha384_ID, &br_sha384_vtable);
    br_ssl_engine_set_prf_sha256(&sc.eng, &br_tls12_sha256_prf);
    br_ssl_engine_set_prf_sha384(&sc.eng, &br_tls12_sha384_prf);
    br_ssl_engine_set_default_aes_gcm(&sc.eng);
    br_ssl_engine_set_default_chapol(&sc.eng);
    br_ssl_engine_set_x509(&sc.eng, &xc.vtable);
    br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof(iobuf), 1);
    br_ssl_client_reset(&sc, "localhost", 0);

    t0 = now_ms();
    fd = tcp_connect(atoi(argv[1]));
    br_sslio_init(&ioc, &sc.eng, sock_read, &fd, sock_write, &fd);
    if (br_sslio_flush(&ioc) < 0 || (br_ssl_engine_current_state(&sc.eng) & BR_SSL_CLOSED)) {
        fprintf(stderr, "handshake error %d\n", br_ssl_engine_last_error(&sc.eng));
        return 1;
    }
    /* sslio completes the handshake lazily: the first read does it. */
    r = br_sslio_read(&ioc, buf, 1);
    t1 = now_ms();
    if (r < 0) {
        fprintf(stderr, "handshake error %d\n", br_ssl_engine_last_error(&sc.eng));
        return 1;
    }
    total = (size_t)r;
    while ((r = br_sslio_read(&ioc, buf, sizeof(buf))) > 0)
        total += (size_t)r;
    printf("%.0f %.0f %zu suite-0x%04x\n", t1 - t0, now_ms() - t1, total,
           sc.eng.session.cipher_suite);
    return 0;
}

/* mbedtls-client PORT CAFILE: TLS 1.2 to 127.0.0.1, verify with CA, read everything; prints
 * "handshake_ms transfer_ms bytes suite". Same trimmed config as the agent. */
#include "common.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

static int rng(void *p, unsigned char *out, size_t len)
{
    static FILE *f;
    (void)p;
    if (!f)
        f = fopen("/dev/urandom", "rb");
    return fread(out, 1, len, f) == len ? 0 : -1;
}
static int snd(void *c, const unsigned char *b, size_t l) { return (int)send(*(int *)c, b, l, 0); }
static int rcv(void *c, unsigned char *b, size_t l) { return (int)recv(*(int *)c, b, l, 0); }

int main(int argc, char **argv)
{
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    static unsigned char buf[16384];
    size_t len, total = 0;
    const char *pem = slurp(argv[2], &len);
    int fd, r;
    double t0, t1;

    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&ca);
    if (mbedtls_x509_crt_parse(&ca, (const unsigned char *)pem, len + 1) != 0)
        return 2;
    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
    mbedtls_ssl_conf_rng(&conf, rng, NULL);
    mbedtls_ssl_setup(&ssl, &conf);
    mbedtls_ssl_set_hostname(&ssl, "localhost");
    t0 = now_ms();
    fd = tcp_connect(atoi(argv[1]));
    mbedtls_ssl_set_bio(&ssl, &fd, snd, rcv, NULL);
    if ((r = mbedtls_ssl_handshake(&ssl)) != 0) {
        fprintf(stderr, "handshake -0x%x\n", -r);
        return 1;
    }
    t1 = now_ms();
    while ((r = mbedtls_ssl_read(&ssl, buf, sizeof(buf))) > 0)
        total += (size_t)r;
    printf("%.0f %.0f %zu %s\n", t1 - t0, now_ms() - t1, total, mbedtls_ssl_get_ciphersuite(&ssl));
    return 0;
}

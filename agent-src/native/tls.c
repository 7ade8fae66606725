/*
 * TLS client over mbedTLS for flussonic:native.
 *
 * A TlsConn wraps one non-blocking TCP fd. The JS side drives it from the event loop:
 * tlsHandshake/tlsRead/tlsWrite never block and report "would block" instead.
 * Verification: CA chain (caPem), SPKI SHA-256 pins (spkiSha256), or both; never neither.
 * mbedTLS runs with VERIFY_OPTIONAL so that *we* decide after the handshake, with pins able to
 * stand in for a CA (see decide()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mbedtls/base64.h"
#include "mbedtls/sha256.h"
#include "mbedtls/ssl.h"
#include "mbedtls/version.h"
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include "psa/crypto.h"
#endif
#include "mbedtls/x509_crt.h"
#if MBEDTLS_VERSION_MAJOR < 3
#include <arpa/inet.h>
#include "mbedtls/oid.h"
#endif

#include "native.h"

#define MAX_PINS 8
#define MAX_DEPTH 10

struct TlsConn {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    int fd;
    int io_errno;      /* errno of the last failed send/recv, for the error text */
    int has_ca;
    int npins;
    uint8_t pins[MAX_PINS][32];
    uint32_t depth_flags[MAX_DEPTH]; /* mbedTLS verify flags per chain depth (0 = leaf) */
    int chain_len;
    int pin_depth;     /* lowest depth whose SPKI matched a pin, -1 if none */
    int freed;
    /*
     * Two writers share one connection: JS (tlsWrite*) and the pump (native-pump.c). mbedTLS holds
     * at most one encrypted record that the socket did not take, and its next write call only
     * flushes that record and returns as if the new bytes were sent. So each writer must know whose
     * record is held: js_held = JS's (JS retries with the same bytes, the pump must not write);
     * pump_held = the pump's (already counted as sent; flushed before anyone writes anew).
     */
    int js_held;
    int pump_held;
    /* JS has bytes queued ahead of the socket (its own queue, not mbedTLS's), or the link is
     * closing: the pump must not write (tlsHoldPump). The pump's read handler runs without JS,
     * so JS's queue has to be visible here. */
    int pump_hold;
    uint8_t identity[32]; /* what this connection verifies against (session_identity) */
    int offered;          /* slot + 1 of the saved session offered for resumption, 0 none */
#if MBEDTLS_VERSION_MAJOR < 3
    uint8_t ip[16];       /* the server name when it is an IP literal (see ip_matches) */
    size_t ip_len;        /* 4 or 16; 0 for a DNS name or none */
#endif
};

static JSClassID tls_class_id;

/* Our preference, which Node/OpenSSL servers honour by default: ChaCha20-Poly1305 first. Camera
 * CPUs have no AES instructions; on ARM926 (qemu, bench/tls-compare.sh) mbedTLS moves a 16 MB
 * download 5x faster with ChaCha20-Poly1305 than with AES-128-GCM. */
static const int ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0
};

/* Key exchange groups, our preference (OpenSSL servers, the streamer's, take the client's order
 * unless told otherwise): P-256 first. In mbedTLS, P-256 has a fast reduction
 * (MBEDTLS_ECP_NIST_OPTIM) and X25519 runs on generic bignum code: on ARM926 (qemu) the client's
 * ECDHE costs 9.4 ms with P-256 vs 14.2 ms with X25519 (bench/handshake-costs.sh). Both are
 * ~128-bit secure; P-384 for servers that insist. Groups a library was built without are skipped. */
#if MBEDTLS_VERSION_MAJOR >= 3
static const uint16_t groups[] = {
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
    MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1,
    MBEDTLS_SSL_IANA_TLS_GROUP_NONE
};
#else
static const mbedtls_ecp_group_id groups[] = {
    MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE
};
#define mbedtls_ssl_conf_groups mbedtls_ssl_conf_curves
#endif

const char *flussonic_tls_version(void)
{
    return "mbedTLS " MBEDTLS_VERSION_STRING;
}

#if MBEDTLS_VERSION_MAJOR < 3
/* 2.28 (OpenIPC firmware's, Debian 12's) names of what 3.x renamed: the error codes by
 * 3.0's migration guide (NO_CIPHER_CHOSEN became HANDSHAKE_FAILURE, BAD_HS_PROTOCOL_VERSION
 * became BAD_PROTOCOL_VERSION, same value), and the SHA-256 call that returns a status. */
#define mbedtls_sha256 mbedtls_sha256_ret
#define MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN
#define MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION
#endif

static void conn_free(TlsConn *c)
{
    if (c->freed)
        return;
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    c->freed = 1;
}

static void tls_finalizer(JSRuntime *rt, JSValue val)
{
    TlsConn *c = JS_GetOpaque(val, tls_class_id);
    if (c) {
        conn_free(c);
        js_free_rt(rt, c);
    }
}

static JSClassDef tls_class = { "TlsConn", .finalizer = tls_finalizer };

int flussonic_tls_init(JSContext *ctx)
{
    JS_NewClassID(&tls_class_id);
    return JS_NewClass(JS_GetRuntime(ctx), tls_class_id, &tls_class);
}

static int rng(void *p, unsigned char *out, size_t len)
{
    (void)p;
    return flussonic_urandom(out, len) ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : 0;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    TlsConn *c = ctx;
    ssize_t n;
    do
        n = send(c->fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    c->io_errno = errno;
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    TlsConn *c = ctx;
    ssize_t n;
    do
        n = recv(c->fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        return (int)n; /* 0 = EOF: mbedTLS turns it into MBEDTLS_ERR_SSL_CONN_EOF */
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return MBEDTLS_ERR_SSL_WANT_READ;
    c->io_errno = errno;
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

/* Many cameras have no RTC: they boot in 1970 and learn the time from NTP later, often only
 * after they are online. A clock this far in the past is unset, not an attack, so "not yet
 * valid" is ignored until then. "Expired" is always enforced (an early clock cannot cause it). */
#define CLOCK_UNSET_BEFORE 1704067200 /* 2024-01-01T00:00:00Z */

#if MBEDTLS_VERSION_MAJOR < 3
/* mbedTLS 2.x matches the server name against dNSName entries and the CN only, so an endpoint
 * given as an IP address never matches a certificate made for it. What 3.x does instead: the
 * leaf's iPAddress entries when it has a subjectAltName, else its CN (here compared as an address). */
static int ip_matches(const TlsConn *c, const mbedtls_x509_crt *crt)
{
    if (crt->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME) {
        for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s; s = s->next)
            if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS) &&
                s->buf.len == c->ip_len && memcmp(s->buf.p, c->ip, c->ip_len) == 0)
                return 1;
        return 0;
    }
    for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next) {
        char text[64];
        uint8_t ip[16];
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0 || n->val.len >= sizeof(text))
            continue;
        memcpy(text, n->val.p, n->val.len);
        text[n->val.len] = 0;
        if (inet_pton(c->ip_len == 4 ? AF_INET : AF_INET6, text, ip) == 1 && memcmp(ip, c->ip, c->ip_len) == 0)
            return 1;
    }
    return 0;
}
#endif

/* Called by mbedTLS for each certificate of the chain, root first. Records flags and pin
 * matches; returns 0 so the handshake continues and decide() judges the whole picture. */
static int verify_cb(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    TlsConn *c = p;
    uint8_t h[32];

    if ((*flags & MBEDTLS_X509_BADCERT_FUTURE) && time(NULL) < CLOCK_UNSET_BEFORE)
        *flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_FUTURE;

    if (depth < 0 || depth >= MAX_DEPTH) {
        *flags |= MBEDTLS_X509_BADCERT_OTHER;
        return 0;
    }
#if MBEDTLS_VERSION_MAJOR < 3
    if (depth == 0 && c->ip_len && !ip_matches(c, crt))
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
#endif
    c->depth_flags[depth] = *flags;
    if (depth + 1 > c->chain_len)
        c->chain_len = depth + 1;
    if (c->npins > 0 && mbedtls_sha256(crt->pk_raw.p, crt->pk_raw.len, h, 0) == 0) {
        for (int i = 0; i < c->npins; i++)
            if (memcmp(h, c->pins[i], 32) == 0 && (c->pin_depth < 0 || depth < c->pin_depth))
                c->pin_depth = depth;
    }
    return 0;
}

static const char *flags_text(uint32_t f)
{
    /* Most telling first: an untrusted chain matters more than its name or dates. */
    if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
        return "certificate not trusted";
    if (f & MBEDTLS_X509_BADCERT_EXPIRED)
        return "certificate expired";
    if (f & MBEDTLS_X509_BADCERT_FUTURE)
        return "certificate not yet valid";
    if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH)
        return "certificate name mismatch";
    if (f & MBEDTLS_X509_BADCERT_REVOKED)
        return "certificate revoked";
    return "certificate rejected";
}

/* After the handshake: NULL when the peer is acceptable, else why not.
 *  - caPem given: the chain must verify against it (flags all clear);
 *  - pins given: some certificate of the chain must match a pin. Without a CA the pinned
 *    certificate acts as trust anchor: everything below it (towards the leaf) must verify
 *    cleanly and the pinned one may only lack a trusted issuer. */
static const char *decide(TlsConn *c)
{
    uint32_t all = mbedtls_ssl_get_verify_result(&c->ssl);

    if (!c->has_ca && c->npins == 0)
        return "no CA and no pins: refusing an unverified peer";
    if (c->has_ca && all != 0)
        return flags_text(all);
    if (c->npins > 0) {
        if (c->pin_depth < 0)
            return "certificate chain does not match any pinned SPKI";
        if (!c->has_ca) {
            if (all & ~(uint32_t)MBEDTLS_X509_BADCERT_NOT_TRUSTED)
                return flags_text(all);
            for (int d = 0; d < c->pin_depth; d++)
                if (c->depth_flags[d] != 0)
                    return flags_text(c->depth_flags[d]);
            if (c->depth_flags[c->pin_depth] & ~(uint32_t)MBEDTLS_X509_BADCERT_NOT_TRUSTED)
                return flags_text(c->depth_flags[c->pin_depth]);
        }
    }
    return NULL;
}

/* "what: reason" of an mbedTLS error code into buf. */
static void tls_error_text(TlsConn *c, const char *what, int ret, char *buf, size_t size)
{
    if (ret == MBEDTLS_ERR_SSL_INTERNAL_ERROR && c->io_errno)
        snprintf(buf, size, "%s: %s", what, strerror(c->io_errno));
    else if (ret == MBEDTLS_ERR_SSL_CONN_EOF)
        snprintf(buf, size, "%s: connection closed by peer", what);
    else if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
        snprintf(buf, size, "%s: fatal alert from peer", what);
    else if (ret == MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE)
        snprintf(buf, size, "%s: no common cipher suite", what);
    else if (ret == MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION)
        snprintf(buf, size, "%s: unsupported protocol version", what);
    else
        snprintf(buf, size, "%s: mbedTLS error -0x%04x", what, (unsigned)-ret);
}

static JSValue throw_tls(JSContext *ctx, TlsConn *c, const char *what, int ret)
{
    char text[160];
    tls_error_text(c, what, ret, text, sizeof(text));
    return JS_ThrowInternalError(ctx, "%s", text);
}

static TlsConn *get_conn(JSContext *ctx, JSValueConst v)
{
    TlsConn *c = JS_GetOpaque2(ctx, v, tls_class_id);
    if (c && c->freed) {
        JS_ThrowTypeError(ctx, "TLS connection already freed");
        return NULL;
    }
    return c;
}

static int add_pins(JSContext *ctx, TlsConn *c, JSValueConst arr)
{
    int64_t n = 0;
    JSValue lenv = JS_GetPropertyStr(ctx, arr, "length");
    if (JS_ToInt64(ctx, &n, lenv)) {
        JS_FreeValue(ctx, lenv);
        return -1;
    }
    JS_FreeValue(ctx, lenv);
    if (n > MAX_PINS) {
        JS_ThrowRangeError(ctx, "at most %d SPKI pins", MAX_PINS);
        return -1;
    }
    for (int i = 0; i < (int)n; i++) {
        JSValue v = JS_GetPropertyUint32(ctx, arr, (uint32_t)i);
        const char *s = JS_ToCString(ctx, v);
        size_t olen = 0;
        uint8_t out[48];
        int bad;
        JS_FreeValue(ctx, v);
        if (!s)
            return -1;
        bad = mbedtls_base64_decode(out, sizeof(out), &olen, (const unsigned char *)s, strlen(s)) != 0 ||
              olen != 32;
        JS_FreeCString(ctx, s);
        if (bad) {
            JS_ThrowRangeError(ctx, "SPKI pin %d is not base64 of 32 bytes", i);
            return -1;
        }
        memcpy(c->pins[c->npins++], out, 32);
    }
    return 0;
}

/*
 * Resumption (RFC 5077 tickets; Node's TLS server issues them): a reconnecting agent skips the
 * ECDHE exchange and the certificate check, which on a camera CPU is most of a handshake, and on
 * the streamer most of what a reconnect storm costs. A session is saved only after a full
 * handshake passed decide(), and offered again only to the same address under the same
 * verification (server name, CA, pins), at most SESSION_MAX_AGE_S after that full handshake: a
 * chain of resumptions never stretches one certificate check further. The streamer bounds the
 * ticket too (docs/server.md). The agent's own AUTH runs on every link, resumed or not.
 */
#define SESSION_SLOTS 4
#define SESSION_MAX_AGE_S 3600

typedef struct {
    int used;
    uint8_t identity[32];
    time_t verified_at; /* monotonic seconds of the full handshake behind it */
    mbedtls_ssl_session session;
} SavedSession;

static SavedSession saved_sessions[SESSION_SLOTS];

static time_t mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* identity = SHA-256 over the peer address, server name, CA and pins this connection checks. */
static void session_identity(TlsConn *c, const char *server_name, const char *ca, size_t ca_len)
{
    uint8_t parts[4 * 32];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) != 0)
        sl = 0;
    mbedtls_sha256((const unsigned char *)&ss, sl, parts, 0);
    mbedtls_sha256((const unsigned char *)(server_name ? server_name : ""), server_name ? strlen(server_name) : 0, parts + 32, 0);
    mbedtls_sha256((const unsigned char *)(ca ? ca : ""), ca ? ca_len : 0, parts + 64, 0);
    mbedtls_sha256((const unsigned char *)c->pins, (size_t)c->npins * 32, parts + 96, 0);
    mbedtls_sha256(parts, sizeof(parts), c->identity, 0);
}

static SavedSession *find_session(const uint8_t identity[32])
{
    for (int i = 0; i < SESSION_SLOTS; i++) {
        SavedSession *s = &saved_sessions[i];
        if (!s->used || memcmp(s->identity, identity, 32) != 0)
            continue;
        if (mono_seconds() - s->verified_at < SESSION_MAX_AGE_S)
            return s;
        mbedtls_ssl_session_free(&s->session); /* too old: forget it, verify in full again */
        s->used = 0;
    }
    return NULL;
}

/* After a handshake that was verified now (full) or earlier (resumed from `offered`). */
static void save_session(TlsConn *c, int resumed)
{
    SavedSession *s = find_session(c->identity);
    time_t verified_at = resumed && s ? s->verified_at : mono_seconds();
    mbedtls_ssl_session fresh;

    if (resumed && !s)
        return; /* expired meanwhile */
    if (!s) { /* a free slot, else the oldest */
        s = &saved_sessions[0];
        for (int i = 0; i < SESSION_SLOTS; i++) {
            if (!saved_sessions[i].used) {
                s = &saved_sessions[i];
                break;
            }
            if (saved_sessions[i].verified_at < s->verified_at)
                s = &saved_sessions[i];
        }
    }
    mbedtls_ssl_session_init(&fresh);
    if (mbedtls_ssl_get_session(&c->ssl, &fresh) != 0) {
        mbedtls_ssl_session_free(&fresh);
        return;
    }
    if (s->used)
        mbedtls_ssl_session_free(&s->session);
    s->session = fresh; /* owns what fresh pointed to */
    memcpy(s->identity, c->identity, 32);
    s->verified_at = verified_at;
    s->used = 1;
}

/* tlsNew(fd, { caPem?, spkiSha256?, serverName? }): a TlsConn over a connected fd. */
JSValue native_tls_new(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    JSValue obj, v;
    TlsConn *c;
    int ret;
    uint8_t ca_hash[32] = { 0 };
    char *name_copy = NULL;

    obj = JS_NewObjectClass(ctx, tls_class_id);
    if (JS_IsException(obj))
        return obj;
    c = js_mallocz(ctx, sizeof(*c));
    if (!c) {
        JS_FreeValue(ctx, obj);
        return JS_EXCEPTION;
    }
    mbedtls_ssl_init(&c->ssl);
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_x509_crt_init(&c->ca);
    c->pin_depth = -1;
    JS_SetOpaque(obj, c);

    if (JS_ToInt32(ctx, &c->fd, argv[0]))
        goto fail;

    v = JS_GetPropertyStr(ctx, argv[1], "caPem");
    if (!JS_IsUndefined(v) && !JS_IsNull(v)) {
        size_t len;
        const char *pem = JS_ToCStringLen(ctx, &len, v);
        JS_FreeValue(ctx, v);
        if (!pem)
            goto fail;
        ret = mbedtls_x509_crt_parse(&c->ca, (const unsigned char *)pem, len + 1);
        mbedtls_sha256((const unsigned char *)pem, len, ca_hash, 0);
        JS_FreeCString(ctx, pem);
        if (ret < 0 || c->ca.version == 0) {
            JS_ThrowInternalError(ctx, "caPem: no usable certificate (mbedTLS -0x%04x)", (unsigned)-ret);
            goto fail;
        }
        c->has_ca = 1;
    } else {
        JS_FreeValue(ctx, v);
    }
    v = JS_GetPropertyStr(ctx, argv[1], "spkiSha256");
    if (!JS_IsUndefined(v) && !JS_IsNull(v)) {
        ret = add_pins(ctx, c, v);
        JS_FreeValue(ctx, v);
        if (ret)
            goto fail;
    } else {
        JS_FreeValue(ctx, v);
    }
    if (!c->has_ca && c->npins == 0) {
        JS_ThrowTypeError(ctx, "TLS needs caPem or spkiSha256");
        goto fail;
    }

#if defined(MBEDTLS_PSA_CRYPTO_C)
    /* A full mbed TLS 3.6 routes some of TLS through PSA, which must be initialised first
     * (idempotent; our trimmed configuration has no PSA core). */
    if (psa_crypto_init() != PSA_SUCCESS) {
        JS_ThrowInternalError(ctx, "tls: psa_crypto_init failed");
        goto fail;
    }
#endif
    if ((ret = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                           MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        throw_tls(ctx, c, "tls config", ret);
        goto fail;
    }
    mbedtls_ssl_conf_ciphersuites(&c->conf, ciphersuites);
    mbedtls_ssl_conf_groups(&c->conf, groups);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    /* Linked against a full mbed TLS (a distribution's, Buildroot's package): TLS 1.2 with the
     * suites above, as with our trimmed configuration, whatever that library also offers. */
    mbedtls_ssl_conf_max_tls_version(&c->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
    if (c->has_ca)
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    mbedtls_ssl_conf_verify(&c->conf, verify_cb, c);
    mbedtls_ssl_conf_rng(&c->conf, rng, NULL);
    if ((ret = mbedtls_ssl_setup(&c->ssl, &c->conf)) != 0) {
        throw_tls(ctx, c, "tls setup", ret);
        goto fail;
    }
    v = JS_GetPropertyStr(ctx, argv[1], "serverName");
    if (!JS_IsUndefined(v) && !JS_IsNull(v)) {
        const char *name = JS_ToCString(ctx, v);
        JS_FreeValue(ctx, v);
        if (!name)
            goto fail;
#if MBEDTLS_VERSION_MAJOR < 3
        /* An IP literal is checked by verify_cb (ip_matches), not by mbedTLS; no hostname also
         * means no SNI, which must not carry an IP address anyway (RFC 6066). */
        if (inet_pton(AF_INET, name, c->ip) == 1)
            c->ip_len = 4;
        else if (inet_pton(AF_INET6, name, c->ip) == 1)
            c->ip_len = 16;
        ret = c->ip_len ? 0 : mbedtls_ssl_set_hostname(&c->ssl, name);
#else
        ret = mbedtls_ssl_set_hostname(&c->ssl, name);
#endif
        name_copy = js_strdup(ctx, name);
        JS_FreeCString(ctx, name);
        if (!name_copy)
            goto fail;
        if (ret) {
            js_free(ctx, name_copy);
            throw_tls(ctx, c, "serverName", ret);
            goto fail;
        }
    } else {
        JS_FreeValue(ctx, v);
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    session_identity(c, name_copy, (const char *)ca_hash, c->has_ca ? sizeof(ca_hash) : 0);
    js_free(ctx, name_copy);
    {
        SavedSession *s = find_session(c->identity);
        if (s && mbedtls_ssl_set_session(&c->ssl, &s->session) == 0)
            c->offered = 1;
    }
    return obj;
fail:
    JS_FreeValue(ctx, obj);
    return JS_EXCEPTION;
}

/* tlsHandshake(conn): 0 done and verified, 1 wants readable, 2 wants writable; throws on failure. */
JSValue native_tls_handshake(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    TlsConn *c = get_conn(ctx, argv[0]);
    const char *why;
    int ret;

    if (!c)
        return JS_EXCEPTION;
    ret = mbedtls_ssl_handshake(&c->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ)
        return JS_NewInt32(ctx, 1);
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return JS_NewInt32(ctx, 2);
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
        return JS_ThrowInternalError(ctx, "tls: %s", flags_text(mbedtls_ssl_get_verify_result(&c->ssl)));
    if (ret != 0)
        return throw_tls(ctx, c, "tls handshake", ret);
    if (c->chain_len == 0) {
        /* No certificate came: the server resumed the session we offered, which passed decide()
         * on a full handshake with the same identity. Never without an offer. */
        if (!c->offered)
            return JS_ThrowInternalError(ctx, "tls: server sent no certificate");
        save_session(c, 1);
        return JS_NewInt32(ctx, 0);
    }
    why = decide(c);
    if (why)
        return JS_ThrowInternalError(ctx, "tls: %s", why);
    save_session(c, 0);
    return JS_NewInt32(ctx, 0);
}

/* tlsRead(conn): ArrayBuffer, null at EOF (close_notify or TCP FIN), undefined if none ready. */
JSValue native_tls_read(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    TlsConn *c = get_conn(ctx, argv[0]);
    int ret;

    if (!c)
        return JS_EXCEPTION;
    ret = mbedtls_ssl_read(&c->ssl, flussonic_io_buf, IO_CHUNK);
    if (ret > 0)
        return JS_NewArrayBufferCopy(ctx, flussonic_io_buf, (size_t)ret);
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF)
        return JS_NULL;
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return JS_UNDEFINED;
    return throw_tls(ctx, c, "tls read", ret);
}

/* mbedTLS's own, not in its public headers (ssl_misc.h in 3.x, ssl_internal.h in 2.28). */
int mbedtls_ssl_flush_output(mbedtls_ssl_context *ssl);

/* Sends the record the pump left held. 0 when nothing is held any more, 1 when the socket is
 * still full, or an mbedTLS error (< 0). */
static int flush_pump_record(TlsConn *c)
{
    int ret;
    if (!c->pump_held)
        return 0;
    ret = mbedtls_ssl_flush_output(&c->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
        return 1;
    if (ret == 0)
        c->pump_held = 0;
    return ret;
}

/* tlsWrite(conn, bytes): bytes taken, 0 when blocked. After 0, call again
 * later with the same bytes (mbedTLS requirement). */
JSValue native_tls_write(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    TlsConn *c = get_conn(ctx, argv[0]);
    const uint8_t *p;
    size_t len;
    int ret;

    if (!c)
        return JS_EXCEPTION;
    p = flussonic_get_bytes(ctx, argv[1], &len);
    if (!p)
        return JS_EXCEPTION;
    if (len == 0)
        return JS_NewInt32(ctx, 0);
    if ((ret = flush_pump_record(c)) != 0)
        return ret > 0 ? JS_NewInt32(ctx, 0) : throw_tls(ctx, c, "tls write", ret);
    ret = mbedtls_ssl_write(&c->ssl, p, len);
    c->js_held = ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE;
    if (ret >= 0)
        return JS_NewInt32(ctx, ret);
    if (c->js_held)
        return JS_NewInt32(ctx, 0);
    return throw_tls(ctx, c, "tls write", ret);
}

/* tlsWriteTwo(conn, head, body): as tlsWrite() of head followed by body, as many records as the
 * socket takes now, without JS concatenating them (a frame header and its payload). Returns the
 * bytes taken; the caller retries the rest with tlsWrite(), whose first record mbedTLS already
 * holds when the socket was full (its length is min(rest, record size) either way). */
JSValue native_tls_write_two(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    static uint8_t gather[MBEDTLS_SSL_OUT_CONTENT_LEN];
    TlsConn *c = get_conn(ctx, argv[0]);
    const uint8_t *h, *b, *p;
    size_t hl, bl, total, off = 0, n;
    int ret;

    if (!c)
        return JS_EXCEPTION;
    h = flussonic_get_bytes(ctx, argv[1], &hl);
    b = h ? flussonic_get_bytes(ctx, argv[2], &bl) : NULL;
    if (!b)
        return JS_EXCEPTION;
    total = hl + bl;
    if ((ret = flush_pump_record(c)) != 0)
        return ret > 0 ? JS_NewInt32(ctx, 0) : throw_tls(ctx, c, "tls write", ret);
    while (off < total) {
        n = total - off;
        if (off >= hl) {
            p = b + (off - hl);
        } else { /* this record starts in head: gather its first bytes (C copies are cheap) */
            if (n > sizeof(gather))
                n = sizeof(gather);
            memcpy(gather, h + off, hl - off);
            memcpy(gather + (hl - off), b, n - (hl - off));
            p = gather;
        }
        ret = mbedtls_ssl_write(&c->ssl, p, n);
        c->js_held = ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE;
        if (ret > 0) {
            off += (size_t)ret;
            continue;
        }
        if (c->js_held)
            break;
        return throw_tls(ctx, c, "tls write", ret);
    }
    return JS_NewInt64(ctx, (int64_t)off);
}

/* tlsPending(conn): decrypted bytes already buffered (readable without a socket event). */
JSValue native_tls_pending(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    TlsConn *c = get_conn(ctx, argv[0]);
    if (!c)
        return JS_EXCEPTION;
    return JS_NewInt32(ctx, (int)mbedtls_ssl_get_bytes_avail(&c->ssl));
}

JSValue native_tls_close_notify(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    TlsConn *c = get_conn(ctx, argv[0]);
    if (!c)
        return JS_EXCEPTION;
    mbedtls_ssl_close_notify(&c->ssl); /* best effort: a full socket buffer just loses the alert */
    return JS_UNDEFINED;
}

/* tlsInfo(conn): "TLSv1.2 TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256" */
JSValue native_tls_info(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    TlsConn *c = get_conn(ctx, argv[0]);
    char s[128];
    if (!c)
        return JS_EXCEPTION;
    snprintf(s, sizeof(s), "%s %s%s", mbedtls_ssl_get_version(&c->ssl), mbedtls_ssl_get_ciphersuite(&c->ssl),
             c->chain_len == 0 ? " resumed" : "");
    return JS_NewString(ctx, s);
}

/* tlsFree(conn): release the TLS state now (the fd is not closed). Idempotent. */
JSValue native_tls_free(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    TlsConn *c = JS_GetOpaque2(ctx, argv[0], tls_class_id);
    if (!c)
        return JS_EXCEPTION;
    conn_free(c);
    return JS_UNDEFINED;
}

/* tlsFlush(conn): true when no record of the pump is held back any more (JS's own held record
 * is JS's to retry), false when the socket is still full. */
JSValue native_tls_flush(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    TlsConn *c = get_conn(ctx, argv[0]);
    int ret;
    if (!c)
        return JS_EXCEPTION;
    ret = flush_pump_record(c);
    if (ret < 0)
        return throw_tls(ctx, c, "tls write", ret);
    return JS_NewBool(ctx, ret == 0);
}

/* tlsHoldPump(conn, hold): while hold, the pump's writes find the link full (see pump_hold). */
JSValue native_tls_hold_pump(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    TlsConn *c = JS_GetOpaque2(ctx, argv[0], tls_class_id);
    if (!c)
        return JS_EXCEPTION;
    c->pump_hold = JS_ToBool(ctx, argv[1]);
    return JS_UNDEFINED;
}

/* ---- for the pump (native-pump.c) ---- */

TlsConn *flussonic_tls_conn(JSContext *ctx, JSValueConst v)
{
    return get_conn(ctx, v);
}

size_t flussonic_tls_record_max(TlsConn *c)
{
    int n = mbedtls_ssl_get_max_out_record_payload(&c->ssl);
    return n > 0 ? (size_t)n : 0;
}

int flussonic_tls_send_record(TlsConn *c, const uint8_t *p, size_t len, char *err, size_t errsize)
{
    int ret;
    if (c->pump_hold)
        return 1; /* JS's queue goes first (or the link is closing): the pump waits for the drain */
    if (c->freed) {
        snprintf(err, errsize, "tls write: link closed");
        return -1;
    }
    if (c->js_held)
        return 1; /* JS's record goes first: JS queues behind it, the pump waits for the drain */
    if ((ret = flush_pump_record(c)) != 0) {
        if (ret > 0)
            return 1;
        tls_error_text(c, "tls write", ret, err, errsize);
        return -1;
    }
    if (len == 0)
        return 0;
    if (len > flussonic_tls_record_max(c)) {
        snprintf(err, errsize, "tls write: record of %u bytes too large", (unsigned)len);
        return -1;
    }
    ret = mbedtls_ssl_write(&c->ssl, p, len);
    if (ret == (int)len)
        return 0;
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        /* The record is encrypted and held by mbedTLS (ssl_write_real): it is sent, just later. */
        c->pump_held = 1;
        return 2;
    }
    if (ret >= 0)
        ret = MBEDTLS_ERR_SSL_INTERNAL_ERROR; /* cannot happen: len fits one record */
    tls_error_text(c, "tls write", ret, err, errsize);
    return -1;
}

/*
 * Trimmed mbedTLS 3.6 configuration for the agent: a TLS 1.2 *client* only.
 * Kept: ECDHE key exchange (X25519, P-256, P-384), ECDSA and RSA server certificates,
 * AES-GCM and ChaCha20-Poly1305, SHA-256/384, X.509 chain verification from PEM CAs.
 * Kept too: session tickets (RFC 5077), so a reconnect resumes instead of a full handshake.
 * Dropped: server side, TLS 1.3 (needs the PSA crypto core: ~100 KB more), CBC suites, SHA-1,
 * DHE, PSK, renegotiation, entropy/DRBG modules (randomness comes straight from /dev/urandom,
 * see tls.c), error strings, filesystem/time-of-day helpers we do not call.
 * Node's TLS server (our streamer) negotiates TLS 1.2 ECDHE-*-AES128-GCM/CHACHA20 with this.
 */
#ifndef FLUSSONIC_MBEDTLS_CONFIG_H
#define FLUSSONIC_MBEDTLS_CONFIG_H

/* System support */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE          /* certificate validity periods */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_DEPRECATED_REMOVED

/* Protocol: TLS 1.2 client */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
#define MBEDTLS_SSL_SESSION_TICKETS      /* resumption after a reconnect (tls.c) */
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED

/* Record buffers: incoming records can be 16 KB (peers rarely honour max_fragment_length);
 * our own records are capped smaller to save RAM. */
#define MBEDTLS_SSL_IN_CONTENT_LEN  16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 8192

/* Ciphers */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES           /* tables in flash instead of RAM */
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C

/* Hashes */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA224_C                 /* the SHA-256 module needs both halves enabled */
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_SHA512_SMALLER

/* Public key */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_OID_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C

/* Certificates */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_X509_REMOVE_INFO         /* no human-readable dumps: saves ~10 KB */

#endif

/*
 * Shared declarations of the flussonic:native module (docs/native.md). native.c holds the one
 * table of functions JS sees; each concern implements its entries in its own file:
 *   native-util.c      errors, byte arguments, the descriptor cap, the shared I/O buffer
 *   native-proc.c      build information, clock, stdout/stderr, exit, logging (log.c)
 *   native-fs.c        random bytes, readFile, writeFileAtomic
 *   native-resolver.c  name resolution in a short-lived thread
 *   native-net.c       TCP client sockets
 *   native-test.c      listening sockets, only in TEST_SERVER=1 builds
 *   native-pump.c      the relay pump: camera socket -> DATA frames on the TLS link, in C
 *   tls.c              TLS client over mbedTLS
 */
#ifndef FLUSSONIC_NATIVE_H
#define FLUSSONIC_NATIVE_H

#include <stdint.h>

#include "quickjs.h"

JSModuleDef *js_init_module_flussonic_native(JSContext *ctx, const char *name);

/* ---- helpers (native-util.c) ---- */

/* One read or random-bytes call returns at most this much; the buffer is shared by every call
 * that copies out of it before returning. */
#define IO_CHUNK 16384
extern uint8_t flussonic_io_buf[IO_CHUNK];

/* Throws Error("what: strerror(errno)"); returns JS_EXCEPTION. */
JSValue flussonic_throw_errno(JSContext *ctx, const char *what);
/* Bytes of an ArrayBuffer, a typed array or a DataView; NULL (exception set) for anything else. */
uint8_t *flussonic_get_bytes(JSContext *ctx, JSValueConst val, size_t *plen);
/*
 * quickjs-libc's event loop (2025-04-26) waits with select(): FD_SET on a descriptor
 * >= FD_SETSIZE writes past the fd_set. Every descriptor that can reach the loop (sockets and
 * resolver pipes) is created by this module and checked against FD_CAP: one >= FD_CAP is closed
 * and reported as EMFILE, so the loop never sees it. The agent needs about 40 (one link, 32
 * camera connections, resolver pipes while dialling): docs/native.md, "Descriptors".
 */
#define FD_CAP 128
/* fd, or -1 with errno EMFILE (fd closed) when fd >= FD_CAP. */
int flussonic_capped_fd(int fd);

static inline int flussonic_get_fd(JSContext *ctx, int *fd, JSValueConst v)
{
    return JS_ToInt32(ctx, fd, v);
}

/* /dev/urandom (native-fs.c), also the TLS random source. 0 or -1 with errno. */
int flussonic_urandom(void *buf, size_t len);
/* Non-blocking, close-on-exec, capped stream socket (native-net.c). */
int flussonic_new_socket(int family);

/* TLS (tls.c): registers the TlsConn class; the only file that knows the TLS library. */
int flussonic_tls_init(JSContext *ctx);
const char *flussonic_tls_version(void);
typedef struct TlsConn TlsConn;
/* The live TlsConn behind a JS value; NULL (exception set) for anything else or a freed one. */
TlsConn *flussonic_tls_conn(JSContext *ctx, JSValueConst v);
/* Application bytes one TLS record carries at most (MBEDTLS_SSL_OUT_CONTENT_LEN). */
size_t flussonic_tls_record_max(TlsConn *c);
/* Sends p[0..len) as exactly one record. 0 sent; 2 taken but held by the TLS library until the
 * socket has room (counts as sent: nothing more may be written until tlsFlush says so); 1 not
 * taken, an earlier record is still held (len 0: only flush); -1 failed, err says why. */
int flussonic_tls_send_record(TlsConn *c, const uint8_t *p, size_t len, char *err, size_t errsize);

/* The pump (native-pump.c): registers the Pump class. */
int flussonic_pump_init(JSContext *ctx);

/* ---- the functions of the JS table, by file ---- */
#define NATIVE_FN(name) JSValue name(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)

NATIVE_FN(native_build_info);
NATIVE_FN(native_now);
NATIVE_FN(native_write_out);
NATIVE_FN(native_write_err);
NATIVE_FN(native_exit);
NATIVE_FN(native_open_syslog);
NATIVE_FN(native_log);

NATIVE_FN(native_random_bytes);
NATIVE_FN(native_read_file);
NATIVE_FN(native_write_file_atomic);

NATIVE_FN(native_resolve_start);
NATIVE_FN(native_resolve_result);

NATIVE_FN(native_tcp_connect);
NATIVE_FN(native_connect_result);
NATIVE_FN(native_set_keepalive);
NATIVE_FN(native_set_nodelay);
NATIVE_FN(native_read);
NATIVE_FN(native_write);
NATIVE_FN(native_write_two);
NATIVE_FN(native_shutdown_write);
NATIVE_FN(native_close);

NATIVE_FN(native_tls_new);
NATIVE_FN(native_tls_handshake);
NATIVE_FN(native_tls_read);
NATIVE_FN(native_tls_write);
NATIVE_FN(native_tls_write_two);
NATIVE_FN(native_tls_pending);
NATIVE_FN(native_tls_close_notify);
NATIVE_FN(native_tls_info);
NATIVE_FN(native_tls_free);
NATIVE_FN(native_tls_flush);
NATIVE_FN(native_tls_hold_pump);

NATIVE_FN(native_pump_new);
NATIVE_FN(native_pump_credit);
NATIVE_FN(native_pump_run);
NATIVE_FN(native_pump_error);
NATIVE_FN(native_pump_stop);
NATIVE_FN(native_pump_handler);
NATIVE_FN(native_pump_take_sent);

#ifdef FLUSSONIC_TEST_SERVER
NATIVE_FN(native_listen_tcp);
NATIVE_FN(native_local_port);
NATIVE_FN(native_accept);
#endif

#endif

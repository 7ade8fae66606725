/*
 * Shared declarations of the flussonic:native module (docs/native.md). native.c holds the one
 * table of functions JS sees; each concern implements its entries in its own file:
 *   native-util.c      errors, byte arguments, the descriptor cap, the shared I/O buffer
 *   native-proc.c      build information, clock, stdout/stderr, exit, logging (log.c)
 *   native-fs.c        random bytes, readFile, writeFileAtomic
 *   native-resolver.c  name resolution in a short-lived thread
 *   native-net.c       TCP client sockets
 *   native-test.c      listening sockets, only in TEST_SERVER=1 builds
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

#ifdef FLUSSONIC_TEST_SERVER
NATIVE_FN(native_listen_tcp);
NATIVE_FN(native_local_port);
NATIVE_FN(native_accept);
#endif

#endif

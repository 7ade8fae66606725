/* Shared declarations of the flussonic:native module (see native.c, docs/native.md). */
#ifndef FLUSSONIC_NATIVE_H
#define FLUSSONIC_NATIVE_H

#include "quickjs.h"

JSModuleDef *js_init_module_flussonic_native(JSContext *ctx, const char *name);

/* TLS part (tls.c): adds its functions to the module's export list. */
extern const JSCFunctionListEntry flussonic_tls_funcs[];
extern const int flussonic_tls_funcs_count;
int flussonic_tls_init(JSContext *ctx);
const char *flussonic_tls_version(void);

/* Helpers shared by native.c and tls.c */
JSValue flussonic_throw_errno(JSContext *ctx, const char *what);
/* Bytes of an ArrayBuffer, a typed array or a DataView, with optional [offset, length). */
uint8_t *flussonic_get_bytes(JSContext *ctx, JSValueConst val, JSValueConst off_val,
                             JSValueConst len_val, size_t *plen);
/* The (bytes, offset?, length?) arguments starting at argv[i]. */
uint8_t *flussonic_get_bytes_args(JSContext *ctx, int argc, JSValueConst *argv, int i, size_t *plen);
int flussonic_urandom(void *buf, size_t len);

#endif

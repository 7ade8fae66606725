/*
 * flussonic:native — the small OS layer under platform/quickjs.ts: the one table of functions
 * the module exports to JS. Each entry is implemented in the file of its concern (native.h).
 *
 * Everything is non-blocking and driven by quickjs-libc's single event loop: a function only
 * starts an operation and returns at once; the JS side waits for readiness with
 * os.setReadHandler/os.setWriteHandler. Errors are thrown as JS Error("what: strerror").
 * The JS-visible API is described in docs/native.md and typed in
 * src/platform/quickjs-native.d.ts.
 */
#include "native.h"

static const JSCFunctionListEntry native_funcs[] = {
    /* process (native-proc.c) */
    JS_CFUNC_DEF("buildInfo", 0, native_build_info),
    JS_CFUNC_DEF("now", 0, native_now),
    JS_CFUNC_DEF("writeOut", 1, native_write_out),
    JS_CFUNC_DEF("writeErr", 1, native_write_err),
    JS_CFUNC_DEF("exit", 1, native_exit),
    JS_CFUNC_DEF("openSyslog", 1, native_open_syslog),
    JS_CFUNC_DEF("log", 2, native_log),
    /* random bytes and files (native-fs.c) */
    JS_CFUNC_DEF("randomBytes", 1, native_random_bytes),
    JS_CFUNC_DEF("readFile", 1, native_read_file),
    JS_CFUNC_DEF("writeFileAtomic", 2, native_write_file_atomic),
    /* names (native-resolver.c) */
    JS_CFUNC_DEF("resolveStart", 1, native_resolve_start),
    JS_CFUNC_DEF("resolveResult", 1, native_resolve_result),
    /* TCP (native-net.c) */
    JS_CFUNC_DEF("tcpConnect", 2, native_tcp_connect),
    JS_CFUNC_DEF("connectResult", 1, native_connect_result),
    JS_CFUNC_DEF("setKeepAlive", 4, native_set_keepalive),
    JS_CFUNC_DEF("setNoDelay", 2, native_set_nodelay),
    JS_CFUNC_DEF("read", 1, native_read),
    JS_CFUNC_DEF("write", 2, native_write),
    JS_CFUNC_DEF("writeTwo", 3, native_write_two),
    JS_CFUNC_DEF("shutdownWrite", 1, native_shutdown_write),
    JS_CFUNC_DEF("close", 1, native_close),
    /* TLS (tls.c) */
    JS_CFUNC_DEF("tlsNew", 2, native_tls_new),
    JS_CFUNC_DEF("tlsHandshake", 1, native_tls_handshake),
    JS_CFUNC_DEF("tlsRead", 1, native_tls_read),
    JS_CFUNC_DEF("tlsWrite", 2, native_tls_write),
    JS_CFUNC_DEF("tlsWriteTwo", 3, native_tls_write_two),
    JS_CFUNC_DEF("tlsPending", 1, native_tls_pending),
    JS_CFUNC_DEF("tlsCloseNotify", 1, native_tls_close_notify),
    JS_CFUNC_DEF("tlsInfo", 1, native_tls_info),
    JS_CFUNC_DEF("tlsFree", 1, native_tls_free),
    JS_CFUNC_DEF("tlsFlush", 1, native_tls_flush),
    JS_CFUNC_DEF("tlsHoldPump", 2, native_tls_hold_pump),
    /* the relay pump (native-pump.c) */
    JS_CFUNC_DEF("pumpNew", 3, native_pump_new),
    JS_CFUNC_DEF("pumpCredit", 2, native_pump_credit),
    JS_CFUNC_DEF("pumpRun", 1, native_pump_run),
    JS_CFUNC_DEF("pumpError", 1, native_pump_error),
    JS_CFUNC_DEF("pumpStop", 1, native_pump_stop),
    JS_CFUNC_DEF("pumpHandler", 2, native_pump_handler),
    JS_CFUNC_DEF("pumpTakeSent", 1, native_pump_take_sent),
#ifdef FLUSSONIC_TEST_SERVER
    /* listening sockets, test builds only (native-test.c) */
    JS_CFUNC_DEF("listenTcp", 2, native_listen_tcp),
    JS_CFUNC_DEF("localPort", 1, native_local_port),
    JS_CFUNC_DEF("accept", 1, native_accept),
#endif
};

static int native_init(JSContext *ctx, JSModuleDef *m)
{
    if (flussonic_tls_init(ctx) || flussonic_pump_init(ctx))
        return -1;
    return JS_SetModuleExportList(ctx, m, native_funcs, sizeof(native_funcs) / sizeof(native_funcs[0]));
}

JSModuleDef *js_init_module_flussonic_native(JSContext *ctx, const char *name)
{
    JSModuleDef *m = JS_NewCModule(ctx, name, native_init);
    if (!m)
        return NULL;
    JS_AddModuleExportList(ctx, m, native_funcs, sizeof(native_funcs) / sizeof(native_funcs[0]));
    return m;
}

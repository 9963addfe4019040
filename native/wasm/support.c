/*
 * support.c — what the parser needs around it in the WebAssembly build (--isolation=sfi), in
 * place of native/runtime: the stack canary, the abort and NULL-check traps, the entry point.
 * Built only by scripts/build-wasm.sh, with the parser's sources, into native/wasm/parser.wasm.
 *
 * Every deliberate trap first tells the host its kind (import env.trap_kind) and then executes
 * `unreachable`, so the host reports the same parser_faults_<kind> as the native runtime
 * (canary, abort, segv); other traps are classified from V8's RuntimeError (native/sfi.ts).
 * Nothing here is trusted by the host: a kind the parser reports only labels its own fault.
 */
#include <stdint.h>
#include "remc_abi.h"
#include "remc_domain.h"
#include "budget.h"
#include "abi_layout.h"

#define EXPORT(name) __attribute__((export_name(name), visibility("default")))
#define IMPORT(name) __attribute__((import_module("env"), import_name(name)))

IMPORT("trap_kind") void host_trap_kind(uint32_t kind);

/* Loop-budget ticks between two questions to the host (budget.s): about a millisecond of the
 * tightest loop, so the host reads its clock rarely and --watchdog-ms is kept to within that. */
#define REMC_WASM_BUDGET (1u << 20)
void remc_budget_reset(uint32_t budget); /* budget.s */

__attribute__((noreturn)) static void trap(uint32_t kind) {
  host_trap_kind(kind);
  __builtin_trap();
}

/* -fstack-protector-strong: the canary is a word of linear memory that the host sets to a
 * random value when it instantiates the module and again after every trap (exported
 * by the build: -Wl,--export=__stack_chk_guard). */
uintptr_t __stack_chk_guard = 0;
__attribute__((noreturn)) void __stack_chk_fail(void) { trap(REMC_FAULT_canary); }

/* The parser's abort() (remc_domain.h). */
__attribute__((noreturn)) void remc_domain_abort(void) { trap(REMC_FAULT_abort); }

/* Address 0 is ordinary memory in wasm, so a NULL dereference would not fault. The build adds
 * -fsanitize=null: every access through a pointer is checked and a NULL one lands here, as the
 * native parser's would land in the SIGSEGV handler. */
__attribute__((noreturn)) void __ubsan_handle_type_mismatch_v1_abort(void *data, void *ptr) {
  (void)data, (void)ptr;
  trap(REMC_FAULT_segv);
}

/* The one entry point: a fresh budget per call, then the parser as the native gate calls it. */
EXPORT("parse") void remc_wasm_parse(remc_parse_io *io, const uint8_t *window) {
  remc_budget_reset(REMC_WASM_BUDGET);
  remc_parse(io, window);
}

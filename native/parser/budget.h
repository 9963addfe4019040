/*
 * budget.h — the loop budget of the WebAssembly build (--isolation=sfi; native/wasm/).
 *
 * V8 cannot preempt wasm from the thread that runs it, so a runaway parse there has no watchdog.
 * Built with -DREMC_LOOP_BUDGET, every loop of the parser that is not bounded by the bytes it
 * scans ticks a counter that lives in a wasm global (native/wasm/budget.s): not in linear memory,
 * so no store of the parser can change it. When it runs out the host checks the call's time
 * against --watchdog-ms and either refills it or makes the tick trap (kind timeout).
 * Without the flag (the native build) REMC_LOOP_TICK() is nothing: the native objects are
 * byte-for-byte what they were (there the watchdog thread interrupts a runaway call).
 */
#ifndef REMC_PARSER_BUDGET_H
#define REMC_PARSER_BUDGET_H

#ifdef REMC_LOOP_BUDGET
__attribute__((visibility("hidden"))) void remc_loop_tick(void);
#define REMC_LOOP_TICK() remc_loop_tick()
#else
#define REMC_LOOP_TICK() ((void)0)
#endif

#endif

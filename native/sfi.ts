// --isolation=sfi: the request parser compiled to WebAssembly (native/wasm/parser.wasm, built by
// scripts/build-wasm.sh from the native parser's sources), run in V8's sandbox. It addresses
// nothing but its own linear memory, on any CPU. Facts: ../shared/reference/sfi-wasm.md.
//
// One call per read event, with native.parse's signature, so the server's call site is the
// same in every mode: root copies the event's bytes into the module's window (foreignPrepare),
// the module parses, root copies the io struct and descriptors back into the domain io area and
// validates them with the same remc_validate as after a native call (foreignFinish). Nothing is
// allocated per event on the good path.
//
// A trap (out of bounds, unreachable, division by zero, V8's stack limit, the loop budget) is
// caught here, classified into the runtime's fault kinds, and rewound: the stack pointer and the
// canary restored, the shadow stack and the scratch heap zeroed. Then foreignFault shuts the
// socket down and fills res[] as after a native fault, so connection.ts counts and logs it as
// under pku.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { PACKAGE_ROOT } from '../server/package.ts';

/** The module's memory map: [shadow stack | data | io + descriptors | window | scratch heap].
 *  The heap ends where the memory ends, so an overrun or an exhausting allocator traps. */
export interface SfiLayout {
  stackTop: number;
  dataEnd: number;
  io: number;
  window: number;
  heap: number;
  heapSize: number;
  pages: number;
}

/** Ticks per budget (native/parser/budget.h); must be what support.c's entry starts with. */
const BUDGET = 1 << 20;
/** The scratch heap: the parser allocates nothing from it today (fault injection does); small,
 *  because a trap zeroes all of it. */
const HEAP_SIZE = 16 << 10;
const PAGE = 64 << 10;

export const WASM_PATH = join(PACKAGE_ROOT, 'native', 'wasm', 'parser.wasm');

let cachedModule: WebAssembly.Module | null = null;
export function sfiModule(): WebAssembly.Module {
  cachedModule ??= new WebAssembly.Module(readFileSync(WASM_PATH));
  return cachedModule;
}

interface Addon {
  abi: { K: Record<string, number>; faultKinds: string[] };
  setForeign(mem: Uint8Array, io: number, window: number, heap: number, heapSize: number): number;
  foreignPrepare(len: number, start: number, resumeOff: number, binary?: number): void;
  foreignFinish(): number;
  foreignFault(fd: number, kind: number, rewindNs: number): number;
}

export interface SfiParser {
  /** native.parse's contract: remc_pstatus | P_FAULT | P_INVALID, results in res[] */
  parse(len: number, start: number, resumeOff: number, fd: number, binary?: number): number;
  /** the module's parse alone, for --cross-check (the caller prepared and finishes): 0 or a fault kind */
  run(): number;
  layout: SfiLayout;
  memory: WebAssembly.Memory;
  /** traps rewound so far, by kind */
  faults: number[];
}

export function createSfiParser(addon: Addon, windowCap: number, descCap: number, watchdogMs: number): SfiParser {
  const fk = addon.abi.faultKinds;
  const KIND = (name: string): number => { const i = fk.indexOf(name); if (i < 0) throw new Error(`no fault kind ${name}`); return i; };
  const SEGV = KIND('segv'), HEAP = KIND('heap'), STACK = KIND('stack_overflow'), ILL = KIND('ill'),
    FPE = KIND('fpe'), TRAP = KIND('trap'), TIMEOUT = KIND('timeout');

  const module = sfiModule();
  // Filled by the module's imports just before it traps on purpose (canary, abort, NULL, budget).
  let trapKind = 0;
  let budgetT0 = 0;
  const imports = {
    env: {
      memory: null as unknown as WebAssembly.Memory,
      trap_kind: (k: number): void => { trapKind = k >>> 0; },
      // refills: how many budgets this call has used. The first refill starts the clock (the call
      // has run a budget's worth already); later ones check it against --watchdog-ms.
      budget: (refills: number): number => {
        if (refills === 0) { budgetT0 = performance.now(); return BUDGET; }
        if (performance.now() - budgetT0 < watchdogMs) return BUDGET;
        trapKind = TIMEOUT;
        return 0;
      },
    },
  };

  // Where things go: data ends at __heap_base; io, window and heap follow (64-byte aligned), the
  // heap last, ending with the memory. Instantiate once with a placeholder to read the symbols.
  const probeMem = new WebAssembly.Memory({ initial: 2, maximum: 2 });
  imports.env.memory = probeMem;
  const probe = new WebAssembly.Instance(module, imports).exports as Record<string, WebAssembly.Global>;
  const stackTop = probe.__stack_pointer!.value as number;
  const dataEnd = probe.__heap_base!.value as number;
  const align = (n: number, a: number) => Math.ceil(n / a) * a;
  const io = align(dataEnd, 64);
  const window = align(io + 96 + descCap * 32 * 4, 64);
  const heap = align(window + windowCap + HEAP_SIZE, PAGE) - HEAP_SIZE; // ends with the last page
  const pages = (heap + HEAP_SIZE) / PAGE;
  const layout: SfiLayout = { stackTop, dataEnd, io, window, heap, heapSize: HEAP_SIZE, pages };

  // maximum = initial: the memory never grows, so the buffer (and root's pointer to it) stays.
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  imports.env.memory = memory;
  const inst = new WebAssembly.Instance(module, imports);
  const ex = inst.exports as { parse: (io: number, w: number) => void; __stack_pointer: WebAssembly.Global;
    __stack_chk_guard: WebAssembly.Global };
  const sp = ex.__stack_pointer;
  const u8 = new Uint8Array(memory.buffer);
  // A random canary (the stack protector's guard word lives in the module's data).
  const guardAt = ex.__stack_chk_guard.value as number;
  randomFillSync(u8, guardAt, 4);
  const pristineData = u8.slice(stackTop, dataEnd); // data as instantiated, canary included
  addon.setForeign(u8, io, window, heap, HEAP_SIZE);

  const wasmParse = ex.parse;
  const prepare = addon.foreignPrepare;
  const finish = addon.foreignFinish;
  const fault = addon.foreignFault;
  const faults: number[] = new Array(fk.length).fill(0);

  /** What kind of fault `e` is; called before the rewind (it reads the stack pointer and heap). */
  function classify(e: unknown): number {
    const k = trapKind;
    if (k !== 0) return k; // the module said why before trapping
    if (e instanceof WebAssembly.RuntimeError) {
      const m = e.message;
      if (m === 'memory access out of bounds') {
        // the shadow stack grows down from stackTop: below 0 it wraps to a huge address
        if ((sp.value as number) >>> 0 > stackTop) return STACK;
        // the heap is zero between calls and ends the memory: its last block written, then an
        // access past the end, is a heap overrun (an unchecked allocator, a block overrun)
        for (let i = heap + HEAP_SIZE - 64; i < heap + HEAP_SIZE; i++) if (u8[i] !== 0) return HEAP;
        return SEGV;
      }
      if (m === 'unreachable') return ILL;
      if (m === 'divide by zero' || m === 'remainder by zero' || m === 'integer overflow') return FPE;
      return TRAP;
    }
    // V8's own stack limit (deep recursion with small frames): RangeError
    if (e instanceof RangeError) return STACK;
    return TRAP;
  }

  /** Back to the state of a fresh instance: registers (the stack pointer), the data (canary),
   *  and the memory the call may have written that a later call could read (stack, heap). The
   *  io area and window are rewritten by root before every call. */
  function rewind(): void {
    sp.value = stackTop;
    u8.fill(0, 0, stackTop);
    u8.set(pristineData, stackTop);
    u8.fill(0, heap, heap + HEAP_SIZE);
    trapKind = 0;
  }

  // Error.stackTraceLimit = 0 around the call: a trap's RuntimeError then captures no stack
  // trace (5.6 instead of 9.4 µs per trap here; ~1 ns per call for the two stores).
  let rewindNs = 0;
  /** Run the prepared call: 0, or the fault kind after a rewind (also --cross-check's variant). */
  function run(): number {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      wasmParse(io, window);
      Error.stackTraceLimit = limit;
      return 0;
    } catch (e) {
      Error.stackTraceLimit = limit;
      const t0 = performance.now();
      const kind = classify(e);
      rewind();
      faults[kind]!++;
      rewindNs = (performance.now() - t0) * 1e6;
      return kind;
    }
  }

  // The hot path: no allocation, no branch on the mode.
  function parse(len: number, start: number, resumeOff: number, fd: number, binary?: number): number {
    prepare(len, start, resumeOff, binary);
    const kind = run();
    return kind === 0 ? finish() : fault(fd, kind, rewindNs);
  }
  return { parse, run, layout, memory, faults };
}

// The part of the WebAssembly JS API that native/sfi.ts uses. tsconfig's lib is ES2023 without
// the DOM, which is where TypeScript declares WebAssembly; Node 20 has all of it.
declare global {
  namespace WebAssembly {
    class Module {
      constructor(bytes: Uint8Array);
      static exports(m: Module): Array<{ name: string; kind: string }>;
      static imports(m: Module): Array<{ module: string; name: string; kind: string }>;
    }
    class Instance {
      constructor(m: Module, imports?: Record<string, Record<string, unknown>>);
      readonly exports: Record<string, unknown>;
    }
    class Memory {
      constructor(d: { initial: number; maximum?: number });
      readonly buffer: ArrayBuffer;
    }
    class Global {
      value: unknown;
    }
    class RuntimeError extends Error {}
  }
}
export {};

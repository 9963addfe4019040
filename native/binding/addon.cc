// The JS face of the native parts: one module, a small API of plain numbers.
//
// Hot path rules (DESIGN.md, performance model): typed arrays are registered once (init,
// setOutput); per call only integers cross the boundary; results come back in those arrays.
//  - window: the domain's input window, a Buffer over domain memory; JS copies socket bytes in.
//  - desc:   validated descriptors, copied out of domain memory after every parse (root memory,
//            so nothing running in a domain can change them after validation).
//  - res:    Float64Array of results (R_* indices below, exported as `abi.R`).
//  - out:    the connection output buffer (registered by JS, re-registered when it grows).
#include <vector>
#include <napi.h>

#include <cerrno>
#include <string>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <malloc.h>

#include <atomic>
#include <mutex>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

extern "C" {
#include "remc_abi.h"
#include "remc_domain.h"
#include "remc_fault_inject.h"
#include "remc_store.h"
}
#include "../wasm/abi_layout.h"  // remc_parse_io is the same struct in the wasm parser

// persist_js.cc: -e (restartable cache files)
void remc_persist_restore(Napi::Env env, Napi::Object opts, remc_store** store,
                          const remc_store_config* cfg, Napi::Object result);
void remc_persist_js_init(Napi::Env env, Napi::Object exports);

namespace {

// Indices into `res`.
enum ResultWord {
  R_CONSUMED = 0, R_NDESC, R_RESUME,            // parse
  R_FAULT_KIND, R_FAULT_SIGNO, R_FAULT_CODE, R_FAULT_PKEY, R_FAULT_ADDR, R_FAULT_NS,
  R_VALIDATE,                                   // remc_validate's code when parse returns P_INVALID
  R_FLAGS, R_NBYTES, R_CAS, R_EXPTIME, R_LAST_ACCESS, R_FETCHED, R_CLASS,  // item lookups
  R_ARITH_LEN,                                  // digits written by arith
  R_CLOSE_REASON,                               // parse: enum remc_close_reason with REMC_PS_CLOSE
  R_FAULT_CLOSE_NS,                             // fault taken -> connection shut down, ns
  R_META,                                       // item lookups: REMC_META_* bits (meta commands)
  R_COUNT
};

// parse() return values besides enum remc_pstatus.
constexpr int P_FAULT = -1;    // the parser faulted and was rewound; res[R_FAULT_*] say how
constexpr int P_INVALID = -2;  // the parser returned something remc_validate rejected

constexpr uint32_t kDescCap = 4096;

// The one store of the process: every worker thread's init shares it (-t N). Created by the
// first init, with that init's configuration; never destroyed (it lives as long as the process).
std::mutex g_store_mu;
remc_store* g_store = nullptr;

// Root memory the fault injector aims at (the "root write" fault kind); tests read it back.
uint64_t g_root_target[8] = {0x5afe5afe5afe5afeULL, 0, 0, 0, 0, 0, 0, 0};

// -t N: each worker's domain key (`stats isolation` domain_pkeys; -2: no such worker) and, with
// fault injection, a word of its domain memory that the peer faults of another worker aim at
// (the last 8 bytes of its io area, after the descriptors; it holds kPeerIntact until written).
constexpr int kMaxWorkers = 256;
constexpr uint64_t kPeerIntact = 0x5afe5afe5afe5afeULL;
std::atomic<int> g_worker_key[kMaxWorkers];
std::atomic<uint64_t*> g_peer_word[kMaxWorkers];
std::once_flag g_workers_once;
std::atomic<bool> g_shared_key_logged{false};

struct State {
  remc_domain* dom = nullptr;
  remc_store* store = nullptr;
  remc_parse_io* io = nullptr;      // domain memory: the parser writes it
  remc_parse_io* copy = nullptr;    // root memory: what is validated and what JS reads (desc)
  size_t io_cap = 0;
  uint8_t* window = nullptr;
  size_t window_cap = 0;
  uint32_t desc_cap = 0;
  uint32_t item_size_max = 0;
  uint32_t opts = 0;
  uint8_t* heap = nullptr;
  size_t heap_size = 0;
  Napi::Reference<Napi::Uint32Array> desc_ref;
  Napi::Reference<Napi::Float64Array> res_ref;
  double* res = nullptr;
  Napi::Reference<Napi::Uint8Array> out_ref;
  uint8_t* out = nullptr;
  size_t out_len = 0;
  // A multiget cut by REMC_PS_FULL is continued by the very next parse() (same event): the
  // cut command's end, remembered here, spares the parser a second search of its line.
  uint32_t cut_start = 0, cut_resume = 0, cut_end = 0;
  remc_item_ref pinned{nullptr};
  remc_item_info pinned_info{};
  Napi::Reference<Napi::Float64Array> stats_ref;
  double* stats = nullptr;
  // --isolation=sfi / --cross-check: the WebAssembly parser's linear memory (registered once by
  // setForeign; never grown: its maximum is its size) and where its io, window and heap are.
  Napi::Reference<Napi::Uint8Array> fmem_ref;
  uint8_t* fmem = nullptr;
  size_t fmem_len = 0;
  uint32_t f_io = 0, f_win = 0, f_heap = 0, f_heap_size = 0;
  size_t f_win_hw = 0;  // longest input copied into the module's window since it was scrubbed
  remc_parse_req f_req{};  // root's copy of what the pending foreign call was asked
  remc_parse_req last_req{};  // the last native parse's request (--cross-check replays it)
  int worker = 0;               // -t N: this worker's index (0 with one loop)
  uint64_t* peer_word = nullptr;  // with fault injection: the word other workers' peer faults aim at
};

State* S(const Napi::CallbackInfo& info) { return info.Env().GetInstanceData<State>(); }

inline uint32_t U32(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Uint32Value();
}
inline double F64(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().DoubleValue();
}
inline uint64_t U64(const Napi::CallbackInfo& info, size_t hi, size_t lo) {
  return (static_cast<uint64_t>(U32(info, hi)) << 32) | U32(info, lo);
}

// A key (offset, length) in the window, checked against the window: the offsets come from
// validated descriptors, but JS is another layer and an addon must not trust its callers
// with raw memory.
inline const uint8_t* WindowSpan(State* st, uint32_t off, uint32_t len) {
  if (static_cast<uint64_t>(off) + len > st->window_cap) return nullptr;
  return st->window + off;
}

void Throw(Napi::Env env, const char* msg) { Napi::Error::New(env, msg).ThrowAsJavaScriptException(); }

void ReleasePinned(State* st) {
  if (st->pinned.it) remc_store_release(st->store, &st->pinned);
  st->pinned.it = nullptr;
}

// init({ isolation, watchdogMs, windowCap, faultInjection, debugtime,
//        memLimit, itemSizeMax, growthFactor, chunkMin, evictions, casEnabled, hashpower })
// -> { mode, why, window, desc, res, stats }
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State* st = S(info);
  if (st->dom) { Throw(env, "remcached native: init called twice"); return env.Null(); }
  Napi::Object o = info[0].As<Napi::Object>();
  auto num = [&](const char* k, double d) {
    Napi::Value v = o.Get(k);
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : d;
  };
  auto flag = [&](const char* k) { return o.Get(k).ToBoolean().Value(); };

  const char* why = "";
  int mode = remc_domain_process_init(static_cast<int>(num("isolation", REMC_ISO_AUTO)), &why);
  if (mode < 0) { Throw(env, why && *why ? why : "domain runtime init failed"); return env.Null(); }

  remc_domain_config dc{};
  dc.isolation = mode;
  dc.window_cap = static_cast<size_t>(num("windowCap", 2 << 20));
  // + 64: room after the descriptors for the peer word (the runtime rounds up to a page)
  dc.io_cap = sizeof(remc_parse_io) + kDescCap * REMC_DESC_WORDS * sizeof(uint32_t) + 64;
  dc.stack_size = 256 << 10;
  dc.heap_size = 64 << 10;  // the text parser uses no heap; a bigger one costs a madvise per fault
  dc.watchdog_ms = static_cast<uint32_t>(num("watchdogMs", 100));
  st->dom = remc_domain_create(&dc);
  if (!st->dom) { Throw(env, "remcached native: cannot create the parser domain"); return env.Null(); }
  // A PKU mode is claimed only once a fault inside the domain has been caught on this kernel.
  char selftest_why[256] = "";
  if (mode != REMC_ISO_NONE && remc_domain_self_test(st->dom, selftest_why, sizeof selftest_why) != 0) {
    remc_domain_destroy(st->dom);
    remc_domain_process_fall_back_to_none();
    mode = dc.isolation = REMC_ISO_NONE;
    why = selftest_why;
    st->dom = remc_domain_create(&dc);
    if (!st->dom) { Throw(env, "remcached native: cannot create the parser domain"); return env.Null(); }
  }
  st->window = remc_domain_window(st->dom);
  st->window_cap = remc_domain_window_cap(st->dom);
  st->io = static_cast<remc_parse_io*>(remc_domain_io(st->dom));
  st->io_cap = remc_domain_io_cap(st->dom);
  st->desc_cap = static_cast<uint32_t>((st->io_cap - sizeof(remc_parse_io)) / (REMC_DESC_WORDS * sizeof(uint32_t)));
  if (st->desc_cap > kDescCap) st->desc_cap = kDescCap;
  st->copy = static_cast<remc_parse_io*>(std::calloc(1, sizeof(remc_parse_io) + static_cast<size_t>(st->desc_cap) * REMC_DESC_WORDS * sizeof(uint32_t)));
  if (!st->copy) { Throw(env, "remcached native: out of memory"); return env.Null(); }
  st->heap = remc_domain_heap(st->dom, &st->heap_size);
  st->opts = (flag("faultInjection") ? REMC_IN_FAULT_INJECTION : 0) | (flag("debugtime") ? REMC_IN_DEBUGTIME : 0);
  std::call_once(g_workers_once, [] {
    for (int i = 0; i < kMaxWorkers; i++) { g_worker_key[i] = -2; g_peer_word[i] = nullptr; }
  });
  st->worker = static_cast<int>(num("workerIndex", 0));
  if (st->worker < 0 || st->worker >= kMaxWorkers) st->worker = 0;
  int key = remc_domain_key(st->dom);
  g_worker_key[st->worker] = key;
  if (st->opts & REMC_IN_FAULT_INJECTION) {
    st->peer_word = reinterpret_cast<uint64_t*>(reinterpret_cast<uint8_t*>(st->io) + st->io_cap - 8);
    *st->peer_word = kPeerIntact;
    g_peer_word[st->worker] = st->peer_word;
  }
  bool shared = remc_domain_key_is_shared(st->dom) != 0;

  remc_store_config sc{};
  sc.mem_limit = static_cast<uint64_t>(num("memLimit", 64.0 * 1024 * 1024));
  sc.item_size_max = static_cast<uint32_t>(num("itemSizeMax", 1024 * 1024));
  st->item_size_max = sc.item_size_max;
  sc.growth_factor = num("growthFactor", 1.25);
  sc.chunk_min = static_cast<uint32_t>(num("chunkMin", 48));
  static thread_local uint32_t slab_sizes[64];  // read by remc_store_create only
  if (o.Get("slabSizes").IsArray()) {
    Napi::Array a = o.Get("slabSizes").As<Napi::Array>();
    uint32_t n = 0;
    for (; n < a.Length() && n < 63; n++) slab_sizes[n] = a.Get(n).As<Napi::Number>().Uint32Value();
    slab_sizes[n] = 0;
    sc.slab_sizes = slab_sizes;
  }
  sc.slab_chunk_max = static_cast<uint32_t>(num("slabChunkMax", 512 * 1024));
  sc.evictions = flag("evictions") ? 1 : 0;
  sc.cas_enabled = flag("casEnabled") ? 1 : 0;
  sc.pkey = remc_domain_store_pkey();
  sc.hashpower = static_cast<uint32_t>(num("hashpower", 16));
  sc.fake_malloced = static_cast<uint64_t>(num("fakeMalloced", 0));
  Napi::Object r = Napi::Object::New(env);
  {
    std::lock_guard<std::mutex> lock(g_store_mu);
    if (!g_store) {
      const char* serr = "unknown error";
      remc_store* s = remc_store_create(&sc, &serr);
      if (!s) { Throw(env, serr); return env.Null(); }
      remc_store_set_time(s, static_cast<int64_t>(time(nullptr)));
      remc_persist_restore(env, o, &s, &sc, r);  // -e: load the items of the last graceful stop
      if (env.IsExceptionPending()) return env.Null();
      g_store = s;
    }
    st->store = g_store;
  }

  r.Set("mode", mode);
  r.Set("why", why ? why : "");
  r.Set("pkey", key);
  r.Set("pkeyShared", shared);
  // keys ran out: the first worker to take the shared key says so (logged once per process)
  r.Set("pkeySharedFirst", shared && !g_shared_key_logged.exchange(true));
  // The window is domain memory; JS writes the socket bytes straight into it.
  r.Set("window", Napi::Buffer<uint8_t>::New(env, st->window, st->window_cap));
  // JS reads the validated copy's descriptors in place.
  size_t desc_words = static_cast<size_t>(st->desc_cap) * REMC_DESC_WORDS;
  Napi::ArrayBuffer dab = Napi::ArrayBuffer::New(env, st->copy->desc, desc_words * sizeof(uint32_t));
  Napi::Uint32Array desc = Napi::Uint32Array::New(env, desc_words, dab, 0);
  st->desc_ref = Napi::Persistent(desc);
  r.Set("desc", desc);
  Napi::Float64Array res = Napi::Float64Array::New(env, R_COUNT);
  st->res = res.Data();
  st->res_ref = Napi::Persistent(res);
  r.Set("res", res);
  Napi::Float64Array stats = Napi::Float64Array::New(env, REMC_STAT_COUNT + REMC_SSTAT_COUNT + REMC_ISTAT_COUNT);
  st->stats = stats.Data();
  st->stats_ref = Napi::Persistent(stats);
  r.Set("stats", stats);
  return r;
}

// setOutput(u8): register the output buffer (again whenever JS grows it).
Napi::Value SetOutput(const Napi::CallbackInfo& info) {
  State* st = S(info);
  Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
  st->out_ref = Napi::Persistent(a);
  st->out = a.Data();
  st->out_len = a.ByteLength();
  return info.Env().Undefined();
}

double MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + ts.tv_nsec;
}

// Root's request for one parse call (the parser's in-part; kept in root memory).
bool MakeReq(const Napi::CallbackInfo& info, State* st, remc_parse_req* req, size_t binary_arg) {
  *req = remc_parse_req{};
  req->len = U32(info, 0);
  req->start = U32(info, 1);
  req->resume_off = U32(info, 2);
  req->opts = st->opts;
  // 1 for a binary-protocol connection (root's per-connection state)
  if (info.Length() > binary_arg && info[binary_arg].IsNumber() && info[binary_arg].As<Napi::Number>().Int32Value() == 1) req->opts |= REMC_IN_BINARY;
  req->desc_cap = st->desc_cap;
  req->heap_size = st->heap_size;
  if (req->len > st->window_cap || req->start > req->len) { Throw(info.Env(), "parse: bad window range"); return false; }
  if (req->resume_off && req->resume_off == st->cut_resume && req->start == st->cut_start) req->resume_end = st->cut_end;
  st->cut_resume = 0;
  return true;
}

// After a normal return of the parser, whichever variant ran: io (domain memory) holds what it
// returned. Copy out of domain memory first, then validate the copy: what is checked is what is
// used. Returns the status, or P_INVALID with res[R_VALIDATE] saying why.
int Finish(State* st, const remc_parse_req& req) {
  remc_parse_io* io = st->io;
  double* res = st->res;
  uint32_t n = io->ndesc;
  if (n > st->desc_cap) { res[R_VALIDATE] = REMC_V_NDESC; return P_INVALID; }
  remc_parse_io* c = st->copy;
  std::memcpy(c, io, REMC_IO_BYTES(n));
  int bad = remc_validate(c, &req, static_cast<uint32_t>(st->window_cap));
  if (bad) {
    res[R_VALIDATE] = bad;
    return P_INVALID;
  }
  res[R_CONSUMED] = c->consumed;
  res[R_NDESC] = n;
  if (c->status == REMC_PS_FULL && c->out_resume_off && n > 0) {
    st->cut_start = c->consumed;
    st->cut_resume = c->out_resume_off;
    st->cut_end = c->desc[(n - 1) * REMC_DESC_WORDS + D_END];
  }
  res[R_RESUME] = c->out_resume_off;
  res[R_CLOSE_REASON] = c->close_reason;
  return static_cast<int>(c->status);
}

// The worker whose peer word this worker's peer faults aim at: the next one in worker order
// (wrapping), -1 with no other worker.
int PeerOf(int self) {
  for (int i = 1; i < kMaxWorkers; i++) {
    int w = (self + i) % kMaxWorkers;
    if (g_peer_word[w].load()) return w;
  }
  return -1;
}

// parse(len, start, resumeOff, fd, binary) -> remc_pstatus | P_FAULT | P_INVALID
// On a fault the connection's socket (fd, if >= 0) is shut down here, microseconds after the
// rewind, before control returns to JS (which then closes it for good).
Napi::Value Parse(const Napi::CallbackInfo& info) {
  State* st = S(info);
  int fd = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : -1;
  remc_parse_req req;
  if (!MakeReq(info, st, &req, 4)) return info.Env().Null();
  st->last_req = req;
  remc_parse_io* io = st->io;
  remc_parse_io_prepare(io, &req, reinterpret_cast<uint64_t>(st->heap));
  if (st->opts & REMC_IN_FAULT_INJECTION) {
    io->fault_target[0] = reinterpret_cast<uint64_t>(&g_root_target[0]);
    io->fault_target[1] = reinterpret_cast<uint64_t>(remc_store_probe_address(st->store));
    int peer = PeerOf(st->worker);
    io->fault_target[2] = peer >= 0 ? reinterpret_cast<uint64_t>(g_peer_word[peer].load()) : 0;
  }
  remc_fault_info fi{};
  int fault = remc_domain_call(st->dom, reinterpret_cast<remc_domain_fn>(remc_parse), io, st->window, &fi);
  double* res = st->res;
  if (fault) {
    res[R_FAULT_KIND] = fi.kind;
    res[R_FAULT_SIGNO] = fi.signo;
    res[R_FAULT_CODE] = fi.code;
    res[R_FAULT_PKEY] = fi.pkey;
    res[R_FAULT_ADDR] = static_cast<double>(fi.addr);
    res[R_FAULT_NS] = static_cast<double>(fi.rewind_ns);
    double recovered = MonotonicNs();
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
    res[R_FAULT_CLOSE_NS] = MonotonicNs() - recovered + static_cast<double>(fi.rewind_ns);
    return Napi::Number::New(info.Env(), P_FAULT);
  }
  return Napi::Number::New(info.Env(), Finish(st, req));
}

// The WebAssembly parser (--isolation=sfi, --cross-check; native/sfi.ts) ---------------------
// Per read event JS calls foreignPrepare, then the module's parse, then foreignFinish (or, when
// the module trapped, foreignFault). The module's memory is a sandbox of its own: root copies
// the event's bytes in and the io struct and descriptors out, into the domain io area, and
// validates them there exactly as after a native call (Finish).

// The foreign io area: the remc_parse_io and desc_cap descriptors at f_io in the module memory.
inline remc_parse_io* ForeignIo(State* st) { return reinterpret_cast<remc_parse_io*>(st->fmem + st->f_io); }

// setForeign(u8 over the module's memory, ioOff, winOff, heapOff, heapSize) -> desc_cap
Napi::Value SetForeign(const Napi::CallbackInfo& info) {
  State* st = S(info);
  Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
  uint64_t io = U32(info, 1), win = U32(info, 2), heap = U32(info, 3), hsize = U32(info, 4);
  uint64_t len = a.ByteLength();
  if (!st->dom || io % 8 || io + REMC_IO_BYTES(st->desc_cap) > win || win + st->window_cap > heap ||
      heap + hsize > len || hsize == 0 || hsize > st->heap_size) {
    Throw(info.Env(), "setForeign: bad layout");
    return info.Env().Null();
  }
  st->fmem_ref = Napi::Persistent(a);
  st->fmem = a.Data();
  st->fmem_len = len;
  st->f_io = static_cast<uint32_t>(io);
  st->f_win = static_cast<uint32_t>(win);
  st->f_heap = static_cast<uint32_t>(heap);
  st->f_heap_size = static_cast<uint32_t>(hsize);
  st->f_win_hw = 0;
  return Napi::Number::New(info.Env(), st->desc_cap);
}

// Fill the foreign io's in-part and the module's window for one call (root's copy kept in f_req).
// With injection, the fault targets are an address outside any wasm32 memory the host gives it:
// the root and store words have no address in the sandbox at all.
void ForeignLoad(State* st, remc_parse_req req) {
  req.heap_size = st->f_heap_size;
  st->f_req = req;
  uint8_t* w = st->fmem + st->f_win;
  std::memcpy(w, st->window, req.len);
  // as remc_domain_call does for the native window: no byte of an earlier, longer input is left
  if (st->f_win_hw > req.len) std::memset(w + req.len, 0, st->f_win_hw - req.len);
  st->f_win_hw = req.len;
  remc_parse_io* io = ForeignIo(st);
  remc_parse_io_prepare(io, &req, st->f_heap);
  uint64_t outside = (st->opts & REMC_IN_FAULT_INJECTION) ? 0xfffffff8u : 0;
  io->fault_target[0] = outside;
  io->fault_target[1] = outside;
  io->fault_target[2] = outside;
}

// foreignPrepare(len, start, resumeOff, binary)
Napi::Value ForeignPrepare(const Napi::CallbackInfo& info) {
  State* st = S(info);
  remc_parse_req req;
  if (!st->fmem) { Throw(info.Env(), "foreignPrepare: no foreign parser"); return info.Env().Null(); }
  if (!MakeReq(info, st, &req, 3)) return info.Env().Null();
  ForeignLoad(st, req);
  return info.Env().Undefined();
}

// Copy what the module returned into the domain io area (descriptor count bounded before the
// copy), and scrub the module's heap up to what the call used, as the native runtime does.
void ForeignStore(State* st) {
  remc_parse_io* fio = ForeignIo(st);
  uint32_t n = fio->ndesc;  // over desc_cap: only the struct is copied, and Finish rejects it
  std::memcpy(st->io, fio, REMC_IO_BYTES(n <= st->desc_cap ? n : 0));
  uint32_t used = fio->heap_used;
  std::memset(st->fmem + st->f_heap, 0, used < st->f_heap_size ? used : st->f_heap_size);
}

// foreignFinish() -> remc_pstatus | P_INVALID, after the module's parse returned normally.
Napi::Value ForeignFinish(const Napi::CallbackInfo& info) {
  State* st = S(info);
  ForeignStore(st);
  return Napi::Number::New(info.Env(), Finish(st, st->f_req));
}

// --cross-check: after a native parse that returned normally and validated, crossPrepare loads
// the same request into the module, JS runs it, and crossCompare holds its raw output against the
// native one (validated, in st->copy): status, consumed, ndesc, resume point, close reason and
// every descriptor word the op defines (text ops leave words 16.. untouched: not compared).
// Returns 0 when they agree; else what differed (CrossDiff), with the socket shut down and
// res[R_VALIDATE] = REMC_V_COUNT ("DIVERGED") for the caller, which returns P_INVALID.
enum CrossDiff { X_SAME = 0, X_FAULT, X_STATUS, X_CONSUMED, X_NDESC, X_RESUME, X_CLOSE, X_DESC };

Napi::Value CrossPrepare(const Napi::CallbackInfo& info) {
  State* st = S(info);
  if (!st->fmem) { Throw(info.Env(), "crossPrepare: no foreign parser"); return info.Env().Null(); }
  ForeignLoad(st, st->last_req);
  return info.Env().Undefined();
}

// crossCompare(fd, wasmFaultKind) -> CrossDiff
Napi::Value CrossCompare(const Napi::CallbackInfo& info) {
  State* st = S(info);
  int fd = info[0].As<Napi::Number>().Int32Value();
  const remc_parse_io* n = st->copy;
  const remc_parse_io* w = ForeignIo(st);
  int diff = X_SAME;
  if (U32(info, 1) != 0) diff = X_FAULT;
  else if (w->status != n->status) diff = X_STATUS;
  else if (w->consumed != n->consumed) diff = X_CONSUMED;
  else if (w->ndesc != n->ndesc) diff = X_NDESC;
  else if (w->out_resume_off != n->out_resume_off) diff = X_RESUME;
  else if (w->close_reason != n->close_reason) diff = X_CLOSE;
  else {
    bool text = !(st->last_req.opts & REMC_IN_BINARY);
    for (uint32_t i = 0; i < n->ndesc && !diff; i++) {
      const uint32_t* a = n->desc + i * REMC_DESC_WORDS;
      const uint32_t* b = w->desc + i * REMC_DESC_WORDS;
      uint32_t words = text && a[D_OP] < REMC_OP_SLABS ? D_TEXT_WORDS : REMC_DESC_WORDS;
      if (std::memcmp(a, b, words * sizeof(uint32_t)) != 0) diff = X_DESC;
    }
  }
  // the module's heap, as after a foreign call (a trap has already zeroed it)
  uint32_t used = w->heap_used;
  std::memset(st->fmem + st->f_heap, 0, used < st->f_heap_size ? used : st->f_heap_size);
  if (diff) {
    st->res[R_VALIDATE] = REMC_V_COUNT;
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
  }
  return Napi::Number::New(info.Env(), diff);
}

// foreignFault(fd, kind, rewindNs) -> P_FAULT: the module trapped and JS has rewound it (native/
// sfi.ts). As after a native fault: res[R_FAULT_*] filled, the socket shut down at once.
Napi::Value ForeignFault(const Napi::CallbackInfo& info) {
  State* st = S(info);
  int fd = info[0].As<Napi::Number>().Int32Value();
  double* res = st->res;
  res[R_FAULT_KIND] = U32(info, 1);
  res[R_FAULT_SIGNO] = 0;
  res[R_FAULT_CODE] = 0;
  res[R_FAULT_PKEY] = -1;
  res[R_FAULT_ADDR] = 0;
  res[R_FAULT_NS] = F64(info, 2);
  double recovered = MonotonicNs();
  if (fd >= 0) shutdown(fd, SHUT_RDWR);
  res[R_FAULT_CLOSE_NS] = MonotonicNs() - recovered + F64(info, 2);
  return Napi::Number::New(info.Env(), P_FAULT);
}

void FillInfo(State* st, const remc_item_info& in) {
  double* res = st->res;
  res[R_FLAGS] = in.flags;
  res[R_NBYTES] = in.nbytes;
  res[R_CAS] = static_cast<double>(in.cas);
  res[R_EXPTIME] = static_cast<double>(in.exptime);
  res[R_LAST_ACCESS] = static_cast<double>(in.last_access);
  res[R_FETCHED] = in.fetched;
  res[R_CLASS] = in.slab_class;
  res[R_META] = in.meta;
}

// get(keyOff, keyLen, bump, touch, exptime) -> value length, or -1 on a miss.
// A hit stays pinned until copyValue() or the next get().
Napi::Value Get(const Napi::CallbackInfo& info) {
  State* st = S(info);
  ReleasePinned(st);
  uint32_t koff = U32(info, 0), klen = U32(info, 1);
  const uint8_t* key = WindowSpan(st, koff, klen);
  if (!key) { Throw(info.Env(), "get: key outside the window"); return info.Env().Null(); }
  int64_t exptime = static_cast<int64_t>(F64(info, 4));
  int hit = remc_store_get(st->store, key, klen, U32(info, 2), U32(info, 3) ? &exptime : nullptr,
                           &st->pinned, &st->pinned_info);
  if (!hit) { st->pinned.it = nullptr; return Napi::Number::New(info.Env(), -1); }
  FillInfo(st, st->pinned_info);
  return Napi::Number::New(info.Env(), st->pinned_info.nbytes);
}

// copyValue(outPos): copy the pinned item's value into out at outPos, then unpin it.
Napi::Value CopyValue(const Napi::CallbackInfo& info) {
  State* st = S(info);
  uint32_t pos = U32(info, 0);
  if (!st->pinned.it) { Throw(info.Env(), "copyValue: nothing pinned"); return info.Env().Null(); }
  if (static_cast<uint64_t>(pos) + st->pinned_info.nbytes > st->out_len) {
    ReleasePinned(st);
    Throw(info.Env(), "copyValue: output buffer too small");
    return info.Env().Null();
  }
  remc_store_copy_value(st->store, &st->pinned, st->out + pos);
  ReleasePinned(st);
  return info.Env().Undefined();
}

// Meta commands (protocol/meta.ts) ------------------------------------------------------------

// metaGet(keyOff, keyLen, count) -> value length (item pinned, res[R_*] filled), -1 on a miss,
// -2 when the item's pin count is at its cap. count: 0 none, 1 get stats, 2 touch stats.
Napi::Value MetaGet(const Napi::CallbackInfo& info) {
  State* st = S(info);
  ReleasePinned(st);
  uint32_t koff = U32(info, 0), klen = U32(info, 1);
  const uint8_t* key = WindowSpan(st, koff, klen);
  if (!key) { Throw(info.Env(), "metaGet: key outside the window"); return info.Env().Null(); }
  int r = remc_store_meta_get(st->store, key, klen, static_cast<int>(U32(info, 2)), &st->pinned, &st->pinned_info);
  if (r <= 0) { st->pinned.it = nullptr; return Napi::Number::New(info.Env(), r == 0 ? -1 : -2); }
  FillInfo(st, st->pinned_info);
  return Napi::Number::New(info.Env(), st->pinned_info.nbytes);
}

// metaUpdate(set, clear, hasExptime, exptime, bump): on the pinned item; refreshes
// res[R_EXPTIME] and res[R_META].
Napi::Value MetaUpdate(const Napi::CallbackInfo& info) {
  State* st = S(info);
  if (!st->pinned.it) { Throw(info.Env(), "metaUpdate: nothing pinned"); return info.Env().Null(); }
  int64_t exptime = static_cast<int64_t>(F64(info, 3));
  remc_store_meta_update(st->store, &st->pinned, U32(info, 0), U32(info, 1), U32(info, 2) ? &exptime : nullptr,
                         static_cast<int>(U32(info, 4)), &st->pinned_info);
  st->res[R_EXPTIME] = static_cast<double>(st->pinned_info.exptime);
  st->res[R_META] = st->pinned_info.meta;
  return info.Env().Undefined();
}

// metaClaim(): take the pinned item's win token; 1 if this call took it, 0 if it was taken.
Napi::Value MetaClaim(const Napi::CallbackInfo& info) {
  State* st = S(info);
  if (!st->pinned.it) { Throw(info.Env(), "metaClaim: nothing pinned"); return info.Env().Null(); }
  int won = remc_store_meta_claim(st->store, &st->pinned);
  if (!won) st->res[R_META] = st->pinned_info.meta | REMC_META_TOKEN_SENT;
  return Napi::Number::New(info.Env(), won);
}

// unpin(): release the pinned item without copying its value.
Napi::Value Unpin(const Napi::CallbackInfo& info) {
  ReleasePinned(S(info));
  return info.Env().Undefined();
}

// metaDelete(keyOff, keyLen, hasCas, casHi, casLo, invalidate, hasExptime, exptime) -> result
Napi::Value MetaDelete(const Napi::CallbackInfo& info) {
  State* st = S(info);
  uint32_t koff = U32(info, 0), klen = U32(info, 1);
  const uint8_t* key = WindowSpan(st, koff, klen);
  if (!key) { Throw(info.Env(), "metaDelete: key outside the window"); return info.Env().Null(); }
  int64_t exptime = static_cast<int64_t>(F64(info, 7));
  uint64_t new_cas = 0;
  int r = remc_store_meta_delete(st->store, key, klen, static_cast<int>(U32(info, 2)), U64(info, 3, 4),
                                 static_cast<int>(U32(info, 5)), U32(info, 6) ? &exptime : nullptr, &new_cas);
  st->res[R_CAS] = static_cast<double>(new_cas);
  return Napi::Number::New(info.Env(), r);
}

// store(mode, keyOff, keyLen, valOff, valLen, flags, exptime, casHi, casLo) -> result
Napi::Value Store(const Napi::CallbackInfo& info) {
  State* st = S(info);
  uint32_t koff = U32(info, 1), klen = U32(info, 2), voff = U32(info, 3), vlen = U32(info, 4);
  const uint8_t* key = WindowSpan(st, koff, klen);
  const uint8_t* val = WindowSpan(st, voff, vlen);
  if (!key || !val) { Throw(info.Env(), "store: span outside the window"); return info.Env().Null(); }
  uint64_t new_cas = 0;
  int r = remc_store_store(st->store, static_cast<int>(U32(info, 0)), key, klen, val, vlen, U32(info, 5),
                           static_cast<int64_t>(F64(info, 6)), U64(info, 7, 8), &new_cas);
  st->res[R_CAS] = static_cast<double>(new_cas);
  return Napi::Number::New(info.Env(), r);
}

// del(keyOff, keyLen, casHi, casLo) -> result
Napi::Value Delete(const Napi::CallbackInfo& info) {
  State* st = S(info);
  uint32_t koff = U32(info, 0), klen = U32(info, 1);
  const uint8_t* key = WindowSpan(st, koff, klen);
  if (!key) { Throw(info.Env(), "del: key outside the window"); return info.Env().Null(); }
  return Napi::Number::New(info.Env(), remc_store_delete(st->store, key, klen, U64(info, 2, 3)));
}

// Decimal digits of v into dst; returns the count.
uint32_t WriteU64(uint8_t* dst, uint64_t v) {
  char tmp[20];
  uint32_t n = 0;
  do { tmp[n++] = static_cast<char>('0' + v % 10); v /= 10; } while (v);
  for (uint32_t i = 0; i < n; i++) dst[i] = static_cast<uint8_t>(tmp[n - 1 - i]);
  return n;
}

// arith(keyOff, keyLen, incr, deltaHi, deltaLo, outPos[, casHi, casLo]) -> result; on STORED the
// new value's digits are at out[outPos..+res[R_ARITH_LEN]) and res[R_CAS] is the new CAS. A
// non-zero CAS (meta ma C) must match: EXISTS.
Napi::Value Arith(const Napi::CallbackInfo& info) {
  State* st = S(info);
  uint32_t koff = U32(info, 0), klen = U32(info, 1), pos = U32(info, 5);
  const uint8_t* key = WindowSpan(st, koff, klen);
  if (!key) { Throw(info.Env(), "arith: key outside the window"); return info.Env().Null(); }
  if (static_cast<uint64_t>(pos) + 20 > st->out_len) { Throw(info.Env(), "arith: output buffer too small"); return info.Env().Null(); }
  uint64_t result = 0, new_cas = 0;
  uint64_t cas = info.Length() > 7 ? U64(info, 6, 7) : 0;
  int r = remc_store_arith_cas(st->store, key, klen, static_cast<int>(U32(info, 2)), U64(info, 3, 4), cas, &result, &new_cas);
  if (r == REMC_STORE_STORED) {
    st->res[R_ARITH_LEN] = WriteU64(st->out + pos, result);
    st->res[R_CAS] = static_cast<double>(new_cas);
  }
  return Napi::Number::New(info.Env(), r);
}

// touch(keyOff, keyLen, exptime) -> result
Napi::Value Touch(const Napi::CallbackInfo& info) {
  State* st = S(info);
  uint32_t koff = U32(info, 0), klen = U32(info, 1);
  const uint8_t* key = WindowSpan(st, koff, klen);
  if (!key) { Throw(info.Env(), "touch: key outside the window"); return info.Env().Null(); }
  return Napi::Number::New(info.Env(), remc_store_touch(st->store, key, klen, static_cast<int64_t>(F64(info, 2))));
}

Napi::Value Flush(const Napi::CallbackInfo& info) {
  remc_store_flush(S(info)->store, static_cast<int64_t>(F64(info, 0)));
  return info.Env().Undefined();
}

Napi::Value SetTime(const Napi::CallbackInfo& info) {
  remc_store_set_time(S(info)->store, static_cast<int64_t>(F64(info, 0)));
  return info.Env().Undefined();
}

Napi::Value Reclaim(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), remc_store_reclaim(S(info)->store, U32(info, 0)));
}

Napi::Value SetMemLimit(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), remc_store_set_mem_limit(S(info)->store, static_cast<uint64_t>(F64(info, 0))));
}

// slabsReassign(src, dst) -> abi.REASSIGN id (slabs reassign; src/dst as memcached's int32s)
Napi::Value SlabsReassign(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), remc_store_slabs_reassign(S(info)->store, static_cast<int32_t>(U32(info, 0)),
                                                                 static_cast<int32_t>(U32(info, 1))));
}

// cachedump(cls, limit) -> [key Buffer, value length, exptime (Unix s, 0 = never), ...] for
// stats cachedump: most recent first. The walk stops once the listing is surely over memcached's
// 2 MiB output cap (protocol/admin.ts cuts it exactly).
struct DumpCtx {
  Napi::Env env;
  Napi::Array out;
  uint32_t n;
  uint64_t bytes;
};
static int DumpOne(void* c, const uint8_t* key, uint32_t klen, uint32_t nbytes, int64_t exptime) {
  DumpCtx* d = static_cast<DumpCtx*>(c);
  d->out.Set(d->n++, Napi::Buffer<uint8_t>::Copy(d->env, key, klen));
  d->out.Set(d->n++, static_cast<double>(nbytes));
  d->out.Set(d->n++, static_cast<double>(exptime));
  d->bytes += klen + 16;  // "ITEM  [ b;  s]\r\n" is 16 bytes before the numbers
  return d->bytes > (2u << 20);
}
Napi::Value Cachedump(const Napi::CallbackInfo& info) {
  DumpCtx d{info.Env(), Napi::Array::New(info.Env()), 0, 0};
  remc_store_cachedump(S(info)->store, U32(info, 0), U32(info, 1), DumpOne, &d);
  return d.out;
}

// metadump(cls) -> [key Buffer, exptime (Unix s, 0 = never), last access (Unix s), cas (BigInt),
// fetched (0/1), class, item size, ...] for lru_crawler metadump (cls 0 = every class).
static int MetaOne(void* c, const uint8_t* key, uint32_t klen, const remc_item_info* in, uint64_t ntotal) {
  DumpCtx* d = static_cast<DumpCtx*>(c);
  d->out.Set(d->n++, Napi::Buffer<uint8_t>::Copy(d->env, key, klen));
  d->out.Set(d->n++, static_cast<double>(in->exptime));
  d->out.Set(d->n++, static_cast<double>(in->last_access));
  d->out.Set(d->n++, Napi::BigInt::New(d->env, in->cas));
  d->out.Set(d->n++, static_cast<double>(in->fetched));
  d->out.Set(d->n++, static_cast<double>(in->slab_class));
  d->out.Set(d->n++, static_cast<double>(ntotal));
  return 0;
}
Napi::Value Metadump(const Napi::CallbackInfo& info) {
  DumpCtx d{info.Env(), Napi::Array::New(info.Env()), 0, 0};
  remc_store_metadump(S(info)->store, U32(info, 0), MetaOne, &d);
  return d.out;
}

// setAutomove(mode, ratio, window): slabs automove 0|1|2, slab_automove_ratio, _window
Napi::Value SetAutomove(const Napi::CallbackInfo& info) {
  remc_store_set_automove(S(info)->store, static_cast<int>(U32(info, 0)), F64(info, 1), U32(info, 2));
  return info.Env().Undefined();
}

// setLru(flags, hotPct, warmPct, hotMaxFactor, warmMaxFactor, tempTtl): REMC_LRU_MAINTAINER |
// REMC_LRU_FLAT and the segmented LRU's tune (tempTtl < 0: no TEMP LRU)
Napi::Value SetLru(const Napi::CallbackInfo& info) {
  double ttl = F64(info, 5); // clamped before the cast: out of range would be undefined
  remc_lru_tune t = {static_cast<int32_t>(U32(info, 1)), static_cast<int32_t>(U32(info, 2)), F64(info, 3), F64(info, 4),
                     !(ttl >= 0) ? -1 : ttl > 4e9 ? static_cast<int64_t>(4e9) : static_cast<int64_t>(ttl)};
  remc_store_set_lru(S(info)->store, static_cast<int>(U32(info, 0)), &t);
  return info.Env().Undefined();
}

// itemSize(keyLen, valueLen, flags): memcached's item size arithmetic (for -I checks).
Napi::Value ItemSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(
      remc_store_item_size(S(info)->store, U32(info, 0), static_cast<uint64_t>(F64(info, 1)), U32(info, 2))));
}

// classFor(keyLen, valueLen, flags): the slab class such an item goes to, 0 if too large (watch).
Napi::Value ClassFor(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), remc_store_class_for(S(info)->store, U32(info, 0),
                                                            static_cast<uint64_t>(F64(info, 1)), U32(info, 2)));
}

// lastMiss(): why the last lookup missed: 0 not found, 2 flushed, 3 expired (watch)
Napi::Value LastMiss(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), remc_store_last_miss(S(info)->store));
}

// logEvictions(on): record evictions for `watch evictions` (off: nothing recorded).
Napi::Value LogEvictions(const Napi::CallbackInfo& info) {
  remc_store_log_evictions(S(info)->store, U32(info, 0) ? 1 : 0);
  return info.Env().Undefined();
}

// takeEvictions() -> flat [key, fetched, exptime, last access, class, value length, ...], oldest
// first (exptime and last access in store-clock seconds, exptime 0 = never)
Napi::Value TakeEvictions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<remc_evict_rec> recs(REMC_EVICT_LOG);
  uint32_t n = remc_store_take_evictions(S(info)->store, recs.data(), REMC_EVICT_LOG);
  Napi::Array a = Napi::Array::New(env, n * 6);
  for (uint32_t i = 0; i < n; i++) {
    const remc_evict_rec& r = recs[i];
    a.Set(i * 6, Napi::Buffer<uint8_t>::Copy(env, r.key, r.klen));
    a.Set(i * 6 + 1, Napi::Number::New(env, r.fetched));
    a.Set(i * 6 + 2, Napi::Number::New(env, static_cast<double>(r.exptime)));
    a.Set(i * 6 + 3, Napi::Number::New(env, static_cast<double>(r.last_access)));
    a.Set(i * 6 + 4, Napi::Number::New(env, r.cls));
    a.Set(i * 6 + 5, Napi::Number::New(env, r.nbytes));
  }
  return a;
}

// takeSlabMoves() -> flat [source class, destination class, ...]: the automover's page moves
// since the last call, oldest first (destination 0: the free page pool)
Napi::Value TakeSlabMoves(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t moves[2 * REMC_MOVE_LOG];
  uint32_t n = remc_store_take_slab_moves(S(info)->store, moves, REMC_MOVE_LOG);
  Napi::Array a = Napi::Array::New(env, n * 2);
  for (uint32_t i = 0; i < n * 2; i++) a.Set(i, Napi::Number::New(env, moves[i]));
  return a;
}

// storeStatsReset(): `stats reset` for the store's counters.
Napi::Value StoreStatsReset(const Napi::CallbackInfo& info) {
  remc_store_stats_reset(S(info)->store);
  return info.Env().Undefined();
}

// storeTooLarge(mode, keyOff, keyLen, valueLen, flags) -> result: a storage command whose value
// is too large to be read at all (memcached refuses it before reading the data): counted and
// answered by the store as any too-large store (a set also drops the old item). The value is
// never read: the caller has checked the size and so does this function.
Napi::Value StoreTooLarge(const Napi::CallbackInfo& info) {
  State* st = S(info);
  uint32_t koff = U32(info, 1), klen = U32(info, 2), vlen = U32(info, 3), flags = U32(info, 4);
  const uint8_t* key = WindowSpan(st, koff, klen);
  if (!key || remc_store_item_size(st->store, klen, vlen, flags) <= st->item_size_max) {
    Throw(info.Env(), "storeTooLarge: not a too-large item");
    return info.Env().Null();
  }
  int r = remc_store_store(st->store, static_cast<int>(U32(info, 0)), key, klen, st->window, vlen, flags, 0, 0, nullptr);
  return Napi::Number::New(info.Env(), r);
}

// storeStats(): fills stats[0..REMC_STAT_COUNT)
Napi::Value StoreStats(const Napi::CallbackInfo& info) {
  State* st = S(info);
  remc_store_stats(st->store, st->stats);
  return info.Env().Undefined();
}

// classStats(cls) -> 0 if the class is unused; else fills stats[REMC_STAT_COUNT..] with the
// slab stats then the item stats.
Napi::Value ClassStats(const Napi::CallbackInfo& info) {
  State* st = S(info);
  double* base = st->stats + REMC_STAT_COUNT;
  int used = remc_store_class_stats(st->store, U32(info, 0), base, base + REMC_SSTAT_COUNT);
  return Napi::Number::New(info.Env(), used);
}

Napi::Value ClassCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), remc_store_class_count(S(info)->store));
}

Napi::Value Checksum(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), remc_store_checksum(S(info)->store));
}

// domainStats() -> [calls, faults by kind...]
Napi::Value DomainStats(const Napi::CallbackInfo& info) {
  remc_domain_stats ds{};
  remc_domain_get_stats(S(info)->dom, &ds);
  Napi::Array a = Napi::Array::New(info.Env(), 1 + REMC_FAULT_COUNT);
  a.Set(0u, static_cast<double>(ds.calls));
  for (uint32_t i = 0; i < REMC_FAULT_COUNT; i++) a.Set(1 + i, static_cast<double>(ds.faults[i]));
  return a;
}

// rootTarget() -> the root word the fault injector's "root write" aims at (tests check it).
Napi::Value RootTarget(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), g_root_target[0]);
}

// workerKeys() -> { own, shared, all, peer, peerWord }: this worker's domain key, whether it is
// the shared one, every worker's key by worker index ("3,4,5,6"; "-" none), and with fault
// injection the worker this one's peer faults aim at (-1: none) and this worker's own peer
// word (what another worker's peer_write would overwrite).
Napi::Value WorkerKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  State* st = S(info);
  Napi::Object o = Napi::Object::New(env);
  o.Set("own", st->dom ? remc_domain_key(st->dom) : -1);
  o.Set("shared", st->dom && remc_domain_key_is_shared(st->dom) != 0);
  int last = -1;
  for (int i = 0; i < kMaxWorkers; i++) if (g_worker_key[i].load() != -2) last = i;
  std::string all;
  for (int i = 0; i <= last; i++) {
    int k = g_worker_key[i].load();
    if (i) all += ',';
    all += k == -2 ? std::string("?") : std::to_string(k);  // "?": that worker is not up yet
  }
  o.Set("all", all.empty() ? std::string("-") : all);
  o.Set("peer", st->peer_word ? PeerOf(st->worker) : -1);
  o.Set("peerWord", Napi::BigInt::New(env, st->peer_word ? *st->peer_word : 0));
  return o;
}

// writeOut(fd, from, to) -> bytes written, or -errno. The reply of an event goes to the socket
// with one write(2) straight from the output buffer, when nothing is queued in Node's stream
// (the caller checks): no Buffer copy, no stream machinery. Whatever is left, the caller hands
// to socket.write().
Napi::Value WriteOut(const Napi::CallbackInfo& info) {
  State* st = S(info);
  int fd = static_cast<int>(info[0].As<Napi::Number>().Int32Value());
  uint32_t from = U32(info, 1), to = U32(info, 2);
  if (fd < 0 || from > to || to > st->out_len) { Throw(info.Env(), "writeOut: bad arguments"); return info.Env().Null(); }
  ssize_t n;
  do { n = write(fd, st->out + from, to - from); } while (n < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), n < 0 ? -errno : static_cast<double>(n));
}

// readIn(fd, len) -> bytes read into window[0..), 0 at EOF, or -errno (-EAGAIN: nothing yet).
// A new connection's first bytes, read once as it is accepted (server/connection.ts): a
// client that speaks at once is served, or faults and is closed, without its socket ever
// starting to read (no epoll registration, no read callback into JS for that event).
Napi::Value ReadIn(const Napi::CallbackInfo& info) {
  State* st = S(info);
  int fd = static_cast<int>(info[0].As<Napi::Number>().Int32Value());
  uint32_t len = U32(info, 1);
  if (fd < 0 || len > st->window_cap) { Throw(info.Env(), "readIn: bad arguments"); return info.Env().Null(); }
  ssize_t n;
  do { n = recv(fd, st->window, len, MSG_DONTWAIT); } while (n < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), n < 0 ? -errno : static_cast<double>(n));
}

// listenSocket(host, port, backlog) -> fd, or -errno. A TCP socket with SO_REUSEPORT, bound but
// not listening, for server.listen({ fd }) in a worker thread (Node 20 has no reusePort): one per
// worker on the same address, and the kernel spreads connections over those that listen. The
// worker's listen() makes it listen, so no connection waits in the backlog of a worker that has
// not started yet. host "" = any address. (backlog: unused here; the worker passes it.)
// probe = true: bind without SO_REUSEPORT and close, 0 or -errno. A port another process serves
// (memcached, or remcached's own SO_REUSEPORT group) is refused then, as memcached refuses it;
// without the probe a second remcached would join the first one's group and share its clients.
Napi::Value ListenSocket(const Napi::CallbackInfo& info) {
  std::string host = info[0].As<Napi::String>().Utf8Value();
  bool probe = info.Length() > 3 && info[3].ToBoolean().Value();
  std::string port = std::to_string(U32(info, 1));
  struct addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) return Napi::Number::New(info.Env(), -EADDRNOTAVAIL);
  int err = EADDRNOTAVAIL;
  int fd = -1;
  for (struct addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) { err = errno; continue; }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (!probe) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    // as memcached: an IPv6 socket takes IPv6 only (without -l, 0.0.0.0 and :: are bound apart)
    if (a->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) { err = errno; close(fd); fd = -1; }
  }
  freeaddrinfo(res);
  if (fd >= 0 && probe) { close(fd); return Napi::Number::New(info.Env(), 0); }
  return Napi::Number::New(info.Env(), fd >= 0 ? fd : -err);
}

// socketPort(fd) -> the local port of a bound socket (port 0 asked: the kernel's choice).
Napi::Value SocketPort(const Napi::CallbackInfo& info) {
  struct sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(info[0].As<Napi::Number>().Int32Value(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return Napi::Number::New(info.Env(), -errno);
  uint16_t p = ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port;
  return Napi::Number::New(info.Env(), ntohs(p));
}

// dupFd(fd) -> a new descriptor for the same socket, or -errno. -t N with -U: memcached gives
// each worker thread its own descriptor of every UDP socket, and stats conns lists each one.
Napi::Value DupFd(const Napi::CallbackInfo& info) {
  int fd = fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 0);
  return Napi::Number::New(info.Env(), fd >= 0 ? fd : -errno);
}

// trimMemory(): hand freed heap memory back to the kernel. Buffers of a burst (big replies,
// pending values) are freed into glibc's heap, which otherwise keeps them: called once the
// burst is over (server/connection.ts Reclaimer), never per event.
Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), malloc_trim(0));
}

// Exported constants: the C tables are the one source of truth; TS reads them from here.
Napi::Object Abi(Napi::Env env) {
  Napi::Object abi = Napi::Object::New(env);
  Napi::Array ops = Napi::Array::New(env);
  ops.Set(static_cast<uint32_t>(REMC_OP_NONE), "");
  ops.Set(static_cast<uint32_t>(REMC_OP_UNKNOWN), "");
#define X(id, name) ops.Set(static_cast<uint32_t>(REMC_OP_##id), name);
  REMC_TEXT_COMMANDS(X)
#undef X
  abi.Set("commands", ops);
  Napi::Object op = Napi::Object::New(env);
  op.Set("NONE", static_cast<double>(REMC_OP_NONE));
  op.Set("UNKNOWN", static_cast<double>(REMC_OP_UNKNOWN));
#define X(id, name) op.Set(#id, static_cast<double>(REMC_OP_##id));
  REMC_TEXT_COMMANDS(X)
#undef X
  op.Set("COUNT", static_cast<double>(REMC_OP_COUNT));
  abi.Set("OP", op);
  Napi::Object perr = Napi::Object::New(env);
#define X(id) perr.Set(#id, static_cast<double>(REMC_PERR_##id));
  REMC_PARSE_ERRORS(X)
#undef X
  abi.Set("PERR", perr);
  Napi::Object sr = Napi::Object::New(env);
#define X(id) sr.Set(#id, static_cast<double>(REMC_STORE_##id));
  REMC_STORE_RESULTS(X)
#undef X
  abi.Set("STORE", sr);
  Napi::Object mode = Napi::Object::New(env);
  mode.Set("SET", static_cast<double>(REMC_MODE_SET));
  mode.Set("ADD", static_cast<double>(REMC_MODE_ADD));
  mode.Set("REPLACE", static_cast<double>(REMC_MODE_REPLACE));
  mode.Set("APPEND", static_cast<double>(REMC_MODE_APPEND));
  mode.Set("PREPEND", static_cast<double>(REMC_MODE_PREPEND));
  mode.Set("CAS", static_cast<double>(REMC_MODE_CAS));
  mode.Set("CAS_STALE", static_cast<double>(REMC_MODE_CAS_STALE));
  mode.Set("ADD_VIVIFY", static_cast<double>(REMC_MODE_ADD_VIVIFY));
  Napi::Object merr = Napi::Object::New(env);  // meta parse errors { NAME: id } (remc_abi.h)
#define X(id) merr.Set(#id, static_cast<double>(REMC_MERR_##id));
  REMC_META_ERRORS(X)
#undef X
  abi.Set("MERR", merr);
  abi.Set("MODE", mode);
  Napi::Object ra = Napi::Object::New(env);
#define X(id) ra.Set(#id, static_cast<double>(REMC_REASSIGN_##id));
  REMC_STORE_REASSIGN(X)
#undef X
  abi.Set("REASSIGN", ra);
  auto names = [&](const char* const* list, size_t n) {
    Napi::Array a = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++) a.Set(static_cast<uint32_t>(i), list[i]);
    return a;
  };
  // The names of an X-macro list of one-argument entries, as a JS array in enum order.
#define NAME_OF(id) #id,
#define EXPORT_NAMES(key, LIST, count)                          \
  do {                                                          \
    static const char* const list[] = {LIST(NAME_OF)};          \
    static_assert(sizeof list / sizeof *list == (count), key);  \
    abi.Set(key, names(list, count));                           \
  } while (0)
  EXPORT_NAMES("storeStats", REMC_STORE_STATS, REMC_STAT_COUNT);
  EXPORT_NAMES("slabStats", REMC_SLAB_STATS, REMC_SSTAT_COUNT);
  EXPORT_NAMES("itemStats", REMC_ITEM_STATS, REMC_ISTAT_COUNT);
  EXPORT_NAMES("faultKinds", REMC_FAULT_KINDS, REMC_FAULT_COUNT);
  EXPORT_NAMES("closeReasons", REMC_CLOSE_REASONS, REMC_CLOSE_COUNT);
  EXPORT_NAMES("validateErrors", REMC_VALIDATE_ERRORS, REMC_V_COUNT);
  // --cross-check: the two parser variants disagreed (crossCompare)
  abi.Get("validateErrors").As<Napi::Array>().Set(static_cast<uint32_t>(REMC_V_COUNT), "DIVERGED");
  // Fault injection kinds: { name: [id, kind caught as under pku, kind under none, under sfi] }
  Napi::Object fi = Napi::Object::New(env);
#define X(name, id, kp, kn, ks) { Napi::Array a = Napi::Array::New(env, 4); a.Set(0u, id); a.Set(1u, #kp); a.Set(2u, #kn); a.Set(3u, #ks); fi.Set(#name, a); }
  REMC_FAULT_INJECTIONS(X)
#undef X
  abi.Set("faultInjections", fi);
  // Peer faults (-t N): { name: [id, kind with a key per worker, kind with the shared key] }
  Napi::Object pfi = Napi::Object::New(env);
#define P(name, id, ko, ks) { Napi::Array a = Napi::Array::New(env, 3); a.Set(0u, id); a.Set(1u, #ko); a.Set(2u, #ks); pfi.Set(#name, a); }
  REMC_PEER_FAULT_INJECTIONS(P)
#undef P
  abi.Set("peerFaultInjections", pfi);
  // Binary protocol: opcodes { NAME: code } and parse errors { NAME: id } (remc_abi.h).
  Napi::Object bop = Napi::Object::New(env);
#define X(id, code) bop.Set(#id, static_cast<double>(code));
  REMC_BIN_OPS(X)
#undef X
  abi.Set("BIN_OP", bop);
  Napi::Object berr = Napi::Object::New(env);
#define X(id) berr.Set(#id, static_cast<double>(REMC_BERR_##id));
  REMC_BIN_ERRORS(X)
#undef X
  abi.Set("BERR", berr);
  Napi::Object d = Napi::Object::New(env);
  d.Set("WORDS", static_cast<double>(REMC_DESC_WORDS));
#define W(id) d.Set(#id, static_cast<double>(id));
  W(D_OP) W(D_ERR) W(D_FLAGS) W(D_START) W(D_END) W(D_KEY_OFF) W(D_KEY_LEN) W(D_DATA_OFF)
  W(D_DATA_LEN) W(D_N0_LO) W(D_N0_HI) W(D_N1_LO) W(D_N1_HI) W(D_N2_LO) W(D_N2_HI) W(D_AUX)
  W(D_A_TOK) W(REMC_ADMIN_TOKENS_MAX)
  W(REMC_DF_NOREPLY) W(REMC_DF_LAST_KEY) W(REMC_DF_DATA_INCOMPLETE) W(REMC_DF_HAS_ARG)
  W(REMC_PS_OK) W(REMC_PS_FULL) W(REMC_PS_CLOSE) W(REMC_KEY_MAX) W(REMC_LINE_MAX)
  W(P_FAULT) W(P_INVALID)
  W(R_CONSUMED) W(R_NDESC) W(R_RESUME) W(R_FAULT_KIND) W(R_FAULT_SIGNO) W(R_FAULT_CODE)
  W(R_FAULT_PKEY) W(R_FAULT_ADDR) W(R_FAULT_NS) W(R_VALIDATE) W(R_FLAGS) W(R_NBYTES) W(R_CAS)
  W(R_EXPTIME) W(R_LAST_ACCESS) W(R_FETCHED) W(R_CLASS) W(R_ARITH_LEN) W(R_CLOSE_REASON) W(R_FAULT_CLOSE_NS) W(R_META)
  W(REMC_CLOSE_QUIT) W(REMC_CLOSE_HTTP) W(REMC_CLOSE_LINE_TOO_LONG)
  W(REMC_CLOSE_BIN_SILENT) W(REMC_CLOSE_BIN_ERROR) W(DB_OPAQUE) W(DB_CAS_LO) W(DB_CAS_HI) W(DB_BODYLEN)
  W(REMC_BIN_HEADER) W(REMC_BIN_MECH_MAX)
  W(D_M_FLAGS0) W(D_M_NFLAGS) W(D_M_DELTA_LO) W(D_M_DELTA_HI) W(D_M_RECACHE) W(D_M_CLIENT_FLAGS)
  W(D_M_OPAQUE_OFF) W(D_M_OPAQUE_LEN) W(D_M_MODE) W(D_M_KEY_DLEN) W(REMC_META_OPAQUE_MAX)
  W(REMC_META_STALE) W(REMC_META_TOKEN_SENT) W(REMC_META_KEY_BINARY)
  W(REMC_ISO_NONE) W(REMC_ISO_PKU) W(REMC_ISO_PKU_STRICT) W(REMC_ISO_AUTO)
#undef W
  abi.Set("K", d);
  return abi;
}

}  // namespace

// Optional extra exports of the domain runtime (tests, benchmarks), if linked in.
void remc_domain_js_init(Napi::Env env, Napi::Object exports) __attribute__((weak));

remc_store* remc_addon_store() {
  std::lock_guard<std::mutex> lock(g_store_mu);
  return g_store;
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new State());
  exports.Set("abi", Abi(env));
#define FN(name, f) exports.Set(name, Napi::Function::New(env, f, name));
  FN("init", Init)
  FN("setOutput", SetOutput)
  FN("parse", Parse)
  FN("setForeign", SetForeign)
  FN("foreignPrepare", ForeignPrepare)
  FN("foreignFinish", ForeignFinish)
  FN("foreignFault", ForeignFault)
  FN("crossPrepare", CrossPrepare)
  FN("crossCompare", CrossCompare)
  FN("get", Get)
  FN("copyValue", CopyValue)
  FN("store", Store)
  FN("del", Delete)
  FN("arith", Arith)
  FN("touch", Touch)
  FN("flush", Flush)
  FN("setTime", SetTime)
  FN("reclaim", Reclaim)
  FN("setMemLimit", SetMemLimit)
  FN("slabsReassign", SlabsReassign)
  FN("setAutomove", SetAutomove)
  FN("setLru", SetLru)
  FN("cachedump", Cachedump)
  FN("metadump", Metadump)
  FN("itemSize", ItemSize)
  FN("classFor", ClassFor)
  FN("logEvictions", LogEvictions)
  FN("lastMiss", LastMiss)
  FN("takeEvictions", TakeEvictions)
  FN("takeSlabMoves", TakeSlabMoves)
  FN("storeStats", StoreStats)
  FN("storeStatsReset", StoreStatsReset)
  FN("storeTooLarge", StoreTooLarge)
  FN("classStats", ClassStats)
  FN("classCount", ClassCount)
  FN("checksum", Checksum)
  FN("domainStats", DomainStats)
  FN("rootTarget", RootTarget)
  FN("workerKeys", WorkerKeys)
  FN("writeOut", WriteOut)
  FN("readIn", ReadIn)
  FN("trimMemory", TrimMemory)
  FN("listenSocket", ListenSocket)
  FN("socketPort", SocketPort)
  FN("dupFd", DupFd)
  FN("metaGet", MetaGet)
  FN("metaUpdate", MetaUpdate)
  FN("metaClaim", MetaClaim)
  FN("unpin", Unpin)
  FN("metaDelete", MetaDelete)
#undef FN
  if (remc_domain_js_init) remc_domain_js_init(env, exports);
  remc_persist_js_init(env, exports);
  return exports;
}

NODE_API_MODULE(remcached, InitModule)

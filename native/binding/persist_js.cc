// `-e PATH` in the addon (native/store/store_persist.c does the work; server/restart.ts the
// metadata file and memcached's messages):
//   init({ ..., restore: { path, id, started, oldestLive, oldestCas, casCounter } })
//       the store is loaded from PATH as it is created; a file that fails any check leaves a
//       fresh empty store. init's result gets `restored` (items) or `restoreError` (why not).
//   restartSave(path, id) -> { items, started, now, oldestLive, oldestCas, casCounter, hashpower }
//       write every item to PATH (created 0700 as memcached's -e file, truncated); throws with
//       the reason. Called once the workers have stopped serving.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "remc_store.h"
#include "remc_store_persist.h"
}

remc_store* remc_addon_store();  // addon.cc: the store of the process (null before init)

namespace {

uint64_t Big(const Napi::Value& v) {
  bool lossless = true;
  return v.IsBigInt() ? v.As<Napi::BigInt>().Uint64Value(&lossless) : 0;
}

Napi::Value RestartSave(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  remc_store* s = remc_addon_store();
  if (!s || !info[0].IsString()) {
    Napi::Error::New(env, "restartSave: no store or no path").ThrowAsJavaScriptException();
    return env.Null();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  remc_persist_state st{};
  st.id = Big(info[1]);
  // O_NONBLOCK: a fifo at PATH must not hang the stop (regular files ignore the flag)
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, S_IRWXU);
  const char* err = nullptr;
  int rc = -1;
  struct stat sb;
  if (fd < 0) {
    err = "cannot open";
  } else if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    err = "not a regular file";
    errno = EINVAL;
  } else if (ftruncate(fd, 0) != 0) {
    err = "cannot truncate";
  } else {
    rc = remc_store_persist_save(s, fd, &st, &err);
    // the metadata file (written next) must never name data that is not on disk
    if (rc == 0 && fsync(fd) != 0) { rc = -1; err = "fsync failed"; }
  }
  if (fd >= 0) {
    int e = errno;
    if (close(fd) != 0 && rc == 0) { rc = -1; err = "close failed"; } else errno = e;
  }
  if (rc != 0) {
    Napi::Error::New(env, std::string(err) + ": " + path + ": " + std::strerror(errno)).ThrowAsJavaScriptException();
    return env.Null();
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("items", static_cast<double>(st.items));
  r.Set("started", static_cast<double>(st.started));
  r.Set("now", st.now);
  r.Set("oldestLive", st.oldest_live);
  r.Set("oldestCas", Napi::BigInt::New(env, st.oldest_cas));
  r.Set("casCounter", Napi::BigInt::New(env, st.cas_counter));
  r.Set("hashpower", st.hashpower);
  return r;
}

}  // namespace

// Called by init right after it created the store (before any other thread can see it).
void remc_persist_restore(Napi::Env env, Napi::Object opts, remc_store** store,
                          const remc_store_config* cfg, Napi::Object result) {
  Napi::Value rv = opts.Get("restore");
  if (!rv.IsObject()) return;
  Napi::Object o = rv.As<Napi::Object>();
  std::string path = o.Get("path").ToString().Utf8Value();
  remc_persist_state want{};
  want.id = Big(o.Get("id"));
  want.started = static_cast<int64_t>(o.Get("started").ToNumber().DoubleValue());
  want.oldest_live = o.Get("oldestLive").ToNumber().Uint32Value();
  want.oldest_cas = Big(o.Get("oldestCas"));
  want.cas_counter = Big(o.Get("casCounter"));
  const char* err = nullptr;
  int64_t n = -1;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a fifo must not block the start
  struct stat sb;
  if (fd < 0) {
    err = std::strerror(errno);
  } else if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    err = "the memory file is not a regular file";  // a fifo or device would block or never end
  } else {
    n = remc_store_persist_load(*store, fd, &want, &err);
  }
  if (fd >= 0) close(fd);
  if (n >= 0) {
    result.Set("restored", static_cast<double>(n));
    return;
  }
  // never half a cache: the store that took some of the file's items is replaced
  const char* cerr = "unknown error";
  remc_store* fresh = remc_store_create(cfg, &cerr);
  if (fresh) {
    remc_store_destroy(*store);
    *store = fresh;
    remc_store_set_time(fresh, static_cast<int64_t>(time(nullptr)));
  } else {
    // cannot happen short of running out of address space: the partial store is unusable
    Napi::Error::New(env, cerr).ThrowAsJavaScriptException();
    return;
  }
  result.Set("restoreError", err ? err : "unknown error");
}

void remc_persist_js_init(Napi::Env env, Napi::Object exports) {
  exports.Set("restartSave", Napi::Function::New(env, RestartSave, "restartSave"));
}

// Extra exports of the domain runtime for tests and benchmarks (addon.cc calls
// remc_domain_js_init if this file is linked in):
//   domainThreadPkru() -> number   the calling thread's PKRU (0 without PKU): tests compare it
//                                  before and after faults (it must be exactly restored)
//   domainKeys() -> { domain, store, mode }   protection keys in use (-1 in mode none)
#include <napi.h>

#include "remc_domain.h"

namespace {

Napi::Value ThreadPkru(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(remc_domain_thread_pkru()));
}

Napi::Value Keys(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("domain", remc_domain_pkey());
  o.Set("store", remc_domain_store_pkey());
  o.Set("mode", remc_domain_mode());
  return o;
}

}  // namespace

void remc_domain_js_init(Napi::Env env, Napi::Object exports) {
  exports.Set("domainThreadPkru", Napi::Function::New(env, ThreadPkru, "domainThreadPkru"));
  exports.Set("domainKeys", Napi::Function::New(env, Keys, "domainKeys"));
}

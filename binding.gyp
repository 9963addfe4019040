# Two targets: the parser (code that runs inside the isolation domain, compiled freestanding so
# that it calls nothing outside itself) and the addon (runtime, store, binding) that links it.
{
  'target_defaults': {
    'include_dirs': [ 'native/include' ],
    'defines': [ 'NAPI_VERSION=9', 'NODE_ADDON_API_DISABLE_DEPRECATED', '_GNU_SOURCE' ],
    'cflags': [ '-fstack-protector-strong', '-fvisibility=hidden', '-Wall', '-Wextra',
                '-Werror=format-security' ],
    'cflags_c': [ '-std=gnu11', '-Werror=implicit-function-declaration' ],
    'cflags_cc': [ '-std=c++17', '-fvisibility-inlines-hidden' ],
    'configurations': {
      'Release': { 'cflags!': [ '-O3' ], 'cflags_cc!': [ '-O3' ], 'cflags': [ '-O2' ] },
      'Debug': { 'cflags': [ '-O1', '-g' ] },
    },
  },
  'targets': [
    {
      'target_name': 'remc_parser',
      'type': 'static_library',
      'sources': [ '<!@(ls -1 native/parser/*.c)' ],
      # No libc, no jump tables (their tables sit in .rodata, unreadable in pku-strict), no calls
      # that gcc would invent for loops (memcpy/memset). scripts/check-parser-freestanding.sh
      # verifies the objects reference no undefined symbols.
      # The stack canary is a global (__stack_chk_guard, defined by native/runtime in a page the
      # domain may read in every mode): the default TLS canary is unreadable in pku-strict.
      'cflags': [ '-ffreestanding', '-fno-builtin', '-fno-jump-tables', '-fno-plt',
                  '-fno-tree-loop-distribute-patterns', '-fno-asynchronous-unwind-tables' ],
      # x86-64 only (the option and the PKU runtime that defines the guard); elsewhere the
      # portable runtime (mode none) and glibc's TLS canary.
      'conditions': [ [ 'target_arch=="x64"', { 'cflags': [ '-mstack-protector-guard=global' ] } ] ],
    },
    {
      'target_name': 'remcached',
      'dependencies': [
        'remc_parser',
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api",
      ],
      'sources': [
        '<!@(ls -1 native/binding/*.cc native/binding/*.c 2>/dev/null || true)',
        '<!@(ls -1 native/runtime/*.c native/runtime/*.S 2>/dev/null || true)',
        '<!@(ls -1 native/store/*.c 2>/dev/null || true)',
      ],
      'ldflags': [ '-Wl,-z,relro,-z,now', '-Wl,-z,noexecstack', '-Wl,--exclude-libs,ALL' ],
    },
  ],
}

/*
 * abi_layout.h — remc_parse_io's layout, pinned. The native addon (x86-64/aarch64) and the
 * WebAssembly parser (wasm32, 32-bit pointers) exchange it byte for byte: the host copies the
 * struct and its descriptors in and out of the module's memory. Both sides include this file,
 * so a field that moves, or a type whose size differs between the two, fails the build of
 * whichever side is built (native/binding/addon.cc, native/wasm/support.c).
 */
#ifndef REMC_ABI_LAYOUT_H
#define REMC_ABI_LAYOUT_H

#include <stddef.h>
#include "remc_abi.h"

#ifdef __cplusplus
#define REMC_STATIC_ASSERT static_assert
#else
#define REMC_STATIC_ASSERT _Static_assert
#endif

#define REMC_IO_ASSERT(field, off) \
  REMC_STATIC_ASSERT(offsetof(remc_parse_io, field) == (off), "remc_parse_io." #field " moved")
REMC_IO_ASSERT(len, 0);
REMC_IO_ASSERT(start, 4);
REMC_IO_ASSERT(resume_off, 8);
REMC_IO_ASSERT(opts, 12);
REMC_IO_ASSERT(desc_cap, 16);
REMC_IO_ASSERT(resume_end, 20);
REMC_IO_ASSERT(heap_base, 24);
REMC_IO_ASSERT(heap_size, 32);
REMC_IO_ASSERT(fault_target, 40);
REMC_IO_ASSERT(status, 72);
REMC_IO_ASSERT(consumed, 76);
REMC_IO_ASSERT(ndesc, 80);
REMC_IO_ASSERT(out_resume_off, 84);
REMC_IO_ASSERT(heap_used, 88);
REMC_IO_ASSERT(close_reason, 92);
REMC_IO_ASSERT(desc, 96);
#undef REMC_IO_ASSERT
REMC_STATIC_ASSERT(sizeof(remc_parse_io) == 96, "remc_parse_io size");
REMC_STATIC_ASSERT(sizeof(((remc_parse_io *)0)->desc[0]) == 4, "descriptor word size");
REMC_STATIC_ASSERT(REMC_DESC_WORDS == 32, "descriptor words");
/* What the host reads: the io struct, then ndesc descriptors of REMC_DESC_WORDS words. */
#define REMC_IO_BYTES(ndesc) (sizeof(remc_parse_io) + (size_t)(ndesc) * REMC_DESC_WORDS * 4u)

#endif

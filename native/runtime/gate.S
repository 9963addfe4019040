/*
 * gate.S — the only code in remcached that writes PKRU (scripts/scan-pku-insns.mjs checks this
 * on every build: WRPKRU may appear only in remc_gate_call, remc_gate_call_strict,
 * remc_gate_rewind and the two signal entries remc_sig_entry and remc_sig_entry_chain).
 *
 * remc_gate_call(g, fn, a1, a2): save the host rsp, callee-saved registers and PKRU in *g (root
 * memory), switch to the domain stack, write the domain PKRU and verify it ERIM-style against
 * the thread's own values, which the domain cannot write (a sealed page with a read-only key,
 * one per domain thread, at the GS base), call fn(a1, a2),
 * then restore the exact saved host PKRU. Nothing on the way out trusts a register: the gate is
 * found again through initial-exec TLS.
 *
 * Strict mode (pkey 0 not even readable in the domain) cannot read TLS on the way out, so its
 * exit first writes a "transit" PKRU from the thread's sealed gate page (a constant the domain
 * cannot change: pkey 0 and the thread's key accessible), then the saved host value when it
 * differs. A domain that jumps to any of these WRPKRUs with its own eax gains nothing: what
 * follows is the fixed return to host.
 */
/* x86-64 only: elsewhere native/runtime/domain_portable.c provides the runtime (mode none). */
#if defined(__x86_64__)

#include "domain_internal.h"

        .section .note.GNU-stack,"",@progbits

/* One page, alone in its page (aligned and padded to 4096): made PROT_READ with the read-only
 * key after init, so the domain (and everyone) can read it and nobody can write it. */
        .section .data.remc_gate_ro,"aw",@progbits
        .balign 4096
        .globl remc_gate_ro
        .hidden remc_gate_ro
        .type remc_gate_ro,@object
        .globl __stack_chk_guard
        .hidden __stack_chk_guard
        .type __stack_chk_guard,@object
remc_gate_ro:
__stack_chk_guard:
        .quad 0
        .size __stack_chk_guard, 8
        .size remc_gate_ro, 8
        .balign 4096
        .globl remc_gate_ro_end
        .hidden remc_gate_ro_end
remc_gate_ro_end:

        .text

.macro WRPKRU_EAX
        xorl    %ecx, %ecx
        xorl    %edx, %edx
        wrpkru
.endm

/* Entry, shared by both variants. rdi = gate, rsi = fn, rdx = a1, rcx = a2. */
.macro GATE_ENTER
        movq    %rsp, G_RSP(%rdi)
        movq    %rbx, G_RBX(%rdi)
        movq    %rbp, G_RBP(%rdi)
        movq    %r12, G_R12(%rdi)
        movq    %r13, G_R13(%rdi)
        movq    %r14, G_R14(%rdi)
        movq    %r15, G_R15(%rdi)
        stmxcsr G_MXCSR(%rdi)
        fnstcw  G_FCW(%rdi)
        movq    %rsi, %r10                  /* fn */
        movq    %rdx, %r8                   /* a1 */
        movq    %rcx, %r9                   /* a2 */
        movl    G_FLAGS(%rdi), %r11d
        testl   $GF_HW_PKU, %r11d
        jz      1f
        xorl    %ecx, %ecx
        rdpkru
        movl    %eax, G_HOST_PKRU(%rdi)
1:      incq    G_SEQ(%rdi)
        movq    G_STACK_TOP(%rdi), %rsp
        movl    $1, G_IN_DOMAIN(%rdi)      /* from here a fault or the watchdog rewinds */
        testl   $GF_SWITCH, %r11d
        jz      2f
        movl    G_DOM_PKRU(%rdi), %eax
        WRPKRU_EAX
        /* ERIM-style: only this thread's two legitimate domain values may pass: another
         * worker's value would open that worker's key. They are in this thread's sealed gate
         * page (read-only key: readable in both domain modes, writable by nobody), found
         * through the GS base, which the domain cannot change without a system call or
         * WRGSBASE (code of its own: out of scope, DESIGN.md). */
        cmpl    %gs:SEAL_PKRU_PKU, %eax
        je      2f
        cmpl    %gs:SEAL_PKRU_STRICT, %eax
        jne     remc_trap_gate
2:      /* host values must not leak into the domain */
        xorl    %ebx, %ebx
        xorl    %ebp, %ebp
        xorl    %r12d, %r12d
        xorl    %r13d, %r13d
        xorl    %r14d, %r14d
        xorl    %r15d, %r15d
        movq    %r8, %rdi
        movq    %r9, %rsi
        xorl    %r8d, %r8d
        xorl    %r9d, %r9d
        xorl    %r11d, %r11d
        call    *%r10
.endm

/* Back on the host side with rdi = gate (from TLS): flag, stack, registers, and the state the
 * ABI says a callee preserves (the domain may have changed it): direction flag, MXCSR control,
 * x87 control word. After a rewind the handler's fresh FPU state is replaced the same way. */
.macro GATE_LEAVE
        movl    $0, G_IN_DOMAIN(%rdi)
        movq    G_RSP(%rdi), %rsp
        movq    G_RBX(%rdi), %rbx
        movq    G_RBP(%rdi), %rbp
        movq    G_R12(%rdi), %r12
        movq    G_R13(%rdi), %r13
        movq    G_R14(%rdi), %r14
        movq    G_R15(%rdi), %r15
        cld
        /* reload only when changed: ldmxcsr/fldcw cost more than the reads (red zone is free) */
        stmxcsr -8(%rsp)
        movl    -8(%rsp), %eax
        cmpl    G_MXCSR(%rdi), %eax
        je      8f
        ldmxcsr G_MXCSR(%rdi)
8:      fnstcw  -8(%rsp)
        movzwl  -8(%rsp), %eax
        cmpw    G_FCW(%rdi), %ax
        je      9f
        fldcw   G_FCW(%rdi)
9:
.endm

.macro LOAD_TLS_GATE reg
        movq    remc_tls_gate@gottpoff(%rip), \reg
        movq    %fs:(\reg), \reg
.endm

/* A WRPKRU towards the host, then proof that it wrote the saved host value: a domain that jumps
 * straight to the WRPKRU with its own eax and rdi must not get on with a permissive PKRU and a
 * gate of its choosing. So the gate is found again in TLS after the write, and eax compared. */
.macro WRPKRU_HOST_CHECKED
        WRPKRU_EAX
        LOAD_TLS_GATE %rdi
        cmpl    G_HOST_PKRU(%rdi), %eax
        jne     remc_trap_gate
.endm

        .globl  remc_gate_call
        .hidden remc_gate_call
        .type   remc_gate_call,@function
        .p2align 4
remc_gate_call:
        .cfi_startproc
        GATE_ENTER
        /* PKU / NONE: pkey 0 is readable, so TLS and the gate can be read directly. */
        LOAD_TLS_GATE %rdi
        testl   $GF_SWITCH, G_FLAGS(%rdi)
        jz      3f
        movl    G_HOST_PKRU(%rdi), %eax
        WRPKRU_HOST_CHECKED
3:      GATE_LEAVE
        xorl    %eax, %eax
        ret
        .cfi_endproc
        .size   remc_gate_call, .-remc_gate_call

        .globl  remc_gate_call_strict
        .hidden remc_gate_call_strict
        .type   remc_gate_call_strict,@function
        .p2align 4
remc_gate_call_strict:
        .cfi_startproc
        GATE_ENTER
        movl    %gs:SEAL_PKRU_TRANSIT, %eax
        WRPKRU_EAX
        cmpl    %gs:SEAL_PKRU_TRANSIT, %eax
        jne     remc_trap_gate
        LOAD_TLS_GATE %rdi
        movl    G_HOST_PKRU(%rdi), %eax
        cmpl    %gs:SEAL_PKRU_TRANSIT, %eax
        je      3f
        WRPKRU_HOST_CHECKED
3:      GATE_LEAVE
        xorl    %eax, %eax
        ret
        .cfi_endproc
        .size   remc_gate_call_strict, .-remc_gate_call_strict

/* Where every failed PKRU check goes: a trap the fault handler recognises by address, so that it
 * rewinds even when the domain arrived here with a stack and PKRU of its own. */
        .globl  remc_trap_gate
        .hidden remc_trap_gate
        .type   remc_trap_gate,@function
        .p2align 4
remc_trap_gate:
        ud2
        .size   remc_trap_gate, .-remc_trap_gate

/* remc_gate_rewind(code): called by the fault handler (running on the alternate stack with the
 * kernel's init PKRU). Restores the host PKRU first, then the entry's stack and registers, and
 * returns `code` from remc_gate_call*. */
        .globl  remc_gate_rewind
        .hidden remc_gate_rewind
        .type   remc_gate_rewind,@function
        .p2align 4
remc_gate_rewind:
        .cfi_startproc
        movl    %edi, %esi
        LOAD_TLS_GATE %rdi
        testl   $GF_HW_PKU, G_FLAGS(%rdi)
        jz      1f
        movl    G_HOST_PKRU(%rdi), %eax
        WRPKRU_HOST_CHECKED
1:      GATE_LEAVE
        movl    %esi, %eax
        ret
        .cfi_endproc
        .size   remc_gate_rewind, .-remc_gate_rewind

/* Signal entries: the first instructions of every handler remcached installs (pku-linux.md
 * §1.2). With PKU the thread's alternate signal stack carries the thread's domain key, because
 * a kernel before 6.12 writes the signal frame under the interrupted PKRU, and the domain may
 * write only its own key. The handler then starts under the kernel's init PKRU, where that key
 * is access-disabled: so before touching the stack it switches to the thread's sealed signal
 * PKRU (pkey 0 and the thread's key RW; found through initial-exec TLS, pkey 0, readable under
 * the init PKRU), checked ERIM-style against the same sealed word, and jumps to the C handler
 * with its arguments (rdi sig, rsi siginfo, rdx ucontext) intact. A thread without a key (no
 * seal) runs as the kernel starts handlers. The same path on every kernel: on 6.12+ the kernel
 * writes the frame under PKRU 0 and nothing else differs. */
.macro LOAD_TLS_SEAL reg
        movq    remc_tls_seal@gottpoff(%rip), \reg
        movq    %fs:(\reg), \reg
.endm

.macro SIG_ENTRY target
        LOAD_TLS_SEAL %rax
        testq   %rax, %rax
        jz      1f
        movl    SEAL_SIG_PKRU(%rax), %eax
        testl   %eax, %eax
        jz      1f
        movq    %rdx, %r8                   /* WRPKRU needs edx = 0 */
        xorl    %ecx, %ecx
        xorl    %edx, %edx
        wrpkru
        LOAD_TLS_SEAL %rcx
        cmpl    SEAL_SIG_PKRU(%rcx), %eax
        jne     remc_trap_gate
        movq    %r8, %rdx
1:      jmp     \target
.endm

        .globl  remc_sig_entry
        .hidden remc_sig_entry
        .type   remc_sig_entry,@function
        .p2align 4
remc_sig_entry:
        SIG_ENTRY remc_on_signal
        .size   remc_sig_entry, .-remc_sig_entry

/* For a handler installed by someone else that runs on our alternate stack (V8's SIGPROF). */
        .globl  remc_sig_entry_chain
        .hidden remc_sig_entry_chain
        .type   remc_sig_entry_chain,@function
        .p2align 4
remc_sig_entry_chain:
        SIG_ENTRY remc_on_chained_signal
        .size   remc_sig_entry_chain, .-remc_sig_entry_chain
#endif /* __x86_64__ */

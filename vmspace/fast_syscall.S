/* The fast syscall page (PVM only; see fast_syscall.h and DESIGN.md, "This
 * machine's KVM"). Data, not host code: the Machine copies these bytes into
 * one guest frame, which every address space maps once per vCPU, each time
 * followed by that vCPU's data page (slot and XSAVE area, reached
 * rip-relative); LSTAR points at it. Under PVM a guest `syscall` lands here
 * in ring 3 with the user's registers, the return address in rcx and the
 * flags in r11; nothing here touches the user's stack.
 *
 * rt_sigprocmask, gettid, getpid, set_robust_list, set_tid_address, rseq
 * (a first registration), brk(0) and brk up within the break's page (its
 * space's only user), prlimit64 (reading one's own limits),
 * getrandom (up to the pool's 64 bytes) and arch_prctl (ARCH_SET_FS and
 * ARCH_GET_FS) are answered from the vCPU's slot;
 * everything else leaves through `out` to the syscall port as the plain
 * trampoline does. A call that changes state commits with one store, the
 * instruction just before `done` (.Lcommit), so that a stop before it
 * finds nothing done; calls the host may simply make again (set_robust_list,
 * set_tid_address: the same values) need no such care. The host copes with an exit at any instruction
 * (an interrupt, a fault on a user pointer) by where it stopped:
 *   before prologue_end: back to the user's `syscall`, which it makes again
 *     (rax and rdx from the stash between slow_stashed and fast); the host
 *     never resumes the guest inside this page (after an entry at an
 *     upper-half address PVM misreports the next user fault's rip);
 *   before done: redo the call in the host (rax still holds its number);
 *   from done on: the call is done, the result is in r8 up to `result`. */

#define TASK_SIZE 0x7ffffffff000
#define SLOT_MASK 0
#define SLOT_PENDING 8
#define SLOT_TID 16
#define SLOT_PID 24
#define SLOT_RCX 32
#define SLOT_R11 40
#define SLOT_R8 48
#define SLOT_R9 56
#define SLOT_RAX 64
#define SLOT_RDX 72
#define SLOT_ROBUST_HEAD 80
#define SLOT_FPU_SAVED 88
#define SLOT_XFEATURES 96
#define SLOT_ROBUST_SET 104
#define SLOT_CTID 112
#define SLOT_CTID_SET 120
#define SLOT_RSEQ_AREA 128
#define SLOT_RSEQ_SIG 136
#define SLOT_RSEQ_SET 144
#define SLOT_CPU 152
#define SLOT_BRK 160
#define SLOT_LIMITS_VALID 168
#define SLOT_RANDOM_LEFT 176
#define SLOT_FSGSBASE 184
#define SLOT_BRK_ALONE 188
#define SLOT_RANDOM 192
#define RANDOM_BYTES 64
#define AREA 256
#define LIMITS 0xf00

/* This vCPU's data page (slot, then XSAVE area) is the page after the code. */
#define DATA(off) (vk_fast_syscall_code + 0x1000 + (off))(%rip)

#define SYSCALL_PORT 0xe0
#define FAST_DONE_PORT 0xe2

    .section .rodata
    .balign 64
    .globl vk_fast_syscall_code
vk_fast_syscall_code:
    cmpl $14, %eax          /* rt_sigprocmask */
    je .Lfast
    cmpl $186, %eax         /* gettid */
    je .Lfast
    cmpl $39, %eax          /* getpid */
    je .Lfast
    cmpl $12, %eax          /* brk */
    je .Lfast
    cmpl $273, %eax         /* set_robust_list */
    je .Lfast
    cmpl $218, %eax         /* set_tid_address */
    je .Lfast
    cmpl $334, %eax         /* rseq */
    je .Lfast
    cmpl $302, %eax         /* prlimit64 */
    je .Lfast
    cmpl $318, %eax         /* getrandom */
    je .Lfast
    cmpl $158, %eax         /* arch_prctl */
    je .Lfast
.Lslow:
    /* Any other call exits. The FPU state goes to the area on the way, so
     * that a thread switch needs no KVM_GET_XSAVE (DATA(SLOT_FPU_SAVED)
     * says it is there; the host clears it before each entry). */
    movq %rax, DATA(SLOT_RAX)
    movq %rdx, DATA(SLOT_RDX)
.Lslow_stashed:
    movl DATA(SLOT_XFEATURES), %eax
    movl DATA(SLOT_XFEATURES + 4), %edx
    xsave64 DATA(AREA)
    movq $1, DATA(SLOT_FPU_SAVED)
    movq DATA(SLOT_RAX), %rax
    movq DATA(SLOT_RDX), %rdx
    outb %al, $SYSCALL_PORT
    sysretq                 /* not reached under PVM: the host returns to rcx */

.Lfast:
    /* Stash rcx, r11, r8, r9 in the slot; rcx becomes the slot's address.
     * mov and lea leave the flags alone. */
    movq %rcx, DATA(SLOT_RCX)
    movq %r11, DATA(SLOT_R11)
    movq %r8, DATA(SLOT_R8)
    movq %r9, DATA(SLOT_R9)
    leaq DATA(0), %rcx
.Lprologue_end:
    cmpl $14, %eax
    je .Lsigprocmask
    cmpl $186, %eax
    je .Lgettid
    cmpl $39, %eax
    je .Lgetpid
    cmpl $12, %eax
    je .Lbrk
    cmpl $273, %eax
    je .Lrobust
    cmpl $218, %eax
    je .Lset_tid
    cmpl $334, %eax
    je .Lrseq
    cmpl $302, %eax
    je .Lprlimit
    cmpl $318, %eax
    je .Lgetrandom
    cmpl $158, %eax
    je .Larch_prctl
    jmp .Lredo
.Lgetpid:
    movq SLOT_PID(%rcx), %r8
    jmp .Ldone
.Lgettid:
    movq SLOT_TID(%rcx), %r8
    jmp .Ldone
.Lbrk:
    /* brk(0) asks for the break. For the address space's only user, a
     * break moved up within its last page (libc rounding its heap to a
     * page) needs no new memory: the host takes the new break after the
     * run. Anything else may map or unmap: the host's. */
    movq SLOT_BRK(%rcx), %r8
    testq %rdi, %rdi
    jz .Ldone
    cmpl $0, SLOT_BRK_ALONE(%rcx)
    je .Lredo
    cmpq %r8, %rdi
    jb .Lredo                   /* shrinking */
    leaq 4095(%r8), %r9
    andq $-4096, %r9            /* the end of the break's page */
    cmpq %r9, %rdi
    ja .Lredo                   /* a new page */
    movq %rdi, %r8              /* the result: the new break */
    movq %rdi, %r9
    leaq SLOT_BRK(%rcx), %r11
    jmp .Lcommit
.Lrobust:
    /* set_robust_list(head = rdi, len = rsi): the host takes the head from
     * the slot after the run (a redo in between sets the same). */
    cmpq $24, %rsi
    jne .Lredo                  /* EINVAL, from the host */
    movq %rdi, SLOT_ROBUST_HEAD(%rcx)
    movq $1, SLOT_ROBUST_SET(%rcx)
    xorl %r8d, %r8d
    jmp .Ldone
.Lset_tid:
    /* set_tid_address(tidptr = rdi): the tid; the host takes the pointer
     * after the run (a redo in between sets the same). */
    movq %rdi, SLOT_CTID(%rcx)
    movq $1, SLOT_CTID_SET(%rcx)
    movq SLOT_TID(%rcx), %r8
    jmp .Ldone

.Larch_prctl:
    /* arch_prctl(code = edi, addr = rsi): ARCH_SET_FS below TASK_SIZE
     * (else EPERM, from the host) and ARCH_GET_FS; the host reads the base
     * back after the run. A redo after wrfsbase sets the same. */
    cmpl $0, SLOT_FSGSBASE(%rcx)
    je .Lredo
    cmpl $0x1002, %edi          /* ARCH_SET_FS */
    jne 1f
    movabsq $TASK_SIZE, %r11
    cmpq %r11, %rsi
    jae .Lredo
    wrfsbase %rsi
    xorl %r8d, %r8d
    jmp .Ldone
1:  cmpl $0x1003, %edi          /* ARCH_GET_FS */
    jne .Lredo
    movabsq $TASK_SIZE - 8, %r11
    cmpq %r11, %rsi
    ja .Lredo
    rdfsbase %r11
    movq %r11, (%rsi)           /* may fault: the host redoes the call */
    xorl %r8d, %r8d
    jmp .Ldone

.Lredo:
    /* Not ours to answer (bad arguments, a signal to deliver): hand the
     * call to the host exactly as it was made. */
    movq SLOT_R8(%rcx), %r8
    movq SLOT_R9(%rcx), %r9
    movq SLOT_R11(%rcx), %r11
    movq SLOT_RCX(%rcx), %rcx
    outb %al, $SYSCALL_PORT
    sysretq

.Lrseq:
    /* rseq(area = rdi, len = esi, flags = edx, sig = r10d): a first
     * registration of the original 32-byte area, as the host's
     * rseq_syscall makes it; anything else (unregistering, a second call,
     * bad arguments: EINVAL, EBUSY, EPERM, EFAULT) is the host's. */
    testl %edx, %edx
    jnz .Lredo
    cmpl $32, %esi
    jne .Lredo
    cmpq $0, SLOT_RSEQ_AREA(%rcx)
    jne .Lredo
    testb $31, %dil             /* AT_RSEQ_ALIGN */
    jnz .Lredo
    movabsq $TASK_SIZE - 32, %r11
    cmpq %r11, %rdi
    ja .Lredo
    cmpq $0, 8(%rdi)            /* rseq_cs; may fault: the host redoes the call */
    je 1f
    movq $0, 8(%rdi)            /* a stale section pointer is cleared */
1:  movl SLOT_CPU(%rcx), %r8d
    movl %r8d, 0(%rdi)          /* cpu_id_start */
    movl %r8d, 4(%rdi)          /* cpu_id */
    movl $0, 20(%rdi)           /* node_id */
    movl %r8d, 24(%rdi)         /* mm_cid */
    movq %rdi, SLOT_RSEQ_AREA(%rcx)
    movl %r10d, %r8d
    movq %r8, SLOT_RSEQ_SIG(%rcx)
    xorl %r8d, %r8d             /* result 0 */
    movl $1, %r9d
    leaq SLOT_RSEQ_SET(%rcx), %r11
    jmp .Lcommit

.Lprlimit:
    /* prlimit64(pid = rdi, resource = rsi, new = rdx, old = r10): reading
     * one's own limit; setting one, another process's, a bad resource are
     * the host's. */
    testq %rdi, %rdi
    jnz .Lredo
    testq %rdx, %rdx
    jnz .Lredo
    testq %r10, %r10
    jz .Lredo
    cmpq $16, %rsi
    jae .Lredo
    cmpq $0, SLOT_LIMITS_VALID(%rcx)
    je .Lredo
    movabsq $TASK_SIZE - 16, %r11
    cmpq %r11, %r10
    ja .Lredo
    movq %rsi, %r9
    shlq $4, %r9
    movq LIMITS(%rcx,%r9), %r11
    movq %r11, (%r10)           /* may fault: the host redoes the call */
    movq LIMITS+8(%rcx,%r9), %r11
    movq %r11, 8(%r10)
    xorl %r8d, %r8d
    jmp .Ldone

.Lgetrandom:
    /* getrandom(buf = rdi, len = rsi, flags = edx): flags 0 or
     * GRND_NONBLOCK, 1 to what the pool has left; the bytes come from the
     * pool's unused end, each once (the commit shrinks it). */
    testl $-2, %edx
    jnz .Lredo
    testq %rsi, %rsi
    jz .Lredo
    cmpq $RANDOM_BYTES, SLOT_RANDOM_LEFT(%rcx)
    ja .Lredo                   /* the guest wrote it: not our pool's count */
    cmpq SLOT_RANDOM_LEFT(%rcx), %rsi
    ja .Lredo
    movabsq $TASK_SIZE, %r11
    subq %rsi, %r11
    cmpq %r11, %rdi
    ja .Lredo
    movl $RANDOM_BYTES, %r9d
    subq SLOT_RANDOM_LEFT(%rcx), %r9   /* the first unused byte */
    xorl %r8d, %r8d
2:  movb SLOT_RANDOM(%rcx,%r9), %r11b
    movb %r11b, (%rdi,%r8)      /* may fault: the host redoes the call */
    incq %r9
    incq %r8
    cmpq %rsi, %r8
    jb 2b
    movq SLOT_RANDOM_LEFT(%rcx), %r9
    subq %rsi, %r9
    leaq SLOT_RANDOM_LEFT(%rcx), %r11
    jmp .Lcommit                /* result in r8: len */

.Lsigprocmask:
    /* rt_sigprocmask(how = edi, set = rsi, oset = rdx, sigsetsize = r10) */
    cmpq $8, %r10
    jne .Lredo
    /* Pointers at or above TASK_SIZE are the host's to refuse (EFAULT):
     * the stub itself could reach the kernel page. */
    movabsq $TASK_SIZE, %r11
    cmpq %r11, %rsi
    jae .Lredo
    cmpq %r11, %rdx
    jae .Lredo
    movq SLOT_MASK(%rcx), %r8   /* old */
    movq %r8, %r9               /* new */
    testq %rsi, %rsi
    jz 2f
    movq (%rsi), %r11           /* may fault: the host redoes the call */
    cmpl $1, %edi
    je .Lunblock
    ja 1f
    orq %r11, %r9               /* SIG_BLOCK */
    jmp 2f
.Lunblock:
    notq %r11                   /* SIG_UNBLOCK */
    andq %r11, %r9
    jmp 2f
1:  cmpl $2, %edi
    jne .Lredo                  /* EINVAL, from the host */
    movq %r11, %r9              /* SIG_SETMASK */
2:  andq $-0x40101, %r9         /* SIGKILL (bit 8) and SIGSTOP (bit 18) stay unblocked */
    testq %rdx, %rdx
    jz 3f
    movq %r8, (%rdx)            /* *oset; may fault; the host writes the same */
3:  movq %r9, %r11
    notq %r11
    andq SLOT_PENDING(%rcx), %r11
    jnz .Lredo                  /* a pending signal gets unblocked: the host delivers it */
    xorl %r8d, %r8d             /* result 0 */
    leaq SLOT_MASK(%rcx), %r11
.Lcommit:
    /* The store that makes a call done: r9 into the slot word at r11. It
     * is the last instruction before `done`, so a stop at it or before
     * finds the call not made, and after it, made. (Locked: for
     * rt_sigprocmask the mask is ordered before the pending check below.) */
    xchgq %r9, (%r11)
.Ldone:
    /* A signal posted while we ran: leave with the call done. */
    movq SLOT_MASK(%rcx), %rax
    notq %rax
    andq SLOT_PENDING(%rcx), %rax
    jnz .Lsignal
    /* The user's flags from the stash: DF, then OF, then SF ZF AF PF CF
     * through sahf. (TF and AC are left cleared, as at syscall entry.) */
    testl $0x400, SLOT_R11(%rcx)
    jz 4f
    std
    jmp 5f
4:  cld
5:  testl $0x800, SLOT_R11(%rcx)
    jz 6f
    movb $0x7f, %al
    addb $1, %al                /* OF = 1 */
    jmp 7f
6:  xorl %eax, %eax             /* OF = 0 */
7:  movb SLOT_R11(%rcx), %ah
    sahf
.Lresult:
    movq %r8, %rax
    movq SLOT_R8(%rcx), %r8
    movq SLOT_R9(%rcx), %r9
    movq SLOT_R11(%rcx), %r11
    movq SLOT_RCX(%rcx), %rcx
    jmpq *%rcx
.Lsignal:
    outb %al, $FAST_DONE_PORT
    ud2

.Lend:

    /* The FPU restore entry (not a syscall path: fast_stop never looks
     * here). The host copies a thread's FPU state into the area, puts its
     * rip, rax and rdx in the slot and enters the guest here instead of
     * making KVM_SET_XSAVE (a vCPU ioctl, ~9 us on PVM). Flags and every
     * other register are the thread's already. A stop before the jump is
     * run on by the host (no register of the thread is lost: they are all
     * in the slot or in place). */
.Lrestore:
    movl DATA(SLOT_XFEATURES), %eax
    movl DATA(SLOT_XFEATURES + 4), %edx
    xrstor64 DATA(AREA)
    movq DATA(SLOT_RAX), %rax
    movq DATA(SLOT_RDX), %rdx
    jmpq *DATA(SLOT_RCX)
.Lrestore_end:

    /* Offsets into the code above, for the host (FastSyscallLayout). */
    .balign 8
    .globl vk_fast_syscall_layout
vk_fast_syscall_layout:
    .quad .Lrestore_end - vk_fast_syscall_code
    .quad .Lend - vk_fast_syscall_code
    .quad .Lslow - vk_fast_syscall_code
    .quad .Lslow_stashed - vk_fast_syscall_code
    .quad .Lfast - vk_fast_syscall_code
    .quad .Lprologue_end - vk_fast_syscall_code
    .quad .Ldone - vk_fast_syscall_code
    .quad .Lresult - vk_fast_syscall_code
    .quad .Lrestore - vk_fast_syscall_code

    .section .note.GNU-stack, "", @progbits

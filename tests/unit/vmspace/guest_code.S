# Tiny guest programs for the vmspace tests. Each is copied to a page of its
# own and runs in ring 3; rip-relative addressing only.
        .text
        .intel_syntax noprefix

#define GUEST(name) .globl name##_start, name##_end; name##_start:
#define END(name) name##_end:

# syscall in a loop: each trap reports rax, the host bumps it.
GUEST(g_syscall_loop)
1:      syscall
        jmp 1b
END(g_syscall_loop)

# Load xmm0..xmm2 from the data at rdi, syscall, store them at rsi, syscall.
GUEST(g_xmm)
        movdqu xmm0, [rdi]
        movdqu xmm1, [rdi + 16]
        movdqu xmm2, [rdi + 32]
        syscall
        movdqu [rsi], xmm0
        movdqu [rsi + 16], xmm1
        movdqu [rsi + 32], xmm2
        syscall
        jmp .
END(g_xmm)

# Two syscalls back to back: the registers the host set after the first must
# reach the second unchanged (rcx and r11 excepted, as on Linux).
GUEST(g_regs)
        syscall
        syscall
        jmp .
END(g_regs)

# Read the qword at rdi into rax, syscall; repeat (for faults and TLB tests).
GUEST(g_load)
1:      mov rax, [rdi]
        syscall
        jmp 1b
END(g_load)

# Store rsi at [rdi], syscall; repeat.
GUEST(g_store)
1:      mov [rdi], rsi
        syscall
        jmp 1b
END(g_store)

# Jump to rdi.
GUEST(g_jump)
        jmp rdi
END(g_jump)

GUEST(g_ud2)
        ud2
        int3
        int3
END(g_ud2)

GUEST(g_div0)
        xor edx, edx
        xor eax, eax
        xor ecx, ecx
        div rcx
END(g_div0)

GUEST(g_int3)
        int3
        syscall
END(g_int3)

GUEST(g_hlt)
        hlt
END(g_hlt)

# rax = fs:[0], syscall.
GUEST(g_fs)
        mov rax, fs:[0]
        syscall
        jmp .
END(g_fs)

# Flags round trip: push the flags the host set, pop into rax, syscall.
GUEST(g_flags)
        pushfq
        pop rax
        syscall
        jmp .
END(g_flags)

# I/O the guest may not do: `in` on the syscall port, then `out` to another.
GUEST(g_in)
        in al, 0xe0
        syscall
END(g_in)

GUEST(g_out_other)
        out 0x80, al
        syscall
END(g_out_other)

GUEST(g_spin)
        jmp .
END(g_spin)

# A bare syscall loop used by the bench: rax counts down to zero.
GUEST(g_count)
1:      syscall
        dec rdi
        jnz 1b
        mov eax, 60
        syscall
        jmp .
END(g_count)

# A bare `out` loop: the raw KVM exit round trip (port 0xe0 from ring 3).
GUEST(g_out)
        lea rcx, [rip + 1f]
1:      out 0xe0, al
        jmp 1b
END(g_out)

# Touch one byte per page from rdi for rsi pages, then syscall.
GUEST(g_touch)
1:      mov byte ptr [rdi], 1
        add rdi, 4096
        dec rsi
        jnz 1b
        syscall
        jmp .
END(g_touch)

        .section .note.GNU-stack,"",@progbits

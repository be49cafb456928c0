/* A tiny program the ELF unit tests parse and also run: it prints what the
 * host kernel's loader told it in the auxiliary vector, so the tests can
 * check parse_elf()'s entry point and AT_PHDR against Linux's own answer. */
#include <stdio.h>
#include <sys/auxv.h>

int main(void) {
    printf("%lx %lx %lu %lu\n", getauxval(AT_PHDR), getauxval(AT_ENTRY), getauxval(AT_PHNUM),
           getauxval(AT_PHENT));
    return 0;
}

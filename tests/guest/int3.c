/* Executes int3 with no debugger: the process must die of SIGTRAP (status 133). */
#include <stdio.h>

int main(void) {
    printf("executing int3\n");
    fflush(stdout);
    __asm__ volatile("int3");
    printf("survived int3\n");
    return 0;
}

/* Executes ud2: the process must die of SIGILL (status 132). */
#include <stdio.h>

int main(void) {
    printf("executing ud2\n");
    fflush(stdout);
    __asm__ volatile("ud2");
    printf("survived ud2\n");
    return 0;
}

/* Writes through a NULL pointer: the process must die of SIGSEGV (status 139
 * as a shell sees it). What was printed before the fault must arrive. */
#include <stdio.h>

int main(void) {
    /* A volatile pointer to volatile memory: the compiler can neither see
     * that the pointer is NULL (and emit a trap instruction instead) nor drop
     * the store as dead. */
    volatile int *volatile p = NULL;
    printf("writing through NULL\n");
    fflush(stdout);
    *p = 42;
    printf("survived a NULL write\n");
    return 0;
}

/* Divides by zero in integer arithmetic: the process must die of SIGFPE
 * (status 136). */
#include <stdio.h>

int main(void) {
    volatile int a = 1, b = 0;  /* volatile: no constant folding, a real idiv */
    printf("dividing by zero\n");
    fflush(stdout);
    int c = a / b;
    printf("survived: %d\n", c);
    return 0;
}

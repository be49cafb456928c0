/* Prints "hello", argc and every argv element with its index. */
#include <stdio.h>

int main(int argc, char **argv) {
    printf("hello\n");
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d]=\"%s\"\n", i, argv[i]);
    return 0;
}

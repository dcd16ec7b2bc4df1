/* Runs every file of a corpus directory through a fuzz target, as a plain test: what the fuzzer
 * once found keeps being checked in every build, sanitizers or not. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    DIR *d;
    struct dirent *de;
    size_t files = 0;

    if (argc != 2 || (d = opendir(argv[1])) == NULL) {
        fprintf(stderr, "usage: replay CORPUS_DIR\n");
        return 2;
    }
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        FILE *f;
        uint8_t *buf;
        long n;
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
        f = fopen(path, "rb");
        if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
            fprintf(stderr, "cannot read %s\n", path);
            return 1;
        }
        rewind(f);
        buf = malloc((size_t)n + 1);
        if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
            return 1;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        free(buf);
        files++;
    }
    closedir(d);
    printf("%zu passed, 0 failed\n", files);
    return files > 0 ? 0 : 1;
}

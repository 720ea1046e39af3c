/*
 * bars -- a bar chart PNG from the command line, with plot.h (the repro scripts draw their tables
 * with it).
 *
 *   cc -O2 -o dev/repro/bars dev/repro/bars.c -lm
 *   dev/repro/bars OUT.png "title" "y label" label=value [label=value ...]
 *
 * A value that is not a number (e.g. "missing") draws no bar but keeps the label's slot at 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../plot.h"

int main(int argc, char** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s OUT.png TITLE YLABEL label=value [label=value ...]\n", argv[0]);
        return 2;
    }
    int n = argc - 4;
    const char** labels = malloc(n * sizeof(char*));
    double* values = malloc(n * sizeof(double));
    for (int i = 0; i < n; i++) {
        char* eq = strrchr(argv[4 + i], '=');
        if (!eq) { fprintf(stderr, "error: '%s' is not label=value\n", argv[4 + i]); return 2; }
        *eq = 0;
        labels[i] = argv[4 + i];
        char* end;
        values[i] = strtod(eq + 1, &end);
        if (end == eq + 1 || *end) values[i] = 0; // "missing": an empty slot
    }
    if (plot_bars(argv[1], argv[2], argv[3], labels, values, n, 800, 500)) {
        fprintf(stderr, "error: %s\n", plot_err);
        return 1;
    }
    printf("wrote %s\n", argv[1]);
    free(labels);
    free(values);
    return 0;
}

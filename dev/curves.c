/*
 * curves -- one PNG with a loss curve per training run, read from the trainers' --log CSVs
 * (step,split,loss,lr,grad_norm,ms,metric), with plot.h. Used for the README's comparison plots.
 *
 *   cc -O2 -o dev/curves dev/curves.c -lm
 *   dev/curves OUT.png "title" SPLIT label=run.csv [label=run.csv ...]     (SPLIT: train or val)
 *
 * Train losses are averaged over windows of 50 steps (one point per window) so that the curves
 * stay readable; val points are plotted as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../plot.h"

#define MAX_RUNS 8
int main(int argc, char** argv) {
    if (argc < 5 || argc - 4 > MAX_RUNS || (strcmp(argv[3], "train") && strcmp(argv[3], "val"))) {
        fprintf(stderr, "usage: %s OUT.png TITLE train|val label=run.csv [...] (at most %d runs)\n", argv[0], MAX_RUNS);
        return 2;
    }
    int train = !strcmp(argv[3], "train"), n_runs = argc - 4;
    PlotSeries series[MAX_RUNS];
    for (int r = 0; r < n_runs; r++) {
        char* eq = strchr(argv[4 + r], '=');
        if (!eq) { fprintf(stderr, "error: '%s' is not label=file.csv\n", argv[4 + r]); return 2; }
        *eq = 0;
        FILE* f = fopen(eq + 1, "r");
        if (!f) { fprintf(stderr, "error: cannot open %s\n", eq + 1); return 1; }
        int cap = 1024, n = 0, in_window = 0;
        double *x = malloc(cap * sizeof(double)), *y = malloc(cap * sizeof(double)), sum = 0, sum_step = 0;
        char line[512], split[16];
        if (!fgets(line, sizeof(line), f)) { fprintf(stderr, "error: %s is empty\n", eq + 1); return 1; }
        while (fgets(line, sizeof(line), f)) {
            int step;
            double loss;
            if (sscanf(line, "%d,%15[^,],%lf", &step, split, &loss) != 3 || strcmp(split, argv[3])) continue;
            if (train) { // average windows of 50 steps
                sum += loss; sum_step += step;
                if (++in_window < 50) continue;
                loss = sum / in_window; step = (int)(sum_step / in_window);
                sum = sum_step = 0; in_window = 0;
            }
            if (n == cap) { cap *= 2; x = realloc(x, cap * sizeof(double)); y = realloc(y, cap * sizeof(double)); }
            x[n] = step; y[n] = loss; n++;
        }
        fclose(f);
        series[r] = (PlotSeries){argv[4 + r], x, y, n};
    }
    if (plot_lines(argv[1], argv[2], "step", train ? "train loss (mean of 50 steps)" : "val loss", series, n_runs, 0, 800, 500)) {
        fprintf(stderr, "error: %s\n", plot_err);
        return 1;
    }
    printf("wrote %s\n", argv[1]);
    return 0;
}

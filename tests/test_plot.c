/* test_plot.c -- checks plot.h: PNG files, pixels of the series, number format, errors.
   gcc -O2 -Wall -Wextra -std=gnu11 -o /tmp/test_plot tests/test_plot.c -lm   (from the repo root) */
#include "../plot.h"
#include <sys/stat.h>

static int passed, failed;
static void check(int ok, const char* what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (ok) passed++; else failed++;
}

/* 1 if path is a PNG whose IHDR says width x height */
static int png_ok(const char* path, int width, int height) {
    unsigned char h[24];
    FILE* f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (got != sizeof h || memcmp(h, sig, 8) || memcmp(h + 12, "IHDR", 4)) return 0;
    unsigned w = (unsigned)h[16] << 24 | h[17] << 16 | h[18] << 8 | h[19];
    unsigned hh = (unsigned)h[20] << 24 | h[21] << 16 | h[22] << 8 | h[23];
    return w == (unsigned)width && hh == (unsigned)height;
}

static long count_colour(const unsigned char* rgb, int width, int height, unsigned colour) {
    long n = 0;
    for (long i = 0; i < (long)width * height; i++)
        n += rgb[3 * i] == (colour >> 16 & 255) && rgb[3 * i + 1] == (colour >> 8 & 255) && rgb[3 * i + 2] == (colour & 255);
    return n;
}

static int fmt_is(double v, int decimals, const char* want) {
    char buf[32];
    pl_fmt(buf, sizeof buf, v, decimals);
    if (strcmp(buf, want)) printf("     pl_fmt(%g, %d) = \"%s\", want \"%s\"\n", v, decimals, buf, want);
    return !strcmp(buf, want);
}

int main(void) {
    mkdir("tests/tmp", 0755);
    mkdir("tests/tmp/plot", 0755);
    struct stat st;
    check(stat("tests/tmp/plot", &st) == 0 && S_ISDIR(st.st_mode), "tests/tmp/plot exists");

    /* two loss curves; the second has NaN and inf holes */
    enum { N = 200 };
    double step[N], train[N], val[N];
    for (int i = 0; i < N; i++) {
        step[i] = 10.0 * i;
        train[i] = 0.9 + 3.3 * exp(-i / 30.0) + 0.05 * sin(i * 0.7);
        val[i] = 1.0 + 3.2 * exp(-i / 35.0);
    }
    for (int i = 60; i < 70; i++) val[i] = NAN;
    val[120] = INFINITY;
    val[150] = -INFINITY;
    PlotSeries s[2] = {{"train", step, train, N}, {"val (NaN gap)", step, val, N}};

    check(plot_lines("tests/tmp/plot/lines.png", "Loss vs step", "step", "loss", s, 2, 0, 800, 500) == 0,
          "plot_lines writes lines.png");
    check(png_ok("tests/tmp/plot/lines.png", 800, 500), "lines.png is an 800x500 PNG");
    check(plot_lines("tests/tmp/plot/lines_log.png", "Loss (log y)", "step", "loss", s, 2, 1, 640, 400) == 0,
          "plot_lines log_y writes lines_log.png");
    check(png_ok("tests/tmp/plot/lines_log.png", 640, 400), "lines_log.png is a 640x400 PNG");

    const char* names[] = {"gpt", "llama", "mamba", "rwkv", "lstm"};
    double toks[] = {125000.5, 98000, 143210, 61000.25, -12000};
    check(plot_bars("tests/tmp/plot/bars.png", "Throughput (tok/s)", "tok/s", names, toks, 5, 640, 400) == 0,
          "plot_bars writes bars.png");
    check(png_ok("tests/tmp/plot/bars.png", 640, 400), "bars.png is a 640x400 PNG");

    /* pixels: each series colour drawn many times, background dominates, text in the title band */
    int W = 800, H = 500;
    unsigned char* rgb = malloc((size_t)W * H * 3);
    check(plot_lines_rgb(rgb, "Loss vs step", "step", "loss", s, 2, 0, W, H) == 0, "plot_lines_rgb renders");
    long c0 = count_colour(rgb, W, H, plot_palette[0]), c1 = count_colour(rgb, W, H, plot_palette[1]);
    printf("     series pixels: %ld, %ld\n", c0, c1);
    check(c0 > 1000 && c1 > 1000, "both series colours cover > 1000 pixels");
    check(count_colour(rgb, W, H, 0xffffff) > W * H / 2, "background is mostly white");
    check(count_colour(rgb, W, H, plot_palette[2]) == 0, "no third series colour");
    long title_ink = 0;
    for (int i = 0; i < W * 30; i++) title_ink += rgb[3 * i] == 0 && rgb[3 * i + 1] == 0 && rgb[3 * i + 2] == 0;
    check(title_ink > 100, "title drawn in black at the top");

    /* the NaN gap: draw val alone (no label, so no legend) with and without its holes and count the
       columns between its leftmost and rightmost pixel that have none of its colour */
    {
        double filled[N];
        for (int i = 0; i < N; i++) filled[i] = 1.0 + 3.2 * exp(-i / 35.0);
        int empty_cols[2];
        for (int k = 0; k < 2; k++) {
            PlotSeries one = {NULL, step, k ? filled : val, N};
            plot_lines_rgb(rgb, "gap", "step", "loss", &one, 1, 0, W, H);
            int first = -1, last = -1, empty = 0, has[800];
            for (int x = 0; x < W; x++) {
                has[x] = 0;
                for (int y = 0; y < H; y++) {
                    const unsigned char* p = rgb + 3 * ((size_t)y * W + x);
                    has[x] |= (unsigned)(p[0] << 16 | p[1] << 8 | p[2]) == plot_palette[0];
                }
                if (has[x]) { if (first < 0) first = x; last = x; }
            }
            for (int x = first; x <= last; x++) empty += !has[x];
            empty_cols[k] = empty;
        }
        printf("     empty columns inside the line: %d with NaN/inf, %d without\n", empty_cols[0], empty_cols[1]);
        check(empty_cols[0] > 20 && empty_cols[1] == 0, "NaN/inf points leave gaps in the line");
    }

    check(plot_bars_rgb(rgb, "bars", "v", names, toks, 5, W, H) == 0, "plot_bars_rgb renders");
    int bars_ok = 1;
    for (int i = 0; i < 5; i++) bars_ok &= count_colour(rgb, W, H, plot_palette[i]) > 500;
    check(bars_ok, "each bar has > 500 pixels of its colour");
    free(rgb);

    /* number format */
    check(fmt_is(0.5, 1, "0.5") && fmt_is(1000, 0, "1000") && fmt_is(0.001, 3, "1e-3") && fmt_is(2.5e6, 0, "2.5e6")
          && fmt_is(0, 2, "0") && fmt_is(0.25, 2, "0.25") && fmt_is(2.0, 2, "2") && fmt_is(-1.5, 1, "-1.5")
          && fmt_is(0.099999999, 1, "0.1") && fmt_is(9.9999e-5, 0, "1e-4"),
          "pl_fmt: 0.5 1000 1e-3 2.5e6 0 0.25 2 -1.5 0.1 1e-4");
    check(pl_nice_step(10, 5) == 2 && pl_nice_step(1, 4) == 0.2 && pl_nice_step(700, 8) == 100 && pl_nice_step(0.03, 6) == 0.005,
          "nice steps 2, 0.2, 100, 0.005");
    int glyphs_ok = 1;
    for (int ch = 33; ch <= 126; ch++) {
        int ink = 0;
        for (int r = 0; r < 7; r++) ink |= plot_font[ch - 32][r];
        glyphs_ok &= ink != 0 && !(ink & ~0x1f);
    }
    check(glyphs_ok, "font has a 5-wide glyph for every printable character");

    /* errors */
    plot_err[0] = 0;
    check(plot_lines("/nonexistent-dir/x.png", "t", "x", "y", s, 2, 0, 800, 500) == -1 && plot_err[0],
          "unwritable path returns -1 with a message");
    printf("     plot_err: %s\n", plot_err);
    PlotSeries empty = {"e", step, train, 0};
    plot_err[0] = 0;
    check(plot_lines("tests/tmp/plot/empty.png", "t", "x", "y", &empty, 1, 0, 800, 500) == -1 && plot_err[0],
          "empty series returns -1");
    check(stat("tests/tmp/plot/empty.png", &st) != 0, "no file written for empty data");
    double nans[3] = {NAN, NAN, INFINITY};
    PlotSeries all_nan = {"n", step, nans, 3};
    check(plot_lines("tests/tmp/plot/nan.png", "t", "x", "y", &all_nan, 1, 0, 800, 500) == -1, "all-NaN series returns -1");
    double neg[3] = {-1, -2, 0};
    PlotSeries negs = {"n", step, neg, 3};
    check(plot_lines("tests/tmp/plot/neg.png", "t", "x", "y", &negs, 1, 1, 800, 500) == -1, "log y with no y > 0 returns -1");
    check(plot_lines("tests/tmp/plot/none.png", "t", "x", "y", s, 0, 0, 800, 500) == -1, "zero series returns -1");
    check(plot_bars("tests/tmp/plot/nobars.png", "t", "y", names, toks, 0, 640, 400) == -1, "zero bars returns -1");
    check(plot_bars("tests/tmp/plot/nanbar.png", "t", "y", names, nans, 2, 640, 400) == -1, "NaN bar returns -1");
    check(plot_lines("tests/tmp/plot/tiny.png", "t", "x", "y", s, 2, 0, 10, 10) == -1, "tiny canvas returns -1");

    /* degenerate but valid: one point, constant series */
    double one_x = 5, one_y = 3;
    PlotSeries one = {"one", &one_x, &one_y, 1};
    check(plot_lines("tests/tmp/plot/one.png", "one point", "x", "y", &one, 1, 0, 320, 240) == 0
          && png_ok("tests/tmp/plot/one.png", 320, 240), "single point plots");

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

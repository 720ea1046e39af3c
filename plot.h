/* plot.h -- tiny PNG plots (line plots, bar charts) for training curves and benchmarks.
 *
 *   PlotSeries s[2] = {{"train", step, train_loss, n}, {"val", step, val_loss, n}};
 *   if (plot_lines("loss.png", "loss", "step", "loss", s, 2, 1, 800, 500)) fprintf(stderr, "%s\n", plot_err);
 *
 * Header only and all static: include it from any .c file (link with -lm). Plots are drawn into an
 * RGB byte canvas with a built-in 5x7 bitmap font and written with stb_image_write
 * (Debian: libstb-dev). Read top to bottom: API, font, canvas primitives, numbers and ticks,
 * the shared frame (axes, labels), line plot, bar chart.
 */
#ifndef PLOT_H
#define PLOT_H

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* stb_image_write with static linkage, so any number of translation units may include us */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

/* ---- API ----------------------------------------------------------------------------------- */

#define PLOT_API static __attribute__((unused))   /* static; no warning when a caller uses only part */

typedef struct { const char* label; const double* x; const double* y; int n; } PlotSeries;

PLOT_API char plot_err[256];                      /* why the last call returned -1 */

/* series colours, in order (tab10-like); exposed so that tests can look for them */
PLOT_API const unsigned plot_palette[8] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728,
                                           0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f};

/* Line plot of 1..8 series with axes, ticks, axis labels, title and legend; log_y: logarithmic y.
   Points with a non-finite x or y (or y <= 0 when log_y) are skipped and break the line.
   Returns 0, or -1 with plot_err set (no finite points, bad arguments, file not writable). */
PLOT_API int plot_lines(const char* path, const char* title, const char* xlabel, const char* ylabel,
                        const PlotSeries* series, int n_series, int log_y, int width, int height);
/* Bar chart: one bar per label with its value printed above it; y from 0 (or below, if negative). */
PLOT_API int plot_bars(const char* path, const char* title, const char* ylabel, const char* const* labels,
                       const double* values, int n, int width, int height);
/* The same, drawn into a caller buffer of width*height*3 bytes (RGB, row-major) instead of a file. */
PLOT_API int plot_lines_rgb(unsigned char* rgb, const char* title, const char* xlabel, const char* ylabel,
                            const PlotSeries* series, int n_series, int log_y, int width, int height);
PLOT_API int plot_bars_rgb(unsigned char* rgb, const char* title, const char* ylabel, const char* const* labels,
                           const double* values, int n, int width, int height);

/* ---- font: printable ASCII 32..126, 5x7 pixels, one byte per row, bit 4 = leftmost column;
   g p q y are drawn 2 rows lower (see pl_text), so their rows 5..6 are the descender ---------- */

static const unsigned char plot_font[95][7] = {
    {0x00,0x00,0x00,0x00,0x00,0x00,0x00}, {0x04,0x04,0x04,0x04,0x04,0x00,0x04}, {0x0a,0x0a,0x00,0x00,0x00,0x00,0x00},  /*   ! " */
    {0x0a,0x0a,0x1f,0x0a,0x1f,0x0a,0x0a}, {0x04,0x0f,0x14,0x0e,0x05,0x1e,0x04}, {0x18,0x19,0x02,0x04,0x08,0x13,0x03},  /* # $ % */
    {0x0c,0x12,0x14,0x08,0x15,0x12,0x0d}, {0x04,0x04,0x00,0x00,0x00,0x00,0x00}, {0x02,0x04,0x08,0x08,0x08,0x04,0x02},  /* & ' ( */
    {0x08,0x04,0x02,0x02,0x02,0x04,0x08}, {0x00,0x04,0x15,0x0e,0x15,0x04,0x00}, {0x00,0x04,0x04,0x1f,0x04,0x04,0x00},  /* ) * + */
    {0x00,0x00,0x00,0x00,0x0c,0x04,0x08}, {0x00,0x00,0x00,0x1f,0x00,0x00,0x00}, {0x00,0x00,0x00,0x00,0x00,0x0c,0x0c},  /* , - . */
    {0x00,0x01,0x02,0x04,0x08,0x10,0x00}, {0x0e,0x11,0x13,0x15,0x19,0x11,0x0e}, {0x04,0x0c,0x04,0x04,0x04,0x04,0x0e},  /* / 0 1 */
    {0x0e,0x11,0x01,0x02,0x04,0x08,0x1f}, {0x1f,0x02,0x04,0x02,0x01,0x11,0x0e}, {0x02,0x06,0x0a,0x12,0x1f,0x02,0x02},  /* 2 3 4 */
    {0x1f,0x10,0x1e,0x01,0x01,0x11,0x0e}, {0x06,0x08,0x10,0x1e,0x11,0x11,0x0e}, {0x1f,0x01,0x02,0x04,0x08,0x08,0x08},  /* 5 6 7 */
    {0x0e,0x11,0x11,0x0e,0x11,0x11,0x0e}, {0x0e,0x11,0x11,0x0f,0x01,0x02,0x0c}, {0x00,0x0c,0x0c,0x00,0x0c,0x0c,0x00},  /* 8 9 : */
    {0x00,0x0c,0x0c,0x00,0x0c,0x04,0x08}, {0x02,0x04,0x08,0x10,0x08,0x04,0x02}, {0x00,0x00,0x1f,0x00,0x1f,0x00,0x00},  /* ; < = */
    {0x08,0x04,0x02,0x01,0x02,0x04,0x08}, {0x0e,0x11,0x01,0x02,0x04,0x00,0x04}, {0x0e,0x11,0x01,0x0d,0x15,0x15,0x0e},  /* > ? @ */
    {0x0e,0x11,0x11,0x1f,0x11,0x11,0x11}, {0x1e,0x11,0x11,0x1e,0x11,0x11,0x1e}, {0x0e,0x11,0x10,0x10,0x10,0x11,0x0e},  /* A B C */
    {0x1c,0x12,0x11,0x11,0x11,0x12,0x1c}, {0x1f,0x10,0x10,0x1e,0x10,0x10,0x1f}, {0x1f,0x10,0x10,0x1e,0x10,0x10,0x10},  /* D E F */
    {0x0e,0x11,0x10,0x17,0x11,0x11,0x0f}, {0x11,0x11,0x11,0x1f,0x11,0x11,0x11}, {0x0e,0x04,0x04,0x04,0x04,0x04,0x0e},  /* G H I */
    {0x07,0x02,0x02,0x02,0x02,0x12,0x0c}, {0x11,0x12,0x14,0x18,0x14,0x12,0x11}, {0x10,0x10,0x10,0x10,0x10,0x10,0x1f},  /* J K L */
    {0x11,0x1b,0x15,0x15,0x11,0x11,0x11}, {0x11,0x11,0x19,0x15,0x13,0x11,0x11}, {0x0e,0x11,0x11,0x11,0x11,0x11,0x0e},  /* M N O */
    {0x1e,0x11,0x11,0x1e,0x10,0x10,0x10}, {0x0e,0x11,0x11,0x11,0x15,0x12,0x0d}, {0x1e,0x11,0x11,0x1e,0x14,0x12,0x11},  /* P Q R */
    {0x0f,0x10,0x10,0x0e,0x01,0x01,0x1e}, {0x1f,0x04,0x04,0x04,0x04,0x04,0x04}, {0x11,0x11,0x11,0x11,0x11,0x11,0x0e},  /* S T U */
    {0x11,0x11,0x11,0x11,0x11,0x0a,0x04}, {0x11,0x11,0x11,0x15,0x15,0x15,0x0a}, {0x11,0x11,0x0a,0x04,0x0a,0x11,0x11},  /* V W X */
    {0x11,0x11,0x0a,0x04,0x04,0x04,0x04}, {0x1f,0x01,0x02,0x04,0x08,0x10,0x1f}, {0x0e,0x08,0x08,0x08,0x08,0x08,0x0e},  /* Y Z [ */
    {0x00,0x10,0x08,0x04,0x02,0x01,0x00}, {0x0e,0x02,0x02,0x02,0x02,0x02,0x0e}, {0x04,0x0a,0x11,0x00,0x00,0x00,0x00},  /* \ ] ^ */
    {0x00,0x00,0x00,0x00,0x00,0x00,0x1f}, {0x08,0x04,0x00,0x00,0x00,0x00,0x00}, {0x00,0x00,0x0e,0x01,0x0f,0x11,0x0f},  /* _ ` a */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x1e}, {0x00,0x00,0x0e,0x10,0x10,0x11,0x0e}, {0x01,0x01,0x0d,0x13,0x11,0x11,0x0f},  /* b c d */
    {0x00,0x00,0x0e,0x11,0x1f,0x10,0x0e}, {0x06,0x09,0x08,0x1c,0x08,0x08,0x08}, {0x0f,0x11,0x11,0x11,0x0f,0x01,0x0e},  /* e f g */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x11}, {0x04,0x00,0x0c,0x04,0x04,0x04,0x0e}, {0x02,0x00,0x06,0x02,0x02,0x12,0x0c},  /* h i j */
    {0x10,0x10,0x12,0x14,0x18,0x14,0x12}, {0x0c,0x04,0x04,0x04,0x04,0x04,0x0e}, {0x00,0x00,0x1a,0x15,0x15,0x11,0x11},  /* k l m */
    {0x00,0x00,0x16,0x19,0x11,0x11,0x11}, {0x00,0x00,0x0e,0x11,0x11,0x11,0x0e}, {0x1e,0x11,0x11,0x11,0x1e,0x10,0x10},  /* n o p */
    {0x0f,0x11,0x11,0x11,0x0f,0x01,0x01}, {0x00,0x00,0x16,0x19,0x10,0x10,0x10}, {0x00,0x00,0x0e,0x10,0x0e,0x01,0x1e},  /* q r s */
    {0x08,0x08,0x1c,0x08,0x08,0x09,0x06}, {0x00,0x00,0x11,0x11,0x11,0x13,0x0d}, {0x00,0x00,0x11,0x11,0x11,0x0a,0x04},  /* t u v */
    {0x00,0x00,0x11,0x11,0x15,0x15,0x0a}, {0x00,0x00,0x11,0x0a,0x04,0x0a,0x11}, {0x11,0x11,0x11,0x11,0x0f,0x01,0x0e},  /* w x y */
    {0x00,0x00,0x1f,0x02,0x04,0x08,0x1f}, {0x02,0x04,0x04,0x08,0x04,0x04,0x02}, {0x04,0x04,0x04,0x04,0x04,0x04,0x04},  /* z { | */
    {0x08,0x04,0x04,0x02,0x04,0x04,0x08}, {0x00,0x00,0x08,0x15,0x02,0x00,0x00},  /* } ~ */
};

/* ---- canvas primitives ------------------------------------------------------------------------ */

enum { PLOT_WHITE = 0xffffff, PLOT_BLACK = 0x000000, PLOT_GRID = 0xe4e4e4, PLOT_FRAME = 0x909090 };

typedef struct {
    unsigned char* px; int w, h;       /* RGB, row-major */
    int cx0, cy0, cx1, cy1;            /* clip rectangle (inclusive): pixels outside it are dropped */
} PlotCanvas;

static void pl_put(PlotCanvas* c, int x, int y, unsigned rgb) {
    if (x < c->cx0 || x > c->cx1 || y < c->cy0 || y > c->cy1) return;
    unsigned char* p = c->px + 3 * ((size_t)y * c->w + x);
    p[0] = (unsigned char)(rgb >> 16); p[1] = (unsigned char)(rgb >> 8); p[2] = (unsigned char)rgb;
}

static void pl_fill(PlotCanvas* c, int x0, int y0, int x1, int y1, unsigned rgb) {  /* inclusive corners */
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) pl_put(c, x, y, rgb);
}

/* Bresenham's line; every step stamps a thick x thick square */
static void pl_line(PlotCanvas* c, int x0, int y0, int x1, int y1, int thick, unsigned rgb) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy, lo = (thick - 1) / 2, hi = thick / 2;
    for (;;) {
        pl_fill(c, x0 - lo, y0 - lo, x0 + hi, y0 + hi, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

static void pl_box(PlotCanvas* c, int x0, int y0, int x1, int y1, unsigned rgb) {  /* 1-px outline */
    pl_line(c, x0, y0, x1, y0, 1, rgb); pl_line(c, x0, y1, x1, y1, 1, rgb);
    pl_line(c, x0, y0, x0, y1, 1, rgb); pl_line(c, x1, y0, x1, y1, 1, rgb);
}

static int pl_text_width(const char* s, int scale) {
    int n = (int)strlen(s);
    return n ? (6 * n - 1) * scale : 0;
}

/* Draws s with its top-left corner at (x, y), one glyph every 6*scale pixels. vertical: turned a
   quarter counter-clockwise, reading upwards, and (x, y) is the bottom-left corner. */
static void pl_text(PlotCanvas* c, int x, int y, const char* s, int scale, int vertical, unsigned rgb) {
    for (int i = 0; s[i]; i++) {
        int ch = (unsigned char)s[i];
        const unsigned char* glyph = plot_font[(ch < 32 || ch > 126 ? '?' : ch) - 32];
        int drop = strchr("gpqy", ch) ? 2 : 0;                 /* descenders hang 2 rows lower */
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++) {
                if (!(glyph[row] >> (4 - col) & 1)) continue;
                int along = (6 * i + col) * scale, across = (row + drop) * scale;
                if (vertical) pl_fill(c, x + across, y - along - scale + 1, x + across + scale - 1, y - along, rgb);
                else pl_fill(c, x + along, y + across, x + along + scale - 1, y + across + scale - 1, rgb);
            }
    }
}

static void pl_text_centered(PlotCanvas* c, int cx, int y, const char* s, int scale) {
    pl_text(c, cx - pl_text_width(s, scale) / 2, y, s, scale, 0, PLOT_BLACK);
}

/* ---- numbers and ticks ------------------------------------------------------------------------ */

/* decimals needed to print multiples of step (0.5 -> 1, 0.05 -> 2, 20 -> 0) */
static int pl_decimals(double step) {
    if (!(step > 0) || step >= 1) return 0;
    int d = (int)ceil(-log10(step) - 1e-9);
    return d > 9 ? 9 : d;
}

/* Compact number: 0, 0.5, 1000, 12.25, 1e-3, 2.5e6. Plain with at most `decimals` decimals
   (trailing zeros dropped) from 0.01 up to a million, else mantissa-e-exponent. */
static void pl_fmt(char* buf, size_t size, double v, int decimals) {
    double a = fabs(v);
    if (a == 0) { snprintf(buf, size, "0"); return; }
    if (a < 1e-2 || a >= 1e6) {
        int e = (int)floor(log10(a));
        double m = v / pow(10, e);
        if (fabs(m) >= 9.995) { m /= 10; e++; }            /* 9.999 would print as "10e.." */
        snprintf(buf, size, "%.3ge%d", m, e);
        return;
    }
    snprintf(buf, size, "%.*f", decimals, v);
    if (strchr(buf, '.')) {                               /* 0.50 -> 0.5, 2.00 -> 2 */
        char* end = buf + strlen(buf) - 1;
        while (*end == '0') *end-- = 0;
        if (*end == '.') *end = 0;
    }
}

/* a "nice" step (1, 2 or 5 times a power of ten) cutting range into about `target` intervals */
static double pl_nice_step(double range, int target) {
    double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* an empty range [v, v] becomes [v - 10%, v + 10%] (or [-1, 1] around 0) */
static void pl_widen(double* lo, double* hi) {
    if (*hi - *lo > 1e-12 * fmax(fabs(*lo), fabs(*hi))) return;
    double d = *lo != 0 ? 0.1 * fabs(*lo) : 1;
    *lo -= d; *hi += d;
}

/* ---- the frame: background, title, axis labels, y axis and grid (shared by both plots) ------- */

#define PLOT_MAX_TICKS 32

typedef struct {
    int l, t, r, b;               /* plot box in pixels (inclusive); data is drawn strictly inside */
    int pad;                      /* data range is mapped this many pixels inside the box */
    double xlo, xhi, ylo, yhi;    /* visible data range; ylo, yhi are log10 values when log_y */
    int log_y;
} PlotFrame;

static int pl_px(const PlotFrame* f, double x) {
    return f->l + f->pad + (int)lround((x - f->xlo) / (f->xhi - f->xlo) * (f->r - f->l - 2 * f->pad));
}
static int pl_py(const PlotFrame* f, double y) {
    if (f->log_y) y = log10(y);
    return f->b - f->pad - (int)lround((y - f->ylo) / (f->yhi - f->ylo) * (f->b - f->t - 2 * f->pad));
}

/* Picks y ticks for data in [lo, hi] (a linear range grows to whole tick steps, a log range to
   whole decades), lays the box out around the widest tick label and draws all but the x axis
   ticks and the data. The caller sets f->pad, f->xlo, f->xhi. */
static void pl_frame(PlotCanvas* c, PlotFrame* f, double lo, double hi, int log_y,
                     const char* title, const char* xlabel, const char* ylabel) {
    double ticks[PLOT_MAX_TICKS];
    char labels[PLOT_MAX_TICKS][24];
    int nt = 0;
    f->log_y = log_y;
    if (log_y) {                                                  /* a tick at every stride-th 10^k */
        int k0 = (int)floor(log10(lo) + 1e-9), k1 = (int)ceil(log10(hi) - 1e-9);
        int stride = k1 > k0 ? (k1 - k0 + 7) / 8 : 1;
        k1 = k0 + stride * ((k1 - k0 + stride - 1) / stride);
        if (k1 == k0) k1 = k0 + 1;
        for (int k = k0; k <= k1 && nt < PLOT_MAX_TICKS; k += stride, nt++) {
            ticks[nt] = pow(10, k);
            pl_fmt(labels[nt], sizeof labels[nt], ticks[nt], k < 0 ? -k : 0);
        }
        f->ylo = k0; f->yhi = k1;
    } else {                                                      /* about 5 nice steps */
        pl_widen(&lo, &hi);
        double step = pl_nice_step(hi - lo, 5);
        double k0 = floor(lo / step + 1e-9), k1 = ceil(hi / step - 1e-9);
        for (double k = k0; k <= k1 && nt < PLOT_MAX_TICKS; k++, nt++) {
            ticks[nt] = k * step;
            pl_fmt(labels[nt], sizeof labels[nt], ticks[nt], pl_decimals(step));
        }
        f->ylo = k0 * step; f->yhi = k1 * step;
    }
    int has_title = title && *title, has_xlabel = xlabel && *xlabel, has_ylabel = ylabel && *ylabel;
    int widest = 0;
    for (int i = 0; i < nt; i++) widest = (int)fmax(widest, pl_text_width(labels[i], 1));
    f->l = 10 + (has_ylabel ? 7 + 10 : 0) + widest + 8;
    f->r = c->w - 1 - 24;                              /* room for half of the last x label */
    f->t = has_title ? 12 + 14 + 12 : 16;              /* title is 14 px high (scale 2) */
    f->b = c->h - 1 - (8 + 7 + 10 + (has_xlabel ? 7 + 10 : 0));

    pl_fill(c, 0, 0, c->w - 1, c->h - 1, PLOT_WHITE);
    if (has_title) pl_text_centered(c, (f->l + f->r) / 2, 12, title, 2);
    if (has_xlabel) pl_text_centered(c, (f->l + f->r) / 2, f->b + 25, xlabel, 1);
    if (has_ylabel) pl_text(c, 10, (f->t + f->b) / 2 + pl_text_width(ylabel, 1) / 2, ylabel, 1, 1, PLOT_BLACK);
    for (int i = 0; i < nt; i++) {
        int y = pl_py(f, ticks[i]);
        pl_line(c, f->l + 1, y, f->r - 1, y, 1, PLOT_GRID);
        pl_line(c, f->l - 4, y, f->l, y, 1, PLOT_BLACK);
        pl_text(c, f->l - 7 - pl_text_width(labels[i], 1), y - 3, labels[i], 1, 0, PLOT_BLACK);
    }
    if (log_y && f->yhi - f->ylo <= 6)                            /* unlabelled minor ticks 2..9 x 10^k */
        for (int k = (int)f->ylo; k < (int)f->yhi; k++)
            for (int m = 2; m <= 9; m++) {
                int y = pl_py(f, m * pow(10, k));
                pl_line(c, f->l - 2, y, f->l, y, 1, PLOT_BLACK);
            }
    pl_box(c, f->l, f->t, f->r, f->b, PLOT_FRAME);
}

/* ---- line plot -------------------------------------------------------------------------------- */

static void pl_xticks(PlotCanvas* c, const PlotFrame* f) {
    int target = (f->r - f->l) / 90 > 2 ? (f->r - f->l) / 90 : 2;      /* a label every ~90 px */
    double step = pl_nice_step(f->xhi - f->xlo, target);
    char buf[24];
    for (double k = ceil(f->xlo / step - 1e-9); k * step <= f->xhi + 1e-9 * step; k++) {
        int x = pl_px(f, k * step);
        pl_line(c, x, f->t + 1, x, f->b - 1, 1, PLOT_GRID);
        pl_line(c, x, f->b, x, f->b + 4, 1, PLOT_BLACK);
        pl_fmt(buf, sizeof buf, k * step, pl_decimals(step));
        pl_text_centered(c, x, f->b + 8, buf, 1);
    }
}

/* pixels in a rectangle that are neither background nor grid, i.e. data */
static int pl_ink(const PlotCanvas* c, int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            const unsigned char* p = c->px + 3 * ((size_t)y * c->w + x);
            unsigned rgb = (unsigned)(p[0] << 16 | p[1] << 8 | p[2]);
            n += rgb != PLOT_WHITE && rgb != PLOT_GRID;
        }
    return n;
}

/* legend, in the corner of the box that hides the least data: a colour swatch and label per series */
static void pl_legend(PlotCanvas* c, const PlotFrame* f, const PlotSeries* series, int n) {
    int widest = 0;
    for (int s = 0; s < n; s++)
        if (series[s].label) widest = (int)fmax(widest, pl_text_width(series[s].label, 1));
    if (widest == 0) return;                                      /* no labels, no legend */
    int w = 8 + 20 + 6 + widest + 8, h = 12 * n + 8, x0 = 0, y0 = 0, best = -1;
    for (int corner = 0; corner < 4; corner++) {                  /* top-right, top-left, bottom-.. */
        int x = corner % 2 ? f->l + 10 : f->r - 10 - w, y = corner < 2 ? f->t + 10 : f->b - 10 - h;
        int fits = x > f->l && y > f->t && x + w < f->r && y + h < f->b;
        int ink = fits ? pl_ink(c, x, y, x + w, y + h) : 1 << 30;
        if (best < 0 || ink < best) { best = ink; x0 = x; y0 = y; }
    }
    pl_fill(c, x0, y0, x0 + w, y0 + h, PLOT_WHITE);
    pl_box(c, x0, y0, x0 + w, y0 + h, PLOT_FRAME);
    for (int s = 0; s < n; s++) {
        int y = y0 + 7 + 12 * s;                                  /* top of this text row */
        pl_line(c, x0 + 8, y + 3, x0 + 28, y + 3, 2, plot_palette[s]);
        if (series[s].label) pl_text(c, x0 + 34, y, series[s].label, 1, 0, PLOT_BLACK);
    }
}

static int pl_size_ok(int width, int height) {
    if (width >= 160 && height >= 120 && width <= 16384 && height <= 16384) return 1;
    snprintf(plot_err, sizeof plot_err, "plot size %dx%d out of range (160x120 to 16384x16384)", width, height);
    return 0;
}

static int pl_point_ok(const PlotSeries* s, int i, int log_y) {
    return isfinite(s->x[i]) && isfinite(s->y[i]) && (!log_y || s->y[i] > 0);
}

PLOT_API int plot_lines_rgb(unsigned char* rgb, const char* title, const char* xlabel, const char* ylabel,
                            const PlotSeries* series, int n_series, int log_y, int width, int height) {
    if (!rgb || !pl_size_ok(width, height)) return -1;
    if (!series || n_series < 1 || n_series > 8) {
        snprintf(plot_err, sizeof plot_err, "need 1 to 8 series, got %d", series ? n_series : 0);
        return -1;
    }
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < n_series; s++) {
        const PlotSeries* S = &series[s];
        if (S->n > 0 && (!S->x || !S->y)) {
            snprintf(plot_err, sizeof plot_err, "series %d has no x or y array", s);
            return -1;
        }
        for (int i = 0; i < S->n; i++)
            if (pl_point_ok(S, i, log_y)) {
                xlo = fmin(xlo, S->x[i]); xhi = fmax(xhi, S->x[i]);
                ylo = fmin(ylo, S->y[i]); yhi = fmax(yhi, S->y[i]);
            }
    }
    if (xlo > xhi) {
        snprintf(plot_err, sizeof plot_err, "no finite data points%s", log_y ? " with y > 0 (log y)" : "");
        return -1;
    }
    pl_widen(&xlo, &xhi);

    PlotCanvas c = {rgb, width, height, 0, 0, width - 1, height - 1};
    PlotFrame f = {.pad = 6, .xlo = xlo, .xhi = xhi};
    pl_frame(&c, &f, ylo, yhi, log_y, title, xlabel, ylabel);
    pl_xticks(&c, &f);
    c.cx0 = f.l + 1; c.cy0 = f.t + 1; c.cx1 = f.r - 1; c.cy1 = f.b - 1;   /* the data stays in the box */
    for (int s = 0; s < n_series; s++) {
        const PlotSeries* S = &series[s];
        int drawn = 0, px = 0, py = 0;           /* drawn: the previous point was, at (px, py) */
        for (int i = 0; i < S->n; i++) {
            if (!pl_point_ok(S, i, log_y)) { drawn = 0; continue; }
            int x = pl_px(&f, S->x[i]), y = pl_py(&f, S->y[i]);
            int alone = !drawn && !(i + 1 < S->n && pl_point_ok(S, i + 1, log_y));
            pl_line(&c, drawn ? px : x, drawn ? py : y, x, y, alone ? 5 : 2, plot_palette[s]);  /* lone: a dot */
            drawn = 1; px = x; py = y;
        }
    }
    pl_legend(&c, &f, series, n_series);
    return 0;
}

/* ---- bar chart -------------------------------------------------------------------------------- */

PLOT_API int plot_bars_rgb(unsigned char* rgb, const char* title, const char* ylabel, const char* const* labels,
                           const double* values, int n, int width, int height) {
    if (!rgb || !pl_size_ok(width, height)) return -1;
    if (!values || n < 1) { snprintf(plot_err, sizeof plot_err, "no bars to plot"); return -1; }
    double lo = 0, hi = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(values[i])) { snprintf(plot_err, sizeof plot_err, "bar %d is not finite", i); return -1; }
        lo = fmin(lo, values[i]); hi = fmax(hi, values[i]);
    }
    if (hi == lo) hi = 1;                                         /* all zero */
    double room = 0.08 * (hi - lo);                               /* for the value printed on a bar */
    if (hi > 0) hi += room;
    if (lo < 0) lo -= room;

    PlotCanvas c = {rgb, width, height, 0, 0, width - 1, height - 1};
    PlotFrame f = {.pad = 0, .xlo = 0, .xhi = (double)n};         /* bar i spans x in [i, i + 1] */
    pl_frame(&c, &f, lo, hi, 0, title, NULL, ylabel);
    double slot = (double)(f.r - f.l) / n;
    int zero = pl_py(&f, 0), half = (int)fmax(1, 0.35 * slot), max_chars = (int)(slot + 1) / 6;
    char buf[64];
    for (int i = 0; i < n; i++) {
        int x = pl_px(&f, i + 0.5), y = pl_py(&f, values[i]);
        pl_fill(&c, x - half, y < zero ? y : zero, x + half, y < zero ? zero : y, plot_palette[i % 8]);
        pl_fmt(buf, sizeof buf, values[i], pl_decimals(fabs(values[i]) / 1000));  /* ~4 digits */
        pl_text_centered(&c, x, values[i] >= 0 ? y - 10 : y + 4, buf, 1);
        if (labels && labels[i]) {                                /* cut to the bar's slot */
            snprintf(buf, sizeof buf, "%.*s", max_chars < 63 ? max_chars : 63, labels[i]);
            pl_text_centered(&c, x, f.b + 8, buf, 1);
        }
    }
    pl_line(&c, f.l, zero, f.r, zero, 1, PLOT_BLACK);             /* the zero line */
    return 0;
}

/* ---- files ------------------------------------------------------------------------------------ */

static unsigned char* pl_alloc(const char* path, int width, int height) {
    if (!path) { snprintf(plot_err, sizeof plot_err, "no output path"); return NULL; }
    if (!pl_size_ok(width, height)) return NULL;
    unsigned char* rgb = (unsigned char*)malloc((size_t)width * height * 3);
    if (!rgb) snprintf(plot_err, sizeof plot_err, "out of memory for a %dx%d plot", width, height);
    return rgb;
}

static int pl_write(const char* path, const unsigned char* rgb, int width, int height) {
    errno = 0;
    if (stbi_write_png(path, width, height, 3, rgb, 3 * width)) return 0;
    snprintf(plot_err, sizeof plot_err, "cannot write %s: %s", path, errno ? strerror(errno) : "PNG write failed");
    return -1;
}

PLOT_API int plot_lines(const char* path, const char* title, const char* xlabel, const char* ylabel,
                        const PlotSeries* series, int n_series, int log_y, int width, int height) {
    unsigned char* rgb = pl_alloc(path, width, height);
    if (!rgb) return -1;
    int rc = plot_lines_rgb(rgb, title, xlabel, ylabel, series, n_series, log_y, width, height);
    if (rc == 0) rc = pl_write(path, rgb, width, height);
    free(rgb);
    return rc;
}

PLOT_API int plot_bars(const char* path, const char* title, const char* ylabel, const char* const* labels,
                       const double* values, int n, int width, int height) {
    unsigned char* rgb = pl_alloc(path, width, height);
    if (!rgb) return -1;
    int rc = plot_bars_rgb(rgb, title, ylabel, labels, values, n, width, height);
    if (rc == 0) rc = pl_write(path, rgb, width, height);
    free(rgb);
    return rc;
}

#endif /* PLOT_H */

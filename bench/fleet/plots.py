"""Latency over time in a failure scenario, drawn by gnuplot (Debian's gnuplot-nox) into a PNG.

Each series is a ballast-load timeline CSV (second,requests,errors,p50_ms,p90_ms,p99_ms,
p999_ms,max_ms). Top panel: p99 per second, log scale; bottom: failed requests per second. The
event's span is shaded.
"""

import subprocess


def plot_failure(series, png, title, event_span):
    start, end = event_span
    plots_p99 = ", ".join(
        f"'{csv}' using 1:($6 > 0 ? $6 : 1/0) with linespoints pt 7 ps 0.5 title '{label}'"
        for label, csv in series)
    plots_errors = ", ".join(
        f"'{csv}' using 1:3 with linespoints pt 7 ps 0.5 title '{label}'" for label, csv in series)
    script = f"""
set terminal pngcairo size 1100,800 font 'sans,10' noenhanced
set output '{png}'
set datafile separator ','
set key autotitle columnhead
set multiplot layout 2,1 title '{title}'
set object 1 rectangle from {start}, graph 0 to {end}, graph 1 fillcolor rgb '#f0e0e0' behind
set grid
set xlabel 'second'
set logscale y
set ylabel 'p99 latency, ms (log)'
set key top left
plot {plots_p99}
unset logscale y
set yrange [0:1<*]
set ylabel 'failed requests per second'
plot {plots_errors}
unset multiplot
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)

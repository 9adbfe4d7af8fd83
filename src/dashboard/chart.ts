/**
 * Charts drawn by hand as SVG: a stacked bar chart (jobs finished per
 * minute), a line chart (latency) and a sparkline. Labels are text nodes.
 */
import { svg } from "./dom.js";
import { duration } from "./format.js";

/** One stacked series of {@link stackedBars}. */
export interface BarSeries {
  /** CSS class of the bars: `completed`, `failed`. */
  className: string;
  label: string;
  values: number[];
}

const HEIGHT = 170;
const MARGIN = { bottom: 20, left: 52, right: 8, top: 10 };

/** 1, 2, 4, 6, 8, 10, 20, 40...: the smallest at or above `n`; its half, the middle gridline, is a round figure too. */
export function niceCeiling(n: number): number {
  if (n <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 4, 6, 8, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}

function clock(iso: string): string {
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** Axes and gridlines. Its `width` follows the box the chart is shown in, so its text keeps one size. */
function frame(width: number, yMax: number, format: (n: number) => string, buckets: string[], label: string): SVGSVGElement {
  const chart = svg("svg", { class: "chart", role: "img", viewBox: `0 0 ${width} ${HEIGHT}` }, svg("title", null, label));
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  for (const fraction of [0, 0.5, 1]) {
    const y = MARGIN.top + plotHeight * (1 - fraction);
    chart.append(
      svg("line", { class: "grid", x1: MARGIN.left, x2: width - MARGIN.right, y1: y, y2: y }),
      svg("text", { class: "axis", "text-anchor": "end", x: MARGIN.left - 6, y: y + 4 }, format(yMax * fraction)),
    );
  }
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const n = buckets.length;
  const ticks = n > 1 ? [0, Math.floor((n - 1) / 2), n - 1] : n === 1 ? [0] : [];
  for (const i of ticks) {
    const x = MARGIN.left + (plotWidth * (i + 0.5)) / Math.max(1, n);
    const anchor = i === 0 && n > 1 ? "start" : i === n - 1 && n > 1 ? "end" : "middle";
    chart.append(svg("text", { class: "axis", "text-anchor": anchor, x, y: HEIGHT - 4 }, clock(buckets[i]!)));
  }
  return chart;
}

/** Stacked bars, one per bucket, with a tooltip per bar naming the minute and each figure. */
export function stackedBars(buckets: string[], series: BarSeries[], label: string, width = 640): SVGSVGElement {
  const totals = buckets.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const yMax = niceCeiling(Math.max(0, ...totals));
  const chart = frame(width, yMax, (v) => String(Math.round(v)), buckets, label);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slot = plotWidth / Math.max(1, buckets.length);
  const barWidth = Math.max(1, slot - Math.min(3, slot * 0.2));
  buckets.forEach((bucket, i) => {
    const x = MARGIN.left + slot * i + (slot - barWidth) / 2;
    const group = svg("g", { class: "bar" }, svg("title", null, `${clock(bucket)}  ${series.map((s) => `${s.values[i] ?? 0} ${s.label}`).join(", ")}`));
    // A transparent full-height hit area: the tooltip shows on a minute with no jobs too.
    group.append(svg("rect", { class: "hit", height: plotHeight, width: slot, x: MARGIN.left + slot * i, y: MARGIN.top }));
    let base = MARGIN.top + plotHeight;
    for (const s of series) {
      const value = s.values[i] ?? 0;
      if (value <= 0) continue;
      const h = (plotHeight * value) / yMax;
      base -= h;
      group.append(svg("rect", { class: s.className, height: Math.max(0.5, h), width: barWidth, x, y: base }));
    }
    chart.append(group);
  });
  return chart;
}

/** Short labels for a time axis: `0`, `250 ms`, `1.5 s`, `2 min`. */
export function axisDuration(ms: number): string {
  if (ms === 0) return "0";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(1))} s`;
  return `${Number((ms / 60_000).toFixed(1))} min`;
}

/** A line, broken where a bucket has no value. */
export function lineChart(buckets: string[], values: (number | null)[], label: string, width = 420, className = "latency"): SVGSVGElement {
  const yMax = niceCeiling(Math.max(0, ...values.filter((v): v is number => v !== null)));
  const chart = frame(width, yMax, axisDuration, buckets, label);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slot = plotWidth / Math.max(1, buckets.length);
  let path = "";
  let open = false;
  values.forEach((value, i) => {
    if (value === null) {
      open = false;
      return;
    }
    const x = MARGIN.left + slot * (i + 0.5);
    const y = MARGIN.top + plotHeight * (1 - value / yMax);
    path += `${open ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    open = true;
    chart.append(svg("circle", { class: `${className} dot`, cx: x, cy: y, r: 2.5 }, svg("title", null, `${clock(buckets[i]!)}  ${duration(value)}`)));
  });
  if (path) chart.insertBefore(svg("path", { class: `${className} line`, d: path }), chart.querySelector("circle"));
  return chart;
}

/** A small bar chart without axes, for a table cell. */
export function sparkline(completed: number[], failed: number[], label: string): SVGSVGElement {
  const width = 120;
  const height = 24;
  const totals = completed.map((c, i) => c + (failed[i] ?? 0));
  const yMax = Math.max(1, ...totals);
  const slot = width / Math.max(1, completed.length);
  const chart = svg(
    "svg",
    { class: "sparkline", role: "img", viewBox: `0 0 ${width} ${height}` },
    svg("title", null, label),
    svg("line", { class: "baseline", x1: 0, x2: width, y1: height - 0.5, y2: height - 0.5 }),
  );
  completed.forEach((c, i) => {
    const f = failed[i] ?? 0;
    const hc = (height * c) / yMax;
    const hf = (height * f) / yMax;
    if (c > 0) chart.append(svg("rect", { class: "completed", height: hc, width: Math.max(0.8, slot - 0.6), x: slot * i, y: height - hc }));
    if (f > 0) chart.append(svg("rect", { class: "failed", height: hf, width: Math.max(0.8, slot - 0.6), x: slot * i, y: height - hc - hf }));
  });
  return chart;
}

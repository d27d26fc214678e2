/**
 * A small SVG line chart with logarithmic axes, for benchmark results. Pure.
 *
 * @module
 */

/** One line of the chart. */
export interface Series {
  /** Legend label. */
  name: string;
  /** Points as [x, y]; x and y must be positive. */
  points: [number, number][];
  /** Draw the line dashed (for reference lines such as a floor). */
  dashed?: boolean;
}

/** Options of `lineChart`. */
export interface ChartOptions {
  /** Title above the chart. */
  title: string;
  /** Label of the x axis. */
  xLabel: string;
  /** Label of the y axis. */
  yLabel: string;
}

const COLORS = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#9467bd",
  "#ff7f0e",
  "#8c564b",
  "#17becf",
  "#7f7f7f",
  "#bcbd22",
  "#e377c2",
];

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Renders series as an SVG line chart, both axes logarithmic (decades marked).
 *
 * @example
 * ```ts
 * import { lineChart } from "./plot.ts";
 * lineChart([{ name: "a", points: [[100, 5], [1000, 50]] }], {
 *   title: "add latency", xLabel: "routes", yLabel: "ms",
 * }).startsWith("<svg"); // true
 * ```
 */
export function lineChart(series: Series[], options: ChartOptions): string {
  const width = 900, height = 440, left = 70, right = 340, top = 40, bottom = 50;
  const points = series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  const xs = points.map(([x]) => Math.log10(x));
  const ys = points.map(([, y]) => Math.log10(y));
  const x0 = Math.floor(Math.min(...xs, 2)), x1 = Math.ceil(Math.max(...xs, 3));
  const y0 = Math.floor(Math.min(...ys, 0)), y1 = Math.ceil(Math.max(...ys, 1));
  const px = (x: number) => left + ((Math.log10(x) - x0) / (x1 - x0)) * (width - left - right);
  const py = (y: number) =>
    height - bottom - ((Math.log10(y) - y0) / (y1 - y0)) * (height - top - bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="24" font-size="15">${escape(options.title)}</text>`,
  ];
  for (let d = x0; d <= x1; d++) {
    const x = px(10 ** d);
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${height - bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${x}" y="${height - bottom + 18}" text-anchor="middle">${10 ** d}</text>`);
  }
  for (let d = y0; d <= y1; d++) {
    const y = py(10 ** d);
    out.push(`<line x1="${left}" y1="${y}" x2="${width - right}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 8}" y="${y + 4}" text-anchor="end">${10 ** d}</text>`);
  }
  out.push(
    `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">` +
      `${escape(options.xLabel)}</text>`,
    `<text transform="translate(18 ${(top + height - bottom) / 2}) rotate(-90)" ` +
      `text-anchor="middle">${escape(options.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const valid = s.points.filter(([x, y]) => x > 0 && y > 0).sort((a, b) => a[0] - b[0]);
    if (valid.length > 1) {
      const path = valid.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : "";
      out.push(
        `<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`,
      );
    }
    for (const [x, y] of valid) {
      out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="4" fill="${color}"/>`);
    }
    const ly = top + 10 + i * 20;
    out.push(
      `<rect x="${width - right + 16}" y="${ly - 9}" width="12" height="12" fill="${color}"/>`,
      `<text x="${width - right + 34}" y="${ly + 1}">${escape(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

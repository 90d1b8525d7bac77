import { useEffect, useRef, useState } from "react";
import type { StatsBucket } from "./types.js";
import { formatTime, zoneName } from "./ui.js";

/** The drawing's width before the figure is measured; then it is the figure's own, so text is never scaled down. */
const DEFAULT_W = 560;
const H = 170;
const M = { left: 34, right: 8, top: 10, bottom: 24 };

function niceMax(n: number): number {
  if (n <= 4) return 4;
  const pow = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 2.5, 5, 10]) {
    const v = step * pow;
    if (v >= n) return v;
  }
  return 10 * pow;
}

/** Hourly deliveries (stacked: delivered, failed) over the last 24 hours, as inline SVG. */
export function DeliveryChart({ buckets, tz, idPrefix }: { buckets: StatsBucket[]; tz?: string; idPrefix: string }) {
  const { ref, width: W } = useFigureWidth();
  const delivered = buckets.reduce((s, b) => s + (b.delivered || 0), 0);
  const failed = buckets.reduce((s, b) => s + (b.failed || 0), 0);
  const max = niceMax(Math.max(0, ...buckets.map((b) => (b.delivered || 0) + (b.failed || 0))));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const n = Math.max(buckets.length, 1);
  const slot = plotW / n;
  const barW = Math.max(2, slot * 0.68);
  const y = (v: number) => M.top + plotH - (v / max) * plotH;
  const summary = `Last 24 hours: ${delivered} delivered, ${failed} failed.`;
  const titleId = `${idPrefix}-chart-title`;

  return (
    <figure className="chart" ref={ref} data-testid="webhook-chart" data-delivered={delivered} data-failed={failed}>
      <figcaption className="chart-caption">
        <span className="chart-heading">
          Last 24 hours <span className="chart-zone muted">({zoneName(tz)})</span>
        </span>
        <span className="legend">
          <span className="legend-item">
            <span className="swatch swatch-ok" aria-hidden="true" />
            {delivered} delivered
          </span>
          <span className="legend-item">
            <span className="swatch swatch-fail" aria-hidden="true" />
            {failed} failed
          </span>
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={titleId} className="chart-svg">
        <title id={titleId}>{summary}</title>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line x1={M.left} x2={W - M.right} y1={y(max * f)} y2={y(max * f)} className={f === 0 ? "axis" : "grid"} />
            <text x={M.left - 6} y={y(max * f) + 4} textAnchor="end" className="tick">
              {Math.round(max * f * 10) / 10}
            </text>
          </g>
        ))}
        {buckets.map((b, i) => {
          const x = M.left + i * slot + (slot - barW) / 2;
          const d = b.delivered || 0;
          const f = b.failed || 0;
          const hour = formatTime(b.start, tz);
          return (
            <g key={b.start}>
              <title>{`${hour}: ${d} delivered, ${f} failed`}</title>
              {/* an invisible full-height target so the tooltip works on empty hours */}
              <rect x={M.left + i * slot} y={M.top} width={slot} height={plotH} fill="transparent" />
              {d > 0 ? <rect x={x} y={y(d)} width={barW} height={y(0) - y(d)} className="bar-ok" rx={1.5} /> : null}
              {f > 0 ? (
                <rect x={x} y={y(d + f)} width={barW} height={y(d) - y(d + f)} className="bar-fail" rx={1.5} />
              ) : null}
              {i % (W < 420 ? 8 : 6) === 0 ? (
                <text x={M.left + i * slot + slot / 2} y={H - 6} textAnchor="middle" className="tick">
                  {hour}
                </text>
              ) : null}
            </g>
          );
        })}
        {buckets.length > 0 ? (
          <text x={W - M.right} y={H - 6} textAnchor="end" className="tick">
            now
          </text>
        ) : null}
      </svg>
      <table className="sr-only">
        <caption>Deliveries per hour, last 24 hours ({zoneName(tz)})</caption>
        <thead>
          <tr>
            <th scope="col">Hour starting</th>
            <th scope="col">Delivered</th>
            <th scope="col">Failed</th>
          </tr>
        </thead>
        <tbody>
          {buckets.map((b) => (
            <tr key={b.start}>
              <td>{formatTime(b.start, tz)}</td>
              <td>{b.delivered}</td>
              <td>{b.failed}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/** The figure's width in CSS pixels, followed as it changes (a phone, a narrow column). */
function useFigureWidth() {
  const ref = useRef<HTMLElement>(null);
  const [width, setWidth] = useState(DEFAULT_W);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const measure = () => {
      const w = Math.round(el.clientWidth);
      if (w > 0) setWidth(Math.max(240, w));
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return { ref, width };
}

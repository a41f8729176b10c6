// Usage points summed per day for the chart and its table, exactly (decimal strings; numbers only for drawing).

import { sumDecimals } from "./money";
import type { UsagePoint } from "./queries";

export interface Day {
  /** `Nov 3` */
  label: string;
  /** Exact decimal strings, for the table and tooltip. */
  cost: string;
  minutes: string;
  /** The same as numbers, only to draw bar heights and the line. */
  costValue: number;
  minutesValue: number;
}

const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

/** Every day of the period so far, with its cost (all metrics, list price) and call minutes. */
export function daysOf(points: UsagePoint[], periodStart: string, until: Date): Day[] {
  const days: Day[] = [];
  const start = new Date(periodStart);
  for (let t = start.getTime(); t <= until.getTime(); t += 86_400_000) {
    const iso = new Date(t).toISOString().slice(0, 10);
    const today = points.filter((p) => p.day.slice(0, 10) === iso);
    const cost = sumDecimals(today.map((p) => p.cost.amount), 2);
    const minutes = sumDecimals(
      today.filter((p) => p.metric === "CALL_MS").map((p) => p.billedQuantity),
      6,
    );
    days.push({
      label: dayFormat.format(new Date(t)),
      cost,
      minutes,
      costValue: Number(cost),
      minutesValue: Number(minutes),
    });
  }
  return days;
}


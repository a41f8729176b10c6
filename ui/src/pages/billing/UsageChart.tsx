import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { Day } from "./days";
import { formatMoney, formatQuantity } from "./money";

/** Cost and call minutes per day this month: bars and a line, with the same figures as a table. */
export default function UsageChart({ days, currency }: { days: Day[]; currency: string }) {
  const money = (amount: string) => formatMoney({ amount, currency });
  return (
    <figure className="chart" aria-labelledby="usage-chart-title">
      <figcaption id="usage-chart-title" className="visually-hidden">
        Cost and call minutes per day this month; the table below has the same figures.
      </figcaption>
      <div className="chart-area" aria-hidden="true">
        <ResponsiveContainer width="100%" height={260}>
          <ComposedChart data={days} margin={{ top: 8, right: 8, bottom: 0, left: 0 }} accessibilityLayer={false}>
            <CartesianGrid stroke="#e3e6eb" vertical={false} />
            <XAxis dataKey="label" tick={{ fontSize: 12, fill: "#4a5262" }} interval="preserveStartEnd" minTickGap={16} />
            {/* A quiet month still gets a readable scale: at least $1 and 10 minutes. */}
            <YAxis
              yAxisId="cost"
              tick={{ fontSize: 12, fill: "#4a5262" }}
              width={48}
              domain={[0, (max: number) => Math.max(max, 1)]}
            />
            <YAxis
              yAxisId="minutes"
              orientation="right"
              tick={{ fontSize: 12, fill: "#4a5262" }}
              width={44}
              allowDecimals={false}
              domain={[0, (max: number) => Math.max(Math.ceil(max), 10)]}
            />
            <Tooltip
              formatter={(_value, name, item) =>
                name === "Cost" ? money((item.payload as Day).cost) : `${formatQuantity((item.payload as Day).minutes)} min`
              }
            />
            <Legend wrapperStyle={{ fontSize: 13 }} />
            <Bar yAxisId="cost" dataKey="costValue" name="Cost" fill="#2f5fd0" radius={[3, 3, 0, 0]} isAnimationActive={false} />
            <Line
              yAxisId="minutes"
              dataKey="minutesValue"
              name="Call minutes"
              stroke="#b2531a"
              strokeWidth={2}
              dot={false}
              isAnimationActive={false}
            />
          </ComposedChart>
        </ResponsiveContainer>
      </div>
      <details>
        <summary>Show as a table</summary>
        <table className="table">
          <thead>
            <tr>
              <th>Day</th>
              <th>Cost</th>
              <th>Call minutes</th>
            </tr>
          </thead>
          <tbody>
            {days.map((d) => (
              <tr key={d.label}>
                <td>{d.label}</td>
                <td>{money(d.cost)}</td>
                <td>{formatQuantity(d.minutes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

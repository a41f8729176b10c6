import { Fragment, useState } from "react";
import { StatusBadge } from "../../components/StatusBadge";
import { formatMoney, formatQuantity, unitLabel } from "./money";
import type { Invoice, Line } from "./queries";

const monthFormat = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" });

/** An invoice's (or the month so far's) lines. */
export function Lines({ lines, caption }: { lines: Line[]; caption: string }) {
  return (
    <table className="table cards lines">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th>Item</th>
          <th>Used</th>
          <th>Included</th>
          <th>Billed</th>
          <th>Unit price</th>
          <th>Amount</th>
        </tr>
      </thead>
      <tbody>
        {lines.map((line, i) => (
          <tr key={i} data-testid="invoice-line">
            <td data-label="Item" className="card-title">
              {line.description}
            </td>
            <td data-label="Used">{line.kind === "USAGE" ? `${formatQuantity(line.used)} ${unitLabel(line.unit, line.used)}` : "—"}</td>
            <td data-label="Included">{line.kind === "USAGE" ? formatQuantity(line.included) : "—"}</td>
            <td data-label="Billed">
              {line.kind === "USAGE"
                ? `${formatQuantity(line.quantity)} ${unitLabel(line.unit, line.quantity)}`
                : `${formatQuantity(line.quantity)} month`}
            </td>
            <td data-label="Unit price">{formatMoney(line.unitPrice)}</td>
            <td data-label="Amount" className="amount">
              {formatMoney(line.amount)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Monthly invoices, newest first; each opens to its lines. */
export function InvoicesSection({ invoices }: { invoices: Invoice[] }) {
  const [open, setOpen] = useState<string>();
  return (
    <section className="card" aria-labelledby="invoices-title">
      <h2 id="invoices-title">Invoices</h2>
      {invoices.length === 0 ? (
        <p className="muted">No invoices yet: the first one is issued after this month ends.</p>
      ) : (
        <table className="table cards">
          <thead>
            <tr>
              <th>Month</th>
              <th>Number</th>
              <th>Status</th>
              <th>Total</th>
            </tr>
          </thead>
          <tbody>
            {invoices.map((invoice) => (
              <Fragment key={invoice.id}>
                <tr data-testid="invoice-row">
                  <td data-label="Month" className="card-title">
                    <button
                      type="button"
                      className="link"
                      aria-expanded={open === invoice.id}
                      onClick={() => setOpen(open === invoice.id ? undefined : invoice.id)}
                    >
                      {monthFormat.format(new Date(invoice.periodStart))}
                    </button>
                  </td>
                  <td data-label="Number">
                    <code>{invoice.number}</code>
                  </td>
                  <td data-label="Status">
                    <StatusBadge value={invoice.status} />
                  </td>
                  <td data-label="Total" className="amount">
                    {formatMoney(invoice.total)}
                    {invoice.credited.amount !== "0.00" && (
                      <div className="muted small">{formatMoney(invoice.credited)} credited</div>
                    )}
                  </td>
                </tr>
                {open === invoice.id && (
                  <tr className="payload-row">
                    <td colSpan={4}>
                      <Lines lines={invoice.lines} caption={`Lines of invoice ${invoice.number}`} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

import { Suspense, lazy, useMemo } from "react";
import { useMutation, useQuery, useSignedIn } from "../../api/hooks";
import { can } from "../../api/roles";
import { ErrorNotice } from "../../components/ErrorNotice";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { formatTime } from "../../format";
import { InvoicesSection, Lines } from "./InvoicesSection";
import { formatMoney, formatQuantity } from "./money";
import { PlanSection } from "./PlanSection";
import { BILLING_PAGE, PORTAL_SESSION } from "./queries";
import { daysOf } from "./days";

// The charting library is loaded with this page only, not with the rest of the portal.
const UsageChart = lazy(() => import("./UsageChart"));

/** The first day of this month (UTC), where the usage chart starts. */
function monthStart(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
}

/** Usage and billing: the month so far and its forecast, a chart per day, the plan and its limits, invoices. */
export function BillingPage() {
  const session = useSignedIn();
  const since = useMemo(monthStart, []);
  const page = useQuery(BILLING_PAGE, { since });
  const portal = useMutation(PORTAL_SESSION);
  const billing = page.data?.billing;
  const days = useMemo(
    () => (page.data && billing ? daysOf(page.data.usageSeries, billing.periodStart, new Date()) : []),
    [page.data, billing],
  );
  const manage = can(session.role, "ManageBilling");
  return (
    <>
      <PageHeader title="Usage & billing">
        {billing?.paymentsEnabled && manage && (
          <button
            type="button"
            disabled={portal.pending}
            onClick={async () => {
              const data = await portal.run({ returnUrl: window.location.href });
              if (data) window.location.assign(data.createBillingPortalSession.url);
            }}
          >
            {portal.pending ? "Opening…" : "Payment methods"}
          </button>
        )}
      </PageHeader>
      <ErrorNotice error={portal.error} />
      {page.error && <LoadError error={page.error} onRetry={page.reload} />}
      {!page.data && !page.error && <Skeleton rows={6} label="Loading usage and billing" />}
      {page.data && billing && (
        <>
          {billing.status !== "ACTIVE" && (
            <div className="notice notice-warn" role="alert" data-testid="billing-status">
              {billing.status === "PAST_DUE"
                ? `A payment failed${billing.pastDueSince ? ` on ${formatTime(billing.pastDueSince)}` : ""}. Calls still work; pay the open invoice to avoid suspension.`
                : "This workspace is suspended for an unpaid invoice: no new calls until it is paid. Everything stays readable."}
            </div>
          )}
          <section className="stats" aria-label="This month">
            <div className="stat">
              <span className="stat-label">Cost so far</span>
              <span className="stat-value" data-testid="cost-to-date">
                {formatMoney(billing.costToDate)}
              </span>
            </div>
            <div className="stat">
              <span className="stat-label">Forecast for the month</span>
              <span className="stat-value">{formatMoney(billing.forecast)}</span>
            </div>
            <div className="stat">
              <span className="stat-label">Call minutes</span>
              <span className="stat-value">
                {formatQuantity(billing.minutesUsed, 1)}
                {billing.plan?.monthlyMinuteLimit != null && (
                  <span className="muted small"> of {formatQuantity(String(billing.plan.monthlyMinuteLimit))}</span>
                )}
              </span>
            </div>
            <div className="stat">
              <span className="stat-label">Calls now</span>
              <span className="stat-value">
                {billing.callsInProgress}
                {billing.plan?.concurrentCallLimit != null && (
                  <span className="muted small"> of {billing.plan.concurrentCallLimit}</span>
                )}
              </span>
            </div>
          </section>
          <section className="card" aria-labelledby="usage-title">
            <h2 id="usage-title">Cost and minutes per day</h2>
            <p className="muted small">At list price, before what your plan includes; the month's invoice applies that.</p>
            <Suspense fallback={<Skeleton rows={5} label="Loading the chart" />}>
              <UsageChart days={days} currency={billing.costToDate.currency} />
            </Suspense>
          </section>
          <section className="card" aria-labelledby="month-title">
            <h2 id="month-title">This month so far</h2>
            <Lines lines={billing.linesToDate} caption="This month's lines so far" />
          </section>
          <PlanSection current={billing.plan} plans={page.data.plans} canChange={manage} onChanged={page.reload} />
          <InvoicesSection invoices={page.data.invoices.nodes} />
        </>
      )}
    </>
  );
}

import { useState } from "react";
import { useMutation } from "../../api/hooks";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { formatMoney, formatQuantity, metricLabel, unitLabel } from "./money";
import { CHANGE_PLAN, type Plan } from "./queries";

/** What a plan includes and costs beyond, metric by metric (metrics it neither includes nor charges are left out). */
export function PlanTerms({ plan }: { plan: Plan }) {
  const rows = plan.unitPrices
    .map((price) => ({ price, included: plan.included.find((i) => i.metric === price.metric) }))
    .filter(({ price, included }) => price.price.amount.replace(/[0.]/g, "") !== "" || (included && included.quantity !== "0"));
  return (
    <table className="table terms">
      <thead>
        <tr>
          <th>Usage</th>
          <th>Included per month</th>
          <th>Beyond that</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(({ price, included }) => (
          <tr key={price.metric}>
            <td>{metricLabel(price.metric)}</td>
            <td>
              {included ? `${formatQuantity(included.quantity)} ${unitLabel(included.unit, included.quantity)}` : "—"}
            </td>
            <td>
              {formatMoney(price.price)} per {price.unit}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function limit(value: number | null | undefined, unit: string): string {
  return value == null ? "Unlimited" : `${formatQuantity(String(value))} ${unit}`;
}

/** The plan in effect with its limits; owners and billing members may move to another self-serve plan. */
export function PlanSection({
  current,
  plans,
  canChange,
  onChanged,
}: {
  current: Plan | null | undefined;
  plans: Plan[];
  canChange: boolean;
  onChanged: () => void;
}) {
  const [choice, setChoice] = useState<string>();
  const [changed, setChanged] = useState<string>();
  const change = useMutation(CHANGE_PLAN);
  const offered = plans.filter((p) => p.selfServe);
  const picked = offered.find((p) => p.id === choice);
  return (
    <section className="card" aria-labelledby="plan-title">
      <h2 id="plan-title">Plan and limits</h2>
      {changed && (
        <div className="notice notice-ok" role="status">
          You are on the {changed} plan from now on. This month is billed by the day on each plan.
        </div>
      )}
      {current ? (
        <>
          <dl className="facts">
            <div>
              <dt>Plan</dt>
              <dd data-testid="plan-name">{current.name}</dd>
            </div>
            <div>
              <dt>Base fee</dt>
              <dd>{formatMoney(current.baseFee)} per month</dd>
            </div>
            <div>
              <dt>Calls at once</dt>
              <dd>{limit(current.concurrentCallLimit, "calls")}</dd>
            </div>
            <div>
              <dt>Call minutes per month</dt>
              <dd>{limit(current.monthlyMinuteLimit, "minutes")}</dd>
            </div>
          </dl>
          <PlanTerms plan={current} />
        </>
      ) : (
        <p className="muted">No plan yet.</p>
      )}
      {canChange ? (
        <fieldset className="plan-choice">
          <legend>Change plan</legend>
          <ErrorNotice error={change.error} />
          <div className="plan-options">
            {offered.map((plan) => (
              <label key={plan.id} className={`plan-option${choice === plan.id ? " plan-option-on" : ""}`}>
                <input
                  type="radio"
                  name="plan"
                  value={plan.id}
                  checked={choice === plan.id}
                  disabled={plan.id === current?.id}
                  onChange={() => setChoice(plan.id)}
                />
                <span className="plan-option-name">
                  {plan.name}
                  {plan.id === current?.id && <span className="muted small"> (current)</span>}
                </span>
                <span>{formatMoney(plan.baseFee)} per month</span>
                <span className="muted small">
                  {limit(plan.concurrentCallLimit, "calls at once")} · {limit(plan.monthlyMinuteLimit, "minutes a month")}
                </span>
              </label>
            ))}
          </div>
          <p className="muted small">Enterprise plans are arranged with us. A change applies from today; this month is prorated by the day.</p>
          <ConfirmButton
            danger={false}
            disabled={!picked || change.pending}
            confirm={picked ? `Move to ${picked.name} now?` : ""}
            onConfirm={async () => {
              if (!picked) return;
              if (await change.run({ plan: picked.id })) {
                setChanged(picked.name);
                setChoice(undefined);
                onChanged();
              }
            }}
          >
            {change.pending ? "Changing…" : "Change plan"}
          </ConfirmButton>
        </fieldset>
      ) : (
        <p className="muted">Owners and billing members can change the plan.</p>
      )}
    </section>
  );
}

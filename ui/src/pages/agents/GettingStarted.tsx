import { Link } from "react-router";
import { useQuery } from "../../api/hooks";
import { graphql } from "../../gql";
import { formatTime } from "../../format";

const ONBOARDING = graphql(`
  query Onboarding {
    viewer { tenant { onboarding { firstAgentAt firstCallAt firstPhoneNumberAt firstPaidInvoiceAt } } }
  }
`);

/**
 * The getting-started checklist, from the tenant's onboarding milestones; gone once the steps that set the
 * product up are done. The first paid invoice is shown too, but does not keep the checklist up: a tenant on the
 * free plan never pays one.
 */
export function GettingStarted() {
  const { data } = useQuery(ONBOARDING);
  const done = data?.viewer.tenant.onboarding;
  if (!done) return null;
  const steps = [
    { label: "Create an agent", at: done.firstAgentAt, to: "/agents/new" },
    { label: "Talk to it: a first call", at: done.firstCallAt, to: "/talk" },
    { label: "Route a phone number to it", at: done.firstPhoneNumberAt, to: "/settings/telephony" },
  ];
  if (steps.every((s) => s.at)) return null;
  steps.push({ label: "Choose a plan: a first paid invoice", at: done.firstPaidInvoiceAt, to: "/settings/billing" });
  return (
    <section className="card getting-started" aria-labelledby="getting-started">
      <h2 id="getting-started">Getting started</h2>
      <ol>
        {steps.map((s) => (
          <li key={s.label}>
            {s.at ? (
              <>
                {s.label} <span className="badge badge-completed">Done</span>{" "}
                <span className="muted">{formatTime(s.at)}</span>
              </>
            ) : (
              <Link to={s.to}>{s.label}</Link>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

import { Link } from "react-router";
import { useQuery, useSignedIn } from "../../api/hooks";
import { can } from "../../api/roles";
import { NAV } from "../../components/nav";
import { PageHeader } from "../../components/PageHeader";
import { graphql } from "../../gql";

const SETUP = graphql(`
  query SettingsSetup {
    llmKeys { provider }
    twilioAccount { accountSid }
    phoneNumbers(first: 100) { nodes { id } }
  }
`);

const ABOUT: Record<string, string> = {
  "/settings/workspace": "Name, region and plan.",
  "/settings/billing": "Cost so far and forecast, usage per day, plan and limits, invoices.",
  "/settings/members": "Who is in this workspace, their roles, invitations.",
  "/settings/llm-keys": "Keys for OpenAI, Groq and other providers your agents use.",
  "/settings/telephony": "Your Twilio account and the numbers your agents answer.",
  "/settings/api-keys": "Keys for your backend to call the API.",
  "/settings/webhooks": "Endpoints that get signed call events, and their deliveries.",
};

/** The settings sections the role may open, with how far set-up has come. */
export function SettingsPage() {
  const session = useSignedIn();
  const sections = NAV.find((g) => g.label === "Settings")!.items.filter((i) => can(session.role, i.permission));
  const setupReadable = can(session.role, "ReadAgents") && can(session.role, "ReadTelephony");
  const setup = useQuery(SETUP, undefined, { skip: !setupReadable });
  const status: Record<string, string | undefined> = setup.data
    ? {
        "/settings/llm-keys": setup.data.llmKeys.length
          ? `Keys for ${setup.data.llmKeys.map((k) => k.provider).join(", ")}`
          : "No keys yet: agents cannot answer",
        "/settings/telephony": setup.data.twilioAccount
          ? `Twilio connected · ${setup.data.phoneNumbers.nodes.length} number(s)`
          : "Twilio not connected",
      }
    : {};
  return (
    <>
      <PageHeader title="Settings" />
      <ul className="settings-grid">
        {sections.map((s) => (
          <li key={s.to} className="card">
            <h2>
              <Link to={s.to}>{s.label}</Link>
            </h2>
            <p className="muted">{ABOUT[s.to]}</p>
            {status[s.to] && <p className="small">{status[s.to]}</p>}
          </li>
        ))}
      </ul>
    </>
  );
}

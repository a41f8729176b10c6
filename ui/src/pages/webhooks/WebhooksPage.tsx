import { useState } from "react";
import { useMutation, useQuery } from "../../api/hooks";
import { ErrorNotice } from "../../components/ErrorNotice";
import { PageHeader } from "../../components/PageHeader";
import { SecretOnce } from "../../components/SecretOnce";
import { enumLabel, formatTime } from "../../format";
import { Link } from "../../router";
import { EndpointForm, type EndpointInput } from "./EndpointForm";
import { CREATE_ENDPOINT, ENDPOINTS, type Endpoint } from "./queries";

export function WebhooksPage() {
  const endpoints = useQuery<{ webhookEndpoints: { nodes: Endpoint[] } }>(ENDPOINTS);
  const create = useMutation<{ createWebhookEndpoint: { secret: string; endpoint: Endpoint } }>(CREATE_ENDPOINT);
  const [secret, setSecret] = useState<string>();

  const submit = async (input: EndpointInput) => {
    const data = await create.run({ input });
    if (!data) return false;
    setSecret(data.createWebhookEndpoint.secret);
    endpoints.reload();
    return true;
  };

  return (
    <>
      <PageHeader title="Webhooks" />
      <p className="muted">
        Each delivery is a signed POST (<code>X-Voxedge-Signature</code>, HMAC-SHA256 with the endpoint's secret),
        retried with backoff until it gets a 2xx.
      </p>
      {secret ? (
        <SecretOnce label="Signing secret of the new endpoint" secret={secret} onDone={() => setSecret(undefined)} />
      ) : (
        <section className="card">
          <h2>New endpoint</h2>
          <EndpointForm submitLabel="Add endpoint" onSubmit={submit} error={create.error} pending={create.pending} />
        </section>
      )}
      <ErrorNotice error={endpoints.error} />
      {endpoints.data && endpoints.data.webhookEndpoints.nodes.length === 0 && (
        <div className="empty">No endpoints yet.</div>
      )}
      {endpoints.data && endpoints.data.webhookEndpoints.nodes.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>URL</th>
              <th>Events</th>
              <th>State</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {endpoints.data.webhookEndpoints.nodes.map((e) => (
              <tr key={e.id}>
                <td>
                  <Link to={`/webhooks/${e.id}`}>{e.url}</Link>
                  {e.description && <div className="muted small">{e.description}</div>}
                </td>
                <td>{e.events.map(enumLabel).join(", ")}</td>
                <td>{e.enabled ? "Enabled" : "Disabled"}</td>
                <td>{formatTime(e.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

import { useState } from "react";
import { Link } from "react-router";
import { useMutation, useQuery } from "../../api/hooks";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { SecretOnce } from "../../components/SecretOnce";
import { enumLabel, formatTime } from "../../format";
import { EndpointForm, type EndpointInput } from "./EndpointForm";
import { CREATE_ENDPOINT, ENDPOINTS } from "./queries";

export function WebhooksPage() {
  const endpoints = useQuery(ENDPOINTS);
  const create = useMutation(CREATE_ENDPOINT);
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
      {endpoints.error && <LoadError error={endpoints.error} onRetry={endpoints.reload} />}
      {!endpoints.data && !endpoints.error && <Skeleton rows={3} label="Loading endpoints" />}
      {endpoints.data && endpoints.data.webhookEndpoints.nodes.length === 0 && (
        <div className="empty">No endpoints yet.</div>
      )}
      {endpoints.data && endpoints.data.webhookEndpoints.nodes.length > 0 && (
        <table className="table cards">
          <thead>
            <tr>
              <th>URL</th>
              <th>Events</th>
              <th>State</th>
              <th>Failed deliveries</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {endpoints.data.webhookEndpoints.nodes.map((e) => (
              <tr key={e.id}>
                <td data-label="URL" className="card-title wrap-anywhere">
                  <Link to={`/settings/webhooks/${e.id}`}>{e.url}</Link>
                  {e.description && <div className="muted small">{e.description}</div>}
                </td>
                <td data-label="Events">{e.events.map(enumLabel).join(", ")}</td>
                <td data-label="State">{e.enabled ? "Enabled" : "Disabled"}</td>
                <td data-label="Failed deliveries">
                  {e.failed.nodes.length === 0 ? (
                    "None"
                  ) : (
                    <Link to={`/settings/webhooks/${e.id}?status=FAILED`} className="badge badge-failed">
                      {e.failed.pageInfo.hasNextPage ? `${e.failed.nodes.length}+` : e.failed.nodes.length} failed — retry
                    </Link>
                  )}
                </td>
                <td data-label="Created">{formatTime(e.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { useMutation, useQuery } from "../../api/hooks";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { SecretOnce } from "../../components/SecretOnce";
import { DeliveryLog } from "./DeliveryLog";
import { EndpointForm, type EndpointInput } from "./EndpointForm";
import { DELETE_ENDPOINT, ENDPOINT, ROTATE_SECRET, UPDATE_ENDPOINT } from "./queries";

export function WebhookPage({ id }: { id: string }) {
  const navigate = useNavigate();
  const endpoint = useQuery(ENDPOINT, { id });
  const update = useMutation(UPDATE_ENDPOINT);
  const remove = useMutation(DELETE_ENDPOINT);
  const rotate = useMutation(ROTATE_SECRET);
  const [secret, setSecret] = useState<string>();
  const [saved, setSaved] = useState(false);

  if (endpoint.error || !endpoint.data) {
    return (
      <>
        <PageHeader title="Webhook endpoint" />
        {endpoint.error ? (
          <LoadError error={endpoint.error} onRetry={endpoint.reload} />
        ) : (
          <Skeleton rows={6} label="Loading the endpoint" />
        )}
      </>
    );
  }
  const e = endpoint.data.webhookEndpoint;
  if (!e) {
    return (
      <>
        <PageHeader title="Endpoint not found" />
        <div className="empty">
          No such endpoint. <Link to="/settings/webhooks">All webhooks</Link>
        </div>
      </>
    );
  }

  const submit = async (input: EndpointInput) => {
    setSaved(false);
    const data = await update.run({ id, input });
    if (!data) return false;
    endpoint.setData(() => ({ webhookEndpoint: data.updateWebhookEndpoint }));
    setSaved(true);
    return true;
  };

  return (
    <>
      <PageHeader title={<span className="wrap-anywhere">{e.url}</span>} docTitle="Webhook endpoint">
        <ConfirmButton
          danger={false}
          confirm="Replace the secret? The old one stops verifying."
          onConfirm={async () => {
            const data = await rotate.run({ id });
            if (data) setSecret(data.rotateWebhookSecret.secret);
          }}
        >
          Rotate secret
        </ConfirmButton>
        <ConfirmButton
          confirm="Delete the endpoint and its delivery log?"
          onConfirm={async () => {
            if (await remove.run({ id })) navigate("/settings/webhooks");
          }}
        >
          Delete
        </ConfirmButton>
      </PageHeader>
      <ErrorNotice error={rotate.error ?? remove.error} />
      {secret && <SecretOnce label="New signing secret" secret={secret} onDone={() => setSecret(undefined)} />}
      <section className="card">
        <h2>Settings</h2>
        {saved && <div className="notice notice-ok">Saved.</div>}
        <EndpointForm
          key={JSON.stringify(e)}
          initial={e}
          submitLabel="Save"
          onSubmit={submit}
          error={update.error}
          pending={update.pending}
        />
      </section>
      <DeliveryLog endpointId={id} />
    </>
  );
}

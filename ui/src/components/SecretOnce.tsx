import { CopyButton } from "./CopyButton";

/** A secret the server shows only once (API key, webhook signing secret, invitation token). */
export function SecretOnce({ label, secret, onDone }: { label: string; secret: string; onDone: () => void }) {
  return (
    <div className="secret-once" role="status">
      <div className="secret-title">{label}</div>
      <p className="muted">Copy it now: it is shown only once and cannot be retrieved later.</p>
      <div className="secret-row">
        <code className="secret" data-testid="secret">
          {secret}
        </code>
        <CopyButton text={secret} />
      </div>
      <button type="button" className="primary" onClick={onDone}>
        I have stored it
      </button>
    </div>
  );
}

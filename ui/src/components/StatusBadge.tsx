import { enumLabel } from "../format";

/** A colour-coded enum value (call status, delivery status, role). */
export function StatusBadge({ value }: { value: string }) {
  return <span className={`badge badge-${value.toLowerCase()}`}>{enumLabel(value)}</span>;
}

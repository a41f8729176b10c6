import { useId, type ReactElement, type ReactNode, cloneElement } from "react";

/**
 * A labelled form control with its hint and the API's field error beside it. The child is the control
 * (`<input>`, `<select>`, `<textarea>`); it gets the id, and is marked invalid when there is an error.
 */
export function Field({
  label,
  error,
  hint,
  children,
  wide,
}: {
  label: string;
  error?: string;
  hint?: ReactNode;
  children: ReactElement<Record<string, unknown>>;
  wide?: boolean;
}) {
  const id = useId();
  const errorId = `${id}-error`;
  const control = cloneElement(children, {
    id,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": error ? errorId : undefined,
  });
  return (
    <div className={`field${wide ? " field-wide" : ""}${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {control}
      {hint && !error && <div className="field-hint">{hint}</div>}
      {error && (
        <div className="field-error" id={errorId} role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

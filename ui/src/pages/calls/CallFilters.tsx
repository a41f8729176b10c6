import { useState, type FormEvent } from "react";
import { useQuery } from "../../api/hooks";
import { enumLabel, isoToLocalInput, localInputToIso } from "../../format";
import { CALL_STATUSES, NO_FILTER, filterToQuery, type CallFilter, type CallStatus } from "./callFilter";
import { AGENT_NAMES } from "./queries";

/**
 * The filter form; applies on submit so typing in the search box does not query on every key.
 *
 * The draft follows the applied filter only when it changes from elsewhere (back and forward, a link): the page
 * navigates in a transition, so what is typed right after "Clear" or "Apply" must survive that navigation landing.
 */
export function CallFilters({ filter, onApply }: { filter: CallFilter; onApply: (filter: CallFilter) => void }) {
  const [draft, setDraft] = useState(filter);
  const applied = filterToQuery(filter);
  const [seen, setSeen] = useState(applied);
  const [requested, setRequested] = useState<string>();
  if (applied !== seen) {
    setSeen(applied);
    if (applied === requested) setRequested(undefined);
    else setDraft(filter);
  }
  const apply = (next: CallFilter) => {
    setRequested(filterToQuery(next));
    onApply(next);
  };
  const [opened, setOpened] = useState(() => !window.matchMedia("(max-width: 760px)").matches);
  const { data } = useQuery(AGENT_NAMES);
  const toggle = (status: CallStatus) =>
    setDraft((d) => ({
      ...d,
      statuses: d.statuses.includes(status) ? d.statuses.filter((s) => s !== status) : [...d.statuses, status],
    }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    apply(draft);
  };
  const active = activeCount(filter);
  return (
    // Folded on phones, where the form would otherwise fill the first screen; open on wider ones.
    <details className="card filters" open={opened} onToggle={(e) => setOpened(e.currentTarget.open)}>
      <summary className="filters-toggle">Filters{active > 0 ? ` (${active} active)` : ""}</summary>
      <form onSubmit={submit} aria-label="Filter calls">
        <div className="chips" role="group" aria-label="Status">
          {CALL_STATUSES.map((s) => (
            <button
              type="button"
              key={s}
              className={`chip${draft.statuses.includes(s) ? " chip-on" : ""}`}
              aria-pressed={draft.statuses.includes(s)}
              onClick={() => toggle(s)}
            >
              {enumLabel(s)}
            </button>
          ))}
        </div>
        <div className="filter-row">
          <label>
            Agent
            <select value={draft.agentId} onChange={(e) => setDraft({ ...draft, agentId: e.target.value })}>
              <option value="">Any agent</option>
              {data?.agents.nodes.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Direction
            <select
              value={draft.direction}
              onChange={(e) => setDraft({ ...draft, direction: e.target.value as CallFilter["direction"] })}
            >
              <option value="">Any</option>
              <option value="INBOUND">Inbound</option>
              <option value="OUTBOUND">Outbound</option>
            </select>
          </label>
          <label>
            Since
            <input
              type="datetime-local"
              value={isoToLocalInput(draft.createdAfter)}
              onChange={(e) => setDraft({ ...draft, createdAfter: localInputToIso(e.target.value) ?? "" })}
            />
          </label>
          <label>
            Until
            <input
              type="datetime-local"
              value={isoToLocalInput(draft.createdBefore)}
              onChange={(e) => setDraft({ ...draft, createdBefore: localInputToIso(e.target.value) ?? "" })}
            />
          </label>
          <label className="grow">
            Transcript contains
            <input
              type="search"
              placeholder="Every word must occur"
              value={draft.text}
              onChange={(e) => setDraft({ ...draft, text: e.target.value })}
            />
          </label>
          <div className="row">
            <button type="submit" className="primary">
              Apply
            </button>
            <button
              type="button"
              onClick={() => {
                setDraft(NO_FILTER);
                apply(NO_FILTER);
              }}
            >
              Clear
            </button>
          </div>
        </div>
      </form>
    </details>
  );
}

function activeCount(filter: CallFilter): number {
  return (
    (filter.statuses.length > 0 ? 1 : 0) +
    [filter.agentId, filter.direction, filter.createdAfter, filter.createdBefore, filter.text.trim()].filter(Boolean).length
  );
}

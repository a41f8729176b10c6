import { useQuery } from "../../api/hooks";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Skeleton } from "../../components/Loading";
import type { AgentFieldsFragment } from "../../gql/graphql";
import type { AgentConfig } from "./agentConfig";
import { AGENT_VERSION } from "./queries";

/** What rolling back to `version` would change, line by line, against the active configuration. */
export function VersionDiff({ agent, version }: { agent: AgentFieldsFragment; version: number }) {
  const { data, error } = useQuery(AGENT_VERSION, { id: agent.id, number: version });
  if (error) return <ErrorNotice error={error} />;
  const old = data?.agent?.version;
  if (!old) return <Skeleton rows={3} />;
  const lines = diffLines(render(agent.name, agent.config), render(old.name, old.config));
  if (lines.every((l) => l.kind === "same")) return <div className="muted">Same as the active version.</div>;
  return (
    <pre className="diff" tabIndex={0} aria-label={`Changes from active to v${version}`}>
      {lines
        .filter((l) => l.kind !== "same")
        .map((l, i) => (
          <div key={i} className={`diff-${l.kind}`}>
            {l.kind === "added" ? "+ " : "- "}
            {l.text}
          </div>
        ))}
    </pre>
  );
}

function render(name: string, config: AgentConfig): string[] {
  return JSON.stringify({ name, ...config }, null, 2).split("\n");
}

interface DiffLine {
  kind: "same" | "added" | "removed";
  text: string;
}

/** Longest-common-subsequence line diff; configurations are a few dozen lines. */
export function diffLines(before: string[], after: string[]): DiffLine[] {
  const n = before.length;
  const m = after.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = before[i] === after[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (before[i] === after[j]) {
      out.push({ kind: "same", text: before[i] });
      i++;
      j++;
    } else if (lcs[i + 1][j] >= lcs[i][j + 1]) {
      out.push({ kind: "removed", text: before[i++] });
    } else {
      out.push({ kind: "added", text: after[j++] });
    }
  }
  while (i < n) out.push({ kind: "removed", text: before[i++] });
  while (j < m) out.push({ kind: "added", text: after[j++] });
  return out;
}

import { Link, useNavigate } from "react-router";
import { useMutation } from "../../api/hooks";
import { PageHeader } from "../../components/PageHeader";
import { newAgentForm, type AgentInput } from "./agentConfig";
import { AgentEditor } from "./AgentEditor";
import { CREATE_AGENT } from "./queries";

export function NewAgentPage() {
  const navigate = useNavigate();
  const create = useMutation(CREATE_AGENT);
  const submit = async (input: AgentInput) => {
    const data = await create.run({ input });
    if (data) navigate(`/agents/${data.createAgent.id}`, { replace: true });
  };
  return (
    <>
      <PageHeader title="New agent">
        <Link to="/agents">Cancel</Link>
      </PageHeader>
      <AgentEditor
        initial={newAgentForm()}
        readOnly={false}
        submitLabel="Create agent"
        onSubmit={submit}
        error={create.error}
        pending={create.pending}
      />
    </>
  );
}

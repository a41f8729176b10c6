// Settings, as a workspace owner walks through them: LLM provider keys, the Twilio account, phone
// numbers routed to agents, members' roles, the workspace's name; and the audit log, which keeps
// routine session refreshes out of the way.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createAgentByApi, eventually, field, launchBrowser, PASSWORD, settled, signInThroughPortal, signUpByApi, startServer } from "./support.mjs";

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("LLM keys: set one and see its last four, replace it, delete it; agents without a key are pointed out", async () => {
  const owner = await signUpByApi(server, "llm-owner", "LLM Corp");
  await createAgentByApi(server, owner.accessToken, "Uses OpenAI");
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  await page.getByRole("link", { name: "LLM keys" }).click();
  await settled(page);
  assert.match(await page.getByTestId("missing-keys").textContent(), /No key for openai, which Uses OpenAI uses/);

  await page.getByLabel("Provider").selectOption("openai");
  await page.getByLabel("API key").fill("sk-test-first-key-ABCD1234");
  await page.getByRole("button", { name: "Save key" }).click();
  const row = page.getByTestId("llm-key-row").filter({ hasText: "openai" });
  await eventually(async () => assert.equal(await row.getByTestId("llm-key-last4").textContent(), "…1234"));
  assert.equal(await page.getByTestId("missing-keys").count(), 0);
  assert.ok(!(await page.content()).includes("sk-test-first-key"), "the key is never shown");
  const stored = await server.gql(`{ llmKeys { provider apiKeyLast4 } }`, {}, owner.accessToken);
  assert.deepEqual(stored.llmKeys, [{ provider: "openai", apiKeyLast4: "1234" }]);

  await row.getByRole("button", { name: "Replace" }).click();
  await page.getByRole("heading", { name: "Replace the openai key" }).waitFor();
  await page.getByLabel("API key").fill("sk-test-second-key-WXYZ9876");
  await page.getByRole("button", { name: "Replace key" }).click();
  await eventually(async () => assert.equal(await row.getByTestId("llm-key-last4").textContent(), "…9876"));

  await row.getByRole("button", { name: "Delete" }).click();
  await row.getByRole("button", { name: "Yes" }).click();
  await row.waitFor({ state: "detached" });
  await page.getByTestId("missing-keys").waitFor();
  await page.close();
});

test("telephony: connect Twilio (token never shown, voice URL to copy), route a number to an agent, relabel, reassign, remove", async () => {
  const owner = await signUpByApi(server, "phone-owner", "Phone Corp");
  const front = await createAgentByApi(server, owner.accessToken, "Front desk");
  const back = await createAgentByApi(server, owner.accessToken, "Back office");
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  await page.getByRole("link", { name: "Phone numbers" }).click();
  await page.getByTestId("twilio-missing").waitFor();

  // A malformed SID comes back as a field error, said beside the field.
  await page.getByRole("button", { name: "Connect Twilio" }).click();
  await page.getByLabel("Account SID").fill("AC123");
  await page.getByLabel("Auth token").fill("fedcba9876543210fedcba9876543210");
  await page.getByRole("button", { name: "Save account" }).click();
  await field(page, "Account SID").locator(".field-error").waitFor();

  await page.getByLabel("Account SID").fill("AC0123456789abcdef0123456789abcdef");
  await page.getByRole("button", { name: "Save account" }).click();
  const account = page.getByTestId("twilio-account");
  await account.getByText("…3210").waitFor();
  await account.getByText("AC0123456789abcdef0123456789abcdef").waitFor();
  const voiceUrl = await account.getByTestId("voice-url").textContent();
  assert.equal(voiceUrl, `${server.url}/v1/twilio/${owner.tenant.id}/voice`);
  assert.ok(!(await page.content()).includes("fedcba9876543210"), "the auth token is never shown");
  await account.getByRole("button", { name: "Copy" }).waitFor();

  // A number, written as people write them, routed to the front desk.
  await page.getByLabel("Phone number").fill("+1 (415) 555-0123");
  await page.getByLabel("Agent", { exact: true }).selectOption(front);
  await page.getByLabel("Label", { exact: true }).fill("Sales");
  await page.getByRole("button", { name: "Add number" }).click();
  const row = page.getByTestId("phone-number-row").filter({ hasText: "+14155550123" });
  await row.waitFor();
  const numbers = async () =>
    (await server.gql(`{ phoneNumbers { nodes { number label agentId } } }`, {}, owner.accessToken)).phoneNumbers.nodes;
  assert.deepEqual(await numbers(), [{ number: "+14155550123", label: "Sales", agentId: front }]);

  await row.getByLabel("Agent answering +14155550123").selectOption(back);
  await eventually(async () => assert.equal((await numbers())[0].agentId, back));
  await row.getByLabel("Label of +14155550123").fill("Support");
  await row.getByRole("button", { name: "Save" }).click();
  await eventually(async () => assert.equal((await numbers())[0].label, "Support"));

  await row.getByRole("button", { name: "Remove" }).click();
  await row.getByRole("button", { name: "Yes" }).click();
  await row.waitFor({ state: "detached" });
  assert.deepEqual(await numbers(), []);
  await page.close();
});

test("members: an owner changes a member's role; renaming the workspace shows at once", async () => {
  const owner = await signUpByApi(server, "roles-owner", "Roles Corp");
  const invite = await server.gql(`mutation { inviteMember(input: {email: "colleague@example.com", role: DEVELOPER}) { token } }`, {}, owner.accessToken);
  const joined = await server.gql(
    `mutation($input: AcceptInviteInput!) { acceptInvite(input: $input) { user { id } } }`,
    { input: { token: invite.inviteMember.token, password: PASSWORD, name: "Colleague" } },
  );
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  await page.getByRole("link", { name: "Members" }).click();
  await page.getByLabel("Role of colleague@example.com").selectOption("VIEWER");
  await page.getByText("colleague@example.com is now viewer.").waitFor();
  const members = await server.gql(`{ members { nodes { id role } } }`, {}, owner.accessToken);
  assert.equal(members.members.nodes.find((m) => m.id === joined.acceptInvite.user.id).role, "VIEWER");

  await page.getByRole("link", { name: "Workspace" }).click();
  await page.getByLabel("Workspace name").fill("Roles Corporation");
  await page.getByRole("button", { name: "Rename" }).click();
  await eventually(async () => assert.equal(await page.getByTestId("tenant-name").textContent(), "Roles Corporation"));
  assert.equal(await page.getByTestId("workspace-name").textContent(), "Roles Corporation");
  assert.match(await page.getByTestId("workspace-region").textContent(), /^Any region/);
  await page.close();
});

test("audit log: reloading a page adds no session refresh, and refreshes are hidden unless asked for", async () => {
  const owner = await signUpByApi(server, "audit-owner", "Audit Corp");
  // A refresh made elsewhere (another device): one routine row.
  await server.gql(`mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }`, { t: owner.refreshToken });
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  const refreshes = async () =>
    (await server.gql(`{ auditLog(first: 100) { nodes { action } } }`, {}, owner.accessToken)).auditLog.nodes.filter(
      (e) => e.action === "refreshSession",
    ).length;
  const before = await refreshes();
  await page.getByRole("link", { name: "Audit log" }).click();
  await settled(page);
  for (let i = 0; i < 3; i++) {
    await page.reload();
    await settled(page);
  }
  assert.equal(await refreshes(), before, "reloads spent no refresh token");

  const rows = page.getByTestId("audit-row");
  await rows.first().waitFor();
  assert.equal(await rows.filter({ hasText: "refreshSession" }).count(), 0);
  await page.getByTestId("hidden-refreshes").getByText(`${before} session refresh`).waitFor();
  await page.getByLabel("Show session refreshes").check();
  await eventually(async () => assert.equal(await rows.filter({ hasText: "refreshSession" }).count(), before));
  await page.close();
});

test("a viewer sees settings but cannot change them", async () => {
  const owner = await signUpByApi(server, "view-owner", "View Corp");
  await createAgentByApi(server, owner.accessToken, "Front desk");
  const invite = await server.gql(`mutation { inviteMember(input: {email: "viewer@example.com", role: VIEWER}) { token } }`, {}, owner.accessToken);
  await server.gql(
    `mutation($input: AcceptInviteInput!) { acceptInvite(input: $input) { user { id } } }`,
    { input: { token: invite.inviteMember.token, password: PASSWORD, name: "Viewer" } },
  );
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, "viewer@example.com");
  for (const [link, forbidden] of [
    ["Workspace", "Rename"],
    ["LLM keys", "Save key"],
    ["Phone numbers", "Connect Twilio"],
    ["Members", "Invite"],
  ]) {
    await page.getByRole("link", { name: link, exact: true }).click();
    await settled(page);
    assert.equal(await page.getByRole("button", { name: forbidden }).count(), 0, `${link}: no ${forbidden}`);
  }
  assert.equal(await page.getByRole("link", { name: "API keys" }).count(), 0);
  assert.equal(await page.getByRole("link", { name: "Webhooks" }).count(), 0);
  await page.close();
});

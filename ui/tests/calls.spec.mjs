import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { createAgentByApi, eventually, launchBrowser, signInThroughPortal, signUpByApi, startServer } from "./support.mjs";

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const ADD_SEGMENTS = `mutation($callId: ID!, $segments: [TranscriptSegmentInput!]!) {
  addTranscriptSegments(callId: $callId, segments: $segments) { seq }
}`;
const SET_STATUS = `mutation($id: ID!, $status: CallStatus!) { updateCallStatus(id: $id, status: $status) { status } }`;

/** A tenant backend's key, made the way a developer would: through the API. */
async function backendKey(owner) {
  const data = await server.gql(
    `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }`,
    { input: { name: "telephony bridge", role: "DEVELOPER" } },
    owner.accessToken,
  );
  return data.createApiKey.secret;
}

test("a call's transcript and status update live on its page", async () => {
  const owner = await signUpByApi(server, "calls-owner", "Call Corp");
  const key = await backendKey(owner);
  const agentId = await createAgentByApi(server, key, "Refund line");
  const { createCall } = await server.gql(
    `mutation($input: CreateCallInput!) { createCall(input: $input) { id } }`,
    { input: { agentId, direction: "INBOUND", transport: "PHONE", from: "+14155550100", to: "+14155550199" } },
    key,
  );
  const callId = createCall.id;
  await server.gql(SET_STATUS, { id: callId, status: "RINGING" }, key);
  await server.gql(SET_STATUS, { id: callId, status: "IN_PROGRESS" }, key);
  await server.gql(
    ADD_SEGMENTS,
    {
      callId,
      segments: [
        { seq: 1, speaker: "AGENT", text: "Hello, how can I help?", startMs: 0, endMs: 1400 },
        { seq: 2, speaker: "CALLER", text: "I would like a refund for my order.", startMs: 1800, endMs: 4200, confidence: 0.93 },
      ],
    },
    key,
  );

  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  await page.getByRole("link", { name: "Calls" }).click();
  // The active-calls subscription lists it, and so does the table.
  await page.getByLabel("Active calls").getByRole("link", { name: "Refund line" }).waitFor();
  await page.locator("tbody tr").filter({ hasText: "+14155550100" }).getByRole("link").click();
  await page.waitForURL(new RegExp(`/calls/${callId}$`));

  const segments = page.getByTestId("segment");
  await eventually(async () => assert.equal(await segments.count(), 2));
  assert.match(await segments.nth(1).textContent(), /refund for my order/);
  await page.getByTestId("live-indicator").getByText("Live").waitFor();

  // New speech arrives while we watch: a partial result, then its final text, then the end of the call.
  await server.gql(
    ADD_SEGMENTS,
    { callId, segments: [{ seq: 3, speaker: "AGENT", text: "Sure, let me", startMs: 4500, endMs: 5000, isFinal: false }] },
    key,
  );
  await segments.nth(2).getByText("still recognising").waitFor();
  await server.gql(
    ADD_SEGMENTS,
    { callId, segments: [{ seq: 3, speaker: "AGENT", text: "Sure, let me look that order up.", startMs: 4500, endMs: 6000 }] },
    key,
  );
  await segments.nth(2).getByText("Sure, let me look that order up.").waitFor();
  assert.equal(await segments.count(), 3);
  assert.equal(await segments.nth(2).getByText("still recognising").count(), 0);

  await server.gql(SET_STATUS, { id: callId, status: "COMPLETED" }, key);
  await eventually(async () => assert.equal(await page.getByTestId("call-status").textContent(), "Completed"));
  await eventually(async () => assert.ok((await page.getByTestId("event").count()) >= 4));
  assert.equal(await page.getByTestId("live-indicator").count(), 0);

  // The list filters by status and by transcript words, and exports what it shows.
  await page.goto(`${server.url}/calls?status=failed`);
  await page.getByText("No calls match.").waitFor();
  await page.getByRole("button", { name: "Clear" }).click();
  await page.getByLabel("Transcript contains").fill("refund");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL(/\/calls\?text=refund$/);
  await page.locator("tbody tr").filter({ hasText: "+14155550100" }).waitFor();
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export CSV" }).click(),
  ]);
  const csv = await readFile(await download.path(), "utf8");
  assert.match(csv.split("\n")[0], /^id,created_at,status/);
  assert.ok(csv.includes(callId), csv);
  await page.close();
});

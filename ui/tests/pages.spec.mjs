// Every page of the portal, as a person on a laptop (1280 px) and on a phone (390 × 844) sees it:
// axe-core finds no serious or critical accessibility violation, nothing is wider than a phone's
// screen, each tab has a title of its own, nothing the page does is refused by the server's
// Content-Security-Policy, and a screenshot of each lands in test-output/screens/ for a person to
// look at.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  createAgentByApi,
  horizontalOverflow,
  launchBrowser,
  PASSWORD,
  screenshot,
  seriousViolations,
  settled,
  signInThroughPortal,
  signUpByApi,
  startServer,
} from "./support.mjs";

let server;
let browser;
let owner;
const ids = {};

const WIDTHS = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
];

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  owner = await signUpByApi(server, "pages-owner", "Pages Corporation With A Long Name");
  const token = owner.accessToken;
  ids.agent = await createAgentByApi(server, token, "Front desk");
  // Something in every list: a failed web call from a browser, a completed phone call with a transcript,
  // keys, a number, a webhook endpoint, a pending invitation and a second member.
  const call = async (input) =>
    (await server.gql(`mutation($input: CreateCallInput!) { createCall(input: $input) { id } }`, { input }, token)).createCall.id;
  ids.webCall = await call({
    agentId: ids.agent,
    direction: "INBOUND",
    transport: "WEB",
    from: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36",
  });
  await server.gql(
    `mutation($id: ID!) { updateCallStatus(id: $id, status: FAILED, reason: "connection_lost") { id } }`,
    { id: ids.webCall },
    token,
  );
  ids.phoneCall = await call({ agentId: ids.agent, direction: "INBOUND", transport: "PHONE", from: "+14155550100", to: "+14155550199" });
  for (const status of ["RINGING", "IN_PROGRESS"]) {
    await server.gql(`mutation($id: ID!, $s: CallStatus!) { updateCallStatus(id: $id, status: $s) { id } }`, { id: ids.phoneCall, s: status }, token);
  }
  await server.gql(
    `mutation($id: ID!, $segments: [TranscriptSegmentInput!]!) { addTranscriptSegments(callId: $id, segments: $segments) { seq } }`,
    {
      id: ids.phoneCall,
      segments: [
        { seq: 1, speaker: "AGENT", text: "Hello, how can I help?", startMs: 0, endMs: 1400 },
        { seq: 2, speaker: "CALLER", text: "Where is my parcel? It was due yesterday.", startMs: 1800, endMs: 4200, confidence: 0.91 },
      ],
    },
    token,
  );
  await server.gql(`mutation($id: ID!) { updateCallStatus(id: $id, status: COMPLETED, reason: "caller_hangup") { id } }`, { id: ids.phoneCall }, token);
  await server.gql(`mutation { setLlmKey(input: {provider: "openai", apiKey: "sk-test-0123456789abcd"}) { provider } }`, {}, token);
  await server.gql(
    `mutation { setTwilioAccount(input: {accountSid: "AC0123456789abcdef0123456789abcdef", authToken: "0123456789abcdef0123456789abcdef"}) { accountSid } }`,
    {},
    token,
  );
  await server.gql(
    `mutation($a: ID!) { addPhoneNumber(input: {number: "+14155550123", agentId: $a, label: "Sales"}) { id } }`,
    { a: ids.agent },
    token,
  );
  await server.gql(`mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }`, { input: { name: "CRM sync", role: "DEVELOPER" } }, token);
  ids.webhook = (
    await server.gql(
      `mutation { createWebhookEndpoint(input: {url: "https://example.com/hooks/voxedge-call-events", events: [CALL_ENDED]}) { endpoint { id } } }`,
      {},
      token,
    )
  ).createWebhookEndpoint.endpoint.id;
  const invite = await server.gql(`mutation { inviteMember(input: {email: "dev@example.com", role: DEVELOPER}) { token } }`, {}, token);
  await server.gql(
    `mutation($input: AcceptInviteInput!) { acceptInvite(input: $input) { accessToken } }`,
    { input: { token: invite.inviteMember.token, password: PASSWORD, name: "Dana Developer" } },
  );
  await server.gql(`mutation { inviteMember(input: {email: "pending.person@example.com", role: VIEWER}) { token } }`, {}, token);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Signed-in pages: path, the tab title it must have. */
function signedInPages() {
  return [
    ["agents", "/agents", "Agents · voxedge"],
    ["agent-new", "/agents/new", "New agent · voxedge"],
    ["agent", `/agents/${ids.agent}`, "Front desk · Agents · voxedge"],
    ["calls", "/calls", "Calls · voxedge"],
    ["call", `/calls/${ids.phoneCall}`, "Call with Front desk · voxedge"],
    ["call-failed", `/calls/${ids.webCall}`, "Call with Front desk · voxedge"],
    ["talk", "/talk", "Talk to agent · voxedge"],
    ["audit", "/audit", "Audit log · voxedge"],
    ["settings", "/settings", "Settings · voxedge"],
    ["workspace", "/settings/workspace", "Workspace · voxedge"],
    ["billing", "/settings/billing", "Usage & billing · voxedge"],
    ["members", "/settings/members", "Members · voxedge"],
    ["llm-keys", "/settings/llm-keys", "LLM keys · voxedge"],
    ["telephony", "/settings/telephony", "Phone numbers · voxedge"],
    ["api-keys", "/settings/api-keys", "API keys · voxedge"],
    ["webhooks", "/settings/webhooks", "Webhooks · voxedge"],
    ["webhook", `/settings/webhooks/${ids.webhook}`, "Webhook endpoint · voxedge"],
    ["not-found", "/no/such/page", "Page not found · voxedge"],
  ];
}

const signedOutPages = [
  ["signin", "/signin", "Sign in · voxedge"],
  ["signup", "/signup", "Create your account · voxedge"],
  ["accept-invite", "/accept-invite?token=abc", "Join a workspace · voxedge"],
];

async function checkPage(page, name, path, title, size) {
  await page.goto(`${server.url}${path}`);
  await settled(page);
  assert.equal(await page.title(), title, `${path}: tab title`);
  const violations = await seriousViolations(page);
  assert.deepEqual(violations, [], `${path} at ${size.width} px: ${JSON.stringify(violations, null, 2)}`);
  if (size.width < 500) {
    const overflow = await horizontalOverflow(page);
    assert.equal(overflow, null, `${path} at ${size.width} px scrolls sideways: ${JSON.stringify(overflow)}`);
  }
  await screenshot(page, `${name}-${size.width}`);
}

for (const size of WIDTHS) {
  test(`every page on a ${size.name} (${size.width} px): accessible, no sideways scrolling, titled`, async () => {
    const context = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    // Chromium reports what a Content-Security-Policy refuses on the console.
    const refusedByCsp = [];
    page.on("console", (message) => {
      if (message.text().includes("Content Security Policy")) refusedByCsp.push(message.text());
    });
    const response = await page.goto(`${server.url}/`);
    assert.match(response.headers()["content-security-policy"] ?? "", /script-src 'self'/);
    for (const [name, path, title] of signedOutPages) await checkPage(page, name, path, title, size);
    await signInThroughPortal(page, server, owner.email);
    for (const [name, path, title] of signedInPages()) await checkPage(page, name, path, title, size);

    // The calls list says how calls ended, and who called in words.
    await page.goto(`${server.url}/calls`);
    const web = page.getByTestId("call-row").filter({ hasText: "Browser (Chrome)" });
    await web.getByText("Failed").waitFor();
    await web.getByText("Connection lost").waitFor();
    assert.equal(await page.getByText("Mozilla/5.0").count(), 0, "no raw user agent in the list");
    await page.goto(`${server.url}/calls/${ids.webCall}`);
    assert.equal(await page.getByTestId("call-status").textContent(), "Failed");
    assert.equal(await page.getByTestId("call-ended-reason").textContent(), "Connection lost");
    await page.getByText("Mozilla/5.0 (X11; Linux x86_64)").waitFor();
    assert.deepEqual(refusedByCsp, [], "nothing was refused by the Content-Security-Policy");
    await context.close();
  });
}

test("on a phone the navigation is behind a menu button, and a skip link leads to the content", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  await page.goto(`${server.url}/agents`);
  await settled(page);
  const nav = page.getByRole("navigation", { name: "Main" });
  assert.equal(await nav.isVisible(), false, "the navigation is folded away");
  // The navigation does not push the content down: it starts right under the top bar (with the email
  // reminder of this unverified account first, then the page heading).
  const content = await page.locator("#main").boundingBox();
  assert.ok(content.y < 120, `the content starts at ${content.y} px`);

  await page.getByRole("button", { name: "Menu" }).click();
  await nav.waitFor();
  await screenshot(page, "menu-open-390");
  await nav.getByRole("link", { name: "LLM keys" }).click();
  await page.waitForURL(/\/settings\/llm-keys$/);
  await nav.waitFor({ state: "hidden" });

  // Keyboard: the first Tab reaches the skip link, which moves focus to the page's content.
  await page.reload();
  await settled(page);
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  assert.ok(await skip.evaluate((e) => e === document.activeElement));
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
  await context.close();
});

test("a list that fails to load says why and offers Retry, which loads it", async () => {
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  let refused = 0;
  await page.route("**/graphql", async (route) => {
    if (refused === 0 && route.request().postData()?.includes("query Calls(")) {
      refused++;
      const error = { message: "shutting down", extensions: { code: "SERVICE_UNAVAILABLE" } };
      await route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ errors: [error] }) });
    } else {
      await route.continue();
    }
  });
  await page.goto(`${server.url}/calls`);
  await page.getByText("The server is busy or restarting").waitFor();
  await page.getByRole("button", { name: "Retry" }).click();
  await page.getByTestId("call-row").first().waitFor();
  assert.equal(refused, 1);
  assert.equal(await page.getByRole("button", { name: "Retry" }).count(), 0);
  await page.close();
});

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { createAgentByApi, eventually, launchBrowser, signInThroughPortal, signUpByApi, startServer } from "./support.mjs";

let server;
let browser;
let receiver;
/** What the receiving endpoint answers, and what it got. */
const endpoint = { status: 500, requests: [] };

before(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      endpoint.requests.push({ headers: req.headers, body });
      res.writeHead(endpoint.status).end();
    });
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
  // One attempt per delivery: a failure is final at once, so the retry button shows. The receiver is on
  // 127.0.0.1, which tenants' webhooks reach only with `--allow-outbound`.
  [server, browser] = await Promise.all([
    startServer(["--webhook-max-attempts", "1", "--allow-outbound", "127.0.0.1/32"]),
    launchBrowser(),
  ]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  receiver?.close();
});

test("a webhook endpoint's secret is shown once, and a failed delivery can be retried", async () => {
  const owner = await signUpByApi(server, "hooks-owner", "Hook Corp");
  const agentId = await createAgentByApi(server, owner.accessToken, "Hooked agent");
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);

  const url = `http://127.0.0.1:${receiver.address().port}/hook`;
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByLabel("URL").fill(url);
  await page.getByLabel("Call created").check();
  await page.getByRole("button", { name: "Add endpoint" }).click();
  const secret = (await page.getByTestId("secret").textContent()).trim();
  assert.match(secret, /^whsec_/);
  await page.getByRole("button", { name: "I have stored it" }).click();
  await page.getByRole("link", { name: url }).click();

  // A call makes a delivery; the endpoint fails it.
  await server.gql(
    `mutation($input: CreateCallInput!) { createCall(input: $input) { id } }`,
    { input: { agentId, direction: "OUTBOUND", transport: "WEB" } },
    owner.accessToken,
  );
  const row = page.locator("tbody tr").filter({ hasText: "call.created" });
  await eventually(async () => {
    await page.getByRole("button", { name: "Refresh" }).click();
    await row.getByText("Failed").waitFor({ timeout: 500 });
  });
  assert.match(await row.textContent(), /HTTP 500/);

  // The signature verifies with the secret the portal showed.
  const { headers, body } = endpoint.requests[0];
  const [, t, v1] = /t=(\d+),v1=([0-9a-f]+)/.exec(headers["x-voxedge-signature"]);
  assert.equal(createHmac("sha256", secret).update(`${t}.${body}`).digest("hex"), v1);

  // Fixed endpoint, one more try.
  endpoint.status = 204;
  await row.getByRole("button", { name: "Retry" }).click();
  await eventually(async () => {
    await page.getByRole("button", { name: "Refresh" }).click();
    await row.getByText("Delivered").waitFor({ timeout: 500 });
  });
  await row.getByRole("button", { name: "call.created" }).click();
  await page.locator("pre.json").getByText('"type": "call.created"').waitFor();
  await page.close();
});

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchBrowser, signInThroughPortal, signUpByApi, startServer } from "./support.mjs";

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("create an API key, see its secret once, and revoke it", async () => {
  const owner = await signUpByApi(server, "keys-owner", "Key Corp");
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);

  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByLabel("Name", { exact: true }).fill("billing backend");
  await page.getByLabel("Role", { exact: true }).selectOption("VIEWER");
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = (await page.getByTestId("secret").textContent()).trim();
  assert.match(secret, /^vxk_/);

  // The secret is a working key with the chosen role.
  const viewer = await server.gql(`{ viewer { role } }`, {}, secret);
  assert.equal(viewer.viewer.role, "VIEWER");

  // Once dismissed it is gone for good: not on the page, not after a reload.
  await page.getByRole("button", { name: "I have stored it" }).click();
  const row = page.getByTestId("api-key-row").filter({ hasText: "billing backend" });
  await row.waitFor();
  assert.ok(!(await page.content()).includes(secret));
  await page.reload();
  await row.waitFor();
  assert.ok(!(await page.content()).includes(secret));
  assert.match(await row.textContent(), /Viewer/);

  await row.getByRole("button", { name: "Revoke" }).click();
  await row.getByRole("button", { name: "Yes" }).click();
  await row.getByText("Revoked").waitFor();
  await assert.rejects(server.gql(`{ viewer { role } }`, {}, secret), /API_KEY_REVOKED/);
  await page.close();
});

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createAgentByApi, launchBrowser, signInThroughPortal, signUpByApi, startServer } from "./support.mjs";

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("an invited viewer sees only what a viewer may do, and switches to their own tenant", async () => {
  const owner = await signUpByApi(server, "team-owner", "Team Corp");
  await createAgentByApi(server, owner.accessToken, "Team agent");
  const guest = await signUpByApi(server, "guest", "Guest Corp");

  // The owner invites the guest as a viewer and gets a link to send.
  const ownerPage = await browser.newPage();
  ownerPage.setDefaultTimeout(10_000);
  await signInThroughPortal(ownerPage, server, owner.email);
  await ownerPage.getByRole("link", { name: "Members" }).click();
  await ownerPage.getByLabel("Email").fill(guest.email);
  await ownerPage.getByLabel("Role", { exact: true }).selectOption("VIEWER");
  await ownerPage.getByRole("button", { name: "Invite" }).click();
  const link = (await ownerPage.getByTestId("secret").textContent()).trim();
  assert.match(link, /\/accept-invite\?token=/);

  // The guest, signed in to their own tenant, follows it and joins.
  const context = await browser.newContext();
  const guestPage = await context.newPage();
  guestPage.setDefaultTimeout(10_000);
  await signInThroughPortal(guestPage, server, guest.email);
  await guestPage.goto(link);
  await guestPage.getByRole("button", { name: "Join" }).click();
  await guestPage.waitForURL(/\/agents$/);

  // As a viewer: agents are readable but not editable; keys, webhooks, audit and talk are hidden.
  await guestPage.getByRole("link", { name: "Team agent" }).click();
  assert.equal(await guestPage.getByRole("link", { name: "New agent" }).count(), 0);
  assert.ok(await guestPage.getByLabel("System prompt").isDisabled());
  assert.equal(await guestPage.getByRole("button", { name: "Save new version" }).count(), 0);
  assert.equal(await guestPage.getByRole("button", { name: "Archive" }).count(), 0);
  for (const hidden of ["API keys", "Webhooks", "Audit log", "Talk to agent"]) {
    assert.equal(await guestPage.getByRole("link", { name: hidden }).count(), 0, hidden);
  }
  await guestPage.goto(`${server.url}/keys`);
  await guestPage.getByText("does not give access to this page").waitFor();

  // The owner sees the new member; the guest switches back to the tenant they own.
  await ownerPage.reload();
  await ownerPage.getByRole("cell", { name: guest.email }).waitFor();
  const switcher = guestPage.getByTestId("tenant-switcher");
  await switcher.selectOption(guest.tenant.id);
  await guestPage.getByRole("link", { name: "API keys" }).waitFor();
  assert.match(await switcher.locator("option:checked").textContent(), /Guest Corp \(Owner\)/);
  await guestPage.getByRole("link", { name: "Agents" }).click();
  await guestPage.getByRole("link", { name: "New agent" }).waitFor();
  await context.close();
  await ownerPage.close();
});

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventually, field, launchBrowser, PASSWORD, startServer, uniqueEmail } from "./support.mjs";

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("sign up, create an agent past a validation error, edit it and roll back", async () => {
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  const email = uniqueEmail("owner");

  // Signed out, the portal sends us to sign in; from there, to sign up.
  await page.goto(`${server.url}/`);
  await page.waitForURL(/\/signin$/);
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByLabel("Your name").fill("Olivia Owner");
  await page.getByLabel("Company").fill("Acme Voice");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/agents$/);
  assert.equal(await page.getByTestId("signed-in-as").textContent(), email);
  assert.equal(await page.getByTestId("tenant-name").textContent(), "Acme Voice");

  // A temperature out of range comes back from the API as a field error, shown beside the field.
  await page.getByRole("link", { name: "New agent" }).click();
  await page.getByLabel("Name", { exact: true }).fill("Order desk");
  await page.getByLabel("System prompt").fill("You help callers track their orders.");
  await page.getByLabel("Temperature").fill("3");
  await page.getByRole("button", { name: "Create agent" }).click();
  const temperature = field(page, "Temperature");
  await temperature.locator(".field-error").waitFor();
  assert.match(await temperature.locator(".field-error").textContent(), /between 0 and 2/);
  assert.equal(await page.getByLabel("Temperature").getAttribute("aria-invalid"), "true");
  assert.match(await page.locator(".notice-error").first().textContent(), /INVALID_INPUT/);

  await page.getByLabel("Temperature").fill("0.4");
  await page.getByRole("button", { name: "Create agent" }).click();
  await page.waitForURL(/\/agents\/[0-9A-Z]+$/);
  assert.equal(await page.getByTestId("active-version").textContent(), "v1");
  assert.equal(await page.getByLabel("Temperature").inputValue(), "0.4");

  // Editing saves version 2, with the note kept in the history.
  await page.getByLabel("First message").fill("Hi! Which order can I help with?");
  await page.getByLabel("What changed").fill("greet the caller");
  await page.getByRole("button", { name: "Save new version" }).click();
  await page.getByText("Saved as version 2.").waitFor();
  assert.equal(await page.getByTestId("active-version").textContent(), "v2");
  await page.getByTestId("version-2").getByText("greet the caller").waitFor();

  // The history shows what rolling back would change, and rolling back makes a copy of v1 active.
  const v1 = page.getByTestId("version-1");
  await v1.getByRole("button", { name: "Compare with active" }).click();
  await v1.locator(".diff-removed", { hasText: "Which order can I help with?" }).waitFor();
  await v1.getByRole("button", { name: "Roll back" }).click();
  await v1.getByRole("button", { name: "Yes" }).click();
  await eventually(async () => assert.equal(await page.getByTestId("active-version").textContent(), "v3"));
  assert.equal(await page.getByLabel("First message").inputValue(), "");
  await page.getByTestId("version-3").getByText("rollback to version 1").waitFor();

  // Archiving is reversible.
  await page.getByRole("button", { name: "Archive" }).click();
  await page.getByRole("button", { name: "Yes" }).click();
  await page.locator("h1 .badge-archived").waitFor();
  await page.getByRole("button", { name: "Unarchive" }).click();
  await page.locator("h1 .badge-archived").waitFor({ state: "detached" });

  // A reload keeps the session (the refresh token), and the list shows the agent at v3.
  await page.goto(`${server.url}/agents`);
  await page.getByRole("link", { name: "Order desk" }).waitFor();
  assert.equal(await page.getByTestId("signed-in-as").textContent(), email);
  assert.equal(await page.locator("tbody tr").first().locator("td").nth(3).textContent(), "v3");

  // Signing out ends the session: a reload stays signed out.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/signin/);
  await page.goto(`${server.url}/agents`);
  await page.waitForURL(/\/signin\?next=%2Fagents$/);
  await page.close();
});

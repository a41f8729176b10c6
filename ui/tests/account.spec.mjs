// The pages behind the emailed links, on a phone (390 × 844): verifying an email address and resetting a
// password each work once (a second try says the link was used), "forgot password" on a server without
// SMTP says to ask an operator, and the new password signs in. axe-core finds no serious violation and
// nothing is wider than the screen on any of them.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  cli,
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
  uniqueEmail,
} from "./support.mjs";

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser({ microphone: false })]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The page as a person sees it: accessible, no sideways scrolling; a screenshot for review. */
async function check(page, name) {
  assert.deepEqual(await seriousViolations(page), [], `${name}: accessibility`);
  assert.equal(await horizontalOverflow(page), null, `${name}: wider than the phone`);
  await screenshot(page, `phone-${name}`);
}

/** The link's path and query on the test server (the server names its own origin in links). */
function local(link) {
  const url = new URL(link);
  return `${server.url}${url.pathname}${url.search}`;
}

test("verification and reset links work once, and forgot-password explains itself", async () => {
  const email = uniqueEmail("links");
  const { signUp } = await server.gql(
    `mutation($input: SignUpInput!) { signUp(input: $input) { verificationLink user { id } } }`,
    { input: { email, password: PASSWORD, name: "Links", tenantName: "Links Inc" } },
  );
  assert.match(signUp.verificationLink, /\/verify-email\?token=/, "without SMTP the link comes back");

  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  page.setDefaultTimeout(10_000);

  // Verify: a click, not the page load, spends the link.
  await page.goto(local(signUp.verificationLink));
  await page.getByRole("heading", { name: "Verify your email" }).waitFor();
  await check(page, "verify-email");
  await page.getByRole("button", { name: "Verify my email" }).click();
  await page.getByRole("status").filter({ hasText: `${email} is verified` }).waitFor();
  await page.reload();
  await page.getByRole("button", { name: "Verify my email" }).click();
  assert.equal(await page.getByRole("alert").getAttribute("data-code"), "LINK_ALREADY_USED");
  await check(page, "verify-email-used");

  // Forgot password, from the sign-in page: this server sends no email, so it says who can help.
  await page.goto(`${server.url}/signin`);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.getByRole("heading", { name: "Reset your password" }).waitFor();
  await check(page, "forgot-password");
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Email me a link" }).click();
  await page.getByRole("status").filter({ hasText: "sends no email" }).waitFor();

  // The operator's link: a new password once, then the link is spent.
  const [{ link }] = cli(server, ["user", "reset-link", "--email", email, "--public-url", server.url]);
  const newPassword = "a brand new passphrase 42";
  await page.goto(local(link));
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await check(page, "reset-password");
  await page.getByLabel("New password").fill(newPassword);
  await page.getByRole("button", { name: "Set the new password" }).click();
  await page.getByRole("status").filter({ hasText: "Your password is changed" }).waitFor();
  await check(page, "reset-password-done");

  await page.goto(local(link));
  await page.getByLabel("New password").fill("yet another passphrase 43");
  await page.getByRole("button", { name: "Set the new password" }).click();
  assert.equal(await page.getByRole("alert").getAttribute("data-code"), "LINK_ALREADY_USED");

  // The new password signs in; the old one no longer does.
  await page.goto(`${server.url}/signin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  assert.equal(await page.getByRole("alert").getAttribute("data-code"), "INVALID_CREDENTIALS");
  await page.getByLabel("Password").fill(newPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in-as").waitFor({ state: "attached" });
  await page.close();
});

test("the getting-started checklist follows the tenant's onboarding milestones", async () => {
  const owner = await signUpByApi(server, "checklist-owner", "Checklist Co");
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  await page.goto(`${server.url}/agents`);
  const checklist = page.getByRole("region", { name: "Getting started" });
  await checklist.getByRole("link", { name: "Create an agent" }).waitFor();
  assert.equal(await checklist.getByText("Done").count(), 0);
  await check(page, "getting-started");

  await createAgentByApi(server, owner.accessToken, "Reception");
  await page.reload();
  await checklist.getByText("Done").waitFor();
  assert.equal(await checklist.getByRole("link", { name: "Create an agent" }).count(), 0, "the step is done");
  await checklist.getByRole("link", { name: "Talk to it: a first call" }).waitFor();
  await check(page, "getting-started-agent-done");
  await page.close();
});

test("an unverified account is reminded above every page and can get a new link", async () => {
  const owner = await signUpByApi(server, "unverified", "Unverified Co");
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  await page.goto(`${server.url}/agents`);
  const banner = page.getByRole("region", { name: "Account verification" });
  await banner.getByText(`Please verify ${owner.email} by`).waitFor();
  await check(page, "verify-reminder");

  // The same reminder on another page; a new link, shown here since this server sends no email.
  await page.goto(`${server.url}/calls`);
  await banner.getByRole("button", { name: "Ask for a new link" }).click();
  await banner.getByRole("status").filter({ hasText: "This server sends no email" }).waitFor();
  await check(page, "verify-reminder-link");
  await banner.getByRole("link", { name: `verify ${owner.email}` }).click();
  await page.getByRole("button", { name: "Verify my email" }).click();
  await page.getByRole("status").filter({ hasText: `${owner.email} is verified` }).waitFor();
  await page.getByRole("link", { name: "Go to the portal" }).click();
  await settled(page);
  assert.equal(await banner.count(), 0, "no reminder once verified");
  await page.close();
});

test("past the grace period the portal says why nothing loads, and verifying lets the account go on", async () => {
  const strict = await startServer(["--email-verification-grace-secs", "0"]);
  try {
    const owner = await signUpByApi(strict, "overdue", "Overdue Co");
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    page.setDefaultTimeout(10_000);
    await signInThroughPortal(page, strict, owner.email);
    await page.goto(`${strict.url}/agents`);
    const banner = page.getByRole("region", { name: "Account verification" });
    await banner.getByText(`Verify ${owner.email} to go on.`).waitFor();
    const refused = page.locator('[role="alert"][data-code="EMAIL_NOT_VERIFIED"]');
    await refused.first().waitFor();
    await check(page, "verify-overdue");

    // A new link, followed, lets the account go on.
    await banner.getByRole("button", { name: "Ask for a new link" }).click();
    await banner.getByRole("link", { name: `verify ${owner.email}` }).click();
    await page.getByRole("button", { name: "Verify my email" }).click();
    await page.getByRole("status").filter({ hasText: `${owner.email} is verified` }).waitFor();
    await page.goto(`${strict.url}/agents`);
    await settled(page);
    await page.getByRole("link", { name: "Create an agent" }).first().waitFor();
    assert.equal(await banner.count(), 0, "no reminder once verified");
    assert.equal(await refused.count(), 0, "tenant pages load again");
    await page.close();
  } finally {
    await strict.stop();
  }
});

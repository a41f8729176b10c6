// Usage & billing in the browser: the month so far and its forecast, a chart of cost and minutes per day (with
// the same figures as a table), the plan and its limits, invoices that open to their lines, and changing plan.
// An operator's commands (`voxedge plan assign --from`, `usage adjust`, `invoice close`) give the workspace a
// closed month with an invoice, as a customer moved over from another system would have.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  cli,
  horizontalOverflow,
  launchBrowser,
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

const DAY = 86_400_000;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  owner = await signUpByApi(server, "billing-owner", "Billing Corporation");
  const tenant = owner.tenant.id;
  const now = new Date();
  const thisMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const lastMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1);
  cli(server, ["plan", "assign", "--tenant", tenant, "--plan", "pro", "--from", new Date(lastMonth).toISOString()]);
  // Last month: 2,400 call minutes (400 beyond Pro's 2,000) and some speech synthesis.
  for (let day = 0; day < 24; day++) {
    const at = new Date(lastMonth + day * DAY + 12 * 3_600_000).toISOString();
    cli(server, ["usage", "adjust", "--tenant", tenant, "--metric", "call_ms", "--quantity", String(100 * 60_000), "--reason", "imported from the old system", "--key", `last-${day}`, "--at", at]);
  }
  cli(server, ["usage", "adjust", "--tenant", tenant, "--metric", "tts_characters", "--quantity", "1250000", "--reason", "imported", "--key", "last-tts", "--at", new Date(lastMonth + 3 * DAY).toISOString()]);
  // This month so far: a few hours of calls each day.
  for (let t = thisMonth; t <= now.getTime(); t += DAY) {
    const at = new Date(Math.min(t + 6 * 3_600_000, now.getTime() - 1000)).toISOString();
    const minutes = 90 + ((t / DAY) % 5) * 30;
    cli(server, ["usage", "adjust", "--tenant", tenant, "--metric", "call_ms", "--quantity", String(minutes * 60_000), "--reason", "calls", "--key", `this-${t}`, "--at", at]);
  }
  cli(server, ["invoice", "close", "--tenant", tenant], { VOXEDGE_INVOICE_FINALIZE_DELAY_SECS: "0" });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the billing page shows the month, the chart, the plan and invoices with their lines, and changes plan", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Usage & billing" }).click();
  await page.waitForURL(/\/settings\/billing$/);
  await settled(page);
  assert.equal(await page.title(), "Usage & billing · voxedge");

  // The month so far, as the API computes it, shown digit for digit.
  const { billing } = await server.gql("{ billing { costToDate { amount } plan { id } } }", {}, owner.accessToken);
  const shown = await page.getByTestId("cost-to-date").textContent();
  assert.equal(shown.replace(/[$,]/g, ""), billing.costToDate.amount);
  assert.equal(billing.plan.id, "pro");
  assert.equal(await page.getByTestId("plan-name").textContent(), "Pro");

  // The chart draws, and its figures are there as a table too.
  await page.locator(".recharts-surface").first().waitFor();
  await page.getByText("Show as a table").click();
  assert.ok((await page.locator(".chart table tbody tr").count()) >= 1);

  // Last month's invoice opens to its lines: Pro's fee and the minutes beyond what it includes.
  const invoice = page.getByTestId("invoice-row").first();
  await invoice.getByText("Open").waitFor();
  await invoice.getByRole("button").click();
  const lines = page.locator(".payload-row [data-testid=invoice-line]");
  await lines.first().waitFor();
  const text = await page.locator(".payload-row").textContent();
  assert.match(text, /Pro plan/);
  assert.match(text, /Call minutes/);
  assert.match(text, /\$8\.00/, "400 minutes beyond the included 2,000 at $0.02");
  assert.deepEqual(await seriousViolations(page), []);
  await screenshot(page, "billing-1280");

  // Change plan: pick Free, confirm, and the page shows the new plan.
  await page.getByRole("radio", { name: /Free/ }).check();
  await page.getByRole("button", { name: "Change plan" }).click();
  await page.getByRole("button", { name: "Yes" }).click();
  await page.getByText("You are on the Free plan from now on").waitFor();
  await page.getByTestId("plan-name").filter({ hasText: "Free" }).waitFor();
  const after = await server.gql("{ billing { plan { id } } }", {}, owner.accessToken);
  assert.equal(after.billing.plan.id, "free");
  // Enterprise is not offered to choose.
  assert.equal(await page.getByRole("radio", { name: /Enterprise/ }).count(), 0);
  await context.close();
});

test("on a phone the billing page fits the screen and stays accessible", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  await page.goto(`${server.url}/settings/billing`);
  await settled(page);
  await page.locator(".recharts-surface").first().waitFor();
  await page.getByTestId("invoice-row").first().getByRole("button").click();
  await page.locator(".payload-row [data-testid=invoice-line]").first().waitFor();
  assert.equal(await horizontalOverflow(page), null);
  assert.deepEqual(await seriousViolations(page), []);
  await screenshot(page, "billing-390");
  await context.close();
});

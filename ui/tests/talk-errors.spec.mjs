// When talking to an agent goes wrong, the Talk page says why in words and what to do: a missing
// microphone is not a network error, and an agent whose language model cannot be reached says so
// (read from the call's timeline) instead of leaving the person with the agent's apology.

import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { after, before, test } from "node:test";
import {
  createAgentByApi,
  eventually,
  launchBrowser,
  screenshot,
  settled,
  signInThroughPortal,
  signUpByApi,
  startServer,
  voiceArgs,
} from "./support.mjs";

let server;
let browser;

before(async () => {
  // A real server that runs live calls (VAD, Whisper), and a browser with no microphone at all.
  // The agent's LLM is a closed port on 127.0.0.1, which tenants' URLs reach only with `--allow-outbound`.
  const args = [...(await voiceArgs()), "--allow-outbound", "127.0.0.1/32"];
  [server, browser] = await Promise.all([startServer(args), launchBrowser({ microphone: false })]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A local port that nothing listens on: connecting to it is refused at once. */
async function closedPort() {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address();
  probe.close();
  await once(probe, "close");
  return port;
}

test("no microphone: the page says so and what to do, and no call is made", async () => {
  const owner = await signUpByApi(server, "nomic-owner", "No Mic Corp");
  const agentId = await createAgentByApi(server, owner.accessToken, "Front desk");
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  await page.goto(`${server.url}/talk?agent=${agentId}`);
  await settled(page);
  await page.getByRole("button", { name: "Start talking" }).click();
  const notice = page.getByTestId("talk-mic-error");
  await notice.waitFor();
  assert.equal(await notice.getAttribute("data-problem"), "missing");
  assert.match(await notice.textContent(), /No microphone found\..*Type only/);
  assert.equal(await page.locator("[data-code=NETWORK]").count(), 0, "not reported as a network error");
  assert.match(await page.getByTestId("talk-status").textContent(), /ready/);
  const calls = await server.gql(`{ calls(first: 5) { nodes { id } } }`, {}, owner.accessToken);
  assert.equal(calls.calls.nodes.length, 0, "no call was started");
  await screenshot(page, "talk-no-microphone-1280");

  // A blocked microphone is told apart from a missing one.
  await page.addInitScript(() => {
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
  });
  await page.reload();
  await settled(page);
  await page.getByRole("button", { name: "Start talking" }).click();
  await page.getByTestId("talk-mic-error").getByText("The browser blocked the microphone.").waitFor();
  await page.close();
});

test("an agent whose language model is unreachable: the page says the provider could not be reached", async () => {
  const owner = await signUpByApi(server, "llm-down-owner", "LLM Down Corp");
  const port = await closedPort();
  const agentId = await createAgentByApi(server, owner.accessToken, "Local model", {
    systemPrompt: "You are helpful.",
    tools: [],
    llm: { primary: { provider: "custom", model: "local-model", baseUrl: `http://127.0.0.1:${port}/v1` } },
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  await signInThroughPortal(page, server, owner.email);
  await page.goto(`${server.url}/talk?agent=${agentId}`);
  await settled(page);
  // No microphone here: typing works all the same.
  await page.getByLabel("Type only").check();
  await page.getByRole("button", { name: "Start talking" }).click();
  await eventually(async () => assert.match(await page.getByTestId("talk-status").textContent(), /connected/));
  await page.getByLabel("Message to the agent").fill("Hello, are you there?");
  await page.getByRole("button", { name: "Send" }).click();

  const problems = page.getByTestId("talk-problems");
  await problems.waitFor();
  await eventually(async () => {
    const text = await problems.textContent();
    assert.match(text, /The custom model local-model \(primary\) could not be reached/);
    assert.match(text, /every language model it may use failed/);
  });
  await problems.getByRole("link", { name: "Settings → LLM keys" }).waitFor();
  // The apology still reaches the person, in full.
  await page.getByTestId("talk-agent").getByText(/Sorry, I'm having trouble answering right now/).waitFor();
  await screenshot(page, "talk-llm-unreachable-1280");
  await page.getByRole("button", { name: "Hang up" }).click();
  await page.close();
});

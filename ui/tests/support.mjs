// Browser-test harness: each spec file starts the real voxedge binary on a free port with its own
// temporary data directory, serving the built portal (ui/dist), and drives Debian's Chromium through
// playwright-core. Nothing is downloaded: the browser is /usr/bin/chromium (override with CHROMIUM).

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const uiDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const repoDir = path.resolve(uiDir, "..");
const binary = process.env.VOXEDGE_BIN ?? path.join(repoDir, "target/debug/voxedge");

export const PASSWORD = "correct horse battery staple";

/** A server of our own: `url`, the GraphQL helper `gql`, and `stop()`. `extraArgs` go to `serve`. */
export async function startServer(extraArgs = []) {
  const dataDir = await mkdtemp(path.join(tmpdir(), "voxedge-ui-test-"));
  const child = spawn(
    binary,
    [
      "--data-dir", dataDir,
      "--log-format", "json",
      "serve",
      "--listen", "127.0.0.1:0",
      "--ui-dir", path.join(uiDir, "dist"),
      "--rate-limit-anonymous", "0",
      "--shutdown-grace-secs", "2",
      ...extraArgs,
    ],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, VOXEDGE_LOG: "info" } },
  );
  const logs = [];
  const lines = createInterface({ input: child.stderr });
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs.join("\n")}`)), 20_000);
    child.once("exit", (code) => reject(new Error(`server exited with ${code}:\n${logs.join("\n")}`)));
    lines.on("line", (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line);
        if (entry.message === "voxedge listening") {
          clearTimeout(timer);
          resolve(entry.address);
        }
      } catch {
        // Not JSON: keep it for the failure message.
      }
    });
  });
  const url = `http://${address}`;
  return {
    url,
    logs,
    gql: (query, variables = {}, token) => gql(url, query, variables, token),
    async stop() {
      child.kill("SIGTERM");
      await once(child, "exit");
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** POSTs one GraphQL operation; returns `data`, throws with the error code otherwise. */
export async function gql(url, query, variables = {}, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors?.length) {
    const error = new Error(`${body.errors[0].extensions?.code}: ${body.errors[0].message}`);
    error.code = body.errors[0].extensions?.code;
    throw error;
  }
  return body.data;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      // This machine has no internet: stop Chromium's own background traffic.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
      "--disable-gpu",
      // A synthetic microphone, allowed without a prompt, for the talk page.
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
}

let counter = 0;

/** A fresh email for each signed-up user. */
export function uniqueEmail(who) {
  return `${who}-${process.pid}-${Date.now()}-${++counter}@example.com`;
}

/** Signs up through the API; returns the email, tokens and tenant. */
export async function signUpByApi(server, who, tenantName) {
  const email = uniqueEmail(who);
  const data = await server.gql(
    `mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken tenant { id } user { id } } }`,
    { input: { email, password: PASSWORD, name: who, tenantName } },
  );
  return { email, ...data.signUp };
}

/** Signs in through the portal's form. */
export async function signInThroughPortal(page, server, email) {
  await page.goto(`${server.url}/signin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in-as").waitFor();
}

/** A minimal agent configuration. */
export const AGENT_CONFIG = { systemPrompt: "You answer questions about orders.", tools: [] };

export async function createAgentByApi(server, token, name) {
  const data = await server.gql(
    `mutation($input: CreateAgentInput!) { createAgent(input: $input) { id } }`,
    { input: { name, config: AGENT_CONFIG } },
    token,
  );
  return data.createAgent.id;
}

/** Retries `check` (which throws while not yet true) until it passes or `timeoutMs` runs out. */
export async function eventually(check, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The form field (label, control, error) labelled `label`. */
export function field(page, label) {
  return page.locator(".field").filter({ has: page.getByLabel(label, { exact: true }) });
}

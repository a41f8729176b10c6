// Browser-test harness: each spec file starts the real voxedge binary on a free port with its own
// temporary data directory, serving the built portal (ui/dist), and drives Debian's Chromium through
// playwright-core. Nothing is downloaded: the browser is /usr/bin/chromium (override with CHROMIUM).

import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { access, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const uiDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const repoDir = path.resolve(uiDir, "..");
const binary = process.env.VOXEDGE_BIN ?? path.join(repoDir, "target/debug/voxedge");

export const PASSWORD = "correct horse battery staple";

/** Screenshots of the browser tests (git-ignored); look at them after a run. */
export const OUTPUT_DIR = path.join(uiDir, "test-output");

/**
 * `serve` flags for a server that runs live calls with the real voice models: VAD and Whisper from
 * `VOXEDGE_TEST_MODELS_DIR` (default ../shared/models, as for the Rust tests) and ONNX Runtime from
 * `VOXEDGE_ORT_DYLIB` (scripts/test-ui fetches it). The vocab-only Whisper file loads in milliseconds;
 * no TTS voice, so agents answer in text. Fails, rather than skips, when something is missing.
 */
export async function voiceArgs() {
  const models = process.env.VOXEDGE_TEST_MODELS_DIR ?? path.resolve(repoDir, "../shared/models");
  const ort = process.env.VOXEDGE_ORT_DYLIB ?? path.join(repoDir, ".cache/onnxruntime/libonnxruntime.so");
  for (const file of [path.join(models, "silero_vad.onnx"), path.join(models, "for-tests-ggml-tiny.en.bin"), ort]) {
    await access(file).catch(() => {
      throw new Error(`voice test needs ${file} (set VOXEDGE_TEST_MODELS_DIR / VOXEDGE_ORT_DYLIB, or run scripts/test-ui)`);
    });
  }
  return [
    "--models-dir", models,
    "--stt-model", "for-tests-ggml-tiny.en.bin",
    "--tts-model", "no-voice-in-this-test.onnx",
    "--ort-dylib", ort,
  ];
}

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
      // Every spec signs up and signs in many users from 127.0.0.1.
      "--rate-limit-identity", "0",
      "--signup-limit-per-hour", "0",
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
    dataDir,
    gql: (query, variables = {}, token) => gql(url, query, variables, token),
    async stop() {
      child.kill("SIGTERM");
      await once(child, "exit");
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs a `voxedge` command on the server's data directory (operator work); returns its stdout lines as JSON. */
export function cli(server, args, env = {}) {
  const run = spawnSync(binary, ["--data-dir", server.dataDir, "--log-format", "text", ...args], {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`voxedge ${args.join(" ")} failed: ${run.stderr}`);
  return run.stdout
    .split("\n")
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
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

/** Chromium; `{ microphone: false }` leaves out the synthetic microphone (getUserMedia finds none). */
export async function launchBrowser({ microphone = true } = {}) {
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
      // Media requests are allowed without a prompt; with `microphone`, a synthetic one (a beep).
      "--use-fake-ui-for-media-stream",
      ...(microphone ? ["--use-fake-device-for-media-stream"] : []),
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
}

const axeSource = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/**
 * axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA rules). axe is
 * evaluated through the DevTools protocol: the portal's Content-Security-Policy (rightly) refuses the
 * inline script `addScriptTag` would add.
 */
export async function seriousViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) await page.evaluate(await readFile(axeSource, "utf8"));
  const results = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
  );
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " — " + n.failureSummary) }));
}

/** Saves a full-page screenshot as test-output/screens/NAME.png. */
export async function screenshot(page, name) {
  const dir = path.join(OUTPUT_DIR, "screens");
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** Whether the page is wider than the window (the document scrolls sideways). */
export async function horizontalOverflow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.scrollWidth;
    if (width <= window.innerWidth) return null;
    // The widest elements reaching past the window, to say what to fix.
    const culprits = [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.className ? "." + String(e.className).split(" ").join(".") : ""} right=${Math.round(e.getBoundingClientRect().right)}`);
    return { width, window: window.innerWidth, culprits };
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
  // Attached, not visible: on a phone the navigation that shows who is signed in is folded away.
  await page.getByTestId("signed-in-as").waitFor({ state: "attached" });
}

/** A minimal agent configuration. */
export const AGENT_CONFIG = { systemPrompt: "You answer questions about orders.", tools: [] };

export async function createAgentByApi(server, token, name, config = AGENT_CONFIG) {
  const data = await server.gql(
    `mutation($input: CreateAgentInput!) { createAgent(input: $input) { id } }`,
    { input: { name, config } },
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

/** Waits until the page shows its heading and nothing is loading any more. */
export async function settled(page) {
  await page.locator("h1").first().waitFor();
  await page.waitForFunction(() => !document.querySelector(".skeleton, .splash"));
}

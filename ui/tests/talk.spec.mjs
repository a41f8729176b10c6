// The voice endpoint (/v1/realtime) is being built separately, so this test stands in for it with a
// WebSocket routed inside the browser: it checks what the page sends (session.update, then 24 kHz
// PCM16 from the microphone) and that the page shows what such a server sends back.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createAgentByApi, eventually, launchBrowser, signInThroughPortal, signUpByApi, startServer } from "./support.mjs";

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("talk page mints a session token and streams the microphone over the realtime protocol", async () => {
  const owner = await signUpByApi(server, "talk-owner", "Talk Corp");
  const agentId = await createAgentByApi(server, owner.accessToken, "Front desk");
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);

  const received = [];
  let socketUrl;
  await page.routeWebSocket(/\/v1\/realtime/, (ws) => {
    socketUrl = ws.url();
    ws.onMessage((message) => {
      const event = JSON.parse(message);
      received.push({ event, at: Date.now() });
      const appends = received.filter((r) => r.event.type === "input_audio_buffer.append").length;
      if (appends === 5) {
        ws.send(JSON.stringify({ type: "input_audio_buffer.speech_started", audio_start_ms: 100 }));
        ws.send(JSON.stringify({ type: "input_audio_buffer.speech_stopped", audio_end_ms: 900 }));
        ws.send(
          JSON.stringify({
            type: "conversation.item.input_audio_transcription.completed",
            item_id: "item_1",
            transcript: "Where is my parcel?",
          }),
        );
        // 100 ms of a 440 Hz tone, PCM16 at 24 kHz.
        const pcm = Buffer.alloc(4800);
        for (let i = 0; i < 2400; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 24000)), i * 2);
        ws.send(JSON.stringify({ type: "response.output_audio.delta", response_id: "r1", item_id: "item_2", delta: pcm.toString("base64") }));
        ws.send(JSON.stringify({ type: "response.output_audio_transcript.delta", item_id: "item_2", delta: "It left " }));
        ws.send(JSON.stringify({ type: "response.output_audio_transcript.delta", item_id: "item_2", delta: "the depot today." }));
        ws.send(JSON.stringify({ type: "error", error: { type: "invalid_request_error", code: "demo_error", message: "just testing" } }));
      }
    });
  });

  // Record the subprotocols the page offers (where the session token travels); added after the route
  // so it wraps Playwright's stand-in WebSocket.
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    window.__offered = [];
    window.WebSocket = class extends Native {
      constructor(url, protocols) {
        super(url, protocols);
        window.__offered.push({ url: String(url), protocols });
      }
    };
  });
  await signInThroughPortal(page, server, owner.email);
  await page.goto(`${server.url}/talk?agent=${agentId}`);
  await page.getByRole("button", { name: "Start talking" }).click();
  await page.getByTestId("session-token").waitFor();
  await eventually(async () => assert.match(await page.getByTestId("talk-status").textContent(), /connected/));

  const offered = await page.evaluate(() => window.__offered);
  const realtime = offered.find((o) => o.url.includes("/v1/realtime"));
  assert.equal(realtime.protocols[0], "realtime");
  assert.match(realtime.protocols[1], /^openai-insecure-api-key\.vxs_/);
  assert.equal(new URL(socketUrl).searchParams.get("agent"), agentId);

  // The page shows what the server said.
  await page.getByTestId("talk-caller").getByText("Where is my parcel?").waitFor();
  await page.getByTestId("talk-agent").getByText("It left the depot today.").waitFor();
  await page.getByTestId("talk-event").getByText("Speech started").waitFor();
  await page.getByTestId("talk-error").getByText(/demo_error: just testing/).waitFor();

  // About two seconds of microphone audio, after a session.update that asked for pcm16.
  await eventually(() => {
    const appends = received.filter((r) => r.event.type === "input_audio_buffer.append");
    assert.ok(appends.length >= 2 && appends.at(-1).at - appends[0].at >= 2000, `${appends.length} appends`);
  });
  await page.getByRole("button", { name: "Hang up" }).click();

  assert.equal(received[0].event.type, "session.update");
  assert.equal(received[0].event.session.input_audio_format, "pcm16");
  const appends = received.filter((r) => r.event.type === "input_audio_buffer.append");
  const chunks = appends.map((r) => Buffer.from(r.event.audio, "base64"));
  assert.ok(chunks.every((c) => c.length % 2 === 0 && c.length > 0), "whole PCM16 samples");
  // Samples sent between the first and the last append, against the time between them: ~24 kHz.
  const samples = chunks.slice(1).reduce((n, c) => n + c.length / 2, 0);
  const rate = samples / ((appends.at(-1).at - appends[0].at) / 1000);
  assert.ok(rate > 24_000 * 0.75 && rate < 24_000 * 1.25, `about 24 kHz, got ${Math.round(rate)} Hz`);
  // The fake microphone beeps: somewhere there is sound.
  const loudest = Math.max(...chunks.map((c) => Math.max(...Array.from({ length: c.length / 2 }, (_, i) => Math.abs(c.readInt16LE(i * 2))))));
  assert.ok(loudest > 1000, `the microphone was silent (peak ${loudest})`);
  await page.close();
});

test("push to talk: the server's turn detection is off, audio goes out only while the space bar is held, and release commits the turn", async () => {
  const owner = await signUpByApi(server, "ptt-owner", "PTT Corp");
  const agentId = await createAgentByApi(server, owner.accessToken, "Walkie talkie");
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  const received = [];
  await page.routeWebSocket(/\/v1\/realtime/, (ws) => {
    ws.onMessage((message) => received.push({ event: JSON.parse(message), at: Date.now() }));
  });
  await signInThroughPortal(page, server, owner.email);
  await page.goto(`${server.url}/talk?agent=${agentId}`);
  await page.getByLabel("Push to talk").check();
  await page.getByRole("button", { name: "Start talking" }).click();
  await eventually(async () => assert.match(await page.getByTestId("talk-status").textContent(), /connected/));
  const hold = page.getByRole("button", { name: /Hold to talk/ });
  await hold.waitFor();

  // The microphone is open (the fake one beeps) but nothing is sent while the button is up.
  await eventually(() => assert.equal(received[0]?.event.type, "session.update"));
  assert.equal(received[0].event.session.turn_detection, null);
  await page.waitForTimeout(700);
  const types = () => received.map((r) => r.event.type);
  assert.ok(!types().includes("input_audio_buffer.append"), `sent while not held: ${types()}`);

  // Space held for ~0.8 s: a clear, then audio, then on release one commit.
  await page.locator("h1").click();
  await page.keyboard.down("Space");
  await page.getByRole("button", { name: /release to send/ }).waitFor();
  await page.waitForTimeout(800);
  await page.keyboard.up("Space");
  await eventually(() => assert.ok(types().includes("input_audio_buffer.commit")));
  const sent = types().filter((t) => t !== "session.update");
  assert.equal(sent[0], "input_audio_buffer.clear");
  const appends = sent.filter((t) => t === "input_audio_buffer.append").length;
  assert.ok(appends >= 20, `about 40 chunks of 20 ms, got ${appends}`);
  assert.equal(sent.at(-1), "input_audio_buffer.commit");
  assert.equal(sent.filter((t) => t === "input_audio_buffer.commit").length, 1);

  // Released: silence again.
  const count = received.length;
  await page.waitForTimeout(500);
  assert.equal(received.length, count, "nothing sent after release");
  await page.getByRole("button", { name: "Hang up" }).click();
  await page.close();
});

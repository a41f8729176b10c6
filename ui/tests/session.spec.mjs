// The portal's side of sessions. The server accepts an access token for a while past its expiry
// (clock leeway), so TOKEN_EXPIRED is played here by routing the first request (and the first
// subscription socket) to a stand-in that answers as the server does for an expired token; the refresh
// and the retries go to the real server.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PASSWORD, createAgentByApi, launchBrowser, signInThroughPortal, signUpByApi, startServer } from "./support.mjs";

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const EXPIRED = { message: "access token expired", extensions: { code: "TOKEN_EXPIRED" } };

/** The session cookie's refresh token (the browser's cookie jar; the page itself cannot see it). */
async function refreshCookie(page) {
  const cookies = await page.context().cookies();
  const cookie = cookies.find((c) => c.name === "__Host-voxedge_refresh");
  assert.ok(cookie, `the session cookie is set: ${JSON.stringify(cookies.map((c) => c.name))}`);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.secure, true);
  assert.equal(cookie.sameSite, "Strict");
  return cookie.value;
}

test("an expired access token is refreshed once, for queries and for the live socket", async () => {
  const owner = await signUpByApi(server, "session-owner", "Session Corp");
  await createAgentByApi(server, owner.accessToken, "Patient agent");
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  // The refresh token is an HttpOnly cookie: no script of the page can read it.
  assert.equal(await page.evaluate(() => document.cookie), "");
  assert.equal(await page.evaluate(() => localStorage.getItem("voxedge.refreshToken")), null);
  const firstRefresh = await refreshCookie(page);
  assert.match(firstRefresh, /^vxr_/);

  // The agents query is refused once as expired: the portal refreshes and asks again.
  let refused = 0;
  await page.route("**/graphql", async (route) => {
    if (refused === 0 && route.request().postData()?.includes("query Agents")) {
      refused++;
      await route.fulfill({ status: 401, contentType: "application/json", body: JSON.stringify({ errors: [EXPIRED] }) });
    } else {
      await route.continue();
    }
  });
  await page.getByRole("link", { name: "Members" }).click();
  await page.getByRole("link", { name: "Agents" }).click();
  await page.getByRole("link", { name: "Patient agent" }).waitFor();
  assert.equal(refused, 1);
  const secondRefresh = await refreshCookie(page);
  assert.notEqual(secondRefresh, firstRefresh, "the refresh token rotated");
  assert.equal(await page.locator(".notice-error").count(), 0);

  // The subscription socket's first connection_init is refused as expired (close 4403); the portal
  // refreshes and connects again with the new token.
  const inits = [];
  await page.routeWebSocket(/\/graphql(\?|$)/, (ws) => {
    const upstream = ws.connectToServer();
    ws.onMessage((message) => {
      const event = JSON.parse(message);
      if (event.type === "connection_init") {
        inits.push(event.payload.Authorization);
        if (inits.length === 1) {
          ws.close({ code: 4403, reason: "Forbidden: TOKEN_EXPIRED: access token expired" });
          return;
        }
      }
      upstream.send(message);
    });
  });
  await page.getByRole("link", { name: "Calls" }).click();
  await page.getByLabel("Active calls").locator(".dot-live").waitFor();
  assert.equal(inits.length, 2);
  // (Access tokens minted within the same second can be identical, so the rotation is what tells.)
  const thirdRefresh = await refreshCookie(page);
  assert.notEqual(thirdRefresh, secondRefresh, "the socket's refusal made the portal refresh");

  // A spent refresh token presented again revokes the whole session; the portal says so.
  await assert.rejects(
    server.gql(`mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }`, { t: firstRefresh }),
    /REFRESH_TOKEN_REUSED/,
  );
  await page.reload();
  await page.waitForURL(/\/signin/);
  await page.getByText("Please sign in again").waitFor();
  await page.close();
});

test("signing out elsewhere closes the live socket and the portal asks to sign in again", async () => {
  const owner = await signUpByApi(server, "session-revoked", "Revoked Corp");
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  const closes = [];
  page.on("websocket", (ws) => ws.on("close", () => closes.push(ws.url())));
  await signInThroughPortal(page, server, owner.email);
  await page.getByRole("link", { name: "Calls" }).click();
  await page.getByLabel("Active calls").locator(".dot-live").waitFor();

  // Another device of the same user signs out everywhere: the server closes the portal's socket (4401)
  // and the portal, finding its session ended, shows the sign-in page.
  const phone = await server.gql(
    `mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }`,
    { e: owner.email, p: PASSWORD },
  );
  await server.gql(`mutation { logoutEverywhere { sessionsEnded } }`, {}, phone.login.accessToken);
  await page.waitForURL(/\/signin/);
  await page.getByText("Please sign in again").waitFor();
  assert.ok(closes.length >= 1, "the live socket was closed");
  assert.equal(await page.evaluate(() => localStorage.getItem("voxedge.signedIn")), null);
  await page.close();
});

test("signing out clears the session cookie", async () => {
  const owner = await signUpByApi(server, "session-out", "Out Corp");
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await signInThroughPortal(page, server, owner.email);
  const token = await refreshCookie(page);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/signin/);
  const left = (await page.context().cookies()).filter((c) => c.name === "__Host-voxedge_refresh");
  assert.deepEqual(left, [], "the cookie is gone");
  await assert.rejects(
    server.gql(`mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }`, { t: token }),
    /TOKEN_REVOKED/,
  );
  await page.close();
});

// Starts a real `tenantpilot` (the binary cargo-leptos built) on a fresh SQLite database with
// the demo workspace, its provider simulator (the same binary, over real HTTP), and Debian's
// chromium. Each suite gets its own server and simulator.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

// Paths are relative to end2end/; the server runs from the repository root (its site files).
const ROOT = resolve('..');
const BIN = resolve(process.env.TENANTPILOT_BIN ?? '../target/debug/tenantpilot');
/** Which build the suite runs, as its measurements name it. */
export const BUILD = BIN.includes('/release/') ? 'release build' : 'debug build';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

async function waitUntil(what, ready, child, output) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}):\n${output()}`);
    try {
      if (await ready()) return;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${what} did not become ready:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/// Random ports can be taken (by another suite's server, or an outgoing connection): a start that
/// fails on one tries other ports.
export async function startServer() {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startServerOn(20000 + Math.floor(Math.random() * 20000));
    } catch (error) {
      if (attempt >= 5 || !/Address already in use/.test(String(error.message))) throw error;
    }
  }
}

async function startServerOn(port) {
  const dir = mkdtempSync(join(tmpdir(), 'tenantpilot-e2e-'));
  const simulatorUrl = `http://127.0.0.1:${port + 1}`;
  const simulator = spawn(BIN, ['provider-sim', '--demo', '--addr', `127.0.0.1:${port + 1}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let simulatorErrors = '';
  simulator.stderr.on('data', (chunk) => { simulatorErrors += chunk; process.stderr.write(chunk); });
  try {
    await waitUntil('the provider simulator', async () => (await fetch(`${simulatorUrl}/_sim/tenants/none`)).status === 404,
      simulator, () => simulatorErrors);
  } catch (error) {
    if (simulator.exitCode === null) simulator.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  // The simulator runs on loopback: the only non-public address the server may call.
  const child = spawn(BIN, ['serve', '--demo', '--demo-provider-url', simulatorUrl, '--sample-provider-url', simulatorUrl,
    '--egress-allow', '127.0.0.1'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: `sqlite://${dir}/e2e.db`,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; process.stderr.write(chunk); });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntil('tenantpilot', async () => (await fetch(`${base}/readyz`)).ok, child, () => output);
  } catch (error) {
    for (const running of [child, simulator]) if (running.exitCode === null) running.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const password = output.match(/shown only now\): (\S+)/)?.[1];
  if (!password) throw new Error(`no demo password in the output:\n${output}`);
  return {
    base,
    password,
    simulatorUrl,
    async stop() {
      for (const running of [child, simulator]) {
        if (running.exitCode !== null) continue;
        running.kill('SIGTERM');
        await new Promise((resolve) => running.once('exit', resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/// Records every Content-Security-Policy violation a page of `browser` reports in its console.
function watchPolicy(browser, violations) {
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    context.on('console', (message) => {
      if (/Content Security Policy|Refused to (execute|load|apply|evaluate|compile)/.test(message.text())) {
        violations.push(`${message.location()?.url ?? ''}: ${message.text()}`);
      }
    });
    return context;
  };
}

/// A test file's own server and browser: its fields are set before the file's tests run, and
/// both are stopped after them. Every page runs under the server's Content-Security-Policy, and
/// the file fails if any page reported a violation of it.
export function serverAndBrowser() {
  const env = { policyViolations: [] };
  before(async () => {
    env.server = await startServer();
    env.browser = await launchBrowser();
    watchPolicy(env.browser, env.policyViolations);
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
    assert.deepEqual(env.policyViolations, [], 'no page violated the Content-Security-Policy');
  });
  return env;
}

/// Waits until `locator` shows: with JavaScript on the page must change by itself; off, a
/// person reloads.
export async function untilShown(page, locator, javaScriptEnabled, timeout = 20_000) {
  if (javaScriptEnabled) return locator.first().waitFor({ timeout });
  const deadline = Date.now() + timeout;
  while ((await locator.count()) === 0) {
    assert.ok(Date.now() < deadline, `never appeared: ${locator}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await page.reload();
  }
}

/// Loads `url`; with JavaScript on, waits until the app has hydrated, so clicks reach it.
export async function visit(page, url, javaScriptEnabled) {
  const response = await page.goto(url);
  if (javaScriptEnabled) await page.waitForSelector('body[data-hydrated]');
  return response;
}

export async function signIn(page, server, email, javaScriptEnabled) {
  await visit(page, `${server.base}/login`, javaScriptEnabled);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', server.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${server.base}/admin`);
}

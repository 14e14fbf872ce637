// Starts a real `tenantpilot` (the binary cargo-leptos built) on a fresh SQLite database with
// the demo workspace, and Debian's chromium. Each suite gets its own server.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

// Paths are relative to end2end/; the server runs from the repository root (its site files).
const ROOT = resolve('..');
const BIN = resolve(process.env.TENANTPILOT_BIN ?? '../target/debug/tenantpilot');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'tenantpilot-e2e-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(BIN, ['serve', '--demo'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: `sqlite://${dir}/e2e.db`,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tenantpilot exited (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`tenantpilot did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const password = output.match(/shown only now\): (\S+)/)?.[1];
  if (!password) throw new Error(`no demo password in the output:\n${output}`);
  return {
    base,
    password,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
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

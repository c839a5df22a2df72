import {type Browser, type Page, chromium} from 'playwright-core'

/**
 * Debian's chromium, headless. The background-networking flags matter here:
 * without them chromium keeps dialling Google services that this closed
 * network refuses.
 */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  })
}

/** Collects what a person would see as broken: script errors, console errors and failed requests. */
export function collectPageProblems(page: Page): string[] {
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(error.message))
  page.on('console', (message) => (message.type() === 'error' ? problems.push(message.text()) : undefined))
  page.on('response', (response) =>
    response.status() >= 400 ? problems.push(`${response.status()} ${response.url()}`) : undefined,
  )
  return problems
}

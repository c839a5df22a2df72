'use strict'
// The floor of scripts/bench/ddns.mjs: the least any Node program does for an unchanged timer run. It opens the
// SQLite database (better-sqlite3, WAL, as homeops does), reads the last address, GETs the echo service with
// node:http, compares, and writes the check time. Its CPU and peak RSS are what Node itself costs for this job.
// Usage (the bench runs it): FLOOR_DB=/tmp/x.db FLOOR_ECHO=http://127.0.0.1:PORT/ node scripts/bench/ddns-floor.cjs
/* global require, __dirname -- CommonJS on purpose: run as a plain node script, as the timer runs homeops */
/* eslint-disable @typescript-eslint/no-require-imports */
const {join} = require('node:path')
const Database = require('better-sqlite3')

const root = join(__dirname, '..', '..')
const db = new Database(process.env.FLOOR_DB, {
  nativeBinding: join(root, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'),
})
db.pragma('journal_mode = WAL')
db.exec('CREATE TABLE IF NOT EXISTS state (record TEXT PRIMARY KEY, ip TEXT, checked TEXT)')
const last = db.prepare('SELECT ip FROM state WHERE record = ?').get('home/4')
require('node:http')
  .get(process.env.FLOOR_ECHO, (res) => {
    let body = ''
    res.setEncoding('utf8')
    res.on('data', (chunk) => (body += chunk))
    res.on('end', () => {
      const ip = body.trim()
      db.prepare(
        'INSERT INTO state (record, ip, checked) VALUES (?, ?, ?) ON CONFLICT(record) DO UPDATE SET checked = excluded.checked',
      ).run('home/4', ip, new Date().toISOString())
      db.close()
      process.stdout.write(last && last.ip === ip ? 'unchanged\n' : 'changed\n')
    })
  })
  .on('error', (error) => {
    process.stderr.write(`${error.message}\n`)
    process.exitCode = 1
  })

import {type ChildProcess, spawn} from 'node:child_process'
import {createInterface} from 'node:readline'

/**
 * A fake service manager: python3 binds the unix datagram socket systemd would
 * (`NOTIFY_SOCKET`, a path or an abstract `@name`), receives with SO_PASSCRED,
 * closes any passed fds (the `BARRIER=1` of `sd_notify_barrier`, as systemd does)
 * and prints one JSON line per datagram: the text and the sender's pid.
 */
const RECEIVER = `
import array, json, os, socket, struct, sys
addr = sys.argv[1]
bind = "\\0" + addr[1:] if addr.startswith("@") else addr
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(bind)
print(json.dumps({"listening": addr}), flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(4 * 16) + socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
            for fd in fds:
                os.close(fd)
    print(json.dumps({"text": data.decode(), "pid": pid}), flush=True)
`

export interface Datagram {
  text: string
  pid: number | null
  fields: Record<string, string>
}

export interface FakeSystemd {
  address: string
  messages: Datagram[]
  waitFor(predicate: (m: Datagram) => boolean, timeoutMs?: number): Promise<Datagram>
  stop(): Promise<void>
}

export async function startFakeSystemd(address: string): Promise<FakeSystemd> {
  const child: ChildProcess = spawn('python3', ['-c', RECEIVER, address], {stdio: ['ignore', 'pipe', 'pipe']})
  const messages: Datagram[] = []
  const waiters = new Set<() => void>()
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const lines = createInterface({input: child.stdout!})
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fake systemd did not start: ${stderr}`)), 10_000)
    child.once('exit', (code) => reject(new Error(`fake systemd exited ${code}: ${stderr}`)))
    lines.on('line', (line) => {
      const data = JSON.parse(line) as {listening?: string; text?: string; pid?: number | null}
      if (data.listening) {
        clearTimeout(timer)
        resolve()
        return
      }
      const text = data.text ?? ''
      const fields = Object.fromEntries(
        text
          .split('\n')
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      )
      messages.push({text, pid: data.pid ?? null, fields})
      for (const wake of waiters) wake()
    })
  })
  return {
    address,
    messages,
    waitFor(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate)
          if (!found) return false
          clearTimeout(timer)
          waiters.delete(wake)
          resolve(found)
          return true
        }
        const wake = () => void check()
        const timer = setTimeout(() => {
          waiters.delete(wake)
          reject(new Error(`no matching notification within ${timeoutMs} ms; got: ${JSON.stringify(messages)}`))
        }, timeoutMs)
        if (!check()) waiters.add(wake)
      })
    },
    async stop() {
      if (child.exitCode !== null) return
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    },
  }
}

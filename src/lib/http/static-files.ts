import {readFile} from 'node:fs/promises'
import {extname, join, normalize, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

import {errnoCode} from '../errors.js'
import {type Handler, HttpError} from './router.js'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
}

/** `src/web` of the installed package (shipped as is: the web UI has no build step). */
export function webRoot(): string {
  return fileURLToPath(new URL('../../../src/web', import.meta.url))
}

/**
 * Serves files below `root` for a `*` route; a path that escapes the folder
 * is a 404, never a read outside it.
 */
export function staticFiles(root: string, index = 'index.html'): Handler {
  const base = normalize(root + sep)
  return async (request) => {
    const relative = request.params['*'] || index
    const file = normalize(join(base, relative))
    if (!file.startsWith(base) || relative.includes('\0')) throw new HttpError(404, {error: 'not_found'})
    try {
      const body = await readFile(file)
      return {
        body,
        headers: {
          'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
          'cache-control': 'no-cache',
          'content-security-policy':
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        },
      }
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'EISDIR') throw new HttpError(404, {error: 'not_found'})
      throw error
    }
  }
}

import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {UserError} from '../../../src/lib/errors.js'
import {composeProjectOf, editComposeImage} from '../../../src/lib/images/compose.js'

const dir = mkdtempSync(join(tmpdir(), 'hotest-images-compose-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function project(files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return composeProjectOf({
    'com.docker.compose.project': 'home',
    'com.docker.compose.service': 'web',
    'com.docker.compose.project.working_dir': dir,
    'com.docker.compose.project.config_files': Object.keys(files).join(','),
  })!
}

describe('compose projects', () => {
  it('reads the project from the labels compose v1 (relative files) and v2 (absolute) set', () => {
    const labels = {
      'com.docker.compose.project': 'home',
      'com.docker.compose.service': 'web',
      'com.docker.compose.project.working_dir': '/srv/home',
    }
    expect(
      composeProjectOf({...labels, 'com.docker.compose.project.config_files': 'compose.yaml,override.yaml'}),
    ).toEqual({
      project: 'home',
      service: 'web',
      workingDir: '/srv/home',
      files: ['/srv/home/compose.yaml', '/srv/home/override.yaml'],
    })
    expect(
      composeProjectOf({...labels, 'com.docker.compose.project.config_files': '/etc/stack/compose.yml'})!.files,
    ).toEqual(['/etc/stack/compose.yml'])
    expect(composeProjectOf({'com.docker.compose.project': 'x'})).toBeUndefined()
  })

  it('changes only the tag, keeping comments, quoting and the rest of the file', async () => {
    const text = [
      '# my stack',
      'services:',
      '  web:',
      '    image: "ghcr.io/org/app:1.2.3"   # pinned by hand',
      '    ports: ["8080:80"]',
      '  db:',
      '    image: postgres:16',
      '',
    ].join('\n')
    const edit = await editComposeImage(project({'compose.yaml': text}), 'ghcr.io/org/app:1.2.3', '1.3.0')
    expect(edit.after).toBe(text.replace('"ghcr.io/org/app:1.2.3"', '"ghcr.io/org/app:1.3.0"'))
    expect(edit.before).toBe(text)
  })

  it('edits the last file that sets the image (compose merge order), and drops a digest pin', async () => {
    const p = project({
      'base.yaml': 'services:\n  web:\n    image: nginx:1.25\n',
      'override.yaml': "services:\n  web:\n    image: 'nginx:1.25@sha256:" + 'a'.repeat(64) + "'\n",
    })
    const edit = await editComposeImage(p, 'nginx:1.25', '1.26')
    expect(edit.file).toBe(join(dir, 'override.yaml'))
    expect(edit.after).toBe("services:\n  web:\n    image: 'nginx:1.26'\n")
  })

  it('refuses an image built from variables, or another repository, with the file named', async () => {
    const vars = project({'vars.yaml': 'services:\n  web:\n    image: ghcr.io/org/app:${TAG:-1.0}\n'})
    const error = await editComposeImage(vars, 'ghcr.io/org/app:1.0', '1.1').catch((e) => e)
    expect(error).toBeInstanceOf(UserError)
    expect(error.message).toContain(
      'vars.yaml: services.web.image is "ghcr.io/org/app:${TAG:-1.0}", built from variables',
    )
    const other = project({'other.yaml': 'services:\n  web:\n    image: nginx:1\n'})
    await expect(editComposeImage(other, 'ghcr.io/org/app:1.0', '1.1')).rejects.toThrow(
      'not the image the container runs',
    )
    const none = project({'none.yaml': 'services:\n  api:\n    image: nginx:1\n'})
    await expect(editComposeImage(none, 'nginx:1', '2')).rejects.toThrow(
      'no compose file of home sets services.web.image',
    )
  })
})

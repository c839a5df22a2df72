import {bool, num, obj, oneOf, str} from '../config/schema.js'

export const swarmSchema = obj({
  enabled: bool({default: false, description: 'reconcile on an interval in `homeops serve`'}),
  pullPolicy: oneOf(['always', 'ifnotpresent'], {default: 'ifnotpresent', env: ['DOCKEROPS_IMAGE_PULL_POLICY']}),
  githubToken: str({secret: true, env: ['GITHUB_TOKEN']}),
  reconcileIntervalSeconds: num({default: 300, min: 30}),
  cacheDir: str({description: 'where repository clones are cached; defaults beside the state database'}),
})

// @ts-check
// The standalone page of `homeops monitor serve`: theme toggle + the containers section, API at the root.
import {createApi, setupThemeToggle} from '/web/shared/ui.js'
import {KEY_STORAGE, mount} from '/web/monitor/section.js'

setupThemeToggle(document.getElementById('theme-button'))

const storedKey = () => {
  try {
    return localStorage.getItem(KEY_STORAGE) || undefined
  } catch {
    return undefined
  }
}

const body = document.getElementById('monitor-body')
if (body) void mount(body, createApi('', storedKey))

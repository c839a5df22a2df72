// The standalone page of `homeops monitor serve`: theme toggle + the containers section, API at the root.
import {createApi} from '/web/shared/ui.js'
import {KEY_STORAGE, mount} from '/web/monitor/section.js'

const THEME_KEY = 'homeops-theme'

function applyTheme(theme) {
  if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme
  else delete document.documentElement.dataset.theme
}

function currentTheme() {
  const chosen = document.documentElement.dataset.theme
  if (chosen) return chosen
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

try {
  applyTheme(localStorage.getItem(THEME_KEY))
} catch {
  // storage disabled: follow the system
}
document.getElementById('theme-button').addEventListener('click', () => {
  const next = currentTheme() === 'dark' ? 'light' : 'dark'
  applyTheme(next)
  try {
    localStorage.setItem(THEME_KEY, next)
  } catch {
    // not persisted
  }
})

const storedKey = () => {
  try {
    return localStorage.getItem(KEY_STORAGE) || undefined
  } catch {
    return undefined
  }
}

void mount(document.getElementById('monitor-body'), createApi('', storedKey))

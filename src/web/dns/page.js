// @ts-check
// The standalone page of `homeops dns serve`: theme toggle + the DNS section, API at the root.
import {createApi, setupThemeToggle} from '../shared/ui.js'
import {mount} from './section.js'

setupThemeToggle(document.getElementById('theme-button'))

void mount(document.getElementById('dns-body'), createApi(''))

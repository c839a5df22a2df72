// @ts-check
// The standalone page of `homeops dns serve`: theme toggle + the DNS section, API at the root.
import {createApi, setupThemeToggle} from '../shared/ui.js'
import {mount} from './section.js'

setupThemeToggle(document.getElementById('theme-button'))

const body = document.getElementById('dns-body')
if (body) void mount(body, createApi(''))

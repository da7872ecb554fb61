// Who is signed in, kept in sessionStorage so a reload keeps the session but closing the tab
// ends it (a token in localStorage would outlive the tab and be shared by every tab of the
// browser). Two ways of being signed in:
//
// - bearer mode: the tab signed in itself and holds the token, sent as `Authorization`;
// - cookie mode: a new tab of a browser that is signed in elsewhere. It has no token, only the
//   HttpOnly session cookie the login set, which fetch sends by itself; the server then wants
//   the session's CSRF token echoed on every write, so that is what the tab keeps.
//
// A tab without a token asks the server once at start-up (`restoreSession`) whether the cookie
// still stands for a session.
import { reactive } from 'vue'
import { LOCALES, locale } from './i18n'

const KEY = 'tessera.session'

function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? 'null')
    if (saved?.token && saved.user) return { token: saved.token, csrf: saved.csrf_token ?? null, user: saved.user }
    if (saved?.csrf_token && saved.user) return { token: null, csrf: saved.csrf_token, user: saved.user }
  } catch {
    // A damaged entry is the same as none.
  }
  return { token: null, csrf: null, user: null }
}

/**
 * `{token, csrf, user}`: `user` is null when nobody is signed in; `token` is null in cookie
 * mode, where `csrf` goes with every write.
 */
export const session = reactive(restore())

function save() {
  const entry = { user: session.user, csrf_token: session.csrf }
  if (session.token) entry.token = session.token
  sessionStorage.setItem(KEY, JSON.stringify(entry))
}

// The user's own language, when they chose one, is the UI's from the moment they sign in.
function followLanguage(user) {
  if (user?.language && LOCALES.some((l) => l.id === user.language)) locale.value = user.language
}

/** Signed in by this tab's login: bearer mode (the CSRF token is kept for what may need it). */
export function signIn(token, user, csrf = null) {
  session.token = token
  session.csrf = csrf
  session.user = user
  save()
  followLanguage(user)
}

/** Signed in by the session cookie (`GET /api/auth/session`): cookie mode. */
export function adoptCookieSession(user, csrf) {
  session.token = null
  session.csrf = csrf
  session.user = user
  save()
  followLanguage(user)
}

/** The user as the server now describes them (after a change of their profile or password). */
export function updateUser(user) {
  session.user = user
  save()
}

export function signOut() {
  session.token = null
  session.csrf = null
  session.user = null
  sessionStorage.removeItem(KEY)
}

/** Whether someone is signed in, in either mode. */
export function signedIn() {
  return Boolean(session.user && (session.token || session.csrf))
}

/** Whether the signed-in user holds the platform role `admin`. */
export function isAdmin() {
  return session.user?.roles?.includes('admin') ?? false
}

let restoring = null

/**
 * Settles once the start-up question is answered: a tab with a token is signed in already; a
 * tab without one asks `GET /api/auth/session` (with the cookie) and is signed in in cookie
 * mode on 200, signed out on 401. Asked once per page load; `ask` is the API call (passed in,
 * since the API client imports this module).
 */
export function restoreSession(ask) {
  restoring ??= (async () => {
    if (session.token) return
    try {
      const answer = await ask()
      adoptCookieSession(answer.user, answer.csrf_token)
    } catch (e) {
      // Unreachable server: keep what the tab had (its requests will tell); else no session.
      if (!e?.network) signOut()
    }
  })()
  return restoring
}

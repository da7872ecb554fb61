// Who is signed in: the bearer token and the user, kept in sessionStorage so a reload keeps
// the session but closing the tab ends it (a token in localStorage would outlive the tab and
// be shared by every tab of the browser).
import { reactive } from 'vue'

const KEY = 'tessera.session'

function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? 'null')
    if (saved?.token) return saved
  } catch {
    // A damaged entry is the same as none.
  }
  return { token: null, user: null }
}

/** `{token, user}`; `token` is null when nobody is signed in. */
export const session = reactive(restore())

export function signIn(token, user) {
  session.token = token
  session.user = user
  sessionStorage.setItem(KEY, JSON.stringify({ token, user }))
}

export function signOut() {
  session.token = null
  session.user = null
  sessionStorage.removeItem(KEY)
}

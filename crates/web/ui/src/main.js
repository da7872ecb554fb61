// Entry point: Element Plus components, the router, and what a 401 from any request does.
import { createApp } from 'vue'
import 'element-plus/dist/index.css'
import './style.css'
import App from './App.vue'
import { installElement } from './element'
import { router } from './router'
import { onPasswordChangeRequired, onUnauthorized } from './api'
import { session, updateUser } from './session'
import { forgetApps } from './defs'
import { forgetTitles } from './titles'

// The session ended on the server (expired, signed out elsewhere): back to the login page,
// returning here afterwards.
onUnauthorized(() => {
  forgetApps()
  forgetTitles()
  const here = router.currentRoute.value
  if (here.name !== 'login') router.replace({ name: 'login', query: { redirect: here.fullPath, expired: '1' } })
})

// The server wants a new password before anything else (an admin reset it, or it was made for
// the user): to the profile page, which says so, returning here afterwards.
onPasswordChangeRequired(() => {
  if (session.user && !session.user.must_change_password) updateUser({ ...session.user, must_change_password: true })
  const here = router.currentRoute.value
  if (here.name !== 'profile' && here.name !== 'login') {
    router.replace({ name: 'profile', query: { required: '1', ...(here.fullPath !== '/' ? { redirect: here.fullPath } : {}) } })
  }
})

createApp(App).use(installElement).use(router).mount('#app')

// Entry point: Element Plus components, the router, and what a 401 from any request does.
import { createApp } from 'vue'
import 'element-plus/dist/index.css'
import './style.css'
import App from './App.vue'
import { installElement } from './element'
import { router } from './router'
import { onUnauthorized } from './api'
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

createApp(App).use(installElement).use(router).mount('#app')

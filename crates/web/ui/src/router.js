// Routes. A hash history (`#/crm/opportunity`) so the server serves one page at `/` and never
// needs to know the UI's paths.
import { createRouter, createWebHashHistory } from 'vue-router'
import { session } from './session'
import LoginView from './views/LoginView.vue'
import ShellView from './views/ShellView.vue'
import HomeView from './views/HomeView.vue'
import ListView from './views/ListView.vue'
import RecordView from './views/RecordView.vue'
import TasksView from './views/TasksView.vue'

export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/login', name: 'login', component: LoginView, meta: { public: true } },
    {
      path: '/',
      component: ShellView,
      children: [
        { path: '', name: 'home', component: HomeView },
        // Pages of no one app start with `-`, which no app id does: they never hide an app's.
        { path: '-/tasks', name: 'tasks', component: TasksView },
        { path: ':app', name: 'app', component: HomeView },
        // Loaded when first opened: the charts are most of its weight, and many users never do.
        { path: ':app/dashboards/:dashboard', name: 'dashboard', component: () => import('./views/DashboardView.vue') },
        // Admins only, and rarely: loaded when first opened.
        { path: ':app/-/indexes', name: 'indexes', component: () => import('./views/IndexAdviceView.vue') },
        { path: ':app/:form', name: 'list', component: ListView },
        { path: ':app/:form/new', name: 'new', component: RecordView },
        { path: ':app/:form/:id', name: 'record', component: RecordView },
      ],
    },
  ],
})

// Every page but the login needs a session; the login page sends the user back afterwards.
router.beforeEach((to) => {
  if (!to.meta.public && !session.token) return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  if (to.name === 'login' && session.token) return { path: '/' }
  return true
})

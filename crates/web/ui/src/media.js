// Whether the screen is phone-sized, as a reactive flag (the shell swaps its side menu for a
// drawer, lists and forms tighten up).
import { ref } from 'vue'

const query = window.matchMedia('(max-width: 767px)')
export const isMobile = ref(query.matches)
query.addEventListener('change', (e) => (isMobile.value = e.matches))

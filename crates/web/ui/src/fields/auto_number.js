// Auto-numbers (mirrors `auto_number.rs`): assigned by the server when a record is created,
// never written by people.
export default {
  auto_number: { widget: null, readonly: true, column: 'text' },
}

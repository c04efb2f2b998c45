// Package model holds the API's model-based tests: seeded random sequences
// of every operation, sent to the real Lambda handlers through the local
// gateway for two tenants, each response compared with a small in-memory
// model of the rules (names unique per tenant after folding, members and
// their counts, registered items, associations, delete cascades, tenant
// isolation as 404). The concurrent and fault-injection variants check the
// table's invariants with storetest.CheckInvariants instead. It has no code
// of its own outside its tests.
package model

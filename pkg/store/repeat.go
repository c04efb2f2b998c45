package store

import (
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Repeat safety. The SDK repeats a request whose response it did not get
// (a timeout, a reset connection), and DynamoDB may have committed the
// first attempt. A transaction is safe to repeat by its ClientRequestToken
// (see transact); a single-item write that is not already idempotent (a
// version ADD, a replace) is made safe with a write token: each logical
// write sets attrWriteToken to a fresh token, on the condition that the
// item does not carry that token yet. The repeat of a committed attempt
// then fails the condition, and the item it gets back (ALL_OLD) carries the
// token, which tells the caller that its write is done: it answers with
// that item instead of applying the write twice.
//
// The item keeps only the last write's token, so a repeat is recognised
// unless another write of the same item lands between the lost response
// and the SDK's retry (a few milliseconds); then the repeat applies once
// more, as if the client had sent its request again a moment later, which
// leaves the item valid.
const attrWriteToken = "writeToken"

func newWriteToken() string { return RandomToken(10) }

// notWrittenBy holds unless the item's last write was tok's.
func notWrittenBy(tok string) expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name(attrWriteToken)).
		Or(expression.Name(attrWriteToken).NotEqual(expression.Value(tok)))
}

// writtenBy reports whether item (as a failed condition returned it) was
// last written with tok: the write whose repeat failed was applied.
func writtenBy(item map[string]types.AttributeValue, tok string) bool {
	v, ok := item[attrWriteToken].(*types.AttributeValueMemberS)
	return ok && v.Value == tok
}

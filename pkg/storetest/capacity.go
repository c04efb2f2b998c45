package storetest

import (
	"context"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Usage is what a client's requests cost DynamoDB: how many requests of each
// operation, and the read and write request units (on demand) they consumed.
type Usage struct {
	Requests              map[string]int
	ReadUnits, WriteUnits float64
	// Unreported counts the requests whose units are unknown: the ones that
	// failed (DynamoDB reports no ConsumedCapacity with an error, though it
	// bills a failed conditional write) or whose answer held none.
	Unreported int
}

// Meter records the Usage of the requests made through a client.
//
// For every request but TransactWriteItems it asks DynamoDB for the
// capacity consumed (ReturnConsumedCapacity TOTAL) and adds up what it
// reports: DynamoDB Local applies AWS's rules there (reads by 4 KB, halved
// when eventually consistent; writes by 1 KB, the larger of the item before
// and after; one more write per index entry written or removed).
// DynamoDB Local's figures for transactions do not follow AWS's (a
// transaction of one small Put reports 4 units, of five reports 4 too), so
// for TransactWriteItems the meter computes the units itself by the same
// rules, from the items as they were before and after the transaction,
// which it reads through a client of its own (see transactionUnits).
//
// Like Counter the meter sits in the Initialize step, so a retried call
// counts once, with the units of the attempt that answered.
type Meter struct {
	peek  *dynamodb.Client // reads the items a transaction writes, unmetered
	mu    sync.Mutex
	usage Usage
}

// ReopenMetered is Reopen with a Meter instead of a Counter: a second store
// on st's table through its own client, whose requests and units the meter
// records.
func ReopenMetered(t testing.TB, st *store.Store) (*store.Store, *Meter) {
	t.Helper()
	m, db := newMeteredClient(t)
	return store.New(db, st.Table()), m
}

// newMeteredClient is a client of the DynamoDB Local of the tests and the
// meter that records its requests.
func newMeteredClient(t testing.TB) (*Meter, *dynamodb.Client) {
	t.Helper()
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	peek, err := app.NewDynamoDB(endpoint)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	m := &Meter{peek: peek}
	db, err := app.NewDynamoDB(endpoint, m.Middleware)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return m, db
}

// Middleware adds the meter to a client's stack.
func (m *Meter) Middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("fleetgroupsCapacityMeter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := middleware.GetOperationName(ctx)
			if tx, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
				return m.transaction(ctx, op, tx, in, next)
			}
			askForCapacity(in.Parameters)
			out, md, err := next.HandleInitialize(ctx, in)
			var consumed []types.ConsumedCapacity
			if err == nil {
				consumed = consumedCapacity(out.Result)
			}
			var units float64
			for _, c := range consumed {
				units += aws.ToFloat64(c.CapacityUnits)
			}
			m.add(op, units, len(consumed) > 0)
			return out, md, err
		}), middleware.After)
}

// transaction sends tx and records the units it consumed by AWS's rules.
func (m *Meter) transaction(ctx context.Context, op string, tx *dynamodb.TransactWriteItemsInput,
	in middleware.InitializeInput, next middleware.InitializeHandler,
) (middleware.InitializeOutput, middleware.Metadata, error) {
	before, peekErr := m.images(ctx, tx.TransactItems)
	out, md, err := next.HandleInitialize(ctx, in)
	if err != nil || peekErr != nil {
		m.add(op, 0, false)
		return out, md, err
	}
	after, peekErr := m.images(ctx, tx.TransactItems)
	if peekErr != nil {
		m.add(op, 0, false)
		return out, md, err
	}
	m.add(op, transactionUnits(tx.TransactItems, before, after), true)
	return out, md, err
}

// images reads, strongly consistent, the item each action of a transaction
// writes or checks (nil where there is none).
func (m *Meter) images(ctx context.Context, actions []types.TransactWriteItem) ([]map[string]types.AttributeValue, error) {
	items := make([]map[string]types.AttributeValue, len(actions))
	for i, a := range actions {
		table, key := actionKey(a)
		out, err := m.peek.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, err
		}
		items[i] = out.Item
	}
	return items, nil
}

// tableSchema is the table's key and its indexes' keys, as tests create it.
var tableSchema = store.TableDefinition("")

// actionKey is the table and the key of the item an action writes or checks.
func actionKey(a types.TransactWriteItem) (*string, map[string]types.AttributeValue) {
	switch {
	case a.Put != nil:
		key := map[string]types.AttributeValue{}
		for _, k := range tableSchema.KeySchema {
			name := aws.ToString(k.AttributeName)
			key[name] = a.Put.Item[name]
		}
		return a.Put.TableName, key
	case a.Update != nil:
		return a.Update.TableName, a.Update.Key
	case a.Delete != nil:
		return a.Delete.TableName, a.Delete.Key
	default:
		return a.ConditionCheck.TableName, a.ConditionCheck.Key
	}
}

// transactionUnits are the write units a successful transaction consumes by
// AWS's rules: each action writes its item at twice the units of a standard
// write (prepare and commit), 1 per KB of the larger of the item before and
// after, at least 1; a ConditionCheck, which writes nothing, is billed as
// the same write of the item it checks. Then each index entry put, updated
// or removed is one standard write per KB; the transactional factor is not
// applied to it, since DynamoDB updates indexes after the commit, as for any
// write (an assumption: AWS documents the factor for the table's items
// only). The indexes project every attribute, so an entry is as large as
// its item.
func transactionUnits(actions []types.TransactWriteItem, before, after []map[string]types.AttributeValue) float64 {
	var units float64
	for i, a := range actions {
		b, n := before[i], after[i]
		if a.ConditionCheck != nil {
			units += 2 * writeUnits(itemSize(b))
			continue
		}
		units += 2 * writeUnits(max(itemSize(b), itemSize(n)))
		for _, index := range tableSchema.GlobalSecondaryIndexes {
			units += indexWriteUnits(index.KeySchema, b, n)
		}
	}
	return units
}

// indexWriteUnits is what an index costs when an item changes from b to n
// (nil where absent): nothing if the item is in the index neither before
// nor after, or unchanged; a put or a delete where it enters or leaves the
// index; both where its index key changes; an update otherwise.
func indexWriteUnits(keySchema []types.KeySchemaElement, b, n map[string]types.AttributeValue) float64 {
	indexKey := func(item map[string]types.AttributeValue) []types.AttributeValue {
		var key []types.AttributeValue
		for _, k := range keySchema {
			v, ok := item[aws.ToString(k.AttributeName)]
			if !ok {
				return nil
			}
			key = append(key, v)
		}
		return key
	}
	kb, kn := indexKey(b), indexKey(n)
	switch {
	case kb == nil && kn == nil:
		return 0
	case kb == nil:
		return writeUnits(itemSize(n))
	case kn == nil:
		return writeUnits(itemSize(b))
	case !reflect.DeepEqual(kb, kn):
		return writeUnits(itemSize(b)) + writeUnits(itemSize(n))
	case reflect.DeepEqual(b, n):
		return 0
	default:
		return writeUnits(max(itemSize(b), itemSize(n)))
	}
}

// writeUnits is a standard write of an item of size bytes: 1 per KB or part
// of one, at least 1.
func writeUnits(size int) float64 {
	return max(1, math.Ceil(float64(size)/1024))
}

// itemSize is an item's size by DynamoDB's rules: each attribute's name in
// UTF-8 bytes plus its value's size.
func itemSize(item map[string]types.AttributeValue) int {
	size := 0
	for name, v := range item {
		size += len(name) + valueSize(v)
	}
	return size
}

// valueSize is an attribute value's size by DynamoDB's rules: strings and
// binaries their length in bytes; numbers 1 byte per 2 significant digits
// plus 1; booleans and null 1 byte; lists and maps 3 bytes plus, per
// element, 1 byte and the element's size (with its name, in a map); sets
// the sum of their elements.
func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		size := 3
		for _, e := range v.Value {
			size += 1 + valueSize(e)
		}
		return size
	case *types.AttributeValueMemberM:
		size := 3
		for name, e := range v.Value {
			size += 1 + len(name) + valueSize(e)
		}
		return size
	case *types.AttributeValueMemberSS:
		return sumOf(v.Value, func(s string) int { return len(s) })
	case *types.AttributeValueMemberNS:
		return sumOf(v.Value, numberSize)
	case *types.AttributeValueMemberBS:
		return sumOf(v.Value, func(b []byte) int { return len(b) })
	}
	panic(fmt.Sprintf("storetest: no size rule for %T", v))
}

func sumOf[T any](values []T, size func(T) int) int {
	total := 0
	for _, v := range values {
		total += size(v)
	}
	return total
}

// numberSize is the size DynamoDB gives a number: 1 byte per pair of its
// digits, the pairs counted from the decimal point (so 1.2 is 01.20, two
// pairs) and those of zeros at either end left out, plus 1 byte, and 1 more
// if it is negative. The store writes numbers as Go formats them, with no
// exponent.
func numberSize(n string) int {
	abs, negative := strings.CutPrefix(n, "-")
	whole, fraction, _ := strings.Cut(abs, ".")
	whole, fraction = strings.TrimLeft(whole, "0"), strings.TrimRight(fraction, "0")
	if len(whole)%2 == 1 {
		whole = "0" + whole
	}
	if len(fraction)%2 == 1 {
		fraction += "0"
	}
	pairs := whole + fraction
	for strings.HasPrefix(pairs, "00") {
		pairs = pairs[2:]
	}
	for strings.HasSuffix(pairs, "00") {
		pairs = pairs[:len(pairs)-2]
	}
	size := len(pairs)/2 + 1
	if negative {
		size++
	}
	return size
}

func (m *Meter) add(op string, units float64, reported bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.usage.Requests == nil {
		m.usage.Requests = map[string]int{}
	}
	m.usage.Requests[op]++
	switch {
	case !reported:
		m.usage.Unreported++
	case readOperations[op]:
		m.usage.ReadUnits += units
	default:
		m.usage.WriteUnits += units
	}
}

// Take returns the usage since the last Take and starts over.
func (m *Meter) Take() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.usage
	m.usage = Usage{}
	if u.Requests == nil {
		u.Requests = map[string]int{}
	}
	return u
}

// readOperations consume read units; every other operation the store makes
// consumes write units.
var readOperations = map[string]bool{
	"GetItem": true, "BatchGetItem": true, "Query": true, "Scan": true, "TransactGetItems": true,
}

// askForCapacity sets ReturnConsumedCapacity on the item and query
// operations' inputs; others (table management) are left as they are.
func askForCapacity(params any) {
	total := types.ReturnConsumedCapacityTotal
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.BatchGetItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.QueryInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.ScanInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.PutItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.UpdateItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.DeleteItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.BatchWriteItemInput:
		in.ReturnConsumedCapacity = total
	}
}

// consumedCapacity is the ConsumedCapacity of an output of the operations
// that askForCapacity asks it of (one entry per table for the batch
// operations).
func consumedCapacity(result any) []types.ConsumedCapacity {
	one := func(c *types.ConsumedCapacity) []types.ConsumedCapacity {
		if c == nil {
			return nil
		}
		return []types.ConsumedCapacity{*c}
	}
	switch out := result.(type) {
	case *dynamodb.GetItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.BatchGetItemOutput:
		return out.ConsumedCapacity
	case *dynamodb.QueryOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.PutItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.BatchWriteItemOutput:
		return out.ConsumedCapacity
	}
	return nil
}

package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Schema migrations. The shapes the code stores (key formats, copies such as
// nameLower) change with it, and a deployed table keeps the old ones until it
// is migrated. Migrations are numbered; the table's schema item records the
// last one applied, and Migrate applies those after it, in order.
//
// A migration visits every item of the table with Scan: the one place that
// scans (the API only queries), since a change of shape can concern any
// item. It rewrites each item that needs it with a conditional write, which
// does nothing to an item already in the new shape, so a step can run again,
// alongside the new code writing new shapes, without harm. After each page
// the scan's position is saved in the schema item, so an interrupted run
// resumes where it stopped. A step that finds something it must not decide
// alone (two names that fold to one) reports it, leaves those items as they
// are, and does not advance the version: fix them and run it again.

// migration is one numbered change of the stored shapes.
type migration struct {
	version int
	name    string
	// item brings one scanned item to the new shape if it is not in it. It
	// reports what it did; a conflict leaves the item as it was.
	item func(ctx context.Context, s *Store, raw map[string]types.AttributeValue) (itemOutcome, error)
}

type itemOutcome struct {
	rewritten bool
	conflict  string // why the item was left as it was
}

// SchemaVersion is the version of the shapes this code writes: a table at
// an older one needs Migrate.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// schemaItem records the table's schema version and, while a migration
// runs, where its scan has come to.
type schemaItem struct {
	PK      string `dynamodbav:"PK"`
	SK      string `dynamodbav:"SK"`
	Version int    `dynamodbav:"version"`
	// Step is the version of the migration under way, Resume the key its
	// scan continues after.
	Step   int               `dynamodbav:"step,omitempty"`
	Resume map[string]string `dynamodbav:"resume,omitempty"`
}

// Attribute names of the schema item; they must match the tags above.
const (
	attrStep   = "step"
	attrResume = "resume"
)

// StepReport is what one migration did (so far, while it runs).
type StepReport struct {
	Version   int
	Name      string
	Resumed   bool // it continued an interrupted run
	Scanned   int  // items read
	Rewritten int  // items brought to the new shape
	// Conflicts are the items it left as they were, and why.
	Conflicts []string
	// Done: every item is in the new shape and the version is recorded.
	Done bool
}

// MigrateOptions tune Migrate.
type MigrateOptions struct {
	// PageSize is how many items each Scan reads (default 100).
	PageSize int
	// Progress, if set, is called after each page with the step's report.
	Progress func(StepReport)
}

// ErrMigrationConflicts is returned by Migrate when a step left items it
// could not migrate alone; its report lists them.
var ErrMigrationConflicts = errors.New("the migration left conflicts to resolve")

// TableSchemaVersion is the table's schema version: 0 for a table that has
// never been migrated nor marked (see MarkSchemaCurrent).
func (s *Store) TableSchemaVersion(ctx context.Context) (int, error) {
	it, err := s.schema(ctx)
	return it.Version, err
}

func (s *Store) schema(ctx context.Context) (schemaItem, error) {
	raw, err := s.getRaw(ctx, key(pkSystem, skSchema))
	if err != nil || raw == nil {
		return schemaItem{}, err
	}
	var it schemaItem
	return it, translate(attributevalue.UnmarshalMap(raw, &it))
}

// MarkSchemaCurrent records SchemaVersion in a table that has no version
// yet: a table created by this code holds no older shapes to migrate.
func (s *Store) MarkSchemaCurrent(ctx context.Context) error {
	av, err := attributevalue.MarshalMap(schemaItem{PK: pkSystem, SK: skSchema, Version: SchemaVersion()})
	if err != nil {
		return translate(err)
	}
	expr, err := expression.NewBuilder().WithCondition(absent).Build()
	if err != nil {
		return translate(err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: av, ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	return translate(err)
}

// Migrate applies the migrations after the table's schema version, in
// order, and returns a report per migration it ran. It stops at the first
// step that leaves conflicts (ErrMigrationConflicts, the version stays) or
// fails; running it again resumes an interrupted step.
func (s *Store) Migrate(ctx context.Context, opts MigrateOptions) ([]StepReport, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	cur, err := s.schema(ctx)
	if err != nil {
		return nil, err
	}
	var reports []StepReport
	for _, m := range migrations {
		if m.version <= cur.Version {
			continue
		}
		var resume map[string]string
		if cur.Step == m.version {
			resume = cur.Resume
		}
		r, err := s.runMigration(ctx, m, resume, opts)
		reports = append(reports, r)
		if err != nil {
			return reports, err
		}
		cur = schemaItem{Version: m.version}
	}
	return reports, nil
}

// runMigration scans the table from after resume and hands every item to
// m, saving the scan's position after each page.
func (s *Store) runMigration(ctx context.Context, m migration, resume map[string]string, opts MigrateOptions) (StepReport, error) {
	r := StepReport{Version: m.version, Name: m.name, Resumed: resume != nil}
	in := &dynamodb.ScanInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		Limit: aws.Int32(int32(opts.PageSize)), ExclusiveStartKey: keyValues(resume),
	}
	for {
		out, err := s.db.Scan(ctx, in)
		if err != nil {
			return r, translate(err)
		}
		for _, raw := range out.Items {
			r.Scanned++
			res, err := m.item(ctx, s, raw)
			if err != nil {
				return r, fmt.Errorf("migration %d (%s), item %v: %w", m.version, m.name, keyStrings(raw, AttrPK, AttrSK), err)
			}
			if res.rewritten {
				r.Rewritten++
			}
			if res.conflict != "" {
				r.Conflicts = append(r.Conflicts, res.conflict)
			}
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		// Conflicts are found again by a rerun, so only the position is
		// saved: what a resumed run reports of them is its own part.
		pos := keyStrings(out.LastEvaluatedKey, AttrPK, AttrSK)
		if err := s.updateSchema(ctx, expression.Set(expression.Name(attrStep), expression.Value(m.version)).
			Set(expression.Name(attrResume), expression.Value(pos))); err != nil {
			return r, err
		}
		if opts.Progress != nil {
			opts.Progress(r)
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	// The next run starts the step from the beginning, since the items in
	// conflict may lie anywhere before the end.
	done := expression.Remove(expression.Name(attrStep)).Remove(expression.Name(attrResume))
	if len(r.Conflicts) == 0 {
		done = done.Set(expression.Name(attrVersion), expression.Value(m.version))
	}
	if err := s.updateSchema(ctx, done); err != nil {
		return r, err
	}
	r.Done = len(r.Conflicts) == 0
	if opts.Progress != nil {
		opts.Progress(r)
	}
	if !r.Done {
		return r, ErrMigrationConflicts
	}
	return r, nil
}

// updateSchema applies upd to the schema item, creating it (version 0) if
// there is none.
func (s *Store) updateSchema(ctx context.Context, upd expression.UpdateBuilder) error {
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return translate(err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(pkSystem, skSchema),
		UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	return translate(err)
}
